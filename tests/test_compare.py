"""star.compare and `star compare`: exact values on hand-made scores, the paired bootstrap's invariants, McNemar's
exact p-values, refusals, and the CLI reproducing the library on the shipped checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest

from star.compare import CompareError, Side, bootstrap_differences, compare, mcnemar

from conftest import app_session

NAMES = ["a", "b", "c", "d"]  # seen a, b; unseen c, d


def _meta(name, gamma=0.0, **extra):
    return {"name": name, "benchmark": "toy-2/2", "class_names": NAMES, "seen_classes": [0, 1],
            "unseen_classes": [2, 3], "gamma": {"value": gamma}, **extra}


LABELS = np.array([0, 1, 2, 2, 3, 3])
# A: seen clips right; unseen clips: ZSL right on clips 2 and 4 only; GZSL at gamma 0: unseen clip 2 goes to a seen class
A = np.array([[.9, .1, .0, .0],   # 0 -> a (right)
              [.1, .8, .0, .0],   # 1 -> b (right)
              [.5, .0, .4, .1],   # 2: ZSL c (right); GZSL a (seen wins at gamma 0)
              [.0, .0, .1, .3],   # 3: ZSL d (wrong)
              [.0, .0, .1, .6],   # 4: ZSL d (right)
              [.0, .0, .7, .2]])  # 5: ZSL c (wrong)
B = A.copy()
B[3] = [.0, .0, .6, .1]  # B gets clip 3 right
B[5] = [.0, .0, .1, .6]  # and clip 5


def _bundle(scores):
    return {"scores": scores, "labels": LABELS, "sources": np.array([f"clip{i}" for i in range(6)])}


def test_metrics_and_tables_on_hand_made_scores():
    r = compare(_meta("A"), _bundle(A), _meta("B"), _bundle(B), replicates=200)
    assert r.metrics["a"]["zsl_acc"] == 0.5 and r.metrics["b"]["zsl_acc"] == 1.0
    # GZSL at gamma 0: A right on clips 0, 1, 4 -> S = 1, U = 1/4; B right on 0, 1, 3, 4, 5 -> U = 3/4
    assert (r.metrics["a"]["S"], r.metrics["a"]["U"]) == (1.0, 0.25)
    assert (r.metrics["b"]["S"], r.metrics["b"]["U"]) == (1.0, 0.75)
    assert r.metrics["a"]["H"] == pytest.approx(0.4) and r.metrics["b"]["H"] == pytest.approx(6 / 7)
    assert r.difference["zsl_acc"]["b_minus_a"] == 0.5
    assert r.mcnemar == {"a_only": 0, "b_only": 2, "p_value": 0.5}
    by_class = {row["class"]: row for row in r.per_class}
    assert by_class["c"]["zsl_a"] == 0.5 and by_class["c"]["zsl_b"] == 1.0 and by_class["d"]["zsl_b_minus_a"] == 0.5
    assert [row["class"] for row in r.per_class][:2] == ["c", "d"]  # unseen classes first
    assert {(d["index"], d["kind"]) for d in r.disagreements} == {(3, "ZSL"), (5, "ZSL"), (3, "GZSL"), (5, "GZSL")}
    assert all(d["b_right"] and not d["a_right"] for d in r.disagreements)


def test_the_bootstrap_is_paired_stratified_and_seeded():
    a, b = Side("A", A, 0.0), Side("B", B, 0.0)
    same = bootstrap_differences(a, Side("A2", A.copy(), 0.0), LABELS, [0, 1], [2, 3], replicates=100)
    assert all(v == {"b_minus_a": 0.0, "ci_low": 0.0, "ci_high": 0.0} for v in same.values())  # paired: no noise
    # seen clips: both right on every one, in every replicate (stratified: each replicate has 2 seen clips)
    d = bootstrap_differences(a, b, LABELS, [0, 1], [2, 3], replicates=300, seed=1)
    assert d["S"] == {"b_minus_a": 0.0, "ci_low": 0.0, "ci_high": 0.0}
    assert 0.0 <= d["zsl_acc"]["ci_low"] <= 0.5 <= d["zsl_acc"]["ci_high"] <= 1.0  # B never worse on a clip
    assert d == bootstrap_differences(a, b, LABELS, [0, 1], [2, 3], replicates=300, seed=1)
    rng = np.random.default_rng(0)  # 200 clips of random scores: the seed moves the interval, not the estimate
    labels = rng.integers(0, 4, 200)
    ra, rb = Side("A", rng.random((200, 4)), 0.1), Side("B", rng.random((200, 4)), 0.1)
    one = bootstrap_differences(ra, rb, labels, [0, 1], [2, 3], replicates=200, seed=1)
    two = bootstrap_differences(ra, rb, labels, [0, 1], [2, 3], replicates=200, seed=2)
    assert one["H"]["b_minus_a"] == two["H"]["b_minus_a"] and one["H"]["ci_low"] != two["H"]["ci_low"]
    assert one["H"]["ci_low"] < one["H"]["b_minus_a"] < one["H"]["ci_high"]


def test_mcnemar_exact_p_values():
    t, f = True, False
    assert mcnemar(np.array([f] * 5), np.array([t] * 5)) == {"a_only": 0, "b_only": 5, "p_value": 0.0625}
    assert mcnemar(np.array([t, t, t, f]), np.array([f, f, t, t]))["p_value"] == 1.0  # 2 vs 1
    assert mcnemar(np.array([t, f]), np.array([t, f])) == {"a_only": 0, "b_only": 0, "p_value": 1.0}
    # 10 against 1: p = 2 P(X <= 1), X ~ Bin(11, 1/2) = 2 (1 + 11) / 2^11
    assert mcnemar(np.array([t] * 10 + [f]), np.array([f] * 10 + [t]))["p_value"] == pytest.approx(24 / 2048)


def test_models_of_different_splits_or_clips_are_refused():
    with pytest.raises(CompareError, match="different benchmarks .*toy-2/2 vs other"):
        compare(_meta("A"), _bundle(A), _meta("B", benchmark="other"), _bundle(B))
    other = _bundle(B)
    other["sources"] = other["sources"][::-1]
    with pytest.raises(CompareError, match="different test clips"):
        compare(_meta("A"), _bundle(A), _meta("B"), other)


def test_star_compare_reproduces_the_library_on_the_shipped_checkpoints(repo_root, capsys):
    from star.checkpoint import load_checkpoint
    from star.cli import main

    a, b = (repo_root / "checkpoints" / n for n in ("baseline-pool42-32-10", "star-pool42-32-10"))
    assert main(["compare", str(a), str(b), "--bootstrap", "100", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    want = compare(ca.meta, ca.load_bundle(), cb.meta, cb.load_bundle(), replicates=100).to_dict()
    assert got == json.loads(json.dumps(want))
    assert got["metrics"]["b"]["zsl_acc"] == pytest.approx(cb.meta["metrics"]["zsl_acc"])
    assert got["metrics"]["a"]["H"] == pytest.approx(ca.meta["metrics"]["H"])
    assert main(["compare", str(a), str(repo_root / "checkpoints" / "star-openvocab-pool69")]) == 2
    assert "cannot be compared clip by clip" in capsys.readouterr().err


def test_the_compare_page_shows_the_librarys_numbers(repo_root, tmp_path, monkeypatch):
    from star.checkpoint import load_checkpoint
    from ui import loaders

    monkeypatch.setattr(loaders, "COMPARE_REPLICATES", 100)
    loaders.comparison.clear()
    at = app_session(monkeypatch, tmp_path, "star-pool42-32-10", "pages/compare.py")
    box = at.selectbox(key="compare_with")
    assert box.options == ["baseline-pool42-32-10", "star-noam-pool42-32-10"]  # same benchmark, not itself
    box.set_value("baseline-pool42-32-10").run()
    assert not at.exception, [e.value for e in at.exception]
    a, b = load_checkpoint(repo_root / "checkpoints" / "star-pool42-32-10"), \
        load_checkpoint(repo_root / "checkpoints" / "baseline-pool42-32-10")
    want = compare(a.meta, a.load_bundle(), b.meta, b.load_bundle(), replicates=100)
    table = at.dataframe[0].value
    assert list(table["metric"]) == ["ZSL accuracy", "Seen accuracy S", "Unseen accuracy U", "Harmonic mean H", "AUSUC"]
    assert list(table["B - A"]) == [round(want.difference[k]["b_minus_a"] * 100, 2) for k in
                                    ("zsl_acc", "S", "U", "H", "ausuc")]
    assert list(table["95 % CI low"]) == [round(want.difference[k]["ci_low"] * 100, 2) for k in
                                          ("zsl_acc", "S", "U", "H", "ausuc")]
    said = " ".join(m.value for m in at.markdown)
    assert f"A gets {want.mcnemar['a_only']} and B {want.mcnemar['b_only']}; p = {want.mcnemar['p_value']:.4g}" in said
    # the open-vocabulary default has no unseen classes: the page offers the zero-shot checkpoint instead
    at.session_state["checkpoint_pick"] = "star-openvocab-pool69"
    at.run()
    assert any("no unseen classes" in i.value for i in at.info)


def test_a_disagreeing_clip_maps_to_its_clip_in_the_data_folder(shared_data):
    from star.data.clipbank import ClipBank
    from ui.clips import bank_sample_for

    sample = bank_sample_for("gtu3d/gtu9_movement50", "pool42-32/10", shared_data)
    assert sample.path == shared_data / "gtu3d.npz"
    assert ClipBank.load(sample.path).sample_id[sample.index] == "gtu9_movement50"
    assert sample.label.startswith(f"{sample.index}: gtu9_movement50 (")
    assert bank_sample_for("nowhere/x", "pool42-32/10", shared_data) is None
    assert bank_sample_for("gtu3d/not-a-clip", "pool42-32/10", shared_data) is None
