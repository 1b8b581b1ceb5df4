"""Transforms: centring, linear resizing, crop, rotation, body padding, model input, augmentation."""

from __future__ import annotations

import numpy as np
import pytest

from star.skeleton import Clip
from star.skeleton.synth import make_clip
from star.skeleton.transforms import (
    augment, center_on_spine_mid, pad_bodies, random_crop_resize, random_rotation, resize_frames, rotation_matrix,
    to_model_input, to_model_input_batch,
)


def ramp(m: int = 1, t: int = 5) -> np.ndarray:
    """Frames (m, t, 25, 3) where every coordinate of frame i equals i + 1 (+ 100 per extra body)."""
    f = np.ones((m, t, 25, 3), np.float32) * (np.arange(t, dtype=np.float32) + 1)[None, :, None, None]
    return f + 100 * np.arange(m, dtype=np.float32)[:, None, None, None]


def test_center_on_first_frame_spine_mid_of_body_zero():
    f = np.zeros((2, 3, 25, 3), np.float32)
    f[0] = np.arange(25 * 3, dtype=np.float32).reshape(25, 3)  # spine mid (joint 1) = (3, 4, 5)
    f[0, 2] += 10
    f[1, 1] = 7.0  # second body present only in frame 2
    out = center_on_spine_mid(f)
    np.testing.assert_array_equal(out[0, 0, 1], [0, 0, 0])
    np.testing.assert_array_equal(out[0, 2, 0], [10 - 3, 11 - 4, 12 - 5])
    np.testing.assert_array_equal(out[1, 1, 0], [7 - 3, 7 - 4, 7 - 5])
    assert not out[1, 0].any() and not out[1, 2].any()  # absent stays zero
    assert f[0, 0, 1, 0] == 3  # input untouched


def test_center_uses_first_frame_where_body_zero_is_present():
    f = ramp(1, 4)
    f[0, 0] = 0
    out = center_on_spine_mid(f)
    assert not out[0, 0].any()
    np.testing.assert_array_equal(out[0, 1:, 0, 0], [0, 1, 2])


def test_resize_is_linear_interpolation():
    out = resize_frames(ramp(1, 3), 5)  # samples at t = 0, 0.5, 1, 1.5, 2 of values 1, 2, 3
    assert out.shape == (1, 5, 25, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, 7, 2], [1, 1.5, 2, 2.5, 3])
    down = resize_frames(ramp(2, 9), 3)
    np.testing.assert_allclose(down[:, :, 0, 0], [[1, 5, 9], [101, 105, 109]])
    np.testing.assert_array_equal(resize_frames(ramp(1, 7), 7), ramp(1, 7))


def test_resize_one_frame_clip_repeats_it():
    out = resize_frames(ramp(1, 1), 64)
    assert out.shape == (1, 64, 25, 3)
    assert np.all(out == 1)
    assert resize_frames(ramp(1, 6), 1).shape == (1, 1, 25, 3)


def test_random_crop_resize_takes_a_contiguous_window():
    rng = np.random.default_rng(0)
    for _ in range(20):
        out = random_crop_resize(ramp(1, 100), 10, rng, min_ratio=0.5)
        values = out[0, :, 0, 0]
        step = np.diff(values)
        assert out.shape == (1, 10, 25, 3)
        np.testing.assert_allclose(step, step[0], rtol=1e-4)  # linear ramp stays linear: one window
        span = values[-1] - values[0] + 1  # frames covered by the window
        assert 49 <= span <= 100 and 1 <= values[0] and values[-1] <= 100


def test_random_rotation_is_one_rotation_per_clip():
    clip = make_clip("hand waving").frames
    clip = np.concatenate([clip, clip + np.float32([1, 0, 0])])  # two bodies
    out = random_rotation(clip, np.random.default_rng(3), max_angle=0.3)
    # recover the rotation from all points at once: if it is one rotation, the fit is exact
    a, b = clip.reshape(-1, 3).astype(np.float64), out.reshape(-1, 3).astype(np.float64)
    rot, *_ = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(a @ rot, b, atol=1e-4)
    np.testing.assert_allclose(rot.T @ rot, np.eye(3), atol=1e-5)
    angle = np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1))
    assert 0 < angle <= 0.3 * np.sqrt(3) + 1e-6
    np.testing.assert_allclose(random_rotation(clip, np.random.default_rng(1), max_angle=0.0), clip)


