"""Run configuration: typed dataclasses, read from YAML files in ``configs/`` and command-line flags.

A run has four sections: ``backbone`` (Shift-GCN training), ``features`` (cached backbone features),
``head`` (head training; its ``arch`` is the model's own :class:`~star.models.star.StarConfig`, stored
in the checkpoint as ``head_config``) and ``validation`` (model selection). The top-level ``preprocess``
is the canonical-skeleton spec (``star.skeleton.canonical``) every stage applies before centring; it is
recorded in the backbone state, the features' info and the checkpoint sidecar (absent = ``legacy``). The field defaults below are
the only defaults. ``add_config_arguments`` turns every field into a flag spelled with hyphens
(``--head.lr 0.01``, ``--backbone.warmup-epochs 1``, ``--head.arch.d-model 768``, ``--data-dir D``);
``resolve_config`` merges defaults <- YAML file <- flags, and an unknown key is a :class:`ConfigError`
naming the key and the known ones. ``migrate_config`` reads the older layouts (flat ``head`` sections in
YAML files and in checkpoint sidecars) into this one.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from star.models.star import StarConfig
from star.skeleton.canonical import Canonical

SCHEDULES = ("step", "cosine")
COPY_SAMPLING = ("all", "one")
VALIDATION_PROTOCOLS = ("clips", "protocol")
SELECT_BY = ("H", "zsl", "ausuc")
VALIDATION_BACKBONES = ("shared", "pseudo-seen")
PRECISIONS = ("fp32", "bf16")
STREAMS = ("joint", "bone", "motion")  # star.models.shiftgcn.STREAMS (the config stays import-light)


def _one_of(where: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{where} must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class BackboneConfig:
    """``star train-backbone``: Shift-GCN trained on the seen classes' training clips."""

    epochs: int = 30  # training epochs
    batch_size: int = 32  # clips per optimiser step (all processes together)
    lr: float = 0.1  # learning rate after warm-up, before the first milestone
    momentum: float = 0.9  # SGD Nesterov momentum
    weight_decay: float = 1e-4  # SGD weight decay
    milestones: list[int] = field(default_factory=lambda: [20, 26])  # epochs at which the lr is multiplied by 0.1
    warmup_epochs: int = 2  # epochs of linear lr warm-up
    num_person: int = 2  # bodies the backbone reads (1 halves the cost on single-person data such as pool42)
    precision: str = "fp32"  # fp32 | bf16: autocast of the training forward pass (star.training.loop.autocast); weights, optimiser and loss stay fp32
    stream: str = "joint"  # joint | bone | motion: what the backbone reads (star.models.shiftgcn.to_stream)

    def __post_init__(self) -> None:
        _one_of("backbone.precision", self.precision, PRECISIONS)
        _one_of("backbone.stream", self.stream, STREAMS)


@dataclass
class FeaturesConfig:
    """``star extract``: frozen-backbone features cached under ``<run_dir>/features``."""

    augmented_copies: int = 2  # extra randomly augmented copies of each seen training clip
    dtype: str = "float32"  # float32 keeps cached-feature results identical to recomputing from clips


