"""``ui.uploads``: upload folders registered with their session are released once the session has ended (not
active for longer than the grace period), never while it is active or may still come back; sweeping is harmless
to repeat; the background timer keeps sweeping. Without streamlit (a fake clock and fake session states)."""

from __future__ import annotations

import io
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py
from ui.checkpoints import UploadedCheckpoint  # noqa: E402
from ui.uploads import (DEFAULT_SWEEP_S, SWEEP_ENV, SweepTimer, UploadRegistry,  # noqa: E402
                        sweep_period_s)

GRACE = 120.0  # Streamlit's default disconnectedSessionTTL


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Folder:
    """A Releasable over a real folder, counting its releases."""

    def __init__(self, path: Path) -> None:
        self.path, self.releases = path, 0
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"x")

    @property
    def released(self) -> bool:
        return not self.path.exists()

    def release(self) -> None:
        self.releases += 1
        if self.path.exists():
            (self.path / "model.safetensors").unlink()
            self.path.rmdir()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_an_ended_sessions_folder_goes_an_active_ones_stays(tmp_path, clock):
    reg = UploadRegistry(clock)
    ended, active = Folder(tmp_path / "ended"), Folder(tmp_path / "active")
    reg.add("s-ended", ended)
    reg.add("s-active", active)
    live = {"s-active"}
    assert reg.sweep(live.__contains__, GRACE) == 0  # first seen inactive now: it may still reconnect
    clock.now += GRACE  # exactly the grace period: still kept
    assert reg.sweep(live.__contains__, GRACE) == 0 and ended.path.is_dir()
    clock.now += 1
    assert reg.sweep(live.__contains__, GRACE) == 1
    assert not ended.path.exists() and ended.releases == 1
    assert active.path.is_dir() and active.releases == 0
    assert reg.sessions() == {"s-active"} and len(reg) == 1
    clock.now += 10 * GRACE  # an active session keeps its folder however long it lives
    assert reg.sweep(live.__contains__, GRACE) == 0 and active.path.is_dir()


def test_sweeping_twice_is_harmless(tmp_path, clock):
    reg = UploadRegistry(clock)
    folder = Folder(tmp_path / "f")
    dropped: list[str] = []
    reg.add("s", folder, lambda: dropped.append("cached model"))
    reg.sweep(lambda s: False, GRACE)
    clock.now += GRACE + 1
    assert reg.sweep(lambda s: False, GRACE) == 1
    assert reg.sweep(lambda s: False, GRACE) == 0
    assert reg.sweep(lambda s: True, GRACE) == 0
    assert folder.releases == 1 and not folder.path.exists() and len(reg) == 0
    assert dropped == ["cached model"]  # what goes with the folder, once


def test_a_failing_on_release_does_not_stop_the_sweep(tmp_path, clock):
    reg = UploadRegistry(clock)
    a, b = Folder(tmp_path / "a"), Folder(tmp_path / "b")
    reg.add("s1", a, lambda: 1 / 0)
    reg.add("s2", b)
    reg.sweep(lambda s: False, GRACE)
    clock.now += GRACE + 1
    assert reg.sweep(lambda s: False, GRACE) == 2
    assert not a.path.exists() and not b.path.exists() and len(reg) == 0


def test_a_session_that_comes_back_in_time_keeps_its_folder(tmp_path, clock):
    """Disconnected, then reconnected within the grace period: the inactive time starts over."""
    reg = UploadRegistry(clock)
    folder = Folder(tmp_path / "f")
    reg.add("s", folder)
    reg.sweep(lambda s: False, GRACE)  # the browser went away
    clock.now += GRACE - 1
    reg.sweep(lambda s: True, GRACE)  # ... and came back
    clock.now += 2
    assert reg.sweep(lambda s: False, GRACE) == 0  # gone again: a new grace period from here
    clock.now += GRACE - 1
    assert reg.sweep(lambda s: False, GRACE) == 0 and folder.path.is_dir()
    clock.now += 2
    assert reg.sweep(lambda s: False, GRACE) == 1 and not folder.path.exists()


