"""BlazePose's 33 landmarks -> the 25 NTU RGB+D (Kinect v2) joints, and placing a person in the camera frame.

Axes: BlazePose world landmarks are metres, centred between the hips, x to the image right, y down, z
away from the camera. NTU (and ``Clip``) coordinates are Kinect camera space: x to the camera's left
(to the image right in NTU's mirrored colour frames), y up, z away from the camera; in genuine NTU clips a
person facing the camera has the left shoulder at smaller x than the right one. So x and y change sign
(a half turn about the viewing axis: no mirroring, left stays left).

The table (``NTU_RULES``; B[i] is BlazePose landmark i, "mid(a, b)" the midpoint):

| NTU joint | from BlazePose |
|---|---|
| 0 spine base | mid(B23 left hip, B24 right hip) |
| 1 spine mid | spine base + 0.575 (spine shoulder - spine base) |
| 2 neck | spine shoulder + 0.14 (spine shoulder - spine base) |
| 3 head | mid(B7 left ear, B8 right ear) |
| 4, 5, 6 left shoulder, elbow, wrist | B11, B13, B15 |
| 7 left hand | mid(B15 wrist, mid(B17 pinky, B19 index)) (the palm centre) |
| 8, 9, 10 right shoulder, elbow, wrist | B12, B14, B16 |
| 11 right hand | mid(B16 wrist, mid(B18 pinky, B20 index)) |
| 12, 16 left, right hip | spine base + 0.55 (B23 / B24 - spine base) |
| 13, 14, 15 left knee, ankle, foot | B25, B27, B31 (foot index) |
| 17, 18, 19 right knee, ankle, foot | B26, B28, B32 |
| 20 spine shoulder | mid(B11 left shoulder, B12 right shoulder) |
| 21, 22 left hand tip, thumb | B19 (index), B21 (thumb) |
| 23, 24 right hand tip, thumb | B20, B22 |

The fractions 0.575 (spine mid) and 0.14 (neck) are the means measured on genuine NTU RGB+D skeletons
(Kinect places them so); 0.55 brings BlazePose's hip joints (about 24 cm apart) to Kinect's (about 13 cm).
A derived joint's confidence is the mean of its sources' confidences.
"""

from __future__ import annotations

import numpy as np

BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose", "left eye inner", "left eye", "left eye outer", "right eye inner", "right eye", "right eye outer",
    "left ear", "right ear", "mouth left", "mouth right", "left shoulder", "right shoulder", "left elbow",
    "right elbow", "left wrist", "right wrist", "left pinky", "right pinky", "left index", "right index",
    "left thumb", "right thumb", "left hip", "right hip", "left knee", "right knee", "left ankle",
    "right ankle", "left heel", "right heel", "left foot index", "right foot index",
)
SPINE_MID_FRACTION = 0.575
NECK_FRACTION = 0.14
HIP_WIDTH_SCALE = 0.55
DIRECT: dict[int, int] = {4: 11, 5: 13, 6: 15, 8: 12, 9: 14, 10: 16, 13: 25, 14: 27, 15: 31, 17: 26, 18: 28,
                          19: 32, 21: 19, 22: 21, 23: 20, 24: 22}
# NTU joint -> BlazePose landmarks it is built from (for confidences and documentation)
SOURCES: dict[int, tuple[int, ...]] = {
    **{n: (b,) for n, b in DIRECT.items()},
    0: (23, 24), 1: (11, 12, 23, 24), 2: (11, 12, 23, 24), 3: (7, 8), 7: (15, 17, 19), 11: (16, 18, 20),
    12: (23, 24), 16: (23, 24), 20: (11, 12),
}
TORSO = (11, 12, 23, 24)


def blazepose_to_ntu(points: np.ndarray) -> np.ndarray:
    """(..., 33, 3) BlazePose points (any frame, y down) -> (..., 25, 3) NTU joints in the same frame."""
    b = np.asarray(points, dtype=np.float64)
    out = np.zeros(b.shape[:-2] + (25, 3))
    for n, i in DIRECT.items():
        out[..., n, :] = b[..., i, :]
    mid = lambda i, j: (b[..., i, :] + b[..., j, :]) / 2  # noqa: E731
    base, shoulder = mid(23, 24), mid(11, 12)
    out[..., 0, :] = base
    out[..., 20, :] = shoulder
    out[..., 1, :] = base + SPINE_MID_FRACTION * (shoulder - base)
    out[..., 2, :] = shoulder + NECK_FRACTION * (shoulder - base)
    out[..., 3, :] = mid(7, 8)
    out[..., 7, :] = (b[..., 15, :] + mid(17, 19)) / 2
    out[..., 11, :] = (b[..., 16, :] + mid(18, 20)) / 2
    out[..., 12, :] = base + HIP_WIDTH_SCALE * (b[..., 23, :] - base)
    out[..., 16, :] = base + HIP_WIDTH_SCALE * (b[..., 24, :] - base)
    return out


def ntu_confidence(confidence: np.ndarray) -> np.ndarray:
    """(..., 33) per-landmark confidences -> (..., 25) per-joint confidences (mean over each joint's sources)."""
    c = np.asarray(confidence, dtype=np.float64)
    out = np.zeros(c.shape[:-1] + (25,))
    for n, src in SOURCES.items():
        out[..., n] = c[..., list(src)].mean(-1)
    return out


def to_ntu_axes(points: np.ndarray) -> np.ndarray:
    """(..., 3) camera points (x image right, y down, z away) -> NTU / Kinect axes: (-x, -y, z)."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., :2] *= -1
    return out


def focal_length(width: int, height: int, hfov_degrees: float) -> float:
    """Pinhole focal length in pixels for a horizontal field of view (square pixels)."""
    return (width / 2) / np.tan(np.radians(hfov_degrees) / 2)


def root_translation(world: np.ndarray, image_xy: np.ndarray, weights: np.ndarray, focal: float,
                     centre: tuple[float, float]) -> np.ndarray:
    """Where a hip-centred person stands in the camera frame, from where and how big they look.

    Weak perspective: image_xy - centre ~ s * (world_xy + t_xy) with s = focal / t_z. Solving the
    weighted least squares for (s, s t_x, s t_y) is linear. world (33, 3) metres (y down),
    image_xy (33, 2) pixels, weights (33,) -> t (3,) metres, camera axes with y down.
    """
    w = np.sqrt(np.clip(np.asarray(weights, dtype=np.float64), 0, None))
    if w.sum() <= 0:
        return np.full(3, np.nan)
    u = np.asarray(image_xy, dtype=np.float64) - np.asarray(centre)
    n = len(w)
    a = np.zeros((2 * n, 3))
    a[:n, 0], a[:n, 1] = world[:, 0], 1.0
    a[n:, 0], a[n:, 2] = world[:, 1], 1.0
    rhs = np.concatenate([u[:, 0], u[:, 1]])
    ww = np.concatenate([w, w])
    sol, *_ = np.linalg.lstsq(a * ww[:, None], rhs * ww, rcond=None)
    s = sol[0]
    if not np.isfinite(s) or s <= 1e-6:
        return np.full(3, np.nan)
    return np.array([sol[1] / s, sol[2] / s, focal / s])
