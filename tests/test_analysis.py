"""star/analysis.py: t-SNE cache, confusion pairs, per-class gains/losses (hand-computed values)."""

from __future__ import annotations

import numpy as np
import pytest

from star import analysis
from star.zsl import gzsl_metrics

# same toy problem as tests/test_zsl.py: margins s* - u* = 0.4, 0.1, 0.3, -0.3
SCORES = np.array([[0.9, 0.1, 0.5], [0.2, 0.6, 0.5], [0.7, 0.1, 0.4], [0.3, 0.2, 0.6]])
LABELS = np.array([0, 1, 2, 2])
SEEN, UNSEEN = [0, 1], [2]


@pytest.fixture(autouse=True)
def _fast_tsne(monkeypatch):
    monkeypatch.setattr(analysis, "TSNE_MAX_ITER", 250)  # sklearn's minimum: keeps the file fast on 2 cores


def _points(n=40, d=8, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2, d)) * 6
    return (centres[np.arange(n) % 2] + rng.normal(size=(n, d))).astype(np.float32)


def test_tsne_cache_hit_returns_identical_array_without_recomputing(tmp_path, monkeypatch):
    pts = _points()
    first = analysis.tsne_embedding(pts, seed=0, cache_dir=tmp_path, key="ck/abc")
    files = list(tmp_path.glob("tsne-*.npy"))
    assert first.shape == (40, 2) and first.dtype == np.float32 and len(files) == 1
    assert "/" not in files[0].name[5:]

    def boom(*a, **k):
        raise AssertionError("recomputed despite a cache hit")

    monkeypatch.setattr(analysis, "compute_tsne", boom)
    again = analysis.tsne_embedding(pts, seed=0, cache_dir=tmp_path, key="ck/abc")
    np.testing.assert_array_equal(first, again)
    # other points or another seed miss the cache
    with pytest.raises(AssertionError, match="recomputed"):
        analysis.tsne_embedding(pts + 1, seed=0, cache_dir=tmp_path, key="ck/abc")
    with pytest.raises(AssertionError, match="recomputed"):
        analysis.tsne_embedding(pts, seed=1, cache_dir=tmp_path, key="ck/abc")


def test_tsne_separates_clusters_and_is_deterministic(monkeypatch):
    monkeypatch.setattr(analysis, "TSNE_MAX_ITER", 500)  # past the early-exaggeration phase
    pts = _points()
    a = analysis.compute_tsne(pts, seed=3)
    b = analysis.compute_tsne(pts, seed=3)
    np.testing.assert_array_equal(a, b)
    # two well-separated clusters (alternating rows): every point's nearest neighbour is in its own cluster
    d = np.linalg.norm(a[:, None] - a[None], axis=-1)
    np.fill_diagonal(d, np.inf)
    assert np.all(np.argmin(d, axis=1) % 2 == np.arange(len(a)) % 2)


def test_tsne_corrupt_cache_is_recomputed(tmp_path):
    pts = _points(n=12)
    path = analysis.tsne_cache_path(tmp_path, "k", pts, 0, analysis.TSNE_PERPLEXITY)
    path.write_bytes(b"not a npy file")
    out = analysis.tsne_embedding(pts, cache_dir=tmp_path, key="k")
    assert out.shape == (12, 2)
    np.testing.assert_array_equal(np.load(path), out)


def test_tsne_tiny_inputs():
    assert analysis.compute_tsne(np.ones((1, 5))).shape == (1, 2)
    out = analysis.compute_tsne(np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]]))
    np.testing.assert_allclose(np.abs(out[:, 0]), [2, 0, 2], atol=1e-6)
    with pytest.raises(ValueError):
        analysis.compute_tsne(np.zeros((0, 3)))


def test_most_confused_pairs_order_and_values():
    cm = np.array([[5, 2, 0], [3, 1, 3], [0, 1, 9]])
    pairs = analysis.most_confused_pairs(cm, ["a", "b", "c"], k=3)
    assert pairs == [
        {"true": "b", "predicted": "a", "count": 3, "rate": 3 / 7},
        {"true": "b", "predicted": "c", "count": 3, "rate": 3 / 7},
        {"true": "a", "predicted": "b", "count": 2, "rate": 2 / 7},
    ]
    # a rectangular matrix with an "other" column: the diagonal is found by name
    rect = np.array([[4, 1, 2], [0, 3, 5]])
    pairs = analysis.most_confused_pairs(rect, ["a", "b"], col_names=["a", "b", "other"])
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [("b", "other", 5), ("a", "other", 2),
                                                                        ("a", "b", 1)]


