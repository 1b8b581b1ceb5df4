"""Analysis helpers for the app and the bench scripts: cached t-SNE, confusion pairs, per-class gains/losses as
gamma moves, means with confidence intervals.

Pure numpy / scikit-learn; no streamlit. The t-SNE cache is a folder of ``.npy`` files written atomically
(temporary file + ``os.replace``), named by a caller key plus a digest of the input points and parameters,
so a changed bundle never reuses a stale embedding.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from star.zsl import confusion_matrix, gzsl_predict, per_class_accuracy

TSNE_PERPLEXITY = 30.0
TSNE_MAX_ITER = 1000  # sklearn's default; part of the cache key


def file_digest(path: str | Path, length: int = 16) -> str:
    """sha256 of a file's bytes, first ``length`` hex digits (identifies a bundle's content)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def array_digest(points: np.ndarray, *params, length: int = 16) -> str:
    a = np.ascontiguousarray(points, dtype=np.float32)
    h = hashlib.sha256(repr((a.shape, params)).encode())
    h.update(a.tobytes())
    return h.hexdigest()[:length]


def tsne_cache_path(cache_dir: str | Path, key: str, points: np.ndarray, seed: int, perplexity: float) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in key)
    return Path(cache_dir) / f"tsne-{safe}-{array_digest(points, seed, perplexity, TSNE_MAX_ITER)}.npy"


