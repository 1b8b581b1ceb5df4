"""The two shift operations of Shift-GCN, in plain PyTorch (CPU and CUDA, autograd only).

Spatial (non-local) shift across joints
    Features are laid out per joint and channel, ``(B, V, C)``. Shifting "in" moves channel ``c`` of
    joint ``v`` to read joint ``(v + c) mod V``; shifting "out" is the inverse, reading joint
    ``(v - c) mod V``. Both are a fixed permutation of the ``V * C`` entries, applied with one
    ``index_select`` on the flattened ``(B, V * C)`` view, so they cost one copy and no Python loop.

Temporal shift with learnable offsets
    Channel ``c`` of output frame ``t`` samples the input at the real-valued time
    ``t * stride + offset[c]`` by linear interpolation between the two nearest frames; frames outside
    ``[0, T)`` read as zero. The output has ``ceil(T / stride)`` frames. The fractional part of the
    offset carries the gradient, so ``offset`` is learnable through autograd.

    Two equivalent implementations (same values to float rounding, same gradients for ``x`` and
    ``offset``): :func:`temporal_shift_gather` (two ``index_select`` on the ``(N, C, T, V)`` layout, any
    offsets) and :func:`temporal_shift_conv`, a depthwise convolution along time whose ``2P + 1``-tap
    kernel holds the two interpolation weights ``1 - a`` and ``a`` of each channel at its integer
    shift and zeros elsewhere (zero padding gives the zero frames outside ``[0, T)``). The
    convolution needs no layout change, so it runs on channels-last ``(N, T, V, C)`` memory, which is
    what the fast Shift-GCN path keeps throughout. :func:`temporal_shift` picks the convolution when
    the offsets are within ``max_reach`` frames (trained offsets stay within about +-1.5), the gather
    otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def spatial_shift_index(num_point: int, channels: int, direction: int) -> Tensor:
    """Flat gather index for the joint shift, shape ``(V * C,)`` (int64).

    Entry ``v * C + c`` holds the flat position ``u * C + c`` it reads from, with
    ``u = (v + direction * c) mod V``. ``direction`` is +1 (shift in) or -1 (shift out).
    This is the layout of the ``shift_in`` / ``shift_out`` tensors in released Shift-GCN weights.
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}")
    v = torch.arange(num_point).unsqueeze(1)  # (V, 1)
    c = torch.arange(channels).unsqueeze(0)  # (1, C)
    source_joint = (v + direction * c) % num_point  # (V, C)
    return (source_joint * channels + c).reshape(-1)


def shift_joints(x: Tensor, index: Tensor, inverse: Tensor | None = None) -> Tensor:
    """Apply a joint shift: ``x`` is ``(B, V, C)``, ``index`` from :func:`spatial_shift_index`.

    Returns ``(B, V, C)`` with ``out[b, v, c] = x[b, (v + direction * c) mod V, c]``.
    With ``inverse`` (from :func:`inverse_permutation`) the backward pass is a gather with the
    inverse permutation instead of autograd's zero-fill + scatter-add (same values, fewer passes).
    """
    b, v, c = x.shape
    if index.numel() != v * c:
        raise ValueError(f"shift index has {index.numel()} entries, expected V*C = {v}*{c}")
    flat = x.reshape(b, v * c)
    if inverse is None:
        out = flat.index_select(1, index)
    else:
        out = _PermuteColumns.apply(flat, index, inverse)
    return out.reshape(b, v, c)


def inverse_permutation(index: Tensor) -> Tensor | None:
    """``inv`` with ``inv[index] = arange``, or ``None`` if ``index`` is not a permutation."""
    n = index.numel()
    arange = torch.arange(n, device=index.device, dtype=index.dtype)
    inverse = torch.full_like(index, -1).scatter_(0, index.clamp(0, n - 1), arange)
    if not torch.equal(index.index_select(0, inverse.clamp(0, n - 1)), arange):
        return None
    return inverse


class _PermuteColumns(torch.autograd.Function):
    """``x.index_select(1, index)`` for a permutation ``index``; backward gathers with its inverse."""

    @staticmethod
    def forward(ctx, x: Tensor, index: Tensor, inverse: Tensor) -> Tensor:
        ctx.save_for_backward(index, inverse)
        return x.index_select(1, index)

    @staticmethod
    def backward(ctx, grad: Tensor):
        index, inverse = ctx.saved_tensors
        return _PermuteColumns.apply(grad, inverse, index), None, None


def temporal_shift(x: Tensor, offset: Tensor, stride: int = 1, max_reach: int = 4) -> Tensor:
    """Per-channel fractional shift along time (see :func:`temporal_shift_gather` for the maths).

    Uses the depthwise convolution (:func:`temporal_shift_conv`) when every offset lies within
    ``max_reach`` frames (kernel of at most ``2 * max_reach + 1`` taps), else the gather. Both give
    the same values and gradients; ``max_reach=0`` forces the gather. Under ``torch.compile`` the
    gather is used (no host sync, and the compiler fuses it).
    """
    _check_temporal_args(x, offset, stride)
    if torch.compiler.is_compiling():  # the kernel size depends on the offsets' values: gather, no sync
        return temporal_shift_gather(x, offset, stride)
    reach = _conv_reach(offset)
    if reach <= max_reach:
        return temporal_shift_conv(x, offset, stride, reach=reach)
    return temporal_shift_gather(x, offset, stride)


