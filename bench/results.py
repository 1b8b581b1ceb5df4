"""Writes docs/RESULTS.md and docs/results.json: the v2 recipe's models compared on pool42 (issue 11).

    .venv/bin/python bench/results.py

Reads what the training scripts left, trains nothing:

- the heads of ``bench/random_splits.py`` (``runs/v2-<split>/ckpt/<model>-s<seed>``, one backbone per
  split): STAR-6 / STAR-4 / STAR-2, the global baseline and the Table-7 ablations. Each head's record is
  kept in ``bench/results/heads_v2.json`` (committed), so runs made on another day or machine stay in the
  tables after ``runs/`` is gone; a head found under ``runs/`` replaces its stored record;
- the plain-MLP floor's records (``bench/mlp_floor.py --protocol protocol --canonical view,joints
  --json-out bench/results/mlp_floor_v2.json``): the same splits, seeds, preprocessing and validation fold;
- the shipped checkpoints' sidecars (``checkpoints/*-pool42-32-10``), for their own table: they are 32/10
  seed-0 heads of configs/pool42-32-10-v3*.yaml on their own (bf16) backbone, so they are not among the 32/10
  runs below.

docs/results.json is a list with one record per split x seed x model: ``{"split", "seed", "model", "zsl_acc",
"S", "U", "H", "gamma_val", "H_best_test", "ausuc"}`` (fractions in [0, 1]) plus per-source S / U, the
own-source share and, for heads, the chosen epoch and wall times. RESULTS.md gives means with 95 % confidence
intervals (Student's t) and paired per-split differences; on the random splits the CI is taken over the
five split means (the seeds of one split share a backbone, so they are not independent draws).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import default_timing  # noqa: E402
from bench.random_splits import BONE_OF, MODELS, split_config, stream_of  # noqa: E402
from star.analysis import mean_ci, paired_difference  # noqa: E402
from star.checkpoint import load_checkpoint  # noqa: E402
from star.evaluation import fused_metrics  # noqa: E402
from star.data.benchmarks import POOL42_COMPONENTS  # noqa: E402
from star.zsl import gzsl_predict, zsl_predict  # noqa: E402

REGULARISED = ("star-6-f3-bf16-pw16-noam-d3", "star-6-f3-bf16-pw16-noam-nospp", "star-4-f3-bf16-pw16-noam",
               "star-2-f3-bf16-pw16-noam")  # issue 11, stop 21: the best STAR regularised, and with 4 / 2 parts
RANDOM = ("r0", "r1", "r2", "r3", "r4")
SPLIT_NAME = {**{s: f"pool42-{s}" for s in RANDOM}, "3210": "pool42-32/10"}
MAIN_MODELS = ("star-6", "star-4", "star-2", "baseline", "mlp")
ABLATIONS = ("no-am", "no-vap", "no-spp", "no-mpce", "no-sce", "no-gce", "star-6-desc-v1", "star-6-mpnet",
             "baseline-mpnet", "star-6-f3", "baseline-f3", "star-6-f3-bf16", "star-6-f3-bf16-pw",
             "star-6-f3-bf16-pw16", "star-6-f3-bf16-pw16-b1", "star-6-f3-bf16-b1", "star-6-f3-bf16-pw16-noam",
             "star-6-f3-bf16-noam", "star-6-f3-bf16-pw16-noam-mpnet", "star-6-f3-bf16-noam-mpnet", "baseline-f3-mpnet",
             *REGULARISED, *(f"{m}-bone" for m in BONE_OF), *(f"{m}-2s" for m in BONE_OF))
LABELS = {"star-6": "STAR, 6 parts", "star-4": "STAR, 4 parts", "star-2": "STAR, 2 parts",
          "baseline": "global baseline (same backbone and features, no parts, no prompts)",
          "mlp": "plain-MLP floor (no backbone, bench/mlp_floor.py)",
          "no-am": "STAR-6 w/o attention (AM)", "no-vap": "STAR-6 w/o visual-attribute prompts (VAP)",
          "no-spp": "STAR-6 w/o semantic-part prompts (SPP)", "no-mpce": "STAR-6 w/o L_MPCE",
          "no-sce": "STAR-6 w/o L_SCE", "no-gce": "STAR-6 w/o L_GCE",
          "star-6-desc-v1": "STAR-6 with the part descriptions before their rewrite",
          "star-6-mpnet": "STAR-6 with all-mpnet-base-v2 text (768-d) instead of MiniLM",
          "baseline-mpnet": "global baseline with all-mpnet-base-v2 text",
          "star-6-f3": "STAR-6, epoch and gamma chosen on 3 validation folds",
          "baseline-f3": "global baseline, epoch and gamma chosen on 3 validation folds",
          "star-6-f3-bf16": "STAR-6, 3 folds, head trained in bfloat16 autocast",
          "star-6-f3-bf16-pw": "STAR-6, 3 folds, bf16, part evidence in the class score (weight chosen on validation)",
          "star-6-f3-bf16-pw16": "STAR-6, 3 folds, bf16, part weight chosen on validation over a grid up to 16",
          "star-6-f3-bf16-pw16-b1": "STAR-6, 3 folds, bf16, part weight up to 16, global loss weight beta 1",
          "star-6-f3-bf16-b1": "STAR-6, 3 folds, bf16, global loss weight beta 1 (the paper's score)",
          "star-6-f3-bf16-pw16-noam": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts (no attention)",
          "star-6-f3-bf16-noam": "STAR-6, 3 folds, bf16, mean-pooled parts (no attention; the paper's score)",
          "star-6-f3-bf16-pw16-noam-mpnet": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts, "
                                            "all-mpnet-base-v2 text",
          "star-6-f3-bf16-noam-mpnet": "STAR-6, 3 folds, bf16, mean-pooled parts, all-mpnet-base-v2 text (the paper's score)",
          "baseline-f3-mpnet": "global baseline, 3 folds, all-mpnet-base-v2 text",
          "baseline-f3-bone": "global baseline, 3 folds, on the bone-stream backbone",
          "star-6-f3-bf16-pw16-noam-bone": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts, bone stream",
          "star-6-f3-bf16-noam-bone": "STAR-6, 3 folds, bf16, mean-pooled parts, bone stream (the paper's score)",
          "baseline-f3-2s": "global baseline, 3 folds, joint + bone streams (scores averaged)",
          "star-6-f3-bf16-pw16-noam-2s": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts, joint + bone",
          "star-6-f3-bf16-noam-2s": "STAR-6, 3 folds, bf16, mean-pooled parts, joint + bone (the paper's score)",
          "star-6-f3-bf16-pw16-noam-d3": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts, dropout 0.3",
          "star-6-f3-bf16-pw16-noam-nospp": "STAR-6, 3 folds, bf16, part weight up to 16, mean-pooled parts, "
                                            "no semantic-part prompts",
          "star-4-f3-bf16-pw16-noam": "STAR-4, 3 folds, bf16, part weight up to 16, mean-pooled parts",
          "star-2-f3-bf16-pw16-noam": "STAR-2, 3 folds, bf16, part weight up to 16, mean-pooled parts"}
RECIPE_MODELS = ("star-6-f3", "star-6-f3-bf16", "star-6-f3-bf16-pw", "star-6-f3-bf16-pw16", "star-6-f3-bf16-b1",
                 "star-6-f3-bf16-pw16-b1", "star-6-f3-bf16-noam", "star-6-f3-bf16-pw16-noam", "baseline-f3",
                 "star-6-f3-bf16-noam-mpnet", "star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3-mpnet",
                 "baseline-f3-bone", "star-6-f3-bf16-pw16-noam-bone", "baseline-f3-2s", "star-6-f3-bf16-pw16-noam-2s",
                 *REGULARISED)
SOURCES = tuple(c.prefix for c in POOL42_COMPONENTS)
MLP_JSON = REPO / "bench" / "results" / "mlp_floor_v2.json"
MLP_SPEC = "view,joints"
HEADS_JSON = REPO / "bench" / "results" / "heads_v2.json"
KEYS = ("zsl_acc", "S", "U", "H", "gamma_val", "H_best_test", "ausuc")
# the section and records that bench/purls_report.py writes into the same files
PUBLISHED_BEGIN, PUBLISHED_END = "<!-- published:begin (bench/purls_report.py) -->", "<!-- published:end -->"
PUBLISHED_SPLITS = ("purls-", "lodo-")


def with_published_block(text: str, block: str) -> str:
    """RESULTS.md ``text`` with ``block`` (from ``PUBLISHED_BEGIN`` to ``PUBLISHED_END``) in place of its marked
    section, or, when it has none, after the title paragraph (before the first ``## `` heading)."""
    if PUBLISHED_BEGIN in text:
        before, rest = text.split(PUBLISHED_BEGIN, 1)
        return before + block + rest.split(PUBLISHED_END, 1)[1]
    head, sep, tail = text.partition("\n## ")
    return head + block + "\n\n" + sep.lstrip("\n") + tail


# ------------------------------------------------------------------------ records
def _acc(pred: np.ndarray, y: np.ndarray) -> float | None:
    return float(np.mean(pred == y)) if len(y) else None


def source_breakdown(ck) -> dict:
    """Per-source S / U at the checkpoint's gamma, and the own-source share of unseen test clips' best seen
    class against the text-nearest expectation (unseen class -> nearest seen class by raw name cosine)."""
    b = ck.load_bundle()
    s, y = b["scores"], b["labels"]
    seen, unseen = np.asarray(ck.seen), np.asarray(ck.unseen)
    src = np.array([SOURCES.index(str(i).split("/", 1)[0]) for i in b["sources"]])
    class_source = np.full(s.shape[1], -1)
    class_source[y] = src
    pred, zpred = gzsl_predict(s, seen, ck.gamma), zsl_predict(s, unseen)
    is_u = np.isin(y, unseen)
    out = {"per_source": {}}
    for k, name in enumerate(SOURCES):
        m_s, m_u = (src == k) & ~is_u, (src == k) & is_u
        out["per_source"][name] = {"S": _acc(pred[m_s], y[m_s]), "U": _acc(pred[m_u], y[m_u]),
                                   "zsl_acc": _acc(zpred[m_u], y[m_u])}
    best_seen = seen[np.argmax(s[is_u][:, seen], axis=1)]
    text = ck.tensors["text.names"].numpy()
    text = text / np.linalg.norm(text, axis=1, keepdims=True)
    nearest = {int(c): int(seen[np.argmax(text[seen] @ text[c])]) for c in unseen}
    # ZSL with each clip's dataset known (an oracle, not a method): ranked among its own dataset's unseen classes
    unseen_src = class_source[unseen]
    own = [unseen[unseen_src == src[i]] for i in np.flatnonzero(is_u)]
    own_pred = np.array([c[np.argmax(s[i, c])] for i, c in zip(np.flatnonzero(is_u), own)])
    wrong = zpred[is_u] != y[is_u]
    out["zsl_own_source"] = float(np.mean(own_pred == y[is_u]))
    out["zsl_errors_cross_source"] = (float(np.mean(class_source[zpred[is_u][wrong]] != src[is_u][wrong]))
                                      if wrong.any() else None)
    out["own_source_share"] = float(np.mean(class_source[best_seen] == src[is_u]))
    out["own_source_text_nearest"] = float(np.mean([class_source[nearest[int(c)]] == class_source[int(c)]
                                                    for c in y[is_u]]))
    return out


def head_record(split: str, model: str, seed: int, ck) -> dict:
    m, g = ck.meta["metrics"], ck.meta["gamma"]
    rec = {"split": SPLIT_NAME[split], "seed": seed, "model": model,
           **{k: float(m[k]) for k in ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc")},
           "gamma_val": float(g["value"]), "gamma_best_test": float(m["gamma_best_test"]),
           "epoch": g["epoch"], "val_H": g["val_H"], "tau": ck.meta["tau"]["value"],
           "part_weight": float(ck.meta.get("score", {}).get("part_weight", 0.0)),
           "preprocess": ck.meta["config"]["preprocess"], "wall_time_s": ck.meta["wall_time_s"],
           "device": ck.meta.get("device"), "checkpoint": str(Path(ck.path).resolve().relative_to(REPO))}
    return {**rec, **source_breakdown(ck), "learning_curve": learning_curve(ck.meta)}


def learning_curve(meta: dict) -> dict | None:
    """The validation run's H per epoch and learning rates, the chosen epoch and the losses, from a sidecar."""
    curves = meta.get("learning_curves", {})
    val = next((v for k, v in curves.items() if k.startswith("validation")), None)
    if val is None:
        return None
    return {"val_H": [float(x) for x in val["val_H"]], "lr": sorted(set(val["lr"]), reverse=True),
            "epoch": meta["gamma"]["epoch"], "smooth_epochs": meta["gamma"].get("smooth_epochs", 1),
            "loss_validation_last": float(val.get("loss_total", [float("nan")])[-1]),
            "loss_final_last": float(curves.get("final", {}).get("loss_total", [float("nan")])[-1])}


def mlp_records() -> list[dict]:
    if not MLP_JSON.is_file():
        return []
    inverse = {v: k for k, v in SPLIT_NAME.items()}
    out = []
    for r in json.loads(MLP_JSON.read_text()):
        if r.get("protocol") != "protocol" or r["spec"] != MLP_SPEC or r["split"] not in inverse:
            continue
        out.append({"split": r["split"], "seed": r["seed"], "model": "mlp", **{k: float(r[k]) for k in KEYS},
                    "gamma_best_test": r["gamma_best_test"], "preprocess": r["spec"], "wall_time_s": r["wall_s"],
                    "per_source": {k: {"S": v["S"], "U": v["U"], "zsl_acc": v["zsl_acc"]}
                                   for k, v in r["per_source"].items()},
                    "own_source_share": r["own_source_share"],
                    "own_source_text_nearest": r["own_source_text_nearest"]})
    return out


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def machine_of(rec: dict) -> str:
    """The CPU model a head was trained on, from its device string ('cpu (AMD EPYC, 1 threads)' -> 'AMD EPYC');
    the backbone too was trained there (a backbone retrained on another CPU model is not bit-identical)."""
    match = re.fullmatch(r"cpu \((.*), \d+ threads?( x \d+ processes)?\)", str(rec.get("device")))
    return match.group(1) if match else str(rec.get("device") or "unknown")


def collect() -> list[dict]:
    """Every stored head record, updated with every head under ``runs/``, plus the MLP floor's records.

    Records are stored per (split, model, seed, machine): a head re-run on another machine (so on another
    backbone) is kept next to the older one, not over it. ``recorded`` is the date a record was read from
    ``runs/``; ``current`` picks one record per (split, model, seed) for the tables."""
    key = lambda r: (r["split"], r["model"], r["seed"], machine_of(r))  # noqa: E731
    heads = {key(r): r for r in json.loads(HEADS_JSON.read_text())} if HEADS_JSON.is_file() else {}
    today = dt.date.today().isoformat()
    for split, stream in ((sp, st) for sp in (*RANDOM, "3210") for st in ("joint", "bone")):
        ckpt_root = split_config(split, stream).run_path / "ckpt"
        for d in sorted(ckpt_root.glob("*-s*")):
            match = re.fullmatch(r"(.+)-s(\d+)", d.name)
            if match and match.group(1) in MODELS and stream_of(match.group(1)) == stream and (d / "model.json").exists():
                rec = head_record(split, match.group(1), int(match.group(2)), load_checkpoint(d))
                old = heads.get(key(rec), {})
                same = all(old.get(k) == rec[k] for k in KEYS)
                heads[key(rec)] = {**rec, "recorded": old.get("recorded", today) if same else today}
    _write_atomic(HEADS_JSON, json.dumps(sorted(heads.values(), key=key), indent=1))
    records = list(heads.values()) + mlp_records()
    records += fused_records(records)
    order = {n: i for i, n in enumerate(SPLIT_NAME.values())}
    models = list(MAIN_MODELS) + list(ABLATIONS)
    return sorted(records, key=lambda r: (order[r["split"]], models.index(r["model"]), r["seed"],
                                          r.get("recorded", "")))


def fused_records(records: list[dict]) -> list[dict]:
    """``<model>-2s`` for each head of ``BONE_OF`` whose bone-stream twin (same split, seed and machine) exists:
    the two heads' class scores averaged, gamma the mean of their validation gammas (``fused_metrics``)."""
    bone = {(r["split"], r["model"][:-len("-bone")], r["seed"], machine_of(r)): r
            for r in records if r["model"].endswith("-bone")}
    out = []
    for r in records:
        twin = bone.get((r["split"], r["model"], r["seed"], machine_of(r)))
        if r["model"] in BONE_OF and twin:
            m = fused_metrics([REPO / r["checkpoint"], REPO / twin["checkpoint"]])
            out.append({"split": r["split"], "seed": r["seed"], "model": f"{r['model']}-2s",
                        **{k: m[k] for k in ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc", "gamma_best_test")},
                        "gamma_val": m["gamma"], "device": r["device"], "preprocess": r["preprocess"],
                        # the two heads' mean: the fused score's scale, the bound of its gamma
                        "part_weight": (r.get("part_weight", 0.0) + twin.get("part_weight", 0.0)) / 2,
                        "wall_time_s": {k: r["wall_time_s"].get(k, 0) + twin["wall_time_s"].get(k, 0)
                                        for k in ("backbone", "extract", "head")},
                        "checkpoint": f"{r['checkpoint']} + {twin['checkpoint']}"})
    return out


def current(records: list[dict]) -> list[dict]:
    """One record per (split, model, seed): the most recently recorded one (records without a date count as
    oldest; order kept)."""
    best: dict = {}
    for r in records:
        k = (r["split"], r["model"], r["seed"])
        if k not in best or r.get("recorded", "") >= best[k].get("recorded", ""):
            best[k] = r
    keep = {id(r) for r in best.values()}
    return [r for r in records if id(r) in keep]


# ------------------------------------------------------------------------ summaries
def pct(mean: float, half: float = float("nan")) -> str:
    if np.isnan(mean):
        return "-"
    return f"{100 * mean:.1f}" if np.isnan(half) else f"{100 * mean:.1f} ± {100 * half:.1f}"


def split_means(records: list[dict], key: str) -> dict[str, float]:
    """{split: mean over seeds of ``key``} (``key`` may be dotted, e.g. ``per_source.msr3d.U``)."""
    by = defaultdict(list)
    for r in records:
        v = r
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is not None:
            by[r["split"]].append(v)
    return {s: float(np.mean(v)) for s, v in by.items()}


def paired(records: list[dict], a: str, b: str, key: str) -> tuple[float, float, int]:
    """``a`` - ``b`` over splits, paired within a split by seed and, unless ``b`` is the MLP floor (no backbone), by
    machine, so both heads read the same backbone. ``records`` may hold a run per machine (``everything``)."""
    if b == "mlp":
        return paired_difference(current([r for r in records if r["model"] in (a, b)]), a, b, key)
    runs = [{**r, "run": f"{r['seed']}@{machine_of(r)}"} for r in records if r["model"] in (a, b)]
    return paired_difference(runs, a, b, key, pair="run")


def table(records: list[dict], models, over_splits: bool) -> list[str]:
    keys = ("zsl_acc", "S", "U", "H", "H_best_test", "ausuc")
    lines = ["| model | runs | " + " | ".join(("ZSL", "S", "U", "H (val gamma)", "H best (test)", "AUSUC"))
             + " | gap H best - H | gamma val | gamma best (test) | machine |", "|---|---:|" + "---:|" * 9 + "---|"]
    for model in models:
        rs = [r for r in records if r["model"] == model]
        if not rs:
            continue
        if over_splits:
            cells = [pct(*mean_ci(split_means(rs, k).values())[:2]) for k in keys]
            gap = mean_ci([a - b for a, b in zip(split_means(rs, "H_best_test").values(), split_means(rs, "H").values())])
        else:
            cells = [pct(*mean_ci([r[k] for r in rs])[:2]) for k in keys]
            gap = mean_ci([r["H_best_test"] - r["H"] for r in rs])
        g_val = np.mean([r["gamma_val"] for r in rs])
        g_best = np.mean([r["gamma_best_test"] for r in rs])
        runs = f"{len(rs)} ({len({r['split'] for r in rs})} splits)" if over_splits else str(len(rs))
        where = ", ".join(sorted({machine_of(r) for r in rs if r["model"] != "mlp"})) or "-"
        lines.append(f"| {LABELS[model]} | {runs} | " + " | ".join(cells)
                     + f" | {pct(*gap[:2])} | {g_val:.3f} | {g_best:.3f} | {where} |")
    return lines


VARIANTS = (("star-6-f3", "star-6"), ("baseline-f3", "baseline"), ("star-6-f3-bf16", "star-6-f3"),
            ("star-6-f3-bf16-pw", "star-6-f3-bf16"), ("star-6-f3-bf16-pw", "star-6-f3"), ("star-6-f3-bf16-pw", "baseline-f3"),
            ("star-6-f3-bf16-pw16", "star-6-f3-bf16-pw"), ("star-6-f3-bf16-pw16", "star-6-f3-bf16"),
            ("star-6-f3-bf16-pw16", "baseline-f3"), ("star-6-f3-bf16-pw16-b1", "star-6-f3-bf16-pw16"),
            ("star-6-f3-bf16-b1", "star-6-f3-bf16"), ("star-6-f3-bf16-pw16-b1", "baseline-f3"),
            ("star-6-f3-bf16-pw16-noam", "star-6-f3-bf16-pw16"), ("star-6-f3-bf16-noam", "star-6-f3-bf16"),
            ("star-6-f3-bf16-pw16-noam", "baseline-f3"),
            ("star-6-f3-bf16-pw16-noam-mpnet", "star-6-f3-bf16-pw16-noam"), ("baseline-f3-mpnet", "baseline-f3"),
            ("star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3-mpnet"), ("star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3"),
            *((f"{m}-{k}", m) for m in BONE_OF for k in ("bone", "2s")),
            ("star-6-f3-bf16-pw16-noam-2s", "baseline-f3-2s"),
            *((m, "star-6-f3-bf16-pw16-noam") for m in REGULARISED), *((m, "baseline-f3") for m in REGULARISED),
            ("star-6-mpnet", "star-6"),
            ("baseline-mpnet", "baseline"), ("star-6-desc-v1", "star-6"),
            ("star-4", "star-6"), ("star-2", "star-6"), ("baseline", "star-6"),
            *((a, "star-6") for a in ABLATIONS if a.startswith("no-")))


def variant_lines(records: list[dict]) -> list[str]:
    """Each variant minus its reference, paired by seed within a split and machine (same backbone, same
    validation fold): mean ± 95 % CI over the (seed, machine) runs both have."""
    lines = ["| variant - reference | split | runs | ZSL | H (val gamma) | H best (test) | AUSUC |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for a, b in VARIANTS:
        for split in SPLIT_NAME.values():
            rs = [r for r in records if r["split"] == split]
            rs = [{**r, "run": f"{r['seed']}@{machine_of(r)}"} for r in rs]
            cells = [paired_difference(rs, a, b, k, group="run", pair="split")
                     for k in ("zsl_acc", "H", "H_best_test", "ausuc")]
            if cells[0][2]:
                lines.append(f"| {a} - {b} | {split} | {cells[0][2]} | " + " | ".join(pct(*c[:2]) for c in cells) + " |")
    return lines


def per_run_table(records: list[dict]) -> list[str]:
    lines = ["| split | model | seed | ZSL | S | U | H | gamma val | H best (test) | AUSUC | epoch | part weight | machine |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in records:
        lines.append(f"| {r['split']} | {r['model']} | {r['seed']} | {pct(r['zsl_acc'])} | {pct(r['S'])} | "
                     f"{pct(r['U'])} | {pct(r['H'])} | {r['gamma_val']:.3f} | {pct(r['H_best_test'])} | "
                     f"{pct(r['ausuc'])} | {r.get('epoch', '-')} | {r.get('part_weight', 0.0):g} | "
                     f"{machine_of(r) if r['model'] != 'mlp' else '-'} |")
    return lines


def source_table(records: list[dict], models) -> list[str]:
    lines = ["| model | " + " | ".join(f"{s} S | {s} U" for s in SOURCES) + " | own-source share | text-nearest |",
             "|---|" + "---:|" * (2 * len(SOURCES) + 2)]
    for model in models:
        rs = [r for r in records if r["model"] == model]
        if not rs:
            continue
        cells = []
        for s in SOURCES:
            for k in ("S", "U"):
                cells.append(pct(*mean_ci(split_means(rs, f"per_source.{s}.{k}").values())[:2]))
        for k in ("own_source_share", "own_source_text_nearest"):
            cells.append(pct(*mean_ci(split_means(rs, k).values())[:2]))
        lines.append(f"| {LABELS[model]} | " + " | ".join(cells) + " |")
    return lines


def oracle_table(records: list[dict], models, pairs=()) -> list[str]:
    """ZSL against ZSL with each clip's dataset known (its own dataset's unseen classes only), and the share of
    ZSL errors that name a class of another dataset; runs that stored these (checkpoints on disk) only."""
    lines = ["| model | runs | ZSL | ZSL, dataset known (oracle) | ZSL errors naming another dataset's class |",
             "|---|---:|---:|---:|---:|"]
    for model in models:
        rs = [r for r in records if r["model"] == model and r.get("zsl_own_source") is not None]
        if rs:
            cells = [pct(*mean_ci(split_means(rs, k).values())[:2])
                     for k in ("zsl_acc", "zsl_own_source", "zsl_errors_cross_source")]
            lines.append(f"| {LABELS[model]} | {len(rs)} ({_n(len({r['split'] for r in rs}), 'split')}) | "
                         + " | ".join(cells) + " |")
    have = [r for r in records if r.get("zsl_own_source") is not None]
    for a, b in pairs:
        cells = [paired(have, a, b, k) for k in ("zsl_acc", "zsl_own_source", "zsl_errors_cross_source")]
        if cells[0][2]:
            lines.append(f"| {a} - {b} (paired, {_n(cells[0][2], 'split')}) | | "
                         + " | ".join(pct(*c[:2]) for c in cells) + " |")
    return lines


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def goals(rand: list[dict], main: list[dict], rand_all: list[dict] | None = None) -> list[str]:
    """The issue's goals next to what was measured; differences pair runs within a machine over ``rand_all``
    (every stored random-split run, default ``rand``)."""
    rand_all = rand if rand_all is None else rand_all
    out = ["| goal | measured | met |", "|---|---|---|"]

    def row(goal: str, value: str, ok: bool | None) -> None:
        out.append(f"| {goal} | {value} | {'yes' if ok else ('no' if ok is not None else 'not measured')} |")

    for name in (n for n in SHIPPED if n.startswith("star")):
        d = REPO / "checkpoints" / name
        if not (d / "model.json").exists():
            continue
        m = json.loads((d / "model.json").read_text())["metrics"]
        row(f"shipped {name} ZSL >= 68", pct(m["zsl_acc"]), m["zsl_acc"] >= 0.68)
        row(f"shipped {name} H at validation gamma >= 48", pct(m["H"]), m["H"] >= 0.48)
        row(f"shipped {name} H within 3 points of H best (test)", f"gap {pct(m['H_best_test'] - m['H'])}",
            m["H_best_test"] - m["H"] <= 0.03)
    for model, base, name in (("star-6-f3", "baseline-f3", "STAR-6, 3 folds (the shipped recipe)"),
                              ("star-6", "baseline", "STAR-6, 1 fold"),
                              ("star-6-f3-bf16-pw", "baseline-f3", "STAR-6, 3 folds, bf16, part weight on validation"),
                              ("star-6-f3-bf16-pw16", "baseline-f3", "STAR-6, 3 folds, bf16, part weight up to 16"),
                              ("star-6-f3-bf16-noam", "baseline-f3", "STAR-6, 3 folds, bf16, mean-pooled parts"),
                              ("star-6-f3-bf16-pw16-noam", "baseline-f3",
                               "STAR-6, 3 folds, bf16, mean-pooled parts, part weight up to 16"),
                              ("star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3-mpnet",
                               "STAR-6, 3 folds, bf16, mean-pooled parts, part weight up to 16, mpnet text"),
                              ("star-6-f3-bf16-pw16-noam-2s", "baseline-f3-2s",
                               "STAR-6, 3 folds, bf16, mean-pooled parts, part weight up to 16, joint + bone"),
                              ("star-6-f3-bf16-pw16-noam-d3", "baseline-f3",
                               "STAR-6, 3 folds, bf16, mean-pooled parts, part weight up to 16, dropout 0.3"),
                              ("star-6-f3-bf16-pw16-noam-nospp", "baseline-f3",
                               "STAR-6, 3 folds, bf16, mean-pooled parts, part weight up to 16, no semantic prompts")):
        star = [r for r in main if r["model"] == model]
        if star:
            zsl, h = np.mean([r["zsl_acc"] for r in star]), np.mean([r["H"] for r in star])
            gap = np.mean([r["H_best_test"] - r["H"] for r in star])
            row(f"32/10 {name}, ZSL >= 68", f"{pct(zsl)} (mean of {len(star)} seeds)", zsl >= 0.68)
            row(f"32/10 {name}, H at validation gamma >= 48", pct(h), h >= 0.48)
            row(f"32/10 {name}, H within 3 points of H best (test)", f"gap {pct(gap)}", gap <= 0.03)
        star_r = [r for r in rand if r["model"] == model]
        if star_r:
            n = len({r["split"] for r in star_r})
            runs = f" ({_n(len(star_r), 'run')}, {n} of 5 splits)" if n < len(RANDOM) else ""
            zsl = mean_ci(split_means(star_r, "zsl_acc").values())
            h = mean_ci(split_means(star_r, "H").values())
            row(f"r0-r4 {name}, ZSL >= 45", pct(*zsl[:2]) + runs, zsl[0] >= 0.45)
            row(f"r0-r4 {name}, H >= 40 (validation gamma)", pct(*h[:2]) + runs, h[0] >= 0.40)
            for key, label in (("zsl_acc", "ZSL"), ("H", "H")):
                d = paired(rand_all, model, base, key)
                if d[2]:
                    row(f"r0-r4 {name} - {base} {label} >= +3, paired 95 % CI above 0",
                        pct(*d[:2]) + (f" ({_n(d[2], 'split')})" if d[2] < len(RANDOM) else ""),
                        d[0] >= 0.03 and d[0] - d[1] > 0)
                d = paired(rand, model, "mlp", key)
                if d[2]:
                    row(f"r0-r4 {name} - MLP floor {label}: clearly above",
                        pct(*d[:2]) + (f" ({_n(d[2], 'split')})" if d[2] < len(RANDOM) else ""), d[0] - d[1] > 0)
    return out


def learning_curve_lines(records: list[dict], split: str, model: str = "star-6", seed: int = 0) -> list[str]:
    rec = next((r for r in records if (r["split"], r["model"], r["seed"]) == (SPLIT_NAME[split], model, seed)), None)
    c = rec.get("learning_curve") if rec else None
    if not c:
        return []
    h = ", ".join(f"{100 * x:.1f}" for x in c["val_H"])
    return [f"- {SPLIT_NAME[split]}, {model} seed {seed}: validation H per epoch [{h}]; chosen epoch "
            f"{c['epoch']} (smoothed over {c['smooth_epochs']}); learning rates "
            f"{', '.join(f'{x:g}' for x in c['lr'])}; last-epoch training loss {c['loss_validation_last']:.3f} "
            f"(validation run), {c['loss_final_last']:.3f} (final run)"]


def wall_times(records: list[dict]) -> list[str]:
    """One line per (split, machine): the backbone and extraction times of that machine's backbone and the mean
    head time per model, all from heads trained there (a split's backbone was trained once per CPU model)."""
    heads = [r for r in records if r["model"] != "mlp" and not r["model"].endswith("-2s")
             and isinstance(r.get("wall_time_s"), dict)]
    lines = []
    for split in (*RANDOM, "3210"):
        groups = defaultdict(list)
        for r in heads:
            if r["split"] == SPLIT_NAME[split]:
                groups[machine_of(r) + (" (bone stream)" if r["model"].endswith("-bone") else "")].append(r)
        for machine, rs in sorted(groups.items()):
            w = rs[0]["wall_time_s"]
            by_model = defaultdict(list)
            for r in rs:
                by_model[r["model"]].append(r["wall_time_s"]["head"])
            heads_s = ", ".join(f"{m} {np.mean(v):.0f} s" for m, v in by_model.items())
            lines.append(f"- {SPLIT_NAME[split]} on {machine}: backbone {w.get('backbone', '?')} s, extraction "
                         f"{w.get('extract', '?')} s, head (mean per run) {heads_s}; device {rs[0].get('device')}")
    return lines


def machines(records: list[dict]) -> str:
    """The CPU models the head runs were trained on, e.g. 'AMD EPYC: 30 heads, Intel Xeon: 4 heads'."""
    count = defaultdict(int)
    for r in records:
        if r["model"] != "mlp":
            count[machine_of(r)] += 1
    return ", ".join(f"{k}: {n} heads" for k, n in sorted(count.items())) or "no heads"


SHIPPED = ("star-pool42-32-10", "baseline-pool42-32-10", "star-noam-pool42-32-10")


def shipped_lines() -> list[str]:
    """The shipped checkpoints' own test metrics, from their sidecars."""
    lines = ["| checkpoint | ZSL | S | U | H (val gamma) | gamma val | H best (test) | AUSUC | trained on | wall time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for name in SHIPPED:
        d = REPO / "checkpoints" / name
        if not (d / "model.json").exists():
            continue
        meta = json.loads((d / "model.json").read_text())
        m, w = meta["metrics"], meta.get("wall_time_s", {})
        wall = ", ".join(f"{k} {v:.0f}" for k, v in w.items())
        lines.append(f"| `checkpoints/{name}` | {pct(m['zsl_acc'])} | {pct(m['S'])} | {pct(m['U'])} | {pct(m['H'])} | "
                     f"{meta['gamma']['value']:.3f} | {pct(m['H_best_test'])} | {pct(m['ausuc'])} | "
                     f"{meta.get('device')} | {wall} (total {sum(w.values()):.0f}) |")
    return lines


def write(records: list[dict], everything: list[dict] | None = None) -> tuple[Path, Path]:
    """RESULTS.md and results.json from ``records`` (one per split x model x seed); the variant table pairs
    runs within a machine over ``everything`` (default ``records``)."""
    everything = records if everything is None else everything
    rand = [r for r in records if r["split"] != "pool42-32/10"]
    rand_all = [r for r in everything if r["split"] != "pool42-32/10"]  # for pairs within a machine
    main = [r for r in records if r["split"] == "pool42-32/10"]
    today = dt.date.today().isoformat()
    lines = [
        "# Results on pool42 (NW-UCLA + MSR Action3D + GTU3D, 42 classes): the v2 recipe",
        "",
        f"Written by `python bench/results.py` on {today} from the heads of `bench/random_splits.py` (kept in",
        "`bench/results/heads_v2.json`) and the records of `bench/mlp_floor.py` (commands below); every number was",
        f"measured on this project's 2-core CPU machines, no GPU ({machines(records)}; two training jobs at a time,",
        "one thread each; each run's machine is in its record). Accuracies in %. The machine-readable records are",
        "in `docs/results.json`.",
        "",
        "Recipe (`configs/pool42-*-v2.yaml`): canonical skeletons (`view,joints`), Shift-GCN backbone trained on the",
        "split's seen classes (14 epochs, seed 0), features cached with 4 augmented copies, head trained on one copy",
        "per clip per epoch; epoch and gamma chosen on the protocol validation fold (each source's own held-out views",
        "or subjects, a quarter of each source's seen classes as pseudo-unseen; validation H smoothed over 3 epochs;",
        "`star-6` / `baseline`: one fold, `*-f3`: the mean of 3 folds, the shipped recipe since 2026-12-02);",
        "the final head replays the validation run's learning rates up to that epoch. `H (val gamma)` is H at the",
        "gamma chosen on validation; `H best (test)` picks gamma on the test set (the paper's protocol, optimistic,",
        "reported, never used to choose). The seed changes the head's initialisation and batches and the validation",
        "fold; each split has one backbone.",
        "",
        "## Random splits r0-r4 (10 unseen classes drawn with `sorted(default_rng(s).choice(42, 10, replace=False))`)",
        "",
        "Mean over splits of the per-split mean over seeds, ± the 95 % CI over the 5 split means (t, 4 d.o.f.).",
        "",
        *table(rand, MAIN_MODELS, over_splits=True),
        "",
        "The 3-fold recipe and its variants (bf16 head, part weight chosen on validation) on the same splits:",
        "",
        *table(rand, RECIPE_MODELS, over_splits=True),
        "",
        "Paired per-split differences (each split: mean over the seeds both models have; mean ± 95 % CI over splits):",
        "",
        "| difference | ZSL | H (val gamma) | H best (test) | AUSUC |",
        "|---|---:|---:|---:|---:|",
    ]
    for a, b in (("star-6", "baseline"), ("star-6", "mlp"), ("baseline", "mlp"), ("star-6", "star-4"),
                 ("star-6", "star-2"), ("star-6-f3-bf16-pw16", "baseline-f3"), ("star-6-f3-bf16-pw16", "mlp"),
                 ("star-6-f3-bf16-pw16", "star-6-f3-bf16"), ("star-6-f3-bf16-pw", "star-6-f3-bf16"),
                 ("star-6-f3-bf16-noam", "baseline-f3"), ("star-6-f3-bf16-noam", "star-6-f3-bf16"),
                 ("star-6-f3-bf16-noam", "mlp"), ("star-6-f3-bf16-pw16-noam", "star-6-f3-bf16-noam"),
                 ("star-6-f3-bf16-pw16-noam-mpnet", "star-6-f3-bf16-pw16-noam"), ("baseline-f3-mpnet", "baseline-f3"),
                 ("star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3-mpnet"),
                 ("star-6-f3-bf16-pw16-noam-mpnet", "baseline-f3"), ("star-6-f3-bf16-pw16-noam-mpnet", "mlp"),
                 ("baseline-f3-bone", "baseline-f3"), ("baseline-f3-2s", "baseline-f3"),
                 ("star-6-f3-bf16-pw16-noam-bone", "star-6-f3-bf16-pw16-noam"),
                 ("star-6-f3-bf16-pw16-noam-2s", "star-6-f3-bf16-pw16-noam"),
                 ("star-6-f3-bf16-pw16-noam-2s", "baseline-f3-2s"),
                 *((m, "star-6-f3-bf16-pw16-noam") for m in REGULARISED), *((m, "baseline-f3") for m in REGULARISED)):
        cells = [paired(rand_all, a, b, k) for k in ("zsl_acc", "H", "H_best_test", "ausuc")]
        if cells[0][2]:
            lines.append(f"| {a} - {b} ({cells[0][2]} splits) | " + " | ".join(pct(*c[:2]) for c in cells) + " |")
    lines += ["", "### Goals of issue 11", "", *goals(rand, main, rand_all), "",
              "### Per source and own-source share (random splits)", "",
              "S and U per source dataset at the validation gamma; own-source share = share of unseen test clips whose",
              "best-scoring seen class comes from their own source dataset, against the share expected if it were the",
              "text-nearest seen class of their class (MiniLM name cosine). Where the pull comes from:",
              "docs/SOURCE_PROBE.md (`bench/source_probe.py`).", "",
              *source_table(rand, MAIN_MODELS), "",
              "How much of the ZSL error is the dataset: ZSL accuracy as measured, and as it would be if each unseen",
              "clip were ranked only among the unseen classes of its own dataset (an oracle that knows the dataset, not",
              "a method; mean ± 95 % CI over split means, the heads whose checkpoints are on disk):", "",
              *oracle_table(rand, ("star-6-f3-bf16-pw16-noam", "star-6-f3-bf16-noam", "baseline-f3",
                                   *REGULARISED),
                           pairs=(("star-6-f3-bf16-pw16-noam", "baseline-f3"), ("star-6-f3-bf16-noam", "baseline-f3"))),
              "",
              "## The shipped checkpoints (pool42-32/10, seed 0)", "",
              "From their sidecars (`star eval --checkpoint checkpoints/star-pool42-32-10` recomputes them). All three",
              "read one backbone: the bf16 torchrun backbone of `bench/default_timing.py --mode ddp` (runs/v2-3210-ddp,",
              "copied to runs/v3n-3210 and runs/v3-3210; the backbone section of configs/pool42-32-10-v3.yaml), trained",
              "on the Intel Xeon. `star-pool42-32-10` (the app's default, with part attention) and",
              "`baseline-pool42-32-10` are configs/pool42-32-10-v3.yaml (bf16, part weight chosen on validation, 3",
              "validation folds, 2 processes under torchrun; the baseline with `--head.model baseline`), each head",
              "trained alone on the machine. `star-noam-pool42-32-10` is configs/pool42-32-10-v3-noam.yaml (the same",
              "with mean-pooled parts); its head ran with other jobs on the machine. Not among the 32/10 runs below,",
              "which read the fp32 backbone of configs/pool42-32-10-v2.yaml.", "",
              *shipped_lines(), "",
              "## pool42-32/10 (the shipped split)", "",
              "Mean ± 95 % CI over seeds (one backbone).", "",
              *table(main, (*MAIN_MODELS, *ABLATIONS), over_splits=False), ""]
    if any(r["model"] in ABLATIONS for r in main):
        lines += ["Table-7 ablations: the rows `STAR-6 w/o ...` above, same backbone and features as STAR-6.", ""]
    else:
        lines += ["The Table-7 ablations (`python bench/random_splits.py --split 3210 --models "
                  "no-am,no-vap,no-spp,no-mpce,no-sce,no-gce`) were not run with this recipe yet.", ""]
    lines += ["### Per source (32/10)", "", *source_table(main, MAIN_MODELS), "",
              "## Variants against their reference, paired by seed", "",
              "Same split, same seed, same machine (so the same backbone, validation fold and initialisation); mean ±",
              "95 % CI over the runs both models have (t, runs - 1 d.o.f.; no CI from one run). Variants: `*-f3`, model",
              "selection on the mean of 3 pseudo-unseen validation folds instead of one; `star-6-f3-bf16`, the",
              "shipped recipe's head trained in bfloat16 autocast (`head.precision: bf16`); `star-6-f3-bf16-pw`, the",
              "same training runs with the class score's part weight chosen on validation; the text encoder",
              "all-mpnet-base-v2 instead of MiniLM (`*-mpnet`), the part descriptions before their rewrite",
              "(`star-6-desc-v1`), fewer parts, the global baseline, and the Table-7 ablations.", "",
              *variant_lines(everything), "",
              "## Learning curves (STAR-6, seed 0)", "",
              *[x for s in (*RANDOM, "3210") for x in learning_curve_lines(records, s)], "",
              "## Wall times on this machine", "", *wall_times(records), "",
              "## The whole default, timed alone (issue 11's 20-minute goal)", "",
              "`bench/default_timing.py` runs `star train-backbone`, `star extract` and `star train` with",
              "configs/pool42-32-10-v2.yaml alone on the machine; the stage times come from the checkpoint's sidecar.",
              "`threads`: one process per stage with 2 threads; `ddp`: 2 processes of one thread each under `torchrun`",
              "(gloo) for training (DistributedDataParallel) and, in the later records, extraction too.", "",
              *default_timing.table(default_timing.load()), "",
              "## All runs", "",
              "Every stored run, also those superseded in the tables above by a re-run of the same split, model and",
              "seed on another machine (another backbone).", "", *per_run_table(everything), "",
              "## Reproduce", "",
              "```",
              "export OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1",
              "for s in r0 r1 r2 r3 r4 3210; do .venv/bin/python bench/random_splits.py --split $s "
              "--models star-6,baseline --seeds 0,1,2; done",
              ".venv/bin/python bench/random_splits.py --split r0,r1,r2,r3,r4,3210 --models star-4,star-2 --seeds 0",
              ".venv/bin/python bench/mlp_floor.py --split pool42-r0,pool42-r1,pool42-r2,pool42-r3,pool42-r4,pool42-32/10 "
              "\\",
              f"    --seed 0,1,2 --canonical {MLP_SPEC} --protocol protocol --json-out {MLP_JSON.relative_to(REPO)} --skip-done",
              ".venv/bin/python bench/results.py",
              "```", ""]
    md = REPO / "docs" / "RESULTS.md"
    js = REPO / "docs" / "results.json"
    # bench/purls_report.py's section and records (PURLS's splits, leave one dataset out) stay as they are
    old_md = md.read_text() if md.is_file() else ""
    text = "\n".join(lines)
    if PUBLISHED_BEGIN in old_md:
        kept = old_md.split(PUBLISHED_BEGIN, 1)[1].split(PUBLISHED_END, 1)[0]
        text = with_published_block(text, PUBLISHED_BEGIN + kept + PUBLISHED_END)
    old_js = json.loads(js.read_text()) if js.is_file() else []
    foreign = [r for r in old_js if str(r.get("split", "")).startswith(PUBLISHED_SPLITS)]
    for path, text in ((md, text), (js, json.dumps(records + foreign, indent=1))):
        _write_atomic(path, text)
    return md, js


def main() -> int:
    everything = collect()
    md, js = write(current(everything), everything)
    print(f"wrote {md} and {js} ({len(current(everything))} records, {len(everything)} stored)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
