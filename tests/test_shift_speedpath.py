"""The fast Shift-GCN path equals the original formulation: shift ops, whole model, shipped weights.

The fast path (``ShiftGCN(fast=True)``, the default) keeps activations in channels-last memory, runs
the temporal shifts as depthwise convolutions and backpropagates the joint shifts as inverse-permutation
gathers. ``reference_*`` below are verbatim copies of the original ops (index_select formulation).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from star.models import ShiftGCN
from star.models.shift_ops import (
    inverse_permutation,
    shift_joints,
    spatial_shift_index,
    temporal_shift,
    temporal_shift_conv,
    temporal_shift_gather,
)

CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "star-pool42-32-10" / "model.safetensors"


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors: one thread is as fast, and on a busy shared machine far faster (no waiting for a
    descheduled second OpenMP thread at every op)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- the original ops, verbatim

def reference_shift_joints(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    b, v, c = x.shape
    return x.reshape(b, v * c).index_select(1, index).reshape(b, v, c)


def reference_temporal_shift(x: torch.Tensor, offset: torch.Tensor, stride: int = 1) -> torch.Tensor:
    n, c, t, v = x.shape
    t_out = (t + stride - 1) // stride
    whole = torch.floor(offset.detach())
    frac = (offset - whole).unsqueeze(1)
    frames = torch.arange(t_out, device=x.device) * stride
    lower = frames.unsqueeze(0) + whole.long().unsqueeze(1)
    upper = lower + 1

    def gather_frames(idx):
        valid = (idx >= 0) & (idx < t)
        flat = idx.clamp(0, t - 1) + torch.arange(c, device=x.device).unsqueeze(1) * t
        frames = x.reshape(n, c * t, v).index_select(1, flat.reshape(-1))
        return frames.reshape(n, c, t_out, v), valid.to(x.dtype)

    x_lo, valid_lo = gather_frames(lower)
    x_hi, valid_hi = gather_frames(upper)
    w_lo = ((1 - frac) * valid_lo).to(x.dtype).unsqueeze(-1)
    w_hi = (frac * valid_hi).to(x.dtype).unsqueeze(-1)
    return x_lo * w_lo + x_hi * w_hi


def temporal_shift_loop(x: torch.Tensor, offset: list[float], stride: int) -> torch.Tensor:
    """Slow and obvious: linear interpolation per output element, zero outside [0, T)."""
    n, c, t, v = x.shape
    out = torch.zeros(n, c, math.ceil(t / stride), v, dtype=x.dtype)
    for ci in range(c):
        for to in range(out.shape[2]):
            p = to * stride + offset[ci]
            i = math.floor(p)
            a = p - i
            lo = x[:, ci, i] if 0 <= i < t else torch.zeros(n, v, dtype=x.dtype)
            hi = x[:, ci, i + 1] if 0 <= i + 1 < t else torch.zeros(n, v, dtype=x.dtype)
            out[:, ci, to] = (1 - a) * lo + a * hi
    return out


def grads(fn, *inputs):
    """Output and gradients of ``sum(fn(*inputs) * g)`` for a fixed random ``g``."""
    out = fn(*inputs)
    g = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(7))
    return (out, *torch.autograd.grad((out * g).sum(), inputs))


# offsets: fractional, negative, integer, far beyond the sequence, exactly on edges, near-integers
OFFSETS = [0.3, -1.7, 2.0, -13.25, 10.5, -0.999, 0.0, 1.0 - 2**-20, -2.5, 3.75]


# ---------------------------------------------------------------- temporal shift

@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("t", [1, 2, 11, 12])
@pytest.mark.parametrize("channels_last", [False, True])
def test_temporal_conv_matches_loop_and_reference_float64(stride, t, channels_last):
    gen = torch.Generator().manual_seed(stride * 100 + t)
    x = torch.randn(2, len(OFFSETS), t, 3, dtype=torch.float64, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    offset = torch.tensor(OFFSETS, dtype=torch.float64, requires_grad=True)
    expected = temporal_shift_loop(x.detach(), OFFSETS, stride)
    for fn in (temporal_shift_conv, temporal_shift_gather, temporal_shift):
        torch.testing.assert_close(fn(x, offset, stride), expected, rtol=0, atol=1e-12)
    for fn in (temporal_shift_conv, temporal_shift_gather,
               lambda x, o, s=stride: temporal_shift(x, o, s, max_reach=100)):
        got = grads(lambda x, o, fn=fn: fn(x, o, stride), x, offset)
        ref = grads(lambda x, o: reference_temporal_shift(x, o, stride), x, offset)
        for a, b in zip(got, ref):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride", [1, 2])
def test_temporal_conv_float32_gradients_match_reference(stride):
    """Trained-range offsets (the conv path's domain), float32, channels-last as in the model."""
    gen = torch.Generator().manual_seed(stride)
    x = torch.randn(4, 32, 20, 25, generator=gen).contiguous(memory_format=torch.channels_last).requires_grad_()
    offset = (torch.rand(32, generator=gen) * 3 - 1.5 + (0.5 if stride == 2 else 0)).requires_grad_()
    got = grads(lambda x, o: temporal_shift_conv(x, o, stride), x, offset)
    ref = grads(lambda x, o: reference_temporal_shift(x, o, stride), x, offset)
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * float(b.detach().abs().max()))


