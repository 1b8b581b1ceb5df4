"""Shift-GCN backbone (Cheng et al., CVPR 2020) in plain PyTorch.

Ten units ``l1``..``l10`` (64 channels x4, 128 x3, 256 x3; temporal stride 2 at ``l5`` and ``l8``).
Each unit is ``relu(tcn1(gcn1(x)) + residual(x))``:

* ``gcn1`` (:class:`ShiftGCNLayer`): joint shift in, learnable feature mask ``tanh(Feature_Mask) + 1``,
  a per-joint linear map ``Linear_weight`` / ``Linear_bias``, joint shift out, BatchNorm over
  (joint, channel), plus a ``down`` projection when the channel count changes.
* ``tcn1`` (:class:`ShiftTCNLayer`): BatchNorm, temporal shift ``shift_in`` (stride 1), 1x1
  ``temporal_linear``, ReLU, temporal shift ``shift_out`` (the unit's stride), BatchNorm ``bn2``.

Parameter and buffer names follow the released Shift-GCN layout, so its weights load with
:func:`load_shiftgcn_state_dict`. Differences from the released code, all deliberate:

* No custom CUDA kernel: the shifts are index arithmetic (``star.models.shift_ops``); gradients
  come from autograd. The released kernel replaces the offset gradient by ``0.01 * sign`` and ignores
  an (always ~0) sub-joint offset ``xpos``; we keep the true gradient and drop ``xpos``.
* :meth:`ShiftGCN.features` averages the two bodies correctly: ``(N*M, C, T', V)`` is viewed as
  ``(N, M, C, T', V)`` and averaged over ``M``. (The STAR release viewed it as ``(N, C, T', V, M)``,
  which mixes channels and joints.)
* A frozen model (:func:`freeze`) stays in eval mode even if ``.train()`` is called on it or on a
  parent module, so its BatchNorm statistics never drift.
* Odd frame counts work: a stride-2 unit outputs ``ceil(T / 2)`` frames.
* Input streams (``ShiftGCN(stream=...)``, as in the two-stream Shift-GCN / 2s-AGCN papers): ``joint``
  reads the joint coordinates, ``bone`` each joint minus its parent in ``topology.BONES`` (zero at the spine
  base, the root), ``motion`` each frame minus the previous one (zero at the first frame). The conversion
  runs inside the model (:func:`to_stream`), so every caller feeds joint coordinates and a checkpoint's
  stream is one field of its backbone configuration. Two streams are combined by averaging their class
  scores (``bench/stream_fusion.py``).
* Speed (``ShiftGCN(fast=True)``, the default; :meth:`ShiftGCN.set_fast`): activations stay in
  channels-last memory, temporal shifts run as depthwise convolutions, joint shifts backpropagate as
  inverse-permutation gathers. Same function and state dict as ``fast=False`` (the original
  formulation), tested equal in ``tests/test_shift_speedpath.py``; about 2x per training step on CPU.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from star.skeleton.topology import BONES
from star.models.shift_ops import (
    inverse_permutation,
    shift_joints,
    spatial_shift_index,
    temporal_shift,
)

TOKEN_LAYOUTS = ("correct", "official")  # how body maps are averaged: ShiftGCN.features
CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)
FEATURE_DIM = CHANNELS[-1]


def _init_conv(conv: nn.Conv2d) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    nn.init.zeros_(conv.bias)


def _init_bn(bn: nn.modules.batchnorm._BatchNorm, scale: float = 1.0) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


class TemporalShift(nn.Module):
    """Learnable per-channel temporal shift: ``(N, C, T, V) -> (N, C, ceil(T / stride), V)``.

    ``ypos`` (C,) holds the offsets in frames, initialised uniformly in ``[-init_scale, init_scale]``.
    With stride 2 the sampling grid is moved by half a frame (``t * 2 + ypos + 0.5``), as in the
    released Shift-GCN, so released weights compute the same function.
    """

    def __init__(self, channels: int, stride: int = 1, init_scale: float = 1.0):
        super().__init__()
        self.stride = stride
        # Offsets within max_reach frames use the depthwise-convolution form (fast on channels-last
        # memory), others the gather; 0 forces the gather (the original formulation).
        self.max_reach = 4
        self.ypos = nn.Parameter(torch.empty(channels).uniform_(-init_scale, init_scale))

    def forward(self, x: Tensor) -> Tensor:
        offset = self.ypos if self.stride == 1 else self.ypos + 0.5
        return temporal_shift(x, offset, self.stride, max_reach=self.max_reach)


class ShiftTCNLayer(nn.Module):
    """Temporal part of a unit: ``(N, C, T, V) -> (N, C, ceil(T / stride), V)``."""

    def __init__(self, channels: int, stride: int = 1):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.bn2 = nn.BatchNorm2d(channels)
        _init_bn(self.bn2)
        self.shift_in = TemporalShift(channels, stride=1)
        self.shift_out = TemporalShift(channels, stride=stride)
        self.temporal_linear = nn.Conv2d(channels, channels, 1)
        nn.init.kaiming_normal_(self.temporal_linear.weight, mode="fan_out")
        self.relu = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        x = self.shift_in(self.bn(x))
        x = self.relu(self.temporal_linear(x))
        return self.bn2(self.shift_out(x))


class ShiftGCNLayer(nn.Module):
    """Spatial part of a unit: ``(N, C_in, T, V) -> (N, C_out, T, V)``."""

    def __init__(self, in_channels: int, out_channels: int, num_point: int = 25):
        super().__init__()
        self.in_channels, self.out_channels, self.num_point = in_channels, out_channels, num_point
        if in_channels != out_channels:
            self.down = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels))
            _init_conv(self.down[0])
            _init_bn(self.down[1])
        else:
            self.down = nn.Identity()
        self.Linear_weight = nn.Parameter(torch.randn(in_channels, out_channels) * math.sqrt(1.0 / out_channels))
        self.Linear_bias = nn.Parameter(torch.zeros(1, 1, out_channels))
        self.Feature_Mask = nn.Parameter(torch.zeros(1, num_point, in_channels))
        self.bn = nn.BatchNorm1d(num_point * out_channels)
        self.relu = nn.ReLU()
        self.register_buffer("shift_in", spatial_shift_index(num_point, in_channels, +1))
        self.register_buffer("shift_out", spatial_shift_index(num_point, out_channels, -1))
        self.fast = True  # set by ShiftGCN.set_fast
        self._inverses: dict[str, tuple] = {}

    def _inverse(self, name: str) -> Tensor | None:
        """Inverse of the index buffer ``name`` (None if not a permutation), recomputed when it changes."""
        index = getattr(self, name)
        key = (index.data_ptr(), index._version, index.device, index.numel())
        cached = self._inverses.get(name)
        if cached is None or cached[0] != key:
            cached = (key, inverse_permutation(index))
            self._inverses[name] = cached
        return cached[1]

    def forward(self, x0: Tensor) -> Tensor:
        n, c, t, v = x0.shape
        # Fast path: on channels-last input the permute is a view (no copy), and the joint shifts
        # backpropagate as gathers with the inverse permutation.
        eager_fast = self.fast and not torch.compiler.is_compiling()
        inv_in = self._inverse("shift_in") if eager_fast else None
        inv_out = self._inverse("shift_out") if eager_fast else None
        x = x0.permute(0, 2, 3, 1).reshape(n * t, v, c)  # (N*T, V, C_in)
        x = shift_joints(x, self.shift_in, inv_in) * (torch.tanh(self.Feature_Mask) + 1)
        if self.fast:  # bias added inside the matrix product (one pass less)
            x = torch.addmm(self.Linear_bias.reshape(-1), x.reshape(n * t * v, c), self.Linear_weight)
            x = x.reshape(n * t, v, self.out_channels)
        else:
            x = x @ self.Linear_weight + self.Linear_bias  # (N*T, V, C_out)
        x = shift_joints(x, self.shift_out, inv_out)
        x = self.bn(x.reshape(n * t, v * self.out_channels))
        x = x.reshape(n, t, v, self.out_channels).permute(0, 3, 1, 2)  # (N, C_out, T, V)
        return self.relu(x + self.down(x0))


class _StridedResidual(nn.Module):
    """1x1 convolution with temporal stride plus BatchNorm (``residual.conv``, ``residual.bn``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        _init_conv(self.conv)
        _init_bn(self.bn)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn(self.conv(x))


class ShiftGCNUnit(nn.Module):
    """One unit: ``(N, C_in, T, V) -> (N, C_out, ceil(T / stride), V)``."""

    def __init__(self, in_channels: int, out_channels: int, num_point: int, stride: int = 1,
                 residual: bool = True):
        super().__init__()
        self.gcn1 = ShiftGCNLayer(in_channels, out_channels, num_point)
        self.tcn1 = ShiftTCNLayer(out_channels, stride=stride)
        self.relu = nn.ReLU()
        self.has_residual = residual
        if residual and (in_channels != out_channels or stride != 1):
            self.residual = _StridedResidual(in_channels, out_channels, stride)
        else:
            self.residual = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        y = self.tcn1(self.gcn1(x))
        if self.has_residual:
            y = y + self.residual(x)
        return self.relu(y)


STREAMS = ("joint", "bone", "motion")
_CHILDREN = [c for c, _ in BONES]
_PARENTS = [p for _, p in BONES]


def to_stream(x: Tensor, stream: str) -> Tensor:
    """Joint coordinates ``(N, C, T, V, M)`` -> the stream's input of the same shape (a new tensor for
    ``bone`` / ``motion``; ``x`` itself for ``joint``). A body absent in a frame (all zeros) stays zero for
    ``bone``; ``motion`` at the frame where a body appears is its position (the change from zero)."""
    if stream == "joint":
        return x
    if stream == "bone":
        out = torch.zeros_like(x)
        out[:, :, :, _CHILDREN] = x[:, :, :, _CHILDREN] - x[:, :, :, _PARENTS]
        return out
    if stream == "motion":
        out = torch.zeros_like(x)
        out[:, :, 1:] = x[:, :, 1:] - x[:, :, :-1]
        return out
    raise ValueError(f"unknown backbone stream {stream!r}; one of {', '.join(STREAMS)}")


class ShiftGCN(nn.Module):
    """Shift-GCN classifier and feature extractor.

    Input ``x``: ``(N, C, T, V, M)`` = (clips, coordinates, frames, joints, bodies): joint coordinates, which
    the model turns into its ``stream`` (:func:`to_stream`) first.
    :meth:`forward` returns logits ``(N, num_classes)``; :meth:`features` returns the last unit's map
    averaged over bodies, ``(N, 256, ceil(T / 4), V)``.
    """

    def __init__(self, num_classes: int, num_point: int = 25, num_person: int = 2, in_channels: int = 3,
                 fast: bool = True, stream: str = "joint"):
        super().__init__()
        if stream not in STREAMS:
            raise ValueError(f"unknown backbone stream {stream!r}; one of {', '.join(STREAMS)}")
        self.stream = stream
        self.num_classes, self.num_point = num_classes, num_point
        self.num_person, self.in_channels = num_person, in_channels
        self.frozen = False
        self.fast = fast
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * num_point)
        _init_bn(self.data_bn)
        widths = (in_channels,) + CHANNELS
        for i, (c_in, c_out, stride) in enumerate(zip(widths[:-1], widths[1:], STRIDES), start=1):
            unit = ShiftGCNUnit(c_in, c_out, num_point, stride=stride, residual=i > 1)
            self.add_module(f"l{i}", unit)
        self.fc = nn.Linear(FEATURE_DIM, num_classes)
        nn.init.normal_(self.fc.weight, 0.0, math.sqrt(2.0 / num_classes))
        nn.init.zeros_(self.fc.bias)
        self.set_fast(fast)

    def set_fast(self, fast: bool = True) -> ShiftGCN:
        """Choose the implementation (same function, same weights; returns ``self``).

        ``fast`` (default): activations stay in channels-last memory ``(N, T, V, C)`` from the first
        unit to the last, so the joint shifts and per-joint linear map need no transposes, the
        convolutions and BatchNorms run their channels-last kernels, and the temporal shifts are
        depthwise convolutions. ``fast=False``: the original ``(N, C, T, V)`` layout with
        ``index_select`` temporal shifts (the reference the fast path is tested against).
        """
        self.fast = fast
        for module in self.modules():
            if isinstance(module, TemporalShift):
                module.max_reach = 4 if fast else 0
            elif isinstance(module, ShiftGCNLayer):
                module.fast = fast
        return self

    @property
    def units(self) -> list[ShiftGCNUnit]:
        return [getattr(self, f"l{i}") for i in range(1, len(CHANNELS) + 1)]

    def _check_input(self, x: Tensor) -> None:
        expected = (self.in_channels, self.num_point, self.num_person)
        if x.dim() != 5 or (x.shape[1], x.shape[3], x.shape[4]) != expected:
            raise ValueError(
                f"ShiftGCN expects input (N, C={self.in_channels}, T, V={self.num_point}, "
                f"M={self.num_person}), got {tuple(x.shape)}")

    def body_maps(self, x: Tensor) -> Tensor:
        """Per-body last-unit maps: ``(N, C, T, V, M) -> (N, M, 256, ceil(T / 4), V)``."""
        self._check_input(x)
        x = to_stream(x, self.stream)
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)  # BN channel = (body, joint, coord)
        x = self.data_bn(x)
        if self.fast:  # channels-last: memory (N*M, T, V, C), one copy
            x = x.reshape(n, m, v, c, t).permute(0, 1, 4, 2, 3).reshape(n * m, t, v, c).permute(0, 3, 1, 2)
        else:
            x = x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for unit in self.units:
            x = unit(x)
        return x.contiguous().reshape(n, m, *x.shape[1:])

    def features(self, x: Tensor, layout: str = "correct") -> Tensor:
        """Last-unit map averaged over bodies: ``(N, C, T, V, M) -> (N, 256, ceil(T / 4), V)``.

        ``layout="official"`` reproduces the authors' STAR code, which views the per-body maps, laid out in
        memory as (N, M, C, T', V), as (N, C, T', V, M) and averages the last axis: channels, frames and joints
        get mixed, so the "joints" of the result are not the skeleton's joints (REFERENCE.md). Only checkpoints
        imported from their code use it (sidecar ``token_layout``); everything trained here is ``correct``.
        """
        maps = self.body_maps(x)  # (N, M, 256, T', V)
        if layout == "correct":
            return maps.mean(dim=1)
        if layout == "official":
            n, m, c, t, v = maps.shape
            return maps.reshape(n, c, t, v, m).mean(dim=-1)
        raise ValueError(f"unknown token layout {layout!r}; expected one of {TOKEN_LAYOUTS}")

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, num_classes)``: features pooled over time and joints, then ``fc``."""
        return self.fc(self.features(x).mean(dim=(2, 3)))

    def train(self, mode: bool = True) -> ShiftGCN:
        # A frozen backbone keeps eval mode (fixed BatchNorm statistics) whatever the caller asks.
        return super().train(False if self.frozen else mode)


def freeze(model: nn.Module) -> nn.Module:
    """Put ``model`` in eval mode and stop gradients into all its parameters; returns it.

    On a :class:`ShiftGCN` the freeze sticks: later ``.train()`` calls (also from a parent module)
    leave it in eval mode, so BatchNorm statistics are never updated.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    if isinstance(model, ShiftGCN):
        model.frozen = True
    model.eval()
    return model


