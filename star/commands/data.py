"""``star data info PATH``: what is in a clip bank (or a benchmark's pooled bank); see ``star.data.info``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from star.data.benchmarks import get_benchmark, list_benchmarks
from star.data.clipbank import ClipBank
from star.data.info import describe
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["info"], help="what to do (only 'info' for now)")
    parser.add_argument("path", help="a clip-bank .npz file, or a benchmark name such as pool42-32/10")
    parser.add_argument("--data-dir", default=None, help="folder of clip banks when PATH is a benchmark")


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
