"""The BlazePose landmark model (``pose_landmark_full.tflite``) on one rotated crop.

Input: (1, 256, 256, 3) float32 RGB in [0, 1], the crop of a ``RotatedRect``. Outputs (by shape):

- (1, 195): 39 landmarks x (x, y, z, visibility, presence); x, y in crop pixels, z in the same scale,
  visibility and presence as logits (a sigmoid gives probabilities). Landmarks 0..32 are the 33
  BlazePose body points; 33 and 34 are the auxiliary alignment points (hip centre, body-scale point)
  used to track the crop to the next frame;
- (1, 1): pose presence, already a probability (people score ~1.0, a chair 0.2);
- (1, 256, 256, 1) segmentation mask and (1, 64, 64, 39) heatmap: unused;
- (1, 117): 39 world landmarks x (x, y, z) in metres, centred on the hips, axes aligned with the crop.
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


def decode_landmarks(raw: np.ndarray, world: np.ndarray, presence: float, rect: RotatedRect,
                     size: int = INPUT_SIZE) -> PoseLandmarks:
    """Raw outputs (195,), (117,) and the presence probability of one crop -> ``PoseLandmarks`` in frame pixels."""
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, 5)
    xy = crop_to_image(raw[:, :2] / size, rect)
    z = raw[:, 2:3] * rect.side / size
    world_xyz = rotate_world(np.asarray(world, dtype=np.float64).reshape(-1, 3), rect.angle)
    return PoseLandmarks(np.concatenate([xy, z], axis=1), sigmoid(raw[:, 3]), sigmoid(raw[:, 4]), world_xyz,
                         float(presence), rect)


class LandmarkModel:
    """Runs the landmark model on a frame's rotated crop."""

    def __init__(self, model_path, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        by_shape = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}
        self._landmarks = by_shape[(1, 195)]
        self._presence = by_shape[(1, 1)]
        self._world = by_shape[(1, 117)]

    def run(self, frame: np.ndarray, rect: RotatedRect) -> PoseLandmarks:
        """Landmarks of the person in ``rect`` of the RGB frame (H, W, 3) uint8."""
        crop = warp_crop(frame, rect, INPUT_SIZE).astype(np.float32) * (1.0 / 255.0)
        self.interpreter.set_tensor(self._input, crop[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self._landmarks)[0]
        presence = float(self.interpreter.get_tensor(self._presence)[0, 0])
        world = self.interpreter.get_tensor(self._world)[0]
        return decode_landmarks(raw, world, presence, rect)
