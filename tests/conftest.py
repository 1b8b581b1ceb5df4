"""Shared fixtures: where the repository and the shared real data live (``star.paths``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.paths import REPO_ROOT, data_dir


_SHARED_DATA = data_dir()  # read once: app tests change $STAR_DATA_DIR while they run


def shared_data_dir() -> Path:
    """The read-only real data: $STAR_DATA_DIR (as the library uses), else ../shared/data next to the repo."""
    return _SHARED_DATA


def shared_video(name: str, need_models: bool = True) -> Path:
    """A shared test video (``$STAR_DATA_DIR/video/<name>``); skips with the reason when it, or (with
    ``need_models``) the BlazePose models, are missing."""
    path = shared_data_dir() / "video" / name
    if not path.exists():
        pytest.skip(f"{path} not found: the shared test videos live in $STAR_DATA_DIR/video (../shared/data/video)")
    if need_models:
        from star.video import models

        if not models.models_ready():
            pytest.skip(f"BlazePose models not set up in {models.models_dir()}: run `{models.FIX_COMMAND}`")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "nwucla.npz").exists():
        pytest.fail(f"shared data not found at {path}; set STAR_DATA_DIR to the folder with nwucla.npz")
    return path


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory) -> Path:
    """A folder for the fuzz tests' files (module scope: hypothesis reruns a test many times)."""
    return tmp_path_factory.mktemp("fuzz")


def sometimes_truncated(draw, data: bytes) -> bytes:
    """In a quarter of the draws, ``data`` cut at a random byte (a file that ends anywhere)."""
    from hypothesis import strategies as st

    return data[: draw(st.integers(0, len(data)))] if draw(st.integers(0, 3)) == 0 else data


def read_fuzzed(read, path: Path, data: bytes):
    """Write ``data`` to ``path`` and ``read`` it: a clear SkeletonFormatError (None) or a sound clip."""
    import numpy as np

    from star.skeleton import SkeletonFormatError

    path.write_bytes(data)
    try:
        clip = read(path)
    except SkeletonFormatError:
        return None
    assert clip.frames.ndim == 4 and clip.frames.shape[2:] == (25, 3)
    assert 1 <= clip.num_bodies <= 2 and clip.num_frames >= 1
    assert np.isfinite(clip.frames).all()
    return clip


@pytest.fixture(scope="session")
def ntu_samples(shared_data: Path) -> Path:
    return shared_data / "ntu_samples"
