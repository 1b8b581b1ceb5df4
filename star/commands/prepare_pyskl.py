"""``star prepare-pyskl``: a pyskl / mmaction2 3-D NTU annotation pickle -> a clip bank (``star.data.importers``)."""

from __future__ import annotations

import argparse
import sys

from star.data.importers import ImportFormatError, read_pyskl, write_bank
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="e.g. ntu60_3danno.pkl or ntu120_3danno.pkl")
    parser.add_argument("out", help="folder to write ntu60.npz / ntu120.npz into (the benchmarks' data folder)")
    parser.epilog = ("The pickle is read with a restricted unpickler: only arrays, lists, dicts, strings and numbers; "
                     "a file naming anything else is refused before it runs. See docs/IMPORT.md.")


def run(args: argparse.Namespace) -> int:
    try:
        name, bank = read_pyskl(args.file)
        path = write_bank(name, bank, args.out)
    except (ImportFormatError, SkeletonFormatError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    splits = ", ".join(k for k in bank.extras if k.startswith("split_")) or "none"
    print(f"wrote {path}: {len(bank)} clips, {int((bank.class_counts() > 0).sum())}/{bank.num_classes} classes, "
          f"recorded splits: {splits}")
    return 0
