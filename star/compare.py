"""Two models on the same test clips: paired statistics (``star compare A B``, the app's Compare page).

Inputs are evaluation bundles (``scores`` (N, C), ``labels`` (N,), ``sources`` (N,)) of two checkpoints of one
benchmark; the clips must be the same, in the same order. Each model is scored at its own validation gamma.

* Metrics per model: ZSL top-1 (unseen clips ranked among the unseen classes), GZSL S / U / H at the model's
  gamma, AUSUC (``star.zsl``).
* Paired bootstrap 95 % CIs of the differences B - A: the clips are resampled with replacement, seen-class and
  unseen-class clips separately (so every replicate keeps the test set's seen / unseen counts), the same draw for
  both models; the interval is the 2.5th and 97.5th percentile of the replicates' differences.
* McNemar's exact test on the ZSL decisions: of the unseen clips that exactly one model gets right, how many are
  A's; two-sided binomial p-value against 1/2 (``scipy.stats.binomtest``).
* Per-class accuracy differences (ZSL for unseen classes, GZSL at each model's gamma for all) and the clips whose
  decisions differ.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from star.zsl import ausuc, gzsl_metrics, gzsl_predict, seen_unseen_curve, zsl_accuracy, zsl_predict

METRICS = ("zsl_acc", "S", "U", "H", "ausuc")


class CompareError(ValueError):
    """Two models that cannot be compared on the same clips; the message says why."""


@dataclass
class Side:
    """One model: its name, bundle scores (N, C) and validation gamma."""

    name: str
    scores: np.ndarray
    gamma: float


@dataclass
class Comparison:
    a: str
    b: str
    benchmark: str
    num_clips: int
    num_unseen_clips: int
    metrics: dict[str, dict[str, float]]  # {"a": {...}, "b": {...}}
    difference: dict[str, dict[str, float]]  # metric -> {"b_minus_a", "ci_low", "ci_high"}
    bootstrap: dict[str, int]  # {"replicates", "seed"}
    mcnemar: dict[str, float]  # {"a_only", "b_only", "p_value"}
    per_class: list[dict[str, Any]] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics_of(scores: np.ndarray, labels: np.ndarray, seen: list[int], unseen: list[int], gamma: float) -> dict:
    """ZSL, S, U, H (at ``gamma``) and AUSUC of one model's scores, as fractions."""
    g = gzsl_metrics(scores, labels, seen, unseen, gamma)
    S, U, _ = seen_unseen_curve(scores, labels, seen, unseen)
    return {"zsl_acc": float(zsl_accuracy(scores, labels, unseen)), "S": g["S"], "U": g["U"], "H": g["H"],
            "ausuc": ausuc(S, U)}


def mcnemar(a_right: np.ndarray, b_right: np.ndarray) -> dict[str, float]:
    """McNemar's exact test on paired decisions: {a_only, b_only, p_value} (p = 1 when no clip differs)."""
    from scipy.stats import binomtest

    a_only = int(np.count_nonzero(a_right & ~b_right))
    b_only = int(np.count_nonzero(b_right & ~a_right))
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p_value": float(p)}


def bootstrap_differences(a: Side, b: Side, labels: np.ndarray, seen: list[int], unseen: list[int],
                          replicates: int = 1000, seed: int = 0, progress=None) -> dict[str, dict[str, float]]:
    """Paired, seen / unseen-stratified bootstrap of each metric's B - A: {metric: {b_minus_a, ci_low, ci_high}}.
    ``progress(done, total)`` is called every 50 replicates (the app's progress bar)."""
    labels = np.asarray(labels)
    on_unseen = np.isin(labels, unseen)
    groups = [np.flatnonzero(~on_unseen), np.flatnonzero(on_unseen)]
    rng = np.random.default_rng(seed)
    diffs = {k: np.empty(replicates) for k in METRICS}
    for r in range(replicates):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups if len(g)])
        ma = metrics_of(a.scores[idx], labels[idx], seen, unseen, a.gamma)
        mb = metrics_of(b.scores[idx], labels[idx], seen, unseen, b.gamma)
        for k in METRICS:
            diffs[k][r] = mb[k] - ma[k]
        if progress is not None and (r + 1) % 50 == 0:
            progress(r + 1, replicates)
    whole_a = metrics_of(a.scores, labels, seen, unseen, a.gamma)
    whole_b = metrics_of(b.scores, labels, seen, unseen, b.gamma)
    return {k: {"b_minus_a": whole_b[k] - whole_a[k], "ci_low": float(np.percentile(diffs[k], 2.5)),
                "ci_high": float(np.percentile(diffs[k], 97.5))} for k in METRICS}


