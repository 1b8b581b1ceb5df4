"""Shared fixtures: where the repository and the shared real data live (``star.paths``)."""

from __future__ import annotations

import os
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


# ------------------------------------------------------------------ running in parallel (pytest-xdist)
# `make test` runs `pytest -n 2 --dist loadgroup --no-loadscope-reorder`. Under loadgroup a work unit is one
# xdist_group: every module is one group (its module- and session-scoped fixtures are built once, on one worker),
# unless the module sets ``XDIST_PER_TEST = True`` (its tests share nothing costly: each test is its own unit) or a
# test names its own group (@pytest.mark.xdist_group). Units are handed out in collection order, so the long ones
# (the browser test, then the ``slow`` ones) are put first: the short modules fill in around them.

_UNIT = pytest.StashKey[str]()  # an item's work unit: its xdist_group, else its own node id


def _under_xdist(config) -> bool:
    # on a worker xdist sets `dist` to "no" and records loadgroup in `loadgroup`
    return bool(os.environ.get("PYTEST_XDIST_WORKER")) and bool(getattr(config.option, "loadgroup", False))


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # two workers on two cores: one torch thread each (the default, one per core, oversubscribes)
        import torch

        torch.set_num_threads(int(os.environ.get("STAR_TEST_TORCH_THREADS", "1")))


def _cost_rank(item) -> int:
    if item.get_closest_marker("browser"):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config, items):
    if not _under_xdist(config):
        return  # a plain run keeps pytest's order
    for item in items:
        if item.get_closest_marker("xdist_group") is None and not getattr(item.module, "XDIST_PER_TEST", False):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
    # a unit's rank is its costliest test's; stable sort: tests of one unit keep their order
    rank: dict[str, int] = {}
    for item in items:
        mark = item.get_closest_marker("xdist_group")
        unit = (mark.args[0] if mark.args else mark.kwargs.get("name", "")) if mark else item.nodeid
        rank[unit] = min(rank.get(unit, 2), _cost_rank(item))
        item.stash[_UNIT] = unit
    items.sort(key=lambda item: rank[item.stash[_UNIT]])


# ------------------------------------------------------------------ text embeddings, once per worker
_CLASS_TEXT: dict = {}


@pytest.fixture(scope="module")
def class_text_once():
    """The training tests train many heads on one benchmark, and each training run embeds the same class names and
    part descriptions with MiniLM (deterministic: ``test_encoders``). While a module uses this fixture, the first
    run on this worker embeds them through the library's ``class_text_embeddings`` as always; later runs get copies
    of exactly those arrays instead of encoding the same texts again."""
    from star.text.descriptions import description_path
    from star.training import head

    real = head.class_text_embeddings

    def once(encoder, class_names, descriptions, num_parts, cache=None):
        if cache is not None:
            return real(encoder, class_names, descriptions, num_parts, cache)
        path = description_path(descriptions)
        text = path.read_bytes() if path.is_file() else None  # missing: the library raises, every time
        if text is None:
            return real(encoder, class_names, descriptions, num_parts, cache)
        key = (encoder.id, tuple(class_names), text, int(num_parts))
        if key not in _CLASS_TEXT:
            _CLASS_TEXT[key] = real(encoder, class_names, descriptions, num_parts, cache)
        return tuple(a.copy() for a in _CLASS_TEXT[key])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(head, "class_text_embeddings", once)
        yield
