"""``star pose VIDEO -o OUT.skeleton``: RGB video -> NTU skeleton file (``star.video``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="an RGB video (.mp4 .avi .mov .mkv .webm)")
    parser.add_argument("-o", "--output", help="output skeleton: .skeleton (NTU text) or .npy "
                        "(default: VIDEO's name with .skeleton, in the current folder)")
    parser.add_argument("--json", dest="json_path", help="also write 2-D landmarks and confidences to this JSON file")
    parser.add_argument("--max-people", type=int, default=2, help="people to track (default 2)")
    parser.add_argument("--hfov", type=float, default=None, help="camera horizontal field of view in degrees "
                        "(default 84.7, NTU's Kinect v2 colour camera), used to place people in depth")
    parser.add_argument("--lifter", choices=("learned", "blazepose"), default=None,
                        help="how 2-D becomes 3-D: 'learned' (the lifter trained on Kinect clips, assets/lifter) or "
                        "'blazepose' (BlazePose's world landmarks); default: the pipeline's (docs/VIDEO.md says why)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for the pose models")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from star.skeleton.io import write_npy, write_ntu_skeleton
    from star.video.models import PoseModelsMissing
    from star.video.pipeline import PoseSettings, extract_pose

    settings = PoseSettings(num_threads=args.threads)
    settings.tracker.max_people = args.max_people
    if args.hfov is not None:
        settings.hfov_deg = args.hfov
    if args.lifter is not None:
        settings.lifter = args.lifter
    output = Path(args.output) if args.output else Path(Path(args.video).stem + ".skeleton")
    if output.suffix.lower() not in (".skeleton", ".npy"):
        print(f"error: --output must end in .skeleton or .npy, got {output.name}")
        return 2
    bar = None if args.quiet else tqdm(desc="pose", unit="frame")

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total or None
            bar.update(done - bar.n)

    try:
        pose = extract_pose(args.video, settings, on_progress=progress)
    except (SkeletonFormatError, PoseModelsMissing) as exc:
        print(f"error: {exc}")
        return 2
    finally:
        if bar is not None:
            bar.close()
    clip = pose.to_clip()
    (write_ntu_skeleton if output.suffix.lower() == ".skeleton" else write_npy)(clip, output)
    meta = clip.meta
    print(f"{output}: {clip.num_bodies} bodies x {clip.num_frames} frames ({meta['resolution']}, {meta['fps']:.2f} fps); "
          f"frames per body {meta['body_frames']}, mean confidence {meta['confidence']}; "
          f"{meta['processing_fps']:.1f} frames/s")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(pose.to_json()))
        print(f"{args.json_path}: 2-D landmarks and confidences")
    return 0
