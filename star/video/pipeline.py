"""Video -> ``Clip``: decode, detect, track, lift to 3-D, map to NTU-25, smooth.

``extract_pose(path)`` returns a ``VideoPose`` with everything the pipeline measured (2-D landmarks,
world landmarks, confidences, presence); ``video_to_clip(path)`` returns its ``Clip``: frames
(M, T, 25, 3) float32, NTU joint order, metres, Kinect camera axes (x left, y up, z away), T = every
decoded frame (zeros where a body is absent), M <= max_people bodies in the order they first appeared.

Placement: BlazePose world landmarks are centred on each person's hips, so each person is put in the
camera frame by a weak-perspective fit of their world landmarks to their image landmarks (a pinhole
camera with ``hfov_deg`` field of view): left/right and up/down offsets in metres come from image
position and scale, depth from scale. The two people of a clip therefore keep their true separation.
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from star.skeleton.clip import Clip
from star.video import models
from star.video.decode import NoPersonError, VideoError, VideoInfo, VideoLimits, iter_frames, probe_video
from star.video.detector import PoseDetector
from star.video.landmarks import NUM_BODY, LandmarkModel
from star.video.ntu_map import blazepose_to_ntu, focal_length, ntu_confidence, root_translation, to_ntu_axes
from star.video.smoothing import fill_gaps, weighted_smooth
from star.video.tracking import MultiPersonTracker, TrackerSettings

ProgressFn = Callable[[int, int], None]


@dataclass
class PoseSettings:
    """Everything that changes the result; recorded in ``Clip.meta['pose_settings']``."""

    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    detector_threshold: float = 0.5
    nms_iou: float = 0.3
    tile_levels: tuple[int, ...] = (1, 2)  # tiles of side min(H, W) / k; only where the side is >= min_tile
    min_tile: int = 224
    num_threads: int = 2
    refine_heatmap: bool = True  # landmark x, y refined with the landmark model's heatmap (landmarks.py)
    heatmap_kernel: int = 7
    heatmap_min_confidence: float = 0.5
    hfov_deg: float = 84.7  # NTU's Kinect v2 colour camera, fitted on NTU joints (docs/VIDEO.md, "2-D stage")
    lifter: str = "learned"  # "learned": star.video.lifter from the 2-D joints; "blazepose": its world landmarks
    smoothing_s: float = 0.05  # Gaussian sigma for joints (BlazePose's world landmarks; the learned lifter smooths itself)
    root_smoothing_s: float = 0.15  # Gaussian sigma for each body's left/right and up/down position
    depth_smoothing_s: float = 0.5  # and for its depth (from apparent size: the noisiest estimate)
    max_gap_s: float = 0.5  # absent stretches up to this long are interpolated (confidence 0)
    min_body_share: float = 0.1  # a body seen in fewer of the frames is dropped as noise
    min_confidence: float = 0.5  # the best body's mean joint confidence must reach this

    def levels_for(self, width: int, height: int) -> tuple[int, ...]:
        return tuple(k for k in self.tile_levels if min(width, height) / k >= self.min_tile)


@dataclass
class VideoPose:
    """The pose of up to M people over the T decoded frames of a video.

    joints: (M, T, 25, 3) float32 NTU joints, metres, Kinect camera axes (x left, y up); confidence: (M, T, 25) in [0, 1];
    image: (M, T, 33, 3) BlazePose landmarks in frame pixels (x, y) plus confidence; world: (M, T, 33, 3)
    hip-centred BlazePose world landmarks (metres, y down); present: (M, T) bool (tracked, not interpolated).
    """

    joints: np.ndarray
    confidence: np.ndarray
    image: np.ndarray
    world: np.ndarray
    present: np.ndarray
    info: VideoInfo
    settings: PoseSettings
    stats: dict

    def meta(self) -> dict:
        """JSON-serialisable metadata for the ``Clip``."""
        m, t = self.present.shape
        conf = [float(self.confidence[k][self.present[k]].mean()) if self.present[k].any() else 0.0 for k in range(m)]
        return {
            "reader": "video", "fps": self.info.fps, "width": self.info.width, "height": self.info.height,
            "resolution": f"{self.info.width}x{self.info.height}", "frame_count": t,
            "declared_frame_count": self.info.frame_count, "duration_s": round(t / self.info.fps, 3),
            "codec": self.info.codec, "pose_models": {k: v[1][:16] for k, v in models.MODELS.items()},
            "pose_settings": _settings_dict(self.settings),
            "confidence": [round(c, 4) for c in conf],
            "joint_confidence": np.round(self.confidence, 3).tolist(),
            "body_frames": [int(p.sum()) for p in self.present],
            **self.stats,
        }

    def to_clip(self) -> Clip:
        return Clip(self.joints, source=Path(self.info.path).name, meta=self.meta())

    def to_json(self) -> dict:
        """2-D landmarks and confidences per body, for ``star pose --json`` (JSON-serialisable)."""
        from star.skeleton.topology import JOINT_NAMES
        from star.video.ntu_map import BLAZEPOSE_NAMES

        meta = self.meta()
        meta.pop("joint_confidence")
        bodies = [{
            "present": self.present[m].tolist(),
            "landmarks_2d": np.round(self.image[m], 2).tolist(),
            "joint_confidence": np.round(self.confidence[m], 3).tolist(),
        } for m in range(self.present.shape[0])]
        return {"source": Path(self.info.path).name, "landmark_names": list(BLAZEPOSE_NAMES),
                "landmarks_2d_layout": "(T, 33, 3): x pixels, y pixels, confidence",
                "joint_names": list(JOINT_NAMES), "meta": meta, "bodies": bodies}


def _settings_dict(settings: PoseSettings) -> dict:
    d = asdict(settings)
    d["tile_levels"] = list(settings.tile_levels)
    return d


def _body_arrays(records: list[dict], slot: int, t: int) -> tuple[np.ndarray, ...]:
    image = np.zeros((t, NUM_BODY, 3))
    world = np.zeros((t, NUM_BODY, 3))
    conf = np.zeros((t, NUM_BODY))
    present = np.zeros(t, dtype=bool)
    for i, rec in enumerate(records):
        pose = rec.get(slot)
        if pose is None:
            continue
        c = pose.visibility[:NUM_BODY] * pose.presence[:NUM_BODY] * pose.score
        image[i, :, :2], image[i, :, 2] = pose.image[:NUM_BODY, :2], c
        world[i], conf[i], present[i] = pose.world[:NUM_BODY], c, True
    return image, world, conf, present


@functools.lru_cache(maxsize=1)
def learned_lifter():
    """The shipped ``star.video.lifter.Lifter`` (loaded once per process)."""
    from star.video.lifter import Lifter

    return Lifter.load()


def fill_track(x: np.ndarray, present: np.ndarray) -> np.ndarray:
    """x (T, ...) with every absent frame replaced by linear interpolation between the nearest present frames
    (the first / last present frame repeated before / after them); x unchanged where nothing is present."""
    x = np.asarray(x, dtype=np.float64)
    idx = np.flatnonzero(present)
    if len(idx) == 0 or len(idx) == len(x):
        return x.copy()
    flat = x.reshape(len(x), -1)
    t = np.arange(len(x))
    filled = np.stack([np.interp(t, idx, flat[idx, k]) for k in range(flat.shape[1])], axis=1)
    return filled.reshape(x.shape)


def _lift_body(image, world, conf, present, info: VideoInfo, settings: PoseSettings):
    """One body's NTU joints (T, 25, 3) and confidences (T, 25) from its BlazePose tracks."""
    t = len(present)
    focal = focal_length(info.width, info.height, settings.hfov_deg)
    centre = (info.width / 2, info.height / 2)
    if settings.lifter == "learned":
        # NTU joints in 2-D (the same table as in 3-D), gaps bridged for the lifter's temporal window
        fit_image = fill_track(blazepose_to_ntu(image)[..., :2], present)
        fit_conf = ntu_confidence(conf) * present[:, None]
        fit_world = to_ntu_axes(learned_lifter().lift(fit_image, fit_conf, focal, centre))  # spine-base centred, y down
    elif settings.lifter == "blazepose":
        fit_image, fit_conf, fit_world = image[..., :2], conf, world
    else:
        raise ValueError(f"lifter must be 'learned' or 'blazepose', got {settings.lifter!r}")
    roots = np.full((t, 3), np.nan)
    for i in np.flatnonzero(present):
        roots[i] = root_translation(fit_world[i], fit_image[i], fit_conf[i], focal, centre)
    ok = present & np.isfinite(roots).all(1)
    fps = info.fps
    roots = np.nan_to_num(roots)
    roots[:, :2] = weighted_smooth(roots[:, :2], ok.astype(float), settings.root_smoothing_s * fps)
    roots[:, 2:] = weighted_smooth(roots[:, 2:], ok.astype(float), settings.depth_smoothing_s * fps)
    jconf = ntu_confidence(conf) * ok[:, None]
    if settings.lifter == "learned":
        local = fit_world  # its 27-frame window already smooths: a second smoothing leaves less motion than Kinect's
    else:
        local = weighted_smooth(blazepose_to_ntu(world), np.maximum(jconf, 1e-3) * ok[:, None],
                                settings.smoothing_s * fps)  # (T, 25, 3) hip-centred, y down
    joints = to_ntu_axes(local + roots[:, None, :])
    joints, filled = fill_gaps(joints, ok, int(round(settings.max_gap_s * fps)))
    joints[~filled] = 0.0
    return joints, jconf, ok


