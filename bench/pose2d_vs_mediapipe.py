"""Our 2-D pose stage against Google's mediapipe 0.10.14 on the same frames (issue 30, item 2).

    .venv/bin/python bench/pose2d_vs_mediapipe.py [--video PATH] [--out bench/results/pose2d_vs_mediapipe.json]

mediapipe cannot share the project's environment (its protobuf<5 pin clashes with streamlit), so it is
installed in its own virtual environment, ``.star_cache/mp_venv`` (ignored by git; created and filled with
``pip install mediapipe==0.10.14`` on the first run), and run there as a subprocess: this same file with
``--worker``, which imports only numpy, OpenCV and mediapipe and writes the landmarks to an .npz.

Both sides read the same pixels: the video is decoded once and written losslessly (FFV1 in AVI) in two
versions, ``full`` (the frames as they are) and ``centre`` (the centre square of side min(H, W)). In the
1920x1080 ``two_people.mp4`` mediapipe's detector, which sees the whole frame shrunk to 224 px, finds only
one of the two people; in the 1080x1080 centre square it finds both. mediapipe runs with the same two model
files as ours (the wheel's ``pose_detection.tflite`` and ``pose_landmark_full.tflite``):

- ``legacy``: ``mp.solutions.pose.Pose(model_complexity=1)`` (one person; its graph refines the landmarks with
  the heatmap and One Euro filters them and the crop points: ``smooth_landmarks=True``), also run with
  ``smooth_landmarks=False``; it stamps frames at 30 fps whatever the video's rate;
- ``tasks``: ``PoseLandmarker`` in VIDEO mode from a .task bundle made here of the two models (with the input
  normalisation written into their metadata); with ``num_poses=2`` it finds both people but does not filter
  (mediapipe filters only a single pose), with ``num_poses=1`` it filters like ``legacy``.

Ours runs in five settings: ``before`` (no heatmap refinement, no filters: the pipeline before issue 30),
``refine`` (refinement only), ``crop`` (refinement and the crop filter: what mediapipe's
``smooth_landmarks=False`` still does), ``filter`` (both filters, no refinement) and ``after`` (everything: the
defaults); on ``full`` also ``after_full_detection`` (the first crop found on the whole frame, as mediapipe
does, instead of our tiles: the heavily filtered crop remembers its start for many frames).

Bodies are matched frame by frame by hip centre (the pairing with the smaller total distance, and within
one shoulder width). Shoulder width: the median over the frames of the reference's left-right shoulder
distance, per person. Reported per comparison: the median distance of the 33 landmarks to the reference's
(all of them, and those the reference sees with visibility >= 0.5), and jitter: the median over landmarks and
frames of |x(t+1) - 2 x(t) + x(t-1)| for each side, on the frames where both sides have the person at
t-1, t and t+1, all in shoulder widths. The distance is also given for six consecutive stretches of the
video (in ``two_people.mp4`` the people walk towards each other and hug in the last two: one hides the
other's arms, and the landmark model's answer there depends on small differences of the crop).

The same run also measures the field of view of NTU's camera (``kinect_fov``): the shared NTU
``.skeleton`` samples hold each joint's 3-D position (x, y, z in metres) and its pixel in the 1920x1080
colour image; a least-squares fit of u = c_x + f x / z gives f and hence the horizontal field of view
2 atan(960 / f).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MP_VERSION = "0.10.14"
MP_VENV = ROOT / ".star_cache" / "mp_venv"
NUM = 33
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 11, 12, 23, 24


def read_frames(video) -> tuple[float, list[np.ndarray]]:
    """(frames per second, every frame as BGR uint8) of a video file, with OpenCV (in either environment)."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(bgr)
    cap.release()
    return fps, frames


