"""Train the 2-D -> 3-D lifter shipped in ``assets/lifter/`` (``star.video.lifter``, ``star.training.lifter``).

    python bench/train_lifter.py [--steps 3000] [--out assets/lifter] [--data-dir ../shared/data]

Data: the training-protocol clips of ``pool69-all`` (NW-UCLA views 1-2, MSR Action3D and UTD-MHAD odd
subjects, GTU3D's training third), each seen through fresh random virtual cameras at every step. After
training, the test-protocol clips (held-out subjects, NW-UCLA's third view) are lifted from two fixed random
views each and the root-aligned MPJPE is recorded beside the training curve in ``lifter.json``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.data.benchmarks import get_benchmark  # noqa: E402
from star.training.lifter import TrainSettings, ViewSettings, clip_tracks, evaluate_views, train_lifter  # noqa: E402
from star.training.runlog import cpu_model  # noqa: E402
from star.video.lifter import LifterSpec, default_lifter_dir  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=TrainSettings.steps)
    ap.add_argument("--batch", type=int, default=TrainSettings.batch)
    ap.add_argument("--channels", type=int, default=LifterSpec.channels)
    ap.add_argument("--dropout", type=float, default=LifterSpec.dropout)
    ap.add_argument("--arm-rotation", type=float, default=ViewSettings.arm_rotation_rate,
                    help="share of training windows with one arm turned about its shoulder (star.training.lifter.turn_arms)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(default_lifter_dir()))
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    splits = get_benchmark("pool69-all").load_splits(args.data_dir)
    train = clip_tracks(splits["train"].frames, splits["train"].offsets)
    test = clip_tracks(splits["test"].frames, splits["test"].offsets)
    print(f"{len(train)} training clips ({sum(map(len, train))} frames), {len(test)} test clips", flush=True)
    settings = TrainSettings(steps=args.steps, batch=args.batch, seed=args.seed)
    machine = {"cpu": cpu_model(), "threads": args.threads, "python": platform.python_version(),
               "torch": torch.__version__, "device": "cpu"}
    record = {"data": "pool69-all training-protocol clips", "machine": machine,
              "date": time.strftime("%Y-%m-%d"), "command": "python bench/train_lifter.py " + " ".join(argv or sys.argv[1:])}
    views = ViewSettings(arm_rotation_rate=args.arm_rotation)
    lifter = train_lifter(train, settings, views, spec=LifterSpec(channels=args.channels, dropout=args.dropout),
                          record=record)
    t0 = time.perf_counter()
    lifter.record["test"] = {"data": "pool69-all test-protocol clips, 2 random views each (seed 1234)",
                             **evaluate_views(lifter, test)}
    print(f"test: {lifter.record['test']} ({time.perf_counter() - t0:.0f} s)", flush=True)
    lifter.save(args.out)
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