@dataclass
class HeadConfig:
    """``star train``: the head, its losses and its optimiser."""

    model: str = "star"  # which head (star.models.heads.HEADS): star | baseline
    arch: StarConfig = field(default_factory=StarConfig)  # the head's sizes and switches (sidecar: head_config)
    use_mpce: bool = True  # loss switch: multi-part cross-entropy (needs parts)
    use_sce: bool = True  # loss switch: semantic (text-only) cross-entropy (needs parts)
    use_gce: bool = True  # loss switch: global cross-entropy
    alpha: float = 0.1  # weight of L_SCE in the total loss
    beta: float = 0.1  # weight of L_GCE in the total loss
    tau: float = 0.1  # temperature of the cosine logits
    sce_classes: str = "all"  # all | seen: which class names L_SCE contrasts against (text only)
    epochs: int = 40  # epochs of the validation run (the final run trains the chosen number)
    batch_size: int = 64  # clips per optimiser step (all processes together)
    lr: float = 0.01  # learning rate before the first milestone
    momentum: float = 0.9  # SGD Nesterov momentum
    weight_decay: float = 5e-4  # SGD weight decay
    milestones: list[int] = field(default_factory=lambda: [25, 35])  # epochs at which the lr is multiplied by 0.1
    milestone_fractions: list[float] | None = None  # if set: milestones = floor(f * the run's own epochs), so a final run of the chosen length gets its drops too
    schedule: str = "step"  # step (milestones, x0.1 each) | cosine (base * (1 + cos(pi * epoch / epochs)) / 2)
    learn_tau: bool = False  # learn log(tau) (starts at tau, no weight decay); the final value is in the sidecar
    tau_grid: list[float] = field(default_factory=list)  # non-empty: one validation run per tau, (tau, epoch) chosen on validation
    part_weight: float = 0.0  # class score = cos(global, name) + part_weight * mean over parts of cos(part, description) (star.zsl.fused_scores); 0 = the paper's score
    part_weight_grid: list[float] = field(default_factory=list)  # non-empty: part_weight chosen on validation with the epoch (no extra training: every weight is scored after every epoch)
    copy_sampling: str = "all"  # all: every cached row each epoch | one: one of each clip's copies (clean or augmented), redrawn every epoch
    precision: str = "fp32"  # fp32 | bf16: autocast of the training forward pass (about 2x faster on CPUs with native bf16); weights, optimiser, losses and evaluation stay fp32
    text_encoder: str = "minilm"  # minilm | openclip:<arch>:<pretrained> | st:<folder> (star.text.encoders)
    descriptions: str | None = None  # description set or file; None = the benchmark's own set

    def __post_init__(self) -> None:
        _one_of("head.schedule", self.schedule, SCHEDULES)
        _one_of("head.copy_sampling", self.copy_sampling, COPY_SAMPLING)
        _one_of("head.precision", self.precision, PRECISIONS)
        if any(t <= 0 for t in [self.tau, *self.tau_grid]):
            raise ValueError("head.tau and head.tau_grid must be positive")
        if any(not (w >= 0 and math.isfinite(w)) for w in [self.part_weight, *self.part_weight_grid]):
            raise ValueError("head.part_weight and head.part_weight_grid must be finite and >= 0")
        if self.milestone_fractions is not None and any(not 0.0 < f < 1.0 for f in self.milestone_fractions):
            raise ValueError(f"head.milestone_fractions must lie in (0, 1), got {self.milestone_fractions}")

    def arch_for(self, num_classes: int, text_dim: int) -> StarConfig:
        """``arch`` with the benchmark's class count and the encoder's width filled in."""
        return dataclasses.replace(self.arch, num_classes=num_classes, text_dim=text_dim)


@dataclass
class ValidationConfig:
    """Model selection on a pseudo-unseen fold of the seen classes (never on test clips)."""

    val_fraction: float = 0.2  # clips: share of each pseudo-seen class's clips held out; protocol: share of a source's training views / subjects held out (>= 1, never all)
    pseudo_unseen_fraction: float = 0.25  # share of the seen classes held out as pseudo-unseen (protocol: per source)
    select_by: str = "H"  # H | zsl | ausuc: what picks the epoch (and tau) on the validation fold; gamma is always the best-H one
    protocol: str = "clips"  # clips: held-out clips of the training views/subjects | protocol: each source's own cross-view / cross-subject rule inside its training data (Benchmark.pseudo_unseen_fold)
    backbone: str = "shared"  # shared: the run's backbone | pseudo-seen: a second backbone trained on the fold's training clips only (<run_dir>/validation/; doubles backbone + extraction cost)
    smooth_epochs: int = 1  # the epoch is chosen on the select_by curve averaged over this many neighbouring epochs (odd; 1 = the raw curve), so one lucky epoch does not win
    folds: int = 1  # pseudo-unseen folds, each drawn with its own seed (fold j: seed + 1000 j; fold 0 is the one-fold run's); epoch and tau are chosen on the curve averaged over folds, gamma is the folds' mean; costs one validation run per fold

    def __post_init__(self) -> None:
        if self.smooth_epochs < 1 or self.smooth_epochs % 2 == 0:
            raise ValueError(f"validation.smooth_epochs must be an odd number >= 1, got {self.smooth_epochs}")
        if self.folds < 1:
            raise ValueError(f"validation.folds must be >= 1, got {self.folds}")
        if self.folds > 1 and self.backbone == "pseudo-seen":
            raise ValueError("validation.folds > 1 needs validation.backbone: shared (the pseudo-seen backbone is "
                             "trained for one fold's classes)")
        _one_of("validation.select_by", self.select_by, SELECT_BY)
        _one_of("validation.protocol", self.protocol, VALIDATION_PROTOCOLS)
        _one_of("validation.backbone", self.backbone, VALIDATION_BACKBONES)