def _decisions(a: Side, b: Side, seen: list[int], unseen: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Both models' decisions per clip: {"ZSL": (A's, B's) argmax over the unseen classes, "GZSL": (A's, B's)
    calibrated stacking at each model's gamma}."""
    return {"ZSL": (zsl_predict(a.scores, unseen), zsl_predict(b.scores, unseen)),
            "GZSL": (gzsl_predict(a.scores, seen, a.gamma), gzsl_predict(b.scores, seen, b.gamma))}


def _per_class(decisions: dict, labels: np.ndarray, unseen: list[int], names: list[str]) -> list[dict[str, Any]]:
    """Accuracy per class for both models and B - A, largest |difference| first: ZSL for unseen classes, GZSL at
    each model's gamma for every class present in the test clips."""
    rows = []
    (za, zb), (ga, gb) = decisions["ZSL"], decisions["GZSL"]
    for c in np.unique(labels):
        mask = labels == c
        row = {"class": names[int(c)], "index": int(c), "unseen": bool(c in unseen), "clips": int(mask.sum()),
               "gzsl_a": float((ga[mask] == c).mean()), "gzsl_b": float((gb[mask] == c).mean())}
        row["gzsl_b_minus_a"] = row["gzsl_b"] - row["gzsl_a"]
        if c in unseen:
            row.update({"zsl_a": float((za[mask] == c).mean()), "zsl_b": float((zb[mask] == c).mean())})
            row["zsl_b_minus_a"] = row["zsl_b"] - row["zsl_a"]
        rows.append(row)
    # unseen classes first, by their ZSL difference; then the seen ones by their GZSL difference; largest first
    return sorted(rows, key=lambda r: (not r["unseen"], -abs(r.get("zsl_b_minus_a", r["gzsl_b_minus_a"])),
                                       r["index"]))


def _disagreements(decisions: dict, labels: np.ndarray, unseen: list[int], names: list[str],
                   sources: np.ndarray) -> list[dict[str, Any]]:
    """Clips whose ZSL decision (unseen clips) or GZSL decision (all clips, each at its gamma) differs."""
    out = []
    for i in range(len(labels)):
        is_unseen = labels[i] in unseen
        for kind, (pa, pb) in decisions.items():
            if (kind == "ZSL" and not is_unseen) or pa[i] == pb[i]:
                continue
            out.append({"index": i, "source": str(sources[i]), "kind": kind, "true": names[int(labels[i])],
                        "a_says": names[int(pa[i])], "b_says": names[int(pb[i])],
                        "a_right": bool(pa[i] == labels[i]), "b_right": bool(pb[i] == labels[i])})
    return out


def compare(a_meta: dict, a_bundle: dict, b_meta: dict, b_bundle: dict, replicates: int = 1000, seed: int = 0,
            progress=None) -> Comparison:
    """Compare two checkpoints (sidecar + bundle each) on their shared test clips; ``CompareError`` when the
    benchmarks, classes or clips differ."""
    for key, what in (("benchmark", "benchmark"), ("class_names", "class list"),
                      ("unseen_classes", "unseen classes")):
        if a_meta[key] != b_meta[key]:
            raise CompareError(f"{a_meta['name']} and {b_meta['name']} have different {what}s "
                               f"({a_meta[key] if key == 'benchmark' else '...'} vs "
                               f"{b_meta[key] if key == 'benchmark' else '...'}): they were not tested on the same "
                               "clips, so they cannot be compared clip by clip")
    la, lb = np.asarray(a_bundle["labels"]), np.asarray(b_bundle["labels"])
    sa, sb = a_bundle.get("sources"), b_bundle.get("sources")
    if la.shape != lb.shape or not np.array_equal(la, lb) or (
            sa is not None and sb is not None and not np.array_equal(np.asarray(sa), np.asarray(sb))):
        raise CompareError(f"{a_meta['name']} and {b_meta['name']} were evaluated on different test clips (or in "
                           "another order); re-run `star eval` on one data folder for both")
    unseen = list(a_meta["unseen_classes"])
    if not unseen:
        raise CompareError(f"{a_meta['name']} has no unseen classes: there is no zero-shot accuracy to compare")
    seen, names = list(a_meta["seen_classes"]), list(a_meta["class_names"])
    sources = np.asarray(sa) if sa is not None else np.array([str(i) for i in range(len(la))])
    a = Side(a_meta["name"], np.asarray(a_bundle["scores"], np.float64), float(a_meta["gamma"]["value"]))
    b = Side(b_meta["name"], np.asarray(b_bundle["scores"], np.float64), float(b_meta["gamma"]["value"]))
    on_unseen = np.isin(la, unseen)
    decisions = _decisions(a, b, seen, unseen)
    za, zb = decisions["ZSL"]
    return Comparison(
        a=a.name, b=b.name, benchmark=a_meta["benchmark"], num_clips=int(len(la)),
        num_unseen_clips=int(on_unseen.sum()),
        metrics={"a": metrics_of(a.scores, la, seen, unseen, a.gamma),
                 "b": metrics_of(b.scores, la, seen, unseen, b.gamma)},
        difference=bootstrap_differences(a, b, la, seen, unseen, replicates, seed, progress),
        bootstrap={"replicates": int(replicates), "seed": int(seed)},
        mcnemar=mcnemar((za == la)[on_unseen], (zb == la)[on_unseen]),
        per_class=_per_class(decisions, la, unseen, names),
        disagreements=_disagreements(decisions, la, unseen, names, sources),
    )
