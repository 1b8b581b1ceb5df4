"""How fast the NTU .skeleton reader is: milliseconds per file.

Times ``read_ntu_skeleton`` on the genuine two-person NTU file in the shared data (if present) and on a
synthetic 300-frame two-body file written to a temporary folder (the longest NTU-60 clips have ~300
frames). Also times the PKU-MMD text reader and .npy reader on the same synthetic clip.

    python bench/io_speed.py [--repeats 50] [--shared-data ../shared/data]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from star.skeleton.io import read_ntu_skeleton, read_numpy, read_pku_txt, write_npy, write_ntu_skeleton, write_pku_txt
from star.paths import data_dir
from star.skeleton.synth import make_clip


def time_reads(read, path: Path, repeats: int) -> tuple[float, float]:
    """(median, best) milliseconds per call over ``repeats`` calls, after one warm-up."""
    read(path)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        read(path)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def synthetic_two_body(num_frames: int = 300) -> np.ndarray:
    """(2, num_frames, 25, 3): two synthetic people, looped to the wanted length."""
    a = make_clip("jump up", seed=1).frames[0]
    b = make_clip("clapping", seed=2).frames[0]
    return np.stack([np.resize(a, (num_frames, 25, 3)), np.resize(b, (num_frames, 25, 3))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--shared-data", type=Path,
                        default=data_dir())
    args = parser.parse_args()

    rows = []
    real = args.shared_data / "ntu_samples" / "S001C003P008R002A058.skeleton"
    if real.exists():
        clip = read_ntu_skeleton(real)
        rows.append((f"NTU real A058 ({clip.num_frames} frames, 2 bodies)", *time_reads(read_ntu_skeleton, real, args.repeats)))
    else:
        print(f"(genuine NTU file not found at {real}; skipped)")
    with tempfile.TemporaryDirectory() as tmp:
        frames = synthetic_two_body(300)
        ntu = write_ntu_skeleton(frames, Path(tmp) / "synthetic_300.skeleton")
        pku = write_pku_txt(frames, Path(tmp) / "synthetic_300.txt")
        npy = write_npy(frames, Path(tmp) / "synthetic_300.npy")
        rows.append(("NTU synthetic (300 frames, 2 bodies)", *time_reads(read_ntu_skeleton, ntu, args.repeats)))
        rows.append(("PKU text synthetic (300 frames, 2 bodies)", *time_reads(read_pku_txt, pku, args.repeats)))
        rows.append((".npy synthetic (300 frames, 2 bodies)", *time_reads(read_numpy, npy, args.repeats)))
    print(f"{'file':45s} {'median ms':>10s} {'best ms':>9s}   ({args.repeats} reads each)")
    for name, median, best in rows:
        print(f"{name:45s} {median:10.2f} {best:9.2f}")


if __name__ == "__main__":
    main()