@dataclass
class RunConfig:
    """One training run, from backbone to checkpoint (``configs/*.yaml``)."""

    benchmark: str = "pool42-32/10"  # benchmark name (star.data.list_benchmarks)
    data_dir: str | None = None  # folder of clip banks; None = star.paths.data_dir()
    run_dir: str = "runs/default"  # where backbone weights, cached features and logs go
    seed: int = 0  # seeds the weights, the batch order, augmentation and the validation fold
    device: str = "cpu"  # torch device: cpu | cuda | cuda:1 ...
    num_frames: int = 64  # frames per clip fed to the backbone
    preprocess: str = "legacy"  # canonical-skeleton spec (Canonical.parse): legacy | e.g. view,joints,scale,smooth=1.0; applied first by to_model_input / augment in every stage
    max_clips_per_class: int | None = None  # keep at most this many clips per class and split (quick runs)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)  # see BackboneConfig
    features: FeaturesConfig = field(default_factory=FeaturesConfig)  # see FeaturesConfig
    head: HeadConfig = field(default_factory=HeadConfig)  # see HeadConfig
    validation: ValidationConfig = field(default_factory=ValidationConfig)  # see ValidationConfig
    out: str = "checkpoints/star-pool42-32-10"  # checkpoint directory written by `star train`

    def __post_init__(self) -> None:
        Canonical.parse(self.preprocess)  # a bad spec is a ConfigError now, not at extraction time

    @property
    def canonical(self) -> Canonical:
        """The ``preprocess`` spec as a ``Canonical`` (``LEGACY`` for ``legacy``)."""
        return Canonical.parse(self.preprocess)

    def to_dict(self) -> dict:
        """Plain nested dict (what a checkpoint sidecar stores as ``config``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, where: str = "config") -> "RunConfig":
        """A typed config from a (possibly old-layout) dict, e.g. a sidecar's ``config``."""
        merged = config_defaults()
        _merge(merged, migrate_config(data), where)
        return _build(cls, merged, where)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir)


class ConfigError(ValueError):
    """A configuration file or flag is invalid."""


# ---------------------------------------------------------------------------------------- dict <-> dataclass
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def config_defaults(cls=RunConfig) -> dict:
    """The defaults of ``cls`` as a nested dict, read from the field declarations (no instance is built,
    so derived values such as ``ffn_hidden = d_model`` are resolved only after merging)."""
    out = {}
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out[f.name] = config_defaults(hints[f.name])
        else:
            out[f.name] = copy.deepcopy(f.default) if f.default is not dataclasses.MISSING else f.default_factory()
    return out


