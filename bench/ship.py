"""Ship a trained checkpoint: copy it to ``checkpoints/<name>`` with the sidecar's ``name`` set to that name.

The copy is written through ``star.checkpoint.save_checkpoint`` (a temporary folder swapped in, so a shipped
checkpoint is never half-written); weights, bundle and every other sidecar field are kept as trained, and the
sidecar records where the checkpoint was copied from (``shipped_from``).

    .venv/bin/python bench/ship.py runs/timing-pool42-32-10-v3-ddp-config/ckpt/star-timing-pool42-32-10-v3-ddp-config \\
        star-pool42-32-10
    .venv/bin/python bench/ship.py runs/pool69-all/ckpt/star-openvocab-pool69 star-openvocab-pool69 \\
        --expected-from bench/results/purls_heads.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def lodo_expectation(heads: list[dict], model: str = "star-6") -> dict:
    """The expected ZSL top-1 on a new sensor with new actions: ``model``'s mean over the four leave-one-dataset-out
    folds of pool69 (each fold: the mean over its seeds), from ``bench/purls_report.py``'s head records."""
    folds: dict[str, list[float]] = {}
    for h in heads:
        if h["benchmark"].startswith("lodo-") and h["model"] == model:
            folds.setdefault(h["benchmark"].removeprefix("lodo-"), []).append(float(h["zsl_acc"]))
    if len(folds) != 4:
        raise ValueError(f"{model} has leave-one-dataset-out heads for {sorted(folds)}, not all four sources: "
                         "run bench/purls.py --benchmarks lodo first")
    per_fold = {k: sum(v) / len(v) for k, v in sorted(folds.items())}
    seeds = min(len(v) for v in folds.values())
    mean = sum(per_fold.values()) / len(per_fold)
    meaning = (f"the mean ZSL top-1 of the same recipe ({model}) over the four leave-one-dataset-out folds of pool69: "
               "trained on three of NW-UCLA, MSR Action3D, GTU3D and UTD-MHAD, every clip of the fourth ranked among "
               "that dataset's own 10-27 action names (chance 4-10 %); per held-out dataset "
               + ", ".join(f"{k} {100 * v:.1f} %" for k, v in per_fold.items()) + f"; {seeds}+ seeds each; "
               "docs/RESULTS.md, 'Leave one dataset out'")
    return {"zsl_acc": mean, "per_fold": per_fold, "model": model, "meaning": meaning}


def ship(src: str | Path, name: str, root: str | Path = REPO / "checkpoints", extra: dict | None = None) -> Path:
    """Copy the checkpoint ``src`` to ``root/name`` (replacing what is there) and return the new folder; ``extra``
    sidecar fields are added (e.g. ``expected_accuracy``)."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"checkpoint name {name!r}: a plain folder name, like star-pool42-32-10")
    ck = load_checkpoint(src)
    src_path = Path(src).resolve()
    where = str(src_path.relative_to(REPO)) if src_path.is_relative_to(REPO) else str(src_path)
    meta = {**ck.meta, **(extra or {}), "name": name, "shipped_from": where}
    bundle = ck.load_bundle() if ck.bundle_path.is_file() else None
    return save_checkpoint(Path(root) / name, ck.tensors, meta, bundle)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="a trained checkpoint folder (model.json, model.safetensors, bundle.npz)")
    ap.add_argument("name", help="the shipped name, e.g. star-pool42-32-10")
    ap.add_argument("--expected-from", default=None, metavar="HEADS_JSON",
                    help="record the leave-one-dataset-out accuracy of STAR-6 from these head records "
                         "(bench/results/purls_heads.json) as the checkpoint's expected accuracy on a new sensor")
    args = ap.parse_args(argv)
    extra = None
    if args.expected_from:
        import json

        extra = {"expected_accuracy": lodo_expectation(json.loads(Path(args.expected_from).read_text()))}
    print(f"shipped {ship(args.src, args.name, extra=extra)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