def test_folders_released_by_their_session_are_forgotten_and_each_session_is_asked_once(tmp_path, clock):
    reg = UploadRegistry(clock)
    a, b, c = Folder(tmp_path / "a"), Folder(tmp_path / "b"), Folder(tmp_path / "c")
    for name, folder in (("s1", a), ("s1", b), ("s2", c)):
        reg.add(name, folder)
    reg.add("s1", a)  # registering the same upload twice keeps one entry
    a.release()  # replaced by another upload in its own session (which clears its caches itself)
    asked: list[str] = []
    reg.sweep(lambda s: asked.append(s) or True, GRACE)
    assert sorted(asked) == ["s1", "s2"] and len(reg) == 2 and reg.sessions() == {"s1", "s2"}
    assert a.releases == 1  # not released again by the registry
    gone = Folder(tmp_path / "gone")
    gone.release()
    reg.add("s3", gone)  # an upload without a folder (a refused archive) is not registered
    assert reg.sessions() == {"s1", "s2"}


def test_a_sweep_never_waits_for_another(tmp_path, clock):
    """A rerun that sweeps while the timer is removing a folder returns at once instead of waiting."""
    reg = UploadRegistry(clock)
    entered, go_on = threading.Event(), threading.Event()

    class Slow(Folder):
        def release(self) -> None:
            entered.set()
            go_on.wait(5)
            super().release()

    slow = Slow(tmp_path / "slow")
    reg.add("s", slow)
    reg.sweep(lambda s: False, 0.0)
    clock.now += 1
    worker = threading.Thread(target=reg.sweep, args=(lambda s: False, 0.0))
    worker.start()
    assert entered.wait(5)
    start = time.perf_counter()
    assert reg.sweep(lambda s: False, 0.0) == 0
    assert time.perf_counter() - start < 0.5
    go_on.set()
    worker.join(5)
    assert not slow.path.exists() and slow.releases == 1


def test_an_uploaded_checkpoints_folder_goes_with_its_session(tmp_path, clock):
    """The real thing: an ``UploadedCheckpoint`` unpacked from a zip of the shipped checkpoint."""
    folder = REPO / "checkpoints" / "star-pool42-32-10"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name in ("model.safetensors", "model.json", "bundle.npz"):
            zf.write(folder / name, f"star-pool42-32-10/{name}")
    up = UploadedCheckpoint.unpack("file-1", "mine.zip", buf.getvalue())
    assert up.error is None and up.path.is_dir() and not up.released
    top = up.path.parent
    assert top.name.startswith("star-checkpoint-upload-")
    reg = UploadRegistry(clock)
    reg.add("s", up)
    reg.sweep(lambda s: False, GRACE)
    clock.now += GRACE + 1
    assert reg.sweep(lambda s: False, GRACE) == 1
    assert up.released and not top.exists()
    up.release()  # the session's own release later on is harmless
    refused = UploadedCheckpoint.unpack("file-2", "bad.zip", b"not a zip")
    assert refused.error and refused.released


def test_the_timer_sweeps_in_the_background_and_survives_a_failing_sweep():
    calls: list[float] = []

    def sweep() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("a bad sweep")

    timer = SweepTimer(sweep, 0.02)
    timer.ensure()
    first = timer._thread
    timer.ensure()  # one thread only
    try:
        assert timer._thread is first and first.daemon and first.is_alive()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 3 and timer._thread is first
    finally:
        timer.stop()
    assert not first.is_alive()


@pytest.mark.parametrize("value, expected", [(None, DEFAULT_SWEEP_S), ("2.5", 2.5), ("0", DEFAULT_SWEEP_S),
                                             ("-1", DEFAULT_SWEEP_S), ("soon", DEFAULT_SWEEP_S),
                                             (" ", DEFAULT_SWEEP_S)])
def test_sweep_period_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(SWEEP_ENV, raising=False)
    else:
        monkeypatch.setenv(SWEEP_ENV, value)
    assert sweep_period_s() == expected
