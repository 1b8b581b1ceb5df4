"""Upload folders owned by app sessions, released once their session has ended (no streamlit here).

An uploaded checkpoint is unpacked into a temporary folder held in its session's state
(``ui.checkpoints.UploadedCheckpoint``). Streamlit keeps a disconnected session, state and all, for
``server.disconnectedSessionTTL`` seconds (default 120) so that its browser can reconnect; after that it drops
the session without calling anything of the app, and the objects in its state may never be garbage collected.
So every upload is registered here with the id of the session that owns it, and ``UploadRegistry.sweep``
releases (removes the folder of) every upload whose session has not been active for longer than a grace
period: the frame passes Streamlit's disconnected-session TTL, after which the session can no longer be
resumed, so nothing a session could come back to is removed. The frame sweeps on every rerun of any session
and from a daemon timer every ``sweep_period_s()`` seconds (``$STAR_UPLOAD_SWEEP_S``, default 30), so a folder
goes within TTL + two periods (about three minutes) of its browser closing, even when nobody else uses the app.
A folder still held when the server stops goes with the process (``tempfile.TemporaryDirectory``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

DEFAULT_SWEEP_S = 30.0
SWEEP_ENV = "STAR_UPLOAD_SWEEP_S"


class Releasable(Protocol):
    """What the registry holds: ``release()`` removes the folder (idempotent), ``released`` says it is gone."""

    @property
    def released(self) -> bool: ...

    def release(self) -> None: ...


@dataclass
class _Entry:
    session_id: str
    upload: Releasable
    on_release: Callable[[], object] | None = None  # what else goes with it (cached models, ...)
    inactive_since: float | None = None  # when a sweep first found the session inactive


class UploadRegistry:
    """Uploads by owning session; ``sweep`` releases those of sessions inactive for longer than a grace period.

    Thread-safe: sessions register from their script threads, sweeps run from any rerun and the timer thread. A
    sweep that finds another one running returns at once (a rerun never waits on a folder being removed).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: list[_Entry] = []
        self._lock = threading.Lock()  # guards _entries
        self._sweeping = threading.Lock()  # one sweep at a time

    def add(self, session_id: str, upload: Releasable, on_release: Callable[[], object] | None = None) -> None:
        """Register ``upload`` (a folder to remove once ``session_id`` has ended; ``on_release`` is called after a
        sweep removed it, not when its session releases it itself); a released one is ignored."""
        if upload.released:
            return
        with self._lock:
            if not any(e.upload is upload for e in self._entries):
                self._entries.append(_Entry(session_id, upload, on_release))

    def __len__(self) -> int:
        with self._lock:
            return sum(not e.upload.released for e in self._entries)

    def sessions(self) -> set[str]:
        """The sessions that hold an upload not yet released."""
        with self._lock:
            return {e.session_id for e in self._entries if not e.upload.released}

    def sweep(self, is_active: Callable[[str], bool], grace_s: float) -> int:
        """Release the uploads of sessions that ``is_active`` has called inactive for more than ``grace_s`` seconds
        (counted from the first sweep that found them inactive; a session seen active again starts over); forget
        the uploads released by their sessions. Returns how many were released. Harmless to call at any time."""
        if not self._sweeping.acquire(blocking=False):
            return 0
        try:
            now = self._clock()
            with self._lock:
                entries = list(self._entries)
            active: dict[str, bool] = {}
            done: list[_Entry] = []
            released = 0
            for entry in entries:
                if entry.upload.released:  # replaced or cleared by its own session
                    done.append(entry)
                    continue
                if entry.session_id not in active:
                    active[entry.session_id] = bool(is_active(entry.session_id))
                if active[entry.session_id]:
                    entry.inactive_since = None
                    continue
                if entry.inactive_since is None:
                    entry.inactive_since = now
                if now - entry.inactive_since > grace_s:
                    entry.upload.release()
                    done.append(entry)
                    released += 1
                    if entry.on_release is not None:
                        try:
                            entry.on_release()
                        except Exception:  # noqa: BLE001 - the folder is gone; the rest of the sweep goes on
                            pass
            gone = {id(e) for e in done}
            with self._lock:
                self._entries = [e for e in self._entries if id(e) not in gone]
            return released
        finally:
            self._sweeping.release()


def sweep_period_s() -> float:
    """Seconds between background sweeps: ``$STAR_UPLOAD_SWEEP_S`` (a positive number), else 30."""
    try:
        value = float(os.environ.get(SWEEP_ENV, "").strip() or DEFAULT_SWEEP_S)
    except ValueError:
        return DEFAULT_SWEEP_S
    return value if value > 0 else DEFAULT_SWEEP_S


class SweepTimer:
    """Calls ``sweep`` every ``period_s`` seconds from one daemon thread, started by the first ``ensure()``.

    Errors in a sweep are swallowed (the next one tries again): the timer must outlive any one bad sweep."""

    def __init__(self, sweep: Callable[[], object], period_s: float) -> None:
        self._sweep, self.period_s = sweep, period_s
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def ensure(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="star-upload-sweeper", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self._sweep()
            except Exception:  # noqa: BLE001 - keep sweeping; a failed sweep leaves the folders for the next one
                pass


REGISTRY = UploadRegistry()  # the process's uploads (all sessions of the app)
