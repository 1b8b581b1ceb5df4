"""Checkpoints: ``safetensors`` weights + a JSON sidecar + an evaluation bundle, in one directory.

Layout of ``checkpoints/<name>/``::

    model.safetensors   backbone.* (Shift-GCN), head.* (STAR head or baseline),
                        text.names (C, Dt) and text.parts (K, C, Dt): the raw class-name and part-description
                        embeddings the head was trained with (so inference never needs to re-encode them)
    model.json          the sidecar (see REQUIRED_KEYS): benchmark, classes, split, partition, text encoder,
                        gamma and how it was chosen, metrics, config, code version, seed, device, timings
    bundle.npz          model outputs on the benchmark's test clips for the app (no input clips, no pickles)

Nothing here ever unpickles: weights are safetensors, the sidecar JSON, the bundle ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

import star
from star.npzfile import NpzError, load_npz
from star.paths import REPO_ROOT, checkpoint_roots
from star.sidecar import SidecarError, check_sidecar, read_sidecar

FORMAT = "star-checkpoint/1"
WEIGHTS, SIDECAR, BUNDLE = "model.safetensors", "model.json", "bundle.npz"
REQUIRED_KEYS = (
    "format", "name", "model", "benchmark", "class_names", "seen_classes", "unseen_classes", "num_parts",
    "part_names", "text_encoder", "head_config", "backbone_config", "num_frames", "gamma", "metrics", "config",
    "code_version", "seed", "device",
)
BUNDLE_KEYS = ("labels", "scores", "global_features", "name_proj")
MAX_BUNDLE_BYTES = 2 << 30  # a bundle's arrays in memory: the shipped ones take under 20 MB


class CheckpointError(ValueError):
    """A checkpoint directory is missing, incomplete or inconsistent."""


def code_version() -> str:
    """Package version plus the git commit when run from a checkout."""
    version = star.__version__
    try:
        root = REPO_ROOT
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
        if commit:
            version += f"+g{commit}"
    except (OSError, subprocess.SubprocessError):
        pass
    return version


@dataclass
class Checkpoint:
    path: Path
    meta: dict[str, Any]
    tensors: dict[str, torch.Tensor]

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def seen(self) -> list[int]:
        return list(self.meta["seen_classes"])

    @property
    def unseen(self) -> list[int]:
        return list(self.meta["unseen_classes"])

    @property
    def gamma(self) -> float:
        return float(self.meta["gamma"]["value"])

    def sub_state(self, prefix: str) -> dict[str, torch.Tensor]:
        """The tensors under ``prefix.`` with the prefix removed (e.g. 'backbone', 'head')."""
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.tensors.items() if k.startswith(p)}

    @property
    def bundle_path(self) -> Path:
        return self.path / BUNDLE

    def load_bundle(self) -> dict[str, np.ndarray]:
        return load_bundle(self.bundle_path)


def _atomic_dir_write(out_dir: Path, write) -> None:
    """Write into a temporary sibling directory, then swap it in, so no half-written checkpoint exists."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        write(tmp)
        tmp.chmod(0o755)  # mkdtemp makes 0700; a checkpoint is meant to be shared
        for f in tmp.iterdir():
            f.chmod(0o644)
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_checkpoint(out_dir: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                    bundle: dict[str, np.ndarray] | None = None) -> Path:
    meta = dict(meta)
    meta.setdefault("format", FORMAT)
    meta.setdefault("code_version", code_version())
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"cannot save checkpoint: sidecar lacks {missing}")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}

    def write(tmp: Path) -> None:
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        (tmp / SIDECAR).write_text(json.dumps(meta, indent=2, sort_keys=False, default=_json_default) + "\n")
        if bundle is not None:
            save_bundle(tmp / BUNDLE, bundle)

    _atomic_dir_write(Path(out_dir), write)
    return Path(out_dir)


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def save_bundle(path: Path, bundle: dict[str, np.ndarray]) -> None:
    for key, value in bundle.items():
        if np.asarray(value).dtype == object:
            raise CheckpointError(f"bundle key '{key}' has dtype object; bundles hold plain arrays only")
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **{k: np.asarray(v) for k, v in bundle.items()})


def load_bundle(path: str | Path) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: evaluation bundle not found")
    try:
        bundle = load_npz(path, max_members=64, max_bytes=MAX_BUNDLE_BYTES)  # limits checked before allocating
    except NpzError as exc:
        raise CheckpointError(f"{path}: not a readable bundle ({exc})") from None
    missing = [k for k in BUNDLE_KEYS if k not in bundle]
    if missing:
        raise CheckpointError(f"{path}: bundle lacks {missing}")
    return bundle


def resolve_checkpoint_dir(path: str | Path) -> Path:
    """Accept the directory, or any file inside it (model.json / model.safetensors)."""
    p = Path(path)
    if p.is_file() and p.name in (WEIGHTS, SIDECAR, BUNDLE):
        p = p.parent
    if not p.is_dir():
        raise CheckpointError(f"{path}: no checkpoint directory here (expected a folder with {WEIGHTS} and {SIDECAR})")
    return p


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint directory. Raises CheckpointError with what is wrong."""
    d = resolve_checkpoint_dir(path)
    for name in (WEIGHTS, SIDECAR):
        if not (d / name).is_file():
            raise CheckpointError(f"{d}: missing {name}")
    try:
        meta = read_sidecar(d / SIDECAR)
    except SidecarError as exc:
        raise CheckpointError(str(exc)) from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{d / SIDECAR}: expected format '{FORMAT}', found {str(meta.get('format'))[:80]!r}")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise CheckpointError(f"{d / SIDECAR}: sidecar lacks {missing}")
    try:
        check_sidecar(meta)
    except SidecarError as exc:
        raise CheckpointError(f"{d / SIDECAR}: {exc}") from None
    num_classes = len(meta["class_names"])
    seen, unseen = set(meta["seen_classes"]), set(meta["unseen_classes"])
    if seen & unseen or not seen or seen | unseen != set(range(num_classes)):  # unseen may be empty: open vocabulary
        raise CheckpointError(f"{d / SIDECAR}: seen/unseen classes must partition 0..{num_classes - 1}")
    try:
        tensors = load_file(str(d / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{d / WEIGHTS}: not a readable safetensors file ({exc})") from exc
    names = tensors.get("text.names")
    if names is None or names.shape != (num_classes, meta["text_encoder"]["dim"]):
        found = None if names is None else tuple(names.shape)
        raise CheckpointError(f"{d / WEIGHTS}: text.names should be ({num_classes}, {meta['text_encoder']['dim']}),"
                              f" found {found}")
    return Checkpoint(path=d, meta=meta, tensors=tensors)


def list_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint directories directly under ``root`` (sorted by name)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / SIDECAR).is_file() and not p.name.startswith("."))


def check_encoder(ckpt: Checkpoint, encoder_id: str) -> None:
    """Loading a checkpoint with a different text encoder is a clear error."""
    expected = ckpt.meta["text_encoder"]["id"]
    if encoder_id != expected:
        raise CheckpointError(f"{ckpt.path}: trained with text encoder '{expected}', but '{encoder_id}' was given;"
                              f" embeddings from different encoders are not comparable")


def default_checkpoint_root() -> Path:
    """The first checkpoint root (``star.paths.checkpoint_roots``): ``$STAR_CHECKPOINT_DIRS``' first folder,
    else ``<repo>/checkpoints``."""
    return checkpoint_roots()[0]
