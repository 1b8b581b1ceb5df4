"""The v2 recipe end to end on a tiny run (issue 11): a checkpoint trained with a canonical-skeleton spec
records it, and `star eval`, `star predict` / Predictor reproduce its bundle scores through that spec;
protocol validation with a pseudo-seen backbone, tau grid + learned tau, one copy per clip per epoch."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from star.checkpoint import load_checkpoint
from star.cli import main
from star.config import RunConfig, add_config_arguments, load_benchmark_splits, resolve_config
from star.inference import Predictor
from star.pipeline import StarPipeline
from star.skeleton.canonical import LEGACY, Canonical

pytestmark = pytest.mark.slow
SPEC = "view,joints,scale,smooth=1.0"


@pytest.fixture(scope="module")
def v2_run(class_text_once, tmp_path_factory, repo_root, shared_data):
    base = tmp_path_factory.mktemp("tiny_v2")
    flags = ["-c", str(repo_root / "configs" / "tiny.yaml"), "--run-dir", str(base / "run"),
             "--out", str(base / "ckpt" / "star-v2"), "--data-dir", str(shared_data), "--preprocess", SPEC,
             "--validation.protocol", "protocol", "--validation.backbone", "pseudo-seen",
             "--features.augmented-copies", "1", "--head.copy-sampling", "one", "--head.tau-grid", "[0.1, 0.2]",
             "--head.milestone-fractions", "[0.5]", "--validation.select-by", "ausuc"]
    for command in ("train-backbone", "extract", "train"):
        assert main([command, *flags]) == 0
    return base, flags


def test_sidecar_records_the_recipe(v2_run):
    base, _ = v2_run
    meta = load_checkpoint(base / "ckpt" / "star-v2").meta
    assert meta["preprocess"] == Canonical.parse(SPEC).to_dict() and meta["config"]["preprocess"] == SPEC
    g = meta["gamma"]
    assert g["protocol"] == "protocol" and g["backbone"] == "pseudo-seen" and g["select_by"] == "ausuc"
    assert set(g["held_out"]) == {"nwucla", "msr3d", "gtu3d"} and not set(g["pseudo_unseen_classes"]) & set(meta["unseen_classes"])
    assert meta["tau"]["grid"] == [0.1, 0.2] and meta["tau"]["initial"] in (0.1, 0.2)
    assert meta["tau"]["value"] == meta["tau"]["initial"] and not meta["tau"]["learned"]
    # the final run replays the 3-epoch validation schedule (drop at floor(0.5 * 3) = 1) up to the chosen epoch
    assert meta["schedule"]["final_milestones"] == ([1] if g["epoch"] > 1 else [])
    assert meta["schedule"]["final"] == "replay of the 3-epoch validation schedule" and g["smooth_epochs"] == 1
    curves = meta["learning_curves"]
    assert set(curves) == {"validation tau=0.1", "validation tau=0.2", "final"}
    for stage in ("validation tau=0.1", "validation tau=0.2"):
        assert curves[stage]["epoch"] == [1, 2, 3] and len(curves[stage]["val_ausuc"]) == 3
        assert curves[stage]["lr"] == pytest.approx([0.01, 0.001, 0.001])  # drop at floor(0.5 * 3) = 1: from epoch 2
    assert len(curves["final"]["loss_total"]) == g["epoch"]
    assert curves["final"]["lr"] == pytest.approx([0.01, 0.001, 0.001][:g["epoch"]])
    state = json.loads((base / "run" / "validation" / "backbone_state.json").read_text())
    assert state["seen_classes"] == [c for c in meta["seen_classes"] if c not in g["pseudo_unseen_classes"]]
    assert state["preprocess"] == meta["preprocess"]


def test_eval_and_predict_reproduce_the_bundle_through_the_spec(v2_run, capsys):
    base, flags = v2_run
    ckpt = base / "ckpt" / "star-v2"
    data = flags[flags.index("--data-dir") + 1]
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(ckpt), "--json", "--data-dir", data]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key, value in load_checkpoint(ckpt).meta["metrics"].items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    # the predict path (Predictor, as `star predict` and the app use it) gives the bundle's scores
    pred = Predictor.load(ckpt)
    assert pred.pipe.canonical == Canonical.parse(SPEC)
    cfg = RunConfig.from_dict(pred.meta["config"])
    cfg.data_dir = data
    test = load_benchmark_splits(cfg)[1]["test"]
    clips = [test.clip(i) for i in range(6)]
    bundle = pred.pipe.ckpt.load_bundle()
    scores = np.stack([p.scores for p in pred.predict(clips)])
    np.testing.assert_allclose(scores, bundle["scores"][:6], atol=1e-5)
    # without the spec the scores differ: the recorded preprocessing is what makes them match
    pred.pipe.canonical = LEGACY
    legacy = np.stack([p.scores for p in pred.predict(clips)])
    assert np.abs(legacy - bundle["scores"][:6]).max() > 1e-4


def test_a_sidecar_without_preprocess_loads_as_legacy(v2_run, tmp_path):
    import shutil

    base, _ = v2_run
    copy = tmp_path / "old"
    shutil.copytree(base / "ckpt" / "star-v2", copy)
    meta = json.loads((copy / "model.json").read_text())
    del meta["preprocess"]
    (copy / "model.json").write_text(json.dumps(meta))
    assert StarPipeline.load(copy).canonical == LEGACY


def test_mismatched_preprocess_is_an_error(v2_run):
    base, flags = v2_run
    other = [f if f != SPEC else "view" for f in flags]
    with pytest.raises(ValueError, match="preprocess"):
        from star.features import extract_features

        extract_features(resolve_config(path=other[1], overrides={"run_dir": str(base / "run"),
                                                                     "data_dir": flags[flags.index("--data-dir") + 1],
                                                                     "preprocess": "view"}))


def test_several_validation_folds_average_their_curves(v2_run):
    """validation.folds 2 on the run's own backbone: the epoch is chosen on the folds' mean curve, gamma is
    the folds' mean gamma at that epoch, and fold 0 is exactly the one-fold run's fold (same records)."""
    base, flags = v2_run
    dropped = {"--validation.backbone", "--head.tau-grid", "--out"}
    common = [f for i, f in enumerate(flags) if f not in dropped and (i == 0 or flags[i - 1] not in dropped)]
    outs = {}
    for folds in (1, 2):
        out = base / "ckpt" / f"star-folds{folds}"
        args = [*common, "--validation.folds", str(folds), "--out", str(out)]
        assert main(["train", *args]) == 0
        outs[folds] = load_checkpoint(out).meta
    one, two = outs[1], outs[2]
    assert set(one["learning_curves"]) == {"validation", "final"} and "folds" in one["gamma"]
    assert set(two["learning_curves"]) == {"validation", "validation fold=0", "validation fold=1", "final"}
    c = two["learning_curves"]
    for key in ("val_H", "val_gamma", "val_zsl", "loss_total"):
        np.testing.assert_allclose(c["validation"][key],
                                   (np.array(c["validation fold=0"][key]) + c["validation fold=1"][key]) / 2)
    # fold 0 of the two-fold run is the one-fold run's validation run, record for record
    np.testing.assert_allclose(c["validation fold=0"]["val_H"], one["learning_curves"]["validation"]["val_H"])
    g = two["gamma"]
    assert g["chosen_by"].startswith("validation: mean of the best-H gammas of 2 pseudo-unseen folds")
    assert one["gamma"]["chosen_by"].startswith("validation: best H on the pseudo-unseen fold")
    assert g["folds"] == 2 and len(g["fold_unseen_classes"]) == 2 and g["fold_unseen_classes"][0] == g["pseudo_unseen_classes"]
    assert g["fold_unseen_classes"][0] != g["fold_unseen_classes"][1]
    assert g["epoch"] == int(np.argmax(c["validation"]["val_ausuc"])) + 1  # select-by ausuc, no smoothing, first max
    at = g["fold_at_epoch"]
    assert [r["fold"] for r in at] == [0, 1]
    assert g["value"] == pytest.approx(np.mean([r["val_gamma"] for r in at]))
    assert g["val_H"] == pytest.approx(np.mean([r["val_H"] for r in at]))


def test_bf16_head_training_tracks_fp32(v2_run):
    """head.precision bf16 (autocast of the training forward pass) trains the same head on the same batches:
    the config is recorded, the weights stay fp32 and the per-epoch losses stay within bf16's rounding of
    the fp32 run's."""
    base, flags = v2_run
    dropped = {"--validation.backbone", "--head.tau-grid", "--out"}
    common = [f for i, f in enumerate(flags) if f not in dropped and (i == 0 or flags[i - 1] not in dropped)]
    metas = {}
    for precision in ("fp32", "bf16"):
        out = base / "ckpt" / f"star-{precision}"
        assert main(["train", *common, "--head.precision", precision, "--out", str(out)]) == 0
        ckpt = load_checkpoint(out)
        assert all(t.dtype == torch.float32 for k, t in ckpt.tensors.items() if k.startswith("head."))
        metas[precision] = ckpt.meta
    assert metas["bf16"]["config"]["head"]["precision"] == "bf16"
    fp32, bf16 = (metas[p]["learning_curves"]["validation"]["loss_total"] for p in ("fp32", "bf16"))
    assert np.all(np.isfinite(bf16)) and fp32 != bf16
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)


