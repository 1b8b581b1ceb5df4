"""Writes the README's generated block: the shipped checkpoints with their numbers, read from their sidecars.

The block sits between ``<!-- generated:checkpoints -->`` and ``<!-- /generated:checkpoints -->``; nothing else in
the README is touched. ``tests/test_docs_numbers.py`` fails when the README's block differs from what this writes
(a sidecar changed and the README was not regenerated), and when a "mean ± CI" figure anywhere in the README or the
hand-written docs is not in a generated results document.

    .venv/bin/python bench/readme_tables.py            # rewrite the block
    .venv/bin/python bench/readme_tables.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BEGIN, END = "<!-- generated:checkpoints -->", "<!-- /generated:checkpoints -->"
# (folder, what it is for): the order of the table
SHIPPED = (
    ("star-openvocab-pool69", "**the default**: rank your own clips against any action names (all 68 classes seen)"),
    ("star-pool42-32-10", "zero-shot and GZSL views: seen against unseen classes, gamma, confusions, calibration"),
    ("star-noam-pool42-32-10", "comparison: STAR with mean-pooled parts instead of part attention"),
    ("baseline-pool42-32-10", "comparison: the global baseline (no parts, no prompts), same backbone"),
)


def _pct(value) -> str:
    return "-" if value is None else f"{float(value) * 100:.1f}"


def row(name: str, purpose: str) -> str:
    meta = json.loads((REPO / "checkpoints" / name / "model.json").read_text())
    m = meta["metrics"]
    minutes = sum(float(v) for v in (meta.get("wall_time_s") or {}).values()) / 60
    if meta["unseen_classes"]:
        numbers = (f"ZSL {_pct(m['zsl_acc'])}; S / U / H {_pct(m['S'])} / {_pct(m['U'])} / {_pct(m['H'])} at the "
                   f"validation gamma (best H on test {_pct(m['H_best_test'])})")
    else:
        numbers = f"top-1 {_pct(m['S'])} on its test clips (other views / subjects)"
    weight = float((meta.get("score") or {}).get("part_weight", 0.0))
    return (f"| `{name}` | {purpose} | {meta['benchmark']} ({len(meta['seen_classes'])} seen / "
            f"{len(meta['unseen_classes'])} unseen) | {numbers} | {weight:g} | {minutes:.1f} min |")


def block() -> str:
    lines = [BEGIN, "| checkpoint | use it for | trained on | test numbers (%) | part weight | training time |",
             "|---|---|---|---|---:|---:|"]
    lines += [row(name, purpose) for name, purpose in SHIPPED]
    lines += ["", "Written by `bench/readme_tables.py` from the sidecars (`checkpoints/*/model.json`); every one was "
              "trained on this project's 2-core Intel Xeon CPU, no GPU.", END]
    return "\n".join(lines)


def with_block(text: str) -> str:
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{README}: no {BEGIN} ... {END} block to fill")
    return pattern.sub(lambda _: block(), text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the README's block is out of date")
    args = ap.parse_args()
    text = README.read_text()
    new = with_block(text)
    if args.check:
        if new != text:
            print("README.md's generated checkpoint table is out of date: run bench/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(new)
    print(f"wrote the checkpoint table of {README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
