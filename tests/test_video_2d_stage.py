"""The 2-D stage of the video pipeline (issue 30): heatmap refinement, the One Euro filter, and the pipeline
on ``two_people.mp4`` with both on.

The refinement and filter tests are pure numpy (hand-computed values); the video test needs the BlazePose
models and the shared videos and skips with the reason when they are missing. How close the result comes
to mediapipe's is measured by ``bench/pose2d_vs_mediapipe.py`` (docs/VIDEO.md, "2-D stage").
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from star.video.landmarks import PoseLandmarks, decode_landmarks, refine_from_heatmap
from star.video.roi import RotatedRect
from star.video.smoothing import (CROP_FILTER, LANDMARK_FILTER, OneEuroFilter, OneEuroSettings, object_scale,
                                  smoothing_factor)


def logit(p):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def blob_heatmap(centres, peak: float = 0.95, sigma: float = 0.8, size: int = 64) -> np.ndarray:
    """(size, size, N) logits of Gaussian blobs of confidence ``peak`` at (col, row) ``centres`` (cells)."""
    rows, cols = np.mgrid[0:size, 0:size]
    conf = [1e-4 + peak * np.exp(-((cols - c) ** 2 + (rows - r) ** 2) / (2 * sigma ** 2)) for c, r in centres]
    return logit(np.stack(conf, axis=-1))


# ----------------------------------------------------------------------------------- heatmap refinement
def test_landmark_moves_to_an_off_centre_blob():
    # landmark 0 in cell (30, 30); its heatmap blob sits at cell (31, 29): it moves there (cell k -> k / 64)
    # landmark 1 in cell (10, 50), blob at (12, 52): also inside the 7x7 window
    xy = np.array([[30.4 / 64, 30.7 / 64], [10.2 / 64, 50.9 / 64]])
    out = refine_from_heatmap(xy, blob_heatmap([(31, 29), (12, 52)]))
    np.testing.assert_allclose(out * 64, [[31, 29], [12, 52]], atol=0.05)


def test_low_confidence_or_outside_leaves_the_landmark_alone():
    xy = np.array([[30.4 / 64, 30.7 / 64], [1.2, 0.5], [0.5, -0.2]])
    heatmap = blob_heatmap([(31, 29), (20, 20), (20, 20)], peak=0.45)  # max sigmoid < 0.5 everywhere
    np.testing.assert_array_equal(refine_from_heatmap(xy, heatmap), xy)
    confident = blob_heatmap([(31, 29), (63, 32), (32, 0)])
    out = refine_from_heatmap(xy, confident)
    assert not np.allclose(out[0], xy[0])  # confident: refined
    np.testing.assert_array_equal(out[1:], xy[1:])  # outside the crop (x > 1, y < 0): kept


def test_single_hot_cell_gives_its_corner_exactly_even_at_the_edge():
    # one cell at logit +30 in a window of logit -30: the weighted mean is that cell, k / 64, to ~1e-12
    heatmap = np.full((64, 64, 2), -30.0)
    heatmap[2, 1, 0] = 30.0  # landmark 0 sits in cell (0, 0): its window is cut to rows/cols 0..3
    heatmap[40, 33, 1] = 30.0
    xy = np.array([[0.3 / 64, 0.9 / 64], [35.5 / 64, 38.0 / 64]])
    np.testing.assert_allclose(refine_from_heatmap(xy, heatmap), [[1 / 64, 2 / 64], [33 / 64, 40 / 64]], atol=1e-10)
    # kernel 3 no longer reaches cell (33, 40) from cell (35, 38): unchanged
    np.testing.assert_array_equal(refine_from_heatmap(xy, heatmap, kernel_size=3)[1], xy[1])


def test_decode_refines_x_and_y_only():
    raw = np.zeros((39, 5))
    raw[:, :2] = 128.0 + 2.0  # every landmark at crop pixel (130, 130): heatmap cell (32, 32)
    raw[:, 2], raw[:, 3], raw[:, 4] = 7.0, 2.0, 3.0
    rect = RotatedRect(500.0, 400.0, 256.0, 0.0)  # 1 crop pixel = 1 frame pixel, no rotation
    heatmap = blob_heatmap([(34, 31)] * 39)
    plain = decode_landmarks(raw.ravel(), np.zeros(117), 0.9, rect)
    refined = decode_landmarks(raw.ravel(), np.zeros(117), 0.9, rect, heatmap=heatmap)
    np.testing.assert_allclose(plain.image[:, :2], [[502.0, 402.0]] * 39, atol=1e-9)  # centre + (130 - 128)
    # cell 34 -> crop pixel 34 * 4 = 136 -> frame 500 + 8; cell 31 -> 124 -> 400 - 4
    np.testing.assert_allclose(refined.image[:, :2], [[508.0, 396.0]] * 39, atol=0.2)
    np.testing.assert_array_equal(refined.image[:, 2], plain.image[:, 2])
    np.testing.assert_array_equal(refined.visibility, plain.visibility)
    np.testing.assert_array_equal(refined.presence, plain.presence)


# -------------------------------------------------------------------------------------- One Euro filter
def test_smoothing_factor():
    assert smoothing_factor(1.0, 30.0) == pytest.approx(2 * math.pi / (2 * math.pi + 30))  # 0.1731
    assert smoothing_factor(1.0, 2 * math.pi) == pytest.approx(0.5)
    # mediapipe's comments: min_cutoff 0.1 at 30 fps -> ~0.02 for a still landmark; 0.01 -> ~0.002
    assert smoothing_factor(0.1, 30.0) == pytest.approx(0.0205, abs=5e-4)
    assert smoothing_factor(0.01, 30.0) == pytest.approx(0.0021, abs=5e-5)


def test_a_constant_signal_stays_constant():
    f = OneEuroFilter(LANDMARK_FILTER, 28.05)
    x = np.array([[3.0, -7.5, 120.25]] * 3)
    for _ in range(50):
        np.testing.assert_allclose(f(x, 1 / 80), x, rtol=1e-14)  # alpha x + (1 - alpha) x, up to rounding


def test_without_beta_a_step_is_followed_exponentially():
    # rate 2 pi and cutoff 1 Hz give alpha = 1 / (1 + 1) = 0.5: a unit step is followed with lag 1/2, 1/4, 1/8 ...
    f = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=0.0), rate=2 * math.pi)
    out = [float(f(v)) for v in (0.0, 1.0, 1.0, 1.0, 1.0)]
    np.testing.assert_allclose(out, [0.0, 0.5, 0.75, 0.875, 0.9375], rtol=1e-12)


def test_beta_opens_the_cutoff_with_the_smoothed_speed():
    # rate 2 pi: alpha(c) = c / (1 + c); derivative cutoff 1 Hz -> a_d = 0.5; beta 1, min cutoff 1 Hz
    f = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=1.0, derivative_cutoff=1.0), rate=2 * math.pi)
    assert float(f(0.0)) == 0.0  # first sample passes; speed estimate 0
    # step: raw speed (1 - 0) * 2 pi = 2 pi; smoothed speed 0.5 * 2 pi = pi; cutoff 1 + pi
    y1 = (1 + math.pi) / (2 + math.pi)
    assert float(f(1.0)) == pytest.approx(y1, rel=1e-12)
    # still: raw speed 0; smoothed speed pi / 2; cutoff 1 + pi / 2
    a2 = (1 + math.pi / 2) / (2 + math.pi / 2)
    assert float(f(1.0)) == pytest.approx(a2 + (1 - a2) * y1, rel=1e-12)


def test_speed_is_measured_in_object_sizes():
    # the same step on an object twice as large (scale 1/2) is half as fast: smoothed speed pi / 2
    f = OneEuroFilter(OneEuroSettings(min_cutoff=1.0, beta=1.0), rate=2 * math.pi)
    f(np.array([0.0, 0.0]), 0.5)
    np.testing.assert_allclose(f(np.array([1.0, 0.0]), 0.5), [(1 + math.pi / 2) / (2 + math.pi / 2), 0.0], rtol=1e-12)


def test_mediapipe_parameters_follow_motion_but_hold_a_still_point():
    rng = np.random.default_rng(0)
    size, rate = 300.0, 30.0  # a 300 px person at 30 fps
    noise = rng.normal(0, 1.0, 300)  # 1 px of jitter around a still point: damped to less than half
    body = OneEuroFilter(LANDMARK_FILTER, rate)
    still = np.array([float(body(50.0 + n, 1 / size)) for n in noise])
    assert still[100:].std() < 0.5 * noise[100:].std()
    # a 20 px step: speed 20 / 300 * 30 = 2 person sizes / s, smoothed 0.1731 * 2 = 0.346, cutoff
    # 0.1 + 40 * 0.346 = 13.95 Hz, alpha = 1 / (1 + 30 / (2 pi 13.95)) = 0.745: 14.9 px after one frame
    a_d = smoothing_factor(1.0, rate)
    alpha = smoothing_factor(0.1 + 40 * a_d * 2.0, rate)
    body = OneEuroFilter(LANDMARK_FILTER, rate)
    out = [float(body(v, 1 / size)) for v in [0.0] * 5 + [20.0] * 6]
    assert out[5] == pytest.approx(20 * alpha, rel=1e-12) and out[5] == pytest.approx(14.90, abs=0.01)
    assert out[7] > 0.97 * 20 and out[10] > 0.995 * 20  # the rest within a few frames
    # the crop filter (min cutoff 0.01 Hz, beta 1) is much slower: 1.4 px after one frame, 5 after six
    crop = OneEuroFilter(CROP_FILTER, rate)
    out = [float(crop(v, 1 / size)) for v in [0.0] * 5 + [20.0] * 6]
    assert out[5] == pytest.approx(20 * smoothing_factor(0.01 + a_d * 2.0, rate), rel=1e-12)
    assert 1.3 < out[5] < 1.5 and 4.5 < out[10] < 5.5


def test_pose_filter_filters_body_and_crop_points_separately():
    from star.video.tracking import CROP_POINTS, PoseFilter

    rng = np.random.default_rng(1)
    rect = RotatedRect(0, 0, 1, 0)
    poses = [PoseLandmarks(rng.normal(300, 50, (39, 3)), np.ones(39), np.ones(39), np.zeros((39, 3)), 1.0, rect)
             for _ in range(4)]
    copies = [pose.image.copy() for pose in poses]
    pf = PoseFilter(LANDMARK_FILTER, CROP_FILTER, 25.0)
    body, crop = OneEuroFilter(LANDMARK_FILTER, 25.0), OneEuroFilter(CROP_FILTER, 25.0)
    for k, pose in enumerate(poses):
        out = pf(pose)
        if k == 0:
            np.testing.assert_array_equal(out.image, pose.image)  # the first sample passes
        np.testing.assert_allclose(out.image[:33], body(pose.image[:33], 1 / object_scale(pose.image[:33])))
        np.testing.assert_allclose(out.image[CROP_POINTS], crop(pose.image[CROP_POINTS],
                                                                1 / object_scale(pose.image[CROP_POINTS])))
        np.testing.assert_array_equal(out.image[35:], pose.image[35:])  # the other auxiliary points: as they came
        np.testing.assert_array_equal(pose.image, copies[k])  # the input is not changed
    off = PoseFilter(None, None, 25.0)
    np.testing.assert_array_equal(off(poses[1]).image, poses[1].image)


# ------------------------------------------------------------------------------------ the pipeline
@pytest.fixture(scope="module")
def two_people_runs():
    pytest.importorskip("cv2", reason="opencv-python-headless is needed for video input (requirements.txt)")
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is needed for video input (requirements.txt)")
    from conftest import shared_video
    from star.video.pipeline import PoseSettings, extract_pose
    from star.video.tracking import TrackerSettings

    path = shared_video("two_people.mp4")
    before = PoseSettings(refine_heatmap=False, tracker=TrackerSettings(landmark_filter=None, crop_filter=None))
    return extract_pose(path), extract_pose(path, before)


def jitter(pose) -> float:
    """Median |x(t+1) - 2 x(t) + x(t-1)| of the 33 landmarks over both bodies, in pixels."""
    x, ok = pose.image[..., :2].astype(np.float64), pose.present
    both = ok[:, :-2] & ok[:, 1:-1] & ok[:, 2:]
    acc = np.linalg.norm(x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2], axis=-1)
    return float(np.median(acc[both]))


def test_two_people_still_found_with_the_2d_stage(two_people_runs):
    pose, before = two_people_runs
    assert pose.joints.shape == (2, 72, 25, 3)
    assert pose.present.all(0).mean() >= 0.9
    # each body stays near where it was found without the filters (the same two people, in the same slots)
    hips = lambda p: p.image[:, :, [23, 24], :2].mean(2)  # noqa: E731
    side = np.linalg.norm(pose.image[:, :, 11, :2] - pose.image[:, :, 12, :2], axis=-1)
    both = pose.present & before.present
    assert (np.linalg.norm(hips(pose) - hips(before), axis=-1)[both] < 2 * np.median(side[both])).mean() > 0.9
    meta = json.loads(json.dumps(pose.to_clip().meta))
    ps = meta["pose_settings"]
    assert ps["refine_heatmap"] is True and ps["heatmap_kernel"] == 7 and ps["heatmap_min_confidence"] == 0.5
    assert ps["tracker"]["landmark_filter"] == {"min_cutoff": 0.1, "beta": 40.0, "derivative_cutoff": 1.0}
    assert ps["tracker"]["crop_filter"] == {"min_cutoff": 0.01, "beta": 1.0, "derivative_cutoff": 1.0}
    assert ps["hfov_deg"] == pytest.approx(84.7)
    assert json.loads(json.dumps(before.to_clip().meta))["pose_settings"]["tracker"]["landmark_filter"] is None


def test_the_filters_take_out_most_of_the_jitter(two_people_runs):
    pose, before = two_people_runs
    assert jitter(pose) < 0.4 * jitter(before), (jitter(pose), jitter(before))
