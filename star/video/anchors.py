"""SSD anchors for the BlazePose detector (``pose_detection.tflite``).

The detector predicts one box per anchor, as an offset from the anchor's centre. The anchor grid is
fixed by the model: a 224x224 input, five feature-map layers with strides 8, 16, 32, 32, 32; layers that
share a stride share a grid, and every layer contributes two anchors per cell (aspect ratio 1.0 plus
one "interpolated" scale). With a fixed anchor size every anchor is 1 x 1 (normalised), so only the
centres matter:

- stride 8:  28 x 28 cells x 2 anchors = 1568
- stride 16: 14 x 14 cells x 2 anchors =  392
- stride 32:  7 x  7 cells x 6 anchors =  294 (three layers)

2254 anchors in all, in that order (row-major cells, anchors of a cell consecutive). The first anchor is
centred at (0.5/28, 0.5/28), the last at (6.5/7, 6.5/7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorSpec:
    """The options the detector was trained with (MediaPipe's ``SsdAnchorsCalculatorOptions`` for it)."""

    input_size: int = 224
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    aspect_ratios: tuple[float, ...] = (1.0,)
    interpolated_scale_aspect_ratio: float = 1.0
    anchor_offset: float = 0.5
    fixed_anchor_size: bool = True


def _layer_scale(spec: AnchorSpec, layer: int) -> float:
    n = len(spec.strides)
    if n == 1:
        return (spec.min_scale + spec.max_scale) / 2
    return spec.min_scale + (spec.max_scale - spec.min_scale) * layer / (n - 1)


def _cell_shapes(spec: AnchorSpec, first: int, last: int) -> list[tuple[float, float]]:
    """(width, height) of the anchors in one grid cell for layers first..last-1 (same stride)."""
    shapes = []
    for layer in range(first, last):
        scale = _layer_scale(spec, layer)
        for ratio in spec.aspect_ratios:
            shapes.append((scale * math.sqrt(ratio), scale / math.sqrt(ratio)))
        if spec.interpolated_scale_aspect_ratio > 0:
            nxt = 1.0 if layer == len(spec.strides) - 1 else _layer_scale(spec, layer + 1)
            s = math.sqrt(scale * nxt)
            r = spec.interpolated_scale_aspect_ratio
            shapes.append((s * math.sqrt(r), s / math.sqrt(r)))
    return shapes


def ssd_anchors(spec: AnchorSpec = AnchorSpec()) -> np.ndarray:
    """Anchors (N, 4) float32 as (x_centre, y_centre, width, height), normalised to the input size.

    N = 2254 for the default spec. With ``fixed_anchor_size`` width = height = 1.
    """
    out: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < len(spec.strides):
        stride = spec.strides[layer]
        last = layer
        while last < len(spec.strides) and spec.strides[last] == stride:
            last += 1
        shapes = _cell_shapes(spec, layer, last)
        cells = math.ceil(spec.input_size / stride)
        for y in range(cells):
            for x in range(cells):
                cx = (x + spec.anchor_offset) / cells
                cy = (y + spec.anchor_offset) / cells
                for w, h in shapes:
                    out.append((cx, cy, 1.0, 1.0) if spec.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    return np.asarray(out, dtype=np.float32)