def test_temporal_shift_picks_gather_for_far_offsets(monkeypatch):
    """Offsets beyond ``max_reach`` (or max_reach=0) take the gather, near ones the convolution; both are exact."""
    from star.models import shift_ops

    taken = []
    for name in ("temporal_shift_gather", "temporal_shift_conv"):
        real = getattr(shift_ops, name)
        monkeypatch.setattr(shift_ops, name, lambda *a, _real=real, _name=name, **k: (taken.append(_name), _real(*a, **k))[1])
    x = torch.randn(1, 2, 30, 1, dtype=torch.float64)
    far, near = torch.tensor([0.5, 9.5], dtype=torch.float64), torch.tensor([0.5, -2.5], dtype=torch.float64)
    torch.testing.assert_close(temporal_shift(x, far, 1, max_reach=4), temporal_shift_loop(x, [0.5, 9.5], 1))
    assert taken == ["temporal_shift_gather"]
    torch.testing.assert_close(temporal_shift(x, near, 1, max_reach=0), temporal_shift_loop(x, [0.5, -2.5], 1))
    assert taken == ["temporal_shift_gather"] * 2
    torch.testing.assert_close(temporal_shift(x, near, 1, max_reach=4), temporal_shift_loop(x, [0.5, -2.5], 1))
    assert taken == ["temporal_shift_gather"] * 2 + ["temporal_shift_conv"]


def test_temporal_shift_rejects_bad_arguments():
    with pytest.raises(ValueError, match="stride"):
        temporal_shift_conv(torch.zeros(1, 2, 4, 1), torch.zeros(2), 3)
    with pytest.raises(ValueError, match="offset"):
        temporal_shift(torch.zeros(1, 2, 4, 1), torch.zeros(3))


# ---------------------------------------------------------------- joint shift

@pytest.mark.parametrize("v,c", [(25, 64), (25, 3), (5, 7)])
@pytest.mark.parametrize("direction", [1, -1])
def test_permutation_joint_shift_matches_reference_with_gradients(v, c, direction):
    index = spatial_shift_index(v, c, direction)
    inverse = inverse_permutation(index)
    assert inverse is not None and torch.equal(index[inverse], torch.arange(v * c))
    x = torch.randn(6, v, c, dtype=torch.float64, generator=torch.Generator().manual_seed(v + c), requires_grad=True)
    got = grads(lambda x: shift_joints(x, index, inverse), x)
    ref = grads(lambda x: reference_shift_joints(x, index), x)
    for a, b in zip(got, ref):
        assert torch.equal(a, b)
    # second order: the backward of the backward is the forward permutation again
    y = shift_joints(x, index, inverse)
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    (ggx,) = torch.autograd.grad(gx.sum(), x)
    torch.testing.assert_close(ggx, torch.full_like(x, 2.0))


def test_inverse_permutation_rejects_non_permutations():
    assert inverse_permutation(torch.tensor([0, 0, 2])) is None
    assert inverse_permutation(torch.tensor([0, 3, 1])) is None
    assert torch.equal(inverse_permutation(torch.tensor([2, 0, 1])), torch.tensor([1, 2, 0]))


# ---------------------------------------------------------------- whole model