def test_bf16_backbone_training_records_its_precision(tmp_path, repo_root, shared_data):
    """backbone.precision bf16: one tiny epoch trains, the weights stay fp32 and finite, the state says bf16."""
    from safetensors.torch import load_file

    from star.features import BACKBONE_FILE, BACKBONE_STATE_FILE

    run = tmp_path / "run"
    assert main(["train-backbone", "-c", str(repo_root / "configs" / "tiny.yaml"), "--run-dir", str(run),
                 "--data-dir", str(shared_data), "--backbone.precision", "bf16"]) == 0
    assert json.loads((run / BACKBONE_STATE_FILE).read_text())["precision"] == "bf16"
    weights = load_file(str(run / BACKBONE_FILE))
    assert all(t.dtype in (torch.float32, torch.int64) and torch.isfinite(t.float()).all() for t in weights.values())


def _one_fold_flags(flags: list[str]) -> list[str]:
    dropped = {"--validation.backbone", "--head.tau-grid", "--out"}
    return [f for i, f in enumerate(flags) if f not in dropped and (i == 0 or flags[i - 1] not in dropped)]


def test_a_part_weight_adds_part_evidence_everywhere_the_checkpoint_scores(v2_run, capsys):
    """head.part_weight 1: the bundle's scores are the fused scores of its own outputs, not the global cosine,
    and `star eval` and the Predictor (star predict, the app) compute the same fused scores."""
    from star.zsl import cosine_scores, fused_scores

    base, flags = v2_run
    out = base / "ckpt" / "star-w1"
    data = flags[flags.index("--data-dir") + 1]
    assert main(["train", *_one_fold_flags(flags), "--head.part-weight", "1.0", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.meta["score"]["part_weight"] == 1.0 and ckpt.meta["score"]["chosen_by"] == "config (head.part_weight)"
    b = ckpt.load_bundle()
    fused = fused_scores(b["global_features"], b["name_proj"], b["part_features"], b["desc_proj"], 1.0)
    np.testing.assert_allclose(b["scores"], fused, atol=1e-5)
    assert np.abs(b["scores"] - cosine_scores(b["global_features"], b["name_proj"])).max() > 0.05
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out), "--json", "--data-dir", data]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key, value in ckpt.meta["metrics"].items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    pred = Predictor.load(out)
    cfg = RunConfig.from_dict(pred.meta["config"])
    cfg.data_dir = data
    test = load_benchmark_splits(cfg)[1]["test"]
    scores = np.stack([p.scores for p in pred.predict([test.clip(i) for i in range(4)])])
    np.testing.assert_allclose(scores, b["scores"][:4], atol=1e-5)