# ------------------------------------------------------------------------------------ mediapipe side
def worker(api: str, video: str, out: str, smooth: bool, num_poses: int, workdir: str) -> None:
    """Run mediapipe on every frame of ``video``; save landmarks (T, P, 33, 4): x px, y px, z, visibility (NaN: none)."""
    import cv2
    import mediapipe as mp

    fps, frames = read_frames(video)
    frames = [cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB) for bgr in frames]
    h, w = frames[0].shape[:2]
    result = np.full((len(frames), num_poses, NUM, 4), np.nan)

    def store(i, k, landmarks):
        result[i, k] = [(p.x * w, p.y * h, p.z * w, p.visibility) for p in landmarks]

    start = time.perf_counter()
    if api == "legacy":
        with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=smooth,
                                    enable_segmentation=False) as pose:
            for i, frame in enumerate(frames):
                res = pose.process(frame)
                if res.pose_landmarks is not None:
                    store(i, 0, res.pose_landmarks.landmark)
    else:
        from mediapipe.tasks.python import BaseOptions, vision
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, model_asset_bundle_utils

        modules = Path(mp.__file__).parent / "modules"

        def with_metadata(path: Path, mean: float, std: float, name: str) -> bytes:
            writer = metadata_writer.MetadataWriter.create(bytearray(path.read_bytes()))
            writer.add_general_info(name, "")
            writer.add_image_input(norm_mean=[mean] * 3, norm_std=[std] * 3)  # detector: [-1, 1]; landmarks: [0, 1]
            return bytes(writer.populate()[0])

        bundle = str(Path(workdir) / "pose_landmarker_full.task")
        model_asset_bundle_utils.create_model_asset_bundle({
            "pose_detector.tflite": with_metadata(modules / "pose_detection/pose_detection.tflite", 127.5, 127.5,
                                                  "pose_detector"),
            "pose_landmarks_detector.tflite": with_metadata(modules / "pose_landmark/pose_landmark_full.tflite",
                                                            0.0, 255.0, "pose_landmarks_detector")}, bundle)
        options = vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=bundle),
                                               running_mode=vision.RunningMode.VIDEO, num_poses=num_poses)
        with vision.PoseLandmarker.create_from_options(options) as landmarker:
            for i, frame in enumerate(frames):
                res = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame),
                                                  round(i * 1000 / fps))
                for k, landmarks in enumerate(res.pose_landmarks[:num_poses]):
                    store(i, k, landmarks)
    seconds = time.perf_counter() - start
    np.savez(out, landmarks=result, fps=fps, seconds=seconds)


