"""``star train``: train a head (STAR, the baseline or an ablation) on cached features (``star.training.head``)."""

from __future__ import annotations

import argparse

from star.config import add_config_arguments, resolve_config
from star.training.head import train_head


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    train_head(resolve_config(args))
    return 0
