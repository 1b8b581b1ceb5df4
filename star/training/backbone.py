"""Shift-GCN trained on the seen classes' training clips only (``star train-backbone``).

The backbone never sees an unseen-class clip. SGD with Nesterov momentum, linear warm-up, step decay
(``loop.step_lr``); random crop-resize + rotation augmentation (training only). Resumable: the weights and
the optimiser's momentum buffers are saved as safetensors after every epoch, so a rerun continues where it
stopped.

Clips go through the run's canonical-skeleton spec (``cfg.preprocess``, applied once per clip: it is
deterministic) before ``augment``; the state file records it. With ``validation.backbone: pseudo-seen`` a
second backbone is trained the same way in ``<run_dir>/validation`` on the pseudo-unseen fold's training
clips only (pseudo-seen classes, outside the held-out views / subjects), for the validation run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm import tqdm

from star.config import RunConfig, load_benchmark_splits
from star.features import BACKBONE_FILE, BACKBONE_STATE_FILE, check_preprocess, validation_fold, validation_run_dir
from star.models import ShiftGCN, load_backbone_weights
from star.models.shiftgcn import BACKBONE_PREFIX
from star.skeleton.transforms import augment, canonical_frames
from star.training import distributed
from star.training.loop import autocast, epoch_batches, set_lr, step_lr
from star.training.runlog import RunLog

MOMENTUM_PREFIX = "momentum."


def _clips(cfg: RunConfig, bank, classes: list[int]) -> tuple[list[np.ndarray], np.ndarray]:
    """(canonical frames, labels as positions in ``classes``) of the bank's clips of ``classes``."""
    position = {c: i for i, c in enumerate(classes)}
    canon = cfg.canonical
    frames, labels = [], []
    for i in range(len(bank)):
        clip = bank.clip(i)
        if clip.label in position:
            frames.append(canonical_frames(clip.frames, canon))
            labels.append(position[clip.label])
    return frames, np.asarray(labels, dtype=np.int64)


def seen_training_clips(cfg: RunConfig):
    """(benchmark, list of frames arrays (after the canonical spec), labels as positions in the seen list)
    of seen-class training clips."""
    bench, splits = load_benchmark_splits(cfg)
    return (bench, *_clips(cfg, splits["train"], bench.seen_classes))


def _save_state(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int, meta: dict) -> None:
    tensors = {f"{BACKBONE_PREFIX}{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for name, p in model.named_parameters():
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            tensors[f"{MOMENTUM_PREFIX}{name}"] = buf.detach().cpu().contiguous()
    tmp = out / (BACKBONE_FILE + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(out / BACKBONE_FILE)
    (out / (BACKBONE_STATE_FILE + ".tmp")).write_text(json.dumps({**meta, "epochs_done": epoch + 1}, indent=2))
    (out / (BACKBONE_STATE_FILE + ".tmp")).replace(out / BACKBONE_STATE_FILE)


def _resume(out: Path, cfg: RunConfig, model: ShiftGCN, optimizer: torch.optim.Optimizer,
            device: str, classes: list[int]) -> tuple[int, float]:
    """(epochs already done, their wall time) from a run directory of the same benchmark, else (0, 0)."""
    state_path = out / BACKBONE_STATE_FILE
    if not (state_path.exists() and (out / BACKBONE_FILE).exists()):
        return 0, 0.0
    state = json.loads(state_path.read_text())
    if state.get("benchmark") != cfg.benchmark or state.get("seen_classes") != classes:
        return 0, 0.0
    check_preprocess(cfg, state_path, "backbone being resumed")
    model.load_state_dict(load_backbone_weights(out / BACKBONE_FILE))
    tensors = load_file(str(out / BACKBONE_FILE))
    for name, p in model.named_parameters():
        if f"{MOMENTUM_PREFIX}{name}" in tensors:
            optimizer.state[p]["momentum_buffer"] = tensors[f"{MOMENTUM_PREFIX}{name}"].to(device)
    if distributed.is_main():
        print(f"resuming backbone training at epoch {int(state['epochs_done']) + 1}")
    return int(state["epochs_done"]), float(state.get("wall_time_s", 0.0))


def train_backbone(cfg: RunConfig) -> Path:
    """Train (or resume) the run directory's backbone (and, with ``validation.backbone: pseudo-seen``, the
    validation backbone); returns the run's weights file."""
    device = distributed.setup(cfg.device)
    bench, splits = load_benchmark_splits(cfg)
    frames, labels = _clips(cfg, splits["train"], bench.seen_classes)
    _train(cfg, device, cfg.run_path, bench.seen_classes, frames, labels)
    if cfg.validation.backbone == "pseudo-seen":
        fold = validation_fold(cfg, bench, splits["train"])
        frames, labels = _clips(cfg, fold["train"], fold["seen_classes"])
        _train(cfg, device, validation_run_dir(cfg), fold["seen_classes"], frames, labels)
    distributed.teardown()
    return cfg.run_path / BACKBONE_FILE


def _train(cfg: RunConfig, device, out: Path, classes: list[int], frames: list[np.ndarray],
           labels: np.ndarray) -> None:
    """Train (or resume) the backbone in ``out`` on ``frames`` (labels = positions in ``classes``)."""
    bcfg = cfg.backbone
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = ShiftGCN(num_classes=len(classes), num_person=bcfg.num_person, stream=bcfg.stream).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=bcfg.lr, momentum=bcfg.momentum, nesterov=True,
                                weight_decay=bcfg.weight_decay)
    start, previous_wall = _resume(out, cfg, model, optimizer, device, classes)
    ddp_model = distributed.wrap(model)
    log = RunLog(out / "backbone_log.jsonl")
    meta = {"benchmark": cfg.benchmark, "seen_classes": classes, "num_person": bcfg.num_person,
            "seed": cfg.seed, "num_train_clips": len(frames), "device": str(device), "precision": bcfg.precision,
            "preprocess": cfg.canonical.to_dict(), "stream": bcfg.stream}
    for epoch in range(start, bcfg.epochs):
        rng = np.random.default_rng(cfg.seed * 1000 + epoch)  # batch order, then this epoch's augmentation
        lr = step_lr(epoch, bcfg.lr, bcfg.milestones, bcfg.warmup_epochs)
        set_lr(optimizer, lr)
        ddp_model.train()
        total, correct, loss_sum = 0, 0, 0.0
        bar = tqdm(epoch_batches(len(frames), bcfg.batch_size, rng), desc=f"backbone epoch {epoch + 1}/{bcfg.epochs}",
                   leave=False, disable=not distributed.is_main())
        for mine in bar:
            x = np.stack([augment(frames[i], rng, cfg.num_frames) for i in mine])[..., :bcfg.num_person]
            x = torch.from_numpy(np.ascontiguousarray(x)).to(device)
            y = torch.from_numpy(labels[mine]).to(device)
            with autocast(device, bcfg.precision):
                logits = ddp_model(x).float()
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
            _save_state(out, model, optimizer, epoch, {**meta, "wall_time_s": round(previous_wall + log.elapsed(), 1)})
