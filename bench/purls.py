"""Train the runs of the published-table comparison and of leave-one-dataset-out (issue 25).

Benchmarks (``star.data.benchmarks``): ``purls-<dataset>-<split>`` (PURLS's zero-shot splits of NW-UCLA and
UTD-MHAD under its protocol: every seen-class clip trains, every unseen-class clip is a ZSL test clip),
``purls-...-gzsl`` (the same class splits under each dataset's own cross-view / cross-subject clips, for GZSL
S / U / H) and ``lodo-<source>`` (pool69 with one source held out: the other three train, every clip of the
fourth is ranked among its own class names). For each benchmark:

1. one backbone + cached features, trained with seed 0 on the seen classes' training clips
   (``star train-backbone`` / ``star extract`` under ``torchrun``, 2 processes of 1 thread: the fastest way on
   a 2-core CPU), in ``runs/<benchmark>``; skipped when the run directory has them;
2. one head per (model, seed) in ``runs/<benchmark>/ckpt/<model>-s<seed>``, skipped when it exists, trained in
   this process on one thread (run two processes with different ``--seeds`` to use two cores). The seed changes
   the head's initialisation, its batches and the pseudo-unseen validation folds; the backbone is shared.

Models (configs/purls-v3.yaml is the shipped v3 recipe with one validation fold instead of three, ``star-6``):
``star-6`` STAR with 6 parts and cross-attention; ``star-6-f3`` the same with the shipped recipe's three folds (four
times the head's cost); ``star-6-noam`` mean-pooled part tokens instead of attention; ``baseline`` the global
baseline (no parts, no prompts) on the same features. The plain-MLP floor is ``bench/mlp_floor.py``;
``bench/purls_report.py`` writes the tables. The epoch and part weight are chosen on validation ZSL accuracy
(``validation.select_by: zsl``) on the ZSL benchmarks and on validation H on the ``-gzsl`` ones.

    .venv/bin/python bench/purls.py --benchmarks purls --stage backbone
    .venv/bin/python bench/purls.py --benchmarks purls --stage heads --worker 0/2 &   # two processes, one core each
    .venv/bin/python bench/purls.py --benchmarks purls --stage heads --worker 1/2
    .venv/bin/python bench/purls.py --benchmarks purls-gzsl,lodo --stage backbone
    .venv/bin/python bench/purls.py --benchmarks purls-utdmhad-22/5 --models baseline --seeds 0
    .venv/bin/python bench/purls.py --benchmarks purls-nwucla-8/2 --models star-6-e40,baseline-e40  # 40-epoch backbone
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.config import resolve_config  # noqa: E402
from star.data.benchmarks import list_benchmarks  # noqa: E402
from star.features import FEATURE_INFO_FILE, backbone_done  # noqa: E402

CONFIG = REPO / "configs" / "purls-v3.yaml"
GROUPS = {"purls": [b for b in list_benchmarks() if b.startswith("purls-") and not b.endswith("-gzsl")],
          "purls-gzsl": [b for b in list_benchmarks() if b.startswith("purls-") and b.endswith("-gzsl")],
          "lodo": [b for b in list_benchmarks() if b.startswith("lodo-")]}
KNOWN = tuple(b for group in GROUPS.values() for b in group)
MODELS = {"star-6": {}, "star-6-f3": {"validation.folds": 3}, "star-6-noam": {"head.arch.use_attention": False},
          "baseline": {"head.model": "baseline", "head.part_weight_grid": []}}
# Backbones other than the recipe's, each in its own run directory ``runs/<benchmark>-<name>``: ``e40`` trains 40
# epochs instead of 14 (lr drops at 30 and 37), for the NW-UCLA splits, whose 14-epoch backbones end at 71-76 %
# training accuracy, still rising when the rate drops (their backbone_log.jsonl). A model ``<model>-<backbone>``
# is ``<model>``'s head on that backbone.
BACKBONES = {"e40": {"backbone.epochs": 40, "backbone.milestones": [30, 37]}}
MODELS.update({f"{m}-{b}": MODELS[m] for b in BACKBONES for m in ("star-6", "baseline")})


def backbone_of(model: str | None) -> str | None:
    """The backbone variant a model's heads sit on (None: the recipe's own)."""
    return next((b for b in BACKBONES if model is not None and model.endswith(f"-{b}")), None)


def run_dir(benchmark: str, backbone: str | None = None) -> str:
    return f"runs/{benchmark.replace('/', '-')}" + (f"-{backbone}" if backbone else "")


def checkpoint_dir(benchmark: str, model: str, seed: int) -> str:
    return f"{run_dir(benchmark, backbone_of(model))}/ckpt/{model}-s{seed}"


def overrides(benchmark: str, model: str | None = None, seed: int = 0, backbone: str | None = None) -> dict:
    """The config overrides of one run: the benchmark, its run directory (and backbone variant: ``backbone``, or
    the model's) and, for a head, model and seed."""
    backbone = backbone or backbone_of(model)
    out = {"benchmark": benchmark, "run_dir": run_dir(benchmark, backbone), **BACKBONES.get(backbone, {})}
    if benchmark.endswith("-gzsl"):
        out["validation.select_by"] = "H"  # the GZSL columns: epoch and part weight chosen on validation H
    if benchmark.startswith("lodo-"):
        out["validation.pseudo_unseen_fraction"] = 0.25  # per source: 3 of 12 .. 7 of 27 seen classes
    if model is not None:
        out.update({**MODELS[model], "seed": seed, "out": checkpoint_dir(benchmark, model, seed)})
    return out


def flags(values: dict) -> list[str]:
    """``{"head.part_weight_grid": []}`` -> ``["--head.part-weight-grid", "[]"]`` (the CLI's dotted flags)."""
    out = []
    for key, value in values.items():
        *path, leaf = key.split(".")
        text = "[" + ", ".join(str(v) for v in value) + "]" if isinstance(value, list) else str(value)
        out += ["--" + ".".join([*path, leaf.replace("_", "-")]), text]
    return out


def star(command: str, values: dict, processes: int = 2) -> None:
    """``star <command> -c configs/purls-v3.yaml <flags>`` under torchrun (``processes`` x 1 thread)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runner = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    cmd = [*runner, "-m", "star", command, "-c", str(CONFIG), *flags(values)]
    subprocess.run(cmd, cwd=REPO, env=env, check=True)


def ensure_backbone(benchmark: str, backbone: str | None = None) -> None:
    values = overrides(benchmark, backbone=backbone)
    cfg = resolve_config(path=CONFIG, overrides=values)
    stages = (("train-backbone", backbone_done(cfg.run_path, cfg.backbone.epochs)),
              ("extract", (cfg.run_path / FEATURE_INFO_FILE).exists()))
    for stage, done in stages:
        if not done:
            t0 = time.perf_counter()
            star(stage, values)
            print(f"== {benchmark}: {stage} {time.perf_counter() - t0:.0f} s", flush=True)


def head_jobs(benchmarks: list[str], models: list[str], seeds: list[int], worker: tuple[int, int] = (0, 1)) -> list:
    """(benchmark, model, seed) in seed-major order (every benchmark's seed 0 before any seed 1, so a run cut short
    still covers every split), every ``n``-th job from the ``i``-th for worker ``(i, n)``."""
    jobs = [(b, m, s) for s in seeds for b in benchmarks for m in models]
    i, n = worker
    return jobs[i::n]


def train_heads(jobs: list[tuple[str, str, int]]) -> None:
    """Heads in this process, one thread (run ``--worker 0/2`` and ``--worker 1/2`` side by side to use two
    cores: a head on a few hundred cached clips gains little from torchrun, whose start-up alone takes seconds)."""
    import torch

    from star.training.head import train_head

    torch.set_num_threads(1)
    for benchmark, model, seed in jobs:
        if (REPO / checkpoint_dir(benchmark, model, seed) / "model.json").exists():
            continue
        t0 = time.perf_counter()
        train_head(resolve_config(path=CONFIG, overrides=overrides(benchmark, model, seed)))
        print(f"== {benchmark}: {model} seed {seed} {time.perf_counter() - t0:.0f} s", flush=True)


def _names(text: str, known: tuple[str, ...], what: str, ap: argparse.ArgumentParser,
           groups: dict | None = None) -> list[str]:
    items = []
    for item in (s.strip() for s in text.split(",") if s.strip()):
        items += (groups or {}).get(item, [item])
    bad = [s for s in items if s not in known]
    if bad:
        ap.error(f"unknown {what}: {', '.join(bad)} (known: {', '.join([*(groups or {}), *known])})")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--benchmarks", default="purls", help=f"comma-separated names or groups ({', '.join(GROUPS)})")
    ap.add_argument("--models", default="star-6,star-6-noam,baseline", help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--seeds", default="0,1,2,3,4", help="head seeds, comma-separated")
    ap.add_argument("--stage", choices=("all", "backbone", "heads"), default="all")
    ap.add_argument("--worker", default="0/1", help="i/n: train every n-th head from the i-th (heads in n processes)")
    args = ap.parse_args(argv)
    benchmarks = _names(args.benchmarks, KNOWN, "benchmark", ap, GROUPS)
    models = _names(args.models, tuple(MODELS), "model", ap)
    seeds = [int(s) for s in args.seeds.split(",")]
    i, n = (int(x) for x in args.worker.split("/"))
    if not 0 <= i < n:
        ap.error(f"--worker {args.worker}: expected i/n with 0 <= i < n")
    if args.stage in ("all", "backbone"):
        for benchmark in benchmarks:
            for backbone in dict.fromkeys(backbone_of(m) for m in models):
                ensure_backbone(benchmark, backbone)
    if args.stage in ("all", "heads"):
        train_heads(head_jobs(benchmarks, models, seeds, (i, n)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
