"""``star prepare-ctrgcn``: CTR-GCN / STAR arrays (``NTU60_CS.npz`` ...) -> a clip bank (``star.data.importers``)."""

from __future__ import annotations

import argparse
import sys

from star.data.importers import ImportFormatError, read_ctrgcn, write_bank
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="NTU60_CS.npz, NTU60_CV.npz, NTU120_CSub.npz or NTU120_CSet.npz")
    parser.add_argument("out", help="folder to write ntu60.npz / ntu120.npz into (the benchmarks' data folder)")
    parser.add_argument("--benchmark", default=None,
                        help="a benchmark of the file's protocol, e.g. ntu60-xsub-55/5 (default: from the file name)")
    parser.epilog = ("The file's train / test clips become the bank's recorded split for that protocol; the arrays "
                     "have no sample names, so other protocols cannot be derived. See docs/IMPORT.md.")


def run(args: argparse.Namespace) -> int:
    protocol = args.benchmark.split("-")[1] if args.benchmark and args.benchmark.count("-") >= 2 else None
    try:
        name, bank = read_ctrgcn(args.file, protocol)
        if args.benchmark and not args.benchmark.startswith(name + "-"):
            raise ImportFormatError(f"{args.file}: holds {name} classes, but --benchmark is {args.benchmark}")
        path = write_bank(name, bank, args.out)
    except (ImportFormatError, SkeletonFormatError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key = next(k for k in bank.extras if k.startswith("split_"))
    train = int((bank.extras[key] == 0).sum())
    print(f"wrote {path}: {len(bank)} clips ({train} train, {len(bank) - train} test under {key[6:]}), "
          f"{int((bank.class_counts() > 0).sum())}/{bank.num_classes} classes")
    return 0
