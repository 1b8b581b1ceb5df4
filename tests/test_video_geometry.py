"""Exact values for the BlazePose pieces written in star.video: anchors, decoding, NMS, ROI, NTU mapping,
placement and smoothing. Pure numpy/OpenCV on synthetic inputs: no models, no video files."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("cv2", reason="opencv-python-headless is needed for video input (requirements.txt)")

from star.video.anchors import ssd_anchors  # noqa: E402
from star.video.detector import decode_detections, merge_across_regions, square_regions, weighted_nms  # noqa: E402
from star.video.ntu_map import (BLAZEPOSE_NAMES, blazepose_to_ntu, ntu_confidence, root_translation,  # noqa: E402
                                to_ntu_axes)
from star.video.roi import crop_matrix, crop_to_image, rect_from_points, rotate_world, warp_crop  # noqa: E402
from star.video.smoothing import fill_gaps, weighted_smooth  # noqa: E402


# ------------------------------------------------------------------------------------------ anchors
def test_anchor_count_first_and_last():
    a = ssd_anchors()
    assert a.shape == (2254, 4)
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28, 1, 1], atol=1e-7)
    np.testing.assert_allclose(a[-1], [6.5 / 7, 6.5 / 7, 1, 1], atol=1e-7)
    # layer boundaries: 28x28x2 then 14x14x2 then 7x7x6
    np.testing.assert_allclose(a[1567, :2], [27.5 / 28, 27.5 / 28], atol=1e-7)
    np.testing.assert_allclose(a[1568, :2], [0.5 / 14, 0.5 / 14], atol=1e-7)
    np.testing.assert_allclose(a[1960, :2], [0.5 / 7, 0.5 / 7], atol=1e-7)
    assert (a[1960:1966, :2] == a[1960, :2]).all()  # six anchors share each stride-32 cell


# ------------------------------------------------------------------------------------------ decoding
def test_decode_box_keypoints_and_score():
    anchors = ssd_anchors()
    raw = np.zeros((len(anchors), 12))
    logits = np.full(len(anchors), -200.0)  # clipped to -100
    raw[0] = [22.4, -11.2, 44.8, 89.6, 0, 0, 22.4, 22.4, -22.4, 0, 0, 224]
    logits[0] = 0.0
    boxes, kps, scores = decode_detections(raw, logits[:, None], anchors)
    ax = ay = 0.5 / 28
    cx, cy, w, h = ax + 0.1, ay - 0.05, 0.2, 0.4
    np.testing.assert_allclose(boxes[0], [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], atol=1e-12)
    np.testing.assert_allclose(kps[0], [[ax, ay], [ax + 0.1, ay + 0.1], [ax - 0.1, ay], [ax, ay + 1.0]], atol=1e-12)
    assert scores[0] == 0.5
    assert scores[1] == pytest.approx(1 / (1 + math.exp(100)))


def test_weighted_nms_merges_overlaps_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], dtype=float)
    kps = np.array([[[0, 0]], [[4, 0]], [[55, 55]]], dtype=float)
    scores = np.array([0.9, 0.6, 0.8])
    b, k, s = weighted_nms(boxes, kps, scores, 0.3)
    assert s.tolist() == [0.9, 0.8]
    np.testing.assert_allclose(b[0], [0.6 / 1.5, 0, 10 + 0.6 / 1.5, 10])
    np.testing.assert_allclose(k[0], [[2.4 / 1.5, 0]])
    np.testing.assert_allclose(b[1], boxes[2])
    # below the IoU threshold nothing merges
    b2, _, s2 = weighted_nms(boxes[[0, 1]] + [[0, 0, 0, 0], [8, 0, 8, 0]], kps[:2], scores[:2], 0.3)
    assert len(s2) == 2


def test_merge_across_regions_keeps_two_hugging_people_apart():
    # (hip, body-scale point, shoulder, upper body) for: person A at two scales, person B 80 px to the right
    a1 = [[1000, 600], [1000, 300], [1000, 420], [1000, 200]]
    a2 = [[1010, 590], [1012, 280], [1004, 410], [1000, 190]]
    b = [[1080, 600], [1080, 300], [1080, 420], [1080, 200]]
    kps = np.array([a1, a2, b], dtype=float)
    merged, scores = merge_across_regions(kps, np.array([0.9, 0.6, 0.8]))
    assert scores.tolist() == [0.9, 0.8]
    np.testing.assert_allclose(merged[0], (0.9 * kps[0] + 0.6 * kps[1]) / 1.5)
    np.testing.assert_allclose(merged[1], kps[2])


def test_square_regions_cover_a_1080p_frame():
    regions = square_regions(1920, 1080, (1, 2))
    assert regions[0] == (0.0, -420.0, 1920.0)  # the whole frame, letterboxed
    tiles = regions[1:]
    assert {side for _, _, side in tiles} == {1080.0, 540.0}
    for side in (1080.0, 540.0):
        xs = sorted({x for x, _, s in tiles if s == side})
        ys = sorted({y for _, y, s in tiles if s == side})
        assert xs[0] == 0 and xs[-1] + side == 1920 and ys[0] == 0 and ys[-1] + side == 1080
        assert all(b - a <= 0.75 * side + 1e-9 for a, b in zip(xs, xs[1:]))  # >= 25 % overlap


# ------------------------------------------------------------------------------------------ ROI
def test_rect_from_points_upright_and_rotated():
    r = rect_from_points((100, 200), (100, 100))
    assert (r.cx, r.cy, r.side, r.angle) == (100, 200, 250, 0)
    np.testing.assert_allclose(crop_to_image(np.array([[0.5, 0.0]]), r), [[100, 75]])
    right = rect_from_points((100, 200), (200, 200))  # body pointing to the image right
    assert right.angle == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(crop_to_image(np.array([[0.5, 0.0]]), right), [[225, 200]], atol=1e-9)
    down = rect_from_points((100, 200), (100, 300))  # upside down: wraps to -pi
    assert down.angle == pytest.approx(-math.pi)
    np.testing.assert_allclose(crop_to_image(np.array([[0.5, 0.0]]), down), [[100, 325]], atol=1e-9)


def test_warp_crop_matches_crop_to_image():
    image = np.zeros((400, 400, 3), dtype=np.uint8)
    image[148:153, 298:303] = 255  # a dot centred at (300, 150)
    rect = rect_from_points((200, 200), (300, 200), scale=1.0)  # side 200, angle +pi/2
    crop = warp_crop(image, rect, 100)
    ys, xs = np.nonzero(crop[:, :, 0] > 128)
    centre = np.array([[xs.mean() + 0.5, ys.mean() + 0.5]]) / 100  # pixel centres, normalised
    np.testing.assert_allclose(crop_to_image(centre, rect), [[300, 150]], atol=2.5)
    m = crop_matrix(rect, 100)
    np.testing.assert_allclose(m @ [50, 50, 1], [200, 200])


def test_rotate_world_follows_the_crop():
    np.testing.assert_allclose(rotate_world(np.array([[0.0, -1.0, 0.3]]), math.pi / 2), [[1.0, 0.0, 0.3]], atol=1e-12)


# ------------------------------------------------------------------------------------------ NTU mapping
def synthetic_blazepose() -> np.ndarray:
    """A standing person facing the camera, BlazePose world axes (x image right, y down, z away), metres."""
    p = np.zeros((33, 3))
    side = {"left": 1, "right": -1}  # the person's left appears on the image right
    for name, (x, y, z) in {
        "nose": (0, -0.62, -0.1), "ear": (0.07, -0.64, 0), "shoulder": (0.18, -0.5, 0), "elbow": (0.2, -0.22, 0),
        "wrist": (0.2, 0.02, 0), "pinky": (0.22, 0.1, 0), "index": (0.18, 0.12, 0), "thumb": (0.16, 0.07, -0.02),
        "hip": (0.12, 0, 0), "knee": (0.12, 0.42, 0), "ankle": (0.12, 0.8, 0), "heel": (0.12, 0.85, 0.05),
        "foot index": (0.12, 0.86, -0.15),
    }.items():
        for s, sign in side.items():
            key = f"{s} {name}"
            if key in BLAZEPOSE_NAMES:
                p[BLAZEPOSE_NAMES.index(key)] = (sign * x, y, z)
        if name in BLAZEPOSE_NAMES:
            p[BLAZEPOSE_NAMES.index(name)] = (x, y, z)
    return p


def test_ntu_mapping_on_a_synthetic_pose():
    ntu = to_ntu_axes(blazepose_to_ntu(synthetic_blazepose()))
    expect = {
        0: (0, 0, 0), 20: (0, 0.5, 0), 1: (0, 0.575 * 0.5, 0), 2: (0, 0.5 + 0.14 * 0.5, 0), 3: (0, 0.64, 0),
        4: (-0.18, 0.5, 0), 8: (0.18, 0.5, 0), 6: (-0.2, -0.02, 0), 10: (0.2, -0.02, 0),
        7: (-0.2, -0.065, 0), 21: (-0.18, -0.12, 0), 22: (-0.16, -0.07, -0.02),
        12: (-0.066, 0, 0), 16: (0.066, 0, 0), 13: (-0.12, -0.42, 0), 14: (-0.12, -0.8, 0), 15: (-0.12, -0.86, -0.15),
        19: (0.12, -0.86, -0.15),
    }
    for joint, xyz in expect.items():
        np.testing.assert_allclose(ntu[joint], xyz, atol=1e-12, err_msg=f"NTU joint {joint}")
    # a person facing the camera has the left shoulder at smaller x, as in genuine NTU clips
    assert ntu[4, 0] < ntu[8, 0] and ntu[3, 1] > ntu[0, 1]


def test_ntu_confidence_means_sources():
    conf = np.zeros(33)
    conf[[23, 24]] = [1.0, 0.5]
    conf[11] = 0.2
    c = ntu_confidence(conf)
    assert c[0] == pytest.approx(0.75) and c[4] == pytest.approx(0.2) and c[20] == pytest.approx(0.1)


def test_root_translation_recovers_position():
    world = synthetic_blazepose()
    world[:, 2] = 0.0  # a flat person: weak perspective is exact
    t = np.array([0.4, -0.2, 3.5])
    f, centre = 1000.0, (960.0, 540.0)
    image = f * (world[:, :2] + t[:2]) / t[2] + centre
    np.testing.assert_allclose(root_translation(world, image, np.ones(33), f, centre), t, rtol=1e-9)
    weights = np.ones(33)
    weights[:11] = 0
    image[:11] += 500  # bad points with zero weight change nothing
    np.testing.assert_allclose(root_translation(world, image, weights, f, centre), t, rtol=1e-9)


# ------------------------------------------------------------------------------------------ smoothing
def test_weighted_smooth_ignores_zero_weight_samples():
    x = np.ones((9, 1, 3))
    x[4] = 100.0
    w = np.ones((9, 1))
    w[4] = 0.0
    out = weighted_smooth(x, w, 1.0)
    np.testing.assert_allclose(out, 1.0)
    const = weighted_smooth(np.full((5, 2, 3), 2.0), np.full((5, 2), 0.3), 3.0)  # kernel longer than the clip
    np.testing.assert_allclose(const, 2.0)


def test_fill_gaps_interpolates_short_gaps_only():
    x = np.arange(10, dtype=float)[:, None]
    present = np.array([1, 0, 0, 1, 1, 0, 0, 0, 0, 1], dtype=bool)
    out, filled = fill_gaps(np.where(present[:, None], x, 0), present, 2)
    np.testing.assert_allclose(out[:4, 0], [0, 1, 2, 3])
    assert filled.tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0, 1]
