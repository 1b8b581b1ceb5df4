"""Skeleton arrays in the layouts people use, converted to and from frames (M, T, 25, 3).

Layouts (C = 3 coordinates, T frames, V = 25 joints, M bodies):

- "CTVM": (C, T, V, M) as in CTR-GCN / Shift-GCN data; a leading batch of one, (1, C, T, V, M), is accepted;
- "MTVC": (M, T, V, C), the ``Clip.frames`` layout;
- "TVC":  (T, V, C), one body;
- "T75":  (T, 75), one body flattened as joint-major x y z;
- "T150": (T, 150), two bodies flattened body-major, then joint-major x y z.

Arrays are normalised on reading: all-zero bodies are dropped (at least one non-zero body is required)
and trailing all-zero frames (zero padding to a fixed length, as in CTR-GCN's 300-frame arrays) are
trimmed.
"""

from __future__ import annotations

import numpy as np

from star.skeleton.clip import NUM_JOINTS, SkeletonFormatError
from star.skeleton.ntu_format import MAX_ABS_COORD, MAX_FRAMES

LAYOUTS: dict[str, str] = {
    "CTVM": "(3, T, 25, M) or (1, 3, T, 25, M)",
    "MTVC": "(M, T, 25, 3)",
    "TVC": "(T, 25, 3)",
    "T75": "(T, 75)",
    "T150": "(T, 150)",
}
MAX_BODIES = 10


def _fits(layout: str, shape: tuple[int, ...]) -> bool:
    if layout == "CTVM":
        if len(shape) == 5 and shape[0] == 1:
            shape = shape[1:]
        return len(shape) == 4 and shape[0] == 3 and shape[2] == NUM_JOINTS and 1 <= shape[3] <= MAX_BODIES
    if layout == "MTVC":
        return len(shape) == 4 and 1 <= shape[0] <= MAX_BODIES and shape[2] == NUM_JOINTS and shape[3] == 3
    if layout == "TVC":
        return len(shape) == 3 and shape[1] == NUM_JOINTS and shape[2] == 3
    if layout == "T75":
        return len(shape) == 2 and shape[1] == 3 * NUM_JOINTS
    if layout == "T150":
        return len(shape) == 2 and shape[1] == 6 * NUM_JOINTS
    raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")


def detect_layouts(shape: tuple[int, ...]) -> list[str]:
    """Every layout the shape fits (empty, one, or several when ambiguous)."""
    return [name for name in LAYOUTS if _fits(name, tuple(shape))]


def to_mtvc(array: np.ndarray, layout: str) -> np.ndarray:
    """Reorder an array of a known layout to (M, T, 25, 3), without normalising."""
    if layout == "CTVM":
        if array.ndim == 5:
            array = array[0]
        return array.transpose(3, 1, 2, 0)
    if layout == "MTVC":
        return array
    if layout == "TVC":
        return array[None]
    if layout == "T75":
        return array.reshape(1, array.shape[0], NUM_JOINTS, 3)
    if layout == "T150":
        return array.reshape(array.shape[0], 2, NUM_JOINTS, 3).transpose(1, 0, 2, 3)
    raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")


def from_mtvc(frames: np.ndarray, layout: str) -> np.ndarray:
    """Frames (M, T, 25, 3) in the given layout (T150 pads or requires M <= 2; T75/TVC require M == 1)."""
    m, t = frames.shape[:2]
    if layout == "CTVM":
        return frames.transpose(3, 1, 2, 0)
    if layout == "MTVC":
        return frames
    if layout in ("TVC", "T75"):
        if m != 1:
            raise ValueError(f"layout {layout} holds one body, the clip has {m}")
        return frames[0] if layout == "TVC" else frames[0].reshape(t, 3 * NUM_JOINTS)
    if layout == "T150":
        if m > 2:
            raise ValueError(f"layout T150 holds at most 2 bodies, the clip has {m}")
        padded = np.zeros((2, t, NUM_JOINTS, 3), dtype=frames.dtype)
        padded[:m] = frames
        return padded.transpose(1, 0, 2, 3).reshape(t, 6 * NUM_JOINTS)
    raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")


def frames_from_array(array: np.ndarray, layout: str | None, name: str, where: str | None = None) -> tuple[np.ndarray, dict]:
    """Validate and convert a skeleton array to normalised frames (M, T, 25, 3) float32, plus metadata.

    ``layout=None`` detects it from the shape; when none or several fit, a ``SkeletonFormatError`` says
    so (and asks for ``layout=``). ``where`` names the array (e.g. "array 'x'") in error messages.
    """
    if array.dtype.kind not in "fiu":
        raise SkeletonFormatError(name, where, "a numeric (float or integer) array", f"dtype {array.dtype}")
    shape = tuple(int(s) for s in array.shape)
    if layout is None:
        fits = detect_layouts(shape)
        if not fits:
            raise SkeletonFormatError(name, where, "one of the layouts " + ", ".join(f"{k} {v}" for k, v in LAYOUTS.items()),
                                      f"shape {shape}")
        if len(fits) > 1:
            raise SkeletonFormatError(name, where, f"a shape that fits one layout; pass layout= one of {fits}",
                                      f"shape {shape}, which fits {' and '.join(fits)}")
        layout = fits[0]
    elif layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    elif not _fits(layout, shape):
        raise SkeletonFormatError(name, where, f"layout {layout} {LAYOUTS[layout]}", f"shape {shape}")
    frames = to_mtvc(array, layout)
    if frames.shape[1] == 0:
        raise SkeletonFormatError(name, where, "at least 1 frame", "0 frames")
    if frames.shape[1] > MAX_FRAMES:  # the NTU reader's cap: a clip is not hours long
        raise SkeletonFormatError(name, where, f"at most {MAX_FRAMES} frames", f"{frames.shape[1]} frames")
    sane = np.abs(frames) <= MAX_ABS_COORD  # False for nan and inf too
    if not sane.all():
        m, t, v, c = np.argwhere(~sane)[0]
        raise SkeletonFormatError(name, where, f"finite values (|value| <= {MAX_ABS_COORD:g} m)",
                                  f"{frames[m, t, v, c]} at body {m}, frame {t}, joint {v}")
    frames = frames.astype(np.float32)
    nonzero_body = np.any(frames != 0, axis=(1, 2, 3))
    if not nonzero_body.any():
        raise SkeletonFormatError(name, where, "joint coordinates", "only zeros")
    frames = frames[nonzero_body]
    nonzero_frame = np.flatnonzero(np.any(frames != 0, axis=(0, 2, 3)))
    last = int(nonzero_frame[-1]) + 1
    meta = {"layout": layout, "num_bodies_raw": int(nonzero_body.size), "num_frames_trimmed": int(frames.shape[1] - last)}
    return np.ascontiguousarray(frames[:, :last]), meta
