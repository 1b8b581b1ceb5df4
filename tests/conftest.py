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


def wait_until_serving(proc, url: str, timeout_s: float = 60.0) -> None:
    """Wait until the ``streamlit run`` process ``proc`` answers its health check at ``url``; fail the test with
    the end of its output if it exits or does not answer in time (its stdout must be a text pipe)."""
    import time
    import urllib.request

    deadline = time.time() + timeout_s
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start: {proc.stdout.read()[-3000:]}")
        time.sleep(0.3)


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
# `make test` runs `pytest -n 2`: two worker processes (one torch thread each). A work unit goes to one worker as a
# whole. A unit is a test file, so its module- and session-scoped fixtures (a trained tiny run, a streamlit server
# and its browser, a loaded model) are built once, on one worker; the tests named in OWN_UNITS share nothing costly
# with the rest of their file and are units of their own (each parameter too), so they can run beside it. Units are
# handed out in the order the workers collected them, and the workers put the long ones first: the files with
# `browser` tests, then those with `slow` ones; the many short files fill in around them. Only the default
# distribution (`-n N` alone, xdist's "load") is changed. xdist's own `--dist loadgroup` cannot be used: it marks a
# test's group by renaming the test, which pytest 9 ignores, so it spreads a file's tests over the workers.
OWN_UNITS = {
    "test_shipped_checkpoints.py::test_star_eval_recomputes_the_sidecar_metrics_from_the_test_clips",
    "test_training_e2e.py::test_a_bone_stream_run_records_its_stream_and_evaluates_through_it",
    "test_training_v2.py::test_bf16_backbone_training_records_its_precision",
}


def work_unit(nodeid: str) -> str:
    """The unit a test runs in under `pytest -n`: its own node id if named in OWN_UNITS, else its file."""
    file, _, name = nodeid.partition("::")
    own = f"{file.rsplit('/', 1)[-1]}::{name.split('[', 1)[0]}" in OWN_UNITS
    return nodeid if own else file


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    config.option.loadscopereorder = False  # keep the workers' order (long units first), not "most tests first"
    return UnitScheduling(config, log)


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # two workers on two cores: one torch thread each. torch's default (one per core) oversubscribes: the whole
        # suite took 7 min instead of 3.5 on this 2-core machine
        import torch

        torch.set_num_threads(1)


def _cost_rank(item) -> int:
    if item.get_closest_marker("browser"):
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config, items):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a plain run keeps pytest's order
    # a unit's rank is its costliest test's; a stable sort keeps each unit's tests in their order
    rank: dict[str, int] = {}
    for item in items:
        unit = work_unit(item.nodeid)
        rank[unit] = min(rank.get(unit, 2), _cost_rank(item))
    items.sort(key=lambda item: rank[work_unit(item.nodeid)])


# ------------------------------------------------------------------ text embeddings, once per worker
_CLASS_TEXT: dict = {}


@pytest.fixture(scope="module")
def class_text_once():
    """The training tests train many heads on one benchmark, and each training run embeds the same class names and
    part descriptions with MiniLM (deterministic: ``test_encoders``). While a module uses this fixture, the first
    run in this process (an xdist worker, or the whole plain run) embeds them through the library's
    ``class_text_embeddings`` as always; later runs get copies of exactly those arrays instead of encoding the same
    texts again. Runs in other processes (torchrun, subprocesses) and with an explicit cache are left alone."""
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




# ------------------------------------------------------------------ CI cannot skip
# Under CI=true (set by .ci/run) a skipped test is a failure: the browser, video and shipped-checkpoint tests skip
# on a developer machine without chromium, the pose models or the shared videos, and a green CI run must mean they
# ran. Collection-time skips (a module's importorskip) count too.
def _ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _fail_skip(report) -> None:
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped under CI=true, where every test must run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if _ci() and report.skipped and not hasattr(report, "wasxfail"):
        _fail_skip(report)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if _ci() and report.skipped:
        _fail_skip(report)


# ------------------------------------------------------------------ the app through AppTest
def app_session(monkeypatch, tmp_path: Path, checkpoint: str | None = None, page: str | None = None,
                roots: Path | None = None):
    """``app.py`` in Streamlit's AppTest over the repository's checkpoints (or the folder ``roots``), a fresh cache
    folder, the sidebar on ``checkpoint`` (default: the app's own choice), opened on ``page`` ("pages/x.py")."""
    from streamlit.testing.v1 import AppTest

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(roots or repo / "checkpoints"))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(str(repo / "app.py"), default_timeout=180)
    if checkpoint is not None:
        at.session_state["checkpoint_pick"] = checkpoint
    at.run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ------------------------------------------------------------------ the app's background warm-up stays idle in tests
@pytest.fixture(autouse=True)
def _app_warm_ups_stay_idle(monkeypatch):
    """The Predict page starts a thread per checkpoint that predicts every built-in sample and embeds the vocabulary
    presets in the background (``ui.loaders.warm_samples``). In a test process each checkpoint copy would start one,
    and they would take CPU from the tests running beside them; here they wait until the process ends instead.
    ``tests/test_ui_helpers.py`` runs the warm-ups themselves."""
    try:
        from ui import loaders
    except ImportError:  # a copy of this file outside the repository (tests/test_ci_skips.py): no app there
        return
    monkeypatch.setattr(loaders, "WARM_DELAY_S", 3600.0)