def test_rotation_matrix_axes():
    np.testing.assert_allclose(rotation_matrix([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_matrix([np.pi / 2, 0, 0]) @ [0, 1, 0], [0, 0, 1], atol=1e-12)


def test_rotation_keeps_absent_bodies_zero():
    f = np.zeros((2, 4, 25, 3), np.float32)
    f[0] = 1
    out = random_rotation(f, np.random.default_rng(0))
    assert not out[1].any() and out[0].any()


def test_pad_bodies():
    out = pad_bodies(ramp(1, 4))
    assert out.shape == (2, 4, 25, 3) and not out[1].any()
    np.testing.assert_array_equal(out[0], ramp(1, 4)[0])
    three = pad_bodies(ramp(3, 4), 2)
    np.testing.assert_array_equal(three, ramp(3, 4)[:2])


def test_to_model_input_is_deterministic_centre_resize_pad():
    clip = make_clip("clapping")
    x = to_model_input(clip)
    assert x.shape == (3, 64, 25, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, to_model_input(clip.frames))
    np.testing.assert_array_equal(x[:, 0, 1, 0], [0, 0, 0])  # spine mid of the first frame is the origin
    assert not x[..., 1].any()  # the missing second body is zeros
    expected = resize_frames(clip.frames - clip.frames[0, 0, 1], 64)[0].transpose(2, 0, 1)
    np.testing.assert_allclose(x[..., 0], expected, atol=1e-6)
    assert to_model_input(clip.frames[0], num_frames=32).shape == (3, 32, 25, 2)  # (T, 25, 3) accepted


def test_to_model_input_batch_stacks():
    clips = [make_clip("clapping"), make_clip("jump up").frames, Clip(np.ones((2, 1, 25, 3)))]
    batch = to_model_input_batch(clips, num_frames=16)
    assert batch.shape == (3, 3, 16, 25, 2)
    for i, c in enumerate(clips):
        np.testing.assert_array_equal(batch[i], to_model_input(c, 16))
    assert to_model_input_batch([]).shape == (0, 3, 64, 25, 2)


def test_augment_is_random_but_reproducible():
    frames = make_clip("kicking something").frames
    a = augment(frames, np.random.default_rng(5))
    assert a.shape == (3, 64, 25, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, augment(frames, np.random.default_rng(5)))
    assert not np.allclose(a, augment(frames, np.random.default_rng(6)))
    assert not np.allclose(a, to_model_input(frames))
    np.testing.assert_allclose(a[:, 0, 1, 0], 0, atol=1e-6)  # still centred
    assert not a[..., 1].any()


@pytest.mark.parametrize("bad", [np.zeros((2, 3, 24, 3)), np.zeros((1, 0, 25, 3)), np.zeros((25, 3))])
def test_bad_shapes_refused(bad):
    with pytest.raises(ValueError, match=r"\(M, T, 25, 3\)"):
        to_model_input(bad)


# ---------------------------------------------------------------------- canonical-skeleton spec (issue 11)
from star.skeleton.canonical import LEGACY, Canonical  # noqa: E402
from star.skeleton.transforms import canonical_frames  # noqa: E402

SPEC = Canonical.parse("view,joints,scale,smooth=1.0")


def _frames():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 40, 25, 3)).astype(np.float32) * 0.2
    base[..., 1] += np.linspace(0, 1, 25)[None, None, :]  # some vertical extent
    return base


def test_legacy_and_none_are_the_old_preprocessing():
    f = _frames()
    old = np.ascontiguousarray(pad_bodies(resize_frames(center_on_spine_mid(f), 64)).transpose(3, 1, 2, 0))
    assert np.array_equal(to_model_input(f, 64), old)
    assert np.array_equal(to_model_input(f, 64, LEGACY), old)
    assert np.array_equal(to_model_input(f, 64, None), old)
    assert np.array_equal(augment(f, np.random.default_rng(1), 64, canonical=LEGACY),
                          augment(f, np.random.default_rng(1), 64))


def test_spec_is_applied_first_everywhere():
    f = _frames()
    canon = SPEC.apply(f)
    assert not np.allclose(canon, f)
    assert np.array_equal(canonical_frames(f, SPEC), canon)
    assert np.array_equal(to_model_input(f, 32, SPEC), to_model_input(canon, 32))
    assert np.array_equal(to_model_input_batch([f, f], 32, SPEC), np.stack([to_model_input(canon, 32)] * 2))
    # augment: the same spec first, then the same random crop / rotation for the same generator state
    assert np.array_equal(augment(f, np.random.default_rng(5), 32, canonical=SPEC),
                          augment(canon, np.random.default_rng(5), 32))
    assert to_model_input_batch([], 32, SPEC).shape == (0, 3, 32, 25, 2)
