"""A run directory's files, and the cached frozen-backbone features (the work of ``star extract``).

Layout of ``<run_dir>/``::

    backbone.safetensors        Shift-GCN weights (``model.*``) + optimiser momentum (``momentum.*``)
    backbone_state.json         benchmark, seen classes, bodies, epochs done, wall time (for resuming)
    backbone_log.jsonl          one line per backbone epoch
    features/<split>_x.npy      (rows, 256, T/4, 25) backbone features, split = train | test
    features/<split>_y.npy      labels (full class list)
    features/<split>_clip.npy   clip index in the split's clip bank
    features/<split>_copy.npy   0 = clean, k > 0 = k-th augmented copy
    features/<split>_source.npy sample ids
    features/info.json          rows per split, augmented copies, seed, wall time
    head_<name>_log.jsonl       one line per head epoch (validation and final runs)
    validation/                 only with ``validation.backbone: pseudo-seen``: the same layout (backbone
                                trained on the pseudo-unseen fold's training clips only, features/train_*)
                                for the validation run

Every stage applies the run's canonical-skeleton spec (``cfg.preprocess``) through ``to_model_input`` /
``augment``; the backbone state and ``features/info.json`` record it (``preprocess``, absent = legacy) and a
mismatch between the config, the backbone and the cached features is an error.

The backbone runs in eval mode with gradients off (its BatchNorm statistics stay frozen; the authors' code
leaves it in train mode). Test clips and clean training clips go through the one deterministic
preprocessing (``to_model_input``); ``features.augmented_copies`` extra copies of each seen training clip
are augmented with a seeded generator. Under ``torchrun`` the processes share the batches of the backbone
(each writes its own rows of one file) and draw the same augmentations a single process draws.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from star.config import RunConfig, load_benchmark_splits
from star.models import ShiftGCN, load_backbone
from star.skeleton.canonical import Canonical
from star.skeleton.transforms import augment, canonical_frames, to_model_input
from star.training import distributed

BACKBONE_FILE = "backbone.safetensors"
BACKBONE_STATE_FILE = "backbone_state.json"
FEATURE_DIR = "features"
FEATURE_INFO_FILE = f"{FEATURE_DIR}/info.json"
FEATURE_KEYS = ("x", "y", "clip", "copy", "source")
VALIDATION_DIR = "validation"


FOLD_SEED_STRIDE = 1000  # fold j of a run with seed s is drawn with seed s + 1000 j


def validation_fold(cfg: RunConfig, bench, train_bank, index: int = 0) -> dict:
    """Pseudo-unseen fold ``index`` of the run (``Benchmark.pseudo_unseen_fold`` with the ``validation``
    section, seeded ``seed + FOLD_SEED_STRIDE * index``; fold 0 is the one-fold run's fold)."""
    v = cfg.validation
    return bench.pseudo_unseen_fold(train_bank, seed=cfg.seed + FOLD_SEED_STRIDE * index,
                                    fraction=v.pseudo_unseen_fraction,
                                    val_fraction=v.val_fraction, protocol=v.protocol)


def validation_run_dir(cfg: RunConfig) -> Path:
    """Where the validation run's backbone and features live: the run directory itself (``shared``) or its
    ``validation/`` folder (``pseudo-seen``)."""
    return cfg.run_path / VALIDATION_DIR if cfg.validation.backbone == "pseudo-seen" else cfg.run_path


def recorded_preprocess(path: str | Path) -> Canonical:
    """The canonical spec a backbone state / features info JSON records (absent key or file = LEGACY)."""
    path = Path(path)
    if not path.exists():
        return Canonical.from_dict(None)
    return Canonical.from_dict(json.loads(path.read_text()).get("preprocess"))


def check_preprocess(cfg: RunConfig, path: str | Path, what: str) -> None:
    """ValueError unless ``path`` (a backbone state or features info) records the config's ``preprocess`` and
    backbone stream (absent: ``joint``, as before streams existed)."""
    found = recorded_preprocess(path)
    if Path(path).exists() and found != cfg.canonical:
        raise ValueError(f"{path}: the {what} was made with preprocess '{found.to_spec()}', but the config says "
                         f"'{cfg.canonical.to_spec()}'; rerun that stage or fix preprocess")
    stream = json.loads(Path(path).read_text()).get("stream", "joint") if Path(path).exists() else cfg.backbone.stream
    if stream != cfg.backbone.stream:
        raise ValueError(f"{path}: the {what} was made with the '{stream}' backbone stream, but the config says "
                         f"'{cfg.backbone.stream}'; use another run_dir for each stream or fix backbone.stream")


@torch.no_grad()
def backbone_features(model: ShiftGCN, inputs: np.ndarray, device: str = "cpu", layout: str = "correct") -> np.ndarray:
    """(N, 3, T, 25, 2) model inputs -> (N, 256, T/4, 25) float32 features.

    A backbone built for one body (``num_person: 1``, used for single-person data such as pool42, at half
    the cost) reads the first body, which the readers order by amount of motion.
    """
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32)[..., :model.num_person], device=device)
    return model.features(x, layout).float().cpu().numpy()


