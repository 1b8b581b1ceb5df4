"""Run one fuzz target of tests/fuzz/targets.py with atheris (coverage-guided, libFuzzer) for a set time.

    .venv/bin/python tests/fuzz/run.py TARGET [--seconds 60] [--corpus DIR]
    .venv/bin/python tests/fuzz/run.py all --seconds 10      # every target in turn (what .ci/run does)

The corpus folder (default: .star_cache/fuzz/TARGET) starts with the target's seeds and keeps what atheris finds;
a crash (an exception other than the reader's documented error) is written as .star_cache/fuzz/TARGET-crash-* and
ends the run with a non-zero status.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))


def fuzz(name: str, seconds: int, corpus: Path) -> int:
    import atheris

    with atheris.instrument_imports(include=["star"]):
        import star.checkpoint  # noqa: F401
        import star.checkpoint_archive  # noqa: F401
        import star.data.clipbank  # noqa: F401
        import star.data.importers  # noqa: F401
        import star.skeleton  # noqa: F401
    from targets import TARGETS, seeds

    corpus.mkdir(parents=True, exist_ok=True)
    starts = seeds(name)
    for i, seed in enumerate(starts):
        (corpus / f"seed-{i}").write_bytes(seed)
    target = TARGETS[name]
    longest = max(len(s) for s in starts) + 4096  # libFuzzer skips inputs over 1 MB unless told (a checkpoint zip: 5 MB)
    atheris.Setup([sys.argv[0], f"-max_total_time={seconds}", f"-max_len={longest}", "-rss_limit_mb=4096",
                   "-timeout=60", f"-artifact_prefix={corpus.parent}/{name}-", str(corpus)], target)
    atheris.Fuzz()
    return 0


def main() -> int:
    from targets import TARGETS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=[*TARGETS, "all"])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--corpus", type=Path, default=None)
    args = ap.parse_args()
    if args.target == "all":  # each target in its own process (atheris fuzzes one function per process)
        status = 0
        for name in TARGETS:
            print(f"==> {name} for {args.seconds} s", flush=True)
            status |= subprocess.call([sys.executable, __file__, name, "--seconds", str(args.seconds)])
        return status
    return fuzz(args.target, args.seconds, args.corpus or REPO / ".star_cache" / "fuzz" / args.target)


if __name__ == "__main__":
    raise SystemExit(main())
