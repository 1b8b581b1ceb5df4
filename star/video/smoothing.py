"""Confidence-weighted temporal smoothing and short-gap filling for joint tracks."""

from __future__ import annotations

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
