"""Rotated regions of interest: from two alignment points to a square crop, and back.

BlazePose crops each person with a rotated square: its centre is the hip centre (detector keypoint 0,
or landmark-model auxiliary landmark 33), its side is twice the distance to the body-scale point
(keypoint 1 / auxiliary landmark 34) times ``ROI_SCALE`` (1.25), and its rotation turns the
hip -> scale-point direction to "up" in the crop. Angles follow image conventions (y down): the rotation
is ``TARGET_ANGLE - atan2(-(y1 - y0), x1 - x0)``, normalised to [-pi, pi), so an upright person gives 0
and a person lying with the head to the right gives +pi/2.

A crop pixel (u, v) of an ``S`` x ``S`` crop maps to the image point
``centre + R(angle) @ ((u / S - 0.5) * side, (v / S - 0.5) * side)`` with ``R`` the usual 2-D rotation
``[[cos, -sin], [sin, cos]]``; ``crop_to_image`` applies it to normalised crop coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

ROI_SCALE = 1.25
TARGET_ANGLE = math.pi / 2


@dataclass
class RotatedRect:
    """A square region in frame pixels: centre (cx, cy), side length, rotation in radians."""

    cx: float
    cy: float
    side: float
    angle: float

    def corners(self) -> np.ndarray:
        """(4, 2) image points of the crop's corners: top-left, top-right, bottom-right, bottom-left."""
        return crop_to_image(np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64), self)

    def bounds(self) -> np.ndarray:
        """Axis-aligned box (xmin, ymin, xmax, ymax) around the rotated square."""
        c = self.corners()
        return np.concatenate([c.min(0), c.max(0)])


def normalize_angle(angle: float) -> float:
    """``angle`` wrapped to [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rect_from_points(center, scale_point, scale: float = ROI_SCALE, target_angle: float = TARGET_ANGLE) -> RotatedRect:
    """The rotated square crop around a person from the hip centre and the body-scale point (pixels, (2,))."""
    (x0, y0), (x1, y1) = np.asarray(center, dtype=np.float64), np.asarray(scale_point, dtype=np.float64)
    side = 2.0 * math.hypot(x1 - x0, y1 - y0) * scale
    angle = normalize_angle(target_angle - math.atan2(-(y1 - y0), x1 - x0))
    return RotatedRect(float(x0), float(y0), float(side), float(angle))


def rotation_matrix(angle: float) -> np.ndarray:
    """(2, 2) rotation by ``angle`` radians in image coordinates."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def crop_to_image(points: np.ndarray, rect: RotatedRect) -> np.ndarray:
    """Normalised crop coordinates (N, 2) in [0, 1] -> image pixels (N, 2)."""
    offsets = (np.asarray(points, dtype=np.float64)[:, :2] - 0.5) * rect.side
    return offsets @ rotation_matrix(rect.angle).T + np.array([rect.cx, rect.cy])


def crop_matrix(rect: RotatedRect, size: int) -> np.ndarray:
    """(2, 3) affine matrix taking crop pixels (of a size x size crop) to image pixels."""
    rot = rotation_matrix(rect.angle) * (rect.side / size)
    shift = np.array([rect.cx, rect.cy]) - rot @ np.array([size / 2, size / 2])
    return np.concatenate([rot, shift[:, None]], axis=1)


def warp_crop(frame: np.ndarray, rect: RotatedRect, size: int) -> np.ndarray:
    """The (size, size, C) crop of ``frame`` under ``rect`` (bilinear; zeros outside the frame)."""
    return cv2.warpAffine(frame, crop_matrix(rect, size), (size, size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def rotate_world(points: np.ndarray, angle: float) -> np.ndarray:
    """Rotate (N, 3) world points about the z axis by the crop's ``angle`` (x, y image-aligned afterwards)."""
    out = np.array(points, dtype=np.float64, copy=True)
    out[:, :2] = out[:, :2] @ rotation_matrix(angle).T
    return out
