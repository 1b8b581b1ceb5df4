"""Fit the shipped source model (``assets/source_model.json``): which pool42 dataset a clip's recording resembles.

``star.source_model`` explains the model; the Predict page shows it for each clip. This script fits it on
all 2,519 pool42 clips after the shipped canonical spec (``view,joints``, the spec of the shipped
checkpoints), from recording cues only (``star.skeleton.cues``), and records in the file how well it does:

- the balanced accuracy on classes it never saw (7 folds grouped by class, as in bench/source_probe.py,
  whose "recording cues" row this is), with the recall per dataset;
- how often a training clip itself is flagged "unlike every training dataset" (a false-alarm rate);
- what it says about the two genuine NTU RGB+D clips in $STAR_DATA_DIR/ntu_samples (Kinect v2, a
  recording only GTU3D of the three shares), and about the shared videos in $STAR_DATA_DIR/video after
  BlazePose (``star.video``; skipped when the pose models are not set up), as examples of new sensors.

    .venv/bin/python bench/source_model.py                    # about a minute on one CPU thread
    .venv/bin/python bench/source_model.py --out /tmp/sm.json # somewhere else
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.source_probe import C_REG, FOLDS, source_from_unseen_classes  # noqa: E402
from star.data import get_benchmark  # noqa: E402
from star.data.benchmarks import POOL42_COMPONENTS  # noqa: E402
from star.paths import data_dir  # noqa: E402
from star.skeleton.canonical import Canonical  # noqa: E402
from star.skeleton.cues import recording_cues  # noqa: E402
from star.skeleton.io import read_ntu_skeleton  # noqa: E402
from star.source_model import DISPLAY_NAMES, SOURCE_MODEL_FILE, UNLIKE_ALL, SourceModel  # noqa: E402
from star.training.runlog import cpu_model  # noqa: E402

SPEC = "view,joints"


def pool42_cues(spec: Canonical) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, NUM_CUES) cues, (N,) source index into POOL42_COMPONENTS and (N,) class label of every pool42 clip."""
    bench = get_benchmark("pool42-32/10")  # the class split does not matter: every clip is used
    bank = bench.load_bank()
    cues = np.stack([recording_cues(spec.apply(bank.clip(i).frames)) for i in range(len(bank))])
    return cues, bench.component_of(bank), bank.label.copy()


def video_resemblance(model: SourceModel, path: Path) -> dict | None:
    """What the model says about a video's pose (BlazePose, ``star.video``); None without the pose models."""
    from star.video import extract_pose
    from star.video.decode import NoPersonError
    from star.video.models import models_ready

    if not models_ready():
        return None
    try:
        r = model.resemblance(extract_pose(path).to_clip().frames)
    except NoPersonError:
        return {"error": "no full body in any frame"}
    return {"resembles": r.best, "probabilities": [round(float(p), 4) for p in r.probabilities],
            "unusual_cues": len(r.unusual), "unlike_all": r.unlike_all}


def fit(out: Path) -> SourceModel:
    t0 = time.perf_counter()
    spec = Canonical.parse(SPEC)
    cues, source, labels = pool42_cues(spec)
    sources = tuple(DISPLAY_NAMES[c.prefix] for c in POOL42_COMPONENTS)
    cv = source_from_unseen_classes(cues, source, labels)
    model = SourceModel.fit(cues, source, sources, SPEC, C_REG)
    flagged = np.array([len(model.unusual_cues(c)) for c in cues])
    samples = {}
    for path in sorted((data_dir() / "ntu_samples").glob("*.skeleton")):
        r = model.resemblance(read_ntu_skeleton(path).frames)
        samples[path.name] = {"resembles": r.best, "probabilities": [round(float(p), 4) for p in r.probabilities],
                              "unusual_cues": len(r.unusual), "unlike_all": r.unlike_all}
    videos = {}
    for path in sorted((data_dir() / "video").glob("*.*")):
        videos[path.name] = video_resemblance(model, path)
    info = {"fitted_on": f"all pool42 clips ({len(cues)}), canonical spec {SPEC}", "c_reg": C_REG,
            "clips_per_source": {s: int(np.sum(source == k)) for k, s in enumerate(sources)},
            "unseen_class_balanced_accuracy": round(cv["balanced_accuracy"], 4),
            "unseen_class_recall": {DISPLAY_NAMES[k]: round(v, 4) for k, v in cv["recall"].items()},
            "unseen_class_protocol": f"{FOLDS} folds grouped by class (bench/source_probe.py)",
            "training_clips_unlike_all": round(float(np.mean(flagged >= UNLIKE_ALL)), 4),
            "ntu_samples": samples, "video_samples": {k: v for k, v in videos.items() if v is not None},
            "machine": cpu_model(), "date": date.today().isoformat(),
            "wall_time_s": round(time.perf_counter() - t0, 1)}
    model = SourceModel(**{**model.__dict__, "info": info})
    model.save(out)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=SOURCE_MODEL_FILE)
    args = ap.parse_args(argv)
    model = fit(args.out)
    for k, v in model.info.items():
        print(f"{k}: {v}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