def test_confusions_from_scores():
    # gamma 0.2: clip0 (0.4) seen, clip1 (0.1) unseen -> 2, clip2 (0.3) seen -> 0, clip3 unseen -> 2
    cm = analysis.gzsl_confusion(SCORES, LABELS, SEEN, 0.2)
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [1, 0, 1]])
    np.testing.assert_array_equal(analysis.zsl_confusion(SCORES, LABELS, UNSEEN), [[2]])


def test_class_gain_loss_hand_computed():
    # gamma 0 -> 0.35: clip1 (0.1) and clip2 (0.3) flip to unseen: class 1 loses 1.0, class 2 gains 0.5
    out = analysis.class_gain_loss(SCORES, LABELS, SEEN, 0.0, 0.35, names=["x", "y", "z"])
    assert out == [
        {"index": 2, "class": "z", "seen": False, "acc_a": 0.5, "acc_b": 1.0, "delta": 0.5},
        {"index": 1, "class": "y", "seen": True, "acc_a": 1.0, "acc_b": 0.0, "delta": -1.0},
    ]
    # consistent with the GZSL metrics at both gammas
    assert gzsl_metrics(SCORES, LABELS, SEEN, UNSEEN, 0.35)["U"] == 1.0
    assert analysis.class_gain_loss(SCORES, LABELS, SEEN, 0.2, 0.2) == []


def test_subsample_per_class_balanced_and_deterministic():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 10)
    idx = analysis.subsample_per_class(labels, 9)
    assert len(idx) == 9 and np.all(np.diff(idx) > 0)
    assert np.bincount(labels[idx]).tolist() == [3, 3, 3]
    np.testing.assert_array_equal(analysis.subsample_per_class(labels, 100), np.arange(23))


def test_file_digest_changes_with_content(tmp_path):
    p = tmp_path / "b.npz"
    p.write_bytes(b"one")
    d1 = analysis.file_digest(p)
    p.write_bytes(b"two")
    assert d1 != analysis.file_digest(p) and len(d1) == 16


def test_mean_ci_exact_values():
    from star.analysis import mean_ci

    # [1, 2, 3]: mean 2, sd 1, t(0.975, 2) = 4.302653 -> half-width 4.302653 / sqrt(3) = 2.484138
    m, h, n = mean_ci([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and h == pytest.approx(2.484138, abs=1e-6)
    # paired differences of two models over 4 splits
    m, h, n = mean_ci(np.array([0.10, 0.12, 0.08, 0.14]) - np.array([0.05, 0.05, 0.05, 0.05]))
    assert m == pytest.approx(0.06) and n == 4 and h == pytest.approx(3.182446 * np.std([5, 7, 3, 9], ddof=1) / 100 / 2)
    assert mean_ci([0.5, None]) == (0.5, pytest.approx(float("nan"), nan_ok=True), 1)
    assert mean_ci([])[2] == 0 and np.isnan(mean_ci([])[0])


def test_paired_difference_pairs_by_seed_and_averages_per_split():
    from star.analysis import mean_ci, paired_difference

    recs = [{"split": "r0", "seed": 0, "model": "a", "H": 0.5}, {"split": "r0", "seed": 0, "model": "b", "H": 0.4},
            {"split": "r0", "seed": 1, "model": "a", "H": 0.6}, {"split": "r0", "seed": 1, "model": "b", "H": 0.3},
            {"split": "r1", "seed": 0, "model": "a", "H": 0.2}, {"split": "r1", "seed": 0, "model": "b", "H": 0.2},
            {"split": "r1", "seed": 1, "model": "a", "H": 0.9},  # no b for seed 1: not paired
            {"split": "r2", "seed": 0, "model": "b", "H": 0.1}]  # no a at all: r2 left out
    m, h, n = paired_difference(recs, "a", "b", "H")
    # r0: mean(0.1, 0.3) = 0.2; r1: 0.0 -> over 2 splits
    assert n == 2 and m == pytest.approx(0.1)
    assert h == pytest.approx(mean_ci([0.2, 0.0])[1])
