"""Training data and loop for the 2-D -> 3-D lifter (``star.video.lifter``).

Each training sample is a window of one Kinect clip seen through a random virtual camera:

1. the window is centred on its mean spine base and, half the time, mirrored (x negated, left and right
   swapped: the mirror image of a movement is a movement people make);
2. turned about the vertical axis by a yaw within +-``yaw_deg`` and placed ``distance_m`` in front of a
   level camera that stands ``height_m`` above the person's spine base, the person up to ``lateral`` of the
   view's half-width off the optical axis; then the camera is tilted by a pitch within ``pitch_deg``
   (looking down or up);
3. projected to normalised image coordinates (``star.video.lifter.project`` with f = 1);
4. given BlazePose-like 2-D errors, in units of the window's 2-D spine length: a steady per-joint offset
   (BlazePose's joints are not Kinect's: its hip is lower and wider, its head is the ears' midpoint), frame
   to frame jitter, joints that are now and then badly placed with a low confidence, and, in some windows, a
   limb (one arm or the lower legs) hidden throughout with low confidence.

The target is the window's true 3-D in the virtual camera's frame, relative to the spine base.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from star.skeleton.topology import BONES, JOINT_NAMES
from star.video.lifter import (INPUT_JOINTS, SPINE_BASE, SPINE_SHOULDER, Lifter, LifterSpec, TemporalLifter,
                              lifter_features, project, steady_bones, unproject)

# left <-> right joint pairs (NTU-25) for mirroring
MIRROR = np.arange(25)
for _a, _b in ((4, 8), (5, 9), (6, 10), (7, 11), (12, 16), (13, 17), (14, 18), (15, 19), (21, 23), (22, 24)):
    MIRROR[_a], MIRROR[_b] = _b, _a
# limbs that are hidden together (occlusion of a whole arm or of the lower legs)
LIMBS: tuple[tuple[int, ...], ...] = ((4, 5, 6, 7), (8, 9, 10, 11), (13, 14, 15, 17, 18, 19))


@dataclass(frozen=True)
class ViewSettings:
    """The random cameras and 2-D errors of the training views (recorded with the weights)."""

    yaw_deg: float = 70.0
    pitch_deg: tuple[float, float] = (-10.0, 20.0)  # positive: the camera looks down at the person
    distance_m: tuple[float, float] = (2.0, 5.0)
    height_m: tuple[float, float] = (-0.3, 0.9)  # camera height above the person's spine base
    lateral: float = 0.6  # fraction of the half-width of a 60 degree view
    offset_sd: tuple[float, float] = (0.0, 0.08)  # steady per-joint offset, in spine lengths
    jitter_sd: tuple[float, float] = (0.005, 0.04)  # per-frame noise, in spine lengths
    confidence: tuple[float, float] = (0.55, 1.0)
    bad_joint_rate: float = 0.03
    bad_joint_sd: float = 0.3
    hidden_limb_rate: float = 0.15
    mirror_rate: float = 0.5
    arm_rotation_rate: float = 0.5  # share of windows with one arm turned about its shoulder (``turn_arms``)
    arm_rotation_deg: float = 60.0


def clip_tracks(frames: np.ndarray, offsets: np.ndarray, min_frames: int = 1) -> list[np.ndarray]:
    """Each clip's body-0 frames (T, 25, 3) without its absent (all-zero) frames; clips left with fewer than
    ``min_frames`` frames are skipped."""
    tracks = []
    for a, b in zip(offsets[:-1], offsets[1:]):
        clip = np.asarray(frames[a:b], dtype=np.float64)
        clip = clip[np.any(clip != 0, axis=(1, 2))]
        if len(clip) >= min_frames:
            tracks.append(clip)
    return tracks


def _rotation(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """(n,) yaw about y (up), (n,) pitch about x -> (n, 3, 3) rotations R = R_pitch @ R_yaw."""
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    n = len(yaw)
    ry = np.zeros((n, 3, 3))
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 1, 1], ry[:, 2, 0], ry[:, 2, 2] = cy, sy, 1, -sy, cy
    rp = np.zeros((n, 3, 3))
    rp[:, 0, 0], rp[:, 1, 1], rp[:, 1, 2], rp[:, 2, 1], rp[:, 2, 2] = 1, cp, -sp, sp, cp
    return rp @ ry


ARMS: tuple[tuple[int, tuple[int, ...]], ...] = ((4, (5, 6, 7, 21, 22)), (8, (9, 10, 11, 23, 24)))  # shoulder, the rest


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """The rotation (3, 3) by ``angle`` radians about the unit vector ``axis`` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def turn_arms(rng: np.random.Generator, windows: np.ndarray, rate: float, max_deg: float) -> np.ndarray:
    """In a ``rate`` share of the windows (n, L, 25, 3), one arm (elbow to fingers) turned about its shoulder by
    one rotation for the whole window (a random axis, up to ``max_deg``): arm poses the clips do not hold, such
    as a hand at the face, seen in the same motion."""
    out = windows.copy()
    for i in np.flatnonzero(rng.random(len(windows)) < rate):
        shoulder, rest = ARMS[rng.integers(2)]
        axis = rng.normal(size=3)
        r = _axis_angle(axis / np.linalg.norm(axis), np.radians(rng.uniform(0, max_deg)))
        window, joints = out[i], list(rest)  # a view of window i: (L, 25, 3)
        pivot = window[:, shoulder:shoulder + 1]
        window[:, joints] = (window[:, joints] - pivot) @ r.T + pivot
    return out


