"""The pieces both training loops (backbone and head) share: the learning-rate schedule and the batches of
one epoch."""

from __future__ import annotations

import math

import numpy as np
import torch

from star.training import distributed


def step_lr(epoch: int, base: float, milestones: list[int], warmup_epochs: int = 0) -> float:
    """Learning rate of ``epoch`` (0-based): linear warm-up, then step decay.

    During the first ``warmup_epochs`` epochs the rate climbs linearly to ``base`` (epoch e uses
    ``base * (e + 1) / warmup_epochs``); afterwards it is ``base`` multiplied by 0.1 once for every
    milestone already reached (``epoch >= m``).
    """
    if epoch < warmup_epochs:
        return base * (epoch + 1) / warmup_epochs
    return base * (0.1 ** sum(epoch >= m for m in milestones))


def run_milestones(epochs: int, milestones: list[int], fractions: list[float] | None = None) -> list[int]:
    """The milestones of a run of ``epochs`` epochs: ``milestones`` as given, or, when ``fractions`` is set,
    ``max(1, floor(f * epochs))`` for each fraction (so a shorter final run still reaches its drops)."""
    if fractions is None:
        return [int(m) for m in milestones]
    return [max(1, int(math.floor(f * epochs + 1e-9))) for f in fractions]


def schedule_lr(epoch: int, epochs: int, base: float, schedule: str = "step", milestones: list[int] = (),
                fractions: list[float] | None = None) -> float:
    """Learning rate of ``epoch`` (0-based) in a run of ``epochs`` epochs.

    ``step``: ``step_lr`` with ``run_milestones(epochs, milestones, fractions)``. ``cosine``:
    ``base * (1 + cos(pi * epoch / epochs)) / 2`` (epoch 0 at ``base``, decaying towards 0).
    """
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    if schedule != "step":
        raise ValueError(f"unknown lr schedule {schedule!r} (step | cosine)")
    return step_lr(epoch, base, run_milestones(epochs, list(milestones), fractions))


def autocast(device, precision: str):
    """The training forward pass's autocast context: ``bf16`` runs matmuls and convolutions in bfloat16 on
    the device (CPU or CUDA), ``fp32`` changes nothing. Callers cast what leaves it to float32 before the loss."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=precision == "bf16")


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator, sort: bool = False) -> list[np.ndarray]:
    """This process's share of every batch of one epoch over rows ``0..n-1``.

    The rows are shuffled with ``rng`` (every process draws the same order), cut into batches of
    ``batch_size`` (the last may be smaller; one smaller than the number of processes is dropped), each
    batch optionally sorted (row order inside a batch, e.g. for memory-mapped reads), then sharded across
    processes (``distributed.shard``). Alone, a process gets the whole batches.
    """
    order = rng.permutation(n)
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [distributed.shard(np.sort(b) if sort else b) for b in batches if len(b) >= distributed.world_size()]
