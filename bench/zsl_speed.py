"""Time the vectorised GZSL gamma sweep (star.zsl.gamma_sweep).

Default case from issue 3: 10,000 gammas x 10,000 clips x 60 classes (55 seen / 5 unseen), random
scores. Prints the median wall time of a few runs and, for scale, the time of a plain loop of
gzsl_metrics over a small subset of the gammas. Run: `python bench/zsl_speed.py [--clips N ...]`.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from star import zsl


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clips", type=int, default=10_000)
    p.add_argument("--classes", type=int, default=60)
    p.add_argument("--unseen", type=int, default=5)
    p.add_argument("--gammas", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    scores = rng.uniform(-1, 1, (a.clips, a.classes)).astype(np.float32)
    labels = rng.integers(0, a.classes, a.clips)
    unseen = rng.choice(a.classes, a.unseen, replace=False).tolist()
    seen = sorted(set(range(a.classes)) - set(unseen))
    gammas = np.linspace(-1, 1, a.gammas)

    times = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = zsl.gamma_sweep(scores, labels, seen, unseen, gammas)
        times.append(time.perf_counter() - t0)
    sweep_s = float(np.median(times))

    t0 = time.perf_counter()
    grid = zsl.default_gamma_grid(scores, seen, unseen)
    curve = zsl.gamma_sweep(scores, labels, seen, unseen, grid)
    area = zsl.ausuc(curve["S"], curve["U"])
    curve_s = time.perf_counter() - t0

    few = gammas[:: max(1, a.gammas // 20)]
    t0 = time.perf_counter()
    for g in few:
        zsl.gzsl_metrics(scores, labels, seen, unseen, g)
    loop_per_gamma = (time.perf_counter() - t0) / len(few)

    report = [f"gamma_sweep: {a.gammas} gammas x {a.clips} clips x {a.classes} classes: "
              f"{sweep_s:.4f} s (median of {a.repeats}; max H {out['H'].max():.3f})",
              f"full seen-unseen curve ({grid.size} gammas) + AUSUC: {curve_s:.4f} s (AUSUC {area:.4f})",
              f"for scale, looped gzsl_metrics: {loop_per_gamma * 1e3:.2f} ms per gamma "
              f"(~{loop_per_gamma * a.gammas:.1f} s for all {a.gammas})"]
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
