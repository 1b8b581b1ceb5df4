"""Which checkpoints a visitor of the app may open, without streamlit (unit-testable).

Only checkpoints under the configured roots (``star.paths.checkpoint_roots()``: ``$STAR_CHECKPOINT_DIRS``,
``os.pathsep``-separated, default ``checkpoints/``) or unpacked from an uploaded ``.zip`` are opened. A typed
path is resolved (symbolic links, ``..``) and must lie strictly inside a root; anything else gets ``REFUSED``,
the same message whether or not the path exists, so the app cannot be used to probe the server's file system.
Messages shown to the visitor name checkpoints by their label, never by server path.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from star.checkpoint import CheckpointError, list_checkpoints
from star.checkpoint_archive import MAX_COMPRESSED, unpack_checkpoint_zip
from star.paths import checkpoint_roots

DEFAULT_CHECKPOINT = "star-openvocab-pool69"  # the shipped default (star.inference's; that module imports torch)
ZERO_SHOT_CHECKPOINT = "star-pool42-32-10"  # the shipped one with unseen classes, for the zero-shot / GZSL views
REFUSED = "Only checkpoints under the configured checkpoint folders can be opened."
UPLOAD_LIMIT_MB = MAX_COMPRESSED // 2**20  # the upload widget's limit, the archive's own


class CheckpointRefused(CheckpointError):
    """A typed path outside the checkpoint roots (the message is always ``REFUSED``)."""

    def __init__(self) -> None:
        super().__init__(REFUSED)


def checkpoint_choices(roots: list[Path] | None = None) -> dict[str, Path]:
    """Label -> folder for every checkpoint directly under the roots, in root order then by name. The label is
    the folder's name, or 'root folder name/name' for a name that an earlier root already has."""
    out: dict[str, Path] = {}
    for root in checkpoint_roots() if roots is None else roots:
        for path in list_checkpoints(root):
            label = path.name if path.name not in out else f"{Path(root).name}/{path.name}"
            out.setdefault(label, path)
    return out


def default_choice(labels: list[str]) -> str | None:
    """The shipped default checkpoint's label if offered, else the first; None when there is none."""
    return DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT in labels else (labels[0] if labels else None)


def has_unseen_classes(path: Path) -> bool:
    """Whether the checkpoint at ``path`` has unseen classes (its sidecar's ``unseen_classes``); False when its
    sidecar cannot be read."""
    import json

    try:
        return bool(json.loads((Path(path) / "model.json").read_text()).get("unseen_classes"))
    except (OSError, ValueError, AttributeError):
        return False


def benchmark_of(path: Path) -> str | None:
    """The benchmark in the checkpoint's sidecar at ``path``; None when its sidecar cannot be read."""
    import json

    try:
        return str(json.loads((Path(path) / "model.json").read_text()).get("benchmark"))
    except (OSError, ValueError, AttributeError):
        return None


def zero_shot_choice(choices: dict[str, Path]) -> str | None:
    """The label of a checkpoint with unseen classes, for the views that need them: the shipped zero-shot one
    when offered, else the first such; None when no offered checkpoint has unseen classes."""
    order = sorted(choices, key=lambda label: label != ZERO_SHOT_CHECKPOINT)
    return next((label for label in order if has_unseen_classes(choices[label])), None)


def resolve_typed_path(typed: str, roots: list[Path] | None = None) -> Path:
    """The checkpoint folder a visitor typed, resolved, if it lies strictly inside a root; else ``CheckpointRefused``.

    An absolute path must resolve inside a root; a relative one is taken under each root in turn (the first
    where it is a folder, else the first inside that root). Existence is not checked here beyond that choice:
    the loader says what is missing, in terms of the typed text (see ``visitor_message``).
    """
    text = typed.strip()
    if not text or "\x00" in text:
        raise CheckpointRefused()
    roots = checkpoint_roots() if roots is None else roots
    try:
        resolved_roots = [Path(r).resolve() for r in roots]
        p = Path(text)
        candidates = [p.resolve()] if p.is_absolute() else [(r / p).resolve() for r in resolved_roots]
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a name too long, ...
        raise CheckpointRefused() from None
    inside = [c for c in candidates if any(c != r and c.is_relative_to(r) for r in resolved_roots)]
    if not inside:
        raise CheckpointRefused()
    return next((c for c in inside if c.is_dir()), inside[0])


def visitor_message(exc: Exception, path: Path | None, label: str) -> str:
    """An error about the checkpoint at ``path`` with the server path replaced by what the visitor knows."""
    text = str(exc)
    if path is not None:
        for p in {str(path), str(Path(path).resolve())}:
            text = text.replace(p, label)
    return text


def cache_key(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, bundle mtime_ns, bundle size): changes when the checkpoint is rewritten."""
    p = Path(path).resolve()
    b = p / "bundle.npz"
    st = b.stat() if b.is_file() else None
    return str(p), (st.st_mtime_ns if st else 0), (st.st_size if st else 0)


_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


def encoder_is_safe(meta: dict) -> bool:
    """Whether an uploaded checkpoint's text encoder may be loaded: MiniLM, or an open_clip architecture with a
    pretrained tag; never a weights file (the sidecar would name a server path for the app to read)."""
    te = meta.get("text_encoder") or {}
    spec = str(te.get("spec", te.get("id", ""))).strip()
    if spec in ("minilm", "minilm:all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        return True
    parts = spec.split(":")
    return (len(parts) == 3 and parts[0] == "openclip" and all(_TAG.fullmatch(p) for p in parts[1:])
            and not parts[2].endswith((".safetensors", ".pt", ".pth", ".bin")))


@dataclass
class UploadedCheckpoint:
    """A checkpoint unpacked from an uploaded zip into its own temporary folder, or why it could not be.

    ``file_id`` is the upload's (a new upload replaces this one); ``release()`` removes the folder (idempotent).
    The frame registers it with its session in ``ui.uploads.REGISTRY``, which releases it once the session has
    ended; it also goes when the object is garbage collected or the process exits.
    """

    file_id: str
    label: str
    path: Path | None = None
    error: str | None = None
    _tmp: tempfile.TemporaryDirectory | None = None

    @classmethod
    def unpack(cls, file_id: str, name: str, data: bytes) -> "UploadedCheckpoint":
        label = Path(name).name or "upload.zip"
        tmp = tempfile.TemporaryDirectory(prefix="star-checkpoint-upload-")
        try:
            path = unpack_checkpoint_zip(data, tmp.name, label)
        except CheckpointError as exc:
            tmp.cleanup()
            return cls(file_id, label, error=str(exc))
        return cls(file_id, label, path=path, _tmp=tmp)

    @property
    def released(self) -> bool:
        """True once there is no folder (released, or refused before one was kept)."""
        return self._tmp is None

    def release(self) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            tmp.cleanup()
