"""``star occlude``: which body parts each class depends on, on a checkpoint's test clips (``star.occlusion``)."""

from __future__ import annotations

import argparse
import json
import sys

from tqdm import tqdm

from star.checkpoint import CheckpointError
from star.inference import Predictor
from star.occlusion import test_clip_dependence
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory")
    parser.add_argument("--data-dir", default=None, help="folder with the benchmark's clip banks")
    parser.add_argument("--clips-per-class", type=int, default=None, help="only the first N test clips per class")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        predictor = Predictor.load(args.checkpoint)
        with tqdm(total=0, desc="occluding", file=sys.stderr, leave=False) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = test_clip_dependence(predictor, args.data_dir, args.clips_per_class, progress)
    except (CheckpointError, SkeletonFormatError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"mean drop of the true class's probability (points) when each part is occluded; rule: {result['rule']}")
    print(f"{'class':<34}{'clips':>6}" + "".join(f"{p:>9}" for p in result["parts"]))
    for name, drops in result["classes"].items():
        print(f"{name[:33]:<34}{result['clips'][name]:>6}" + "".join(f"{drops[p] * 100:9.2f}" for p in result["parts"]))
    return 0
