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
