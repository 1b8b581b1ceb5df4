"""A copy of a video that a browser plays: the original when it already plays, else a VP8 WebM made with OpenCV.

Browsers play MP4 with H.264 / VP9 / AV1 and WebM with VP8 / VP9 / AV1; an AVI (NTU's videos), a QuickTime
``.mov``, a Matroska ``.mkv`` or an MP4 with another codec (MPEG-4 Part 2, HEVC) shows a black player. The
decision looks at the container's first bytes *and* the codec the stream declares (``VideoInfo.codec``, from
OpenCV's ``CAP_PROP_FOURCC``), never at the suffix alone.

The transcode uses the installed ``opencv-python-headless`` (its FFmpeg has libvpx; it has no H.264 encoder):
VP8 in WebM (VP9 decodes the same in Chromium but encodes about 7x slower). It is bounded by ``DisplayLimits``:
frames are scaled down to at most 1280x720 (720 x 1280 upright), the frame rate is kept and every frame is
written, but a long video is shown smaller (down to 240 px on its short side) so that at most ``budget``
pixels x frames are encoded; beyond that only its first part is shown, with a note. The copy is written in a
temporary folder that is always removed; its bytes are handed on only after the writer has closed and the
file has been opened again, so a half-written copy is never shown. A failure gives a ``DisplayVideo`` without
data and a note saying why (never an exception): the pose does not depend on it.

``DisplayWriter`` takes frames as they are decoded (``extract_pose(on_frame=...)``: one decoding pass for
the pose and the copy); ``display_copy(path)`` makes the copy of a file on its own.
"""

from __future__ import annotations

import math
import queue
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from star.video.decode import VideoError, VideoInfo, VideoLimits, iter_frames, probe_video

# codec names OpenCV reports (CAP_PROP_FOURCC, lower case) that Chromium, Firefox and Safari decode, per container
PLAYABLE = {
    "mp4": {"h264", "avc1", "avc3", "x264", "vp09", "vp90", "av01"},
    "webm": {"vp80", "vp08", "vp90", "vp09", "av01"},
}
MIME = {"mp4": "video/mp4", "webm": "video/webm"}
FOURCC = "VP80"  # what the copy is written with: VP8 in WebM
COPY_MIME = "video/webm"


@dataclass(frozen=True)
class DisplayLimits:
    """Bounds on the transcoded copy (a copy of a video that already plays is the original, whatever its size)."""

    max_long: int = 1280  # long side of the copy, pixels (720p)
    max_short: int = 720  # short side
    min_short: int = 240  # a long video is shown smaller, down to this short side, before it is cut
    budget: int = 1280 * 720 * 600  # pixels x frames encoded at most (20 s of 720p at 30 fps; ~1 min on 2 cores)


@dataclass(frozen=True)
class DisplayPlan:
    """How a video is copied: frame size, frames written at most (None: all) and the frame rate."""

    width: int
    height: int
    max_frames: int | None
    fps: float


@dataclass(frozen=True)
class DisplayVideo:
    """What the browser is given: ``data`` (bytes, None when the video cannot be shown) with its ``mime``;
    ``note``: a sentence for the viewer when something is missing (cannot be shown, or shows only the start);
    ``transcoded``: False when ``data`` is the original file. ``codec``, ``width``, ``height``, ``frames``, ``fps``
    describe ``data`` (frames: those written; 0 for the original); ``seconds``: time spent making the copy."""

    data: bytes | None
    mime: str
    note: str | None = None
    transcoded: bool = False
    codec: str = ""
    width: int = 0
    height: int = 0
    frames: int = 0
    fps: float = 0.0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.data is not None


