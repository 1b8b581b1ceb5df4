"""The shipped checkpoints load, evaluate to the numbers their sidecars record, and predict on a real clip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from star.checkpoint import list_checkpoints, load_checkpoint
from star.cli import main
from star.evaluation import test_metrics as compute_metrics
from star.inference import DEFAULT_CHECKPOINT

SHIPPED = ("star-pool42-32-10", "baseline-pool42-32-10", "star-noam-pool42-32-10")  # pool42 32/10: the GZSL views
OPEN_VOCABULARY = "star-openvocab-pool69"  # every class of the four small datasets: the app's default


@pytest.fixture(scope="module")
def ckpt_root(repo_root):
    return repo_root / "checkpoints"


def test_shipped_set_and_size(ckpt_root):
    names = [p.name for p in list_checkpoints(ckpt_root)]
    for name in (*SHIPPED, OPEN_VOCABULARY):
        assert name in names
    assert DEFAULT_CHECKPOINT == OPEN_VOCABULARY
    total = sum(f.stat().st_size for f in ckpt_root.rglob("*") if f.is_file())
    assert total < 60 * 2**20
    assert (ckpt_root / DEFAULT_CHECKPOINT / "model.safetensors").stat().st_size < 15 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_sidecar_metrics_match_the_bundle(ckpt_root, name):
    ck = load_checkpoint(ckpt_root / name)
    b = ck.load_bundle()
    got = compute_metrics(b["scores"], b["labels"], ck.seen, ck.unseen, ck.gamma)
    for key, value in ck.meta["metrics"].items():
        assert got[key] == pytest.approx(value, abs=1e-9), key
    assert ck.meta["gamma"]["chosen_by"].startswith("validation")
    assert ck.meta["benchmark"] == "pool42-32/10"


@pytest.mark.slow
def test_star_eval_recomputes_the_sidecar_metrics_from_the_test_clips(ckpt_root, shared_data, capsys, monkeypatch):
    """The three pool42 checkpoints in one `star eval`: each gets its sidecar's numbers, and their one shared frozen
    backbone runs over the test clips once (a batch of 64 at a time), not once per checkpoint."""
    import threading

    from star.pipeline import StarPipeline

    batches, here = [], threading.get_ident()  # calls from this thread (an app test's warm-up thread may still run)
    real = StarPipeline.backbone_features
    monkeypatch.setattr(StarPipeline, "backbone_features",
                        lambda self, x: (threading.get_ident() == here and batches.append(len(x))) or real(self, x))
    capsys.readouterr()
    assert main(["eval", "--checkpoint", *(str(ckpt_root / n) for n in SHIPPED), "--json",
                 "--data-dir", str(shared_data)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [line["checkpoint"] for line in lines] == [str(ckpt_root / n) for n in SHIPPED]
    for name, got in zip(SHIPPED, lines):
        recorded = load_checkpoint(ckpt_root / name).meta["metrics"]
        for key, value in recorded.items():
            assert got[key] == pytest.approx(value, abs=1e-4), (name, key)
    ck = load_checkpoint(ckpt_root / SHIPPED[0])
    assert sum(batches) == len(ck.load_bundle()["labels"]) and max(batches) == 64  # every test clip, once


def test_eval_runs_a_backbone_once_only_for_equal_weights(ckpt_root):
    """Checkpoints are grouped by what their test features depend on: one changed backbone weight (or other test
    clips) makes a group of its own."""
    from types import SimpleNamespace

    from star.evaluation import _backbone_identity
    from star.pipeline import StarPipeline

    cfg, test = SimpleNamespace(data_dir="d"), SimpleNamespace(sample_id=["a", "b"], label=[0, 1])
    ident = {}
    for name in SHIPPED:
        ident[name] = _backbone_identity(StarPipeline(load_checkpoint(ckpt_root / name)), cfg, test)
    assert len(set(ident.values())) == 1
    ck = load_checkpoint(ckpt_root / SHIPPED[0])
    key = next(k for k in ck.tensors if k.startswith("backbone.") and ck.tensors[k].is_floating_point())
    ck.tensors[key] = ck.tensors[key].clone()
    ck.tensors[key].view(-1)[0] += 1e-3
    assert _backbone_identity(StarPipeline(ck), cfg, test) != ident[SHIPPED[0]]
    other = SimpleNamespace(sample_id=["a", "c"], label=[0, 1])
    assert _backbone_identity(StarPipeline(load_checkpoint(ckpt_root / SHIPPED[0])), cfg, other) != ident[SHIPPED[0]]


def test_eval_refuses_fuse_with_several_checkpoints(ckpt_root, capsys):
    star, baseline = (str(ckpt_root / name) for name in SHIPPED[:2])
    assert main(["eval", "--checkpoint", star, baseline, "--fuse", baseline]) == 2
    assert "--fuse takes one --checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("name", SHIPPED)
def test_star_predict_on_a_real_ntu_clip(ckpt_root, ntu_samples, name, capsys):
    capsys.readouterr()
    assert main(["predict", str(ntu_samples / "S001C003P008R002A058.skeleton"), "--checkpoint",
                 str(ckpt_root / name), "--json", "--gzsl", "--top-k", "42"]) == 0
    obj = json.loads(capsys.readouterr().out.strip())
    ck = load_checkpoint(ckpt_root / name)
    assert sorted(t["class"] for t in obj["top"]) == sorted(ck.class_names)
    assert np.all(np.diff([t["score"] for t in obj["top"]]) <= 0)


def test_star_eval_fuses_checkpoints_of_one_split_from_their_bundles(ckpt_root, capsys):
    star, baseline = (str(ckpt_root / name) for name in ("star-pool42-32-10", "baseline-pool42-32-10"))
    capsys.readouterr()
    assert main(["eval", "--checkpoint", star, "--fuse", star, "--json"]) == 0
    itself = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key, value in load_checkpoint(star).meta["metrics"].items():
        assert itself[key] == pytest.approx(value, abs=1e-9), key
    assert main(["eval", "--checkpoint", star, "--fuse", baseline, "--json"]) == 0
    fused = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    gammas = [load_checkpoint(p).gamma for p in (star, baseline)]
    assert fused["gamma"] == pytest.approx(sum(gammas) / 2)


def test_star_predict_says_which_dataset_a_real_ntu_clip_resembles(ckpt_root, ntu_samples, capsys):
    from star.skeleton.io import read_ntu_skeleton
    from star.source_model import load_source_model

    path = ntu_samples / "S001C003P008R002A058.skeleton"
    capsys.readouterr()
    assert main(["predict", str(path), "--json", "--resembles"]) == 0
    got = json.loads(capsys.readouterr().out.strip())["resembles"]
    like = load_source_model().resemblance(read_ntu_skeleton(path).frames)
    assert got["best"] == like.best and got["unlike_all"] == like.unlike_all
    assert got["probabilities"] == {n: round(float(p), 6) for n, p in zip(like.sources, like.probabilities)}
    assert got["unusual_cues"] == [u["cue"] for u in like.unusual]
    assert main(["predict", str(path), "--resembles"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[1].startswith(f"  recording resembles {like.sources[0]} {100 * like.probabilities[0]:.1f} %")


def test_the_open_vocabulary_checkpoint_saw_every_class_within_30_minutes(ckpt_root):
    ck = load_checkpoint(ckpt_root / OPEN_VOCABULARY)
    assert ck.meta["benchmark"] == "pool69-all" and ck.unseen == [] and len(ck.class_names) == 68
    b = ck.load_bundle()
    got = compute_metrics(b["scores"], b["labels"], ck.seen, ck.unseen, ck.gamma)
    assert got["S"] == pytest.approx(ck.meta["metrics"]["S"], abs=1e-9) and got["zsl_acc"] is None
    assert len(b["labels"]) == 1321  # every test clip of the four sources' own protocols
    wall = ck.meta["wall_time_s"]
    assert set(wall) == {"backbone", "extract", "head"} and sum(wall.values()) <= 30 * 60  # the budget
    assert ck.meta["config"]["validation"]["select_by"] == "zsl"


def test_star_predict_ranks_every_class_of_the_open_vocabulary_checkpoint(ckpt_root, ntu_samples, capsys):
    capsys.readouterr()
    assert main(["predict", str(ntu_samples / "S002C001P003R001A003.skeleton"), "--json", "--top-k", "68"]) == 0
    obj = json.loads(capsys.readouterr().out.strip())
    assert sorted(t["class"] for t in obj["top"]) == sorted(load_checkpoint(ckpt_root / OPEN_VOCABULARY).class_names)