def extract_pose(path, settings: PoseSettings | None = None, on_progress: ProgressFn | None = None,
                 limits: VideoLimits = VideoLimits(),
                 on_frame: Callable[[int, np.ndarray], None] | None = None) -> VideoPose:
    """Run the whole pipeline on a video file; ``on_progress(done_frames, total_frames)`` after each frame.

    ``on_frame(index, rgb_frame)`` sees every decoded frame first (e.g. ``star.video.display.DisplayWriter.write``:
    the browser copy is made in the same decoding pass).

    total_frames is the declared frame count (0 when the container declares none). Raises ``VideoError``
    for unreadable or over-limit videos and ``NoPersonError`` when no full body is found or the best
    one is below ``settings.min_confidence``; ``PoseModelsMissing`` when the models are not set up.
    """
    settings = settings or PoseSettings()
    info = probe_video(path, limits)
    detector = PoseDetector(models.model_path("detector"), settings.num_threads, settings.detector_threshold,
                            settings.nms_iou, settings.levels_for(info.width, info.height))
    landmarks = LandmarkModel(models.model_path("landmarks"), settings.num_threads, settings.refine_heatmap,
                              settings.heatmap_kernel, settings.heatmap_min_confidence)
    tracker = MultiPersonTracker(detector, landmarks, settings.tracker, info.fps)
    records: list[dict] = []
    start = time.perf_counter()
    for index, frame in iter_frames(info, limits):
        if on_frame is not None:
            on_frame(index, frame)
        records.append(tracker.step(frame, index))
        if on_progress is not None:
            on_progress(index + 1, info.frame_count)
    seconds = time.perf_counter() - start
    t = len(records)
    slots = [k for k in range(settings.tracker.max_people) if any(k in r for r in records)]
    bodies = []
    for k in slots:
        image, world, conf, present = _body_arrays(records, k, t)
        if present.sum() < max(1, settings.min_body_share * t):
            continue
        joints, jconf, ok = _lift_body(image, world, conf, present, info, settings)
        bodies.append((joints, jconf, image, world, ok))
    if not bodies:
        why = ("no full body in any frame" if not slots
               else f"bodies in fewer than {settings.min_body_share:.0%} of the frames")
        r, ts = tracker.best_rejected, settings.tracker
        if r:
            why += (f"; the best candidate had pose presence {r['presence']} (needs {ts.start_presence}), "
                    f"shoulder/hip visibility {r['shoulder_hip_visibility']} (needs {ts.min_body_visibility}), "
                    f"mean landmark visibility {r['visibility']} (needs {ts.min_visibility}) and spread "
                    f"{r['extent']} of its crop (needs {ts.min_extent})")
        raise NoPersonError(path, None, "a video showing at least one person's full body", f"{why} ({t} frames)")
    best = max(float(b[1][b[4]].mean()) for b in bodies)
    if best < settings.min_confidence:
        raise NoPersonError(path, None, f"a person seen with mean joint confidence >= {settings.min_confidence}",
                            f"at most {best:.2f} over {t} frames (a partial or unclear body)")
    stack = lambda i, dtype=np.float32: np.stack([b[i] for b in bodies]).astype(dtype)  # noqa: E731
    present = stack(4, bool)
    stats = {"seconds": round(seconds, 3), "processing_fps": round(t / max(seconds, 1e-9), 2),
             "detector_runs": tracker.detector_runs, "tile_levels": list(detector.tile_levels),
             "hfov_deg": settings.hfov_deg, "focal_px": round(float(focal_length(info.width, info.height, settings.hfov_deg)), 1)}
    return VideoPose(stack(0), stack(1), stack(2), stack(3), present, info, settings, stats)


