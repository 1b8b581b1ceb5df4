"""Time the whole shipped default (``configs/pool42-32-10-v2.yaml``: train-backbone, extract, train) on this machine.

Issue 11's goal: the whole default takes 20 minutes or less on the project's 2-core CPU. Each mode runs the
three commands alone on the machine into its own run directory and reads the stage times back from the
checkpoint's sidecar (``wall_time_s``, written by the commands themselves, with the ``device`` string):

* ``threads``: every stage one process with ``--threads`` threads (default 2, the whole machine);
* ``ddp``: every stage as ``--procs`` processes of one thread each under ``torchrun`` (gloo): the backbone and
  the head train with DistributedDataParallel, extraction shares the batches.

``--config`` picks the recipe (default the shipped v2; ``configs/pool42-32-10-v3.yaml`` is the candidate next one). ``--precision`` overrides the
config's ``backbone.precision`` and ``head.precision`` (bf16: both under bfloat16 autocast). Each finished run appends a
record to ``bench/results/default_timing.json`` (``--collect OUT`` adds the record of a run already trained by
hand, read from its sidecar), and the script prints the table of every stored record.

    .venv/bin/python bench/default_timing.py --mode ddp --precision bf16
    .venv/bin/python bench/default_timing.py --mode ddp --config configs/pool42-32-10-v3.yaml   # bf16 from the config
    .venv/bin/python bench/default_timing.py --table
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
V2 = "configs/pool42-32-10-v2.yaml"  # the shipped recipe, and that of the records that name none
CONFIG = V2
RESULTS = REPO / "bench" / "results" / "default_timing.json"
GOAL_S = 20 * 60


def commands(mode: str, precision: str | None, procs: int, threads: int, run_dir: str, out: str,
             config: str = CONFIG) -> list[tuple[list[str], dict]]:
    """The three stages as (argv, extra environment); ``precision`` None keeps the config's."""
    flags = ["-c", config, "--run-dir", run_dir, "--out", out,
             *(["--backbone.precision", precision, "--head.precision", precision] if precision else [])]
    python = [sys.executable, "-m", "star"]
    torchrun = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node", str(procs), "-m", "star"]
    if mode == "threads":
        env = {"OMP_NUM_THREADS": str(threads)}
        return [([*python, stage, *flags], env) for stage in ("train-backbone", "extract", "train")]
    one = {"OMP_NUM_THREADS": "1"}
    return [([*torchrun, stage, *flags], one) for stage in ("train-backbone", "extract", "train")]


def record_of(out: Path, mode: str, precision: str | None, procs: int, threads: int) -> dict:
    """The timing record of a finished run, from its checkpoint sidecar (``precision`` None: the config's)."""
    meta = json.loads((out / "model.json").read_text())
    wall = {k: float(v) for k, v in meta["wall_time_s"].items()}
    m = meta["metrics"]
    if precision is None:
        precision = meta["config"]["head"]["precision"]
    return {"checkpoint": str(out), "mode": mode, "precision": precision,
            "procs": procs if mode == "ddp" else 1, "threads": 1 if mode == "ddp" else threads,
            "device": meta["device"], "wall_time_s": wall, "total_s": round(sum(wall.values()), 1),
            "zsl_acc": m["zsl_acc"], "H": m["H"], "H_best_test": m["H_best_test"],
            "recorded": datetime.date.today().isoformat()}


def load() -> list[dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else []


def store(rec: dict) -> None:
    recs = [r for r in load() if r["checkpoint"] != rec["checkpoint"] or r["device"] != rec["device"]]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps([*recs, rec], indent=1) + "\n")


def table(recs: list[dict]) -> list[str]:
    lines = ["| recipe | mode | precision | device | backbone (s) | extract (s) | head (s) | total (min) | goal 20 min | ZSL | H | note |",
             "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in recs:
        w = r["wall_time_s"]
        lines.append(f"| {Path(r.get('config', V2)).stem} | {r['mode']} | {r['precision']} | {r['device']} | {w.get('backbone', 0):.0f} | "
                     f"{w.get('extract', 0):.0f} | {w.get('head', 0):.0f} | {r['total_s'] / 60:.1f} | "
                     f"{'met' if r['total_s'] <= GOAL_S else 'missed'} | {100 * r['zsl_acc']:.1f} | {100 * r['H']:.1f} | "
                     f"{r.get('note', '')} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("threads", "ddp"), default="ddp")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="override the config's (default: keep)")
    ap.add_argument("--config", default=CONFIG, help=f"the recipe (default {CONFIG})")
    ap.add_argument("--procs", type=int, default=2, help="ddp: training processes (one thread each)")
    ap.add_argument("--threads", type=int, default=2, help="threads: threads of the single process")
    ap.add_argument("--collect", metavar="OUT", help="record a run already trained (its checkpoint folder) and stop")
    ap.add_argument("--table", action="store_true", help="print the stored records and stop")
    ap.add_argument("--note", default="", help="with --collect: how the run was made, for the table")
    args = ap.parse_args(argv)
    if args.collect:
        store({**record_of(Path(args.collect), args.mode, args.precision, args.procs, args.threads), "note": args.note,
               "config": args.config})
    elif not args.table:
        name = f"timing-{Path(args.config).stem}-{args.mode}-{args.precision or 'config'}"
        run_dir, out = f"runs/{name}", f"runs/{name}/ckpt/star-{name}"
        if Path(REPO / run_dir).exists():
            raise SystemExit(f"{run_dir} exists: remove it to time a fresh run")
        for argv_, env in commands(args.mode, args.precision, args.procs, args.threads, run_dir, out, args.config):
            print("$", " ".join(argv_), flush=True)
            subprocess.run(argv_, cwd=REPO, env={**os.environ, **env}, check=True)
        store({**record_of(REPO / out, args.mode, args.precision, args.procs, args.threads), "config": args.config})
    print("\n".join(table(load())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
