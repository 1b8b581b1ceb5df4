"""Canonical skeletons: each step on synthetic skeletons with exact expectations, and the spec's round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from star.skeleton.canonical import (
    CANONICAL_BODY_SIZE, CANONICAL_BONE_LENGTHS, LEGACY, Canonical, body_size, geometric_median, normalise_view,
    retarget_bones, set_joints, smooth_frames, view_rotation,
)
from star.skeleton.topology import BONES
from star.skeleton.transforms import center_on_spine_mid, rotation_matrix, to_model_input

FULL = Canonical(view=True, joints="synthesise", scale=True, smooth=1.0, retarget=True)

# Unit direction of every bone (child, parent) in the canonical frame: x = subject's right, y = up.
_DIRECTIONS = {
    (1, 0): (0, 1, 0), (20, 1): (0, 1, 0), (2, 20): (0, 1, 0), (3, 2): (0, 1, 0),
    (4, 20): (-1, 0, 0), (5, 4): (0, -1, 0), (6, 5): (0, -1, 0), (7, 6): (0, -1, 0),
    (21, 7): (0, -1, 0), (22, 6): (0, -1, 0),
    (8, 20): (1, 0, 0), (9, 8): (0, -1, 0), (10, 9): (0, -1, 0), (11, 10): (0, -1, 0),
    (23, 11): (0, -1, 0), (24, 10): (0, -1, 0),
    (12, 0): (-1, 0, 0), (13, 12): (0, -1, 0), (14, 13): (0, -1, 0), (15, 14): (0, 0, 1),
    (16, 0): (1, 0, 0), (17, 16): (0, -1, 0), (18, 17): (0, -1, 0), (19, 18): (0, 0, 1),
}


def canonical_pose(arm_angle: float = 0.0) -> np.ndarray:
    """(25, 3) float64 skeleton in the canonical frame: canonical bone lengths, spine mid at the origin,
    right forearm (and hand) raised forwards by ``arm_angle`` radians about the elbow's x axis."""
    joints = np.zeros((25, 3))
    raise_fwd = rotation_matrix((-arm_angle, 0.0, 0.0))
    for child, parent in BONES:
        d = np.array(_DIRECTIONS[(child, parent)], float)
        if child in (10, 11, 23, 24):
            d = raise_fwd @ d
        joints[child] = joints[parent] + CANONICAL_BONE_LENGTHS[(child, parent)] * d
    return joints - joints[1]


def canonical_clip(t: int = 12) -> np.ndarray:
    """(1, t, 25, 3) float32: the canonical pose with the right arm swinging (spine and hips still)."""
    return np.stack([canonical_pose(0.8 * np.sin(i)) for i in range(t)])[None].astype(np.float32)


def moved(frames: np.ndarray, angles=(0.3, -1.1, 0.4), scale: float = 0.8, shift=(0.5, -0.2, 3.0)) -> np.ndarray:
    """A rigid rotation + uniform scale + translation of present frames (absent stay zero)."""
    rot = rotation_matrix(angles)
    out = np.zeros_like(frames)
    present = np.any(frames != 0, axis=(2, 3))
    out[present] = (scale * frames[present].astype(np.float64) @ rot.T + np.array(shift)).astype(np.float32)
    return out


def test_legacy_is_identity_and_returns_a_copy():
    f = moved(canonical_clip())
    out = LEGACY.apply(f)
    np.testing.assert_array_equal(out, f)
    assert out is not f and LEGACY.is_legacy and not FULL.is_legacy
    assert LEGACY == Canonical(view=False, joints="as-is", scale=False, smooth=0.0, retarget=False)


def test_rotated_scaled_translated_skeleton_maps_back_to_the_canonical_one():
    ref = canonical_clip()
    spec = Canonical(view=True, scale=True)
    for angles, scale in (((0.3, -1.1, 0.4), 0.8), ((2.5, 0.2, -2.9), 1.7), ((0, np.pi / 2, 0), 0.31)):
        out = spec.apply(moved(ref, angles, scale))
        np.testing.assert_allclose(out, ref, atol=1e-5)
    assert body_size(ref) == pytest.approx(CANONICAL_BODY_SIZE)


def test_view_and_scale_are_invariant_to_a_rigid_move_on_a_messy_clip():
    rng = np.random.default_rng(3)
    f = (canonical_clip(20) + rng.normal(0, 0.03, (1, 20, 25, 3))).astype(np.float32)
    f[0, 5] = 0  # an absent frame
    spec = Canonical(view=True, scale=True, joints="synthesise", smooth=1.5)
    np.testing.assert_allclose(spec.apply(moved(f)), spec.apply(f), atol=2e-5)


