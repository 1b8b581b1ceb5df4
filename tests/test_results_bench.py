"""bench/results.py and bench/random_splits.py: the committed records and the comparison runs' configs."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import random_splits, results  # noqa: E402
from star.config import resolve_config  # noqa: E402

FRACTIONS = ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc")


@pytest.mark.parametrize("path", ["docs/results.json", "bench/results/heads_v2.json"])
def test_committed_records_follow_the_schema(path):
    records = [r for r in json.loads((REPO / path).read_text()) if not r["split"].startswith(results.PUBLISHED_SPLITS)]
    assert records, path
    keys = set()
    for r in records:
        assert r["split"] in results.SPLIT_NAME.values()
        assert r["model"] in (*results.MAIN_MODELS, *results.ABLATIONS)
        assert isinstance(r["seed"], int) and r["seed"] >= 0
        for k in FRACTIONS:
            assert 0.0 <= r[k] <= 1.0, (r["split"], r["model"], r["seed"], k, r[k])
        # gamma is a score margin: within [0, 1] for the cosine score, up to 1 + part weight with part evidence
        assert 0.0 <= r["gamma_val"] <= 1.0 + r.get("part_weight", 0.0), (r["split"], r["model"], r["seed"], r["gamma_val"])
        # H is the harmonic mean of S and U at the validation gamma
        expect = 0.0 if r["S"] + r["U"] == 0 else 2 * r["S"] * r["U"] / (r["S"] + r["U"])
        assert math.isclose(r["H"], expect, abs_tol=1e-9)
        assert r["H"] <= r["H_best_test"] + 1e-9  # the test-chosen gamma is an upper bound
        keys.add((r["split"], r["model"], r["seed"]) + ((results.machine_of(r),) if "heads" in path else ()))
    assert len(keys) == len(records), "one record per split x model x seed (x machine for the stored heads)"


def test_results_json_holds_every_stored_head():
    heads = json.loads((REPO / "bench/results/heads_v2.json").read_text())
    published = {(r["split"], r["model"], r["seed"]) for r in json.loads((REPO / "docs/results.json").read_text())}
    assert {(r["split"], r["model"], r["seed"]) for r in heads} <= published


def test_current_keeps_the_newest_record_and_variants_pair_within_a_machine():
    def rec(model, seed, machine, zsl, recorded=None):
        r = {"split": "pool42-r0", "model": model, "seed": seed, "device": f"cpu ({machine}, 1 threads)",
             "zsl_acc": zsl, "H": zsl, "H_best_test": zsl, "ausuc": zsl}
        return {**r, "recorded": recorded} if recorded else r

    old = [rec("star-6", 0, "Intel Xeon", 0.30), rec("star-6-f3", 0, "Intel Xeon", 0.50)]
    new = [rec("star-6", 0, "AMD EPYC", 0.40, "2026-12-02"), rec("star-6-f3", 0, "AMD EPYC", 0.45, "2026-12-02"),
           rec("star-6", 1, "AMD EPYC", 0.20, "2026-12-02")]
    assert results.machine_of(new[0]) == "AMD EPYC" and results.machine_of({"device": None}) == "unknown"
    cur = results.current(old + new)
    assert [(r["model"], r["seed"], r["zsl_acc"]) for r in cur] == [("star-6", 0, 0.40), ("star-6-f3", 0, 0.45),
                                                                     ("star-6", 1, 0.20)]
    line = next(x for x in results.variant_lines(old + new) if x.startswith("| star-6-f3 - star-6 | pool42-r0"))
    # pairs (seed 0, Intel): +20.0 and (seed 0, AMD): +5.0 -> mean 12.5 over 2 runs, never Intel f3 - AMD star-6
    assert line.startswith("| star-6-f3 - star-6 | pool42-r0 | 2 | 12.5 ± ")


def test_machines_counts_heads_per_cpu_model():
    recs = [{"model": "star-6", "device": "cpu (AMD EPYC, 1 threads)"},
            {"model": "baseline", "device": "cpu (AMD EPYC, 1 threads)"},
            {"model": "star-6", "device": "cpu (Intel(R) Xeon(R) Processor, 2 threads)"},
            {"model": "mlp", "device": None}]
    assert results.machines(recs) == "AMD EPYC: 2 heads, Intel(R) Xeon(R) Processor: 1 heads"
    assert results.machines([]) == "no heads"


def test_learning_curve_line_reads_the_record():
    rec = {"split": "pool42-r0", "model": "star-6", "seed": 0,
           "learning_curve": {"val_H": [0.1, 0.25], "lr": [0.01, 0.001], "epoch": 2, "smooth_epochs": 3,
                              "loss_validation_last": 0.5, "loss_final_last": 0.4567}}
    assert results.learning_curve_lines([rec], "r0") == [
        "- pool42-r0, star-6 seed 0: validation H per epoch [10.0, 25.0]; chosen epoch 2 (smoothed over 3); "
        "learning rates 0.01, 0.001; last-epoch training loss 0.500 (validation run), 0.457 (final run)"]
    assert results.learning_curve_lines([rec], "r1") == []


def test_learning_curve_from_a_sidecar():
    meta = {"gamma": {"epoch": 3, "smooth_epochs": 3},
            "learning_curves": {"validation (pseudo-unseen fold)": {"val_H": [0.1, 0.2, 0.3], "lr": [0.01, 0.01, 0.001],
                                                                    "loss_total": [2.0, 1.0, 0.5]},
                                "final": {"loss_total": [2.1, 0.9, 0.6]}}}
    c = results.learning_curve(meta)
    assert c == {"val_H": [0.1, 0.2, 0.3], "lr": [0.01, 0.001], "epoch": 3, "smooth_epochs": 3,
                 "loss_validation_last": 0.5, "loss_final_last": 0.6}
    assert results.learning_curve({"gamma": {}, "learning_curves": {}}) is None


@pytest.mark.parametrize("model", sorted(random_splits.MODELS))
def test_every_comparison_model_is_a_valid_config(model):
    for split in random_splits.SPLITS:
        cfg = resolve_config(path=random_splits.config_path(split), overrides=random_splits.head_overrides(
            model, 1, random_splits.checkpoint_dir(split, model, 1)))
        assert cfg.seed == 1
        assert cfg.out.endswith(f"{model}-s1")
        # the name fixes the number of validation folds, whatever the split's config says
        assert cfg.validation.folds == (3 if "-f3" in model else 1)


def test_machine_of_reads_a_torchrun_device_string():
    assert results.machine_of({"device": "cpu (AMD EPYC, 1 threads x 2 processes)"}) == "AMD EPYC"


def test_goal_differences_pair_heads_of_the_same_machine_only():
    def rec(model, seed, machine, zsl):
        return {"split": "pool42-r0", "model": model, "seed": seed, "device": f"cpu ({machine}, 1 threads)",
                "zsl_acc": zsl}

    records = [rec("star-6-f3", 0, "AMD EPYC", 0.30), rec("baseline-f3", 0, "AMD EPYC", 0.20),
               rec("baseline-f3", 0, "Intel Xeon", 0.50), rec("star-6-f3", 1, "Intel Xeon", 0.40)]
    mean, _, groups = results.paired(records, "star-6-f3", "baseline-f3", "zsl_acc")
    assert groups == 1 and mean == pytest.approx(0.10)  # only the AMD seed-0 pair: never AMD STAR - Intel baseline
    mlp = [rec("star-6-f3", 0, "AMD EPYC", 0.30), {"split": "pool42-r0", "model": "mlp", "seed": 0, "zsl_acc": 0.25}]
    assert results.paired(mlp, "star-6-f3", "mlp", "zsl_acc")[0] == pytest.approx(0.05)  # the MLP has no backbone


def test_wall_times_give_one_line_per_split_and_machine():
    def rec(model, machine, backbone, head):
        return {"split": "pool42-r3", "model": model, "seed": 0, "device": f"cpu ({machine}, 1 threads)",
                "wall_time_s": {"backbone": backbone, "extract": 100, "head": head}}

    lines = results.wall_times([rec("star-6", "AMD EPYC", 900, 300), rec("baseline", "AMD EPYC", 900, 20),
                                rec("star-6-f3-bf16-pw", "Intel Xeon", 2000, 600),
                                rec("star-6-f3-bf16-pw", "Intel Xeon", 2000, 500)])
    assert lines == ["- pool42-r3 on AMD EPYC: backbone 900 s, extraction 100 s, head (mean per run) star-6 300 s, "
                     "baseline 20 s; device cpu (AMD EPYC, 1 threads)",
                     "- pool42-r3 on Intel Xeon: backbone 2000 s, extraction 100 s, head (mean per run) "
                     "star-6-f3-bf16-pw 550 s; device cpu (Intel Xeon, 1 threads)"]


def test_fused_records_pair_each_head_with_its_bone_twin_of_the_same_seed_and_machine():
    ck = "checkpoints/star-pool42-32-10"
    meta = json.loads((REPO / ck / "model.json").read_text())

    def rec(model, seed, machine="Intel Xeon"):
        return {"split": "pool42-r0", "model": model, "seed": seed, "device": f"cpu ({machine}, 1 threads)",
                "checkpoint": ck, "preprocess": "view,joints", "wall_time_s": {"backbone": 900, "extract": 100, "head": 30}}

    fused = results.fused_records([rec("baseline-f3", 0), rec("baseline-f3-bone", 0), rec("baseline-f3", 1),
                                   rec("baseline-f3-bone", 1, "AMD EPYC"), rec("star-6-f3", 0)])
    assert [(r["model"], r["seed"]) for r in fused] == [("baseline-f3-2s", 0)]  # seed 1's twin is on another CPU
    for key in ("zsl_acc", "S", "U", "H", "H_best_test"):  # a checkpoint fused with itself is itself
        assert fused[0][key] == pytest.approx(meta["metrics"][key], abs=1e-6)
    assert fused[0]["gamma_val"] == pytest.approx(meta["gamma"]["value"])
    assert fused[0]["wall_time_s"] == {"backbone": 1800, "extract": 200, "head": 60}
    stream = random_splits.split_config("r0", "bone")
    assert stream.backbone.stream == "bone" and stream.run_dir == resolve_config(
        path=random_splits.config_path("r0")).run_dir + "-bone"
    assert random_splits.checkpoint_dir("r0", "baseline-f3-bone", 2).parts[-3:] == ("v2-r0-bone", "ckpt", "baseline-f3-bone-s2")


def test_paired_outputs_write_only_the_missing_heads(tmp_path, monkeypatch):
    monkeypatch.setattr(random_splits, "checkpoint_dir", lambda split, model, seed: tmp_path / f"{model}-s{seed}")
    both = random_splits.paired_outputs("r0", "star-6-f3-bf16-pw16", 0)
    assert both == {str(tmp_path / "star-6-f3-bf16-pw-s0"): random_splits.PART_WEIGHTS,
                    str(tmp_path / "star-6-f3-bf16-s0"): [0.0]}
    (tmp_path / "star-6-f3-bf16-s0").mkdir()
    (tmp_path / "star-6-f3-bf16-s0" / "model.json").write_text("{}")
    assert random_splits.paired_outputs("r0", "star-6-f3-bf16-pw16", 0) == {
        str(tmp_path / "star-6-f3-bf16-pw-s0"): random_splits.PART_WEIGHTS}
    assert random_splits.paired_outputs("r0", "star-6-f3-bf16-pw", 0) == {}
    assert random_splits.paired_outputs("r0", "star-6", 0) == {}
    # every paired head's weights are part of the grid its validation runs score
    for model, refs in random_splits.PAIRED.items():
        grid = random_splits.MODELS[model]["head.part_weight_grid"]
        assert all(set(w) <= set(grid) for w in refs.values())


def test_source_breakdown_oracle_zsl_and_cross_source_errors():
    """ZSL with the clip's dataset known ranks it among its own dataset's unseen classes only."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    # classes: 0 nwucla seen, 1 nwucla unseen, 2 msr3d seen, 3 msr3d unseen
    scores = np.array([[0.9, 0.1, 0.0, 0.0],   # class 0 clip (seen)
                       [0.0, 0.5, 0.1, 0.6],   # class 1 clip: ZSL picks 3 (msr3d): a cross-source error
                       [0.0, 0.2, 0.1, 0.7],   # class 3 clip: right
                       [0.0, 0.8, 0.0, 0.3],   # class 1 clip: right
                       [0.0, 0.0, 0.9, 0.1]])  # class 2 clip (seen)
    bundle = {"scores": scores, "labels": np.array([0, 1, 3, 1, 2]),
              "sources": ["nwucla/a", "nwucla/b", "msr3d/c", "nwucla/d", "msr3d/e"]}
    text = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    ck = SimpleNamespace(load_bundle=lambda: bundle, seen=[0, 2], unseen=[1, 3], gamma=0.0,
                         tensors={"text.names": text})
    out = results.source_breakdown(ck)
    assert out["zsl_own_source"] == 1.0
    assert out["zsl_errors_cross_source"] == 1.0
    assert out["per_source"]["nwucla"]["zsl_acc"] == 0.5
    assert out["per_source"]["msr3d"]["zsl_acc"] == 1.0


