"""STAR head: shapes, token order, part locality, formulas, gradients, equivariance, determinism, size."""

from __future__ import annotations

import pytest
import torch

from star.models import ShiftGCN, StarConfig, StarHead, freeze, star_loss
from star.skeleton.topology import partition

SMALL = dict(num_classes=5, feat_dim=32, d_model=16, num_prompts=6, num_heads=2, text_dim=12, text_hidden=10)


def small_head(**overrides) -> StarHead:
    torch.manual_seed(0)
    return StarHead(StarConfig(**{**SMALL, **overrides}))


def feat(n=3, t=4, d=32, seed=0) -> torch.Tensor:
    return torch.randn(n, d, t, 25, generator=torch.Generator().manual_seed(seed))


def text(c=5, k=6, dt=12, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(c, dt, generator=gen), torch.randn(k, c, dt, generator=gen)


@pytest.mark.parametrize("k", [2, 4, 6])
def test_shapes(k):
    head = small_head(num_parts=k)
    out = head(feat(t=4))
    parts = partition(k)
    assert out.part_features.shape == (3, k, 6)
    assert out.global_feature.shape == (3, 6)
    assert out.part_names == list(parts)
    assert [a.shape for a in out.attention] == [(3, 2, 6, 4 * len(j)) for j in parts.values()]
    for a in out.attention:
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]))
    torch.testing.assert_close(out.global_feature, out.part_features.sum(1))
    name_proj, desc_proj = head.encode_text(*text(k=k))
    assert name_proj.shape == (5, 6) and desc_proj.shape == (k, 5, 6)


def test_token_order_is_time_major_then_part_joints():
    head = small_head(num_parts=4)
    f = feat(n=2, t=3)
    for k, joints in enumerate(partition(4).values()):
        tokens = head.part_tokens(f, k)
        assert tokens.shape == (2, 3 * len(joints), 32)
        for t in range(3):
            for j, joint in enumerate(joints):
                assert torch.equal(tokens[:, t * len(joints) + j], f[:, :, t, joint])


@pytest.mark.parametrize("use_attention", [True, False])
def test_each_part_sees_only_its_joints(use_attention):
    head = small_head(num_parts=6, use_attention=use_attention).eval()
    f = feat()
    base = head(f).part_features
    for k, joints in enumerate(partition(6).values()):
        g = f.clone()
        g[:, :, :, joints[0]] += 1.0
        changed = (head(g).part_features - base).abs().amax(dim=(0, 2)) > 1e-6  # (K,)
        assert changed.tolist() == [i == k for i in range(6)]


def test_part_feature_is_prompt_times_w_times_ffn_of_attention():
    head = small_head(num_parts=2).eval()
    f = feat()
    out = head(f)
    branch = head.branches[1]
    tokens = head.part_tokens(f, 1)
    prompts = branch.prompts.unsqueeze(0).expand(3, -1, -1)
    attended, _ = branch.attn(prompts, tokens, tokens)
    e = branch.ffn(attended)  # (N, m, d)
    expected = torch.einsum("ia,ab,nib->ni", branch.prompts, branch.proj.weight, e)
    torch.testing.assert_close(out.part_features[:, 1], expected)


def test_without_attention_uses_mean_pooled_tokens():
    head = small_head(num_parts=2, use_attention=False).eval()
    f = feat()
    out = head(f)
    assert out.attention == []
    branch = head.branches[0]
    pooled = branch.token_proj(head.part_tokens(f, 0).mean(1))  # (N, d)
    e = branch.ffn(pooled)  # the same vector for every prompt
    expected = torch.einsum("ia,ab,nb->ni", branch.prompts, branch.proj.weight, e)
    torch.testing.assert_close(out.part_features[:, 0], expected)


def test_without_visual_prompts_queries_are_fixed_buffers():
    head = small_head(use_visual_prompts=False)
    names = [n for n, _ in head.named_parameters()]
    assert not any("prompts" in n and "semantic" not in n for n in names)
    assert "branches.0.prompts" in head.state_dict()
    again = small_head(use_visual_prompts=False)
    assert torch.equal(head.branches[3].prompts, again.branches[3].prompts)
    assert not torch.equal(head.branches[0].prompts, head.branches[1].prompts)


