"""``star data info PATH``: what is in a clip bank (or a benchmark's pooled bank).

PATH is a clip-bank ``.npz`` file, or a benchmark name (e.g. ``pool42-32/10``) whose banks are read
from ``--data-dir`` (default ``$STAR_DATA_DIR`` or ``../shared/data``); for a benchmark the report
also gives seen/unseen classes and train/test counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from star.data.benchmarks import Benchmark, get_benchmark, list_benchmarks
from star.data.clipbank import ClipBank
from star.data.protocols import TEST, TRAIN
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info"], help="what to do (only 'info' for now)")
    parser.add_argument("path", help="a clip-bank .npz file, or a benchmark name such as pool42-32/10")
    parser.add_argument("--data-dir", default=None, help="folder of clip banks when PATH is a benchmark")


def _ids_summary(values: np.ndarray) -> str:
    known = np.unique(values[values > 0])
    if known.size == 0:
        return "unknown"
    shown = ", ".join(str(v) for v in known[:20]) + (", ..." if known.size > 20 else "")
    return f"{known.size} ({shown})"


def describe(bank: ClipBank, benchmark: Benchmark | None = None, out: TextIO | None = None) -> None:
    """Print classes (index, name, count), totals, length statistics, bodies, subjects and views (to stdout
    unless ``out`` is given; looked up at call time so redirected output is honoured)."""
    out = out or sys.stdout
    counts = bank.class_counts()
    lengths = bank.lengths()
    role = bank.extras.get("role") if benchmark is not None else None
    print(f"clip bank: {bank.path}", file=out)
    if bank.source:
        print(f"source: {bank.source}", file=out)
    if benchmark is not None:
        print(f"benchmark: {benchmark.name} ({len(benchmark.seen_classes)} seen / "
              f"{len(benchmark.unseen_classes)} unseen classes)", file=out)
    header = f"{'idx':>4}  {'class':<40} {'clips':>6}"
    if role is not None:
        header += f" {'train':>6} {'test':>6}  split"
    print(header, file=out)
    unseen = set(benchmark.unseen_classes) if benchmark is not None else set()
    for c, name in enumerate(bank.class_names):
        line = f"{c:>4}  {name[:40]:<40} {counts[c]:>6}"
        if role is not None:
            m = bank.label == c
            line += (f" {int((m & (role == TRAIN)).sum()):>6} {int((m & (role == TEST)).sum()):>6}  "
                     f"{'unseen' if c in unseen else 'seen'}")
        print(line, file=out)
    print(f"total clips: {len(bank)} in {bank.num_classes} classes, {len(bank.frames)} frames", file=out)
    if len(bank):
        print(f"frames per clip: min {lengths.min()}, median {np.median(lengths):g}, "
              f"mean {lengths.mean():.1f}, max {lengths.max()}", file=out)
    two = int((bank.num_bodies == 2).sum())
    print(f"bodies: {len(bank) - two} clips with 1 body, {two} with 2", file=out)
    print(f"subjects: {_ids_summary(bank.subject)}", file=out)
    print(f"views: {_ids_summary(bank.view)}", file=out)
    if bank.synthesized_joints.size:
        print(f"synthesized joints: {bank.synthesized_joints.tolist()}", file=out)
    extra = [k for k in bank.extras if k != "role"]
    if extra:
        print(f"other per-clip keys: {', '.join(extra)}", file=out)
    if role is not None:
        print(f"protocol: {int((role == TRAIN).sum())} train, {int((role == TEST).sum())} test clips", file=out)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    try:
        if path.is_file():
            describe(ClipBank.load(path))
            return 0
        try:
            benchmark = get_benchmark(args.path)
        except ValueError:
            print(f"error: {args.path}: no such file, and not a benchmark name "
                  f"(known: {', '.join(list_benchmarks())})", file=sys.stderr)
            return 1
        describe(benchmark.load_bank(args.data_dir), benchmark)
        return 0
    except (SkeletonFormatError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
