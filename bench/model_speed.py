"""Forward latency and backbone training-step time per clip, and parameter counts of the default STAR model.

    python bench/model_speed.py [--batch-sizes 1 64] [--repeats 3] [--threads N] [--device cpu]
                                [--num-person 1] [--train-batch 32] [--paths fast original] [--compile]
                                [--precisions fp32 bf16] [--head-batch 64]

Prints the machine (CPU model, cores, torch version, threads). Times (eval mode, no grad, random input
(B, 3, 64, 25, M)) the backbone's ``features``, the STAR head on its output, and both together; prints
the median over ``--repeats`` runs after one warm-up, in milliseconds per clip. Then the backbone
training step (train mode, forward + cross-entropy + backward + SGD step, batch ``--train-batch``) per
clip, for each implementation in ``--paths`` (``fast``: the channels-last default; ``original``: the
reference formulation), run in turn ABAB... so a shared machine slows them alike; ``--compile`` adds
``torch.compile`` of the fast path (its compilation time is printed separately); with ``bf16`` in
``--precisions`` the fast path also runs under bfloat16 autocast (``backbone.precision``). Then the head's
training step (the shipped recipe's STAR-6 head on a random backbone map, forward + STAR loss + backward +
SGD step, batch ``--head-batch``) per precision (``head.precision``), interleaved the same way. Then the
parameter count of each module and the checkpoint size (floating-point parameters and buffers, 4 bytes each).
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
from star.models.losses import star_loss
from star.training.loop import autocast
from star.training.runlog import cpu_model


class Autocast(nn.Module):
    """``module``'s forward pass under ``star.training.loop.autocast`` (the training loops' bf16 path)."""

    def __init__(self, module: nn.Module, precision: str):
        super().__init__()
        self.module, self.precision = module, precision

    def forward(self, x):
        with autocast(x.device, self.precision):
            return self.module(x).float()


def head_step_times(head: StarHead, feat: torch.Tensor, precisions: list[str], repeats: int) -> dict[str, list[float]]:
    """Seconds per STAR-head training step (forward, STAR loss on 3/4 of the classes, backward, SGD step) per
    precision, interleaved, each from its own copy of ``head``."""
    c, k = head.config.num_classes, head.config.num_parts
    names, parts = torch.randn(c, head.config.text_dim), torch.randn(k, c, head.config.text_dim)
    seen = list(range(3 * c // 4))
    y = torch.tensor(seen, device=feat.device).repeat(len(feat) // len(seen) + 1)[:len(feat)]
    heads = {p: copy.deepcopy(head).train() for p in precisions}
    opts = {p: torch.optim.SGD(h.parameters(), lr=0.01, momentum=0.9, nesterov=True) for p, h in heads.items()}
    times: dict[str, list[float]] = {p: [] for p in precisions}
    for r in range(repeats + 1):
        for p, h in heads.items():
            start = time.perf_counter()
            with autocast(feat.device, p):
                out, (name_proj, desc_proj) = h(feat), h.encode_text(names.to(feat.device), parts.to(feat.device))
            out.part_features, out.global_feature = out.part_features.float(), out.global_feature.float()
            loss = star_loss(out, name_proj.float(), desc_proj.float(), y, seen, list(range(c)))["total"]
            opts[p].zero_grad(set_to_none=True)
            loss.backward()
            opts[p].step()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            if r:
                times[p].append(time.perf_counter() - start)
    return times


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
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"],
                        help="training-step precisions (bf16: bfloat16 autocast, as backbone/head.precision)")
    parser.add_argument("--head-batch", type=int, default=64, help="clips per head training step (0: skip)")
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
        if "bf16" in args.precisions:
            models["fast+bf16"] = Autocast(copy.deepcopy(base).set_fast(True).train(), "bf16")
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

    if args.head_batch:
        b = args.head_batch
        recipe = StarHead(StarConfig(num_classes=args.num_classes, ffn_hidden=256, dropout=0.1)).to(device)
        with torch.no_grad():
            feat = backbone.features(torch.randn(b, 3, args.frames, 25, m, device=device))
        times = head_step_times(recipe, feat, args.precisions, args.repeats)
        print()
        print(f"STAR-6 head training step (the v2 recipe's head, forward + STAR loss + backward + SGD step), "
              f"batch {b}, interleaved, median (min..max) of {args.repeats}")
        print(f"{'precision':<14} | {'train ms/clip':>13} | {'min..max ms/clip':>17}")
        for k, ts in times.items():
            print(f"{k:<14} | {1000 * statistics.median(ts) / b:>13.2f} | {1000 * min(ts) / b:>7.2f}..{1000 * max(ts) / b:<8.2f}")

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