def random_views(rng: np.random.Generator, windows: np.ndarray, settings: ViewSettings = ViewSettings()):
    """windows (n, L, 25, 3) Kinect frames -> (camera-frame 3-D (n, L, 25, 3), normalised 2-D (n, L, 25, 2)),
    before any 2-D error."""
    n = len(windows)
    w = windows - windows[:, :, SPINE_BASE].mean(1)[:, None, None]
    mirror = rng.random(n) < settings.mirror_rate
    w[mirror] = w[mirror][:, :, MIRROR] * np.array([-1.0, 1.0, 1.0])
    yaw = np.radians(rng.uniform(-settings.yaw_deg, settings.yaw_deg, n))
    # a camera above the person looking down turns the person's top away from it: a rotation about x of
    # -pitch in the camera's axes (y up, z away)
    pitch = -np.radians(rng.uniform(*settings.pitch_deg, n))
    d = rng.uniform(*settings.distance_m, n)
    half = np.tan(np.radians(30)) * d
    t = np.stack([rng.uniform(-1, 1, n) * settings.lateral * half, -rng.uniform(*settings.height_m, n), d], 1)
    world = np.einsum("nij,nlkj->nlki", _rotation(yaw, np.zeros(n)), w) + t[:, None, None]
    cam = np.einsum("nij,nlkj->nlki", _rotation(np.zeros(n), pitch), world)
    cam[..., 2] = np.maximum(cam[..., 2], 0.5)  # never behind or at the camera
    xy = project(cam, 1.0, (0.0, 0.0))
    return cam, xy


