"""Backbone training speed on a real epoch: the original Shift-GCN path against the fast one.

    python bench/backbone_epoch_speed.py [-c configs/pool42-32-10.yaml] [--batches 6] [--threads N]
                                         [--paths original fast] [--compile]

Builds the seen-class training clips and the epoch's batches exactly as ``star train-backbone`` does
(same config, seed, augmentation, batch size, ``num_person``), then times the first ``--batches``
optimiser steps (forward + cross-entropy + backward + SGD step, train mode). The implementations take
turns on the same batch (ABAB...), starting from the same weights, so a shared or noisy machine
slows both alike. Prints per-step medians and spread, the augmentation time, and the epoch estimate
(batches per epoch x (median step + median augmentation)). ``--compile`` adds ``torch.compile`` of the
fast path and prints its compile time (first step) separately.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from star.models import ShiftGCN
from star.training.runlog import cpu_model


def machine() -> str:
    return (f"{cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")


def _training_data(config: str):
    """(cfg, frames, labels, seen class count) the way star train-backbone builds them."""
    from star.config import resolve_config

    from star.training.backbone import seen_training_clips
    cfg = resolve_config(path=config)
    bench, frames, labels = seen_training_clips(cfg)
    return cfg, frames, labels, len(bench.seen_classes)


def _epoch_batches(n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    try:
        from star.training.loop import epoch_batches

        return list(epoch_batches(n, batch, rng))
    except ImportError:
        order = rng.permutation(n)
        return [order[i:i + batch] for i in range(0, n, batch)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", default="configs/pool42-32-10.yaml")
    parser.add_argument("--batches", type=int, default=6, help="optimiser steps timed per implementation")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--paths", nargs="+", default=["original", "fast"], choices=["original", "fast"])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the fast path")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from star.skeleton.transforms import augment

    start = time.perf_counter()
    cfg, frames, labels, num_classes = _training_data(args.config)
    bcfg = cfg.backbone
    print(f"machine: {machine()} (timings on a shared machine are noisy: compare the interleaved columns)")
    print(f"{cfg.benchmark}: {len(frames)} seen training clips, batch {bcfg.batch_size}, "
          f"num_person {bcfg.num_person}, {cfg.num_frames} frames; data loaded in {time.perf_counter() - start:.1f} s")

    torch.manual_seed(cfg.seed)
    base = ShiftGCN(num_classes=num_classes, num_person=bcfg.num_person)
    models: dict[str, torch.nn.Module] = {}
    for name in args.paths:
        models[name] = copy.deepcopy(base).set_fast(name == "fast").train()
    compile_s = None
    if args.compile:
        fast = copy.deepcopy(base).set_fast(True).train()
        models["fast+compile"] = torch.compile(fast)
    optimizers = {name: torch.optim.SGD(m.parameters(), lr=bcfg.lr, momentum=bcfg.momentum, nesterov=True,
                                        weight_decay=bcfg.weight_decay) for name, m in models.items()}

    rng = np.random.default_rng(cfg.seed * 1000)  # epoch 0, as in training
    batches = _epoch_batches(len(frames), bcfg.batch_size, rng)
    times: dict[str, list[float]] = {name: [] for name in models}
    prep: list[float] = []
    for i, mine in enumerate(batches[: args.batches + 1]):  # batch 0 is the warm-up
        t0 = time.perf_counter()
        x = np.stack([augment(frames[j], rng, cfg.num_frames) for j in mine])[..., :bcfg.num_person]
        x = torch.from_numpy(np.ascontiguousarray(x))
        y = torch.from_numpy(labels[mine])
        prep.append(time.perf_counter() - t0)
        for name, model in models.items():
            opt = optimizers[name]
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            elapsed = time.perf_counter() - t0
            if i == 0:
                if name == "fast+compile":
                    compile_s = elapsed
            else:
                times[name].append(elapsed)

    n_batches = len(batches)
    prep_s = statistics.median(prep[1:] or prep)
    print(f"{n_batches} batches per epoch; augmentation {1000 * prep_s:.0f} ms per batch (median)")
    print(f"{'path':<14} | {'step s (median)':>15} | {'min..max':>13} | {'ms/clip':>7} | {'epoch estimate s':>16}")
    medians = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        medians[name] = med
        print(f"{name:<14} | {med:>15.3f} | {min(ts):>6.3f}..{max(ts):<6.3f} | {1000 * med / bcfg.batch_size:>7.1f} | "
              f"{n_batches * (med + prep_s):>16.0f}")
    if "original" in medians:
        for name, med in medians.items():
            if name != "original":
                ratios = [a / b for a, b in zip(times["original"], times[name])]
                print(f"speed-up {name} vs original: {medians['original'] / med:.2f}x (median step), "
                      f"per-batch ratios {min(ratios):.2f}..{max(ratios):.2f}")
    if compile_s is not None:
        print(f"torch.compile: first step (compilation) {compile_s:.0f} s; a new batch size (the epoch's last "
              "batch) or eval mode compiles again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
