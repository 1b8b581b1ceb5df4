"""Zero-shot math (star/zsl.py): hand-computed values, ties, sweep == loop, input checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from star import zsl

# 4 clips x 3 classes; seen = {0, 1}, unseen = {2}.
# margins s* - u*: clip0 0.4, clip1 0.1, clip2 0.3, clip3 -0.3
SCORES = np.array([
    [0.9, 0.1, 0.5],  # label 0: best seen 0 (right)
    [0.2, 0.6, 0.5],  # label 1: best seen 1 (right)
    [0.7, 0.1, 0.4],  # label 2: unseen class 2 is its only unseen choice
    [0.3, 0.2, 0.6],  # label 2
])
LABELS = np.array([0, 1, 2, 2])
SEEN, UNSEEN = [0, 1], [2]


# ---------------------------------------------------------------- cosine scores

def test_cosine_scores_known_values_and_zero_vectors():
    feats = np.array([[1.0, 0.0], [0.0, 0.0], [3.0, 4.0]])
    emb = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    out = zsl.cosine_scores(feats, emb)
    assert out.shape == (3, 3)
    np.testing.assert_allclose(out, [[1, 0, 0], [0, 0, 0], [0.6, 0.8, 0]], atol=1e-12)
    assert not np.isnan(out).any()


def test_fused_scores_add_the_mean_part_cosine():
    glob = np.array([[1.0, 0.0], [0.0, 2.0]])
    names = np.array([[1.0, 0.0], [1.0, 1.0]])
    parts = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])  # (N=2, K=2, m=2)
    desc = np.array([[[1.0, 0.0], [0.0, 3.0]], [[0.0, 1.0], [0.0, 1.0]]])  # (K=2, C=2, m=2)
    r = 1 / np.sqrt(2)
    # part k of clip n against class c, averaged over k: clip 0 [(1 + 1) / 2, (0 + 1) / 2], clip 1 [(0 + 1) / 2, (1 + 1) / 2]
    np.testing.assert_allclose(zsl.part_scores(parts, desc), [[1.0, 0.5], [0.5, 1.0]])
    np.testing.assert_allclose(zsl.fused_scores(glob, names), [[1.0, r], [0.0, r]])
    np.testing.assert_allclose(zsl.fused_scores(glob, names, parts, desc, 2.0), [[3.0, r + 1], [1.0, r + 2]])
    with pytest.raises(ValueError, match="needs part features"):
        zsl.fused_scores(glob, names, None, None, 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        zsl.fused_scores(glob, names, parts, desc, -1.0)
    with pytest.raises(ValueError, match="share K and m"):
        zsl.part_scores(parts, desc[:1])


def test_cosine_scores_accepts_torch_with_grad():
    feats = torch.randn(5, 8, requires_grad=True)
    emb = torch.randn(3, 8)
    out = zsl.cosine_scores(feats, emb)
    ref = torch.nn.functional.cosine_similarity(feats[:, None], emb[None], dim=-1).detach().numpy()
    np.testing.assert_allclose(out, ref, atol=1e-6)


# ---------------------------------------------------------------- ZSL

def test_zsl_predict_and_accuracy_hand_made():
    scores = np.array([[5, 1, 2, 3], [5, 1, 3, 2], [0, 9, 1, 1], [0, 0, 4, 1]], float)
    labels = np.array([2, 2, 3, 3])
    unseen = [3, 2]  # order of the list does not matter
    # clip2: tie between 2 and 3 -> smallest index 2; seen classes 0, 1 never predicted
    assert zsl.zsl_predict(scores, unseen).tolist() == [3, 2, 2, 2]
    assert zsl.zsl_accuracy(scores, labels, unseen) == 0.25


def test_zsl_accuracy_ignores_seen_label_clips():
    scores = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]], float)
    labels = np.array([0, 1, 2])  # clip 0 has a seen label: not counted
    assert zsl.zsl_accuracy(scores, labels, [1, 2]) == 1.0


def test_zsl_per_sample_vs_per_class_unbalanced():
    # class 2: three clips, all right; class 3: one clip, wrong
    scores = np.array([[0, 0, 1, 0]] * 3 + [[0, 0, 1, 0]], float)
    labels = np.array([2, 2, 2, 3])
    assert zsl.zsl_accuracy(scores, labels, [2, 3]) == 0.75
    assert zsl.zsl_accuracy(scores, labels, [2, 3], per_class=True) == 0.5


def test_topk_accuracy():
    scores = np.array([[0, 0.9, 0.5, 0.1], [0, 0.1, 0.2, 0.3]])
    labels = np.array([3, 1])
    unseen = [1, 2, 3]
    assert zsl.topk_accuracy(scores, labels, unseen, k=1) == 0.0
    assert zsl.topk_accuracy(scores, labels, unseen, k=2) == 0.0
    assert zsl.topk_accuracy(scores, labels, unseen, k=3) == 1.0
    assert zsl.topk_accuracy(scores, labels, unseen, k=10) == 1.0  # capped at len(unseen)
    # top-1 equals zsl_accuracy, ties included (integer scores)
    rng = np.random.default_rng(0)
    s = rng.integers(0, 3, (40, 6)).astype(float)
    y = rng.integers(0, 6, 40)
    assert zsl.topk_accuracy(s, y, [1, 3, 4], k=1) == zsl.zsl_accuracy(s, y, [1, 3, 4])


# ---------------------------------------------------------------- GZSL

def test_gzsl_hand_made_gamma_0_and_05():
    assert zsl.gzsl_predict(SCORES, SEEN, 0.0).tolist() == [0, 1, 0, 2]
    m = zsl.gzsl_metrics(SCORES, LABELS, SEEN, UNSEEN, 0.0)
    assert m["S"] == 1.0 and m["U"] == 0.5
    assert m["H"] == pytest.approx(2 / 3, abs=1e-15)
    assert zsl.gzsl_predict(SCORES, SEEN, 0.5).tolist() == [2, 2, 2, 2]
    assert zsl.gzsl_metrics(SCORES, LABELS, SEEN, UNSEEN, 0.5) == {"S": 0.0, "U": 1.0, "H": 0.0}
    m = zsl.gzsl_metrics(SCORES, LABELS, SEEN, UNSEEN, 0.2)
    assert (m["S"], m["U"], m["H"]) == (0.5, 0.5, 0.5)
    # a negative gamma favours unseen less: clip3 (margin -0.3) stays unseen only for gamma > -0.3
    assert zsl.gzsl_metrics(SCORES, LABELS, SEEN, UNSEEN, -0.5) == {"S": 1.0, "U": 0.0, "H": 0.0}


def test_gzsl_ties():
    s = np.array([[1.0, 0.0, 1.0], [2.0, 2.0, 1.0], [1.0, 1.0, 0.0]])
    # clip0: s* == u* at gamma 0 -> seen wins; clip1: tie inside seen -> smallest index
    assert zsl.gzsl_predict(s, [0, 1], 0.0).tolist() == [0, 0, 0]
    # margin clip1 = 1: at gamma exactly 1 seen still wins, just above it unseen wins
    assert zsl.gzsl_predict(s, [0, 1], 1.0).tolist() == [2, 0, 0]
    assert zsl.gzsl_predict(s, [0, 1], np.nextafter(1.0, 2)).tolist() == [2, 2, 2]
    # tie inside unseen: smallest index
    assert zsl.gzsl_predict(np.array([[0.0, 3.0, 3.0]]), [0], 0.0).tolist() == [1]


def test_gzsl_predict_matches_argmax_of_calibrated_scores_without_ties():
    rng = np.random.default_rng(1)
    s = rng.normal(size=(200, 9))
    seen = [0, 2, 3, 5, 8]
    for gamma in (-0.5, 0.0, 0.3, 1.2):
        expect = np.argmax(zsl.calibrated_scores(s, seen, gamma), axis=1)
        assert np.array_equal(zsl.gzsl_predict(s, seen, gamma), expect)


def test_gzsl_unseen_accuracy_zero_without_unseen_clips():
    m = zsl.gzsl_metrics(SCORES[:2], LABELS[:2], SEEN, UNSEEN, 0.0)
    assert m == {"S": 1.0, "U": 0.0, "H": 0.0}
    sw = zsl.gamma_sweep(SCORES[:2], LABELS[:2], SEEN, UNSEEN, [0.0, 1.0])
    assert sw["U"].tolist() == [0.0, 0.0]


# ---------------------------------------------------------------- sweep == loop

def _loop(scores, labels, seen, unseen, gammas, per_class):
    rows = [zsl.gzsl_metrics(scores, labels, seen, unseen, g, per_class=per_class) for g in gammas]
    return {k: np.array([r[k] for r in rows]) for k in ("S", "U", "H")}


@pytest.mark.parametrize("per_class", [False, True])
def test_sweep_equals_loop_exactly_with_ties(per_class):
    rng = np.random.default_rng(2)
    for trial in range(20):
        c = int(rng.integers(2, 9))
        n = int(rng.integers(1, 60))
        perm = rng.permutation(c)
        k = int(rng.integers(1, c))
        seen, unseen = perm[:k].tolist(), perm[k:].tolist()
        if trial % 2:
            scores = rng.integers(-2, 3, (n, c)).astype(float)  # many exact ties
        else:
            scores = rng.normal(size=(n, c))
        labels = rng.integers(0, c, n)
        margins = zsl._group_best(scores, np.sort(seen), np.sort(unseen))[2]
        gammas = np.concatenate([
            np.arange(-5, 5.5, 0.5), margins, np.nextafter(margins, np.inf), np.nextafter(margins, -np.inf),
            [np.inf, -np.inf], zsl.default_gamma_grid(scores, seen, unseen), rng.normal(size=20),
        ])
        rng.shuffle(gammas)
        sweep = zsl.gamma_sweep(scores, labels, seen, unseen, gammas, per_class=per_class)
        loop = _loop(scores, labels, seen, unseen, gammas, per_class)
        assert np.array_equal(sweep["gamma"], gammas)
        for key in ("S", "U", "H"):
            assert np.array_equal(sweep[key], loop[key]), (trial, key)


def test_sweep_accepts_torch_inputs():
    s = torch.tensor(SCORES)
    out = zsl.gamma_sweep(s, torch.tensor(LABELS), SEEN, UNSEEN, torch.tensor([0.0, 0.5]))
    assert out["S"].tolist() == [1.0, 0.0] and out["U"].tolist() == [0.5, 1.0]


# ---------------------------------------------------------------- grid, curve, AUSUC, choosing gamma

def _decisions(scores, seen, gammas):
    return {tuple(zsl.gzsl_predict(scores, seen, g).tolist()) for g in gammas}


def test_default_grid_reaches_every_decision():
    rng = np.random.default_rng(3)
    for scores in (rng.integers(0, 4, (30, 5)).astype(float), rng.normal(size=(30, 5))):
        seen, unseen = [0, 3], [1, 2, 4]
        grid = zsl.default_gamma_grid(scores, seen, unseen)
        assert np.all(np.diff(grid) > 0) and 0.0 in grid
        m = zsl._group_best(scores, np.array(seen), np.array(unseen))[2]
        dense = np.concatenate([m, np.nextafter(m, np.inf), [-np.inf, np.inf]])
        assert _decisions(scores, seen, grid) == _decisions(scores, seen, dense)
        assert len(_decisions(scores, seen, grid)) == np.unique(m).size + 1
        small = zsl.default_gamma_grid(scores, seen, unseen, num=4, include_zero=False)
        assert small.size <= 4 and small[0] == grid[0] and small[-1] == grid[-1]


def test_default_grid_adjacent_float_margins():
    a = 0.5
    b = np.nextafter(a, 1.0)
    scores = np.array([[a, 0.0], [b, 0.0]])  # margins a and b, adjacent doubles
    grid = zsl.default_gamma_grid(scores, [0], [1], include_zero=False)
    assert len(_decisions(scores, [0], grid)) == 3


def test_curve_and_ausuc_hand_made():
    S, U, g = zsl.seen_unseen_curve(SCORES, LABELS, SEEN, UNSEEN)
    assert np.all(np.diff(g) > 0)
    assert (S[0], U[0]) == (1.0, 0.0) and (S[-1], U[-1]) == (0.0, 1.0)
    points = set(zip(U.tolist(), S.tolist()))
    assert points == {(0.0, 1.0), (0.5, 1.0), (0.5, 0.5), (1.0, 0.5), (1.0, 0.0)}
    # area: 0.5 * 1 + 0.5 * 0.5
    assert zsl.ausuc(S, U) == pytest.approx(0.75, abs=1e-15)


def test_ausuc_conventions():
    assert zsl.ausuc([0.8, 0.6, 0.0], [0.0, 0.5, 1.0]) == pytest.approx(0.5, abs=1e-15)
    # order of points does not matter
    assert zsl.ausuc([0.0, 0.8, 0.6], [1.0, 0.0, 0.5]) == pytest.approx(0.5, abs=1e-15)
    # a partial curve gets (0, max S) and (max U, 0) added
    assert zsl.ausuc([0.6], [0.5]) == pytest.approx(0.3, abs=1e-15)
    # perfect classifier: the unit square
    assert zsl.ausuc([1.0, 1.0, 0.0], [0.0, 1.0, 1.0]) == pytest.approx(1.0)


def test_choose_gamma_ties():
    # H = 2/3 for gamma in (-0.3, 0.1] and in (0.3, 0.4]
    g, h = zsl.choose_gamma(SCORES, LABELS, SEEN, UNSEEN)
    assert g == 0.0 and h == pytest.approx(2 / 3)
    g, h = zsl.choose_gamma(SCORES, LABELS, SEEN, UNSEEN, gammas=[0.35, 0.05, -0.05, 0.2])
    assert g == -0.05 and h == pytest.approx(2 / 3)
    g, _ = zsl.choose_gamma(SCORES, LABELS, SEEN, UNSEEN, gammas=[0.35, 0.5])
    assert g == 0.35


# ---------------------------------------------------------------- per-class views

def test_confusion_matrix_and_normalise():
    labels, preds = [0, 0, 1, 2, 2], [0, 1, 1, 5, 2]
    assert zsl.confusion_matrix(labels, preds, [0, 1]).tolist() == [[1, 1], [0, 1]]
    cm = zsl.confusion_matrix(labels, preds, [2, 0], other=True)
    assert cm.tolist() == [[1, 0, 1], [0, 1, 1]]
    assert zsl.normalise_rows([[1, 1], [0, 0], [0, 4]]).tolist() == [[0.5, 0.5], [0, 0], [0, 1]]


def test_per_class_accuracy():
    acc = zsl.per_class_accuracy([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 2, 0], [0, 1, 2, 3])
    assert acc == {0: 0.5, 1: 1.0, 2: pytest.approx(2 / 3)}


# ---------------------------------------------------------------- input checks

@pytest.mark.parametrize("call, message", [
    (lambda: zsl.zsl_accuracy(np.zeros(3), [0, 1, 2], [1]), "matrix"),
    (lambda: zsl.zsl_accuracy(SCORES, [0, 1], UNSEEN), "labels has 2 entries"),
    (lambda: zsl.zsl_accuracy(SCORES, LABELS, []), "unseen class list is empty"),
    (lambda: zsl.zsl_accuracy(SCORES, [0, 1, 2, 7], UNSEEN), r"labels \[7\] are out of range"),
    (lambda: zsl.zsl_accuracy(SCORES, [0, 1, 1, 0], UNSEEN), "no test clip has an unseen label"),
    (lambda: zsl.zsl_predict(SCORES, [3]), r"unseen classes \[3\] are out of range"),
    (lambda: zsl.zsl_accuracy(np.full((2, 2), np.nan), [0, 1], [1]), "NaN"),
    (lambda: zsl.topk_accuracy(SCORES, LABELS, UNSEEN, k=0), "k must be"),
    (lambda: zsl.gzsl_metrics(SCORES, LABELS, [0, 1], [1, 2], 0.0), "both seen and unseen"),
    (lambda: zsl.gzsl_metrics(SCORES, LABELS, [0], [2], 0.0), r"missing \[1\]"),
    (lambda: zsl.gzsl_predict(SCORES, [0, 1, 2], 0.0), "at least one unseen"),
    (lambda: zsl.gzsl_predict(SCORES, SEEN, float("nan")), "gamma is NaN"),
    (lambda: zsl.gamma_sweep(SCORES, LABELS, SEEN, UNSEEN, []), "gammas"),
    (lambda: zsl.cosine_scores(np.zeros((2, 3)), np.zeros((2, 4))), "share D"),
    (lambda: zsl.ausuc([0.5, 0.2], [0.1]), "same length"),
    (lambda: zsl.confusion_matrix([0, 1], [0], [0, 1]), "same length"),
    (lambda: zsl.default_gamma_grid(SCORES, SEEN, UNSEEN, num=1), "num must be"),
])
def test_input_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_fusing_a_checkpoint_with_itself_gives_its_own_metrics_and_two_average_their_scores(tmp_path):
    import shutil

    from star.checkpoint import BUNDLE, CheckpointError, list_checkpoints, load_checkpoint
    from star.evaluation import fused_metrics, test_metrics

    repo = Path(__file__).resolve().parents[1]
    path = next(p for p in list_checkpoints(repo / "checkpoints") if p.name == "star-pool42-32-10")
    ck = load_checkpoint(path)
    b = ck.load_bundle()
    own = test_metrics(b["scores"], b["labels"], ck.meta["seen_classes"], ck.meta["unseen_classes"], ck.gamma)
    assert fused_metrics([path, path]) == pytest.approx(own, abs=1e-9)
    # a second "stream": the same checkpoint with other scores and another gamma
    other = tmp_path / "other"
    shutil.copytree(path, other)
    rng = np.random.default_rng(0)
    scores2 = rng.normal(size=b["scores"].shape).astype(np.float32)
    np.savez(other / BUNDLE, **{**b, "scores": scores2})
    meta = json.loads((other / "model.json").read_text())
    meta["gamma"]["value"] = 0.7
    (other / "model.json").write_text(json.dumps(meta))
    want = test_metrics((b["scores"].astype(np.float64) + scores2) / 2, b["labels"], ck.meta["seen_classes"],
                        ck.meta["unseen_classes"], (ck.gamma + 0.7) / 2)
    assert fused_metrics([path, other]) == pytest.approx(want, abs=1e-9)
    # clips that differ cannot be fused
    np.savez(other / BUNDLE, **{**b, "labels": b["labels"][::-1].copy()})
    with pytest.raises(CheckpointError, match="not the same benchmark and test clips"):
        fused_metrics([path, other])


def test_class_probabilities_softmax_over_the_candidates_only():
    from star.zsl import class_probabilities

    s = np.array([0.2, 0.4, 0.0, 0.4])
    p = class_probabilities(s, [1, 3, 2], temperature=0.1)
    e = np.exp(np.array([0.4, 0.4, 0.0]) / 0.1)
    np.testing.assert_allclose(p, [0.0, e[0] / e.sum(), e[2] / e.sum(), e[1] / e.sum()])
    assert p[0] == 0.0 and p.sum() == pytest.approx(1.0)
    # shifting every candidate's score changes nothing; a higher temperature flattens
    np.testing.assert_allclose(class_probabilities(s + 5.0, [1, 3, 2], 0.1), p)
    assert class_probabilities(s, [1, 2], 10.0)[1] < class_probabilities(s, [1, 2], 0.1)[1]
    assert class_probabilities(np.stack([s, s]), [0, 1], 1.0).shape == (2, 4)
    with pytest.raises(ValueError, match="temperature"):
        class_probabilities(s, [0], 0.0)
    with pytest.raises(ValueError, match="no candidate"):
        class_probabilities(s, [], 1.0)


def test_gzsl_margins_are_where_decisions_flip():
    from star.zsl import gzsl_margins, gzsl_predict

    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1]])  # seen: 0, 1; unseen: 2
    m = gzsl_margins(scores, [0, 1], [2])
    np.testing.assert_allclose(m, [0.4, 0.2])
    for i, margin in enumerate(m):  # just below its margin a clip stays seen, just above it turns unseen
        assert gzsl_predict(scores, [0, 1], margin - 1e-9)[i] in (0, 1)
        assert gzsl_predict(scores, [0, 1], margin + 1e-9)[i] == 2


def test_hubness_correction_subtracts_each_class_mean_of_its_k_best_reference_scores():
    from star.zsl import hubness_corrected

    reference = np.array([[0.9, 0.1], [0.8, 0.3], [0.7, 0.2]])  # class 0 is a hub: close to every training clip
    scores = np.array([[0.6, 0.5]])
    got = hubness_corrected(scores, reference, k=2)
    assert got == pytest.approx(np.array([[0.6 - 0.85, 0.5 - 0.25]]))  # 0.85 = mean(0.9, 0.8); 0.25 = mean(0.3, 0.2)
    assert int(np.argmax(got)) == 1 and int(np.argmax(scores)) == 0  # the hub loses the clip
    assert hubness_corrected(scores, reference, k=3) == pytest.approx(np.array([[0.6 - 0.8, 0.5 - 0.2]]))
    with pytest.raises(ValueError, match="k must be"):
        hubness_corrected(scores, reference, k=4)
    with pytest.raises(ValueError, match="classes"):
        hubness_corrected(scores, reference[:, :1], k=1)