# ------------------------------------------------------------------ bench/purls_report.py (issue 25)
def _head(bench, model, seed, **metrics):
    return {"benchmark": bench, "model": model, "seed": seed, "wall_time_s": {"head": 10.0}, "device": "cpu (X, 1 threads)",
            **metrics}


def test_purls_records_take_zsl_from_purls_protocol_and_gzsl_from_the_clip_split():
    from bench import purls_report

    heads = [_head("purls-utdmhad-22/5", "star-6", 0, zsl_acc=0.6, S=0.0, U=0.6, H=0.0),
             _head("purls-utdmhad-22/5-gzsl", "star-6", 0, zsl_acc=0.5, S=0.8, U=0.3, H=0.436, gamma_val=0.2,
                   H_best_test=0.5, ausuc=0.3),
             _head("purls-utdmhad-22/5", "baseline", 1, zsl_acc=0.4)]
    recs = {(r["model"], r["seed"]): r for r in purls_report.split_records(heads)}
    assert len(recs) == 2
    star = recs[("star-6", 0)]
    assert star["split"] == "purls-utdmhad-22/5" and star["zsl_acc"] == 0.6 and star["zsl_acc_gzsl"] == 0.5
    assert (star["S"], star["U"], star["H"], star["gamma_val"]) == (0.8, 0.3, 0.436, 0.2)
    assert star["gzsl_protocol"] == "utdmhad-xsub"
    base = recs[("baseline", 1)]
    assert base["zsl_acc"] == 0.4 and base["S"] is None and base["H"] is None


