"""Forward latency per clip and parameter counts of the default STAR model.

    python bench/model_speed.py [--batch-sizes 1 64] [--repeats 3] [--threads N] [--device cpu]

Times (eval mode, no grad, random input (B, 3, 64, 25, 2)) the backbone's ``features``, the STAR head
on its output, and both together; prints the median over ``--repeats`` runs after one warm-up,
in milliseconds per clip. Then prints the parameter count of each module and the checkpoint size
(floating-point parameters and buffers, 4 bytes each).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from star.models import GlobalBaseline, ShiftGCN, StarConfig, StarHead, freeze


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
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    config = StarConfig(num_classes=args.num_classes)
    backbone = freeze(ShiftGCN(num_classes=args.num_classes)).to(device)
    head = StarHead(config).eval().to(device)

    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"input (B, 3, {args.frames}, 25, 2), median of {args.repeats}")
    print(f"{'batch':>5} | {'backbone ms/clip':>16} | {'head ms/clip':>12} | {'both ms/clip':>12}")
    for b in args.batch_sizes:
        x = torch.randn(b, 3, args.frames, 25, 2, device=device)
        with torch.no_grad():
            feat = backbone.features(x)
            t_backbone = median_seconds(lambda: backbone.features(x), args.repeats)
            t_head = median_seconds(lambda: head(feat), args.repeats)
            t_both = median_seconds(lambda: head(backbone.features(x)), args.repeats)
        print(f"{b:>5} | {1000 * t_backbone / b:>16.2f} | {1000 * t_head / b:>12.2f} | {1000 * t_both / b:>12.2f}")

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
