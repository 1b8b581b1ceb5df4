"""Run configuration: YAML files in ``configs/``, every option also a command-line flag.

A configuration is a nested dict with the sections below. ``add_config_arguments`` turns every leaf
into a flag (``--head.lr 0.01``, ``--backbone.epochs 5``); ``resolve_config`` merges defaults <- YAML
file <- flags, and checks that no unknown key sneaks in.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "benchmark": "pool42-32/10",
    "data_dir": None,  # default: $STAR_DATA_DIR, else ../shared/data next to the repo
    "run_dir": "runs/default",  # where backbone weights, cached features and logs go
    "seed": 0,
    "device": "cpu",
    "num_frames": 64,
    "max_clips_per_class": None,  # keep at most this many clips per class in each split (quick runs, tests)
    "backbone": {
        "epochs": 30,
        "batch_size": 32,
        "lr": 0.1,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "milestones": [20, 26],
        "warmup_epochs": 2,
        "num_person": 2,
        "workers": 0,
    },
    "features": {
        "augmented_copies": 2,  # extra randomly augmented copies of each seen training clip
        "dtype": "float32",  # float32 keeps cached-feature results identical to recomputing from clips
    },
    "head": {
        "model": "star",  # star | baseline
        "num_parts": 6,
        "d_model": 128,
        "num_prompts": 100,
        "num_heads": 4,
        "ffn_hidden": 256,
        "text_hidden": 256,
        "dropout": 0.1,
        "use_attention": True,
        "use_visual_prompts": True,
        "use_semantic_prompts": True,
        "use_mpce": True,
        "use_sce": True,
        "use_gce": True,
        "alpha": 0.1,
        "beta": 0.1,
        "tau": 0.1,
        "sce_classes": "all",  # all | seen: which class names L_SCE contrasts against (text only)
        "epochs": 40,
        "batch_size": 64,
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 5e-4,
        "milestones": [25, 35],
        "text_encoder": "minilm",
        "descriptions": None,  # default: the benchmark's description set in assets/descriptions
    },
    "validation": {
        "val_fraction": 0.2,
        "pseudo_unseen_fraction": 0.25,
        "select_by": "H",  # H | zsl: what picks the epoch on the validation protocol
    },
    "out": "checkpoints/star-pool42-32-10",
}


class ConfigError(ValueError):
    """A configuration file or flag is invalid."""


def _leaves(d: dict, prefix: str = ""):
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, name + ".")
        else:
            yield name, value


def _parse_value(text: str) -> Any:
    """Flag values are YAML scalars/lists: ``0.01``, ``true``, ``[10, 20]``, ``null``."""
    return yaml.safe_load(text)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", help="YAML configuration file (configs/*.yaml)")
    group = parser.add_argument_group("configuration overrides (any key of the YAML file)")
    for name, default in _leaves(DEFAULTS):
        group.add_argument(f"--{name}", dest=f"cfg:{name}", default=None, metavar="V",
                           help=f"default: {json.dumps(default)}")


def _set(cfg: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value


def _merge(base: dict, update: dict, where: str) -> None:
    for key, value in update.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key '{key}' (known: {', '.join(sorted(base))})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{key}' must be a mapping")
            _merge(base[key], value, f"{where}.{key}")
        else:
            base[key] = value


def load_config_file(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    return data


def resolve_config(args: argparse.Namespace | None = None, path: str | Path | None = None,
                   overrides: dict[str, Any] | None = None) -> dict:
    """defaults <- YAML file (``path`` or ``args.config``) <- flags / ``overrides`` (dotted keys)."""
    cfg = copy.deepcopy(DEFAULTS)
    path = path or (getattr(args, "config", None) if args is not None else None)
    if path:
        _merge(cfg, load_config_file(path), str(path))
    flat = dict(overrides or {})
    if args is not None:
        for key, value in vars(args).items():
            if key.startswith("cfg:") and value is not None:
                flat[key[4:]] = _parse_value(value)
    known = dict(_leaves(DEFAULTS))
    for key, value in flat.items():
        if key not in known:
            raise ConfigError(f"unknown option '{key}'")
        _set(cfg, key, value)
    return cfg


def run_dir(cfg: dict) -> Path:
    return Path(cfg["run_dir"])


def load_benchmark_splits(cfg: dict):
    """(benchmark, {'train', 'test'} clip banks) for a run, honouring ``max_clips_per_class``."""
    import numpy as np

    from star.data import get_benchmark

    bench = get_benchmark(cfg["benchmark"])
    splits = bench.load_splits(cfg["data_dir"])
    limit = cfg.get("max_clips_per_class")
    if limit:
        for key, bank in splits.items():
            keep = np.concatenate([np.flatnonzero(bank.label == c)[:limit] for c in np.unique(bank.label)])
            splits[key] = bank.subset(np.sort(keep))
    return bench, splits