def _atomic_save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def compute_tsne(points: np.ndarray, seed: int = 0, perplexity: float = TSNE_PERPLEXITY) -> np.ndarray:
    """points (N, D) -> (N, 2) float32 t-SNE (PCA init, fixed random_state, one thread; deterministic for one
    machine).

    Perplexity is lowered to (N - 1) / 3 for small N; N < 4 gives the first two PCA coordinates instead.
    """
    x = np.asarray(points, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"points must be a non-empty (N, D) array, got shape {x.shape}")
    n = x.shape[0]
    if n < 4:
        centred = x - x.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        out = np.zeros((n, 2))
        proj = centred @ vt.T
        out[:, : min(2, proj.shape[1])] = proj[:, :2]
        return out.astype(np.float32)
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    perp = float(min(perplexity, max(1.0, (n - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perp, init="pca", learning_rate="auto", random_state=seed,
                max_iter=TSNE_MAX_ITER)
    # one OpenMP thread: with other work on the cores (a server's other sessions, torch), OpenMP's spinning
    # threads made a 300-point t-SNE take 36 s instead of 1.9 s on a 2-core machine (bench/app_latency.py)
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(x).astype(np.float32)


def tsne_embedding(points: np.ndarray, seed: int = 0, cache_dir: str | Path | None = None, key: str = "points",
                   perplexity: float = TSNE_PERPLEXITY) -> np.ndarray:
    """Cached ``compute_tsne``: (N, D) -> (N, 2) float32.

    With ``cache_dir`` the result is read from / written to ``cache_dir/tsne-<key>-<digest>.npy``; the digest
    covers the points, seed, perplexity and ``TSNE_MAX_ITER``. An unreadable or wrong-shaped cache file is recomputed.
    """
    if cache_dir is None:
        return compute_tsne(points, seed, perplexity)
    path = tsne_cache_path(cache_dir, key, points, seed, perplexity)
    n = np.asarray(points).shape[0]
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (n, 2):
                with contextlib.suppress(OSError):  # recently used: kept by prune_cache (read-only cache: fine)
                    os.utime(path)
                return cached
        except (OSError, ValueError):
            pass
    out = compute_tsne(points, seed, perplexity)
    _atomic_save(path, out)
    prune_cache(path.parent, "tsne-*.npy", TSNE_CACHE_FILES)
    return out


TSNE_CACHE_FILES = 256  # t-SNE results kept per cache folder (a few kB each): the oldest go first


def prune_cache(folder: str | Path, pattern: str, keep: int) -> list[Path]:
    """Remove all but the ``keep`` most recently modified files matching ``pattern`` in ``folder``; the removed."""
    files = sorted(Path(folder).glob(pattern), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    gone = files[keep:]
    for f in gone:
        f.unlink(missing_ok=True)
    return gone


def most_confused_pairs(cm: np.ndarray, names: Sequence[str], k: int = 10,
                        col_names: Sequence[str] | None = None) -> list[dict]:
    """The k largest off-diagonal cells of a confusion matrix (rows true, columns predicted).

    cm (R, C') counts; names (R,) row class names; col_names (C',) defaults to names. A cell is off-diagonal
    when its row and column names differ. Sorted by count, then by rate (count / row total), then row, column.
    Returns [{'true', 'predicted', 'count', 'rate'}] with count > 0 only.
    """
    c = np.asarray(cm)
    cols = list(names if col_names is None else col_names)
    if c.ndim != 2 or c.shape != (len(names), len(cols)):
        raise ValueError(f"confusion matrix {c.shape} does not match {len(names)} x {len(cols)} names")
    tot = c.sum(axis=1)
    cells = []
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            if names[i] != cols[j] and c[i, j] > 0:
                cells.append((-int(c[i, j]), -float(c[i, j] / tot[i]), i, j))
    cells.sort()
    return [{"true": names[i], "predicted": cols[j], "count": -cnt, "rate": -rate}
            for cnt, rate, i, j in cells[:k]]


def gzsl_confusion(scores: np.ndarray, labels: np.ndarray, seen: Sequence[int], gamma: float) -> np.ndarray:
    """GZSL confusion counts (C, C) over all classes at gamma (rows true, columns predicted, class order)."""
    preds = gzsl_predict(scores, seen, gamma)
    return confusion_matrix(labels, preds, list(range(np.asarray(scores).shape[1])))


def zsl_confusion(scores: np.ndarray, labels: np.ndarray, unseen: Sequence[int]) -> np.ndarray:
    """ZSL confusion counts (U, U) over the unseen classes (in the order given), unseen-label clips only."""
    from star.zsl import zsl_predict

    u = list(unseen)
    preds = zsl_predict(scores, u)
    return confusion_matrix(labels, preds, u)


def class_gain_loss(scores: np.ndarray, labels: np.ndarray, seen: Sequence[int], gamma_a: float, gamma_b: float,
                    names: Sequence[str] | None = None) -> list[dict]:
    """Per-class GZSL accuracy change when gamma moves from ``gamma_a`` to ``gamma_b``.

    scores (N, C), labels (N,). Returns the classes whose accuracy changed, as [{'index', 'class', 'seen',
    'acc_a', 'acc_b', 'delta'}] sorted by delta (biggest gain first, then biggest loss last); ties by index.
    """
    c = np.asarray(scores).shape[1]
    classes = list(range(c))
    acc_a = per_class_accuracy(labels, gzsl_predict(scores, seen, gamma_a), classes)
    acc_b = per_class_accuracy(labels, gzsl_predict(scores, seen, gamma_b), classes)
    seen_set = {int(s) for s in seen}
    out = []
    for i in acc_a:
        delta = acc_b[i] - acc_a[i]
        if delta != 0:
            out.append({"index": i, "class": names[i] if names is not None else str(i), "seen": i in seen_set,
                        "acc_a": acc_a[i], "acc_b": acc_b[i], "delta": delta})
    out.sort(key=lambda r: (-r["delta"], r["index"]))
    return out


def subsample_per_class(labels: np.ndarray, max_points: int) -> np.ndarray:
    """Deterministic row indices (sorted) keeping at most ``max_points`` rows, the same share from each class
    (round-robin over classes, first rows first)."""
    y = np.asarray(labels)
    if len(y) <= max_points:
        return np.arange(len(y))
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    picked, r = [], 0
    while len(picked) < max_points:
        for rows in by_class:
            if r < len(rows) and len(picked) < max_points:
                picked.append(rows[r])
        r += 1
    return np.sort(np.asarray(picked, dtype=np.int64))


def mean_ci(values, level: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width of the ``level`` confidence interval with Student's t, n) of ``values`` (None skipped).

    The half-width is ``t(1 - (1 - level) / 2, n - 1) * sd / sqrt(n)`` with the sample standard deviation;
    nan for n < 2 (and the mean nan for n = 0). Paired differences are ``mean_ci(a_i - b_i)``."""
    from scipy import stats

    v = np.asarray([x for x in values if x is not None], float)
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n < 2:
        return float(v.mean()), float("nan"), n
    return float(v.mean()), float(stats.t.ppf(0.5 + level / 2, n - 1) * v.std(ddof=1) / np.sqrt(n)), n


def paired_difference(records: list[dict], a: str, b: str, key: str, group: str = "split",
                      pair: str = "seed") -> tuple[float, float, int]:
    """``mean_ci`` over groups (splits) of model ``a`` minus model ``b`` on ``key``.

    ``records``: dicts with ``model``, ``group``, ``pair`` and ``key``. Within a group, runs are paired by
    ``pair`` (the same seed: the same validation fold) and the differences averaged, so every group counts
    once; groups where no pair has both models are left out."""
    by: dict = {}
    for r in records:
        by.setdefault((r[group], r[pair]), {})[r["model"]] = r[key]
    per_group: dict = {}
    for (g, _), row in by.items():
        if a in row and b in row:
            per_group.setdefault(g, []).append(row[a] - row[b])
    return mean_ci([float(np.mean(v)) for v in per_group.values()])
