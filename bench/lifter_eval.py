"""The two ways of getting 3-D from video, measured side by side: the learned lifter (``star.video.lifter``) and
BlazePose's world landmarks.

    .venv/bin/python bench/lifter_eval.py     # writes bench/results/lifter_eval.json and the table in docs/VIDEO.md
    .venv/bin/python bench/lifter_eval.py --lifter DIR --out FILE.json   # another lifter: parts 1 and 2 only

1. **Held-out projected clips** (the lifter's own test): every test-protocol clip of pool69-all (subjects and
   NW-UCLA's view that the lifter never saw) through two random virtual cameras with BlazePose-like 2-D errors;
   root-aligned MPJPE and bone-length error against the Kinect truth, for the learned lifter and for the
   no-depth reference (every joint at the true spine-base depth). BlazePose's world landmarks cannot be
   measured here: they come from images, and a projected clip has none.
2. **Genuine NTU RGB+D clips** (Kinect v2, a sensor and setup the lifter never saw): the two clips of
   ``ntu_samples`` projected through NTU's colour camera (``star.skeleton.ntu_format``'s fitted pinhole,
   1920x1080, about 84 degrees), clean and with BlazePose-like errors; MPJPE, and for A003 (brushing teeth) the
   closest and median distance from either hand to the head, lifted against the Kinect truth.
3. **The shared video** ``two_people.mp4`` (pose once, then lifted both ways by ``relift``): bone-length
   stability (coefficient of variation over the frames both people are seen), the source model's unusual cues
   and verdict, the rank of "hugging" among the 120 NTU names with the open-vocabulary checkpoint, and the cost
   of each lifter per frame.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.data.benchmarks import class_list, get_benchmark  # noqa: E402
from star.paths import data_dir  # noqa: E402
from star.skeleton.ntu_format import _COLOUR_CAMERA  # noqa: E402
from star.training.lifter import ViewSettings, blazepose_like, clip_tracks, evaluate_views, flat_lift, view_errors  # noqa: E402
from star.training.runlog import cpu_model  # noqa: E402
from star.video.lifter import Lifter, normalise, project  # noqa: E402

OUT = REPO / "bench" / "results" / "lifter_eval.json"
DOC = REPO / "docs" / "VIDEO.md"
NTU_CLIPS = (("S002C001P003R001A003.skeleton", "brush teeth"), ("S001C003P008R002A058.skeleton", "shaking hands"))
HEAD, HANDS = 3, (7, 11)


def hand_to_head(frames: np.ndarray) -> np.ndarray:
    """(T, 25, 3) -> (T,) distance from the nearer hand to the head, metres."""
    return np.min([np.linalg.norm(frames[:, h] - frames[:, HEAD], axis=-1) for h in HANDS], axis=0)


def ntu_rows(lifter: Lifter) -> list[dict]:
    from star.skeleton.io import read_ntu_skeleton

    focal, cx, cy = _COLOUR_CAMERA
    rows, rng = [], np.random.default_rng(7)
    for name, action in NTU_CLIPS:
        clip = read_ntu_skeleton(data_dir() / "ntu_samples" / name)
        for m in range(clip.num_bodies):
            true = clip.frames[m].astype(np.float64)
            true = true[np.any(true != 0, axis=(1, 2))]
            xy = normalise(project(true, focal, (cx, cy)), focal, (cx, cy))
            for noise in ("clean", "BlazePose-like"):
                if noise == "clean":
                    seen, conf = xy, np.ones(xy.shape[:2])
                else:
                    seen, conf = blazepose_like(rng, xy[None])
                    seen, conf = seen[0], conf[0]
                learned = lifter.lift_normalised(seen, conf)
                flat = flat_lift(seen, true[:, 0, 2])
                row = {"clip": name, "action": action, "body": m, "frames": len(true), "2d": noise,
                       "learned": view_errors(learned, true), "flat": view_errors(flat, true)}
                if action == "brush teeth":
                    row["hand_to_head_m"] = {
                        k: {"min": round(float(hand_to_head(v).min()), 3), "median": round(float(np.median(hand_to_head(v))), 3)}
                        for k, v in (("kinect", true), ("learned", learned), ("flat", flat))}
                rows.append(row)
    return rows


def video_rows() -> dict:
    from star.inference import Predictor
    from star.skeleton.clip import Clip
    from star.source_model import load_source_model
    from star.video.pipeline import PoseSettings, extract_pose, relift

    path = data_dir() / "video" / "two_people.mp4"
    t0 = time.perf_counter()
    pose = extract_pose(path, PoseSettings(lifter="blazepose"))
    pose_seconds = time.perf_counter() - t0
    names = list(class_list("ntu120"))
    predictor = Predictor.load(REPO / "checkpoints" / "star-openvocab-pool69")
    source_model = load_source_model()
    out = {"video": path.name, "frames": int(pose.present.shape[1]), "pose_seconds": round(pose_seconds, 2),
           "lifters": {}}
    for lifter in ("blazepose", "learned"):
        relift(pose, PoseSettings(lifter=lifter))  # load the lifter's weights before timing
        t0 = time.perf_counter()
        lifted = relift(pose, PoseSettings(lifter=lifter))
        lift_seconds = time.perf_counter() - t0
        both = lifted.present.all(0)
        cv = []
        for m in range(lifted.joints.shape[0]):
            j = lifted.joints[m][both]
            for a, b in ((4, 5), (5, 6), (8, 9), (9, 10), (12, 13), (13, 14), (16, 17), (17, 18), (0, 20), (4, 8)):
                length = np.linalg.norm(j[:, a] - j[:, b], axis=-1)
                cv.append(float(length.std() / length.mean()))
        clip = Clip(lifted.joints, source=path.name)
        resemblance = source_model.resemblance(clip.frames)
        (ranked,) = predictor.rank_names([clip], names, len(names))
        order = [r["class"] for r in ranked]
        out["lifters"][lifter] = {
            "bone_cv": round(float(np.mean(cv)), 4), "unusual_cues": [u["cue"] for u in resemblance.unusual],
            "resembles_none": bool(resemblance.unlike_all), "resembles": resemblance.best,
            "hugging_rank": order.index("hugging") + 1, "of": len(names), "top5": order[:5],
            "lift_ms_per_frame": round(1000 * lift_seconds / out["frames"], 2),
            "pose_and_lift_fps": round(out["frames"] / (pose_seconds + lift_seconds), 1)}
    return out


def markdown(result: dict) -> str:
    held = result["held_out"]
    lines = ["| held-out projected clips (pool69-all test protocol) | root-aligned MPJPE | bone-length error |",
             "|---|---|---|"]
    for name, r in held.items():
        if isinstance(r, dict):
            lines.append(f"| {name} | {r['mpjpe_m'] * 100:.1f} cm | {r['bone_error_m'] * 100:.1f} cm |")
    lines += ["", "| genuine NTU clip (projected through NTU's colour camera) | 2-D | learned MPJPE | no-depth MPJPE |",
              "|---|---|---|---|"]
    for r in result["ntu"]:
        lines.append(f"| {r['clip']} ({r['action']}, body {r['body']}) | {r['2d']} | {r['learned']['mpjpe_m'] * 100:.1f} cm "
                     f"| {r['flat']['mpjpe_m'] * 100:.1f} cm |")
    teeth = [r for r in result["ntu"] if "hand_to_head_m" in r]
    if teeth:
        lines += ["", "| A003 brushing teeth: nearer hand to head | Kinect | learned | no-depth |", "|---|---|---|---|"]
        for r in teeth:
            h = r["hand_to_head_m"]
            lines.append(f"| {r['2d']} 2-D: closest / median | {h['kinect']['min']:.2f} / {h['kinect']['median']:.2f} m "
                         f"| {h['learned']['min']:.2f} / {h['learned']['median']:.2f} m "
                         f"| {h['flat']['min']:.2f} / {h['flat']['median']:.2f} m |")
    v = result["video"]
    lines += ["", f"| {v['video']} ({v['frames']} frames) | bone-length CV | unusual cues | resembles none | "
              "\"hugging\" rank (NTU-120) | lifting | pose + lifting |", "|---|---|---|---|---|---|---|"]
    for name, r in v["lifters"].items():
        lines.append(f"| {name} | {r['bone_cv']:.3f} | {len(r['unusual_cues'])} | {'yes' if r['resembles_none'] else 'no'} "
                     f"| {r['hugging_rank']} / {r['of']} | {r['lift_ms_per_frame']:.1f} ms/frame | {r['pose_and_lift_fps']:.1f} frames/s |")
    load = result.get("load_average")
    lines += ["", f"Measured by `bench/lifter_eval.py` on {result['machine']} ({result['date']})"
              + (f", load average {load:.1f} from other work on its 2 cores: frame rates are lower than on a quiet "
                 "machine." if load else ".")]
    return "\n".join(lines)


def write_doc(table: str) -> None:
    text = DOC.read_text()
    begin, end = "<!-- generated:lifter -->", "<!-- /generated:lifter -->"
    block = f"{begin}\n{table}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n## Learned lifter against BlazePose's world landmarks\n\n" + block + "\n"
    DOC.write_text(text)


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lifter", default=None, help="another trained lifter's folder (held-out and NTU parts only; "
                    "written to --out, not to docs/VIDEO.md)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    lifter = Lifter.load(args.lifter)
    test = get_benchmark("pool69-all").load_splits()["test"]
    t0 = time.perf_counter()
    result = {"machine": cpu_model(), "date": time.strftime("%Y-%m-%d"), "lifter": lifter.record.get("command"),
              "held_out": evaluate_views(lifter, clip_tracks(test.frames, test.offsets), settings=ViewSettings())}
    print(f"held-out views: {result['held_out']} ({time.perf_counter() - t0:.0f} s)", flush=True)
    result["ntu"] = ntu_rows(lifter)
    if args.lifter is None:  # the video goes through the pipeline, which uses the shipped lifter
        result["video"] = video_rows()
        result["load_average"] = round(os.getloadavg()[0], 1)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    if args.lifter is None:
        table = markdown(result)
        write_doc(table)
        print(table)
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