def blazepose_like(rng: np.random.Generator, xy: np.ndarray, settings: ViewSettings = ViewSettings()):
    """Normalised 2-D joints (n, L, 25, 2) -> (noisy 2-D (n, L, 25, 2), confidences (n, L, 25))."""
    n, length = xy.shape[:2]
    spine = np.median(np.linalg.norm(xy[:, :, SPINE_SHOULDER] - xy[:, :, SPINE_BASE], axis=-1), axis=1)
    s = np.maximum(spine, 1e-6)[:, None, None, None]
    offset = rng.normal(size=(n, 1, 25, 2)) * rng.uniform(*settings.offset_sd, (n, 1, 1, 1))
    jitter = rng.normal(size=xy.shape) * rng.uniform(*settings.jitter_sd, (n, 1, 1, 1))
    conf = rng.uniform(*settings.confidence, (n, 1, 25)) - rng.uniform(0, 0.1, (n, length, 25))
    bad = rng.random((n, length, 25)) < settings.bad_joint_rate
    error = np.where(bad[..., None], rng.normal(size=xy.shape) * settings.bad_joint_sd, 0.0)
    conf = np.where(bad, rng.uniform(0, 0.3, bad.shape), conf)
    for i in np.flatnonzero(rng.random(n) < settings.hidden_limb_rate):
        limb = list(LIMBS[rng.integers(len(LIMBS))])
        conf[i, :, limb] = rng.uniform(0, 0.3, (length, len(limb))).T
        error[i, :, limb] += rng.normal(size=(length, len(limb), 2)).transpose(1, 0, 2) * 0.5 * settings.bad_joint_sd
    return xy + (offset + jitter + error) * s, np.clip(conf, 0.0, 1.0)


def sample_windows(rng: np.random.Generator, tracks: list[np.ndarray], n: int, length: int) -> np.ndarray:
    """n random windows of ``length`` frames (clips shorter than that repeat their last frame): (n, L, 25, 3)."""
    out = np.empty((n, length, 25, 3))
    for k, i in enumerate(rng.integers(len(tracks), size=n)):
        clip = tracks[i]
        start = rng.integers(max(len(clip) - length, 0) + 1)
        idx = np.minimum(start + np.arange(length), len(clip) - 1)
        out[k] = clip[idx]
    return out


def make_batch(rng: np.random.Generator, tracks: list[np.ndarray], n: int, length: int, receptive_field: int,
               settings: ViewSettings = ViewSettings()) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs (n, length, F), targets (n, length - receptive_field + 1, 3 * len(INPUT_JOINTS)))."""
    windows = sample_windows(rng, tracks, n, length)
    if settings.arm_rotation_rate > 0:
        windows = turn_arms(rng, windows, settings.arm_rotation_rate, settings.arm_rotation_deg)
    cam, xy = random_views(rng, windows, settings)
    noisy, conf = blazepose_like(rng, xy, settings)
    x = np.stack([lifter_features(noisy[i], conf[i]) for i in range(n)])
    pad = receptive_field // 2
    target = (cam[:, :, INPUT_JOINTS] - cam[:, :, SPINE_BASE:SPINE_BASE + 1])[:, pad:length - pad]
    return torch.from_numpy(x), torch.from_numpy(target.reshape(n, length - 2 * pad, -1).astype(np.float32))


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean per-joint position error: mean Euclidean distance over joints of (..., 3 J) tensors (metres)."""
    diff = (pred - target).reshape(*pred.shape[:-1], -1, 3)
    return diff.norm(dim=-1).mean()


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 3000
    batch: int = 64
    outputs_per_window: int = 32
    lr: float = 1e-3
    lr_final: float = 1e-5
    seed: int = 0


