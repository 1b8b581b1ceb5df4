"""Canonical skeletons: one preprocessing spec, applied identically everywhere a clip becomes model input.

A ``Canonical`` value says which steps run; ``Canonical.apply`` runs them on one clip's frames
(M, T, 25, 3) and returns new frames of the same shape. The spec is stored in a checkpoint's JSON sidecar
(``to_dict`` / ``from_dict``); a checkpoint without it used ``LEGACY`` (no step at all).

Steps, in the order ``apply`` runs them (each is off unless the spec turns it on):

1. ``joints``: the joints some sources lack (neck 2, hand tips 21/23, thumbs 22/24; see
   ``../shared/data/README.md``, ``synthesized_joints``) are made the same way for every source, so a
   model cannot tell the sources apart by them. ``"synthesise"``: neck = (spine shoulder + head) / 2,
   hand tip = hand + (hand - wrist) / 2, thumb = hand (the README's formula, now also over Kinect v2's real
   joints). ``"drop"``: each of them is collapsed onto a neighbour (neck -> spine shoulder, tip and
   thumb -> hand), which carries no information. ``"as-is"``: untouched.
2. ``smooth`` > 0: Gaussian smoothing along T with that sigma in frames, per body and joint, over the
   frames where the body is present (normalised weights, so edges and gaps need no padding; a constant
   stays constant; absent frames stay zero).
3. ``retarget``: every bone gets its ``CANONICAL_BONE_LENGTHS`` length, walking the kinematic tree from the
   spine base (directions kept). Runs before the view step, so the view step's origin stays exact.
4. ``view``: rotate so body 0's hip line (right hip 16 - left hip 12) is along +x and its spine (spine base
   0 -> spine shoulder 20) along +y (z = x cross y: a proper rotation, handedness kept), and translate
   body 0's spine mid (joint 1) in its first present frame to the origin. Both vectors are the
   geometric median over the first ``max(8, ceil(n / 4))`` of body 0's n present frames, so glitches
   and one-off frames do not tilt the clip, and the estimate turns with the clip (rotation-equivariant).
   Spine fixes y exactly; the hip line is projected orthogonal to it. A degenerate hip line falls back
   to the shoulder line (8 - 4); a degenerate spine leaves the clip unrotated. One rotation for the
   whole clip and all bodies (two people keep their relative placement).
5. ``scale``: multiply by ``CANONICAL_BODY_SIZE / size``, where ``size`` is the median, over body 0's
   present frames, of the summed lengths of ``SCALE_BONES`` (spine, upper arms, forearms, thighs,
   shins). Scales about the origin (so after ``view`` about body 0's first spine mid).

How it composes with ``transforms.to_model_input`` / ``augment``: call ``apply`` on the raw frames first,
then the usual model-input code. Those centre on body 0's first-frame spine mid; after the ``view`` step
that point is already the origin, so their centring is a no-op (without ``view`` it does the centring,
as before). Rotation and scale are about that same point, so "canonical, then centre" equals "centre,
then canonical" up to float rounding. Training augmentation (random crop and rotation) comes after
``apply``.

A body absent in a frame is all zeros and stays all zeros through every step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from star.skeleton.topology import BONES, NUM_JOINTS, SPINE_MID

SPEC_VERSION = 1
JOINT_MODES = ("as-is", "synthesise", "drop")
SYNTHESISED_JOINTS = (2, 21, 22, 23, 24)  # neck, left hand tip, left thumb, right hand tip, right thumb

SPINE_BASE, NECK, HEAD, SPINE_SHOULDER = 0, 2, 3, 20
L_SHOULDER, L_WRIST, L_HAND, R_SHOULDER, R_WRIST, R_HAND = 4, 6, 7, 8, 10, 11
L_HIP, R_HIP = 12, 16
VIEW_MIN_FRAMES = 8
_EPS = 1e-6

# Canonical bone lengths in metres, (child, parent) as in topology.BONES: rounded segment lengths of a
# 1.70 m adult (Winter's anthropometric proportions), in Kinect joint conventions. The neck, hand-tip and
# thumb bones follow the synthesis formula (neck halfway to the head; tip half a hand beyond the hand;
# thumb at the hand, so a hand's length from the wrist). Used by ``retarget`` and to fix the canonical size.
CANONICAL_BONE_LENGTHS: dict[tuple[int, int], float] = {
    (1, 0): 0.26, (20, 1): 0.22, (2, 20): 0.09, (3, 2): 0.09,
    (4, 20): 0.17, (5, 4): 0.27, (6, 5): 0.24, (7, 6): 0.08, (21, 7): 0.04, (22, 6): 0.08,
    (8, 20): 0.17, (9, 8): 0.27, (10, 9): 0.24, (11, 10): 0.08, (23, 11): 0.04, (24, 10): 0.08,
    (12, 0): 0.08, (13, 12): 0.40, (14, 13): 0.38, (15, 14): 0.10,
    (16, 0): 0.08, (17, 16): 0.40, (18, 17): 0.38, (19, 18): 0.10,
}
SCALE_BONES: tuple[tuple[int, int], ...] = (
    (1, 0), (20, 1), (5, 4), (6, 5), (9, 8), (10, 9), (13, 12), (14, 13), (17, 16), (18, 17),
)
CANONICAL_BODY_SIZE = float(sum(CANONICAL_BONE_LENGTHS[b] for b in SCALE_BONES))  # 3.06 m


@dataclass(frozen=True)
class Canonical:
    """Which canonical-skeleton steps run (see the module docstring for each step and their order).

    view: rotate to hip line along x, spine along y; first spine mid at the origin.
    joints: "as-is" | "synthesise" | "drop" for the joints some sources synthesise (2, 21, 22, 23, 24).
    scale: rescale body 0 to ``CANONICAL_BODY_SIZE`` (median summed length of ``SCALE_BONES``).
    smooth: Gaussian sigma in frames for temporal smoothing; 0 = off.
    retarget: set every bone to its ``CANONICAL_BONE_LENGTHS`` length.
    """

    view: bool = False
    joints: str = "as-is"
    scale: bool = False
    smooth: float = 0.0
    retarget: bool = False

    def __post_init__(self) -> None:
        if self.joints not in JOINT_MODES:
            raise ValueError(f"Canonical.joints must be one of {JOINT_MODES}, got {self.joints!r}")
        try:
            sigma = float(self.smooth)
        except (TypeError, ValueError):
            sigma = float("nan")
        if isinstance(self.smooth, (bool, str)) or not math.isfinite(sigma) or sigma < 0:
            raise ValueError(f"Canonical.smooth must be a finite sigma >= 0 (frames), got {self.smooth!r}")
        object.__setattr__(self, "smooth", sigma)
        for name in ("view", "scale", "retarget"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"Canonical.{name} must be true or false, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))

    # ---------------------------------------------------------------- (de)serialisation
    @property
    def is_legacy(self) -> bool:
        """True when no step runs (``apply`` returns the frames unchanged)."""
        return self == LEGACY

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict for the checkpoint sidecar, with a ``version`` key."""
        return {"version": SPEC_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "Canonical":
        """Inverse of ``to_dict``. ``None`` or ``{}`` (an old checkpoint) gives ``LEGACY``.

        Raises ValueError for an unknown key or a newer version, naming it.
        """
        if not d:
            return LEGACY
        d = dict(d)
        version = d.pop("version", SPEC_VERSION)
        if version != SPEC_VERSION:
            raise ValueError(f"canonical-skeleton spec version {version} is not supported (this code reads {SPEC_VERSION})")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown canonical-skeleton keys {unknown}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def parse(cls, text: str) -> "Canonical":
        """From a flag string: ``legacy`` / ``none`` / ``""``, or comma-separated steps such as
        ``view,joints,scale,smooth=1.0,retarget`` (``joints`` alone means ``joints=synthesise``)."""
        text = (text or "").strip()
        if text.lower() in ("", "legacy", "none"):
            return LEGACY
        kw: dict[str, Any] = {}
        for item in text.split(","):
            key, _, value = item.strip().partition("=")
            key = key.strip()
            if key in ("view", "scale", "retarget"):
                if value and value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                    raise ValueError(f"canonical step {key!r} takes no value or a boolean, got {value!r}")
                kw[key] = value.lower() not in ("0", "false", "no", "off")
            elif key == "joints":
                kw[key] = value or "synthesise"
            elif key == "smooth":
                try:
                    kw[key] = float(value) if value else 1.0
                except ValueError:
                    raise ValueError(f"smooth takes a sigma in frames, got {value!r}") from None
            else:
                raise ValueError(f"unknown canonical step {key!r} in {text!r}; steps: view, joints[=mode], "
                                 "scale, smooth[=sigma], retarget, or 'legacy'")
        return cls(**kw)

    def to_spec(self) -> str:
        """The flag string ``parse`` reads back (``legacy`` for no steps)."""
        parts = []
        if self.view:
            parts.append("view")
        if self.joints != "as-is":
            parts.append("joints" if self.joints == "synthesise" else f"joints={self.joints}")
        if self.scale:
            parts.append("scale")
        if self.smooth > 0:
            parts.append(f"smooth={self.smooth:g}")
        if self.retarget:
            parts.append("retarget")
        return ",".join(parts) or "legacy"

    # ---------------------------------------------------------------- the preprocessing
    def apply(self, frames: np.ndarray) -> np.ndarray:
        """Canonical frames for one clip: (M, T, 25, 3) -> (M, T, 25, 3) float32 (a new array).

        Deterministic; a (T, 25, 3) one-body array is accepted and returned as (1, T, 25, 3).
        """
        out = _as_frames(frames).copy()
        if self.is_legacy:
            return out
        if self.joints != "as-is":
            out = set_joints(out, self.joints)
        if self.smooth > 0:
            out = smooth_frames(out, self.smooth)
        if self.retarget:
            out = retarget_bones(out)
        if self.view:
            out = normalise_view(out)
        if self.scale:
            out = normalise_scale(out)
        return out


LEGACY = Canonical()


# -------------------------------------------------------------------- steps (each (M, T, 25, 3) -> same)

def _as_frames(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames, dtype=np.float32)
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[2:] != (NUM_JOINTS, 3) or f.shape[0] < 1 or f.shape[1] < 1:
        raise ValueError(f"frames must be (M, T, 25, 3) with M, T >= 1, got {f.shape}")
    return f


def present_mask(frames: np.ndarray) -> np.ndarray:
    """(M, T) bool: the body has some non-zero joint in that frame."""
    return np.any(frames != 0, axis=(2, 3))


def set_joints(frames: np.ndarray, mode: str = "synthesise") -> np.ndarray:
    """Neck, hand tips and thumbs made the same way for every source (``mode`` "synthesise" or "drop").

    (M, T, 25, 3) -> new (M, T, 25, 3). Linear in the other joints, so absent (zero) bodies stay zero.
    """
    f = _as_frames(frames).copy()
    if mode == "as-is":
        return f
    if mode == "synthesise":
        f[..., NECK, :] = (f[..., SPINE_SHOULDER, :] + f[..., HEAD, :]) / 2
        for hand, wrist, tip, thumb in ((L_HAND, L_WRIST, 21, 22), (R_HAND, R_WRIST, 23, 24)):
            f[..., tip, :] = f[..., hand, :] + (f[..., hand, :] - f[..., wrist, :]) / 2
            f[..., thumb, :] = f[..., hand, :]
    elif mode == "drop":
        f[..., NECK, :] = f[..., SPINE_SHOULDER, :]
        for hand, tip, thumb in ((L_HAND, 21, 22), (R_HAND, 23, 24)):
            f[..., tip, :] = f[..., hand, :]
            f[..., thumb, :] = f[..., hand, :]
    else:
        raise ValueError(f"joints mode must be one of {JOINT_MODES}, got {mode!r}")
    return f


def smooth_frames(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along T (sigma in frames, kernel radius ceil(3 sigma)) over present frames.

    Each output frame is the weighted mean of the body's PRESENT frames within the radius, so edges and
    gaps need no padding and a constant clip stays constant. Absent frames stay zero. (M, T, 25, 3).
    """
    f = _as_frames(frames)
    if sigma <= 0:
        return f.copy()
    m, t = f.shape[:2]
    radius = max(1, int(math.ceil(3 * sigma)))
    lag = np.arange(t)[:, None] - np.arange(t)[None, :]
    kernel = np.where(np.abs(lag) <= radius, np.exp(-0.5 * (lag / sigma) ** 2), 0.0)  # (T, T)
    out = np.zeros_like(f)
    present = present_mask(f)
    for b in range(m):
        w = kernel * present[b][None, :]  # weights only on present frames
        den = w.sum(axis=1, keepdims=True)
        w = np.divide(w, den, out=np.zeros_like(w), where=den > 0)
        out[b] = (w @ f[b].reshape(t, -1).astype(np.float64)).reshape(t, NUM_JOINTS, 3)
        out[b][~present[b]] = 0.0
    return out


def retarget_bones(frames: np.ndarray, lengths: dict[tuple[int, int], float] | None = None) -> np.ndarray:
    """Every bone set to its canonical length along the tree from the spine base, directions kept.

    A zero-length bone collapses the child onto its (retargeted) parent. The spine base stays where it
    is. Absent frames stay zero. (M, T, 25, 3) -> new (M, T, 25, 3).
    """
    f = _as_frames(frames)
    lengths = CANONICAL_BONE_LENGTHS if lengths is None else lengths
    out = f.astype(np.float64).copy()
    for child, parent in BONES:  # parents come before children in BONES
        d = f[..., child, :].astype(np.float64) - f[..., parent, :]
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        unit = np.divide(d, n, out=np.zeros_like(d), where=n > _EPS)
        out[..., child, :] = out[..., parent, :] + lengths[(child, parent)] * unit
    out[~present_mask(f)] = 0.0
    return out.astype(np.float32)


def geometric_median(points: np.ndarray, iterations: int = 100, rtol: float = 1e-7) -> np.ndarray:
    """The point minimising the summed distance to ``points`` (K, D) (Weiszfeld's iterations).

    Robust to outliers and rotation-equivariant (unlike a per-coordinate median). Stops when a step is
    below ``rtol`` times the points' spread (or their size). (K, D) -> (D,).
    """
    p = np.asarray(points, dtype=np.float64)
    y = p.mean(axis=0)
    tol = rtol * max(float(np.abs(p - y).max()), float(np.abs(y).max()), 1e-12)
    for _ in range(iterations):
        d = np.sqrt(((p - y) ** 2).sum(axis=1))
        if d.min() < 1e-12:  # on a data point: that point is a fine answer for our use
            return p[int(np.argmin(d))].copy()
        w = 1.0 / d
        y_new = w @ p / w.sum()
        if np.abs(y_new - y).max() < tol:
            y = y_new
            break
        y = y_new
    # the median sits exactly on the nearest data point q when the unit pulls of the others on q sum to
    # at most q's multiplicity (Kuhn's optimality condition); Weiszfeld only approaches it
    q = p[int(np.argmin(((p - y) ** 2).sum(axis=1)))]
    dq = np.sqrt(((p - q) ** 2).sum(axis=1))
    same = dq < 1e-12
    pull = ((p[~same] - q) / dq[~same, None]).sum(axis=0)
    return q.copy() if np.sqrt((pull ** 2).sum()) <= same.sum() else y


def view_frames(frames: np.ndarray) -> np.ndarray:
    """Indices of body 0's present frames used to estimate the view: the first max(8, ceil(n / 4))."""
    idx = np.flatnonzero(present_mask(_as_frames(frames))[0])
    return idx[: max(VIEW_MIN_FRAMES, int(math.ceil(idx.size / 4)))]


def view_rotation(frames: np.ndarray) -> np.ndarray:
    """(3, 3) rotation R (det +1) taking body 0's robust hip line to +x and spine to +y: p' = R @ p.

    Identity when body 0 is never present or its spine is degenerate.
    """
    f = _as_frames(frames).astype(np.float64)
    idx = view_frames(f)
    if idx.size == 0:
        return np.eye(3)
    body = f[0, idx]
    spine = geometric_median(body[:, SPINE_SHOULDER] - body[:, SPINE_BASE])
    ny = np.linalg.norm(spine)
    if ny < _EPS:
        return np.eye(3)
    ey = spine / ny
    ex = None
    for right, left in ((R_HIP, L_HIP), (R_SHOULDER, L_SHOULDER)):
        lateral = geometric_median(body[:, right] - body[:, left])
        lateral = lateral - (lateral @ ey) * ey
        nx = np.linalg.norm(lateral)
        if nx > _EPS * max(1.0, ny):
            ex = lateral / nx
            break
    if ex is None:
        return np.eye(3)
    ez = np.cross(ex, ey)
    return np.stack([ex, ey, ez])


def normalise_view(frames: np.ndarray) -> np.ndarray:
    """Rotate by ``view_rotation`` about body 0's first present spine mid, which becomes the origin.

    (M, T, 25, 3) -> new (M, T, 25, 3); absent frames stay zero; unchanged if body 0 is never present.
    """
    f = _as_frames(frames)
    present = present_mask(f)
    first = np.flatnonzero(present[0])
    if first.size == 0:
        return f.copy()
    origin = f[0, first[0], SPINE_MID].astype(np.float64)
    rot = view_rotation(f)
    out = np.zeros_like(f)
    out[present] = ((f[present].astype(np.float64) - origin) @ rot.T).astype(np.float32)
    return out


def body_size(frames: np.ndarray) -> float:
    """Median over body 0's present frames of the summed ``SCALE_BONES`` lengths (0 if never present)."""
    f = _as_frames(frames)
    idx = np.flatnonzero(present_mask(f)[0])
    if idx.size == 0:
        return 0.0
    body = f[0, idx].astype(np.float64)
    total = sum(np.linalg.norm(body[:, c] - body[:, p], axis=-1) for c, p in SCALE_BONES)
    return float(np.median(total))


def normalise_scale(frames: np.ndarray) -> np.ndarray:
    """Multiply every coordinate by ``CANONICAL_BODY_SIZE / body_size`` (about the origin).

    Unchanged when the body size is degenerate (body 0 absent or collapsed). (M, T, 25, 3).
    """
    f = _as_frames(frames)
    size = body_size(f)
    if size < _EPS:
        return f.copy()
    return (f.astype(np.float64) * (CANONICAL_BODY_SIZE / size)).astype(np.float32)
