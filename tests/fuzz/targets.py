"""Fuzz targets for every reader of untrusted bytes (issue 28). Each target takes bytes and either returns or raises
the reader's one documented error; anything else is a finding. Run them with ``tests/fuzz/run.py`` (atheris,
coverage-guided); the suite's hypothesis tests (tests/test_fuzz_targets.py) run the same targets on mutated seeds.

    .venv/bin/python tests/fuzz/run.py load_clip_ntu --seconds 1800
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "checkpoints" / "star-pool42-32-10"


def _in_temp_file(data: bytes, suffix: str):
    fd, path = tempfile.mkstemp(suffix=suffix, prefix="star-fuzz-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return Path(path)


def _clip_target(suffix: str):
    def target(data: bytes) -> None:
        from star.skeleton import SkeletonFormatError, load_clip

        path = _in_temp_file(data, suffix)
        try:
            clip = load_clip(path, max_bytes=8 << 20)
            assert clip.frames.ndim == 4 and clip.frames.shape[2:] == (25, 3) and clip.num_frames >= 1
        except SkeletonFormatError:
            pass
        finally:
            path.unlink()
    target.__name__ = f"load_clip{suffix.replace('.', '_')}"
    return target


def clip_bank(data: bytes) -> None:
    from star.data.clipbank import ClipBank
    from star.skeleton import SkeletonFormatError

    path = _in_temp_file(data, ".npz")
    try:
        bank = ClipBank.load(path)
        for i in range(min(len(bank), 3)):
            bank.clip(i)
    except SkeletonFormatError:
        pass
    finally:
        path.unlink()


def checkpoint_archive(data: bytes) -> None:
    from star.checkpoint import CheckpointError
    from star.checkpoint_archive import unpack_checkpoint_zip

    with tempfile.TemporaryDirectory(prefix="star-fuzz-") as dest:
        try:
            unpack_checkpoint_zip(data, dest, "fuzz.zip")
        except CheckpointError:
            assert not any(Path(dest).iterdir()), "a refused archive left files behind"


def sidecar(data: bytes) -> None:
    """The shipped checkpoint with these bytes as its model.json."""
    from star.checkpoint import CheckpointError, load_checkpoint

    with tempfile.TemporaryDirectory(prefix="star-fuzz-") as folder:
        for name in ("model.safetensors", "bundle.npz"):
            os.symlink(SHIPPED / name, Path(folder) / name)
        (Path(folder) / "model.json").write_bytes(data)
        try:
            load_checkpoint(folder).load_bundle()
        except CheckpointError:
            pass


def pyskl_pickle(data: bytes) -> None:
    from star.data.importers import ImportFormatError, read_pyskl

    path = _in_temp_file(data, ".pkl")
    try:
        read_pyskl(path)
    except ImportFormatError:
        pass
    finally:
        path.unlink()


TARGETS = {t.__name__: t for t in (_clip_target(".skeleton"), _clip_target(".npy"), _clip_target(".npz"),
                                   _clip_target(".txt"), clip_bank, checkpoint_archive, sidecar, pyskl_pickle)}


def seeds(name: str) -> list[bytes]:
    """Valid inputs to start from (written here from the repository's own files and the shared data)."""
    import numpy as np

    from star.paths import data_dir

    samples = sorted((REPO / "assets" / "samples").glob("*.skeleton"))
    if name == "load_clip_skeleton":  # small files: libFuzzer mutates every part of them
        from star.skeleton import load_clip
        from star.skeleton.ntu_format import format_ntu_skeleton

        frames = load_clip(samples[0]).frames
        return [format_ntu_skeleton(frames[:, :3]).encode(), format_ntu_skeleton(frames[:1, :2]).encode()]
    if name in ("load_clip_npy", "load_clip_npz", "load_clip_txt"):
        from star.skeleton import load_clip

        frames = load_clip(samples[0]).frames
        buffer = io.BytesIO()
        if name == "load_clip_npy":
            np.save(buffer, frames[:, :20])
        elif name == "load_clip_npz":
            np.savez(buffer, frames=frames[:, :20])
        else:
            return [("\n".join(" ".join(f"{v:.4f}" for v in row) for row in frames[0, :20].reshape(20, 75))
                     + "\n").encode()]
        return [buffer.getvalue()]
    if name == "clip_bank":
        from star.data.clipbank import ClipBank

        bank = ClipBank.load(data_dir() / "msr3d.npz")
        buffer = io.BytesIO()
        np.savez(buffer, **bank.subset([0, 1, 2]).to_arrays())
        return [buffer.getvalue()]
    if name == "checkpoint_archive":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for member in ("model.safetensors", "model.json", "bundle.npz"):
                zf.write(SHIPPED / member, member)
        return [buffer.getvalue()]
    if name == "sidecar":
        return [(SHIPPED / "model.json").read_bytes()]
    if name == "pyskl_pickle":
        import pickle

        frames = np.zeros((1, 8, 25, 3), np.float32) + 0.5
        return [pickle.dumps({"split": {"xsub_train": ["S001C001P001R001A001"]}, "annotations": [
            {"frame_dir": "S001C001P001R001A001", "label": 0, "keypoint": frames, "total_frames": 8}]}, protocol=p)
            for p in (2, 4)]
    raise KeyError(name)
