"""DistributedDataParallel helpers: the same training commands run alone or under ``torchrun``.

Under ``torchrun --nproc_per_node N -m star train ...`` the environment carries RANK/WORLD_SIZE; each process then
trains on its shard of every batch list and gradients are averaged by DDP. Backend: NCCL on CUDA, gloo on CPU.
Only rank 0 writes files and prints progress.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.distributed as dist


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def setup(device: str) -> str:
    """Initialise the process group when launched by torchrun; returns the device this process uses."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    use_cuda = device.startswith("cuda") and torch.cuda.is_available()
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return f"cuda:{local}"
    return device


def teardown() -> None:
    """Every process waits for the others (rank 0 may still be saving) before the process group goes: a rank that
    destroyed it and exited while another still worked was seen to abort (SIGABRT in gloo's shutdown)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """DDP-wrap a model when running distributed, else return it unchanged."""
    if world_size() == 1:
        return model
    device_ids = [model_device(model).index] if model_device(model).type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def shard(batch: list[int] | torch.Tensor):
    """This process's share of a batch of indices (every process sees the same global batch order)."""
    return batch[rank()::world_size()]


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()


def mean_across(value: float) -> float:
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / world_size()


def gather_rows(num_rows: int, compute):
    """``compute(rows)`` -> a tuple of arrays (or None) with one entry per row, run on this process's share of
    ``range(num_rows)`` (every ``world_size``-th row) and gathered on every process in row order. Alone:
    ``compute`` of all rows."""
    if world_size() == 1:
        return compute(np.arange(num_rows))
    mine = np.arange(num_rows)[rank()::world_size()]
    parts = [None] * world_size()
    dist.all_gather_object(parts, (mine, compute(mine)))
    order = np.argsort(np.concatenate([rows for rows, _ in parts]), kind="stable")
    gathered = []
    for i in range(len(parts[0][1])):
        pieces = [outs[i] for _, outs in parts]
        gathered.append(None if pieces[0] is None else np.concatenate(pieces)[order])
    return tuple(gathered)
