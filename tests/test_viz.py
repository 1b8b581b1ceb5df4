"""Plotly figure builders (star/viz.py): trace/frame counts, part colours, equal axis ranges, hover data."""

from __future__ import annotations

import numpy as np
import pytest

from star import viz
from star.skeleton.clip import Clip
from star.skeleton.topology import BONES, JOINT_NAMES, partition


def _clip(bodies: int = 1, frames: int = 10, seed: int = 0) -> Clip:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(bodies, frames, 25, 3)).astype(np.float32) * 0.3
    f[..., 2] += 3.0  # in front of the camera
    return Clip(f, source="synthetic")


def test_animation_traces_frames_and_slider():
    fig = viz.skeleton_animation(_clip(frames=10), max_frames=60)
    assert len(fig.data) == 12  # 6 parts x (bones, joints)
    assert len(fig.frames) == 10
    assert all(len(fr.data) == 12 for fr in fig.frames)
    assert [s.label for s in fig.layout.sliders[0].steps] == [str(i) for i in range(10)]
    labels = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert any("play" in lab for lab in labels) and any("pause" in lab for lab in labels)


def test_animation_subsamples_long_clips_keeping_ends():
    fig = viz.skeleton_animation(_clip(frames=300), max_frames=50)
    names = [fr.name for fr in fig.frames]
    assert len(names) == 50 and names[0] == "0" and names[-1] == "299"


def test_animation_colours_by_part_and_joint_counts():
    clip = _clip(bodies=1, frames=3)
    fig = viz.skeleton_animation(clip)
    parts = list(partition(6).items())
    for k, (name, joints) in enumerate(parts):
        bones, marks = fig.data[2 * k], fig.data[2 * k + 1]
        assert marks.name == name and marks.marker.color == viz.PART_COLOURS[k]
        assert bones.line.color == viz.PART_COLOURS[k]
        assert len(marks.x) == len(joints)
        # joint positions are the clip's, frame 0, to 0.1 mm (viz.COORD_DECIMALS)
        np.testing.assert_allclose(marks.x, clip.frames[0, 0, list(joints), 0], rtol=0, atol=0.5e-4 + 1e-9)
    # every bone drawn once: 3 entries per bone (child, parent, gap)
    assert sum(len(fig.data[2 * k].x) for k in range(6)) == 3 * len(BONES)
    assert len(set(viz.PART_COLOURS)) == 6


def test_animation_draws_both_bodies_and_skips_absent_ones():
    clip = _clip(bodies=2, frames=4)
    clip.frames[1, 2:] = 0  # second body leaves after frame 1
    fig = viz.skeleton_animation(clip)
    head = len(partition(6)["head"])
    assert len(fig.frames[0].data[1].x) == 2 * head
    assert len(fig.frames[3].data[1].x) == head
    assert "body 2" in fig.data[1].text[-1]  # the figure's trace holds the hover texts of the first frame's bodies
    assert fig.frames[0].data[1].text is None  # a frame with the same bodies carries only coordinates
    assert len(fig.frames[3].data[1].text) == head and "body 2" not in fig.frames[3].data[1].text[-1]
    assert fig.frames[0].data[1].marker.color is None and fig.data[1].marker.color == viz.PART_COLOURS[0]


def test_animation_axis_ranges_equal_and_cover_joints():
    clip = _clip(bodies=2, frames=5)
    clip.frames[0, :, :, 1] *= 4  # tall in y
    fig = viz.skeleton_animation(clip)
    sc = fig.layout.scene
    ranges = [sc.xaxis.range, sc.yaxis.range, sc.zaxis.range]
    spans = [hi - lo for lo, hi in ranges]
    assert spans[0] == pytest.approx(spans[1]) == pytest.approx(spans[2])
    for d, (lo, hi) in enumerate(ranges):
        assert lo <= clip.frames[..., d].min() and hi >= clip.frames[..., d].max()
    assert sc.aspectmode == "cube"
    assert (sc.camera.up.x, sc.camera.up.y, sc.camera.up.z) == (0, 1, 0)


def test_cube_ranges_ignore_zero_padding():
    f = np.zeros((2, 3, 25, 3), np.float32)
    f[0] = 1.0
    f[0, :, 0] = [1.0, 2.0, 3.0]
    r = viz.cube_ranges(f, pad=0.0)
    # present joints span x,y,z in [1,1],[1,2],[1,3]: half-span 1 around centres 1, 1.5, 2
    assert r == [[0.0, 2.0], [0.5, 2.5], [1.0, 3.0]]


def test_topk_bar_order_and_seen_colours():
    top = [{"class": "a", "score": 0.9}, {"class": "b", "score": 0.5}, {"class": "c", "score": 0.1}]
    fig = viz.topk_bar(top, unseen=["a", "c"])
    bar = fig.data[0]
    assert list(bar.y) == ["c", "b", "a"]  # best drawn on top
    assert list(bar.x) == [0.1, 0.5, 0.9]
    assert bar.marker.color[0] == bar.marker.color[2] != bar.marker.color[1]