def container_of(head: bytes) -> str | None:
    """'mp4' (an ISO MP4, not a QuickTime .mov), 'webm' (Matroska with DocType webm) or None, from a file's first
    64 bytes."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return None if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"\x42\x82" in head[:64]:  # EBML header, DocType element
        at = head.index(b"\x42\x82") + 2
        size = head[at] & 0x7F if at < len(head) and head[at] & 0x80 else 0  # one-byte EBML size
        return "webm" if head[at + 1:at + 1 + size] == b"webm" else None
    return None


def playable_mime(path, info: VideoInfo) -> str | None:
    """The MIME type a browser plays the file as, or None when it must be transcoded."""
    with open(path, "rb") as fp:
        kind = container_of(fp.read(64))
    if kind is not None and info.codec.lower() in PLAYABLE[kind]:
        return MIME[kind]
    return None


def _even(x: float) -> int:
    """x rounded down to an even number of pixels (at least 2)."""
    return max(2, 2 * int((x + 1e-6) // 2))


def plan_display(info: VideoInfo, limits: DisplayLimits = DisplayLimits()) -> DisplayPlan:
    """Frame size and frame cap of the copy: at most 720p; smaller (down to ``min_short``) when the whole video
    would exceed ``limits.budget`` pixels x frames; cut to its first ``max_frames`` only beyond that."""
    w, h = info.width, info.height
    frames = info.frame_count or int(math.ceil(info.duration_s * info.fps)) or None
    scale = min(1.0, limits.max_long / max(w, h), limits.max_short / min(w, h))
    if frames:
        scale = min(scale, math.sqrt(limits.budget / (frames * w * h)))
    scale = max(scale, min(1.0, limits.min_short / min(w, h)))
    width, height = (w, h) if scale >= 1.0 else (_even(w * scale), _even(h * scale))
    cap = max(1, limits.budget // (width * height))
    return DisplayPlan(width, height, None if frames and frames <= cap else cap, info.fps)


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}" if seconds >= 60 else f"{seconds:.1f} s"


def _open_writer(path: Path, plan: DisplayPlan):
    import cv2

    return cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*FOURCC), plan.fps,
                           (plan.width, plan.height))


class DisplayWriter:
    """Writes the copy frame by frame: ``write(index, rgb_frame)`` for every decoded frame in order, then
    ``finish()`` -> ``DisplayVideo``; ``close()`` removes the temporary folder (also after a failure). Usable as
    a context manager. When the original plays (``passthrough``), frames are ignored and ``finish`` returns
    ``original``'s bytes unchanged. A write or encoder failure is remembered, never raised.

    ``background``: frames are encoded by a worker thread (OpenCV releases the GIL), so that encoding overlaps
    the caller's work (the pose models); at most ``QUEUE`` scaled frames wait, then ``write`` waits.
    """

    QUEUE = 8

    def __init__(self, info: VideoInfo, name: str = "", original: bytes | None = None,
                 limits: DisplayLimits = DisplayLimits(), background: bool = True):
        self.info, self.name = info, name or Path(info.path).name
        self.mime = playable_mime(info.path, info)
        self.passthrough = self.mime is not None
        self._original = original
        self.plan = plan_display(info, limits)
        self.background = background
        self.frames = 0
        self.seconds = 0.0  # scaling frames and finishing, in the caller's thread
        self.encode_seconds = 0.0  # encoding (in the worker thread when ``background``)
        self.failure: str | None = None
        self._writer = None
        self._tmp: str | None = None
        self._path: Path | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def wants_frames(self) -> bool:
        return not self.passthrough and self.failure is None and (
            self.plan.max_frames is None or self.frames < self.plan.max_frames)

    def _encode(self, frame: np.ndarray) -> None:
        """Write one BGR frame of the planned size (opening the encoder on the first); failures are kept."""
        if self.failure is not None:
            return
        start = time.perf_counter()
        try:
            if self._writer is None:
                self._tmp = tempfile.mkdtemp(prefix="star-display-")
                self._path = Path(self._tmp) / "display.webm"
                self._writer = _open_writer(self._path, self.plan)
                if self._writer is None or not self._writer.isOpened():
                    raise RuntimeError(f"OpenCV could not open a {FOURCC} WebM writer")
            self._writer.write(frame)
        except Exception as exc:  # noqa: BLE001 - any encoder problem only loses the copy, never the pose
            self.failure = f"{type(exc).__name__}: {exc}"
        self.encode_seconds += time.perf_counter() - start

    def _work(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is None:
                return
            self._encode(frame)  # after a failure the queue is still drained: write() never waits for ever

    def write(self, index: int, frame: np.ndarray) -> None:
        """Add the next decoded RGB frame (H, W, 3) uint8; frames past the cap are skipped."""
        if not self.wants_frames:
            return
        import cv2

        start = time.perf_counter()
        if frame.shape[1] != self.plan.width or frame.shape[0] != self.plan.height:
            frame = cv2.resize(frame, (self.plan.width, self.plan.height), interpolation=cv2.INTER_AREA)
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        self.seconds += time.perf_counter() - start
        self.frames += 1
        if not self.background:
            self._encode(frame)
            return
        if self._thread is None:
            self._queue = queue.Queue(self.QUEUE)
            self._thread = threading.Thread(target=self._work, name="star-display-copy", daemon=True)
            self._thread.start()
        self._queue.put(frame)

    def _stop(self) -> None:
        """Wait until the worker has written every queued frame."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _release(self) -> None:
        self._stop()
        if self._writer is not None:
            try:
                self._writer.release()
            except Exception as exc:  # noqa: BLE001
                self.failure = self.failure or f"{type(exc).__name__}: {exc}"
            self._writer = None

    def _unplayable(self, why: str) -> DisplayVideo:
        return DisplayVideo(None, COPY_MIME, f"{self.name} cannot be shown in the browser: {why}. The pose and the "
                            "prediction do not depend on it.", transcoded=True,
                            seconds=round(self.seconds + self.encode_seconds, 3))

    def finish(self) -> DisplayVideo:
        """The copy (or the original) as bytes; a ``DisplayVideo`` without data and a note when it failed."""
        if self.passthrough:
            data = self._original if self._original is not None else Path(self.info.path).read_bytes()
            return DisplayVideo(data, self.mime, codec=self.info.codec, width=self.info.width,
                                height=self.info.height, fps=self.info.fps)
        start = time.perf_counter()
        try:
            self._release()
            if self.failure is None and self.frames == 0:
                self.failure = "no frame was decoded"
            if self.failure is None:
                data = self._path.read_bytes() if self._path.is_file() else b""
                self.failure = self._check(len(data))
        except Exception as exc:  # noqa: BLE001
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.seconds += time.perf_counter() - start
            self.close()
        if self.failure is not None:
            return self._unplayable(f"converting it from {self.info.codec} to a {FOURCC} WebM failed "
                                    f"({self.failure})")
        note = None
        total = self.info.frame_count
        if self.plan.max_frames is not None and total > self.frames:
            note = (f"The player shows the first {_clock(self.frames / self.plan.fps)} of "
                    f"{_clock(total / self.plan.fps)} (a smaller copy for the browser); the skeleton covers the "
                    "whole video.")
        return DisplayVideo(data, COPY_MIME, note, True, FOURCC, self.plan.width, self.plan.height, self.frames,
                            self.plan.fps, round(self.seconds + self.encode_seconds, 3))

    def _check(self, size: int) -> str | None:
        """None when the written file opens again with the planned size, else what is wrong."""
        import cv2

        if size == 0:
            return "the encoder wrote nothing"
        cap = cv2.VideoCapture(str(self._path), cv2.CAP_FFMPEG)
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            if not ok or frame is None:
                return "the written copy does not decode"
            if frame.shape[:2] != (self.plan.height, self.plan.width):
                return f"the written copy is {frame.shape[1]}x{frame.shape[0]}"
        finally:
            cap.release()
        return None

    def close(self) -> None:
        """Release the encoder and remove the temporary folder (idempotent)."""
        self._release()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def display_copy(path, original: bytes | None = None, limits: DisplayLimits = DisplayLimits(),
                 video_limits: VideoLimits = VideoLimits(), name: str = "") -> DisplayVideo:
    """A browser-playable version of the video file ``path`` (one decoding pass when it must be transcoded).

    ``original``: the file's bytes when already in memory (returned as they are when the file plays). Raises
    ``VideoError`` only when ``path`` is not a readable video (``probe_video``); a stream that breaks while the
    copy is made gives a ``DisplayVideo`` without data and a note.
    """
    start = time.perf_counter()
    info = probe_video(path, video_limits)
    with DisplayWriter(info, name or Path(path).name, original, limits) as writer:
        if not writer.passthrough:
            try:
                for index, frame in iter_frames(info, video_limits):
                    if not writer.wants_frames:
                        break
                    writer.write(index, frame)
            except VideoError as exc:
                writer.failure = str(exc)
        shown = writer.finish()
    return replace(shown, seconds=round(time.perf_counter() - start, 3)) if shown.transcoded else shown
