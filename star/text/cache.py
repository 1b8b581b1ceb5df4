"""On-disk text-embedding cache keyed by (encoder id, exact text).

One ``.npz`` file per encoder id (file name: the sanitised id plus a hash of it) holding

    encoder_id  ()      str    the full id, checked on load
    texts       (N,)    str    the exact texts
    vectors     (N, D)  float32

Files are read with ``allow_pickle=False`` and written atomically (temp file + ``os.replace``); a write
first merges what another process may have added meanwhile. The default directory is
``$STAR_CACHE_DIR/text_embeddings`` or ``<repo>/.star_cache/text_embeddings`` (ignored by git).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from star.paths import cache_dir


def default_cache_dir() -> Path:
    """``$STAR_CACHE_DIR`` if set, else ``<repo>/.star_cache``: the root of the project's caches
    (``star.paths.cache_dir``)."""
    return cache_dir()


class EmbeddingCache:
    """Text embeddings on disk, one table per encoder id. ``get``/``put`` work on lists of texts."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir() / "text_embeddings"
        # encoder id -> (file signature, {text: vector})
        self._tables: dict[str, tuple[tuple | None, dict[str, np.ndarray]]] = {}

    def path_for(self, encoder_id: str) -> Path:
        """The file holding ``encoder_id``'s vectors."""
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id).strip("_")[:80] or "encoder"
        digest = hashlib.sha256(encoder_id.encode("utf-8")).hexdigest()[:12]
        return self.directory / f"{safe}-{digest}.npz"

    @staticmethod
    def _signature(path: Path) -> tuple | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def _read(self, encoder_id: str) -> dict[str, np.ndarray]:
        path = self.path_for(encoder_id)
        if not path.exists():
            return {}
        try:
            with np.load(path, allow_pickle=False) as z:
                stored_id = str(z["encoder_id"])
                texts = [str(t) for t in z["texts"]]
                vectors = np.asarray(z["vectors"], dtype=np.float32)
        except Exception as e:  # truncated, not an npz, object arrays: the cache is derived data
            warnings.warn(f"ignoring unreadable embedding cache {path} ({type(e).__name__}: {e}); "
                          "it will be rewritten")
            return {}
        if stored_id != encoder_id or vectors.ndim != 2 or len(texts) != len(vectors):
            warnings.warn(f"ignoring embedding cache {path}: it holds {stored_id!r}, "
                          f"{len(texts)} texts and vectors of shape {vectors.shape}")
            return {}
        return dict(zip(texts, vectors))

    def _table(self, encoder_id: str) -> dict[str, np.ndarray]:
        sig = self._signature(self.path_for(encoder_id))
        cached = self._tables.get(encoder_id)
        if cached is None or cached[0] != sig:
            self._tables[encoder_id] = (sig, self._read(encoder_id))
        return self._tables[encoder_id][1]

    def get(self, encoder_id: str, texts: list[str]) -> list[np.ndarray | None]:
        """For each text its cached ``(D,)`` float32 vector, or None."""
        table = self._table(encoder_id)
        return [table.get(t) for t in texts]

    def count(self, encoder_id: str) -> int:
        """How many texts are cached for ``encoder_id``."""
        return len(self._table(encoder_id))

    def put(self, encoder_id: str, texts: list[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (N, D) for ``texts`` (N) and rewrite the encoder's file atomically."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(texts) != len(vectors):
            raise ValueError(f"expected vectors of shape ({len(texts)}, D), got {vectors.shape}")
        if not len(texts):
            return
        table = dict(self._table(encoder_id))  # includes what other processes wrote since
        dims = {v.shape[0] for v in table.values()}
        if dims and dims != {vectors.shape[1]}:
            table = {}  # same id, other width: the old table cannot be right; start over
        table.update(zip(texts, vectors))
        all_texts = list(table)
        matrix = np.stack([table[t] for t in all_texts]).astype(np.float32)
        path = self.path_for(encoder_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem + ".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, encoder_id=np.array(encoder_id), texts=np.array(all_texts, dtype=str),
                         vectors=matrix)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        self._tables[encoder_id] = (self._signature(path), dict(zip(all_texts, matrix)))


def embed_texts(encoder, texts: list[str], cache: EmbeddingCache | None = None) -> np.ndarray:
    """Embed ``texts`` with ``encoder`` -> ``(N, D)`` float32, encoding only texts not already cached.

    Duplicates are encoded once. With ``cache=None`` nothing is read or written on disk.
    """
    texts = list(texts)
    unique = list(dict.fromkeys(texts))
    found: dict[str, np.ndarray] = {}
    if cache is not None:
        for t, v in zip(unique, cache.get(encoder.id, unique)):
            if v is not None and v.shape == (encoder.dim,):
                found[t] = v
    missing = [t for t in unique if t not in found]
    if missing:
        new = encoder.encode(missing)
        if cache is not None:
            cache.put(encoder.id, missing, new)
        found.update(zip(missing, np.asarray(new, dtype=np.float32)))
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