def load_shiftgcn_state_dict(model: ShiftGCN, state_dict: Mapping[str, Tensor]) -> list[str]:
    """Load released Shift-GCN weights into ``model``; returns human-readable messages.

    Accepted differences: a ``module.`` prefix (DataParallel), the unused sub-joint offsets ``xpos``
    (dropped if all are ~0), and a final ``fc`` of another size (skipped, the model's ``fc`` is kept).
    Any other missing or unexpected key, shape mismatch or joint-shift index that differs raises
    ``ValueError`` naming the keys. Read a ``.pt`` file with
    ``torch.load(path, map_location="cpu", weights_only=True)`` (never unpickle arbitrary objects).
    """
    messages: list[str] = []
    sd = dict(state_dict)
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
        messages.append("stripped the 'module.' prefix (DataParallel checkpoint)")

    xpos_keys = [k for k in sd if k.endswith(".xpos")]
    if xpos_keys:
        largest = max(float(sd[k].abs().max()) for k in xpos_keys)
        if largest > 1e-3:
            raise ValueError(f"sub-joint temporal-shift offsets 'xpos' are not ~0 (max |xpos| = {largest:.3g}); "
                             "this implementation only supports the released Shift-GCN, where they stay ~1e-8")
        for k in xpos_keys:
            del sd[k]
        messages.append(f"ignored {len(xpos_keys)} 'xpos' tensors (unused sub-joint offsets, max |xpos| = {largest:.1e})")

    own = model.state_dict()
    fc_w = sd.get("fc.weight")
    if fc_w is not None and fc_w.shape != own["fc.weight"].shape:
        sd.pop("fc.weight")
        sd.pop("fc.bias", None)
        messages.append(f"skipped 'fc': checkpoint has {fc_w.shape[0]} classes, model has {model.num_classes}; "
                        "the model keeps its own (untrained) fc")
    skipped_fc = "fc.weight" not in sd

    missing = sorted(k for k in own if k not in sd and not (skipped_fc and k.startswith("fc.")))
    unexpected = sorted(k for k in sd if k not in own)
    if missing or unexpected:
        raise ValueError(f"Shift-GCN weights do not match the model: missing {missing[:10]}"
                         f"{' ...' if len(missing) > 10 else ''}, unexpected {unexpected[:10]}"
                         f"{' ...' if len(unexpected) > 10 else ''}")
    bad_shapes = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
                  for k, v in sd.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad_shapes:
        raise ValueError("Shift-GCN weights have wrong shapes: " + "; ".join(bad_shapes[:10]))
    bad_index = [k for k in sd if k.endswith((".shift_in", ".shift_out")) and k.split(".")[-2] == "gcn1"
                 and not torch.equal(sd[k].to(own[k].dtype).cpu(), own[k].cpu())]
    if bad_index:
        raise ValueError(f"joint-shift index tensors differ from the standard Shift-GCN layout: {bad_index[:10]}")

    model.load_state_dict(sd, strict=False)
    messages.append(f"loaded {len(sd)} tensors")
    return messages


# ---------------------------------------------------------------------- weights saved by `star train-backbone`
BACKBONE_PREFIX = "model."  # the model's tensors in a backbone file; "momentum.*" holds the optimiser state


def load_backbone_weights(path: str | Path) -> dict[str, Tensor]:
    """The model weights of a saved backbone file (``model.*`` safetensors, prefix removed)."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    return {k[len(BACKBONE_PREFIX):]: v for k, v in tensors.items() if k.startswith(BACKBONE_PREFIX)}


def load_backbone(path: str | Path, num_classes: int, num_person: int = 2, device: str = "cpu",
                  stream: str = "joint") -> ShiftGCN:
    """A frozen :class:`ShiftGCN` (eval mode, no gradients) with the weights of a saved backbone file."""
    model = ShiftGCN(num_classes=num_classes, num_person=num_person, stream=stream)
    model.load_state_dict(load_backbone_weights(path))
    freeze(model)
    return model.to(device)