def relift(pose: VideoPose, settings: PoseSettings) -> VideoPose:
    """The same 2-D and world-landmark tracks placed in 3-D again under other lifting settings (``lifter``,
    ``hfov_deg``, smoothing): no pose model runs again."""
    bodies = [_lift_body(pose.image[m], pose.world[m], pose.image[m, :, :, 2], pose.present[m], pose.info, settings)
              for m in range(pose.present.shape[0])]
    focal = focal_length(pose.info.width, pose.info.height, settings.hfov_deg)
    stats = {**pose.stats, "hfov_deg": settings.hfov_deg, "focal_px": round(float(focal), 1)}
    return VideoPose(np.stack([b[0] for b in bodies]).astype(np.float32),
                     np.stack([b[1] for b in bodies]).astype(np.float32), pose.image, pose.world,
                     np.stack([b[2] for b in bodies]), pose.info, copy.deepcopy(settings), stats)


def video_to_clip(path, max_people: int = 2, on_progress: ProgressFn | None = None,
                  settings: PoseSettings | None = None, limits: VideoLimits = VideoLimits()) -> Clip:
    """The ``Clip`` of a video: frames (M, T, 25, 3), M <= max_people; see ``extract_pose``."""
    settings = copy.deepcopy(settings) if settings else PoseSettings()
    settings.tracker.max_people = max_people
    return extract_pose(path, settings, on_progress, limits).to_clip()


def load_video_clip(path, max_bytes: int | None = None) -> Clip:
    """``load_clip``'s video branch: ``video_to_clip`` with default settings, every failure a ``VideoError``."""
    limits = VideoLimits() if max_bytes is None else VideoLimits(max_bytes=int(max_bytes))
    try:
        return video_to_clip(path, limits=limits)
    except models.PoseModelsMissing as exc:
        raise VideoError(path, None, "the BlazePose models set up for video input", str(exc)) from None
