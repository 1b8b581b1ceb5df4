"""The Predict page's videos, without streamlit: an uploaded video -> pose (``star.video``) -> clip and overlays.

``extract_upload`` writes the upload to a temporary folder under its own name, runs ``star.video.extract_pose``
(reporting ``on_progress(done_frames, total_frames)``), makes the copy the browser plays in the same decoding pass
(``star.video.display``: the upload itself when it is an MP4/WebM with a codec browsers decode, else a VP8 WebM of at
most 720p), draws the 2-D landmarks on a few frames, cropped to the people, while the file still exists, and removes
the folder. ``outcome_of_upload`` wraps it for caching: a ``VideoOutcome`` holds the
result or the error message, so a bad video is not processed again on every rerun. The cache itself (keyed by
``upload_key``: the sha256 of the bytes and the file name) is streamlit glue in ``ui/loaders.py``.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from star.skeleton.clip import Clip, SkeletonFormatError
from star.video import VIDEO_SUFFIXES, is_video_path
from star.video.display import DisplayVideo
from ui.clips import upload_on_disk

OVERLAY_COUNT = 4
MIME = {".mp4": "video/mp4", ".avi": "video/x-msvideo", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
        ".webm": "video/webm"}

__all__ = ["VIDEO_SUFFIXES", "is_video_path", "MIME", "OVERLAY_COUNT", "mime_of", "lifter_of", "VideoResult",
           "VideoOutcome", "upload_key", "models_problem", "extract_upload", "outcome_of_upload"]


def lifter_of(clip: Clip) -> str:
    """How a video clip got its 3-D: "learned" or "blazepose" (its ``pose_settings.lifter``; clips posed before the
    learned lifter existed say nothing and used BlazePose's world landmarks)."""
    return str(clip.meta.get("pose_settings", {}).get("lifter", "blazepose"))


class _Display:
    """``display`` (bytes for ``st.video``, None when the video cannot be shown), ``display_mime`` and
    ``display_note`` (a sentence to show with the player, or None) from the ``video`` field."""

    video: DisplayVideo | None

    @property
    def display(self) -> bytes | None:
        return None if self.video is None else self.video.data

    @property
    def display_mime(self) -> str:
        return "video/mp4" if self.video is None else self.video.mime

    @property
    def display_note(self) -> str | None:
        return None if self.video is None else self.video.note


@dataclass(frozen=True)
class VideoResult(_Display):
    """One uploaded video's pose: the ``Clip`` (source = the uploaded name, meta from ``VideoPose.meta``),
    [(frame index, RGB image with the landmarks drawn, cropped to the people)] for ``OVERLAY_COUNT`` frames, and
    ``video``, what the browser plays (``display``, ``display_mime``, ``display_note``)."""

    clip: Clip
    overlays: list[tuple[int, np.ndarray]] = field(repr=False)
    video: DisplayVideo | None = field(default=None, repr=False)
    pose: Any = field(default=None, repr=False, compare=False)  # the star.video VideoPose, for ``clip_with``
    _lifted: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def lifter(self) -> str:
        """How this result's clip got its 3-D (``lifter_of``)."""
        return lifter_of(self.clip)

    def clip_with(self, lifter: str) -> Clip:
        """The clip lifted to 3-D by ``lifter`` from the same 2-D tracks (``star.video.relift``: no pose model
        runs again); computed once per lifter."""
        if lifter == self.lifter or self.pose is None:
            return self.clip
        if lifter not in self._lifted:
            from star.video.pipeline import relift

            settings = copy.deepcopy(self.pose.settings)
            settings.lifter = lifter
            clip = relift(self.pose, settings).to_clip()
            clip.source = self.clip.source
            self._lifted[lifter] = clip
        return self._lifted[lifter]

    @property
    def fps(self) -> float:
        return float(self.clip.meta.get("fps") or 0.0)

    def overlay_caption(self, index: int) -> str:
        return f"frame {index} ({index / self.fps:.2f} s)" if self.fps > 0 else f"frame {index}"

    def summary(self) -> str:
        """'1920x1080, 72 frames at 28.0 fps; bodies in 72 / 72 frames; extracted in 5.1 s (14.2 fps)'."""
        m = self.clip.meta
        bodies = " and ".join(f"{n}" for n in m.get("body_frames", []))
        text = (f"{m.get('resolution', '?')}, {m.get('frame_count', self.clip.num_frames)} frames at "
                f"{self.fps:.1f} fps; bodies in {bodies} of the frames")
        if "seconds" in m:
            text += f"; pose extracted in {float(m['seconds']):.1f} s"
            if "processing_fps" in m:
                text += f" ({float(m['processing_fps']):.1f} frames/s)"
        return text


@dataclass(frozen=True)
class VideoOutcome(_Display):
    """What processing an upload gave: ``result``, or ``error`` (the reader's message, naming the file). A video
    that decodes but shows no full body still has its ``video`` (``display`` ...): it can be played beside the
    error. For a result, ``display``/``display_mime``/``display_note`` are the result's."""

    result: VideoResult | None = None
    error: str | None = None
    video: DisplayVideo | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.result is not None and self.video is None:
            object.__setattr__(self, "video", self.result.video)


def mime_of(name: str) -> str:
    """The MIME type of a video file name (browsers play MP4 and WebM; AVI and MKV may not): for the original
    upload; the player takes ``VideoResult.display`` with ``display_mime`` (a copy that plays)."""
    return MIME.get(Path(name).suffix.lower(), "video/mp4")


def upload_key(name: str, data: bytes) -> tuple[str, str]:
    """The cache key of an upload: (sha256 of its bytes, its file name; the name is in the clip and the errors)."""
    return hashlib.sha256(data).hexdigest(), Path(name).name or "upload.mp4"


def models_problem() -> str | None:
    """None when the two BlazePose models are set up, else what to run (``make pose-models``)."""
    from star.video import models

    if models.models_ready():
        return None
    return (f"Video input needs the two BlazePose pose models, which are not set up in {models.models_dir()}. "
            f"Fetch them once with `{models.FIX_COMMAND}`, then upload the video again.")


def extract_upload(name: str, data: bytes, on_progress: Callable[[int, int], None] | None = None,
                   limits=None) -> VideoResult:
    """Pose of an uploaded video (``star.video.extract_pose``) plus its overlays; the temporary copy is removed.

    Raises ``SkeletonFormatError`` (``VideoError`` / ``NoPersonError``) naming the uploaded file, not the
    temporary path; ``star.video.PoseModelsMissing`` when the models are not set up.
    """
    from star.video import NoPersonError, VideoError, VideoLimits, extract_pose, overlay_frames, probe_video
    from star.video.display import DisplayWriter

    limits = limits or VideoLimits()
    shown = None
    try:
        with upload_on_disk(name or "upload.mp4", data, VIDEO_SUFFIXES, error=VideoError) as path:
            with DisplayWriter(probe_video(path, limits), path.name, data) as writer:
                try:
                    pose = extract_pose(path, on_progress=on_progress, limits=limits,
                                        on_frame=None if writer.passthrough else writer.write)
                except NoPersonError:
                    shown = writer.finish()  # the whole video was decoded: it can still be played
                    raise
                shown = writer.finish()
            overlays = overlay_frames(pose, count=OVERLAY_COUNT)  # reads the file: before it is removed
    except NoPersonError as exc:  # the message names the upload (upload_on_disk); keep the playable copy with it
        exc.display_video = shown
        raise
    base = path.name
    clip = pose.to_clip()
    clip.source = base
    return VideoResult(clip, overlays, shown, pose)


def outcome_of_upload(name: str, data: bytes, on_progress: Callable[[int, int], None] | None = None,
                      limits=None) -> VideoOutcome:
    """``extract_upload`` with its reader error kept as a message (a bad video is one outcome, cached like a good
    one). ``PoseModelsMissing`` is not caught: it is fixed on the server, not in the file."""
    try:
        return VideoOutcome(result=extract_upload(name, data, on_progress, limits))
    except SkeletonFormatError as exc:
        return VideoOutcome(error=str(exc), video=getattr(exc, "display_video", None))
