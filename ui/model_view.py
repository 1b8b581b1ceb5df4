"""What the Model, Embedding, Confusion and Calibration pages show, computed without streamlit (unit-testable).

``ModelView`` is a ``star.checkpoint.Checkpoint`` plus its evaluation bundle: every field and property of the
checkpoint (``path``, ``meta``, ``name``, ``class_names``, ``seen``, ``unseen``, ``gamma``, ...) is the
checkpoint's own; the view adds the bundle's arrays. The functions below turn a view into tables, metrics and
plot inputs by calling ``star.zsl`` and ``star.analysis``: no model math lives here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from star import analysis
from star.checkpoint import Checkpoint, load_checkpoint
from star.zsl import ausuc, default_gamma_grid, gamma_sweep, gzsl_metrics, seen_unseen_curve, zsl_accuracy

MAX_TSNE_POINTS = int(os.environ.get("STAR_TSNE_MAX_POINTS", "1500"))  # test clips per skeleton-space t-SNE


@dataclass
class ModelView(Checkpoint):
    """A checkpoint and its bundle: labels (N,), scores (N, C), global_features (N, m), name_proj (C, m), ..."""

    bundle: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    digest: str = ""  # of bundle.npz: keys the on-disk t-SNE cache

    @classmethod
    def load(cls, path: str | Path) -> "ModelView":
        """Load and validate (``load_checkpoint``: raises ``CheckpointError`` saying what is wrong)."""
        ckpt = load_checkpoint(path)
        return cls(ckpt.path, ckpt.meta, ckpt.tensors, ckpt.load_bundle(), analysis.file_digest(ckpt.bundle_path))

    @property
    def is_star(self) -> bool:
        return self.meta.get("model") == "star" and "desc_proj" in self.bundle

    @property
    def scores(self) -> np.ndarray:
        return self.bundle["scores"]

    @property
    def labels(self) -> np.ndarray:
        return self.bundle["labels"]

    def sources(self) -> list[str]:
        if "sources" in self.bundle:
            return [str(s) for s in self.bundle["sources"]]
        return [f"test clip {i}" for i in range(len(self.labels))]

    @property
    def identity(self) -> str:
        """Name and bundle digest: a checkpoint rewritten (or another one with the same name) is another identity."""
        return f"{self.name}::{self.digest}"


# ----------------------------------------------------------------------------------- model page
def model_overview(view: ModelView) -> dict[str, str]:
    """Headline facts for the Model page (label -> text)."""
    m, te = view.meta, view.meta["text_encoder"]
    return {
        "Checkpoint": view.name, "Model": str(m["model"]), "Benchmark": str(m["benchmark"]),
        "Classes": f"{len(view.class_names)} ({len(view.seen)} seen / {len(view.unseen)} unseen)",
        "Parts": f"{m['num_parts']}: {', '.join(m['part_names'])}",
        "Text encoder": f"{te['id']} (dim {te['dim']})", "Gamma": f"{view.gamma:.4f}",
        "Test clips in bundle": str(len(view.labels)), "Code version": str(m.get("code_version", "?")),
        "Seed": str(m.get("seed", "?")), "Device": str(m.get("device", "?")),
    }


def metric_rows(meta: dict[str, Any]) -> list[dict[str, str]]:
    """The sidecar's test metrics as rows {metric, value, note}; accuracies in percent."""
    m = meta.get("metrics", {})
    notes = {"zsl_acc": "ZSL top-1 over unseen classes", "S": "GZSL seen accuracy at the checkpoint's gamma",
             "U": "GZSL unseen accuracy at the checkpoint's gamma", "H": "harmonic mean of S and U",
             "H_best_test": "best H with gamma picked on the test set (optimistic, the paper's protocol)",
             "ausuc": "area under the seen-unseen curve"}
    rows = []
    for key in ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc"):
        if key in m:
            rows.append({"metric": key, "value": f"{float(m[key]) * 100:.2f}", "note": notes[key]})
    for key in ("gamma", "gamma_best_test"):
        if key in m:
            rows.append({"metric": key, "value": f"{float(m[key]):.4f}", "note": "calibration factor"})
    return rows


def class_table(view: ModelView) -> list[dict[str, Any]]:
    """One row per class: index, name, split, test clips in the bundle."""
    counts = np.bincount(view.labels, minlength=len(view.class_names))
    unseen = set(view.unseen)
    return [{"index": i, "class": n, "split": "unseen" if i in unseen else "seen", "test clips": int(counts[i])}
            for i, n in enumerate(view.class_names)]


# ----------------------------------------------------------------------------------- calibration
def gamma_bounds(view: ModelView) -> tuple[float, float]:
    """Slider range: every distinct GZSL decision lies inside it, and it includes 0 and the checkpoint gamma."""
    grid = default_gamma_grid(view.scores, view.seen, view.unseen)
    lo = min(float(grid.min()), view.gamma, 0.0)
    hi = max(float(grid.max()), view.gamma, 0.0)
    return float(np.floor(lo * 100) / 100), float(np.ceil(hi * 100) / 100)


def gzsl_at(view: ModelView, gamma: float) -> dict[str, float]:
    """{'S', 'U', 'H'} fractions at gamma, from the bundle's scores (``star.zsl.gzsl_metrics``)."""
    return gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, gamma)