def test_purls_paired_differences_and_the_lodo_overlap_split():
    from bench import purls_report

    recs = [{"split": "s", "model": m, "seed": k, "zsl_acc": a}
            for k, (x, y) in enumerate([(0.5, 0.4), (0.6, 0.4), (0.7, 0.4)]) for m, a in (("a", x), ("b", y))]
    mean, half, n = purls_report.paired(recs, "s", "a", "b")
    assert n == 3 and mean == pytest.approx(0.2) and half == pytest.approx(4.302653 * 0.1 / 3 ** 0.5, rel=1e-5)
    # MLP records carry [right, clips] per held-out class: UTD-MHAD's "tennis serve" (label 42 + 16) overlaps MSR's
    by_class = {"58": [3, 4], "42": [1, 4]}  # tennis serve; right arm swipe to the left (overlaps horizontal wave)
    got = purls_report.lodo_breakdown("lodo-utdmhad", {"zsl_by_class": {**by_class, "50": [0, 2]}})
    # 50 = 42 + 8: right hand draw circle (clockwise), an overlap too; nothing novel among these three
    assert got == {"zsl_acc_overlap": pytest.approx(4 / 10), "zsl_acc_novel": None}
    got = purls_report.lodo_breakdown("lodo-utdmhad", {"zsl_by_class": {"47": [2, 4], "58": [1, 1]}})
    assert got == {"zsl_acc_overlap": 1.0, "zsl_acc_novel": 0.5}  # 47 = cross arms in the chest: novel


