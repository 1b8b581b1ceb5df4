"""End to end on real data (pool42, a few clips per class): train-backbone -> extract -> train -> eval -> predict,
and the head training under torchrun with two CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from star.checkpoint import load_checkpoint
from star.cli import main
from star.data import ClipBank, get_benchmark

pytestmark = pytest.mark.slow


def tiny_flags(repo_root, shared_data, run, out) -> list[str]:
    """configs/tiny.yaml on 3 clips per class and split, not its 4: a quarter less to train and score, and still
    a validation curve that is not all zeros (the epoch and gamma are chosen on it)."""
    return ["-c", str(repo_root / "configs" / "tiny.yaml"), "--run-dir", str(run), "--out", str(out),
            "--data-dir", str(shared_data), "--max-clips-per-class", "3"]


@pytest.fixture(scope="module")
def tiny_run(class_text_once, tmp_path_factory, repo_root, shared_data):
    base = tmp_path_factory.mktemp("tiny")
    flags = tiny_flags(repo_root, shared_data, base / "run", base / "ckpt" / "star-tiny")
    assert main(["train-backbone", *flags]) == 0
    assert main(["extract", *flags]) == 0
    assert main(["train", *flags]) == 0
    return base, flags


def test_checkpoint_is_complete_and_honest(tiny_run):
    base, _ = tiny_run
    ck = load_checkpoint(base / "ckpt" / "star-tiny")
    meta = ck.meta
    assert meta["benchmark"] == "pool42-32/10" and meta["num_parts"] == 6
    assert meta["unseen_classes"] == [1, 7, 11, 13, 17, 24, 27, 35, 37, 41]
    assert meta["gamma"]["chosen_by"].startswith("validation")
    assert not set(meta["gamma"]["pseudo_unseen_classes"]) & set(meta["unseen_classes"])
    assert 1 <= meta["gamma"]["epoch"] <= 3
    for key in ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc"):
        assert 0.0 <= meta["metrics"][key] <= 1.0
    assert meta["metrics"]["H_best_test"] >= meta["metrics"]["H"]  # best-on-test can only be >= validation-chosen
    bundle = ck.load_bundle()
    n = len(bundle["labels"])
    assert bundle["scores"].shape == (n, 42) and bundle["part_features"].shape[:2] == (n, 6)
    assert bundle["desc_proj"].shape[:2] == (6, 42) and bundle["attention_time_joint"].shape[1:] == (16, 25)
    # the bundle holds model outputs only: no array shaped like skeleton frames
    assert not any(a.ndim >= 2 and a.shape[-2:] == (25, 3) for a in bundle.values())
    # the sidecar's numbers are the bundle's scores' numbers, computed here by hand: ZSL argmax over the unseen
    # classes; GZSL argmax over all classes with gamma taken off the seen ones; H their harmonic mean
    scores, labels = bundle["scores"].astype(np.float64), bundle["labels"]
    unseen = np.array(meta["unseen_classes"])
    on_unseen = np.isin(labels, unseen)
    zsl = (unseen[scores[on_unseen][:, unseen].argmax(1)] == labels[on_unseen]).mean()
    calibrated = scores - meta["gamma"]["value"] * ~np.isin(np.arange(42), unseen)
    right = calibrated.argmax(1) == labels
    s, u = right[~on_unseen].mean(), right[on_unseen].mean()
    assert meta["metrics"]["zsl_acc"] == pytest.approx(zsl, abs=1e-9)
    assert (meta["metrics"]["S"], meta["metrics"]["U"]) == (pytest.approx(s, abs=1e-9), pytest.approx(u, abs=1e-9))
    assert meta["metrics"]["H"] == pytest.approx(2 * s * u / (s + u) if s + u else 0.0, abs=1e-9)
    assert 0 < on_unseen.sum() < n  # both kinds of test clip are there, so the checks above compare something


def test_eval_recomputes_the_recorded_metrics(tiny_run, capsys):
    base, flags = tiny_run
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(base / "ckpt" / "star-tiny"), "--json",
                 "--data-dir", flags[flags.index("--data-dir") + 1]]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(got) == {"zsl_acc", "S", "U", "H", "gamma", "H_best_test", "gamma_best_test", "ausuc"}
    recorded = load_checkpoint(base / "ckpt" / "star-tiny").meta["metrics"]
    for key, value in recorded.items():
        assert got[key] == pytest.approx(value, abs=1e-6), key


def test_predict_clip_open_vocabulary_and_bank(tiny_run, ntu_samples, shared_data, tmp_path, capsys):
    base, _ = tiny_run
    ckpt = str(base / "ckpt" / "star-tiny")
    unseen = set(load_checkpoint(ckpt).meta["unseen_classes"])
    names = get_benchmark("pool42-32/10").class_names
    capsys.readouterr()
    assert main(["predict", str(ntu_samples / "S002C001P003R001A003.skeleton"), "--checkpoint", ckpt, "--json",
                 "--top-k", "3"]) == 0
    obj = json.loads(capsys.readouterr().out.strip())
    assert obj["source"].endswith("S002C001P003R001A003.skeleton") and len(obj["top"]) == 3
    assert {t["class"] for t in obj["top"]} <= {names[i] for i in unseen}
    scores = [t["score"] for t in obj["top"]]
    assert scores == sorted(scores, reverse=True)

    assert main(["predict", str(ntu_samples / "S002C001P003R001A003.skeleton"), "--checkpoint", ckpt, "--json",
                 "--classes", "brush teeth; kick a ball;wave"]) == 0
    obj = json.loads(capsys.readouterr().out.strip())
    assert sorted(t["class"] for t in obj["top"]) == ["brush teeth", "kick a ball", "wave"]

    bank = ClipBank.load(shared_data / "nwucla.npz")
    small = bank.subset(np.concatenate([np.flatnonzero(bank.label == 0)[:3], np.flatnonzero(bank.label == 1)[:3]]))
    small.save(tmp_path / "small.npz")
    assert main(["predict", str(tmp_path / "small.npz"), "--checkpoint", ckpt, "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert len(lines) == 7 and "accuracy" in lines[-1]
    assert lines[-1]["clips"] == int(np.sum(small.label == 1))  # only class 1 (unseen) is a ZSL candidate


def test_predict_bad_file_is_a_clear_error(tiny_run, tmp_path, capsys):
    base, _ = tiny_run
    bad = tmp_path / "broken.skeleton"
    bad.write_text("3\n1\nnot numbers\n")
    capsys.readouterr()
    assert main(["predict", str(bad), "--checkpoint", str(base / "ckpt" / "star-tiny")]) == 2
    assert "broken.skeleton" in capsys.readouterr().out


def test_head_training_under_torchrun_with_two_processes(tiny_run):
    base, flags = tiny_run
    out = base / "ckpt" / "star-ddp"
    flags = [f if f != str(base / "ckpt" / "star-tiny") else str(out) for f in flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29533", "-m", "star", "train", *flags, "--head.epochs", "2"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = load_checkpoint(out)
    assert ck.meta["gamma"]["epoch"] in (1, 2)
    log = (base / "run" / "head_star-ddp_log.jsonl").read_text().splitlines()
    assert any(json.loads(line)["stage"] == "final" for line in log)


def test_extraction_under_torchrun_writes_the_features_one_process_writes(tiny_run, tmp_path):
    import shutil

    base, flags = tiny_run
    run = tmp_path / "run"
    run.mkdir()
    for name in ("backbone.safetensors", "backbone_state.json"):
        shutil.copy(base / "run" / name, run / name)
    flags = [f if f != str(base / "run") else str(run) for f in flags]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_port", "29534", "-m", "star", "extract", *flags],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list((run / "features").glob("*.tmp.npy"))
    for split in ("train", "test"):
        for key in ("y", "clip", "copy", "source"):
            np.testing.assert_array_equal(np.load(run / "features" / f"{split}_{key}.npy"),
                                          np.load(base / "run" / "features" / f"{split}_{key}.npy"))
        got, want = (np.load(d / "features" / f"{split}_x.npy") for d in (run, base / "run"))
        assert np.abs(want).sum(axis=tuple(range(1, want.ndim))).min() > 0  # every row written
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)  # thread counts differ: float rounding only
    info = json.loads((run / "features" / "info.json").read_text())
    assert info["rows"] == json.loads((base / "run" / "features" / "info.json").read_text())["rows"]


def test_a_bone_stream_run_records_its_stream_and_evaluates_through_it(class_text_once, repo_root, shared_data,
                                                                      tmp_path, capsys):
    out = tmp_path / "ckpt" / "star-bone"
    flags = tiny_flags(repo_root, shared_data, tmp_path / "run", out)
    bone = [*flags, "--backbone.stream", "bone", "--head.epochs", "2"]
    for stage in ("train-backbone", "extract", "train"):
        assert main([stage, *bone]) == 0
    state = json.loads((tmp_path / "run" / "backbone_state.json").read_text())
    info = json.loads((tmp_path / "run" / "features" / "info.json").read_text())
    meta = load_checkpoint(out).meta
    assert state["stream"] == info["stream"] == meta["backbone_config"]["stream"] == "bone"
    # eval rebuilds the backbone from the sidecar: only the bone stream reproduces the recorded metrics
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(out), "--json", "--data-dir", flags[flags.index("--data-dir") + 1]]) == 0
    got = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key, value in meta["metrics"].items():
        assert got[key] == pytest.approx(value, abs=1e-6), key
    # a head for the joint stream refuses the bone features, naming both
    with pytest.raises(ValueError, match="'bone' backbone stream, but the config says 'joint'"):
        main(["train", *flags, "--out", str(tmp_path / "ckpt" / "star-joint")])
