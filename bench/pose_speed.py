"""Pose extraction speed on 1080p video: frames per second and peak memory.

Cases (each in a fresh process, so peak memory is per case):

- ``one person``: a 1080p single-person clip made on the fly in a temporary folder (never committed)
  from the shared ``two_people.mp4``: the left 880 px (only the left person) of its first 24 frames,
  on a grey 1920x1080 canvas, played forward and back to 240 frames; tracked with max_people=1 and
  with max_people=2 (the second adds a tiled detector pass every second, looking for someone else);
- ``two people``: ``two_people.mp4`` itself (1920x1080, 72 frames), max_people=2.

fps counts decoding, detection, tracking and the landmark model (not loading the models); peak memory
is the process's maximum resident set size. The machine's CPU, core count and load are printed too:
other work on the same cores slows this down.

    python bench/pose_speed.py [--video PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from star.paths import data_dir


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_single_person(source: Path, out: Path, frames: int = 24, length: int = 240) -> Path:
    import cv2
    import numpy as np

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS)
    clips = []
    while len(clips) < frames:
        ok, frame = cap.read()
        if not ok:
            break
        canvas = np.full((1080, 1920, 3), 200, np.uint8)
        canvas[:, 520:1400] = frame[:, :880]
        clips.append(canvas)
    cap.release()
    order = clips + clips[::-1]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1920, 1080))
    for i in range(length):
        writer.write(order[i % len(order)])
    writer.release()
    return out


def child(video: str, max_people: int, threads: int) -> None:
    from star.video.pipeline import PoseSettings, extract_pose

    settings = PoseSettings(num_threads=threads)
    settings.tracker.max_people = max_people
    t0 = time.perf_counter()
    pose = extract_pose(video, settings)
    total = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = pose.present.shape[1]
    print(json.dumps({
        "frames": t, "resolution": f"{pose.info.width}x{pose.info.height}", "max_people": max_people,
        "fps": pose.stats["processing_fps"], "fps_with_model_loading": round(t / total, 2),
        "peak_rss_mb": round(peak_mb), "detector_runs": pose.stats["detector_runs"],
        "frames_with_1+_bodies": round(float(pose.present.any(0).mean()), 3),
        "frames_with_2_bodies": round(float(pose.present.sum(0).__ge__(2).mean()), 3),
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", type=Path, default=None, help="two-person source (default shared two_people.mp4)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("VIDEO", "MAX_PEOPLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.threads)
        return 0
    video = args.video or data_dir() / "video" / "two_people.mp4"
    if not video.exists():
        print(f"error: {video} not found (set STAR_DATA_DIR or pass --video)")
        return 1
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          f"pose model threads {args.threads}")
    with tempfile.TemporaryDirectory(prefix="star-pose-bench-") as tmp:
        single = make_single_person(video, Path(tmp) / "one_person_1080p.mp4")
        for name, path, people in [("one person", single, 1), ("one person", single, 2), ("two people", video, 2)]:
            out = subprocess.run([sys.executable, __file__, "--threads", str(args.threads), "--child", str(path),
                                  str(people)], capture_output=True, text=True, check=True)
            print(f"{name:10s} {out.stdout.strip()}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
