"""Seeded class and sample splits used by the benchmarks' validation protocol.

Everything here is deterministic given the seed (``numpy.random.default_rng``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def random_unseen_classes(num_classes: int, num_unseen: int, seed: int) -> list[int]:
    """``sorted(default_rng(seed).choice(num_classes, num_unseen, replace=False))`` as ints."""
    rng = np.random.default_rng(seed)
    return sorted(int(c) for c in rng.choice(num_classes, num_unseen, replace=False))


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split clip positions into (kept, held_out), stratified per class.

    labels: (N,) class of each clip. For every class with n clips, ``round(n * fraction)`` clips are
    held out, but at least 1 when n >= 2 and never all n (a class with 1 clip stays in ``kept``).
    Which clips is drawn with ``default_rng(seed)``, classes visited in sorted order.
    Returns two sorted (K,) int64 arrays of positions into ``labels``; together they cover 0..N-1.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = len(members)
        k = min(max(int(round(n * fraction)), 1 if n >= 2 else 0), n - 1)
        held.append(rng.permutation(members)[:k])
    held_out = np.sort(np.concatenate(held)).astype(np.int64) if held else np.zeros(0, np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out).astype(np.int64)
    return kept, held_out


def pseudo_unseen_classes(seen: Sequence[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``max(1, round(fraction * len(seen)))`` of the seen classes (``default_rng(seed)``).

    Returns (pseudo_seen, pseudo_unseen), both sorted lists of label indices; their union is ``seen``.
    """
    seen = sorted(int(c) for c in seen)
    if len(seen) < 2:
        raise ValueError("need at least 2 seen classes to hold some out as pseudo-unseen")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    k = min(max(1, int(round(fraction * len(seen)))), len(seen) - 1)
    rng = np.random.default_rng(seed)
    unseen = sorted(int(c) for c in rng.choice(seen, k, replace=False))
    return [c for c in seen if c not in unseen], unseen
