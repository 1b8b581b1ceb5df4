"""bench/ship.py: a shipped copy loads, keeps weights, bundle and metrics, and carries its new name."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ship  # noqa: E402
from star.checkpoint import load_checkpoint  # noqa: E402


def test_ship_copies_a_checkpoint_under_a_new_name(repo_root, tmp_path):
    src = repo_root / "checkpoints" / "baseline-pool42-32-10"
    out = ship.ship(src, "baseline-copy", root=tmp_path)
    a, b = load_checkpoint(src), load_checkpoint(out)
    assert b.name == "baseline-copy" and b.meta["shipped_from"] == "checkpoints/baseline-pool42-32-10"
    assert {k: v for k, v in b.meta.items() if k not in ("name", "shipped_from")} == \
        {k: v for k, v in a.meta.items() if k not in ("name", "shipped_from")}
    assert a.tensors.keys() == b.tensors.keys() and all(torch.equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    ba, bb = a.load_bundle(), b.load_bundle()
    assert ba.keys() == bb.keys() and all(np.array_equal(ba[k], bb[k]) for k in ba)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline-copy"]  # no temporary folder left behind


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_ship_refuses_a_name_that_is_not_a_folder_name(repo_root, tmp_path, name):
    with pytest.raises(ValueError, match="plain folder name"):
        ship.ship(repo_root / "checkpoints" / "baseline-pool42-32-10", name, root=tmp_path)


def test_expected_accuracy_is_the_mean_over_the_four_held_out_datasets(repo_root, tmp_path):
    heads = [{"benchmark": f"lodo-{src}", "model": model, "seed": seed, "zsl_acc": acc + 0.02 * seed}
             for src, acc in (("nwucla", 0.30), ("msr3d", 0.20), ("gtu3d", 0.40), ("utdmhad", 0.10))
             for seed in (0, 1) for model in ("star-6", "baseline")]
    got = ship.lodo_expectation(heads)
    assert got["per_fold"] == pytest.approx({"gtu3d": 0.41, "msr3d": 0.21, "nwucla": 0.31, "utdmhad": 0.11})
    assert got["zsl_acc"] == pytest.approx(0.26) and "utdmhad 11.0 %" in got["meaning"]
    with pytest.raises(ValueError, match="not all four"):
        ship.lodo_expectation([h for h in heads if h["benchmark"] != "lodo-gtu3d"])
    out = ship.ship(repo_root / "checkpoints" / "baseline-pool42-32-10", "b", root=tmp_path,
                    extra={"expected_accuracy": got})
    assert load_checkpoint(out).meta["expected_accuracy"]["zsl_acc"] == pytest.approx(0.26)