def _write_split(out: Path, split: str, model, items, cfg: RunConfig, batch_size: int = 32) -> int:
    """items: list of (frames, label, clip_index, copy, source), frames already through the run's canonical
    spec (``canonical_frames``: deterministic, so applied once per clip, not once per copy). Writes the
    split's arrays atomically."""
    if not items:
        raise ValueError(f"no clips for split '{split}'")
    rng = np.random.default_rng(cfg.seed + 12345)
    canon = None  # already applied
    first = backbone_features(model, to_model_input(items[0][0], cfg.num_frames, canon)[None], cfg.device)
    dtype = np.dtype(cfg.features.dtype)
    tmp_x = out / f"{split}_x.tmp.npy"
    shape = (len(items),) + first.shape[1:]
    # under torchrun each process runs the backbone on every world_size-th batch into one shared file; every
    # process still draws every augmentation, so the copies are the ones a single process draws
    rank, world = distributed.rank(), distributed.world_size()
    if rank == 0:
        np.lib.format.open_memmap(tmp_x, mode="w+", dtype=dtype, shape=shape).flush()
    distributed.barrier()
    xs = np.lib.format.open_memmap(tmp_x, mode="r+")
    for b, start in enumerate(tqdm(range(0, len(items), batch_size), desc=f"extract {split}", leave=False,
                                   disable=not distributed.is_main())):
        chunk = items[start:start + batch_size]
        inputs = np.stack([augment(f, rng, cfg.num_frames, canonical=canon) if copy
                           else to_model_input(f, cfg.num_frames, canon) for f, _, _, copy, _ in chunk])
        if b % world == rank:
            xs[start:start + len(chunk)] = backbone_features(model, inputs, cfg.device).astype(dtype)
    xs.flush()
    del xs
    distributed.barrier()
    if rank:
        return len(items)
    tmp_x.replace(out / f"{split}_x.npy")
    np.save(out / f"{split}_y.npy", np.array([it[1] for it in items], dtype=np.int64))
    np.save(out / f"{split}_clip.npy", np.array([it[2] for it in items], dtype=np.int64))
    np.save(out / f"{split}_copy.npy", np.array([it[3] for it in items], dtype=np.int64))
    np.save(out / f"{split}_source.npy", np.array([it[4] for it in items], dtype=str))
    return len(items)


def extract_features(cfg: RunConfig) -> Path:
    """Run the run directory's frozen backbone over the benchmark's clips; returns the features folder.

    With ``validation.backbone: pseudo-seen`` the validation backbone (``<run_dir>/validation``) also runs
    over the seen training clips (with the same augmented copies), for the validation run."""
    cfg.device = distributed.setup(cfg.device)
    bench, splits = load_benchmark_splits(cfg)
    out = _extract(cfg, cfg.run_path, bench.seen_classes, len(bench.seen_classes), splits, with_test=True)
    if cfg.validation.backbone == "pseudo-seen":
        fold = validation_fold(cfg, bench, splits["train"])
        _extract(cfg, validation_run_dir(cfg), bench.seen_classes, len(fold["seen_classes"]), splits, with_test=False)
    distributed.teardown()
    return out


