"""bench/source_probe.py: the recording cues and the probes, on hand-made clips with known answers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import source_probe as sp  # noqa: E402
from star.skeleton.cues import CUE_GROUPS, recording_cues  # noqa: E402
from star.skeleton.topology import BONES  # noqa: E402


def _still_body(t: int) -> np.ndarray:
    """(1, T, 25, 3): joint j at (j, 0, 0) metres in every frame (each bone's length is |a - b|)."""
    x = np.zeros((1, t, 25, 3))
    x[..., 0] = np.arange(25)
    return x


def test_recording_cues_of_a_body_in_uniform_motion():
    x = _still_body(10)
    x[0, :, :, 1] += 0.05 * np.arange(10)[:, None]  # every joint moves 5 cm per frame along y: no jitter
    cues = recording_cues(x)
    assert cues.shape == (25 + len(BONES) + 2,)
    np.testing.assert_allclose(cues[CUE_GROUPS["jitter"]], 0.0, atol=1e-7)
    np.testing.assert_allclose(cues[CUE_GROUPS["bone lengths"]], [abs(a - b) for a, b in BONES], rtol=1e-6)
    np.testing.assert_allclose(cues[CUE_GROUPS["length and frozen frames"]], [np.log(10), 0.0], rtol=1e-6)


def test_recording_cues_jitter_and_frozen_frames_exact():
    x = _still_body(9)
    x[0, :, 3, 2] += 0.01 * (-1.0) ** np.arange(9)  # the head flickers +-1 cm in z: second difference +-4 cm
    x[0, 5:] = x[0, 4]  # frames 5..8 repeat frame 4: 4 of the 8 steps are frozen
    cues = recording_cues(x)
    jitter = cues[CUE_GROUPS["jitter"]]
    # second differences of the head's z: t=0..2: +-0.04 (3 rows), t=3: -0.02/+0.02 at the freeze, then 0
    z = x[0, :, 3, 2]
    acc = z[2:] - 2 * z[1:-1] + z[:-2]
    assert jitter[3] == pytest.approx(np.sqrt(np.mean(acc ** 2)), rel=1e-6)
    assert jitter[3] > 0.02
    np.testing.assert_allclose(np.delete(jitter, 3), 0.0, atol=1e-7)
    assert cues[-1] == pytest.approx(4 / 8)


def test_recording_cues_of_short_clips():
    one = recording_cues(_still_body(1))
    np.testing.assert_allclose(one[CUE_GROUPS["jitter"]], 0.0)
    assert one[-2] == 0.0 and one[-1] == 0.0  # log(1), and a 1-frame clip has no frozen frames
    two = recording_cues(_still_body(2))
    assert two[-1] == 1.0  # the one step does not move


def test_nearest_other_class_skips_the_own_class():
    x = np.array([[1.0, 0.0], [0.99, 0.1], [0.9, 0.4], [-1.0, 0.0]])
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    labels = np.array([0, 0, 1, 2])
    nn = sp.nearest_other_class(z, labels)
    assert list(nn) == [2, 2, 1, 2]


def test_own_source_nearest_measured_and_expected():
    labels = np.array([0, 0, 1, 2])  # classes 0 and 1 from source 0, class 2 from source 1
    clip_source = np.array([0, 0, 0, 1])
    nn = np.array([2, 2, 0, 0])
    res = sp.own_source_nearest(nn, labels, clip_source)
    # clips 0, 1: NN clip 2 (source 0, own); clip 2: NN clip 0 (own); clip 3: NN clip 0 (other)
    assert res["measured"] == pytest.approx(3 / 4)
    # candidates: clips 0, 1 see {2, 3} -> 1/2 own; clip 2 sees {0, 1, 3} -> 2/3; clip 3 sees {0, 1, 2} -> 0
    assert res["expected"] == pytest.approx((0.5 + 0.5 + 2 / 3 + 0.0) / 4)
    assert res["by_source"]["nwucla"] == {"measured": 1.0, "expected": pytest.approx((0.5 + 0.5 + 2 / 3) / 3)}
    assert set(res["by_source"]) == {"nwucla", "msr3d"}  # a source without clips has no row


def _blobs(rng, centres: np.ndarray, per: int) -> np.ndarray:
    return np.concatenate([c + 0.01 * rng.standard_normal((per, centres.shape[1])) for c in centres])


def test_source_from_unseen_classes_reads_a_source_signature():
    rng = np.random.default_rng(0)
    classes, per = 14, 6
    labels = np.repeat(np.arange(classes), per)
    source = labels % 3  # classes 0, 3, 6, ... in source 0, ...
    x = rng.standard_normal((classes * per, 4))
    x[:, :3] = np.eye(3)[source] + 0.05 * rng.standard_normal((len(x), 3))  # the source, one-hot; the rest is noise
    res = sp.source_from_unseen_classes(x, source, labels)
    assert res["balanced_accuracy"] == 1.0
    assert set(res["recall"]) == set(sp.SOURCES)


def test_twin_probe_finds_a_twin_that_moves_alike():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((4, 6)) * 3
    centres[2] = centres[0] + 0.02  # class 2 (source 1) is class 0's twin (source 0)
    feats = _blobs(rng, centres, 8)
    labels = np.repeat(np.arange(4), 8)
    class_source = np.array([0, 0, 1, 2])
    z = sp.unit_rows(feats)
    nn = sp.nearest_other_class(z, labels)
    res = sp.twin_probe(0, 2, feats, z, nn, labels, class_source)
    assert res["clips"] == 8
    assert res["nearest"]["twin"] == 1.0 and res["nearest"]["own_source"] == 0.0
    assert res["classifier"]["twin"] == 1.0 and res["classifier_top_class"] == 2
    assert res["expected_twin"] == pytest.approx(8 / 24)
    assert res["expected_own_source"] == pytest.approx(8 / 24)


def test_source_normalised_uses_each_sources_training_clips_only():
    from types import SimpleNamespace

    from bench.mlp_floor import source_normalised

    feats = np.array([[1.0, 10.0], [3.0, 14.0], [100.0, 0.0], [5.0, 5.0], [7.0, 9.0], [-50.0, 2.0]])
    data = SimpleNamespace(feats=feats, clip_source=np.array([0, 0, 0, 1, 1, 2]), sources=("nwucla", "msr3d", "gtu3d"))
    idx = np.array([0, 1, 3, 4, 5])  # clip 2 (source 0) is not a training clip: its value must not count
    out = source_normalised(data, idx)
    # source 0: mean (2, 12), std (1, 2); source 1: mean (6, 7), std (1, 2); source 2: one clip, std 0
    np.testing.assert_allclose(out[0], [-1 / 1.001, -2 / 2.001])
    np.testing.assert_allclose(out[2], [98 / 1.001, -12 / 2.001])
    np.testing.assert_allclose(out[4], [1 / 1.001, 2 / 2.001])
    np.testing.assert_allclose(out[5], [0.0, 0.0])
    with pytest.raises(ValueError, match="no training clips from source gtu3d"):
        source_normalised(data, np.array([0, 1, 3]))


def test_intervention_table_pairs_by_split_and_seed():
    def rec(split, seed, norm, v):
        return {"split": split, "seed": seed, "source_norm": norm, "machine": "cpu",
                **{k: v for k, _ in sp.MLP_KEYS}}

    records = [rec("pool42-r0", 0, False, 0.3), rec("pool42-r0", 0, True, 0.4),
               rec("pool42-r1", 0, False, 0.5), rec("pool42-r1", 0, True, 0.5),
               rec("pool42-r1", 1, True, 0.9),  # no partner: in the source row's mean, not in the difference
               rec("pool42-32/10", 0, True, 1.0)]  # not a random split: left out
    lines = sp.intervention_table(records)
    rows = [line for line in lines if line.startswith("| ")]
    # global: split means 0.3, 0.5 -> 40.0; source: 0.4 and mean(0.5, 0.9) = 0.7 -> 55.0
    assert rows[1].startswith("| over all training clips (the floor as shipped) | 40.0 ± ")
    assert rows[2].startswith("| per source, with its own training clips | 55.0 ± ")
    # paired: r0 +0.1, r1 0.0 -> mean 5.0; half-width t(0.975, 1) * 0.0707 / sqrt(2) = 63.5 points
    assert rows[3].startswith("| per source - all (paired, 2 splits) | 5.0 ± 63.5 |")
    assert sp.intervention_table([rec("pool42-32/10", 0, True, 1.0)]) == []
