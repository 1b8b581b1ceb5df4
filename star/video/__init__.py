"""RGB video -> ``Clip``: BlazePose (detector + landmark model) in our own code, tracking, NTU-25 mapping.

Importing this package is cheap; OpenCV and the TFLite runtime load on first use of a pipeline name.
See docs/VIDEO.md for the pipeline, the joint table and the limits.
"""

from __future__ import annotations

import importlib

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")

_LAZY = {
    "VideoError": "star.video.decode", "NoPersonError": "star.video.decode", "VideoLimits": "star.video.decode",
    "VideoInfo": "star.video.decode", "probe_video": "star.video.decode", "read_frames": "star.video.decode",
    "PoseSettings": "star.video.pipeline", "VideoPose": "star.video.pipeline",
    "extract_pose": "star.video.pipeline", "video_to_clip": "star.video.pipeline",
    "draw_landmarks": "star.video.overlay", "overlay_frames": "star.video.overlay",
    "DisplayVideo": "star.video.display", "DisplayLimits": "star.video.display", "DisplayWriter": "star.video.display",
    "display_copy": "star.video.display",
    "PoseModelsMissing": "star.video.models", "fetch_models": "star.video.models", "models_ready": "star.video.models",
}

__all__ = ["VIDEO_SUFFIXES", "is_video_path", *_LAZY]


def is_video_path(path) -> bool:
    """True when ``path`` has a video extension (.mp4 .avi .mov .mkv .webm)."""
    return str(path).lower().endswith(VIDEO_SUFFIXES)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'star.video' has no attribute {name!r}")
