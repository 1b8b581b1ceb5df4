"""What the app's pages show, computed without streamlit (so it is testable and the pages stay thin).

``ModelView`` is a loaded checkpoint's sidecar + evaluation bundle (no weights): everything the Model,
Embedding, Confusion and Calibration pages need. Samples, uploads and the t-SNE inputs live here too.
Environment: ``STAR_CHECKPOINTS`` (checkpoint root), ``STAR_DATA_DIR`` (clip banks offered as samples),
``STAR_CACHE_DIR`` (t-SNE cache; default ``<checkpoint root>/.star_cache``).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from star import analysis
from star.checkpoint import default_checkpoint_root, list_checkpoints, load_checkpoint
from star.skeleton.clip import Clip, SkeletonFormatError
from star.zsl import ausuc, default_gamma_grid, gamma_sweep, gzsl_metrics, seen_unseen_curve, zsl_accuracy

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "assets" / "samples"
DEFAULT_CHECKPOINT = "star-pool42-32-10"  # the same default as star.inference (which imports torch)
UPLOAD_SUFFIXES = (".skeleton", ".npy", ".npz", ".txt")
MAX_TSNE_POINTS = int(os.environ.get("STAR_TSNE_MAX_POINTS", "1500"))  # test clips per skeleton-space t-SNE


# ----------------------------------------------------------------------------------- checkpoints
def checkpoint_options(root: str | Path | None = None) -> list[Path]:
    """Every checkpoint directory under the root (``STAR_CHECKPOINTS`` or ``checkpoints/``), sorted by name."""
    return list_checkpoints(default_checkpoint_root() if root is None else root)


def default_index(paths: list[Path]) -> int:
    """Index of the shipped default checkpoint in ``paths`` (0 when it is not there)."""
    names = [p.name for p in paths]
    return names.index(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT in names else 0


def cache_key(path: str | Path) -> tuple[str, int, int]:
    """(resolved path, bundle mtime_ns, bundle size): changes when the checkpoint is rewritten."""
    p = Path(path).resolve()
    b = p / "bundle.npz"
    st = b.stat() if b.is_file() else None
    return str(p), (st.st_mtime_ns if st else 0), (st.st_size if st else 0)


@dataclass
class ModelView:
    """A checkpoint's sidecar and bundle. bundle: labels (N,), scores (N, C), global_features (N, m), ..."""

    path: Path
    meta: dict[str, Any]
    bundle: dict[str, np.ndarray]
    digest: str  # of bundle.npz, keys the on-disk t-SNE cache

    @classmethod
    def load(cls, path: str | Path) -> "ModelView":
        ckpt = load_checkpoint(path)  # validates; raises CheckpointError with what is wrong
        bundle = ckpt.load_bundle()
        return cls(ckpt.path, ckpt.meta, bundle, analysis.file_digest(ckpt.bundle_path))

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def seen(self) -> list[int]:
        return [int(i) for i in self.meta["seen_classes"]]

    @property
    def unseen(self) -> list[int]:
        return [int(i) for i in self.meta["unseen_classes"]]

    @property
    def gamma(self) -> float:
        return float(self.meta["gamma"]["value"])

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
    def gamma_key(self) -> str:
        """Session-state key of this checkpoint's gamma slider (a new checkpoint starts at its own gamma)."""
        return f"gamma::{self.name}::{self.digest}"

    def cache_dir(self) -> Path:
        env = os.environ.get("STAR_CACHE_DIR")
        return Path(env) if env else self.path.parent / ".star_cache"


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


def tsne_for(view: ModelView, what: str, max_points: int | None = None, seed: int = 0) -> dict[str, Any]:
    """t-SNE (n, 2) of 'skeleton', 'semantic' or 'semantic-noprompt' points, cached on disk per checkpoint+bundle."""
    if what == "skeleton":
        data = skeleton_points(view, max_points)
    elif what in ("semantic", "semantic-noprompt"):
        data = semantic_points(view, prompt=what == "semantic")
    else:
        raise ValueError(f"unknown embedding '{what}' (expected skeleton, semantic or semantic-noprompt)")
    key = f"{view.name}-{view.digest}-{what}"
    data["xy"] = analysis.tsne_embedding(data["points"], seed=seed, cache_dir=view.cache_dir(), key=key)
    return data


# ----------------------------------------------------------------------------------- samples and uploads
@dataclass(frozen=True)
class Sample:
    label: str
    path: Path
    index: int | None = None  # clip index inside a clip bank, None for a single-clip file


def clip_banks(data_dir: str | Path | None = None) -> list[Path]:
    """Clip banks (.npz with an 'offsets' key) under ``data_dir`` (default ``$STAR_DATA_DIR``; none if unset)."""
    root = data_dir if data_dir is not None else os.environ.get("STAR_DATA_DIR")
    if not root or not Path(root).is_dir():
        return []
    banks = []
    for p in sorted(Path(root).rglob("*.npz")):
        try:
            with np.load(p, allow_pickle=False) as z:
                if "offsets" in z.files:
                    banks.append(p)
        except (OSError, ValueError):
            continue
    return banks


def builtin_samples(samples_dir: str | Path = SAMPLES_DIR) -> list[Sample]:
    """The synthetic demo clips shipped in ``assets/samples/*.skeleton``."""
    return [Sample(p.stem, p) for p in sorted(Path(samples_dir).glob("*.skeleton"))]


def bank_samples(bank_path: str | Path) -> list[Sample]:
    """One Sample per clip of a bank, labelled 'index: sample id (class)'."""
    from star.data import ClipBank

    bank = ClipBank.load(bank_path)
    return [Sample(f"{i}: {bank.sample_id[i]} ({bank.class_names[int(bank.label[i])]})", Path(bank_path), i)
            for i in range(len(bank))]


def load_sample(sample: Sample) -> Clip:
    if sample.index is None:
        from star.skeleton import load_clip

        return load_clip(sample.path)
    from star.data import ClipBank

    return ClipBank.load(sample.path).clip(sample.index)


def clip_from_upload(name: str, data: bytes) -> Clip:
    """Read an uploaded file: written to a temporary folder under its own name (the reader dispatches on the
    suffix), read with ``load_clip`` (never unpickles), then deleted. Errors name the uploaded file."""
    from star.skeleton import load_clip

    base = Path(name).name or "upload"
    if Path(base).suffix.lower() not in UPLOAD_SUFFIXES:
        raise SkeletonFormatError(base, None, f"a file ending in {', '.join(UPLOAD_SUFFIXES)}",
                                  f"'{Path(base).suffix or 'no suffix'}'")
    with tempfile.TemporaryDirectory(prefix="star-upload-") as tmp:
        path = Path(tmp) / base
        path.write_bytes(data)
        try:
            clip = load_clip(path)
        except SkeletonFormatError as exc:
            raise SkeletonFormatError(base, exc.where, exc.expected, exc.found) from None
    clip.source = base
    return clip


def top_classes(pred, limit: int = 8) -> list[int]:
    """Class indices of a Prediction's ZSL then GZSL top lists, without repeats (for the part-match map)."""
    out: list[int] = []
    for t in list(pred.zsl_top) + list(pred.gzsl_top):
        if t["index"] not in out:
            out.append(t["index"])
    return out[:limit]
