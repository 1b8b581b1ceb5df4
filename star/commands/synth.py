"""``star synth``: write the synthetic demo clips (``star.skeleton.synth``) as NTU ``.skeleton`` files."""

from __future__ import annotations

import argparse

from star.skeleton.synth import ACTIONS, write_samples


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="assets/samples", help="folder for the .skeleton files (default: assets/samples)")
    parser.add_argument("--action", action="append", choices=list(ACTIONS), help="only these actions (repeatable)")


def run(args: argparse.Namespace) -> int:
    for path in write_samples(args.out, args.action):
        print(f"wrote {path} (synthetic)")
    return 0
