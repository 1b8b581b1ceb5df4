"""``star prepare-pku RAW_DIR OUT_DIR``: PKU-MMD skeleton + label folders -> ``OUT_DIR/pku.npz``
(``star.data.prepare_pku``)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from star.data.prepare_ntu import PrepareError
from star.data.prepare_pku import prepare_pku


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_dir", type=Path,
                        help="the PKU-MMD folder (holds the skeleton/label folders and split files)")
    parser.add_argument("out_dir", type=Path, help="where the clip bank is written")
    parser.add_argument("--skeleton-dir", type=Path, default=None, help="folder of <video>.txt skeleton files")
    parser.add_argument("--label-dir", type=Path, default=None, help="folder of <video>.txt label files")
    parser.add_argument("--xsub-split", type=Path, default=None, help="the official cross-subject.txt")
    parser.add_argument("--xview-split", type=Path, default=None, help="the official cross-view.txt")
    parser.add_argument("--output-name", default="pku.npz", help="bank file name (default pku.npz)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="parallel reader processes (default: min(8, CPUs))")


def run(args: argparse.Namespace) -> int:
    try:
        prepare_pku(args.raw_dir, args.out_dir, args.skeleton_dir, args.label_dir, args.xsub_split, args.xview_split,
                    args.output_name, args.workers)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
