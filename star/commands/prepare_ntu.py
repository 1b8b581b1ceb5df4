"""``star prepare-ntu RAW_DIR OUT_DIR``: official NTU RGB+D ``.skeleton`` folders -> ``ntu60.npz`` and
``ntu120.npz`` clip banks (``star.data.prepare_ntu``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from star.data.prepare_ntu import PrepareError, prepare_ntu


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_dir", type=Path, help="folder with the official .skeleton files (searched recursively)")
    parser.add_argument("out_dir", type=Path, help="where ntu60.npz and ntu120.npz are written")
    parser.add_argument("--missing", type=Path, default=None,
                        help="the official NTU_RGBD*_samples_with_missing_skeletons.txt (default: such a "
                             "file in RAW_DIR, if any)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="parallel reader processes (default: min(8, CPUs))")


def run(args: argparse.Namespace) -> int:
    try:
        prepare_ntu(args.raw_dir, args.out_dir, args.missing, args.workers)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
