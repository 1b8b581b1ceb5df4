"""``star import-official``: a run file of the authors' STAR code as one of our checkpoints (``star.official``)."""

from __future__ import annotations

import argparse
import json
import sys

from star.checkpoint import CheckpointError
from star.official import OfficialImportError, import_official
from star.skeleton.clip import SkeletonFormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="their run file, e.g. work_dir/.../runs-40-23480.pt (torch.save of a state dict)")
    parser.add_argument("--benchmark", required=True, help="the split it was trained on, e.g. ntu60-xsub-55/5")
    parser.add_argument("--text", required=True,
                        help="their text-feature file (torch.save dict: 0 = class names, 1-6 = part descriptions)")
    parser.add_argument("--out", required=True, help="checkpoint folder to write, e.g. checkpoints/star-official-55-5")
    parser.add_argument("--gamma", type=float, default=None,
                        help="calibration gamma (default: the paper's value for the dataset)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the benchmark's clip bank: also score its test clips and write the bundle")
    parser.add_argument("--device", default="cpu")
    parser.epilog = ("Their files are read with torch.load(weights_only=True): tensors only, nothing else runs. "
                     "See docs/IMPORT.md.")


def run(args: argparse.Namespace) -> int:
    try:
        out = import_official(args.run, args.benchmark, args.text, args.out, gamma=args.gamma,
                              data_dir=args.data_dir, device=args.device)
    except (OfficialImportError, CheckpointError, SkeletonFormatError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((out / "model.json").read_text())
    origin = meta["imported_from"]
    print(f"wrote {out}: {meta['benchmark']}, {len(meta['seen_classes'])} seen / {len(meta['unseen_classes'])} "
          f"unseen classes, token layout {meta['token_layout']}, gamma {meta['gamma']['value']:g} "
          f"({meta['gamma']['chosen_by']})")
    print(f"  semantic-part prompts: {origin['semantic_prompts']}")
    print(f"  dropped (unused by the scores): {len(origin['dropped'])} tensors "
          f"({', '.join(sorted({k.split('.')[0] for k in origin['dropped']})) or 'none'})")
    for line in origin["backbone"] + origin["text"]:
        print(f"  {line}")
    if meta["metrics"]:
        m = meta["metrics"]
        print(f"  test clips: ZSL {m['zsl_acc'] * 100:.2f}, S / U / H {m['S'] * 100:.2f} / {m['U'] * 100:.2f} / "
              f"{m['H'] * 100:.2f}")
    else:
        print("  no --data-dir: no evaluation bundle (the app needs one; `star eval --data-dir` scores it)")
    return 0