def randomise(model: ShiftGCN, seed: int) -> None:
    """Trained-looking weights: BN statistics and offsets in the released range."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.running_mean.copy_(torch.randn(mod.running_mean.shape, generator=gen) * 0.1)
                mod.running_var.copy_(torch.rand(mod.running_var.shape, generator=gen) + 0.5)
        for name, p in model.named_parameters():
            if name.endswith("ypos"):
                p.copy_(torch.rand(p.shape, generator=gen) * 2.2 - 1.1)
            elif name.endswith("Feature_Mask"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)


def model_pair(num_person: int = 1, dtype=torch.float32, seed: int = 0) -> tuple[ShiftGCN, ShiftGCN]:
    torch.manual_seed(seed)
    old = ShiftGCN(11, num_person=num_person, fast=False)
    randomise(old, seed)
    old = old.to(dtype)
    new = copy.deepcopy(old).set_fast(True)
    return old, new


def loss_and_grads(model: ShiftGCN, x: torch.Tensor, y: torch.Tensor):
    model.zero_grad(set_to_none=True)
    logits = model(x)
    F.cross_entropy(logits, y).backward()
    return logits.detach(), {k: p.grad.clone() for k, p in model.named_parameters()}


def test_fast_path_state_dict_is_unchanged():
    old, new = model_pair()
    assert list(old.state_dict()) == list(new.state_dict())
    for k, v in old.state_dict().items():
        assert torch.equal(v, new.state_dict()[k])


@pytest.mark.parametrize("num_person,t", [(1, 16), (2, 15)])
def test_fast_training_step_equals_original_float64(num_person, t):
    """Train mode (batch statistics), float64: logits, every gradient and the BN running stats agree."""
    old, new = model_pair(num_person, torch.float64, seed=num_person)
    old.train(), new.train()
    gen = torch.Generator().manual_seed(t)
    x = torch.randn(3, 3, t, 25, num_person, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 5, 10])
    logits_old, g_old = loss_and_grads(old, x, y)
    logits_new, g_new = loss_and_grads(new, x, y)
    torch.testing.assert_close(logits_new, logits_old, rtol=1e-10, atol=1e-10)
    # relative to the largest gradient: the biases before a BatchNorm get (mathematically) zero gradient
    scale = max(float(g.abs().max()) for g in g_old.values())
    for k in g_old:
        torch.testing.assert_close(g_new[k], g_old[k], rtol=1e-9, atol=1e-10 * scale, msg=k)
    for (k, a), (_, b) in zip(old.named_buffers(), new.named_buffers()):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10, msg=k)


def test_fast_training_step_float32_is_as_close_as_rounding_allows():
    """Float32: the fast path is no further from the float64 truth than the original is (gradients of a
    deep train-mode net amplify rounding, so both differ from the truth by more than 1e-5)."""
    truth, _ = model_pair(1, torch.float64, seed=3)
    old, new = model_pair(1, torch.float32, seed=3)
    for m in (truth, old, new):
        m.train()
    x = torch.randn(4, 3, 16, 25, 1, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([1, 2, 3, 4])
    logits_true, g_true = loss_and_grads(truth, x.double(), y)
    logits_old, g_old = loss_and_grads(old, x, y)
    logits_new, g_new = loss_and_grads(new, x, y)

    def error(got, true):
        return float((got.double() - true).norm() / true.norm())

    def grad_error(g):
        return max(error(g[k], g_true[k]) for k in g_true if g_true[k].abs().max() > 1e-6)

    assert error(logits_new, logits_true) < max(3 * error(logits_old, logits_true), 1e-6)
    assert grad_error(g_new) < max(3 * grad_error(g_old), 1e-5)


def test_fast_eval_features_equal_original_on_random_weights():
    old, new = model_pair(2, seed=4)
    old.eval(), new.eval()
    x = torch.randn(2, 3, 30, 25, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = old.features(x), new.features(x)
    assert b.shape == (2, 256, 8, 25) and b.is_contiguous()
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * float(a.abs().max()))


@pytest.mark.skipif(not CHECKPOINT.exists(), reason="shipped checkpoint not present")
def test_shipped_checkpoint_features_equal_original():
    """The shipped backbone weights give the same features on both paths (so its numbers stand)."""
    from safetensors.torch import load_file

    tensors = load_file(str(CHECKPOINT))
    sd = {k[len("backbone."):]: v for k, v in tensors.items() if k.startswith("backbone.")}
    num_classes, num_person = sd["fc.weight"].shape[0], sd["data_bn.weight"].shape[0] // 75
    old = ShiftGCN(num_classes, num_person=num_person, fast=False)
    old.load_state_dict(sd)
    new = ShiftGCN(num_classes, num_person=num_person)
    new.load_state_dict(sd)
    assert new.fast and all(m.max_reach > 0 for m in new.modules() if hasattr(m, "max_reach"))
    old.eval(), new.eval()
    x = torch.randn(4, 3, 64, 25, num_person, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = old.features(x), new.features(x)
    scale = float(a.abs().max())
    torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5 * scale)


def test_fast_path_follows_a_reloaded_joint_shift_index():
    """The inverse permutations are cached; loading other (permutation) index buffers must refresh them."""
    old, new = model_pair(1, torch.float64, seed=5)
    x = torch.randn(2, 3, 8, 25, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.tensor([0, 1])
    loss_and_grads(new, x, y)  # fills the cache
    sd = old.state_dict()
    perm = torch.randperm(25 * 64, generator=torch.Generator().manual_seed(0))
    sd["l2.gcn1.shift_in"] = sd["l2.gcn1.shift_in"][perm].clone()
    old.load_state_dict(sd)
    new.load_state_dict(sd)
    logits_old, g_old = loss_and_grads(old, x, y)
    logits_new, g_new = loss_and_grads(new, x, y)
    torch.testing.assert_close(logits_new, logits_old, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(g_new["l1.gcn1.Linear_weight"], g_old["l1.gcn1.Linear_weight"], rtol=1e-9, atol=1e-12)
