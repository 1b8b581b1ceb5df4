"""Opening and streaming a video file, with limits and clear errors.

Frames are decoded one at a time with OpenCV (FFmpeg backend) and handed on as RGB uint8 arrays
(H, W, 3); nothing keeps more than the current frame, so memory stays bounded for any length. Before a
frame is decoded the file is checked: it exists, is at most ``VideoLimits.max_bytes``, starts like a
video container (MP4/MOV, AVI, Matroska/WebM), opens, and declares a duration, frame size and frame
count within the limits. Every problem raises ``VideoError`` (a ``SkeletonFormatError``) naming the
file, what was expected and what was found.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from star.skeleton.clip import SkeletonFormatError


class VideoError(SkeletonFormatError):
    """A video could not be turned into a skeleton clip (unreadable, corrupt, too long, ...)."""


class NoPersonError(VideoError):
    """The video decodes, but no full body (or only a low-confidence one) was found in it."""


@dataclass(frozen=True)
class VideoLimits:
    """Refuse videos beyond these before decoding them."""

    max_bytes: int = 1024 * 1024 * 1024  # 1 GiB
    max_seconds: float = 600.0  # 10 minutes
    max_pixels: int = 3840 * 2160  # 4K UHD
    min_complete: float = 0.9  # decoding must reach this share of the declared frame count
    max_overrun: float = 1.5  # ... and may go this far past it (+30 frames): a header that lies about the length
    max_wall_seconds: float = 900.0  # decoding and what the caller does with each frame (pose extraction) together


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares: frame size, frame rate, frame count, duration, codec."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    codec: str
    size_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def _container(head: bytes) -> str | None:
    """The container family named by a file's first bytes, or None."""
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return "MP4/QuickTime"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    return None


def _open(path: Path):
    import cv2

    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        cap.release()
        raise VideoError(path, None, "a video stream FFmpeg can open", "a container with no readable video stream "
                         "(corrupt or truncated file, or an unsupported codec)")
    return cap


def probe_video(path, limits: VideoLimits = VideoLimits()) -> VideoInfo:
    """Check the file and read its declared properties; raises ``VideoError``."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoError(path, None, "an existing video file", "no such file" if not path.exists() else "a directory")
    size = path.stat().st_size
    if size == 0:
        raise VideoError(path, None, "a video file", "an empty file (0 bytes)")
    if size > limits.max_bytes:
        raise VideoError(path, None, f"a video of at most {limits.max_bytes:,} bytes", f"{size:,} bytes")
    with open(path, "rb") as fp:
        head = fp.read(16)
    if _container(head) is None:
        raise VideoError(path, "byte 0", "a video container (MP4/MOV, AVI, MKV or WebM)",
                         f"a file starting with {head[:12]!r}")
    cap = _open(path)
    try:
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC) or 0)
    finally:
        cap.release()
    codec = "".join(chr((fourcc >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00 ") or "unknown"
    if width <= 0 or height <= 0:
        raise VideoError(path, None, "a video stream with a frame size", f"width {width}, height {height}")
    if width * height > limits.max_pixels:
        raise VideoError(path, None, f"frames of at most {limits.max_pixels:,} pixels (4K)", f"{width}x{height}")
    if not 0 < fps <= 1000:
        fps = 30.0  # some containers (e.g. WebM without a rate) declare none; assume 30 fps
    duration = count / fps if count else 0.0
    if duration > limits.max_seconds:
        raise VideoError(path, None, f"a video of at most {limits.max_seconds:g} s",
                         f"{duration:.1f} s ({count} frames at {fps:g} fps)")
    return VideoInfo(str(path), width, height, fps, count, duration, codec, size)


def iter_frames(info: VideoInfo, limits: VideoLimits = VideoLimits()) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, RGB frame (H, W, 3) uint8) one at a time; raises ``VideoError`` on bad streams.

    Zero decodable frames, a stream that stops well before its declared frame count (corrupt or
    truncated), or more frames than ``max_seconds`` allows all raise.
    """
    import cv2

    path = Path(info.path)
    max_frames = int(limits.max_seconds * info.fps) + 1
    if info.frame_count:  # a stream longer than its header says is stopped soon after, not at max_seconds
        max_frames = min(max_frames, int(limits.max_overrun * info.frame_count) + 30)
    cap = _open(path)
    index = 0
    start = time.monotonic()
    try:
        while True:
            if time.monotonic() - start > limits.max_wall_seconds:
                raise VideoError(path, f"frame {index}", f"a video read within {limits.max_wall_seconds:g} s",
                                 f"{index} frames after {time.monotonic() - start:.0f} s")
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            if frame.shape[:2] != (info.height, info.width):
                raise VideoError(path, f"frame {index}", f"{info.width}x{info.height} frames",
                                 f"{frame.shape[1]}x{frame.shape[0]} (corrupt stream)")
            if index >= max_frames:
                declared = f" (the header declares {info.frame_count})" if info.frame_count else ""
                raise VideoError(path, f"frame {index}", f"a video of at most {limits.max_seconds:g} s whose "
                                 "stream is as long as its header says",
                                 f"more than {max_frames} frames at {info.fps:g} fps{declared}")
            yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        cap.release()
    if index == 0:
        raise VideoError(path, None, "at least one decodable video frame",
                         f"0 frames (the header declares {info.frame_count}; corrupt stream or empty video)")
    if info.frame_count and index < limits.min_complete * info.frame_count and info.frame_count - index > 2:
        raise VideoError(path, f"frame {index}", f"{info.frame_count} frames, as the header declares",
                         f"a stream that stops decoding after {index} frames (corrupt or truncated file)")


def read_frames(path, indices, limits: VideoLimits = VideoLimits()) -> dict[int, np.ndarray]:
    """A few RGB frames (H, W, 3) uint8 by index, decoded in one streaming pass (for overlays)."""
    wanted = set(int(i) for i in indices)
    out: dict[int, np.ndarray] = {}
    if not wanted:
        return out
    for index, frame in iter_frames(probe_video(path, limits), limits):
        if index in wanted:
            out[index] = frame
            if len(out) == len(wanted):
                break
    return out