def test_view_rotation_is_proper_and_keeps_left_and_right():
    f = moved(canonical_clip())
    rot = view_rotation(f)
    assert np.linalg.det(rot) == pytest.approx(1.0)
    out = normalise_view(f)
    assert out[0, 0, 16, 0] > out[0, 0, 12, 0]  # right hip on +x
    assert out[0, 0, 20, 1] > out[0, 0, 0, 1]  # spine up
    np.testing.assert_allclose(out[0, 0, 1], 0, atol=1e-6)  # first spine mid at the origin
    # a mirrored clip (left and right swapped) is not turned into the original: handedness is kept
    mirror = f.copy()
    mirror[..., 0] *= -1
    assert not np.allclose(normalise_view(mirror), out, atol=1e-3)


def test_view_estimate_ignores_a_glitched_frame():
    f = canonical_clip(12)
    glitch = f.copy()
    glitch[0, 2] = moved(f[:, 2:3], angles=(1.2, 0.7, 0.0), scale=1.0, shift=(0, 0, 0))[0, 0]
    np.testing.assert_allclose(view_rotation(glitch), np.eye(3), atol=1e-9)
    pts = np.array([[1.0, 0, 0]] * 5 + [[50.0, 50, 50]])
    np.testing.assert_allclose(geometric_median(pts), [1, 0, 0])


def test_view_composes_with_model_input_centring():
    f = moved(canonical_clip())
    spec = Canonical(view=True, scale=True)
    out = spec.apply(f)
    np.testing.assert_allclose(center_on_spine_mid(out), out, atol=1e-6)  # centring is now a no-op
    np.testing.assert_allclose(spec.apply(center_on_spine_mid(f)), out, atol=1e-5)  # either order
    assert to_model_input(out, 16).shape == (3, 16, 25, 2)


def test_synthesised_joints_follow_the_readme_formula():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 4, 25, 3)).astype(np.float32)
    out = set_joints(f, "synthesise")
    np.testing.assert_allclose(out[..., 2, :], (f[..., 20, :] + f[..., 3, :]) / 2, atol=1e-6)  # neck
    np.testing.assert_allclose(out[..., 21, :], f[..., 7, :] + 0.5 * (f[..., 7, :] - f[..., 6, :]), atol=1e-6)
    np.testing.assert_allclose(out[..., 23, :], f[..., 11, :] + 0.5 * (f[..., 11, :] - f[..., 10, :]), atol=1e-6)
    np.testing.assert_array_equal(out[..., 22, :], f[..., 7, :])  # thumb = hand
    np.testing.assert_array_equal(out[..., 24, :], f[..., 11, :])
    others = [j for j in range(25) if j not in (2, 21, 22, 23, 24)]
    np.testing.assert_array_equal(out[..., others, :], f[..., others, :])
    np.testing.assert_array_equal(set_joints(out, "synthesise"), out)  # idempotent: synthesised data unchanged
    dropped = set_joints(f, "drop")
    np.testing.assert_array_equal(dropped[..., 2, :], f[..., 20, :])
    for j in (21, 22):
        np.testing.assert_array_equal(dropped[..., j, :], f[..., 7, :])
    with pytest.raises(ValueError, match="joints mode"):
        set_joints(f, "magic")


def test_smoothing_keeps_constants_zeros_and_reduces_jitter():
    const = np.tile(canonical_clip(1), (1, 9, 1, 1))
    const[0, 4] = 0  # an absent frame inside
    out = smooth_frames(const, 2.0)
    np.testing.assert_allclose(out[0, [0, 1, 2, 3, 5, 6, 7, 8]], const[0, [0, 1, 2, 3, 5, 6, 7, 8]], atol=1e-6)
    assert not out[0, 4].any()
    rng = np.random.default_rng(1)
    noisy = np.tile(canonical_clip(1), (1, 60, 1, 1)) + rng.normal(0, 0.02, (1, 60, 25, 3)).astype(np.float32)
    assert smooth_frames(noisy, 1.5).std(axis=1).mean() < 0.5 * noisy.std(axis=1).mean()
    # a linear ramp stays a ramp in the interior (the kernel is symmetric)
    ramp = np.ones((1, 11, 25, 3), np.float32) * (np.arange(11, dtype=np.float32) + 1)[None, :, None, None]
    np.testing.assert_allclose(smooth_frames(ramp, 1.0)[0, 3:8], ramp[0, 3:8], atol=1e-5)