def test_semantic_prompts_are_added_to_descriptions():
    head = small_head(num_parts=2)
    with torch.no_grad():
        head.semantic_prompts.normal_()
    names, descs = text(k=2)
    _, with_prompt = head.encode_text(names, descs)
    _, without = head.encode_text(names, descs, use_prompt=False)
    for k in range(2):
        torch.testing.assert_close(with_prompt[k], head.desc_mlps[k](descs[k] + head.semantic_prompts[k]))
        torch.testing.assert_close(without[k], head.desc_mlps[k](descs[k]))
    # another class list works without prompts, not with them
    names7, descs7 = text(c=7, k=2)
    assert head.encode_text(names7, descs7, use_prompt=False)[1].shape == (2, 7, 6)
    with pytest.raises(ValueError, match="semantic prompts cover the checkpoint's 5 classes"):
        head.encode_text(names7, descs7)
    assert small_head(num_parts=2, use_semantic_prompts=False).semantic_prompts is None


CONFIGS = [{}, {"num_parts": 2}, {"use_attention": False}, {"use_visual_prompts": False},
           {"use_semantic_prompts": False}, {"dropout": 0.1}]


@pytest.mark.parametrize("overrides", CONFIGS)
def test_gradients_reach_every_learnable_tensor(overrides):
    head = small_head(**overrides).train()
    k = head.config.num_parts
    out = head(feat(n=4))
    name_proj, desc_proj = head.encode_text(*text(k=k))
    losses = star_loss(out, name_proj, desc_proj, torch.tensor([0, 1, 2, 0]), [0, 1, 2],
                       text_classes=range(5))
    losses["total"].backward()
    params = dict(head.named_parameters())
    assert params
    for name, p in params.items():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("overrides", [{}, {"use_attention": False}])
def test_equivariant_to_batch_order(overrides):
    head = small_head(**overrides).eval()
    f = feat(n=5)
    perm = torch.tensor([3, 0, 4, 1, 2])
    out, out_p = head(f), head(f[perm])
    torch.testing.assert_close(out_p.part_features, out.part_features[perm])
    torch.testing.assert_close(out_p.global_feature, out.global_feature[perm])
    for a, a_p in zip(out.attention, out_p.attention):
        torch.testing.assert_close(a_p, a[perm])


def test_deterministic_in_eval_mode():
    head = small_head(dropout=0.5).eval()
    f = feat()
    a, b = head(f), head(f)
    assert torch.equal(a.part_features, b.part_features)
    assert all(torch.equal(x, y) for x, y in zip(a.attention, b.attention))
    names, descs = text()
    assert all(torch.equal(x, y) for x, y in zip(head.encode_text(names, descs), head.encode_text(names, descs)))


def test_sizes_are_configuration():
    head = StarHead(StarConfig(num_classes=3, num_parts=4, feat_dim=8, d_model=6, num_prompts=7, num_heads=3,
                               ffn_hidden=11, text_dim=9, text_hidden=5))
    out = head(torch.randn(2, 8, 5, 25))
    assert out.part_features.shape == (2, 4, 7)
    assert head.encode_text(torch.randn(3, 9), torch.randn(4, 3, 9))[1].shape == (4, 3, 7)


def test_bad_configuration_and_inputs_are_explained():
    with pytest.raises(ValueError, match="num_parts"):
        StarConfig(num_classes=5, num_parts=3)
    with pytest.raises(ValueError, match="divisible"):
        StarConfig(num_classes=5, d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="backbone map"):
        small_head()(torch.randn(2, 31, 4, 25))
    with pytest.raises(ValueError, match="description embeddings"):
        small_head().encode_text(torch.randn(5, 12), torch.randn(4, 5, 12))


def checkpoint_bytes(*modules: torch.nn.Module) -> int:
    return sum(t.numel() * 4 for m in modules for t in m.state_dict().values() if t.is_floating_point())


def test_default_checkpoint_is_under_15_mb():
    backbone = ShiftGCN(num_classes=42)
    head = StarHead(StarConfig(num_classes=42, text_dim=384))
    assert head.config.d_model == 128 and head.config.num_prompts == 100
    assert checkpoint_bytes(backbone, head) < 15 * 1024 * 1024


@pytest.mark.slow
def test_forward_batch_of_64_clips_on_cpu():
    backbone = freeze(ShiftGCN(num_classes=42))
    head = StarHead(StarConfig(num_classes=42)).eval()
    x = torch.randn(64, 3, 64, 25, 2)
    with torch.no_grad():
        f = backbone.features(x)
        out = head(f)
    assert f.shape == (64, 256, 16, 25)
    assert out.global_feature.shape == (64, 100) and torch.isfinite(out.global_feature).all()
    assert [a.shape[-1] for a in out.attention] == [16 * len(j) for j in partition(6).values()]