def train_lifter(tracks: list[np.ndarray], settings: TrainSettings = TrainSettings(),
                 views: ViewSettings = ViewSettings(), spec: LifterSpec = LifterSpec(), log=print,
                 record: dict | None = None) -> Lifter:
    """Train a ``TemporalLifter`` on fresh random views of ``tracks`` at every step (Adam, exponential decay
    from ``lr`` to ``lr_final``); returns the ``Lifter`` with its training record."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = TemporalLifter(spec)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=1e-5)
    decay = (settings.lr_final / settings.lr) ** (1.0 / max(settings.steps - 1, 1))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, decay)
    length = spec.receptive_field + settings.outputs_per_window - 1
    start, curve, running = time.perf_counter(), [], []
    model.train()
    for step in range(settings.steps):
        x, y = make_batch(rng, tracks, settings.batch, length, spec.receptive_field, views)
        loss = mpjpe(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
        if (step + 1) % max(settings.steps // 20, 1) == 0 or step + 1 == settings.steps:
            curve.append({"step": step + 1, "train_mpjpe_m": round(float(np.mean(running)), 4),
                          "elapsed_s": round(time.perf_counter() - start, 1)})
            running = []
            log(f"step {step + 1}/{settings.steps} train MPJPE {curve[-1]['train_mpjpe_m']:.4f} m "
                f"({curve[-1]['elapsed_s']:.0f} s)")
    rec = {**(record or {}), "train": asdict(settings), "views": asdict(views), "curve": curve,
           "train_seconds": round(time.perf_counter() - start, 1), "num_tracks": len(tracks),
           "num_frames": int(sum(len(t) for t in tracks)), "input_joints": [JOINT_NAMES[j] for j in INPUT_JOINTS]}
    return Lifter(model, rec)


def _bone_pairs() -> list[tuple[int, int]]:
    return [(a, b) for a, b in BONES if a in INPUT_JOINTS and b in INPUT_JOINTS]


def view_errors(pred: np.ndarray, true: np.ndarray) -> dict:
    """Root-aligned errors of one lifted track: pred, true (T, 25, 3) metres, camera axes.

    mpjpe_m: mean over frames and ``INPUT_JOINTS`` of the distance after subtracting each frame's spine base;
    bone_error_m: mean absolute bone-length error over the bones between input joints;
    bone_cv: mean over those bones of the coefficient of variation of the predicted length over frames.
    """
    p = pred - pred[:, SPINE_BASE:SPINE_BASE + 1]
    t = true - true[:, SPINE_BASE:SPINE_BASE + 1]
    j = list(INPUT_JOINTS)
    bones = _bone_pairs()
    length = lambda x: np.stack([np.linalg.norm(x[:, a] - x[:, b], axis=-1) for a, b in bones], 1)  # noqa: E731
    lp, lt = length(p), length(t)
    return {"mpjpe_m": float(np.linalg.norm(p[:, j] - t[:, j], axis=-1).mean()),
            "bone_error_m": float(np.abs(lp - lt).mean()),
            "bone_cv": float((lp.std(0) / np.maximum(lp.mean(0), 1e-9)).mean())}


def flat_lift(xy: np.ndarray, root_depth: np.ndarray) -> np.ndarray:
    """The no-depth reference: every joint back-projected at its frame's true spine-base depth.
    xy (T, 25, 2) normalised image coordinates, root_depth (T,) -> (T, 25, 3) NTU camera axes."""
    return unproject(xy, np.asarray(root_depth, dtype=np.float64)[:, None], 1.0, (0.0, 0.0))


def evaluate_views(lifter: Lifter, tracks: list[np.ndarray], views_per_track: int = 2, seed: int = 1234,
                   settings: ViewSettings = ViewSettings()) -> dict:
    """Lift every track seen through ``views_per_track`` random views with BlazePose-like 2-D errors (fixed
    seed: the same views for every lifter) -> mean errors of the learned lifter (as the pipeline uses it, and
    without ``steady_bones``) and of ``flat_lift``."""
    rng = np.random.default_rng(seed)
    rows = {"learned": [], "learned, bones free": [], "flat (true root depth)": []}
    for track in tracks:
        for _ in range(views_per_track):
            cam, xy = random_views(rng, track[None], settings)
            noisy, conf = blazepose_like(rng, xy, settings)
            free = lifter.lift_normalised(noisy[0], conf[0], steady=False)  # one forward pass for both rows
            rows["learned"].append(view_errors(steady_bones(free, conf[0]), cam[0]))
            rows["learned, bones free"].append(view_errors(free, cam[0]))
            rows["flat (true root depth)"].append(view_errors(flat_lift(noisy[0], cam[0, :, SPINE_BASE, 2]), cam[0]))
    return {name: {k: round(float(np.mean([r[k] for r in rs])), 4) for k in rs[0]} | {"views": len(rs)}
            for name, rs in rows.items()}