def _extract(cfg: RunConfig, rd: Path, seen_classes: list[int], num_classes: int, splits: dict,
             with_test: bool) -> Path:
    """Features of the seen training clips (+ copies) and, ``with_test``, of the test clips, through the
    backbone in ``rd`` (``num_classes`` outputs), into ``rd/features``."""
    start = time.perf_counter()
    check_preprocess(cfg, rd / BACKBONE_STATE_FILE, "backbone")
    model = load_backbone(rd / BACKBONE_FILE, num_classes, cfg.backbone.num_person, cfg.device, cfg.backbone.stream)
    out = rd / FEATURE_DIR
    out.mkdir(parents=True, exist_ok=True)
    canon = cfg.canonical
    seen = set(seen_classes)
    train_items = []
    copies = int(cfg.features.augmented_copies)
    train = splits["train"]
    for i in range(len(train)):
        clip = train.clip(i)
        if clip.label in seen:  # unseen-class training clips are never touched
            frames = canonical_frames(clip.frames, canon)
            for copy in range(copies + 1):
                train_items.append((frames, clip.label, i, copy, clip.source))
    counts = {"train": _write_split(out, "train", model, train_items, cfg)}
    if with_test:
        test = splits["test"]
        test_items = [(canonical_frames(c.frames, canon), c.label, i, 0, c.source)
                      for i, c in ((i, test.clip(i)) for i in range(len(test)))]
        counts["test"] = _write_split(out, "test", model, test_items, cfg)
    if not distributed.is_main():
        return out
    (rd / FEATURE_INFO_FILE).write_text(json.dumps({"benchmark": cfg.benchmark, "rows": counts,
                                                    "augmented_copies": copies, "seed": cfg.seed,
                                                    "preprocess": cfg.canonical.to_dict(),
                                                    "stream": cfg.backbone.stream,
                                                    "wall_time_s": round(time.perf_counter() - start, 1)}, indent=2))
    return out


def load_features(rd: str | Path, split: str, mmap: bool = True) -> dict[str, np.ndarray]:
    """The cached features of ``split`` ('train' | 'test'): {x (memory-mapped), y, clip, copy, source}."""
    d = Path(rd) / FEATURE_DIR
    if not (d / f"{split}_x.npy").exists():
        raise FileNotFoundError(f"{d}: no cached features for '{split}'; run `star extract` first")
    mode = "r" if mmap else None
    return {key: np.load(d / f"{split}_{key}.npy", mmap_mode=mode if key == "x" else None, allow_pickle=False)
            for key in FEATURE_KEYS}


def stage_times(rd: str | Path) -> dict:
    """Wall times of the backbone and feature-extraction stages recorded in a run directory."""
    times = {}
    for key, rel in (("backbone", BACKBONE_STATE_FILE), ("extract", FEATURE_INFO_FILE)):
        path = Path(rd) / rel
        if path.exists():
            times[key] = json.loads(path.read_text()).get("wall_time_s")
    return times


def backbone_done(rd: str | Path, epochs: int) -> bool:
    """Whether the run directory's backbone has finished all ``epochs`` (a run cut short leaves its weights after
    every epoch, so the weights file alone does not say the training ended)."""
    state = Path(rd) / BACKBONE_STATE_FILE
    return state.exists() and int(json.loads(state.read_text()).get("epochs_done", 0)) >= epochs


def backbone_num_person(rd: str | Path, default: int) -> int:
    """Bodies the run directory's backbone was trained for (its state file is the truth), else ``default``."""
    state = Path(rd) / BACKBONE_STATE_FILE
    return json.loads(state.read_text())["num_person"] if state.exists() else default
