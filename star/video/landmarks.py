"""The BlazePose landmark model (``pose_landmark_full.tflite``) on one rotated crop.

Input: (1, 256, 256, 3) float32 RGB in [0, 1], the crop of a ``RotatedRect``. Outputs (by shape):

- (1, 195): 39 landmarks x (x, y, z, visibility, presence); x, y in crop pixels, z in the same scale,
  visibility and presence as logits (a sigmoid gives probabilities). Landmarks 0..32 are the 33
  BlazePose body points; 33 and 34 are the auxiliary alignment points (hip centre, body-scale point)
  used to track the crop to the next frame;
- (1, 1): pose presence, already a probability (people score ~1.0, a chair 0.2);
- (1, 256, 256, 1) segmentation mask: unused;
- (1, 64, 64, 39) heatmap: one channel of logits per landmark, used to refine x and y
  (``refine_from_heatmap``);
- (1, 117): 39 world landmarks x (x, y, z) in metres, centred on the hips, axes aligned with the crop.

Heatmap refinement follows mediapipe's pose landmark graph (its ``RefineLandmarksFromHeatmapCalculator``,
kernel 7, threshold 0.5): the regressed x, y of each landmark are replaced by the heatmap-weighted mean
position in a small window around them when the heatmap is confident there. Without it our landmarks
sit 0.10 shoulder widths (median) from mediapipe's on ``two_people.mp4``, with it 0.03-0.04
(``bench/pose2d_vs_mediapipe.py``, docs/VIDEO.md "2-D stage").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from star.video.roi import RotatedRect, crop_to_image, rotate_world, warp_crop

INPUT_SIZE = 256
NUM_BODY = 33
AUX_HIP, AUX_SCALE = 33, 34


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80, 80)))


@dataclass
class PoseLandmarks:
    """One person in one frame.

    image: (39, 3) x, y in frame pixels and z (relative depth, pixel scale); visibility, presence: (39,)
    probabilities; world: (39, 3) metres, hip-centred, x right and y down in the image; score: pose presence.
    rect: the crop the landmarks came from.
    """

    image: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world: np.ndarray
    score: float
    rect: RotatedRect


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray, kernel_size: int = 7,
                        min_confidence: float = 0.5) -> np.ndarray:
    """Landmark positions (N, 2), normalised to the crop (0..1), refined with the heatmap (H, W, N) of logits.

    For landmark n, the heatmap cell holding it is (col, row) = (int(x W), int(y H)) (truncated, as C++
    converts); a landmark outside the heatmap is left alone. The window of ``kernel_size`` cells centred
    there (cut at the heatmap's edges) is read as confidences sigmoid(logit); when the largest reaches
    ``min_confidence``, the landmark moves to the confidence-weighted mean cell of the window divided by
    the heatmap size: x = sum(c col) / sum(c) / W, y likewise. As in mediapipe, cell k maps to k / W (its
    corner, not its centre k + 0.5). Only x and y change; z, visibility and presence are kept.
    """
    xy = np.array(xy, dtype=np.float64, copy=True)
    h, w, n = heatmap.shape
    n = min(n, len(xy))
    col, row = xy[:n, 0] * w, xy[:n, 1] * h
    inside = (col > -1) & (col < w) & (row > -1) & (row < h)  # int() truncates towards zero: -1 < x < 0 is cell 0
    col, row = np.where(inside, col, 0).astype(int), np.where(inside, row, 0).astype(int)
    offsets = np.arange(kernel_size) - (kernel_size - 1) // 2
    rows, cols = row[:, None] + offsets, col[:, None] + offsets  # (n, kernel) window cells
    in_rows, in_cols = (rows >= 0) & (rows < h), (cols >= 0) & (cols < w)
    window = heatmap[np.clip(rows, 0, h - 1)[:, :, None], np.clip(cols, 0, w - 1)[:, None, :],
                     np.arange(n)[:, None, None]]  # (n, kernel, kernel) logits
    conf = sigmoid(window.astype(np.float64)) * (in_rows[:, :, None] & in_cols[:, None, :])
    total = conf.sum(axis=(1, 2))
    refine = inside & (conf.max(axis=(1, 2)) >= min_confidence) & (total > 0)
    safe = np.where(total > 0, total, 1.0)
    mean_col = (conf * cols[:, None, :]).sum(axis=(1, 2)) / safe
    mean_row = (conf * rows[:, :, None]).sum(axis=(1, 2)) / safe
    xy[:n][refine] = np.stack([mean_col / w, mean_row / h], axis=1)[refine]
    return xy


def decode_landmarks(raw: np.ndarray, world: np.ndarray, presence: float, rect: RotatedRect,
                     size: int = INPUT_SIZE, heatmap: np.ndarray | None = None, kernel_size: int = 7,
                     min_confidence: float = 0.5) -> PoseLandmarks:
    """Raw outputs (195,), (117,) and the presence probability of one crop -> ``PoseLandmarks`` in frame pixels.

    With ``heatmap`` (64, 64, 39) the x, y of every landmark are first refined (``refine_from_heatmap``).
    """
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, 5)
    xy = raw[:, :2] / size
    if heatmap is not None:
        xy = refine_from_heatmap(xy, heatmap, kernel_size, min_confidence)
    xy = crop_to_image(xy, rect)
    z = raw[:, 2:3] * rect.side / size
    world_xyz = rotate_world(np.asarray(world, dtype=np.float64).reshape(-1, 3), rect.angle)
    return PoseLandmarks(np.concatenate([xy, z], axis=1), sigmoid(raw[:, 3]), sigmoid(raw[:, 4]), world_xyz,
                         float(presence), rect)


class LandmarkModel:
    """Runs the landmark model on a frame's rotated crop; ``refine`` turns the heatmap refinement on."""

    def __init__(self, model_path, num_threads: int = 2, refine: bool = True, kernel_size: int = 7,
                 min_confidence: float = 0.5):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        by_shape = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}
        self._landmarks = by_shape[(1, 195)]
        self._presence = by_shape[(1, 1)]
        self._world = by_shape[(1, 117)]
        self._heatmap = by_shape[(1, 64, 64, 39)]
        self.refine, self.kernel_size, self.min_confidence = refine, kernel_size, min_confidence

    def run(self, frame: np.ndarray, rect: RotatedRect) -> PoseLandmarks:
        """Landmarks of the person in ``rect`` of the RGB frame (H, W, 3) uint8."""
        crop = warp_crop(frame, rect, INPUT_SIZE).astype(np.float32) * (1.0 / 255.0)
        self.interpreter.set_tensor(self._input, crop[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._landmarks)[0]
        presence = float(self.interpreter.get_tensor(self._presence)[0, 0])
        world = self.interpreter.get_tensor(self._world)[0]
        heatmap = self.interpreter.get_tensor(self._heatmap)[0] if self.refine else None
        return decode_landmarks(raw, world, presence, rect, INPUT_SIZE, heatmap, self.kernel_size,
                                self.min_confidence)
