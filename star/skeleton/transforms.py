"""Skeleton transforms on frames (M, T, 25, 3) float32 numpy arrays.

``to_model_input`` is THE deterministic preprocessing used at evaluation and inference time:
the run's canonical-skeleton spec first (``canonical``: a ``star.skeleton.canonical.Canonical``; None or
``LEGACY`` = nothing, as every checkpoint before it), then centre on the first frame's spine-mid, resize to
``num_frames`` by linear interpolation, pad to two bodies, and reorder to the model's (C=3, T, V=25, M=2).
``augment`` is its training-time counterpart (the same canonical spec, then random crop-resize and a random
rotation, as in the reference's CTR-GCN-style augmentation). Backbone training, feature extraction,
evaluation, ``star predict`` and the app all come through these two functions with the checkpoint's spec.

A body that is absent in a frame is stored as zeros; transforms keep absent bodies at zero.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from star.skeleton.canonical import Canonical
from star.skeleton.clip import NUM_JOINTS, Clip
from star.skeleton.topology import SPINE_MID

MODEL_BODIES = 2


def _frames(clip_or_frames: Clip | np.ndarray) -> np.ndarray:
    """Frames (M, T, 25, 3) float32 from a Clip, an (M, T, 25, 3) array or a one-body (T, 25, 3) array."""
    frames = clip_or_frames.frames if isinstance(clip_or_frames, Clip) else np.asarray(clip_or_frames, dtype=np.float32)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[2:] != (NUM_JOINTS, 3) or frames.shape[0] < 1 or frames.shape[1] < 1:
        raise ValueError(f"frames must be (M, T, 25, 3) with M, T >= 1, got {frames.shape}")
    return frames.astype(np.float32, copy=False)


def _present(frames: np.ndarray) -> np.ndarray:
    """(M, T) bool: the body has some non-zero joint in that frame."""
    return np.any(frames != 0, axis=(2, 3))


def center_on_spine_mid(frames: np.ndarray) -> np.ndarray:
    """Subtract body 0's spine-mid (joint 1) in its first present frame from every present body.

    (M, T, 25, 3) -> (M, T, 25, 3). Zero (absent) bodies stay zero. Returns a new array.
    """
    frames = _frames(frames)
    present = _present(frames)
    out = frames.copy()
    first = np.flatnonzero(present[0])
    if first.size == 0:
        return out
    origin = frames[0, first[0], SPINE_MID]
    out[present] -= origin
    return out


def resize_frames(frames: np.ndarray, num_frames: int = 64) -> np.ndarray:
    """Linear interpolation along T: (M, T, 25, 3) -> (M, num_frames, 25, 3).

    Output frame i samples input time i * (T - 1) / (num_frames - 1), so the first and last frames are
    kept exactly. A one-frame clip is repeated.
    """
    frames = _frames(frames)
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    t = frames.shape[1]
    if t == 1:
        return np.repeat(frames, num_frames, axis=1)
    pos = np.linspace(0.0, t - 1, num_frames) if num_frames > 1 else np.zeros(1)
    lo = np.floor(pos).astype(np.int64).clip(0, t - 2)
    w = (pos - lo).astype(np.float32)[None, :, None, None]
    return ((1.0 - w) * frames[:, lo] + w * frames[:, lo + 1]).astype(np.float32)


def random_crop_resize(frames: np.ndarray, num_frames: int, rng: np.random.Generator, min_ratio: float = 0.5) -> np.ndarray:
    """Crop a random window of ratio U[min_ratio, 1] of T frames, resize it to num_frames.

    (M, T, 25, 3) -> (M, num_frames, 25, 3).
    """
    frames = _frames(frames)
    t = frames.shape[1]
    ratio = rng.uniform(min_ratio, 1.0)
    length = int(np.clip(round(ratio * t), 1, t))
    start = int(rng.integers(0, t - length + 1))
    return resize_frames(frames[:, start:start + length], num_frames)


def rotation_matrix(angles: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation Rz @ Ry @ Rx for angles (ax, ay, az) in radians."""
    ax, ay, az = angles
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def random_rotation(frames: np.ndarray, rng: np.random.Generator, max_angle: float = 0.3) -> np.ndarray:
    """Rotate the whole clip by one random rotation (angle U[-max_angle, max_angle] per axis), about the origin.

    (M, T, 25, 3) -> (M, T, 25, 3); zeros stay zeros. Training-time augmentation only.
    """
    frames = _frames(frames)
    rot = rotation_matrix(rng.uniform(-max_angle, max_angle, size=3)).astype(np.float32)
    return frames @ rot.T


def pad_bodies(frames: np.ndarray, num_bodies: int = MODEL_BODIES) -> np.ndarray:
    """Pad with zero bodies (or keep the first ones) to exactly num_bodies: (num_bodies, T, 25, 3)."""
    frames = _frames(frames)
    out = np.zeros((num_bodies,) + frames.shape[1:], dtype=np.float32)
    keep = min(num_bodies, frames.shape[0])
    out[:keep] = frames[:keep]
    return out


def _to_ctvm(frames: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frames.transpose(3, 1, 2, 0), dtype=np.float32)


def canonical_frames(clip_or_frames: Clip | np.ndarray, canonical: Canonical | None = None) -> np.ndarray:
    """Frames (M, T, 25, 3) after the canonical-skeleton spec (unchanged for None / ``LEGACY``)."""
    frames = _frames(clip_or_frames)
    if canonical is None or canonical.is_legacy:
        return frames
    return canonical.apply(frames)


def to_model_input(clip_or_frames: Clip | np.ndarray, num_frames: int = 64,
                   canonical: Canonical | None = None) -> np.ndarray:
    """The deterministic preprocessing for evaluation and inference: (3, num_frames, 25, 2) float32.

    The canonical spec (if any), then centre on the first frame's spine-mid, resize to num_frames, pad to two
    bodies, reorder to (C, T, V, M).
    """
    frames = center_on_spine_mid(canonical_frames(clip_or_frames, canonical))
    return _to_ctvm(pad_bodies(resize_frames(frames, num_frames)))


def to_model_input_batch(clips: Sequence[Clip | np.ndarray], num_frames: int = 64,
                         canonical: Canonical | None = None) -> np.ndarray:
    """``to_model_input`` for a list of clips or frame arrays: (N, 3, num_frames, 25, 2) float32."""
    if len(clips) == 0:
        return np.zeros((0, 3, num_frames, NUM_JOINTS, MODEL_BODIES), dtype=np.float32)
    return np.stack([to_model_input(c, num_frames, canonical) for c in clips])


def augment(clip_or_frames: Clip | np.ndarray, rng: np.random.Generator, num_frames: int = 64,
            min_ratio: float = 0.5, max_angle: float = 0.3, canonical: Canonical | None = None) -> np.ndarray:
    """Training-time preprocessing: the canonical spec (if any), random crop-resize and rotation, then centre
    and pad: (3, num_frames, 25, 2). (Frames already passed through ``canonical_frames`` may be given with
    ``canonical=None``: the spec is deterministic, so applying it once up front is the same.)"""
    frames = random_crop_resize(canonical_frames(clip_or_frames, canonical), num_frames, rng, min_ratio)
    frames = random_rotation(frames, rng, max_angle)
    return _to_ctvm(pad_bodies(center_on_spine_mid(frames)))
