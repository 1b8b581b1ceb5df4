"""The ``Clip`` value and the one error type every skeleton reader raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NUM_JOINTS = 25


class SkeletonFormatError(ValueError):
    """A skeleton file could not be read.

    The message names the file, where in it the problem is (line or array key), what was expected
    and what was found, so a person can fix the file.
    """

    def __init__(self, path: Any, where: str | None, expected: str, found: str):
        self.path = str(path)
        self.where = where
        self.expected = expected
        self.found = found
        loc = f"{self.path}" + (f", {where}" if where else "")
        super().__init__(f"{loc}: expected {expected}, found {found}")


@dataclass
class Clip:
    """One skeleton sequence.

    frames: (M, T, 25, 3) float32, M bodies (1 or 2 after denoising), T frames, NTU-25 joint order, metres.
    source: where it came from (file name or clip-bank sample id).
    label: class index in the owning benchmark/bank, or None.
    meta: free-form metadata (subject, view, reader name, ...); JSON-serialisable values.
    """

    frames: np.ndarray
    source: str = ""
    label: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        f = np.asarray(self.frames, dtype=np.float32)
        if f.ndim != 4 or f.shape[2] != NUM_JOINTS or f.shape[3] != 3:
            raise ValueError(f"Clip.frames must be (M, T, 25, 3), got {f.shape}")
        self.frames = f

    @property
    def num_bodies(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[1])