def su_curve_data(view: ModelView) -> dict[str, Any]:
    """The full seen-unseen curve {'S', 'U', 'gamma'} (G,) and its AUSUC, plus the ZSL accuracy."""
    s, u, g = seen_unseen_curve(view.scores, view.labels, view.seen, view.unseen)
    return {"S": s, "U": u, "gamma": g, "ausuc": ausuc(s, u),
            "zsl_acc": zsl_accuracy(view.scores, view.labels, view.unseen)}


def sweep_at(view: ModelView, gammas: np.ndarray) -> dict[str, np.ndarray]:
    return gamma_sweep(view.scores, view.labels, view.seen, view.unseen, gammas)


def class_changes(view: ModelView, gamma: float) -> list[dict[str, Any]]:
    """Classes whose GZSL accuracy differs between the checkpoint's gamma and ``gamma``, as table rows."""
    rows = analysis.class_gain_loss(view.scores, view.labels, view.seen, view.gamma, gamma, view.class_names)
    return [{"class": r["class"], "split": "seen" if r["seen"] else "unseen",
             "accuracy at checkpoint gamma (%)": round(r["acc_a"] * 100, 1),
             "accuracy now (%)": round(r["acc_b"] * 100, 1), "change (points)": round(r["delta"] * 100, 1)}
            for r in rows]


# ----------------------------------------------------------------------------------- confusion
def confusions(view: ModelView, gamma: float, top: int = 15) -> dict[str, Any]:
    """ZSL confusion (U, U) over unseen classes, GZSL confusion (C, C) at gamma, and their most confused pairs."""
    names = view.class_names
    unseen_names = [names[i] for i in view.unseen]
    zsl = analysis.zsl_confusion(view.scores, view.labels, view.unseen)
    gzsl = analysis.gzsl_confusion(view.scores, view.labels, view.seen, gamma)
    return {"zsl": zsl, "zsl_names": unseen_names, "gzsl": gzsl, "names": names,
            "zsl_pairs": analysis.most_confused_pairs(zsl, unseen_names, top),
            "gzsl_pairs": analysis.most_confused_pairs(gzsl, names, top)}


# ----------------------------------------------------------------------------------- embeddings
def skeleton_points(view: ModelView, max_points: int | None = None) -> dict[str, Any]:
    """Test clips' global features for t-SNE: rows (n,) into the bundle, points (n, m), groups, symbols, hover.
    At most ``max_points`` (default ``MAX_TSNE_POINTS``) clips, the same share per class."""
    rows = analysis.subsample_per_class(view.labels, MAX_TSNE_POINTS if max_points is None else max_points)
    names, unseen, src = view.class_names, set(view.unseen), view.sources()
    split = ["unseen" if int(view.labels[r]) in unseen else "seen" for r in rows]
    groups = [f"{names[int(view.labels[r])]}" + (" *" if s == "unseen" else "") for r, s in zip(rows, split)]
    hover = [f"{names[int(view.labels[r])]} ({s})<br>sample {src[r]}" for r, s in zip(rows, split)]
    return {"rows": rows, "points": view.bundle["global_features"][rows], "groups": groups, "symbols": split,
            "hover": hover}


def semantic_points(view: ModelView, prompt: bool = True) -> dict[str, Any]:
    """Class-name embeddings (C, m) and, for STAR, part descriptions (K*C, m), projected into the shared space.

    ``prompt`` picks ``desc_proj`` (with the semantic-part prompt) or ``desc_proj_noprompt``. Groups are the
    kind of text ('class name' or the part), symbols the split (seen / unseen), hover the class.
    """
    names, unseen = view.class_names, set(view.unseen)
    split = ["unseen" if i in unseen else "seen" for i in range(len(names))]
    pts = [view.bundle["name_proj"]]
    groups, symbols = ["class name"] * len(names), list(split)
    hover = [f"{n} ({s})<br>class name" for n, s in zip(names, split)]
    key = "desc_proj" if prompt else "desc_proj_noprompt"
    if key in view.bundle:
        desc = view.bundle[key]  # (K, C, m)
        for k, part in enumerate(view.meta["part_names"]):
            pts.append(desc[k])
            groups += [f"{part} description"] * len(names)
            symbols += split
            hover += [f"{n} ({s})<br>{part} description" for n, s in zip(names, split)]
    return {"points": np.concatenate(pts).astype(np.float32), "groups": groups, "symbols": symbols, "hover": hover}


def tsne_for(view: ModelView, what: str, cache_dir: str | Path | None, max_points: int | None = None,
             seed: int = 0) -> dict[str, Any]:
    """t-SNE (n, 2) of 'skeleton', 'semantic' or 'semantic-noprompt' points, cached on disk in ``cache_dir``
    (None: not cached) per checkpoint name + bundle digest."""
    if what == "skeleton":
        data = skeleton_points(view, max_points)
    elif what in ("semantic", "semantic-noprompt"):
        data = semantic_points(view, prompt=what == "semantic")
    else:
        raise ValueError(f"unknown embedding '{what}' (expected skeleton, semantic or semantic-noprompt)")
    key = f"{view.name}-{view.digest}-{what}"  # the library makes it a safe file name
    data["xy"] = analysis.tsne_embedding(data["points"], seed=seed, cache_dir=cache_dir, key=key)
    return data
