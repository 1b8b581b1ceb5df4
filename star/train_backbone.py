"""``star train-backbone``: Shift-GCN trained on the seen classes' training clips only.

The backbone never sees an unseen-class clip. SGD with Nesterov momentum, linear warm-up, step decay;
random crop-resize + rotation augmentation (training only). Resumable: the weights and the optimiser's
momentum buffers are saved as safetensors after every epoch, so a rerun continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from star import distributed
from star.config import add_config_arguments, load_benchmark_splits, resolve_config, run_dir
from star.models import ShiftGCN
from star.runlog import RunLog
from star.skeleton.transforms import augment

BACKBONE_FILE = "backbone.safetensors"
STATE_FILE = "backbone_state.json"


def seen_training_clips(cfg: dict):
    """(benchmark, list of frames arrays, labels as positions in the seen list) of seen-class training clips."""
    bench, splits = load_benchmark_splits(cfg)
    train = splits["train"]
    position = {c: i for i, c in enumerate(bench.seen_classes)}
    frames, labels = [], []
    for i in range(len(train)):
        clip = train.clip(i)
        if clip.label in position:
            frames.append(clip.frames)
            labels.append(position[clip.label])
    return bench, frames, np.asarray(labels, dtype=np.int64)


def lr_at(epoch: int, base: float, warmup: int, milestones: list[int]) -> float:
    if epoch < warmup:
        return base * (epoch + 1) / warmup
    return base * (0.1 ** sum(epoch >= m for m in milestones))


def _save_state(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int, meta: dict) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    names = dict(model.named_parameters())
    for name, p in names.items():
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            tensors[f"momentum.{name}"] = buf.detach().cpu().contiguous()
    tmp = out / (BACKBONE_FILE + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(out / BACKBONE_FILE)
    (out / (STATE_FILE + ".tmp")).write_text(json.dumps({**meta, "epochs_done": epoch + 1}, indent=2))
    (out / (STATE_FILE + ".tmp")).replace(out / STATE_FILE)


def load_backbone_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The model weights of a saved backbone file (``model.*`` tensors, prefix removed)."""
    tensors = load_file(str(path))
    return {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}


def train_backbone(cfg: dict) -> Path:
    device = distributed.setup(cfg["device"])
    bcfg = cfg["backbone"]
    out = run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg["seed"])
    bench, frames, labels = seen_training_clips(cfg)
    model = ShiftGCN(num_classes=len(bench.seen_classes), num_person=bcfg["num_person"]).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=bcfg["lr"], momentum=bcfg["momentum"], nesterov=True,
                                weight_decay=bcfg["weight_decay"])
    start, previous_wall = 0, 0.0
    state_path = out / STATE_FILE
    if state_path.exists() and (out / BACKBONE_FILE).exists():
        state = json.loads(state_path.read_text())
        if state.get("benchmark") == cfg["benchmark"]:
            tensors = load_file(str(out / BACKBONE_FILE))
            model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
            params = dict(model.named_parameters())
            for name, p in params.items():
                if f"momentum.{name}" in tensors:
                    optimizer.state[p]["momentum_buffer"] = tensors[f"momentum.{name}"].to(device)
            start = int(state["epochs_done"])
            previous_wall = float(state.get("wall_time_s", 0.0))
            if distributed.is_main():
                print(f"resuming backbone training at epoch {start + 1}")
    ddp_model = distributed.wrap(model)
    log = RunLog(out / "backbone_log.jsonl")
    meta = {"benchmark": cfg["benchmark"], "seen_classes": bench.seen_classes, "num_person": bcfg["num_person"],
            "seed": cfg["seed"], "num_train_clips": len(frames), "device": str(device)}
    batch = bcfg["batch_size"]
    for epoch in range(start, bcfg["epochs"]):
        rng = np.random.default_rng(cfg["seed"] * 1000 + epoch)
        lr = lr_at(epoch, bcfg["lr"], bcfg["warmup_epochs"], bcfg["milestones"])
        for g in optimizer.param_groups:
            g["lr"] = lr
        ddp_model.train()
        order = rng.permutation(len(frames))
        batches = [order[i:i + batch] for i in range(0, len(order), batch)]
        batches = [b for b in batches if len(b) >= distributed.world_size()]
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(batches, desc=f"backbone epoch {epoch + 1}/{bcfg['epochs']}", leave=False,
                   disable=not distributed.is_main())
        for b in bar:
            mine = distributed.shard(b)
            x = np.stack([augment(frames[i], rng, cfg["num_frames"]) for i in mine])[..., :bcfg["num_person"]]
            x = torch.from_numpy(np.ascontiguousarray(x)).to(device)
            y = torch.from_numpy(labels[mine]).to(device)
            logits = ddp_model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(mine)
            correct += int((logits.argmax(1) == y).sum())
            total += len(mine)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
        log.write(stage="backbone", epoch=epoch + 1, lr=lr, loss=distributed.mean_across(loss_sum / max(total, 1)),
                  train_acc=distributed.mean_across(correct / max(total, 1)))
        if distributed.is_main():
            _save_state(out, model, optimizer, epoch,
                        {**meta, "wall_time_s": round(previous_wall + log.elapsed(), 1)})
    distributed.teardown()
    return out / BACKBONE_FILE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    path = train_backbone(cfg)
    if distributed.is_main():
        print(f"backbone weights: {path}")
    return 0
