"""``star train-backbone``: train the Shift-GCN backbone on the seen classes (``star.training.backbone``)."""

from __future__ import annotations

import argparse

from star.config import add_config_arguments, resolve_config
from star.training import distributed
from star.training.backbone import train_backbone


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    path = train_backbone(resolve_config(args))
    if distributed.is_main():
        print(f"backbone weights: {path}")
    return 0
