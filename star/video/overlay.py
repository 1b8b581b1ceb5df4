"""Drawing the 2-D BlazePose landmarks on video frames (for the app's overlay and for checks by eye)."""

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


def overlay_frames(pose, indices=None, count: int = 4, max_width: int | None = 960) -> list[tuple[int, np.ndarray]]:
    """[(frame index, RGB image with every body's landmarks drawn)] for a few frames of ``pose.info.path``.

    pose: a ``VideoPose``. indices: the frames to draw (default: ``count`` frames spread over the video).
    Images are scaled down to ``max_width`` pixels wide when larger (None keeps the full size).
    """
    import cv2

    from star.video.decode import read_frames

    indices = pick_frames(pose.present, count) if indices is None else [int(i) for i in indices]
    frames = read_frames(pose.info.path, indices)
    out = []
    for i in indices:
        if i not in frames:
            continue
        image = frames[i]
        for m in range(pose.image.shape[0]):
            if pose.present[m, i]:
                image = draw_landmarks(image, pose.image[m, i], BODY_COLOURS[m % len(BODY_COLOURS)])
        if max_width and image.shape[1] > max_width:
            scale = max_width / image.shape[1]
            image = cv2.resize(image, (max_width, round(image.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        out.append((i, image))
    return out
