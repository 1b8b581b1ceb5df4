"""Both heads answer the same calls, built by name from one registry; nothing else asks which head it holds."""

from __future__ import annotations

import re

import pytest
import torch

from star.models import HEADS, StarConfig, build_head, list_heads, star_loss
from star.models.star import StarOutput

CFG = StarConfig(num_classes=5, num_parts=2, feat_dim=16, d_model=8, num_prompts=6, num_heads=2, text_dim=12,
                 text_hidden=10)


@pytest.mark.parametrize("name", list_heads())
def test_every_head_has_the_one_interface(name):
    torch.manual_seed(0)
    head = build_head(name, CFG).eval()
    assert isinstance(head, HEADS[name])
    out = head(torch.randn(3, 16, 4, 25))
    assert isinstance(out, StarOutput) and out.global_feature.shape == (3, 6)
    names, descs = torch.randn(5, 12), torch.randn(2, 5, 12)
    name_proj, desc_proj = head.encode_text(names, descs)
    assert name_proj.shape == (5, 6)
    assert torch.allclose(head.encode_names(names), name_proj)
    assert head.encode_text(names, None)[1] is None
    assert (desc_proj is None) == (out.part_features is None)  # parts on both sides, or on neither
    losses = star_loss(out, name_proj, desc_proj, torch.tensor([0, 1, 2]), [0, 1, 2, 3], tau=0.1)
    if desc_proj is None:  # the losses drop the part terms
        assert losses["mpce"] == 0 and losses["sce"] == 0 and torch.equal(losses["total"], losses["gce"])
    assert build_head(name, CFG.to_dict()).config == CFG  # a sidecar's head_config dict works too


def test_unknown_head_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown head model 'mlp' .*star, baseline"):
        build_head("mlp", CFG)


def test_nothing_outside_the_registry_branches_on_the_head_name(repo_root):
    pattern = re.compile(r"""==\s*["'](star|baseline)["']""")
    hits = [f"{p}:{i}" for p in (repo_root / "star").rglob("*.py") if p.name != "heads.py"
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


def test_a_head_needs_its_class_count():
    with pytest.raises(ValueError, match="num_classes is not set"):
        build_head("star", StarConfig())
