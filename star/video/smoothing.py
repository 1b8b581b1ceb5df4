"""Temporal filtering of joint tracks: confidence-weighted Gaussian smoothing and short-gap filling (offline,
over a whole clip) and the One Euro filter (online, frame by frame, on the 2-D landmarks while tracking)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian (2r+1,) with r = ceil(3 sigma); [1.0] when sigma <= 0."""
    if sigma <= 0:
        return np.ones(1)
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    return k / k.sum()


def weighted_smooth(x: np.ndarray, weights: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth x (T, ...) over time with a Gaussian of ``sigma`` frames, each sample weighted by weights (T, ...).

    weights broadcast against x without its last axis, e.g. x (T, 25, 3), weights (T, 25). Samples
    with weight 0 (absent frames, invisible joints) do not pull their neighbours; where every weight in
    the window is 0 the input is returned unchanged.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.broadcast_to(np.asarray(weights, dtype=np.float64)[..., None], x.shape)
    kernel = gaussian_kernel(sigma)
    if kernel.size == 1 or x.shape[0] < 2:
        return x.copy()
    r, t = kernel.size // 2, x.shape[0]

    def conv(a: np.ndarray) -> np.ndarray:  # "same"-size convolution over time, zeros beyond the ends
        padded = np.concatenate([np.zeros((r,) + a.shape[1:]), a, np.zeros((r,) + a.shape[1:])])
        return sum(g * padded[k:k + t] for k, g in enumerate(kernel))

    num, den = conv(w * x), conv(w)
    return np.where(den > 1e-9, num / np.where(den > 1e-9, den, 1.0), x)


def fill_gaps(x: np.ndarray, present: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Linearly interpolate x (T, ...) across runs of absent frames no longer than ``max_gap``.

    present (T,) bool -> (filled x, filled mask (T,)). Frames before the first or after the last
    present frame, and longer gaps, stay as they are (and not present).
    """
    x = np.array(x, dtype=np.float64, copy=True)
    present = np.asarray(present, dtype=bool)
    filled = present.copy()
    idx = np.flatnonzero(present)
    for a, b in zip(idx[:-1], idx[1:]):
        if 1 < b - a <= max_gap + 1:
            t = (np.arange(a + 1, b) - a) / (b - a)
            shape = (-1,) + (1,) * (x.ndim - 1)
            x[a + 1:b] = x[a] + t.reshape(shape) * (x[b] - x[a])
            filled[a + 1:b] = True
    return x, filled


# ---------------------------------------------------------------------------------------- One Euro filter
@dataclass
class OneEuroSettings:
    """Parameters of a One Euro filter (Casiez, Roussel and Vogel, CHI 2012).

    min_cutoff (Hz) sets the smoothing of a still point, beta how fast the cutoff rises with speed,
    derivative_cutoff (Hz) the smoothing of the speed estimate. Speeds are measured in object sizes per
    second (``object_scale``), so the same numbers suit a person near the camera and one far from it.
    """

    min_cutoff: float
    beta: float
    derivative_cutoff: float = 1.0


# mediapipe's pose graph (pose_landmark_filtering.pbtxt): the 33 body landmarks, and the two auxiliary
# landmarks that place the next frame's crop (smoothed much more, so a still person's crop stays put).
LANDMARK_FILTER = OneEuroSettings(min_cutoff=0.1, beta=40.0, derivative_cutoff=1.0)
CROP_FILTER = OneEuroSettings(min_cutoff=0.01, beta=1.0, derivative_cutoff=1.0)


def smoothing_factor(cutoff, rate: float):
    """The exponential smoothing factor of a first-order low-pass filter with ``cutoff`` Hz sampled at ``rate`` Hz.

    alpha = 1 / (1 + tau / te) with the time constant tau = 1 / (2 pi cutoff) and the sample period
    te = 1 / rate; e.g. cutoff 1 Hz at 30 Hz: alpha = 1 / (1 + 30 / (2 pi)) = 0.1731. Works elementwise.
    """
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau * rate)


def object_scale(points: np.ndarray) -> float:
    """The size of a set of image points (N, >=2): the mean of their bounding box's width and height."""
    extent = np.ptp(np.asarray(points, dtype=np.float64)[:, :2], axis=0)
    return float(extent.mean())


class OneEuroFilter:
    """A One Euro filter over arrays of any fixed shape (every element filtered on its own), at a fixed rate.

    Each sample x_i (after the first, which passes unchanged):

    - speed d_i = (x_i - x_{i-1}) * scale * rate, from the previous *raw* sample, ``scale`` = 1 / object
      size (so speeds are in object sizes per second);
    - smoothed speed e_i = a_d d_i + (1 - a_d) e_{i-1}, a_d = ``smoothing_factor(derivative_cutoff, rate)``,
      e_0 = 0;
    - cutoff c_i = min_cutoff + beta |e_i|; output y_i = a_i x_i + (1 - a_i) y_{i-1},
      a_i = ``smoothing_factor(c_i, rate)``.

    A still point is smoothed hard (cutoff = min_cutoff), a fast one hardly at all. This is the rule of
    mediapipe's ``OneEuroFilter`` as its ``LandmarksSmoothingCalculator`` uses it; samples are assumed
    evenly spaced at ``rate`` Hz (a track is stepped on every frame).
    """

    def __init__(self, settings: OneEuroSettings, rate: float):
        self.settings = settings
        self.rate = float(rate)
        self._raw = self._out = self._speed = None

    def __call__(self, x, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._raw is None:
            self._raw, self._out, self._speed = x.copy(), x.copy(), np.zeros_like(x)
            return x.copy()
        s = self.settings
        speed = (x - self._raw) * scale * self.rate
        a_d = smoothing_factor(s.derivative_cutoff, self.rate)
        self._speed = a_d * speed + (1.0 - a_d) * self._speed
        alpha = smoothing_factor(s.min_cutoff + s.beta * np.abs(self._speed), self.rate)
        self._out = alpha * x + (1.0 - alpha) * self._out
        self._raw = x.copy()
        return self._out.copy()