def _check(value: Any, hint: Any, where: str) -> Any:
    """``value`` as type ``hint`` (int, float, bool, str, list[int], X | None), else ConfigError."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, found {value!r}")
        return [_check(v, typing.get_args(hint)[0], where) for v in value]
    if hint is float and isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return float(value)  # YAML reads 1e-3 (no dot) as a string
        except ValueError:
            pass
    if hint is bool and not isinstance(value, bool) or hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: expected {hint.__name__}, found {value!r}")
    if not isinstance(value, hint):
        raise ConfigError(f"{where}: expected {hint.__name__}, found {value!r}")
    return value


def _build(cls, data: dict, where: str):
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            kwargs[f.name] = _build(hint, data[f.name], f"{where}.{f.name}")
        else:
            kwargs[f.name] = _check(data[f.name], hint, f"{where}.{f.name}")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


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


def _leaves(d: dict, prefix: str = ""):
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, name + ".")
        else:
            yield name, value


# ---------------------------------------------------------------------------------------- older layouts
ARCH_FIELDS = tuple(f.name for f in dataclasses.fields(StarConfig))
DROPPED_KEYS = ("backbone.workers",)  # keys of older configs that never did anything


def migrate_config(data: dict) -> dict:
    """An older config dict in today's layout (a new dict; ``data`` is not changed).

    Before the typed config, the head's architecture fields (``d_model``, ``ffn_hidden``, ``dropout``, ...)
    sat directly in ``head``; they now live in ``head.arch``. Values are moved as they are: a sidecar
    recorded every field, so an old checkpoint keeps exactly the architecture it was trained with (e.g.
    ``dropout: 0.1``, ``ffn_hidden: 256`` for the shipped pool42 checkpoints). ``backbone.workers`` is dropped.
    """
    out = copy.deepcopy(data)
    for dotted in DROPPED_KEYS:
        section, key = dotted.split(".")
        if isinstance(out.get(section), dict):
            out[section].pop(key, None)
    head = out.get("head")
    if isinstance(head, dict):
        moved = {k: head.pop(k) for k in list(head) if k in ARCH_FIELDS}
        if moved:
            arch = head.setdefault("arch", {})
            if not isinstance(arch, dict):
                raise ConfigError("head.arch must be a mapping")
            for k, v in moved.items():
                arch.setdefault(k, v)
    return out


def migrate_key(dotted: str) -> str:
    """A dotted option name in today's layout: ``head.d_model`` -> ``head.arch.d_model``;
    hyphens read as underscores (``head.use-sce`` -> ``head.use_sce``)."""
    dotted = dotted.replace("-", "_")
    parts = dotted.split(".")
    if len(parts) == 2 and parts[0] == "head" and parts[1] in ARCH_FIELDS:
        return f"head.arch.{parts[1]}"
    return dotted


# ---------------------------------------------------------------------------------------- YAML and flags
def flag_name(dotted: str) -> str:
    """The command-line flag of a config key: ``head.arch.d_model`` -> ``--head.arch.d-model``."""
    return "--" + dotted.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", help="YAML configuration file (configs/*.yaml)")
    group = parser.add_argument_group("configuration overrides (any key of the YAML file, '_' spelled '-')")
    for name, default in _leaves(config_defaults()):
        group.add_argument(flag_name(name), dest=f"cfg:{name}", default=None, metavar="V",
                           help=f"default: {json.dumps(default)}")
        if "_" in name:  # deprecated underscore spelling (--data_dir), accepted but not listed
            group.add_argument(f"--{name}", dest=f"cfg:{name}", default=None, help=argparse.SUPPRESS)


def _parse_value(text: str) -> Any:
    """Flag values are YAML scalars/lists: ``0.01``, ``true``, ``[10, 20]``, ``null``."""
    return yaml.safe_load(text)


def load_config_file(path: str | Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    return data


def _set(cfg: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = cfg
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value


def resolve_config(args: argparse.Namespace | None = None, path: str | Path | None = None,
                   overrides: dict[str, Any] | None = None) -> RunConfig:
    """defaults <- YAML file (``path`` or ``args.config``) <- flags / ``overrides`` (dotted keys)."""
    cfg = config_defaults()
    path = path or (getattr(args, "config", None) if args is not None else None)
    if path:
        _merge(cfg, migrate_config(load_config_file(path)), str(path))
    flat = {migrate_key(k): v for k, v in (overrides or {}).items()}
    if args is not None:
        for key, value in vars(args).items():
            if key.startswith("cfg:") and value is not None:
                flat[key[4:]] = _parse_value(value)
    known = dict(_leaves(cfg))
    for key, value in flat.items():
        if key not in known:
            raise ConfigError(f"unknown option '{key}' (known: {', '.join(sorted(known))})")
        _set(cfg, key, value)
    return _build(RunConfig, cfg, str(path) if path else "config")


def load_benchmark_splits(cfg: RunConfig):
    """(benchmark, {'train', 'test'} clip banks) for a run, honouring ``max_clips_per_class``."""
    import numpy as np

    from star.data import get_benchmark

    bench = get_benchmark(cfg.benchmark)
    splits = bench.load_splits(cfg.data_dir)
    limit = cfg.max_clips_per_class
    if limit:
        for key, bank in splits.items():
            keep = np.concatenate([np.flatnonzero(bank.label == c)[:limit] for c in np.unique(bank.label)])
            splits[key] = bank.subset(np.sort(keep))
    return bench, splits
