"""The ``star`` command.

Each sub-command is a module of ``star.commands`` that exposes two functions: ``add_arguments(parser)``
and ``run(args) -> int``; the work itself is library code those modules call. This file only wires them
together, importing a module when its command is used, so ``star --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("star.commands.data", "inspect a clip bank: `star data info PATH`"),
    "prepare-ntu": ("star.commands.prepare_ntu", "turn raw NTU RGB+D .skeleton folders into a clip bank"),
    "prepare-pku": ("star.commands.prepare_pku", "turn raw PKU-MMD skeleton + label folders into a clip bank"),
    "prepare-pyskl": ("star.commands.prepare_pyskl", "turn a pyskl / mmaction2 3-D NTU annotation pickle into a clip bank"),
    "prepare-ctrgcn": ("star.commands.prepare_ctrgcn", "turn CTR-GCN / STAR NTU arrays (NTU60_CS.npz ...) into a clip bank"),
    "synth": ("star.commands.synth", "write the synthetic demo clips (assets/samples)"),
    "describe": ("star.commands.describe", "generate part descriptions for new classes with an LLM endpoint"),
    "embed": ("star.commands.embed", "precompute a benchmark's name and description embeddings"),
    "train-backbone": ("star.commands.train_backbone", "train the Shift-GCN backbone on the seen classes"),
    "extract": ("star.commands.extract", "cache frozen-backbone features for fast head training"),
    "train": ("star.commands.train", "train the STAR head (or baseline / ablation) on cached features"),
    "eval": ("star.commands.eval", "evaluate a checkpoint: ZSL, GZSL S/U/H, AUSUC"),
    "predict": ("star.commands.predict", "zero-shot predictions for a clip or a clip bank"),
    "occlude": ("star.commands.occlude", "which body parts each class depends on: occlusion on the test clips"),
    "compare": ("star.commands.compare", "two checkpoints on the same test clips: paired CIs, McNemar, per class"),
    "import-official": ("star.commands.import_official", "turn a run file of the authors' STAR code into a checkpoint"),
    "pose": ("star.commands.pose", "RGB video -> NTU skeleton file (BlazePose pose extraction)"),
}


def build_parser() -> argparse.ArgumentParser:
    """Top-level parser listing the commands (their own options are added only when one runs)."""
    parser = argparse.ArgumentParser(prog="star", description="STAR zero-shot skeleton action recognition")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        # Top-level help without importing every module (torch is slow to import).
        parser = build_parser()
        if not argv or argv[0] in ("-h", "--help"):
            parser.print_help()
            return 0
        parser.parse_args(argv)  # prints "invalid choice" and exits 2
        return 2
    module_name = COMMANDS[argv[0]][0]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"star {argv[0]}", description=COMMANDS[argv[0]][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `star data info X | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
