"""Drawing the 2-D BlazePose landmarks on video frames, cropped to the people (the app's overlays, checks by eye)."""

from __future__ import annotations

import numpy as np

# BlazePose skeleton edges (landmark index pairs) drawn by ``draw_landmarks``
CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 2), (0, 5), (2, 7), (5, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),
)
BODY_COLOURS = ((255, 80, 40), (40, 160, 255), (80, 220, 80), (240, 200, 40))  # RGB per body


def draw_landmarks(frame: np.ndarray, landmarks: np.ndarray, colour=(255, 80, 40), min_confidence: float = 0.3,
                   thickness: int | None = None) -> np.ndarray:
    """A copy of the RGB frame (H, W, 3) uint8 with one body's landmarks (33, 3) = (x px, y px, confidence) drawn.

    Points and edges whose confidence is below ``min_confidence`` are left out.
    """
    import cv2

    out = np.ascontiguousarray(frame).copy()
    lm = np.asarray(landmarks, dtype=np.float64)
    thickness = thickness or max(1, round(max(out.shape[:2]) / 400))
    ok = lm[:, 2] >= min_confidence
    for a, b in CONNECTIONS:
        if ok[a] and ok[b]:
            cv2.line(out, tuple(int(v) for v in lm[a, :2].round()), tuple(int(v) for v in lm[b, :2].round()),
                     colour, thickness, cv2.LINE_AA)
    for i in np.flatnonzero(ok):
        cv2.circle(out, tuple(int(v) for v in lm[i, :2].round()), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def pick_frames(present: np.ndarray, count: int = 4) -> list[int]:
    """``count`` frame indices spread evenly over the frames where any body is present; present (M, T)."""
    frames = np.flatnonzero(np.asarray(present).any(0))
    if frames.size == 0:
        return []
    picks = np.linspace(0, frames.size - 1, min(count, frames.size)).round().astype(int)
    return [int(frames[i]) for i in picks]


def landmark_points(bodies, min_confidence: float = 0.3) -> np.ndarray:
    """The (N, 2) pixel positions of the landmarks ``draw_landmarks`` draws for ``bodies`` [(33, 3) arrays]."""
    pts = [np.asarray(b, dtype=np.float64) for b in bodies]
    pts = [b[b[:, 2] >= min_confidence, :2] for b in pts]
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def crop_box(points: np.ndarray, width: int, height: int, margin: float = 0.15,
             aspect: float | None = None) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), pixel bounds (x1, y1 exclusive) inside a width x height frame around ``points`` (N, 2).

    Landmarks outside the frame are clipped to its border (they are not on screen); the box grows by ``margin``
    x its longer side on every side (at least 8 px), then, with ``aspect`` (width / height), to that shape, and is
    moved back inside the frame (clipped where the frame is smaller). No points: the whole frame.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if pts.size == 0:
        return 0, 0, width, height
    pts = np.clip(pts, 0, [width - 1, height - 1])
    (x0, y0), (x1, y1) = pts.min(0), pts.max(0) + 1
    pad = max(8.0, margin * max(x1 - x0, y1 - y0))
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    if aspect:
        w, h = max(w, h * aspect), max(h, w / aspect)
    w, h = min(w, width), min(h, height)
    x0 = min(max(cx - w / 2, 0.0), width - w)
    y0 = min(max(cy - h / 2, 0.0), height - h)
    return int(np.floor(x0)), int(np.floor(y0)), min(width, int(np.ceil(x0 + w))), min(height, int(np.ceil(y0 + h)))


def draw_overlay(frame: np.ndarray, bodies, box: tuple[int, int, int, int] | None = None, size: int | None = 640,
                 colours=BODY_COLOURS, min_confidence: float = 0.3) -> np.ndarray:
    """The region ``box`` (default: the whole frame) of the RGB ``frame``, resized so its longer side is ``size``
    pixels (None: as it is), with every body's landmarks (``bodies``: [(33, 3) x px, y px, confidence]) drawn at
    that size: bones about ``size / 200`` px thick, joints as white dots with a dark rim."""
    import cv2

    x0, y0, x1, y1 = box or (0, 0, frame.shape[1], frame.shape[0])
    region = np.ascontiguousarray(frame[y0:y1, x0:x1])
    scale = 1.0 if not size else size / max(region.shape[:2])
    if scale != 1.0:
        out_w, out_h = max(1, round(region.shape[1] * scale)), max(1, round(region.shape[0] * scale))
        region = cv2.resize(region, (out_w, out_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = region.copy()
    line = max(2, round(max(out.shape[:2]) / 200))
    for m, lm in enumerate(bodies):
        lm = np.asarray(lm, dtype=np.float64)
        xy = ((lm[:, :2] - [x0, y0]) * scale).round().astype(int)
        ok = lm[:, 2] >= min_confidence
        colour = colours[m % len(colours)]
        for a, b in CONNECTIONS:
            if ok[a] and ok[b]:
                cv2.line(out, tuple(map(int, xy[a])), tuple(map(int, xy[b])), colour, line, cv2.LINE_AA)
        for i in np.flatnonzero(ok):
            cv2.circle(out, tuple(map(int, xy[i])), line + 2, (30, 30, 30), -1, cv2.LINE_AA)
            cv2.circle(out, tuple(map(int, xy[i])), line + 1, (255, 255, 255), -1, cv2.LINE_AA)
    return out


def overlay_boxes(pose, indices, margin: float = 0.15, min_confidence: float = 0.3) -> dict[int, tuple]:
    """{frame index: the crop ``overlay_frames`` shows}: each frame's box around all its bodies' drawn landmarks,
    all of one shape (the widest box's width over the tallest box's height, kept between 1:2 and 2:1) where the
    frame allows; the whole frame where nobody is present."""
    w, h = pose.info.width, pose.info.height
    points = {}
    for i in indices:
        bodies = [pose.image[m, i] for m in range(pose.image.shape[0]) if pose.present[m, i]]
        points[i] = landmark_points(bodies, min_confidence)
    loose = [crop_box(p, w, h, margin) for p in points.values() if len(p)]
    aspect = None
    if loose:
        aspect = float(np.clip(max(b[2] - b[0] for b in loose) / max(b[3] - b[1] for b in loose), 0.5, 2.0))
    return {i: crop_box(p, w, h, margin, aspect) if len(p) else (0, 0, w, h) for i, p in points.items()}


def overlay_frames(pose, indices=None, count: int = 4, size: int | None = 640, crop: bool = True,
                   margin: float = 0.15) -> list[tuple[int, np.ndarray]]:
    """[(frame index, RGB image with every body's landmarks drawn)] for a few frames of ``pose.info.path``.

    pose: a ``VideoPose``. indices: the frames to draw (default: ``count`` frames spread over the frames with a
    body). crop: each image is the region around the people (``overlay_boxes``; the whole frame where nobody
    is), else the whole frame. Images are resized so their longer side is ``size`` pixels (None keeps the size).
    """
    from star.video.decode import read_frames

    indices = pick_frames(pose.present, count) if indices is None else [int(i) for i in indices]
    frames = read_frames(pose.info.path, indices)
    indices = [i for i in indices if i in frames]
    boxes = overlay_boxes(pose, indices, margin) if crop else {}
    out = []
    for i in indices:
        bodies = [pose.image[m, i] if pose.present[m, i] else np.zeros_like(pose.image[m, i])
                  for m in range(pose.image.shape[0])]  # absent bodies draw nothing but keep their colour
        out.append((i, draw_overlay(frames[i], bodies, boxes.get(i), size)))
    return out
