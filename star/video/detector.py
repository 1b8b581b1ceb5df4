"""The BlazePose person detector: box/keypoint decoding, weighted NMS, multi-scale tiled detection.

The detector (``pose_detection.tflite``) takes a (1, 224, 224, 3) float32 RGB image in [-1, 1] and
returns raw boxes (1, 2254, 12) and raw scores (1, 2254, 1), one per SSD anchor (``anchors.py``).
Each raw box row is x_centre, y_centre, width, height, then 4 keypoints as (x, y), all in input pixels,
relative to the anchor centre. The keypoints are: 0 hip centre, 1 a point whose distance from the hip
centre is the radius of a circle around the whole body, 2 shoulder centre, 3 the same for the upper
body. The box itself is the face.

A 224x224 view of a 1080p frame shows a person who is a fifth of the frame height at about 45 px, too
small for the detector; ``detect`` therefore also runs overlapping square tiles of the frame at finer
scales (``tile_levels``). Within a region, detections are merged with weighted NMS on the decoded boxes
(as the model was trained). The decoded box has the same size in input pixels at every scale (about
45 px), so across regions the same person is recognised by the keypoints instead
(``merge_across_regions``): hip centres close and body radii alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from star.video.anchors import ssd_anchors

INPUT_SIZE = 224
NUM_KEYPOINTS = 4
SCORE_CLIP = 100.0
KP_HIP, KP_BODY, KP_SHOULDER, KP_UPPER = 0, 1, 2, 3


@dataclass
class Detection:
    """One detected person in frame pixels: score, body box (xmin, ymin, xmax, ymax), keypoints (4, 2).

    The body box is the square around the hip centre with half-side the body radius (``body_box``).
    """

    score: float
    box: np.ndarray
    keypoints: np.ndarray


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                      scale: float = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode raw outputs to normalised boxes, keypoints and scores.

    raw_boxes (N, 12), raw_scores (N,) or (N, 1), anchors (N, 4) (x, y, w, h) ->
    boxes (N, 4) (xmin, ymin, xmax, ymax), keypoints (N, 4, 2) (x, y), scores (N,) = sigmoid(clip(raw, +-100)),
    all coordinates normalised to the detector input (0..1).
    """
    raw_boxes = np.asarray(raw_boxes, dtype=np.float64).reshape(len(anchors), -1)
    logits = np.clip(np.asarray(raw_scores, dtype=np.float64).reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    scores = 1.0 / (1.0 + np.exp(-logits))
    ax, ay, aw, ah = (anchors[:, i:i + 1].astype(np.float64) for i in range(4))
    cx = raw_boxes[:, 0:1] / scale * aw + ax
    cy = raw_boxes[:, 1:2] / scale * ah + ay
    w = raw_boxes[:, 2:3] / scale * aw
    h = raw_boxes[:, 3:4] / scale * ah
    boxes = np.concatenate([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kx = raw_boxes[:, 4::2][:, :NUM_KEYPOINTS] / scale * aw + ax
    ky = raw_boxes[:, 5::2][:, :NUM_KEYPOINTS] / scale * ah + ay
    return boxes, np.stack([kx, ky], axis=-1), scores


def body_box(keypoints: np.ndarray) -> np.ndarray:
    """(4,) square box around the hip centre whose half-side is |keypoint 1 - keypoint 0|; keypoints (4, 2)."""
    r = float(np.linalg.norm(keypoints[KP_BODY] - keypoints[KP_HIP]))
    (x, y) = keypoints[KP_HIP]
    return np.array([x - r, y - r, x + r, y + r])


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes (N, 4), all (xmin, ymin, xmax, ymax) -> (N,)."""
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou_threshold: float = 0.3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted non-maximum suppression.

    Repeatedly take the highest-scoring remaining box; every remaining box whose IoU with it exceeds
    ``iou_threshold`` (itself included) joins its cluster; the cluster becomes one detection whose box and
    keypoints are the score-weighted means of the members and whose score is the top score.
    boxes (N, 4), keypoints (N, K, 2), scores (N,) -> the same arrays for the D <= N merged detections,
    in decreasing score.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    out_b, out_k, out_s = [], [], []
    while remaining.size:
        top = remaining[0]
        member = box_iou(boxes[top], boxes[remaining]) > iou_threshold
        member[0] = True
        cluster = remaining[member]
        w = scores[cluster][:, None]
        out_b.append((boxes[cluster] * w).sum(0) / w.sum())
        out_k.append((keypoints[cluster] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[top])
        remaining = remaining[~member]
    if not out_s:
        return np.zeros((0, 4)), np.zeros((0,) + keypoints.shape[1:]), np.zeros(0)
    return np.stack(out_b), np.stack(out_k), np.asarray(out_s)


def square_regions(width: int, height: int, tile_levels: tuple[int, ...] = (1, 2),
                   overlap: float = 0.25) -> list[tuple[float, float, float]]:
    """Square regions (x0, y0, side) in frame pixels to run the detector on.

    Level 0 is always the whole frame (letterboxed to a square). Level k in ``tile_levels`` uses squares
    of side min(width, height) / k tiling the frame with at least ``overlap`` between neighbours.
    """
    regions = [((width - max(width, height)) / 2, (height - max(width, height)) / 2, float(max(width, height)))]
    for k in tile_levels:
        side = min(width, height) / k
        if side >= max(width, height):
            continue
        cols = 1 if width <= side else math.ceil((width - side) / (side * (1 - overlap))) + 1
        rows = 1 if height <= side else math.ceil((height - side) / (side * (1 - overlap))) + 1
        xs = np.linspace(0, max(width - side, 0), cols)
        ys = np.linspace(0, max(height - side, 0), rows)
        regions.extend((float(x), float(y), float(side)) for y in ys for x in xs)
    return regions


def region_input(frame: np.ndarray, region: tuple[float, float, float], size: int = INPUT_SIZE) -> np.ndarray:
    """The (size, size, 3) float32 detector input in [-1, 1] showing ``region`` of the RGB frame (zeros outside)."""
    x0, y0, side = region
    s = size / side
    matrix = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
    crop = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crop.astype(np.float32) * (2.0 / 255.0) - 1.0


def merge_across_regions(keypoints: np.ndarray, scores: np.ndarray, hip_distance: float = 0.2,
                         radius_ratio: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Merge one person's detections from different regions (frame pixels).

    keypoints (N, 4, 2), scores (N,) -> (D, 4, 2), (D,), best first. Detection j joins the cluster of a
    better detection i when their hip centres are within ``hip_distance`` x i's body radius
    (|keypoint 1 - keypoint 0|) and the radii differ by less than ``radius_ratio``; a cluster's keypoints
    are the score-weighted mean. Two people side by side (hugging) have hips too far apart to merge.
    """
    order = np.argsort(-scores, kind="stable")
    radius = np.linalg.norm(keypoints[:, KP_BODY] - keypoints[:, KP_HIP], axis=1) + 1e-9
    taken = np.zeros(len(scores), dtype=bool)
    out_k, out_s = [], []
    for i in order:
        if taken[i]:
            continue
        near = np.linalg.norm(keypoints[:, KP_HIP] - keypoints[i, KP_HIP], axis=1) < hip_distance * radius[i]
        alike = np.maximum(radius / radius[i], radius[i] / radius) < radius_ratio
        member = near & alike & ~taken
        member[i] = True
        taken |= member
        w = scores[member][:, None, None]
        out_k.append((keypoints[member] * w).sum(0) / w.sum())
        out_s.append(scores[i])
    return np.asarray(out_k).reshape(-1, NUM_KEYPOINTS, 2), np.asarray(out_s)


class PoseDetector:
    """Runs the detector on a frame's regions and returns merged ``Detection`` objects in frame pixels."""

    def __init__(self, model_path, num_threads: int = 2, score_threshold: float = 0.5,
                 iou_threshold: float = 0.3, tile_levels: tuple[int, ...] = (1, 2)):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self._input = self.interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"]): d["index"] for d in self.interpreter.get_output_details()}
        self.anchors = ssd_anchors()
        self._boxes = outputs[(1, len(self.anchors), 12)]
        self._scores = outputs[(1, len(self.anchors), 1)]
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.tile_levels = tuple(tile_levels)

    def run_region(self, frame: np.ndarray, region) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (D, 4), keypoints (D, 4, 2) in frame pixels and scores (D,) for one region, after NMS."""
        self.interpreter.set_tensor(self._input, region_input(frame, region)[None])
        self.interpreter.invoke()
        raw_boxes = self.interpreter.get_tensor(self._boxes)[0]
        raw_scores = self.interpreter.get_tensor(self._scores)[0]
        boxes, kps, scores = decode_detections(raw_boxes, raw_scores, self.anchors)
        keep = scores >= self.score_threshold
        x0, y0, side = region
        boxes, kps, scores = weighted_nms(boxes[keep], kps[keep], scores[keep], self.iou_threshold)
        return boxes * side + np.array([x0, y0, x0, y0]), kps * side + np.array([x0, y0]), scores

    def detect(self, frame: np.ndarray, regions=None) -> list[Detection]:
        """Detections in the RGB frame (H, W, 3) uint8, merged over all regions, best first."""
        h, w = frame.shape[:2]
        parts = [self.run_region(frame, r) for r in (regions or square_regions(w, h, self.tile_levels))]
        kps = np.concatenate([p[1] for p in parts])
        scores = np.concatenate([p[2] for p in parts])
        if not len(scores):
            return []
        kps, scores = merge_across_regions(kps, scores)
        return [Detection(float(s), body_box(k), k) for k, s in zip(kps, scores)]
