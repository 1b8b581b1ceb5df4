"""``star compare A B``: two checkpoints of one benchmark on the same test clips, paired (``star.compare``)."""

from __future__ import annotations

import argparse
import json
import sys

from star.checkpoint import CheckpointError, load_checkpoint
from star.compare import METRICS, CompareError, compare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="checkpoint A (the reference)")
    parser.add_argument("b", help="checkpoint B (differences are B - A)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object (every table included)")


def run(args: argparse.Namespace) -> int:
    try:
        a, b = load_checkpoint(args.a), load_checkpoint(args.b)
        result = compare(a.meta, a.load_bundle(), b.meta, b.load_bundle(), args.bootstrap, args.seed)
    except (CheckpointError, CompareError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    print(f"{result.benchmark}: {result.num_clips} test clips ({result.num_unseen_clips} of unseen classes); "
          f"A = {result.a}, B = {result.b}; each at its own validation gamma")
    print(f"{'metric':<8} {'A':>7} {'B':>7} {'B - A':>7}   95 % CI (paired bootstrap, {args.bootstrap} replicates)")
    for k in METRICS:
        d = result.difference[k]
        print(f"{k:<8} {result.metrics['a'][k] * 100:7.2f} {result.metrics['b'][k] * 100:7.2f} "
              f"{d['b_minus_a'] * 100:+7.2f}   [{d['ci_low'] * 100:+.2f}, {d['ci_high'] * 100:+.2f}]")
    m = result.mcnemar
    print(f"McNemar (ZSL decisions): A alone right on {m['a_only']}, B alone on {m['b_only']}; exact p = "
          f"{m['p_value']:.4g}")
    print(f"{len(result.disagreements)} decisions differ (--json lists them and the per-class table)")
    return 0