def test_purls_report_replaces_its_own_section_and_records_only(tmp_path, monkeypatch):
    from bench import purls_report

    md, js = tmp_path / "RESULTS.md", tmp_path / "results.json"
    md.write_text("# Results\n\nintro\n\n## pool42 table\n\nrows\n")
    js.write_text(json.dumps([{"split": "pool42-r0", "model": "mlp", "seed": 0}]))
    monkeypatch.setattr(purls_report, "RESULTS_MD", md)
    monkeypatch.setattr(purls_report, "RESULTS_JSON", js)
    monkeypatch.setattr(purls_report, "published", lambda: {"purls-utdmhad-22/5": {
        "ReViSE": 29.37, "DeViSE": 12.5, "Global": 23.0, "PURLS": 57.5}})
    heads = [_head("purls-utdmhad-22/5", "star-6", s, zsl_acc=0.5 + 0.1 * s) for s in range(3)]
    for _ in range(2):  # a second run replaces the section, it does not add another
        purls_report.write(purls_report.split_records(heads), heads)
    text = md.read_text()
    assert text.count(results.PUBLISHED_BEGIN) == 1 and text.startswith("# Results\n\nintro\n")
    assert text.index(results.PUBLISHED_END) < text.index("## pool42 table") and text.rstrip().endswith("rows")
    assert "| PURLS (published) | 57.50 |" in text
    assert "| STAR-6 (shipped recipe, 1 validation fold) (ours) | 60.0 ± 24.8 (3) |" in text
    assert "| star-6 - PURLS (published) | +2.5 |" in text
    recs = json.loads(js.read_text())
    assert [r["split"] for r in recs] == ["pool42-r0"] + ["purls-utdmhad-22/5"] * 3


