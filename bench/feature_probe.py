"""Where does zero-shot accuracy get lost on PURLS's splits: in the backbone's features or in the head?

The plain-MLP floor (``bench/mlp_floor.py``: fixed MiniLM class-name embeddings, an MLP trained with cosine
cross-entropy, 30 epochs, nothing chosen on validation for ZSL top-1) is trained here on the features that
``bench/purls.py`` cached for a split (the split's own Shift-GCN backbone, trained on its seen classes:
``runs/<split>/features``; ``--backbone e40``: ``runs/<split>-e40``), pooled over time and joints to 256 values per clip, instead of on the clip's raw
joints. Same MLP, same recipe, same text; only the input differs. If the MLP on backbone features loses what the
MLP on raw joints gets, the backbone's features are where the unseen classes become hard to tell apart, whatever
head sits on them.

Reported per (split, seed): ZSL top-1 over the unseen classes and the top-class share (the share of unseen test
clips given to the unseen class predicted most; 1 / unseen classes if balanced), with the backbone's training
accuracy in its last epoch (its ``backbone_log.jsonl``). Rows of the training cache are
every training clip's clean copy and its augmented copies, as the heads see them.

    .venv/bin/python bench/feature_probe.py --split purls-nwucla-8/2,purls-nwucla-5/5 --seed 0,1,2,3,4 \
        --json-out bench/results/feature_probe.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import torch  # noqa: E402

import mlp_floor  # noqa: E402
from purls import BACKBONES, run_dir  # noqa: E402
from results import _write_atomic  # noqa: E402
from star import zsl  # noqa: E402
from star.data import get_benchmark  # noqa: E402
from star.features import load_features  # noqa: E402


class Pooled:
    """What ``mlp_floor.train_mlp`` reads of its data (features and labels), from a split's feature cache."""

    def __init__(self, rd: Path, split: str):
        rows = load_features(rd, split)  # x memory-mapped: only its pooled (N, C) is kept
        self.feats = np.asarray(rows["x"].mean(axis=(2, 3)), np.float32)  # (N, C, T', V) -> (N, C)
        self.labels = rows["y"]


@functools.lru_cache(maxsize=2)
def pooled(rd: Path) -> tuple[Pooled, Pooled]:
    """A run's (train, test) pooled features, read once for all the seeds probed on them."""
    return Pooled(rd, "train"), Pooled(rd, "test")


def probe(split: str, seed: int, text: np.ndarray, backbone: str | None = None) -> dict:
    bench = get_benchmark(split)
    rd = REPO / run_dir(split, backbone)
    train, test = pooled(rd)
    t0 = time.perf_counter()
    score = mlp_floor.train_mlp(train, np.arange(len(train.labels)), bench.seen_classes, text, seed, aug_copies=0)
    s, y = score(test.feats), test.labels
    unseen = bench.unseen_classes
    pred = zsl.zsl_predict(s, unseen)[np.isin(y, unseen)]
    share = max(float(np.mean(pred == c)) for c in unseen)
    last = json.loads((rd / "backbone_log.jsonl").read_text().splitlines()[-1])  # the backbone's last epoch
    return {"split": split, "seed": seed, "backbone": backbone or "recipe", "input": "backbone features, mean-pooled",
            "backbone_epochs": last["epoch"], "backbone_train_acc": last["train_acc"],
            "zsl_acc": zsl.zsl_accuracy(s, y, unseen),
            "top_class_share": share, "n_train_rows": int(len(train.labels)), "n_test": int(np.isin(y, unseen).sum()),
            "wall_s": round(time.perf_counter() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="purls-nwucla-8/2", help="benchmark(s), comma-separated (their runs must exist)")
    ap.add_argument("--seed", default="0", help="seed(s), comma-separated")
    ap.add_argument("--backbone", default=None, choices=sorted(BACKBONES),
                    help="a backbone variant of bench/purls.py (default: the recipe's)")
    ap.add_argument("--json-out", default=None,
                    help="write the records here (replacing those of the same split, seed and backbone)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    records = []
    for split in a.split.split(","):
        text = mlp_floor.name_embeddings(get_benchmark(split).class_names)
        for seed in (int(s) for s in a.seed.split(",")):
            rec = probe(split, seed, text, a.backbone)
            print(f"{split} ({rec['backbone']} backbone) seed {seed}: ZSL {100 * rec['zsl_acc']:.1f} %, "
                  f"top-class share {rec['top_class_share']:.2f} ({rec['wall_s']} s)", flush=True)
            records.append(rec)
    if a.json_out:
        path = Path(a.json_out)
        old = json.loads(path.read_text())["records"] if path.exists() else []
        key = lambda r: (r["split"], r["seed"], r.get("backbone", "recipe"))  # noqa: E731
        done = {key(r) for r in records}
        keep = [r for r in old if key(r) not in done]
        _write_atomic(path, json.dumps({"records": keep + records}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
