"""Following up to ``max_people`` people from frame to frame.

Each frame, every live track runs the landmark model on its crop, which was predicted from the
previous frame's auxiliary landmarks (33 hip centre, 34 body-scale point); a track whose pose presence
falls below ``keep_presence`` ends. Two tracks that land on the same person (their torso and nose
landmarks within ``duplicate_distance`` of the crop side) are merged, keeping the older one. While
fewer than ``max_people`` are tracked, the detector (whole frame plus tiles) runs again every
``redetect_s`` seconds, or every ``search_s`` seconds when nobody is tracked. A detection becomes a new
track when its crop is large enough, the landmark model is confident (``start_presence``), the body is
a full body and it is not a person already tracked. "Full body" (``full_body_check``): shoulders and hips
visible and inside the frame, the 33 landmarks visible on average (``min_visibility``), and spread over
``min_extent`` of the crop side (a real body fills its crop; a face close-up yields a collapsed pose).

Tracks are placed in body slots 0..max_people-1: a new track takes a free slot, the one whose last
person stood nearest, so each slot follows one person through short losses.

Filtering (as mediapipe's pose graph does): each track runs two One Euro filters over its landmarks in
frame pixels (``PoseFilter``): ``landmark_filter`` on the 33 body landmarks (x, y and z), and the much
heavier ``crop_filter`` on the two auxiliary landmarks that place the next frame's crop, so a still
person's crop does not wobble from frame to frame (a wobbling crop makes the landmarks wobble too).
Speeds are measured in object sizes per second (``object_scale`` of the incoming points). A new track
starts new filters; ``None`` turns a filter off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from star.video.detector import KP_BODY, KP_HIP, PoseDetector
from star.video.landmarks import AUX_HIP, AUX_SCALE, NUM_BODY, LandmarkModel, PoseLandmarks
from star.video.ntu_map import TORSO
from star.video.roi import RotatedRect, rect_from_points
from star.video.smoothing import CROP_FILTER, LANDMARK_FILTER, OneEuroFilter, OneEuroSettings, object_scale

IDENTITY_POINTS = (0, *TORSO)  # nose, shoulders, hips
CROP_POINTS = [AUX_HIP, AUX_SCALE]  # the auxiliary landmarks that place the next crop


@dataclass
class TrackerSettings:
    """Knobs of the tracker (seconds are converted with the video's fps)."""

    max_people: int = 2
    start_presence: float = 0.7
    keep_presence: float = 0.5
    min_body_visibility: float = 0.5  # shoulders and hips, mean visibility x inside-frame
    min_visibility: float = 0.7  # mean visibility of all 33 landmarks, to start a track
    min_extent: float = 0.45  # the landmarks' larger extent (x or y) over the crop side, to start a track
    min_roi_fraction: float = 0.08  # crop side at least this share of the frame height
    duplicate_distance: float = 0.06  # of the crop side
    redetect_s: float = 1.0
    search_s: float = 0.2
    max_candidates: int = 4
    landmark_filter: OneEuroSettings | None = field(default_factory=lambda: replace(LANDMARK_FILTER))
    crop_filter: OneEuroSettings | None = field(default_factory=lambda: replace(CROP_FILTER))


class PoseFilter:
    """One track's One Euro filters: body landmarks 0..32 (x, y, z) and the crop points 33, 34, each set
    with speeds scaled by its own size (``object_scale``); ``None`` settings leave that set as it is."""

    def __init__(self, body: OneEuroSettings | None, crop: OneEuroSettings | None, rate: float):
        self.body = OneEuroFilter(body, rate) if body is not None else None
        self.crop = OneEuroFilter(crop, rate) if crop is not None else None

    def __call__(self, pose: PoseLandmarks) -> PoseLandmarks:
        image = pose.image.copy()
        for filt, idx in ((self.body, slice(0, NUM_BODY)), (self.crop, CROP_POINTS)):
            size = object_scale(image[idx])
            if filt is not None and size > 1e-6:  # a collapsed set (size 0) is passed through unfiltered
                image[idx] = filt(image[idx], 1.0 / size)
        return replace(pose, image=image)


@dataclass
class Track:
    id: int
    slot: int
    rect: RotatedRect
    last: PoseLandmarks
    filter: PoseFilter
    age: int = 0


def body_visibility(pose: PoseLandmarks, width: int, height: int) -> float:
    """Mean over shoulders and hips of visibility x (1 if the landmark lies inside the frame)."""
    pts = pose.image[list(TORSO), :2]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
    return float((pose.visibility[list(TORSO)] * inside).mean())


def full_body_check(pose: PoseLandmarks, width: int, height: int, settings: TrackerSettings) -> dict:
    """The numbers that decide whether a new detection is a full body; 'ok' is the verdict."""
    extent = float(np.ptp(pose.image[:33, :2], axis=0).max() / max(pose.rect.side, 1e-6))
    out = {"presence": round(pose.score, 3), "shoulder_hip_visibility": round(body_visibility(pose, width, height), 3),
           "visibility": round(float(pose.visibility[:33].mean()), 3), "extent": round(extent, 3)}
    out["ok"] = (pose.score >= settings.start_presence and out["shoulder_hip_visibility"] >= settings.min_body_visibility
                 and out["visibility"] >= settings.min_visibility and extent >= settings.min_extent)
    return out


def same_person(a: PoseLandmarks, b: PoseLandmarks, threshold: float) -> bool:
    """True when two poses put nose, shoulders and hips in nearly the same image places."""
    pa, pb = a.image[list(IDENTITY_POINTS), :2], b.image[list(IDENTITY_POINTS), :2]
    side = max(a.rect.side, b.rect.side, 1e-6)
    return float(np.linalg.norm(pa - pb, axis=1).mean()) < threshold * side


def next_rect(pose: PoseLandmarks) -> RotatedRect:
    """The crop for the next frame, from this frame's auxiliary landmarks."""
    return rect_from_points(pose.image[AUX_HIP, :2], pose.image[AUX_SCALE, :2])


@dataclass
class MultiPersonTracker:
    detector: PoseDetector
    landmarks: LandmarkModel
    settings: TrackerSettings
    fps: float
    tracks: list[Track] = field(default_factory=list)
    last_search: int = -10**9
    next_id: int = 0
    slot_hips: dict[int, np.ndarray] = field(default_factory=dict)
    detector_runs: int = 0
    best_rejected: dict = field(default_factory=dict)

    def _frames(self, seconds: float) -> int:
        return max(1, int(round(seconds * self.fps)))

    def step(self, frame: np.ndarray, index: int) -> dict[int, PoseLandmarks]:
        """Track one RGB frame (H, W, 3) uint8; returns slot -> pose for the people found in it."""
        s = self.settings
        alive: list[Track] = []
        for track in self.tracks:
            pose = self.landmarks.run(frame, track.rect)
            if pose.score < s.keep_presence:
                continue
            if any(same_person(pose, other.last, s.duplicate_distance) for other in alive):
                continue  # drifted onto someone already tracked: the older track keeps the person
            pose = track.filter(pose)
            track.last, track.rect, track.age = pose, next_rect(pose), track.age + 1
            alive.append(track)
        self.tracks = alive
        if len(self.tracks) < s.max_people:
            wait = self._frames(s.redetect_s if self.tracks else s.search_s)
            if index - self.last_search >= wait:
                self.last_search = index
                self._search(frame)
        out = {}
        for track in self.tracks:
            out[track.slot] = track.last
            self.slot_hips[track.slot] = track.last.image[AUX_HIP, :2]
        return out

    def _search(self, frame: np.ndarray) -> None:
        s = self.settings
        h, w = frame.shape[:2]
        self.detector_runs += 1
        for det in self.detector.detect(frame)[: s.max_candidates]:
            if len(self.tracks) >= s.max_people:
                break
            rect = rect_from_points(det.keypoints[KP_HIP], det.keypoints[KP_BODY])
            if rect.side < s.min_roi_fraction * h:
                continue
            hip = det.keypoints[KP_HIP]
            if any(np.linalg.norm(hip - t.last.image[AUX_HIP, :2]) < s.duplicate_distance * t.rect.side
                   for t in self.tracks):
                continue
            pose = self.landmarks.run(frame, rect)
            check = full_body_check(pose, w, h, s)
            if not check.pop("ok"):
                if check["presence"] > self.best_rejected.get("presence", -1):
                    self.best_rejected = check
                continue
            if any(same_person(pose, t.last, s.duplicate_distance) for t in self.tracks):
                continue
            self._start(pose)

    def _start(self, pose: PoseLandmarks) -> None:
        used = {t.slot for t in self.tracks}
        free = [k for k in range(self.settings.max_people) if k not in used]
        hip = pose.image[AUX_HIP, :2]
        free.sort(key=lambda k: (k not in self.slot_hips,
                                 float(np.linalg.norm(self.slot_hips[k] - hip)) if k in self.slot_hips else k))
        s = self.settings
        filt = PoseFilter(s.landmark_filter, s.crop_filter, self.fps)
        pose = filt(pose)  # the first sample passes unchanged and starts the filters
        track = Track(self.next_id, free[0], next_rect(pose), pose, filt)
        self.next_id += 1
        self.tracks.append(track)
