"""``star extract``: cache frozen-backbone features so the STAR head trains fast.

The backbone runs in eval mode with gradients off (its BatchNorm statistics stay frozen; the authors' code
leaves it in train mode). Test clips and clean training clips go through the one deterministic
preprocessing (``to_model_input``); ``features.augmented_copies`` extra copies of each seen training clip
are augmented with a seeded generator. Output under ``<run_dir>/features/``: for each split ``train`` and
``test``, ``<split>_x.npy`` (rows, 256, T/4, 25), ``<split>_y.npy`` labels, ``<split>_clip.npy`` clip index,
``<split>_copy.npy`` (0 = clean), ``<split>_source.npy`` sample ids.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from star.config import add_config_arguments, load_benchmark_splits, resolve_config, run_dir
from star.models import ShiftGCN, freeze
from star.skeleton.transforms import augment, to_model_input
from star.train_backbone import BACKBONE_FILE, load_backbone_weights

FEATURE_DIR = "features"


def load_backbone(path: str | Path, num_classes: int, num_person: int = 2, device: str = "cpu") -> ShiftGCN:
    model = ShiftGCN(num_classes=num_classes, num_person=num_person)
    model.load_state_dict(load_backbone_weights(path))
    freeze(model)
    return model.to(device)


@torch.no_grad()
def backbone_features(model: ShiftGCN, inputs: np.ndarray, device: str = "cpu") -> np.ndarray:
    """(N, 3, T, 25, 2) model inputs -> (N, 256, T/4, 25) float32 features.

    A backbone built for one body (``num_person: 1``, used for single-person data such as pool42, at half
    the cost) reads the first body, which the readers order by amount of motion.
    """
    x = torch.as_tensor(np.asarray(inputs, dtype=np.float32)[..., :model.num_person], device=device)
    return model.features(x).float().cpu().numpy()


def _write_split(out: Path, split: str, model, items, cfg, batch_size: int = 32) -> int:
    """items: list of (frames, label, clip_index, copy, source). Writes the split's arrays atomically."""
    if not items:
        raise ValueError(f"no clips for split '{split}'")
    rng = np.random.default_rng(cfg["seed"] + 12345)
    first = backbone_features(model, to_model_input(items[0][0], cfg["num_frames"])[None], cfg["device"])
    dtype = np.dtype(cfg["features"]["dtype"])
    tmp_x = out / f"{split}_x.tmp.npy"
    xs = np.lib.format.open_memmap(tmp_x, mode="w+", dtype=dtype, shape=(len(items),) + first.shape[1:])
    for start in tqdm(range(0, len(items), batch_size), desc=f"extract {split}", leave=False):
        chunk = items[start:start + batch_size]
        inputs = np.stack([augment(f, rng, cfg["num_frames"]) if copy else to_model_input(f, cfg["num_frames"])
                           for f, _, _, copy, _ in chunk])
        xs[start:start + len(chunk)] = backbone_features(model, inputs, cfg["device"]).astype(dtype)
    xs.flush()
    del xs
    tmp_x.replace(out / f"{split}_x.npy")
    np.save(out / f"{split}_y.npy", np.array([it[1] for it in items], dtype=np.int64))
    np.save(out / f"{split}_clip.npy", np.array([it[2] for it in items], dtype=np.int64))
    np.save(out / f"{split}_copy.npy", np.array([it[3] for it in items], dtype=np.int64))
    np.save(out / f"{split}_source.npy", np.array([it[4] for it in items], dtype=str))
    return len(items)


def extract(cfg: dict) -> Path:
    start = time.perf_counter()
    rd = run_dir(cfg)
    bench, splits = load_benchmark_splits(cfg)
    model = load_backbone(rd / BACKBONE_FILE, len(bench.seen_classes), cfg["backbone"]["num_person"], cfg["device"])
    out = rd / FEATURE_DIR
    out.mkdir(parents=True, exist_ok=True)
    seen = set(bench.seen_classes)
    train_items = []
    copies = int(cfg["features"]["augmented_copies"])
    train = splits["train"]
    for i in range(len(train)):
        clip = train.clip(i)
        if clip.label in seen:  # unseen-class training clips are never touched
            for copy in range(copies + 1):
                train_items.append((clip.frames, clip.label, i, copy, clip.source))
    test = splits["test"]
    test_items = [(c.frames, c.label, i, 0, c.source) for i, c in ((i, test.clip(i)) for i in range(len(test)))]
    counts = {"train": _write_split(out, "train", model, train_items, cfg),
              "test": _write_split(out, "test", model, test_items, cfg)}
    (out / "info.json").write_text(json.dumps({"benchmark": cfg["benchmark"], "rows": counts,
                                               "augmented_copies": copies, "seed": cfg["seed"],
                                               "wall_time_s": round(time.perf_counter() - start, 1)}, indent=2))
    return out


def load_features(rd: str | Path, split: str, mmap: bool = True) -> dict[str, np.ndarray]:
    d = Path(rd) / FEATURE_DIR
    if not (d / f"{split}_x.npy").exists():
        raise FileNotFoundError(f"{d}: no cached features for '{split}'; run `star extract` first")
    mode = "r" if mmap else None
    return {
        "x": np.load(d / f"{split}_x.npy", mmap_mode=mode, allow_pickle=False),
        "y": np.load(d / f"{split}_y.npy", allow_pickle=False),
        "clip": np.load(d / f"{split}_clip.npy", allow_pickle=False),
        "copy": np.load(d / f"{split}_copy.npy", allow_pickle=False),
        "source": np.load(d / f"{split}_source.npy", allow_pickle=False),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cfg = resolve_config(args)
    out = extract(cfg)
    print(f"features: {out}")
    return 0