def _check_temporal_args(x: Tensor, offset: Tensor, stride: int) -> None:
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    if x.dim() != 4:
        raise ValueError(f"x must be (N, C, T, V), got shape {tuple(x.shape)}")
    if offset.shape != (x.shape[1],):
        raise ValueError(f"offset must have shape ({x.shape[1]},), got {tuple(offset.shape)}")


def _conv_reach(offset: Tensor) -> int:
    """Smallest ``P`` with every sampled frame ``t * stride + floor(offset) + {0, 1}`` in ``t*stride + [-P, P]``."""
    whole = torch.floor(offset.detach())
    lo, hi = torch.aminmax(whole)
    return max(-int(lo), int(hi) + 1, 0)


def temporal_shift_conv(x: Tensor, offset: Tensor, stride: int = 1, reach: int | None = None) -> Tensor:
    """:func:`temporal_shift_gather` as a depthwise convolution along time (any memory format).

    Channel ``c``'s kernel has ``2 * reach + 1`` taps for the frame offsets ``-reach .. reach``; tap
    ``floor(offset[c])`` holds ``1 - a`` and the next one ``a`` (``a`` the fractional part), the
    rest are 0. Zero padding of ``reach`` frames on both sides reads frames outside ``[0, T)`` as 0,
    and the output length is ``floor((T - 1) / stride) + 1 = ceil(T / stride)``. The offset
    gradient flows through the kernel: ``d out / d a = x[i + 1] - x[i]``, as in the gather.
    ``reach`` (default: the smallest that fits, one host sync) must be at least that value.
    """
    _check_temporal_args(x, offset, stride)
    c = x.shape[1]
    if reach is None:
        reach = _conv_reach(offset)
    whole = torch.floor(offset.detach())
    frac = (offset - whole).to(x.dtype).unsqueeze(1)  # (C, 1), carries the gradient
    taps = 2 * reach + 1
    lower = whole.long() + reach  # tap of frame floor(offset); needs reach >= _conv_reach(offset)
    tap = torch.arange(taps, device=x.device)
    is_lo = (tap == lower.unsqueeze(1)).to(x.dtype)  # (C, K) one-hot of the lower frame
    is_hi = (tap == lower.unsqueeze(1) + 1).to(x.dtype)
    kernel = (1 - frac) * is_lo + frac * is_hi  # (C, K)
    return F.conv2d(x, kernel.reshape(c, 1, taps, 1), stride=(stride, 1), padding=(reach, 0), groups=c)


def temporal_shift_gather(x: Tensor, offset: Tensor, stride: int = 1) -> Tensor:
    """Per-channel fractional shift along time, by gathering the two neighbouring frames.

    Args:
        x: ``(N, C, T, V)``.
        offset: ``(C,)`` real-valued offsets in frames (learnable).
        stride: 1 or 2.

    Returns:
        ``(N, C, ceil(T / stride), V)`` with
        ``out[n, c, t, v] = (1 - a) * x[n, c, i, v] + a * x[n, c, i + 1, v]`` where
        ``p = t * stride + offset[c]``, ``i = floor(p)``, ``a = p - i``, and ``x`` is zero outside
        ``[0, T)``.
    """
    _check_temporal_args(x, offset, stride)
    n, c, t, v = x.shape
    t_out = (t + stride - 1) // stride
    # Split the offset into integer and fractional parts before adding the frame index, so the
    # interpolation weight is exact (t * stride + offset would round in float32).
    whole = torch.floor(offset.detach())
    frac = (offset - whole).unsqueeze(1)  # (C, 1), carries the gradient: d frac / d offset = 1
    frames = torch.arange(t_out, device=x.device) * stride  # (T_out,)
    lower = frames.unsqueeze(0) + whole.long().unsqueeze(1)  # (C, T_out)
    upper = lower + 1

    def gather_frames(idx: Tensor) -> tuple[Tensor, Tensor]:
        valid = (idx >= 0) & (idx < t)
        flat = idx.clamp(0, t - 1) + torch.arange(c, device=x.device).unsqueeze(1) * t  # (C, T_out)
        frames = x.reshape(n, c * t, v).index_select(1, flat.reshape(-1))
        return frames.reshape(n, c, t_out, v), valid.to(x.dtype)

    x_lo, valid_lo = gather_frames(lower)
    x_hi, valid_hi = gather_frames(upper)
    w_lo = ((1 - frac) * valid_lo).to(x.dtype).unsqueeze(-1)  # (C, T_out, 1)
    w_hi = (frac * valid_hi).to(x.dtype).unsqueeze(-1)
    return x_lo * w_lo + x_hi * w_hi
