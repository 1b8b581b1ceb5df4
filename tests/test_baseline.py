"""Global-only baseline: same interface as the STAR head, global loss only."""

from __future__ import annotations

import pytest
import torch

from star.models import GlobalBaseline, StarConfig, star_loss
from star.models.losses import gce_loss

CFG = StarConfig(num_classes=5, feat_dim=32, num_prompts=6, text_dim=12, text_hidden=10)


def make() -> GlobalBaseline:
    torch.manual_seed(0)
    return GlobalBaseline(CFG)


def test_output_is_mlp_of_pooled_feature():
    model = make().eval()
    f = torch.randn(3, 32, 4, 25)
    out = model(f)
    assert out.part_features is None and out.attention == [] and out.part_names == []
    assert out.global_feature.shape == (3, 6)
    torch.testing.assert_close(out.global_feature, model.visual_mlp(f.mean(dim=(2, 3))))
    # pooling: moving activity between frames or joints does not change the feature
    torch.testing.assert_close(model(f.flip(2).roll(5, dims=3)).global_feature, out.global_feature)


def test_encode_text_ignores_descriptions():
    model = make()
    names = torch.randn(5, 12)
    name_proj, desc_proj = model.encode_text(names, torch.randn(6, 5, 12))
    assert desc_proj is None and name_proj.shape == (5, 6)
    torch.testing.assert_close(name_proj, model.name_mlp(names))
    assert model.encode_text(torch.randn(9, 12))[0].shape == (9, 6)  # any class list
    with pytest.raises(ValueError, match=r"\(C, 12\)"):
        model.encode_text(torch.randn(5, 13))


def test_trains_with_the_global_loss_only_and_every_parameter_learns():
    model = make().train()
    out = model(torch.randn(4, 32, 4, 25))
    name_proj, desc_proj = model.encode_text(torch.randn(5, 12))
    labels = torch.tensor([0, 1, 3, 1])
    losses = star_loss(out, name_proj, desc_proj, labels, [0, 1, 3])
    expected = gce_loss(out.global_feature, name_proj, labels, [0, 1, 3]).item()
    assert losses["total"].item() == pytest.approx(expected)
    assert float(losses["mpce"]) == 0 and float(losses["sce"]) == 0
    losses["total"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_equivariant_to_batch_order_and_deterministic():
    model = make().eval()
    f = torch.randn(4, 32, 4, 25)
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(model(f[perm]).global_feature, model(f).global_feature[perm])
    assert torch.equal(model(f).global_feature, model(f).global_feature)


def test_wrong_feature_shape_is_explained():
    with pytest.raises(ValueError, match="backbone map"):
        make()(torch.randn(2, 31, 4, 25))
