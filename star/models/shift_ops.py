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
"""

from __future__ import annotations

import torch
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


def shift_joints(x: Tensor, index: Tensor) -> Tensor:
    """Apply a joint shift: ``x`` is ``(B, V, C)``, ``index`` from :func:`spatial_shift_index`.

    Returns ``(B, V, C)`` with ``out[b, v, c] = x[b, (v + direction * c) mod V, c]``.
    """
    b, v, c = x.shape
    if index.numel() != v * c:
        raise ValueError(f"shift index has {index.numel()} entries, expected V*C = {v}*{c}")
    return x.reshape(b, v * c).index_select(1, index).reshape(b, v, c)


def temporal_shift(x: Tensor, offset: Tensor, stride: int = 1) -> Tensor:
    """Per-channel fractional shift along time.

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
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    n, c, t, v = x.shape
    if offset.shape != (c,):
        raise ValueError(f"offset must have shape ({c},), got {tuple(offset.shape)}")
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
