"""DistributedDataParallel helpers: the same training commands run alone or under ``torchrun``.

Under ``torchrun --nproc_per_node N -m star train ...`` the environment carries RANK/WORLD_SIZE; each process then
trains on its shard of every batch list and gradients are averaged by DDP. Backend: NCCL on CUDA, gloo on CPU.
Only rank 0 writes files and prints progress.
"""

from __future__ import annotations

import os

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
    if dist.is_available() and dist.is_initialized():
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


def mean_across(value: float) -> float:
    if world_size() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / world_size()
