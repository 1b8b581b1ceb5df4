"""Forward latency and backbone training-step time per clip, and parameter counts of the default STAR model.

    python bench/model_speed.py [--batch-sizes 1 64] [--repeats 3] [--threads N] [--device cpu]
                                [--num-person 1] [--train-batch 32] [--paths fast original] [--compile]

Prints the machine (CPU model, cores, torch version, threads). Times (eval mode, no grad, random input
(B, 3, 64, 25, M)) the backbone's ``features``, the STAR head on its output, and both together; prints
the median over ``--repeats`` runs after one warm-up, in milliseconds per clip. Then the backbone
training step (train mode, forward + cross-entropy + backward + SGD step, batch ``--train-batch``) per
clip, for each implementation in ``--paths`` (``fast``: the channels-last default; ``original``: the
reference formulation), run in turn ABAB... so a shared machine slows them alike; ``--compile`` adds
``torch.compile`` of the fast path (its compilation time is printed separately). Then the parameter
count of each module and the checkpoint size (floating-point parameters and buffers, 4 bytes each).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from star.models import GlobalBaseline, ShiftGCN, StarConfig, StarHead, freeze
from star.training.runlog import cpu_model


def median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    """CPU model, logical cores, torch version and threads."""
    return f"{cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def training_step_times(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor,
                        repeats: int) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds per SGD step for each model, interleaved; plus each model's first (warm-up) step."""
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
            for k, m in models.items()}
    times: dict[str, list[float]] = {k: [] for k in models}
    first: dict[str, float] = {}
    for r in range(repeats + 1):
        for k, m in models.items():
            start = time.perf_counter()
            loss = F.cross_entropy(m(x), y)
            opts[k].zero_grad(set_to_none=True)
            loss.backward()
            opts[k].step()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            elapsed = time.perf_counter() - start
            if r == 0:
                first[k] = elapsed
            else:
                times[k].append(elapsed)
    return times, first


def count(module: nn.Module | nn.Parameter | None) -> int:
    if module is None:
        return 0
    if isinstance(module, nn.Parameter):
        return module.numel()
    return sum(p.numel() for p in module.parameters())


def checkpoint_mb(*modules: nn.Module) -> float:
    return sum(t.numel() * 4 for m in modules for t in m.state_dict().values() if t.is_floating_point()) / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--num-classes", type=int, default=42)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--num-person", type=int, default=1, help="bodies M (the shipped default reads 1)")
    parser.add_argument("--train-batch", type=int, default=32, help="clips per training step (0: skip)")
    parser.add_argument("--paths", nargs="+", default=["fast", "original"], choices=["fast", "original"],
                        help="backbone implementations to time for the training step")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the fast path")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    config = StarConfig(num_classes=args.num_classes)
    backbone = freeze(ShiftGCN(num_classes=args.num_classes, num_person=args.num_person)).to(device)
    head = StarHead(config).eval().to(device)
    m = args.num_person

    print(f"machine: {machine()}")
    print(f"device {device}, input (B, 3, {args.frames}, 25, {m}), median of {args.repeats}; "
          "forward: fast backbone path, eval mode, no grad")
    print(f"{'batch':>5} | {'backbone ms/clip':>16} | {'head ms/clip':>12} | {'both ms/clip':>12}")
    for b in args.batch_sizes:
        x = torch.randn(b, 3, args.frames, 25, m, device=device)
        with torch.no_grad():
            feat = backbone.features(x)
            t_backbone = median_seconds(lambda x=x: backbone.features(x), args.repeats)
            t_head = median_seconds(lambda feat=feat: head(feat), args.repeats)
            t_both = median_seconds(lambda x=x: head(backbone.features(x)), args.repeats)
        print(f"{b:>5} | {1000 * t_backbone / b:>16.2f} | {1000 * t_head / b:>12.2f} | {1000 * t_both / b:>12.2f}")

    if args.train_batch:
        b = args.train_batch
        base = ShiftGCN(num_classes=args.num_classes, num_person=m).to(device)
        models: dict[str, nn.Module] = {p: copy.deepcopy(base).set_fast(p == "fast").train() for p in args.paths}
        if args.compile:
            models["fast+compile"] = torch.compile(copy.deepcopy(base).set_fast(True).train())
        x = torch.randn(b, 3, args.frames, 25, m, device=device)
        y = torch.randint(0, args.num_classes, (b,), device=device)
        times, first = training_step_times(models, x, y, args.repeats)
        print()
        print(f"backbone training step (train mode, forward + backward + SGD step), batch {b}, "
              f"interleaved, median (min..max) of {args.repeats}")
        print(f"{'path':<14} | {'train ms/clip':>13} | {'min..max ms/clip':>17} | {'step s':>7}")
        for k, ts in times.items():
            med = statistics.median(ts)
            print(f"{k:<14} | {1000 * med / b:>13.1f} | {1000 * min(ts) / b:>7.1f}..{1000 * max(ts) / b:<8.1f} | "
                  f"{med:>7.2f}")
        if "fast+compile" in first:
            print(f"torch.compile: first step {first['fast+compile']:.0f} s (compilation; again for a new batch "
                  "size or eval mode)")

    baseline = GlobalBaseline(config)
    rows = [
        ("backbone ShiftGCN (incl. fc)", count(backbone)),
        ("head: skeleton branches", count(head.branches)),
        ("head: name MLP", count(head.name_mlp)),
        ("head: description MLPs", count(head.desc_mlps)),
        ("head: semantic-part prompts", count(head.semantic_prompts)),
        ("head total", count(head)),
        ("global baseline head", count(baseline)),
    ]
    print()
    print(f"{'module':<30} | {'parameters':>10}")
    for name, n in rows:
        print(f"{name:<30} | {n:>10,}")
    print(f"checkpoint backbone + STAR head: {checkpoint_mb(backbone, head):.2f} MiB "
          f"({args.num_classes} classes, text_dim {config.text_dim}, d_model {config.d_model})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
