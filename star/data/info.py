"""What is in a clip bank (the report ``star data info`` prints): classes and counts, clip lengths, bodies,
subjects, views, and for a benchmark's bank its seen/unseen classes and train/test counts."""

from __future__ import annotations

import sys
from typing import TextIO

import numpy as np

from star.data.benchmarks import Benchmark
from star.data.clipbank import ClipBank
from star.data.protocols import TEST, TRAIN


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
