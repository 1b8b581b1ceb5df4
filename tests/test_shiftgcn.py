"""Shift-GCN backbone: shift operations against slow reference loops, layout, loading, body averaging."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from star.models import ShiftGCN, freeze, load_shiftgcn_state_dict
from star.models.shift_ops import shift_joints, spatial_shift_index, temporal_shift, temporal_shift_conv
from star.models.shiftgcn import TemporalShift


# ---------------------------------------------------------------- reference loops (slow, obvious)

def joint_shift_loop(x: torch.Tensor, direction: int) -> torch.Tensor:
    b, v, c = x.shape
    out = torch.empty_like(x)
    for bi in range(b):
        for vi in range(v):
            for ci in range(c):
                out[bi, vi, ci] = x[bi, (vi + direction * ci) % v, ci]
    return out


def temporal_shift_loop(x: torch.Tensor, offset: list[float], stride: int) -> torch.Tensor:
    n, c, t, v = x.shape
    t_out = math.ceil(t / stride)
    out = torch.zeros(n, c, t_out, v, dtype=x.dtype)

    def frame(ni, ci, i, vi):
        return float(x[ni, ci, i, vi]) if 0 <= i < t else 0.0

    for ni in range(n):
        for ci in range(c):
            for to in range(t_out):
                p = to * stride + offset[ci]
                i = math.floor(p)
                a = p - i
                for vi in range(v):
                    out[ni, ci, to, vi] = (1 - a) * frame(ni, ci, i, vi) + a * frame(ni, ci, i + 1, vi)
    return out


# ---------------------------------------------------------------- shift operations

@pytest.mark.parametrize("v,c", [(25, 64), (5, 7), (3, 2)])
@pytest.mark.parametrize("direction", [1, -1])
def test_joint_shift_matches_loop(v, c, direction):
    x = torch.randn(2, v, c, generator=torch.Generator().manual_seed(v * c))
    out = shift_joints(x, spatial_shift_index(v, c, direction))
    torch.testing.assert_close(out, joint_shift_loop(x, direction), rtol=0, atol=0)


def test_joint_shift_out_inverts_shift_in():
    x = torch.randn(3, 25, 64)
    back = shift_joints(shift_joints(x, spatial_shift_index(25, 64, 1)), spatial_shift_index(25, 64, -1))
    assert torch.equal(back, x)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("t", [11, 12])
def test_temporal_shift_matches_loop(stride, t):
    gen = torch.Generator().manual_seed(stride * 100 + t)
    x = torch.randn(2, 6, t, 3, generator=gen)
    # non-integer, negative, integer, beyond the sequence, and exactly-on-the-edge offsets
    offset = [0.3, -1.7, 2.0, -13.25, 10.5, -0.999]
    offset32 = torch.tensor(offset)
    out = temporal_shift(x, offset32, stride)
    expected = temporal_shift_loop(x, offset32.tolist(), stride)  # same float32 offsets, double maths
    assert out.shape == (2, 6, math.ceil(t / stride), 3)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    out64 = temporal_shift(x.double(), torch.tensor(offset, dtype=torch.float64), stride)
    torch.testing.assert_close(out64, temporal_shift_loop(x.double(), offset, stride), rtol=0, atol=1e-12)


@pytest.mark.parametrize("shift", [temporal_shift, temporal_shift_conv], ids=["gather", "conv"])
def test_temporal_shift_gradient_flows_into_offsets(shift):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 9, 3, dtype=torch.float64, generator=gen)
    g = torch.randn(2, 4, 5, 3, dtype=torch.float64, generator=gen)
    offset = torch.tensor([0.25, -1.4, 3.6, 0.8], dtype=torch.float64, requires_grad=True)
    (shift(x, offset, 2) * g).sum().backward()
    assert offset.grad is not None and (offset.grad != 0).all()
    # d out / d offset = x[i + 1] - x[i] (zero outside): compare to a central finite difference
    eps = 1e-6
    for ci in range(4):
        plus, minus = offset.detach().clone(), offset.detach().clone()
        plus[ci] += eps
        minus[ci] -= eps
        fd = ((shift(x, plus, 2) - shift(x, minus, 2)) * g).sum() / (2 * eps)
        assert abs(float(fd) - float(offset.grad[ci])) < 1e-6


def test_strided_module_samples_half_a_frame_later():
    shift = TemporalShift(3, stride=2)
    with torch.no_grad():
        shift.ypos.zero_()
    x = torch.arange(2 * 3 * 8 * 1, dtype=torch.float32).reshape(2, 3, 8, 1)
    torch.testing.assert_close(shift(x), 0.5 * (x[:, :, 0::2] + x[:, :, 1::2]))


# ---------------------------------------------------------------- model

def small_input(n=2, t=16, m=2, seed=0):
    return torch.randn(n, 3, t, 25, m, generator=torch.Generator().manual_seed(seed))


def randomise_bn(model: torch.nn.Module, seed: int = 0) -> None:
    gen = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
            mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=gen) * 0.1)
            mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=gen) + 0.5)
            mod.weight.data.copy_(torch.rand(mod.weight.shape, generator=gen) + 0.5)
            mod.bias.data.copy_(torch.randn(mod.bias.shape, generator=gen) * 0.1)


def test_shapes():
    model = ShiftGCN(num_classes=7).eval()
    with torch.no_grad():
        assert model(small_input()).shape == (2, 7)
        assert model.features(small_input(n=1, t=64)).shape == (1, 256, 16, 25)
        assert model.features(small_input(n=1, t=30)).shape == (1, 256, 8, 25)  # ceil(ceil(30/2)/2)


def test_wrong_input_shape_is_explained():
    with pytest.raises(ValueError, match=r"\(N, C=3, T, V=25, M=2\)"):
        ShiftGCN(5)(torch.zeros(1, 3, 16, 20, 2))


def test_parameter_names_follow_released_layout():
    keys = set(ShiftGCN(60).state_dict())
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    gcn = {"Linear_weight", "Linear_bias", "Feature_Mask", "shift_in", "shift_out"} | {f"bn.{s}" for s in bn}
    tcn = ({f"bn.{s}" for s in bn} | {f"bn2.{s}" for s in bn}
           | {"shift_in.ypos", "shift_out.ypos", "temporal_linear.weight", "temporal_linear.bias"})
    down = {"down.0.weight", "down.0.bias"} | {f"down.1.{s}" for s in bn}
    residual = {"residual.conv.weight", "residual.conv.bias"} | {f"residual.bn.{s}" for s in bn}
    expected = {f"data_bn.{s}" for s in bn} | {"fc.weight", "fc.bias"}
    for i in range(1, 11):
        unit = {f"gcn1.{k}" for k in gcn} | {f"tcn1.{k}" for k in tcn}
        if i in (1, 5, 8):
            unit |= {f"gcn1.{k}" for k in down}
        if i in (5, 8):
            unit |= residual
        expected |= {f"l{i}.{k}" for k in unit}
    assert keys == expected
    sd = ShiftGCN(60).state_dict()
    assert sd["l5.gcn1.Feature_Mask"].shape == (1, 25, 64)
    assert sd["l5.gcn1.Linear_weight"].shape == (64, 128)
    assert sd["l5.gcn1.bn.weight"].shape == (25 * 128,)
    assert sd["data_bn.weight"].shape == (2 * 3 * 25,)


def released_style_state_dict(model: ShiftGCN, num_classes: int) -> dict[str, torch.Tensor]:
    """What a released checkpoint looks like: DataParallel prefix, xpos offsets, its own fc size."""
    sd = {f"module.{k}": v.clone() for k, v in model.state_dict().items()}
    for k in list(sd):
        if k.endswith(".ypos"):
            sd[k[: -len("ypos")] + "xpos"] = torch.empty_like(sd[k]).uniform_(-1e-8, 1e-8)
    sd["module.fc.weight"] = torch.randn(num_classes, 256)
    sd["module.fc.bias"] = torch.randn(num_classes)
    return sd


def test_load_released_weights_skips_fc_with_message():
    source = ShiftGCN(60)
    randomise_bn(source)
    target = ShiftGCN(42)
    fc_before = target.fc.weight.detach().clone()
    messages = load_shiftgcn_state_dict(target, released_style_state_dict(source, 60))
    text = "\n".join(messages)
    assert "module." in text and "xpos" in text and "60 classes" in text and "42" in text
    assert torch.equal(target.fc.weight, fc_before)
    source.eval(), target.eval()
    x = small_input()
    with torch.no_grad():
        torch.testing.assert_close(target.features(x), source.features(x))


def test_load_same_size_fc_is_loaded():
    source, target = ShiftGCN(10), ShiftGCN(10)
    load_shiftgcn_state_dict(target, source.state_dict())
    assert torch.equal(target.fc.weight, source.fc.weight)


@pytest.mark.parametrize("break_it,match", [
    (lambda sd: sd.pop("l3.gcn1.Linear_weight"), "missing"),
    (lambda sd: sd.__setitem__("l3.extra", torch.zeros(1)), "unexpected"),
    (lambda sd: sd.__setitem__("l3.gcn1.Linear_weight", torch.zeros(64, 65)), "wrong shapes"),
    (lambda sd: sd.__setitem__("l2.gcn1.shift_in", sd["l2.gcn1.shift_in"].flip(0)), "joint-shift index"),
    (lambda sd: sd.__setitem__("l2.tcn1.shift_in.xpos", torch.ones(64)), "xpos"),
])
def test_load_other_mismatches_are_errors(break_it, match):
    sd = dict(ShiftGCN(10).state_dict())
    break_it(sd)
    with pytest.raises(ValueError, match=match):
        load_shiftgcn_state_dict(ShiftGCN(10), sd)


def test_bodies_are_averaged_per_joint_and_channel():
    """A two-body clip whose second body copies the first must give exactly the one-body features.

    The released STAR reshape (view (N, C, T', V, M) of memory laid out (N, M, C, T', V)) averages
    neighbouring joints instead, and fails this test (checked below on the same maps).
    """
    two = ShiftGCN(10, num_person=2)
    randomise_bn(two, seed=1)
    with torch.no_grad():  # make body 2's input normalisation equal to body 1's
        for name in ("running_mean", "running_var", "weight", "bias"):
            t = getattr(two.data_bn, name)
            t.data[75:] = t.data[:75]
    one = ShiftGCN(10, num_person=1)
    sd = two.state_dict()
    for name in ("running_mean", "running_var", "weight", "bias"):
        sd[f"data_bn.{name}"] = sd[f"data_bn.{name}"][:75]
    one.load_state_dict(sd)
    one.eval(), two.eval()
    body = small_input(m=1, seed=3)
    with torch.no_grad():
        expected = one.features(body)
        got = two.features(torch.cat([body, body], dim=-1))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        maps = two.body_maps(torch.cat([body, body], dim=-1))  # (N, M, C, T', V)
        n, m, c, t, v = maps.shape
        buggy = maps.reshape(n * m, c, t, v).view(n, c, t, v, m).mean(-1)
        assert not torch.allclose(buggy, expected, atol=1e-3)


def test_features_do_not_depend_on_body_order():
    model = ShiftGCN(10)
    randomise_bn(model, seed=2)
    with torch.no_grad():
        for name in ("running_mean", "running_var", "weight", "bias"):
            t = getattr(model.data_bn, name)
            t.data[75:] = t.data[:75]
    model.eval()
    x = small_input(seed=4)
    with torch.no_grad():
        torch.testing.assert_close(model.features(x.flip(-1)), model.features(x), rtol=1e-5, atol=1e-5)


def test_every_parameter_gets_a_gradient():
    model = ShiftGCN(5)
    F.cross_entropy(model(small_input(n=4)), torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_freeze_sticks_through_train_calls():
    model = freeze(ShiftGCN(5))
    assert not model.training and all(not p.requires_grad for p in model.parameters())
    parent = torch.nn.ModuleDict({"backbone": model, "head": torch.nn.Linear(2, 2)})
    parent.train()
    assert parent["head"].training
    assert not any(m.training for m in model.modules())
    before = model.data_bn.running_mean.clone()
    model(small_input())
    assert torch.equal(model.data_bn.running_mean, before)


# ----------------------------------------------------------------------------- input streams
def test_bone_stream_is_each_joint_minus_its_parent_and_zero_at_the_root():
    from star.models.shiftgcn import to_stream
    from star.skeleton.topology import BONES

    x = torch.randn(2, 3, 5, 25, 2)
    bone = to_stream(x, "bone")
    assert bone.shape == x.shape
    assert torch.equal(bone[:, :, :, 0], torch.zeros(2, 3, 5, 2))  # spine base: the root has no parent
    assert torch.equal(bone[:, :, :, 1], x[:, :, :, 1] - x[:, :, :, 0])  # spine mid - spine base
    assert torch.equal(bone[:, :, :, 3], x[:, :, :, 3] - x[:, :, :, 2])  # head - neck
    assert torch.equal(bone[:, :, :, 21], x[:, :, :, 21] - x[:, :, :, 7])  # left hand tip - left hand
    assert {c for c, _ in BONES} == set(range(1, 25))  # every joint but the root gets exactly one bone
    absent = torch.zeros(1, 3, 4, 25, 1)
    assert torch.equal(to_stream(absent, "bone"), absent)  # a missing body stays zero


def test_motion_stream_is_the_frame_difference_and_joint_is_the_input_itself():
    from star.models.shiftgcn import to_stream

    x = torch.arange(2 * 3 * 4 * 25 * 1, dtype=torch.float32).reshape(2, 3, 4, 25, 1) ** 1.5
    motion = to_stream(x, "motion")
    assert torch.equal(motion[:, :, 0], torch.zeros(2, 3, 25, 1))
    assert torch.equal(motion[:, :, 2], x[:, :, 2] - x[:, :, 1])
    assert to_stream(x, "joint") is x
    with pytest.raises(ValueError, match="unknown backbone stream 'angle'"):
        to_stream(x, "angle")
    with pytest.raises(ValueError, match="unknown backbone stream"):
        ShiftGCN(5, stream="bones")


@pytest.mark.parametrize("stream", ["bone", "motion"])
def test_a_stream_backbone_is_the_joint_backbone_on_the_converted_input(stream):
    from star.models.shiftgcn import to_stream

    joint = ShiftGCN(7, num_person=1).eval()
    other = ShiftGCN(7, num_person=1, stream=stream).eval()
    other.load_state_dict(joint.state_dict())  # a stream changes no parameter
    x = torch.randn(2, 3, 16, 25, 1)
    with torch.no_grad():
        assert torch.allclose(other(x), joint(to_stream(x, stream)), atol=1e-6)
        assert torch.allclose(other.features(x), joint.features(to_stream(x, stream)), atol=1e-6)