def test_topk_bar_leaves_room_for_the_value_of_a_negative_score():
    fig = viz.topk_bar([{"class": "a", "score": 1.5}, {"class": "b", "score": -0.5}])
    assert tuple(fig.layout.xaxis.range) == pytest.approx((-0.5 - 0.3 * 2.0, 1.5 + 0.05 * 2.0))
    assert viz.topk_bar([{"class": "a", "score": 0.9}]).layout.xaxis.range is None  # all >= 0: plotly's own range


def test_part_attention_heatmaps_split_by_part():
    att = np.arange(16 * 25, dtype=float).reshape(16, 25)
    fig = viz.part_attention_heatmaps(att)
    parts = list(partition(6).values())
    assert len(fig.data) == 6
    for trace, joints in zip(fig.data, parts):
        assert list(trace.x) == [JOINT_NAMES[j] for j in joints]
        np.testing.assert_array_equal(np.asarray(trace.z), att[:, list(joints)])
    with pytest.raises(ValueError, match="T', 25"):
        viz.part_attention_heatmaps(np.zeros((4, 20)))


def test_part_match_heatmap_columns():
    ps = np.arange(12, dtype=float).reshape(6, 2).repeat(2, axis=1)[:, :3]
    fig = viz.part_match_heatmap(ps, ["p%d" % i for i in range(6)], ["x", "y", "z"], [2, 0])
    assert list(fig.data[0].x) == ["z", "x"]
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), ps[:, [2, 0]])


def test_su_curve_points_in_percent():
    fig = viz.su_curve([0.8, 0.5, 0.0], [0.0, 0.4, 0.6], current=(0.5, 0.4), area=0.3, reference=(0.8, 0.0))
    assert len(fig.data) == 3
    assert list(fig.data[0].x) == [0.0, 40.0, 60.0] and list(fig.data[0].y) == [80.0, 50.0, 0.0]
    assert (fig.data[2].x[0], fig.data[2].y[0]) == (40.0, 50.0)
    assert "30.00" in fig.layout.title.text


def test_confusion_heatmap_rates_and_counts():
    counts = np.array([[3, 1], [0, 0]])
    fig = viz.confusion_heatmap(counts, ["a", "b"])
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z, [[0.75, 0.25], [0, 0]])
    cd = np.asarray(fig.data[0].customdata)
    assert cd[0, 1].tolist() == [1, 4]
    with pytest.raises(ValueError):
        viz.confusion_heatmap(counts, ["a", "b", "c"])


def test_embedding_scatter_groups_and_symbols():
    xy = np.arange(10, dtype=float).reshape(5, 2)
    fig = viz.embedding_scatter(xy, ["a", "b", "a", "c", "b"], [f"s{i}" for i in range(5)],
                                symbols=["seen", "unseen", "seen", "seen", "unseen"])
    assert [t.name for t in fig.data] == ["a", "b", "c"]
    assert list(fig.data[0].text) == ["s0", "s2"]
    assert list(fig.data[1].marker.symbol) == ["diamond", "diamond"]
    assert list(fig.data[0].marker.symbol) == ["circle", "circle"]
    assert fig.data[0].marker.color != fig.data[1].marker.color


def test_attention_relative_to_uniform_is_one_for_a_uniform_map():
    t = 4
    att = np.zeros((t, 25))
    for joints in partition(6).values():
        att[:, list(joints)] = 1.0 / (t * len(joints))  # each part's weights sum to 1, spread evenly
    np.testing.assert_allclose(viz.attention_relative_to_uniform(att), np.ones((t, 25)))
    att[0, 3] *= 2  # twice the uniform share on one head joint
    assert viz.attention_relative_to_uniform(att)[0, 3] == pytest.approx(2.0)
    fig = viz.part_attention_heatmaps(att, relative=True)
    assert fig.layout.coloraxis.cmin == -2 and fig.layout.coloraxis.cmax == 2  # log2: x0.25 .. x4
    head = list(partition(6)["head"]).index(3)
    assert fig.data[0].z[0][head] == pytest.approx(1.0)  # log2(2)
    assert fig.data[0].customdata[0][head][1] == pytest.approx(att[0, 3])  # the raw weight in the hover


def test_topk_bar_probabilities_in_percent():
    fig = viz.topk_bar([{"class": "a", "score": 2.0, "prob": 0.75}, {"class": "b", "score": 1.0, "prob": 0.25}],
                       probability=True)
    assert list(fig.data[0].x) == [25.0, 75.0] and list(fig.data[0].y) == ["b", "a"]
    assert list(fig.layout.xaxis.range) == [0, 100] and fig.data[0].text[1] == "75.0 %"


def test_animation_axes_have_no_tick_labels_and_cube_side_is_their_span():
    clip = _clip(bodies=1, frames=3)
    sc = viz.skeleton_animation(clip).layout.scene
    for ax in (sc.xaxis, sc.yaxis, sc.zaxis):
        assert ax.showticklabels is False and ax.range[1] - ax.range[0] == pytest.approx(viz.cube_side(clip))