def ensure_mediapipe_venv() -> Path:
    """The mediapipe venv's python, creating the venv and installing mediapipe on first use."""
    python = MP_VENV / "bin" / "python"
    check = [str(python), "-c", f"import mediapipe; assert mediapipe.__version__ == '{MP_VERSION}'"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {MP_VENV} with mediapipe=={MP_VERSION} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(MP_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", f"mediapipe=={MP_VERSION}"], check=True)
    subprocess.run(check, check=True)
    return python


def run_mediapipe(python: Path, api: str, video: Path, smooth: bool, num_poses: int, workdir: Path) -> dict:
    out = workdir / f"mp_{api}_{int(smooth)}_{num_poses}_{video.stem}.npz"
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", api, str(video), str(out),
           "--smooth", str(int(smooth)), "--num-poses", str(num_poses), "--workdir", str(workdir)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"mediapipe worker failed ({' '.join(cmd)}):\n{proc.stderr[-3000:]}")
    data = np.load(out)
    lm = data["landmarks"]
    return {"landmarks": lm, "fps": round(len(lm) / float(data["seconds"]), 1)}


# ------------------------------------------------------------------------------------------ our side
OUR_SETTINGS = ("before", "refine", "crop", "filter", "after")


def our_settings(name: str):
    from star.video.pipeline import PoseSettings
    from star.video.tracking import TrackerSettings

    refine = name in ("refine", "crop", "after", "after_full_detection")
    tracker = TrackerSettings()
    if name not in ("filter", "after", "after_full_detection"):
        tracker.landmark_filter = None
    if name not in ("crop", "filter", "after", "after_full_detection"):
        tracker.crop_filter = None
    settings = PoseSettings(refine_heatmap=refine, tracker=tracker)
    if name == "after_full_detection":
        settings.tile_levels = ()
    return settings


def run_ours(video: Path, name: str) -> dict:
    """Our 2-D landmarks (T, M, 33, 4) as the reference's layout (x, y, 0, confidence; NaN where absent)."""
    from star.video.pipeline import extract_pose

    pose = extract_pose(video, our_settings(name))
    m, t = pose.present.shape
    out = np.full((t, m, NUM, 4), np.nan)
    for k in range(m):
        idx = np.flatnonzero(pose.present[k])
        out[idx, k, :, :2] = pose.image[k, idx, :, :2]
        out[idx, k, :, 2] = 0.0
        out[idx, k, :, 3] = pose.image[k, idx, :, 2]
    return {"landmarks": out, "fps": pose.stats["processing_fps"]}


# ------------------------------------------------------------------------------------------- metrics
def hip_centre(lm: np.ndarray) -> np.ndarray:
    return lm[..., [L_HIP, R_HIP], :2].mean(-2)


def match_bodies(ours: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(T, P_ref) index of our body matched to each reference body in each frame (-1: none).

    The pairing with the smallest total hip-centre distance; a pair further apart than the reference's
    shoulder width in that frame is dropped.
    """
    t, p = ref.shape[:2]
    match = np.full((t, p), -1)
    for i in range(t):
        refs = [k for k in range(p) if np.isfinite(ref[i, k, 0, 0])]
        mine = [k for k in range(ours.shape[1]) if np.isfinite(ours[i, k, 0, 0])]
        best, best_cost = [], np.inf
        for perm in itertools.permutations(mine, min(len(refs), len(mine))):
            cost = sum(np.linalg.norm(hip_centre(ours[i, a]) - hip_centre(ref[i, b])) for a, b in zip(perm, refs))
            if cost < best_cost:
                best, best_cost = list(zip(perm, refs)), cost
        for a, b in best:
            width = np.linalg.norm(ref[i, b, L_SHOULDER, :2] - ref[i, b, R_SHOULDER, :2])
            if np.linalg.norm(hip_centre(ours[i, a]) - hip_centre(ref[i, b])) < max(width, 1.0):
                match[i, b] = a
    return match


def second_difference(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """|x(t+1) - 2 x(t) + x(t-1)| (n, 33) over the frames t where ok holds at t-1, t and t+1; x (T, 33, 2)."""
    both = ok[:-2] & ok[1:-1] & ok[2:]
    acc = x[2:] - 2 * x[1:-1] + x[:-2]
    return np.linalg.norm(acc[both], axis=-1)


def compare(ours: np.ndarray, ref: np.ndarray) -> dict:
    """Distance and jitter of our landmarks against the reference's, in shoulder widths (module docstring)."""
    match = match_bodies(ours, ref)
    dist, dist_vis, jit_ours, jit_ref, frames, people = [], [], [], [], 0, 0
    segments = np.array_split(np.arange(len(ref)), 6)
    by_segment = [[] for _ in segments]
    for b in range(ref.shape[1]):
        ok = match[:, b] >= 0
        if ok.sum() < 3:
            continue
        people += 1
        frames += int(ok.sum())
        r = ref[:, b]
        width = float(np.median(np.linalg.norm(r[ok, L_SHOULDER, :2] - r[ok, R_SHOULDER, :2], axis=-1)))
        mine = np.full_like(r, np.nan)
        mine[ok] = ours[np.flatnonzero(ok), match[ok, b]]
        d = np.linalg.norm(mine[ok, :, :2] - r[ok, :, :2], axis=-1) / width  # (n, 33)
        dist.append(d.ravel())
        where = np.flatnonzero(ok)
        for k, seg in enumerate(segments):
            by_segment[k].append(d[np.isin(where, seg)].ravel())
        dist_vis.append(d[r[ok, :, 3] >= 0.5])
        jit_ours.append(second_difference(mine[..., :2], ok).ravel() / width)
        jit_ref.append(second_difference(r[..., :2], ok).ravel() / width)
    if not people:
        return {"people": 0}
    cat = np.concatenate
    j_ours, j_ref = float(np.median(cat(jit_ours))), float(np.median(cat(jit_ref)))
    return {"people": people, "frames": frames,
            "median_distance_sw": round(float(np.median(cat(dist))), 4),
            "median_distance_visible_sw": round(float(np.median(cat(dist_vis))), 4),
            "median_distance_by_sixth_sw": [round(float(np.median(cat(b))), 4) if cat(b).size else None
                                            for b in by_segment],
            "jitter_ours_sw": round(j_ours, 4), "jitter_reference_sw": round(j_ref, 4),
            "jitter_ratio": round(j_ours / max(j_ref, 1e-12), 2)}


# ---------------------------------------------------------------------------------------------- main
def write_inputs(video: Path, workdir: Path) -> dict[str, Path]:
    """The video's frames as lossless FFV1 AVIs: the whole frame, and its centre square."""
    import cv2

    fps, frames = read_frames(video)
    h, w = frames[0].shape[:2]
    side = min(h, w)
    x0, y0 = (w - side) // 2, (h - side) // 2
    out = {}
    for name, crop in (("full", lambda f: f), ("centre", lambda f: f[y0:y0 + side, x0:x0 + side])):
        path = workdir / f"{video.stem}_{name}.avi"
        first = crop(frames[0])
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, (first.shape[1], first.shape[0]))
        for f in frames:
            writer.write(np.ascontiguousarray(crop(f)))
        writer.release()
        out[name] = path
    return out


def kinect_fov(data_dir: Path) -> dict:
    """NTU's colour camera: f and the horizontal field of view fitted on the shared NTU samples' joint lines."""
    rows = []
    for path in sorted((data_dir / "ntu_samples").glob("*.skeleton")):
        lines, i = path.read_text().splitlines(), 0
        for _ in range(int(lines[0])):
            i += 1
            bodies = int(lines[i])
            for _ in range(bodies):
                i += 2
                joints = int(lines[i])
                rows += [list(map(float, lines[i + 1 + j].split()[:7])) for j in range(joints)]
                i += joints
    a = np.array(rows)
    a = a[a[:, 2] > 0.5]  # x, y, z (m), depthX, depthY, colorX, colorY
    design = np.stack([np.ones(len(a)), a[:, 0] / a[:, 2]], axis=1)
    (cx, f), *_ = np.linalg.lstsq(design, a[:, 5], rcond=None)
    rms = float(np.sqrt(np.mean((design @ [cx, f] - a[:, 5]) ** 2)))
    return {"clips": len(list((data_dir / "ntu_samples").glob("*.skeleton"))), "joint_observations": len(a),
            "focal_px": round(abs(float(f)), 1), "centre_x_px": round(float(cx), 1), "rms_px": round(rms, 2),
            "hfov_deg": round(float(np.degrees(2 * np.arctan(960 / abs(f)))), 2),
            "median_depth_m": round(float(np.median(a[:, 2])), 2)}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=None, help="default: two_people.mp4 in $STAR_DATA_DIR/video")
    ap.add_argument("--out", default=str(ROOT / "bench/results/pose2d_vs_mediapipe.json"))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from star import paths

    video = Path(args.video) if args.video else Path(paths.data_dir()) / "video" / "two_people.mp4"
    python = ensure_mediapipe_venv()
    references = {  # name: (input, api, smoothing, poses)
        "legacy_smoothed@full": ("full", "legacy", True, 1),
        "legacy_unsmoothed@full": ("full", "legacy", False, 1),
        "tasks_1pose_smoothed@full": ("full", "tasks", True, 1),
        "legacy_smoothed@centre": ("centre", "legacy", True, 1),
        "tasks_2poses@centre": ("centre", "tasks", False, 2),
    }
    ours = {"full": OUR_SETTINGS + ("after_full_detection",), "centre": OUR_SETTINGS}
    with tempfile.TemporaryDirectory(prefix="pose2d-") as tmp:
        workdir = Path(tmp)
        inputs = write_inputs(video, workdir)
        refs, runs = {}, {}
        for name, (inp, api, smooth, poses) in references.items():
            print(f"mediapipe {name} ...", flush=True)
            refs[name] = run_mediapipe(python, api, inputs[inp], smooth, poses, workdir)
        for inp, names in ours.items():
            for cfg in names:
                print(f"ours {cfg}@{inp} ...", flush=True)
                runs[f"{cfg}@{inp}"] = run_ours(inputs[inp], cfg)
    rows = []
    for ref_name, ref in refs.items():
        inp = references[ref_name][0]
        for cfg in ours[inp]:
            rows.append({"ours": f"{cfg}@{inp}", "reference": ref_name,
                         **compare(runs[f"{cfg}@{inp}"]["landmarks"], ref["landmarks"])})
    between = compare(refs["tasks_1pose_smoothed@full"]["landmarks"], refs["legacy_smoothed@full"]["landmarks"])
    by = {(r["ours"], r["reference"]): r for r in rows}

    def pick(ours_name, ref_name, key):
        return by[(ours_name, ref_name)][key]

    headline = {
        "goal": "median distance <= 0.02 shoulder widths; jitter <= 1.5x mediapipe's",
        "distance_sw": {
            "after vs legacy smoothed (full)": pick("after@full", "legacy_smoothed@full", "median_distance_sw"),
            "before vs legacy smoothed (full)": pick("before@full", "legacy_smoothed@full", "median_distance_sw"),
            "after_full_detection vs legacy smoothed (full)": pick("after_full_detection@full", "legacy_smoothed@full",
                                                                   "median_distance_sw"),
            "crop vs legacy unsmoothed (full)": pick("crop@full", "legacy_unsmoothed@full", "median_distance_sw"),
            "before vs legacy unsmoothed (full)": pick("before@full", "legacy_unsmoothed@full", "median_distance_sw"),
            "after vs legacy smoothed (centre)": pick("after@centre", "legacy_smoothed@centre", "median_distance_sw"),
            "before vs legacy smoothed (centre)": pick("before@centre", "legacy_smoothed@centre", "median_distance_sw"),
            "mediapipe tasks vs mediapipe legacy, both smoothed (full)": between.get("median_distance_sw"),
        },
        "distance_by_sixth_sw": {
            "after vs legacy smoothed (full)": pick("after@full", "legacy_smoothed@full", "median_distance_by_sixth_sw"),
            "before vs legacy smoothed (full)": pick("before@full", "legacy_smoothed@full",
                                                     "median_distance_by_sixth_sw"),
            "mediapipe tasks vs mediapipe legacy, both smoothed (full)": between.get("median_distance_by_sixth_sw"),
        },
        "jitter_ratio": {
            "after vs legacy smoothed (full)": pick("after@full", "legacy_smoothed@full", "jitter_ratio"),
            "before vs legacy smoothed (full)": pick("before@full", "legacy_smoothed@full", "jitter_ratio"),
            "after vs legacy smoothed (centre)": pick("after@centre", "legacy_smoothed@centre", "jitter_ratio"),
            "before vs legacy smoothed (centre)": pick("before@centre", "legacy_smoothed@centre", "jitter_ratio"),
        },
    }
    report = {
        "command": "python bench/pose2d_vs_mediapipe.py", "video": video.name, "frames": len(runs["after@full"]["landmarks"]),
        "mediapipe": MP_VERSION, "machine": machine(), "headline": headline,
        "reference_runs": {k: {"input": v[0], "api": v[1], "smoothing": v[2], "num_poses": v[3],
                               "frames_with_a_pose": int(np.isfinite(refs[k]["landmarks"][:, :, 0, 0]).any(1).sum()),
                               "fps": refs[k]["fps"]} for k, v in references.items()},
        "our_runs": {k: {"bodies": int(v["landmarks"].shape[1]), "fps": v["fps"]} for k, v in runs.items()},
        "between_mediapipe_apis": {"a": "tasks_1pose_smoothed@full", "b": "legacy_smoothed@full", **between},
        "kinect_fov": kinect_fov(Path(paths.data_dir())),
        "comparisons": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(headline, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if "--worker" in sys.argv:
        p = argparse.ArgumentParser()
        p.add_argument("--worker", nargs=3, metavar=("API", "VIDEO", "OUT"))
        p.add_argument("--smooth", type=int, default=1)
        p.add_argument("--num-poses", type=int, default=1)
        p.add_argument("--workdir", default=".")
        a = p.parse_args()
        worker(a.worker[0], a.worker[1], a.worker[2], bool(a.smooth), a.num_poses, a.workdir)
    else:
        main()
