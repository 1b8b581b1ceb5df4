"""The 2-D -> 3-D lifter: camera geometry, input features, the network, its training views, and the shipped
weights lifting held-out clips back to 3-D."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from star.skeleton.topology import BONES
from star.training.lifter import (MIRROR, TrainSettings, ViewSettings, blazepose_like, clip_tracks, flat_lift,
                                  make_batch, random_views, sample_windows, train_lifter, view_errors)
from star.video.lifter import (INPUT_JOINTS, Lifter, LifterSpec, TemporalLifter, full_skeleton, lifter_features,
                               normalise, pad_edges, project, unproject)
from star.video.pipeline import fill_track

F, C = 1000.0, (960.0, 540.0)


def _walk(t: int = 40, seed: int = 0) -> np.ndarray:
    """A person-like track (T, 25, 3): a fixed pose swinging its arms, 3 m away, y up."""
    rng = np.random.default_rng(seed)
    base = np.zeros((25, 3))
    base[:, 1] = np.linspace(-0.9, 0.7, 25)
    base[:, 0] = rng.uniform(-0.25, 0.25, 25)
    base[:, 2] = 3.0 + rng.uniform(-0.1, 0.1, 25)
    base[0] = (0.0, 0.0, 3.0)
    base[20] = (0.0, 0.5, 3.0)
    track = np.repeat(base[None], t, 0)
    track[:, 6, 1] += 0.2 * np.sin(np.arange(t) / 5)
    return track


# ------------------------------------------------------------------------------------------ geometry
def test_project_hand_computed_and_unproject_inverts_it():
    p = np.array([[0.5, 0.2, 2.0], [-1.0, -0.5, 4.0]])
    uv = project(p, F, C)
    np.testing.assert_allclose(uv, [[960 - 250, 540 - 100], [960 + 250, 540 + 125]])
    np.testing.assert_allclose(unproject(uv, p[:, 2], F, C), p, atol=1e-12)
    np.testing.assert_allclose(normalise(uv, F, C), [[-0.25, -0.1], [0.25, 0.125]])
    pts = np.random.default_rng(1).uniform([-2, -2, 1], [2, 2, 6], (100, 3))
    np.testing.assert_allclose(unproject(project(pts, 1400.0, (320, 240)), pts[:, 2], 1400.0, (320, 240)), pts)


def test_features_are_root_relative_in_spine_lengths():
    xy = np.zeros((3, 25, 2))
    xy[:, 0] = (0.1, 0.2)                # spine base
    xy[:, 20] = (0.1, 0.0)               # spine shoulder: 2-D spine length 0.2
    xy[:, 4] = (0.0, 0.0)
    conf = np.full((3, 25), 0.8)
    f = lifter_features(xy, conf)
    j = len(INPUT_JOINTS)
    assert f.shape == (3, 3 * j + 2) and f.dtype == np.float32
    rel = f[:, :2 * j].reshape(3, j, 2)
    np.testing.assert_allclose(rel[:, INPUT_JOINTS.index(0)], 0.0)
    np.testing.assert_allclose(rel[:, INPUT_JOINTS.index(20)], [[0.0, -1.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(rel[:, INPUT_JOINTS.index(4)], [[-0.5, -1.0]] * 3, atol=1e-6)
    np.testing.assert_allclose(f[:, 2 * j:3 * j], 0.8)
    np.testing.assert_allclose(f[:, -2:], [[0.1, 0.2]] * 3, atol=1e-6)
    # a moved and zoomed view gives the same relative part
    g = lifter_features(xy * 3 + 0.05, conf)
    np.testing.assert_allclose(g[:, :2 * j], f[:, :2 * j], atol=1e-5)


def test_full_skeleton_synthesises_neck_tips_and_thumbs():
    core = np.random.default_rng(0).normal(size=(4, len(INPUT_JOINTS), 3))
    out = full_skeleton(core)
    np.testing.assert_allclose(out[:, INPUT_JOINTS], core)
    np.testing.assert_allclose(out[:, 2], (out[:, 20] + out[:, 3]) / 2)
    np.testing.assert_allclose(out[:, 21], out[:, 7] + (out[:, 7] - out[:, 6]) / 2)
    np.testing.assert_allclose(out[:, 24], out[:, 11])


def test_fill_track_interpolates_and_repeats_ends():
    x = np.array([[0.0], [0.0], [2.0], [0.0], [6.0], [0.0]])
    present = np.array([False, False, True, False, True, False])
    np.testing.assert_allclose(fill_track(x, present)[:, 0], [2, 2, 2, 4, 6, 6])
    np.testing.assert_allclose(fill_track(x, np.zeros(6, bool)), x)


# ------------------------------------------------------------------------------------------ network
def test_network_shapes_receptive_field_and_padding():
    spec = LifterSpec(channels=16)
    assert spec.receptive_field == 27
    model = TemporalLifter(spec).eval()
    out = model(torch.zeros(2, 27 + 9, spec.in_features))
    assert out.shape == (2, 10, spec.out_features)
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(pad_edges(x, 2)[[0, 1, 5, 6]], x[[0, 0, 2, 2]])


def test_lift_shape_units_root_and_determinism(tmp_path):
    torch.manual_seed(0)
    lifter = Lifter(TemporalLifter(LifterSpec(channels=16)), {"note": "untrained"})
    cam = _walk(12)
    uv = project(cam, F, C)
    conf = np.ones((12, 25))
    a = lifter.lift(uv, conf, F, C)
    assert a.shape == (12, 25, 3) and np.isfinite(a).all()
    np.testing.assert_array_equal(a[:, 0], 0.0)  # spine base is the origin
    np.testing.assert_array_equal(a, lifter.lift(uv, conf, F, C))
    back = Lifter.load(lifter.save(tmp_path / "l"))
    np.testing.assert_array_equal(back.lift(uv, conf, F, C), a)
    assert back.record["note"] == "untrained" and back.record["spec"]["channels"] == 16
    with pytest.raises(FileNotFoundError, match="bench/train_lifter.py"):
        Lifter.load(tmp_path / "nothing")


# ------------------------------------------------------------------------------------------ training views
def test_views_are_rigid_and_project_to_their_2d():
    rng = np.random.default_rng(0)
    windows = np.stack([_walk(8, s) for s in range(16)])
    cam, xy = random_views(rng, windows, ViewSettings(mirror_rate=0.0))
    np.testing.assert_allclose(xy, -cam[..., :2] / cam[..., 2:3])
    for a, b in BONES:  # a rotation and a translation keep every bone's length
        np.testing.assert_allclose(np.linalg.norm(cam[..., a, :] - cam[..., b, :], axis=-1),
                                   np.linalg.norm(windows[..., a, :] - windows[..., b, :], axis=-1), atol=1e-9)
    d = cam[:, :, 0, 2]
    assert (d > 1.5).all() and (d < 5.5).all()


def test_mirror_swaps_left_and_right():
    assert MIRROR[4] == 8 and MIRROR[8] == 4 and MIRROR[0] == 0 and MIRROR[21] == 23
    rng = np.random.default_rng(0)
    w = _walk(4)[None]
    cam, _ = random_views(rng, w, ViewSettings(mirror_rate=1.0, yaw_deg=0.0, pitch_deg=(0.0, 0.0), lateral=0.0,
                                               height_m=(0.0, 0.0)))
    centred = w[0] - w[0, :, 0].mean(0)
    np.testing.assert_allclose(cam[0, :, 8, 0] - cam[0, :, 0, 0], -(centred[:, 4, 0] - centred[:, 0, 0]), atol=1e-9)


def test_blazepose_like_errors():
    rng = np.random.default_rng(0)
    _, xy = random_views(rng, np.stack([_walk(30, s) for s in range(8)]))
    quiet = ViewSettings(offset_sd=(0.0, 0.0), jitter_sd=(0.0, 0.0), bad_joint_rate=0.0, hidden_limb_rate=0.0)
    same, conf = blazepose_like(rng, xy, quiet)
    np.testing.assert_allclose(same, xy)
    assert ((conf >= 0.45) & (conf <= 1.0)).all()
    noisy, conf = blazepose_like(rng, xy, ViewSettings(bad_joint_rate=0.5))
    assert not np.allclose(noisy, xy) and conf.min() >= 0.0 and (conf < 0.3).mean() > 0.3


def test_windows_batches_and_training_are_deterministic():
    tracks = clip_tracks(np.concatenate([_walk(30, 0), np.zeros((2, 25, 3)), _walk(5, 1)]), np.array([0, 32, 37]))
    assert [len(t) for t in tracks] == [30, 5]  # absent (all-zero) frames dropped
    w = sample_windows(np.random.default_rng(0), tracks, 6, 10)
    assert w.shape == (6, 10, 25, 3)
    x, y = make_batch(np.random.default_rng(0), tracks, 4, 31, 27)
    assert x.shape == (4, 31, 3 * len(INPUT_JOINTS) + 2) and y.shape == (4, 5, 3 * len(INPUT_JOINTS))
    settings = TrainSettings(steps=3, batch=4, outputs_per_window=2)
    runs = [train_lifter(tracks, settings, spec=LifterSpec(channels=8), log=lambda *_: None) for _ in range(2)]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert runs[0].record["num_tracks"] == 2 and len(runs[0].record["curve"]) == 3


def test_view_errors_and_flat_reference():
    true = _walk(10)
    err = view_errors(true + np.array([0.3, 0.0, 0.0]), true)  # a shifted copy: no error after root alignment
    assert err["mpjpe_m"] == pytest.approx(0.0, abs=1e-12) and err["bone_error_m"] == pytest.approx(0.0, abs=1e-12)
    xy = -true[..., :2] / true[..., 2:3]
    flat = flat_lift(xy, true[:, 0, 2])
    np.testing.assert_allclose(flat[:, :, 2], 3.0)
    np.testing.assert_allclose(flat[:, 0], true[:, 0])  # the root itself is exact


def test_steady_bones_keeps_each_bone_near_its_track_length():
    from star.video.lifter import steady_bones

    track = _walk(20)
    track[5, 6] = track[5, 5] + 0.3 * (track[5, 6] - track[5, 5])  # a forearm shortened to 30 % in one frame
    conf = np.ones((20, 25))
    out = steady_bones(track, conf)
    forearm = lambda x: np.linalg.norm(x[:, 6] - x[:, 5], axis=-1)  # noqa: E731
    typical = np.quantile(forearm(track), 0.75)
    assert forearm(out)[5] == pytest.approx(0.85 * typical, rel=1e-6)  # brought to the band's lower edge
    np.testing.assert_allclose(forearm(out)[6:], np.clip(forearm(track)[6:], 0.85 * typical, 1.15 * typical), rtol=1e-6)
    d_in, d_out = track[5, 6] - track[5, 5], out[5, 6] - out[5, 5]
    np.testing.assert_allclose(d_out / np.linalg.norm(d_out), d_in / np.linalg.norm(d_in), rtol=1e-5)  # direction kept
    rigid = steady_bones(track, conf, band=0.0)
    for a, b in BONES:
        lengths = np.linalg.norm(rigid[:, a] - rigid[:, b], axis=-1)
        assert np.ptp(lengths) < 1e-5
    np.testing.assert_array_equal(out[:, 0], track[:, 0])  # the spine base stays


def test_the_shipped_lifter_lifts_held_out_clips_back(shared_data):
    """Held-out subjects' clips (MSR Action3D even subjects, never trained on) projected through random cameras
    with BlazePose-like errors come back within 15 cm MPJPE, well under the no-depth reference; the shipped
    record says how it was trained and how it did on all of them."""
    from star.data.clipbank import ClipBank
    from star.data.protocols import TEST, odd_subjects_train
    from star.training.lifter import evaluate_views

    lifter = Lifter.load()
    assert lifter.record["data"] == "pool69-all training-protocol clips" and lifter.record["train"]["steps"] >= 1000
    assert lifter.record["test"]["learned"]["mpjpe_m"] < lifter.record["test"]["flat (true root depth)"]["mpjpe_m"]
    bank = ClipBank.load(shared_data / "msr3d.npz")
    held_out = np.flatnonzero(odd_subjects_train(bank) == TEST)[::12]
    tracks = [bank.clip(int(i)).frames[0].astype(np.float64) for i in held_out]
    result = evaluate_views(lifter, tracks, views_per_track=1)
    assert result["learned"]["mpjpe_m"] < 0.15, result
    assert result["learned"]["mpjpe_m"] < 0.75 * result["flat (true root depth)"]["mpjpe_m"], result


def test_turn_arms_moves_one_arm_rigidly_about_its_shoulder():
    from star.training.lifter import turn_arms

    windows = np.stack([_walk(6, s) for s in range(8)])
    np.testing.assert_array_equal(turn_arms(np.random.default_rng(0), windows, 0.0, 60), windows)
    out = turn_arms(np.random.default_rng(0), windows, 1.0, 60)
    moved = np.abs(out - windows).max(axis=(1, 3)) > 1e-9  # (n, 25)
    left, right = [5, 6, 7, 21, 22], [9, 10, 11, 23, 24]
    for row in moved:  # exactly one arm's elbow-to-fingers chain moves; the shoulder and the rest stay
        assert row[left].all() != row[right].all() and row.sum() == 5
    for a, b in BONES:
        np.testing.assert_allclose(np.linalg.norm(out[..., a, :] - out[..., b, :], axis=-1),
                                   np.linalg.norm(windows[..., a, :] - windows[..., b, :], axis=-1), atol=1e-9)