def test_retarget_sets_canonical_bone_lengths():
    rng = np.random.default_rng(2)
    f = (canonical_clip(6) * 1.3 + rng.normal(0, 0.02, (1, 6, 25, 3))).astype(np.float32)
    out = retarget_bones(f)
    for (child, parent), length in CANONICAL_BONE_LENGTHS.items():
        np.testing.assert_allclose(np.linalg.norm(out[0, :, child] - out[0, :, parent], axis=-1), length, atol=1e-5)
    np.testing.assert_array_equal(out[0, :, 0], f[0, :, 0])  # the root stays
    assert body_size(out) == pytest.approx(CANONICAL_BODY_SIZE, abs=1e-5)


def test_zero_bodies_and_frames_stay_zero_under_every_step():
    f = np.zeros((2, 7, 25, 3), np.float32)
    f[0] = moved(canonical_clip(7))[0]
    f[0, 3] = 0  # body 0 absent in one frame
    f[1, 2:5] = moved(canonical_clip(3), shift=(1.0, 0, 3.0))[0]  # second body only in frames 2-4
    out = FULL.apply(f)
    assert not out[0, 3].any() and not out[1, [0, 1, 5, 6]].any()
    assert out[1, 2:5].any() and np.isfinite(out).all()
    empty = np.zeros((2, 5, 25, 3), np.float32)
    np.testing.assert_array_equal(FULL.apply(empty), empty)


def test_one_frame_clip_and_one_body_array():
    one = moved(canonical_clip(1))
    out = FULL.apply(one)
    assert out.shape == (1, 1, 25, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(Canonical(view=True, scale=True).apply(one), canonical_clip(1), atol=1e-5)
    assert FULL.apply(one[0]).shape == (1, 1, 25, 3)  # (T, 25, 3) accepted
    with pytest.raises(ValueError, match="frames must be"):
        FULL.apply(np.zeros((3, 25, 2)))


def test_deterministic_in_a_fresh_process_and_leaves_its_input_alone():
    """The same bytes out in another interpreter (other random state, other hash seed), the input untouched, and the
    output not the input (the steps did something)."""
    import subprocess
    import sys

    f = moved(canonical_clip(15))
    before = f.copy()
    here = FULL.apply(f)
    np.testing.assert_array_equal(f, before)
    assert np.abs(here - f).max() > 0.1
    code = ("import sys, numpy as np; from star.skeleton.canonical import Canonical; np.random.seed(123); "
            "f = np.frombuffer(sys.stdin.buffer.read(), np.float32).reshape(1, 15, 25, 3).copy(); "
            "out = Canonical(view=True, joints='synthesise', scale=True, smooth=1.0, retarget=True).apply(f); "
            "sys.stdout.buffer.write(np.ascontiguousarray(out, np.float32).tobytes())")
    done = subprocess.run([sys.executable, "-c", code], input=f.tobytes(), capture_output=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONHASHSEED": "7"})
    assert done.returncode == 0, done.stderr.decode()[-500:]
    there = np.frombuffer(done.stdout, np.float32).reshape(here.shape)
    np.testing.assert_array_equal(here, there)


def test_json_round_trip_and_flag_strings():
    for spec in (LEGACY, FULL, Canonical(view=True, joints="drop", smooth=0.5)):
        d = json.loads(json.dumps(spec.to_dict()))
        assert d["version"] == 1
        assert Canonical.from_dict(d) == spec
        assert Canonical.parse(spec.to_spec()) == spec
    assert Canonical.from_dict(None) == LEGACY and Canonical.from_dict({}) == LEGACY  # old checkpoints
    assert Canonical.parse("view,joints,scale,smooth=1.0") == Canonical(True, "synthesise", True, 1.0, False)
    assert Canonical.parse("legacy") == LEGACY and LEGACY.to_spec() == "legacy"
    with pytest.raises(ValueError, match="unknown canonical step"):
        Canonical.parse("view,mirror")
    with pytest.raises(ValueError, match="unknown canonical-skeleton keys"):
        Canonical.from_dict({"view": True, "mirror": True})
    with pytest.raises(ValueError, match="version"):
        Canonical.from_dict({"version": 99})
    with pytest.raises(ValueError, match="smooth"):
        Canonical(smooth=-1)
    with pytest.raises(ValueError, match="joints"):
        Canonical(joints="synthesize")
