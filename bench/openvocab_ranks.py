"""Where the true action of genuine held-out recordings ranks among the NTU RGB+D 120 names, per shipped checkpoint.

The recordings are the real ones this machine has that no checkpoint trained on: the two NTU RGB+D 60 clips of
``../shared/data/ntu_samples`` (A003 brush teeth, A058 shaking hands; Kinect v2 skeletons) and the RGB video
``../shared/data/video/two_people.mp4`` (two people stepping into a hug, NTU's "hugging"), lifted to a skeleton by
the project's video path (``star.video.load_video_clip``, BlazePose). Each is ranked against the 120 NTU names by
``Predictor.rank_names`` (open vocabulary: the clip's global feature against each name's text embedding), as the
Predict page's "NTU RGB+D 120" preset does; rank 1 is best, chance is about 60.

    .venv/bin/python bench/openvocab_ranks.py            # writes bench/results/openvocab_ranks.json

Three recordings are a handful, not a benchmark: the ranks say whether a model is near chance on NTU, no more.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.data.benchmarks import class_list  # noqa: E402
from star.inference import Predictor  # noqa: E402
from star.paths import data_dir  # noqa: E402
from star.training.runlog import cpu_model  # noqa: E402

CHECKPOINTS = ("star-pool42-32-10", "star-openvocab-pool69")
RECORDINGS = (("ntu_samples/S002C001P003R001A003.skeleton", "brush teeth"),
              ("ntu_samples/S001C003P008R002A058.skeleton", "shaking hands"),
              ("video/two_people.mp4", "hugging"))
OUT = REPO / "bench" / "results" / "openvocab_ranks.json"


def load(rel: str):
    from star.skeleton.io import read_ntu_skeleton
    from star.video.pipeline import load_video_clip

    path = data_dir() / rel
    return load_video_clip(path) if path.suffix == ".mp4" else read_ntu_skeleton(path)


def main() -> int:
    names = list(class_list("ntu120"))
    recordings = []
    for rel, truth in RECORDINGS:
        path = data_dir() / rel
        if not path.is_file():
            found = sorted(p.name for p in path.parent.glob("*"))
            raise SystemExit(f"{path} not found (the folder has {found})")
        recordings.append((rel, truth, load(rel)))
    rows = []
    for name in CHECKPOINTS:
        predictor = Predictor.load(REPO / "checkpoints" / name)
        for rel, truth, clip in recordings:
            t0 = time.perf_counter()
            (ranked,) = predictor.rank_names([clip], names, len(names))
            order = [r["class"] for r in ranked]
            rows.append({"checkpoint": name, "recording": rel, "truth": truth, "rank": order.index(truth) + 1,
                         "of": len(names), "top5": order[:5], "seconds": round(time.perf_counter() - t0, 2)})
            print(f"{name:24s} {rel:45s} {truth!r:18s} rank {rows[-1]['rank']:3d} / {len(names)}   top 5: "
                  f"{', '.join(order[:5])}")
    OUT.write_text(json.dumps({"machine": cpu_model(), "names": "NTU RGB+D 120", "rows": rows}, indent=1))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