def test_committed_published_table_records():
    """docs/results.json's PURLS-split and leave-one-dataset-out records: the splits the issue names, >= 5 seeds of
    every model per split, fractions, and H the harmonic mean of S and U where the GZSL run exists."""
    from bench import purls_report

    records = [r for r in json.loads((REPO / "docs/results.json").read_text())
               if r["split"].startswith(results.PUBLISHED_SPLITS)]
    splits = {r["split"] for r in records}
    assert {"purls-nwucla-8/2", "purls-nwucla-5/5", "purls-utdmhad-22/5", "purls-utdmhad-18/9",
            "purls-utdmhad-14/13"} <= splits
    seeds: dict = {}
    for r in records:
        assert r["model"] in purls_report.ORDER + purls_report.EXTRA and 0.0 <= r["zsl_acc"] <= 1.0
        seeds.setdefault((r["split"], r["model"]), set()).add(r["seed"])
        if r.get("S") is not None:
            expect = 0.0 if r["S"] + r["U"] == 0 else 2 * r["S"] * r["U"] / (r["S"] + r["U"])
            assert math.isclose(r["H"], expect, abs_tol=1e-9)
    assert all(len(v) >= 5 for k, v in seeds.items() if k[0].startswith("purls-") and k[1] in purls_report.ORDER), seeds


def test_the_mlp_floor_reloads_a_bank_whose_roles_depend_on_the_class_split():
    from bench.mlp_floor import bank_key
    from star.data import get_benchmark

    assert bank_key(get_benchmark("pool42-r0")) == bank_key(get_benchmark("pool42-r1"))  # roles by sample protocol
    assert bank_key(get_benchmark("purls-utdmhad-22/5")) != bank_key(get_benchmark("purls-utdmhad-18/9"))
    assert bank_key(get_benchmark("lodo-msr3d")) != bank_key(get_benchmark("lodo-gtu3d"))


def test_purls_head_jobs_are_seed_major_and_split_between_workers():
    from bench.purls import head_jobs

    jobs = head_jobs(["a", "b"], ["m", "n"], [0, 1])
    assert jobs[:4] == [("a", "m", 0), ("a", "n", 0), ("b", "m", 0), ("b", "n", 0)] and len(jobs) == 8
    w0, w1 = head_jobs(["a", "b"], ["m", "n"], [0, 1], (0, 2)), head_jobs(["a", "b"], ["m", "n"], [0, 1], (1, 2))
    assert sorted(w0 + w1) == sorted(jobs) and not set(w0) & set(w1)


