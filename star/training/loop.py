"""The pieces both training loops (backbone and head) share: the learning-rate schedule and the batches of
one epoch."""

from __future__ import annotations

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
