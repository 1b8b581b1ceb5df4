"""``star extract``: cache frozen-backbone features for fast head training (``star.features``)."""

from __future__ import annotations

import argparse

from star.config import add_config_arguments, resolve_config
from star.features import extract_features


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    print(f"features: {extract_features(resolve_config(args))}")
    return 0