def test_a_backbone_cut_short_is_not_done(tmp_path):
    """bench/purls.py retrains a backbone until its state says every epoch ran (a cut-short run leaves weights)."""
    import json

    from star.features import BACKBONE_STATE_FILE, backbone_done

    assert not backbone_done(tmp_path, 14)
    (tmp_path / BACKBONE_STATE_FILE).write_text(json.dumps({"epochs_done": 1}))
    assert not backbone_done(tmp_path, 14)
    (tmp_path / BACKBONE_STATE_FILE).write_text(json.dumps({"epochs_done": 14}))
    assert backbone_done(tmp_path, 14)


def test_a_backbone_variant_has_its_own_run_directory_and_epochs():
    """bench/purls.py: ``star-6-e40`` is STAR-6's head on the 40-epoch backbone, trained and cached apart from the
    recipe's (whose runs and checkpoints keep their paths)."""
    from bench.purls import MODELS, backbone_of, checkpoint_dir, overrides

    assert backbone_of("star-6") is None and backbone_of("star-6-e40") == "e40" and backbone_of(None) is None
    assert MODELS["baseline-e40"] == MODELS["baseline"]
    assert overrides("purls-nwucla-8/2") == {"benchmark": "purls-nwucla-8/2", "run_dir": "runs/purls-nwucla-8-2"}
    got = overrides("purls-nwucla-8/2", "star-6-e40", 3)
    assert got == {"benchmark": "purls-nwucla-8/2", "run_dir": "runs/purls-nwucla-8-2-e40", "backbone.epochs": 40,
                   "backbone.milestones": [30, 37], "seed": 3, "out": "runs/purls-nwucla-8-2-e40/ckpt/star-6-e40-s3"}
    assert overrides("purls-nwucla-8/2", backbone="e40")["run_dir"] == "runs/purls-nwucla-8-2-e40"
    assert checkpoint_dir("lodo-msr3d", "star-6", 1) == "runs/lodo-msr3d/ckpt/star-6-s1"


def test_the_feature_probe_trains_the_floor_mlp_on_cached_backbone_features(tmp_path, monkeypatch):
    """bench/feature_probe.py on a feature cache written here: features that separate the classes along their
    name embeddings give the unseen classes back; its record carries the backbone's last training accuracy."""
    import json

    import numpy as np

    sys.path.insert(0, str(REPO / "bench"))
    import feature_probe
    from star.data import get_benchmark

    split = "purls-utdmhad-22/5"
    bench = get_benchmark(split)
    rng = np.random.default_rng(0)
    text = rng.standard_normal((bench.num_classes, 16)).astype(np.float32)
    rd = tmp_path / "runs" / "purls-utdmhad-22-5"
    (rd / "features").mkdir(parents=True)
    (rd / "backbone_log.jsonl").write_text(json.dumps({"epoch": 14, "train_acc": 0.84}) + "\n")
    for part, classes, per in (("train", bench.seen_classes, 6), ("test", bench.unseen_classes, 4)):
        y = np.repeat(classes, per)
        # a clip's feature map: its class's embedding (plus noise) in every time step and joint
        x = (text[y] + 0.05 * rng.standard_normal((len(y), 16))).astype(np.float32)[:, :, None, None]
        rows = {"x": np.broadcast_to(x, (len(y), 16, 2, 3)).copy(), "y": y.astype(np.int64),
                "clip": np.arange(len(y)), "copy": np.zeros(len(y), np.int64), "source": np.full(len(y), "utdmhad")}
        for key, value in rows.items():
            np.save(rd / "features" / f"{part}_{key}.npy", value)
    monkeypatch.setattr(feature_probe, "REPO", tmp_path)
    rec = feature_probe.probe(split, 0, text)
    assert rec["backbone"] == "recipe" and rec["backbone_train_acc"] == 0.84 and rec["n_test"] == 20
    assert rec["zsl_acc"] >= 0.8 and rec["top_class_share"] <= 0.4