def test_the_part_weight_grid_is_chosen_on_validation(v2_run):
    """head.part_weight_grid [0, 1]: one training run per fold, scored with both weights after every epoch; the
    (weight, epoch) with the best validation AUSUC wins (ties: earlier epoch, then the earlier weight). ``also``
    writes the weight-0 head of the same validation runs, which is exactly the head a run without the grid gives."""
    from star.training.head import train_head

    base, flags = v2_run
    out, out0, plain = (base / "ckpt" / name for name in ("star-wgrid", "star-wgrid-w0", "star-plain"))
    common = _one_fold_flags(flags)
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    train_head(resolve_config(parser.parse_args([*common, "--head.part-weight-grid", "[0.0, 1.0]", "--out", str(out)])),
               also={str(out0): [0.0]})
    assert main(["train", *common, "--out", str(plain)]) == 0
    meta = load_checkpoint(out).meta
    c = meta["learning_curves"]
    assert set(c) == {"validation w=0", "validation w=1", "final"}
    np.testing.assert_allclose(c["validation w=0"]["loss_total"], c["validation w=1"]["loss_total"])  # same run
    assert c["validation w=0"]["val_gamma"] != c["validation w=1"]["val_gamma"]  # scored differently
    candidates = [(a, -e, -i) for i, w in enumerate((0, 1)) for e, a in enumerate(c[f"validation w={w}"]["val_ausuc"], 1)]
    best = max(candidates)
    assert meta["score"]["part_weight"] == (0.0, 1.0)[-best[2]] and meta["gamma"]["epoch"] == -best[1]
    assert meta["score"]["grid"] == [0.0, 1.0] and meta["score"]["chosen_by"].startswith("validation: best ausuc")
    assert meta["gamma"]["value"] == pytest.approx(c[f"validation w={-best[2]}"]["val_gamma"][-best[1] - 1])
    # the weight-0 head of the same validation runs is the plain run's head: same curve, epoch, gamma and metrics
    w0, ref = load_checkpoint(out0).meta, load_checkpoint(plain).meta
    assert w0["config"]["head"]["part_weight_grid"] == [] and w0["score"]["part_weight"] == 0.0
    np.testing.assert_allclose(w0["learning_curves"]["validation w=0"]["val_H"], ref["learning_curves"]["validation"]["val_H"])
    assert (w0["gamma"]["epoch"], w0["gamma"]["value"]) == (ref["gamma"]["epoch"], ref["gamma"]["value"])
    for key, value in ref["metrics"].items():
        assert w0["metrics"][key] == pytest.approx(value, abs=1e-6), key


def test_a_head_without_parts_refuses_a_part_weight(v2_run):
    base, flags = v2_run
    with pytest.raises(ValueError, match="no parts to score"):
        main(["train", *_one_fold_flags(flags), "--head.model", "baseline", "--head.part-weight", "0.5",
              "--out", str(base / "ckpt" / "baseline-w")])
