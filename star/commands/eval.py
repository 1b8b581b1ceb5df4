"""``star eval``: a checkpoint's ZSL accuracy, GZSL S/U/H, best H on test and AUSUC (``star.evaluation``)."""

from __future__ import annotations

import argparse
import json
import sys

from star.evaluation import evaluate_checkpoint, evaluate_checkpoints, fused_metrics


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, nargs="+",
                        help="checkpoint directory (checkpoints/<name>); several are evaluated in turn, and "
                             "those sharing a frozen backbone and test set run it over the clips once")
    parser.add_argument("--data-dir", default=None, help="folder with the benchmark's clip banks")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--from-bundle", action="store_true", help="use the bundle's stored test scores")
    parser.add_argument("--fuse", nargs="+", default=[], metavar="CHECKPOINT",
                        help="score fusion: average the class scores (and the validation gammas) with these "
                             "checkpoints of the same split, e.g. a bone-stream model; reads the evaluation bundles")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    paths = args.checkpoint
    try:
        if args.fuse:
            if len(paths) > 1:
                print("error: --fuse takes one --checkpoint (list the others after --fuse)", file=sys.stderr)
                return 2
            results = [fused_metrics([paths[0], *args.fuse])]
        elif args.from_bundle:
            results = [evaluate_checkpoint(p, from_bundle=True) for p in paths]
        else:
            results = evaluate_checkpoints(paths, args.data_dir, args.device)
    except (ValueError, FileNotFoundError) as exc:  # CheckpointError, SkeletonFormatError and bad data are ValueErrors
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, m in zip(paths, results):
        if args.json:  # one object per checkpoint, one per line
            print(json.dumps(m if len(paths) == 1 else {"checkpoint": str(path), **m}))
        else:
            if len(paths) > 1:
                print(f"== {path}")
            report(m)
    return 0


def report(m: dict) -> None:
    if m["zsl_acc"] is None:  # every class seen (an open-vocabulary model): no zero-shot numbers
        print(f"top-1 on test clips  {m['S'] * 100:6.2f}   (every class seen in training: no zero-shot numbers)")
        return
    print(f"ZSL top-1            {m['zsl_acc'] * 100:6.2f}")
    print(f"GZSL S / U / H       {m['S'] * 100:6.2f} / {m['U'] * 100:6.2f} / {m['H'] * 100:6.2f}"
          f"   (gamma {m['gamma']:.4f}, chosen on validation)")
    print(f"best H on test       {m['H_best_test'] * 100:6.2f}   (gamma {m['gamma_best_test']:.4f};"
          f" the paper's protocol: gamma picked on the test set, optimistic)")
    print(f"AUSUC                {m['ausuc'] * 100:6.2f}")
