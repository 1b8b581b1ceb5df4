"""bench/default_timing.py: the commands each mode runs, and the record / table it reads from a sidecar."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import default_timing  # noqa: E402


def test_ddp_mode_trains_under_torchrun_with_one_thread_per_process():
    cmds = default_timing.commands("ddp", "bf16", 2, 2, "runs/t", "runs/t/ckpt/x")
    (bb, bb_env), (ex, ex_env), (hd, hd_env) = cmds
    assert bb[0].endswith("torchrun") and bb[1:7] == ["--standalone", "--nproc_per_node", "2", "-m", "star", "train-backbone"]
    assert ex[6] == "extract" and hd[6] == "train" and bb_env == ex_env == hd_env == {"OMP_NUM_THREADS": "1"}
    for argv, _ in cmds:
        i = argv.index("--backbone.precision")
        assert argv[i + 1] == "bf16" and argv[argv.index("--head.precision") + 1] == "bf16"
        assert argv[argv.index("-c") + 1] == default_timing.CONFIG


def test_threads_mode_runs_every_stage_in_one_process():
    cmds = default_timing.commands("threads", "fp32", 2, 2, "runs/t", "runs/t/ckpt/x")
    assert [a[3] for a, _ in cmds] == ["train-backbone", "extract", "train"]
    assert all(env == {"OMP_NUM_THREADS": "2"} for _, env in cmds)


def test_record_and_table_from_a_sidecar(tmp_path):
    meta = {"wall_time_s": {"backbone": 600.0, "extract": 120.0, "head": 400.0}, "device": "cpu (X, 1 threads x 2 processes)",
            "metrics": {"zsl_acc": 0.5, "H": 0.4, "H_best_test": 0.45}}
    (tmp_path / "model.json").write_text(json.dumps(meta))
    rec = default_timing.record_of(tmp_path, "ddp", "bf16", 2, 2)
    assert rec["total_s"] == 1120.0 and rec["procs"] == 2 and rec["threads"] == 1
    rec["note"] = "a note"
    assert default_timing.table([rec])[2] == ("| pool42-32-10-v2 | ddp | bf16 | cpu (X, 1 threads x 2 processes) | 600 | 120 | 400 | 18.7 | met "
                                             "| 50.0 | 40.0 | a note |")
    rec["total_s"] = 1201.0
    assert "| missed |" in default_timing.table([rec])[2]


def test_precision_none_keeps_the_configs_and_the_record_reads_it(tmp_path):
    cmds = default_timing.commands("ddp", None, 2, 1, "runs/t", "runs/t/ckpt/x", "configs/other.yaml")
    for argv, _ in cmds:
        assert "--backbone.precision" not in argv and "--head.precision" not in argv
        assert argv[argv.index("-c") + 1] == "configs/other.yaml"
    meta = {"wall_time_s": {"backbone": 1.0, "head": 2.0}, "device": "cpu (X, 1 threads)", "config": {"head": {"precision": "bf16"}},
            "metrics": {"zsl_acc": 0.5, "H": 0.4, "H_best_test": 0.45}}
    (tmp_path / "model.json").write_text(json.dumps(meta))
    rec = {**default_timing.record_of(tmp_path, "ddp", None, 2, 1), "config": "configs/pool42-32-10-v3.yaml"}
    assert rec["precision"] == "bf16"
    assert default_timing.table([rec])[2].startswith("| pool42-32-10-v3 | ddp | bf16 |")
