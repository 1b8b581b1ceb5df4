"""``star predict PATH``: zero-shot predictions for a clip or a clip bank (``star.inference``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from star.checkpoint import CheckpointError
from star.inference import DEFAULT_CHECKPOINT, Predictor, candidate_pool, read_input, top_predictions
from star.skeleton.clip import SkeletonFormatError
from star.source_model import SourceModelError, load_source_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a clip (.skeleton, .npy, .npz, PKU .txt) or a clip bank (.npz)")
    parser.add_argument("--checkpoint", default=None, help=f"checkpoint directory (default: checkpoints/{DEFAULT_CHECKPOINT})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--classes", help='candidate action names separated by ";" (open vocabulary)')
    group.add_argument("--classes-file", help="candidate action names, one per line")
    parser.add_argument("--gzsl", action="store_true", help="rank all classes (seen minus gamma) instead of unseen only")
    parser.add_argument("--gamma", type=float, default=None, help="calibration factor (default: the checkpoint's)")
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="one JSON object per clip (+ a final accuracy object)")
    parser.add_argument("--resembles", action="store_true",
                        help="also say which pool42 training dataset each clip's recording resembles "
                             "(star.source_model: jitter, bone lengths, length; not the action)")


def _candidates(args: argparse.Namespace) -> list[str] | None:
    if args.classes is not None:
        return [c.strip() for c in args.classes.split(";") if c.strip()]
    if args.classes_file is not None:
        return [c.strip() for c in Path(args.classes_file).read_text().splitlines() if c.strip()]
    return None


def _resembles(like) -> dict:
    return {"probabilities": {n: round(float(p), 6) for n, p in zip(like.sources, like.probabilities)},
            "best": like.best, "unusual_cues": [u["cue"] for u in like.unusual], "unlike_all": like.unlike_all}


def run(args: argparse.Namespace) -> int:
    try:
        clips, bank_names = read_input(args.path)
        predictor = Predictor.load(args.checkpoint, args.device)
    except (SkeletonFormatError, CheckpointError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 2
    try:
        source_model = load_source_model() if args.resembles else None
    except SourceModelError as exc:
        print(f"error: {exc}")
        return 2
    candidates = _candidates(args)
    pool = candidate_pool(predictor, candidates, args.gzsl)
    correct = total = 0
    for s in range(0, len(clips), args.batch_size):
        batch = clips[s:s + args.batch_size]
        for clip, top in zip(batch, top_predictions(predictor, batch, candidates, args.gzsl, args.gamma, args.top_k)):
            top = [{"class": t["class"], "score": round(t["score"], 6)} for t in top]
            like = source_model.resemblance(clip.frames) if source_model is not None else None
            if args.json:
                print(json.dumps({"source": clip.source, "top": top,
                                  **({"resembles": _resembles(like)} if like is not None else {})}))
            else:
                print(f"{clip.source}: " + ", ".join(f"{t['class']} ({t['score']:.3f})" for t in top))
                if like is not None:
                    print("  recording resembles " + ", ".join(f"{n} {100 * p:.1f} %" for n, p in
                                                               zip(like.sources, like.probabilities))
                          + f"; {len(like.unusual)} cue(s) outside the training range"
                          + (" (resembles none of them)" if like.unlike_all else ""))
            if bank_names is not None and clip.label is not None and bank_names[clip.label] in pool:
                total += 1
                correct += int(top[0]["class"] == bank_names[clip.label])
    if bank_names is not None and total:
        if args.json:
            print(json.dumps({"accuracy": correct / total, "clips": total}))
        else:
            print(f"accuracy: {correct / total:.4f} over {total} labelled clips whose class is a candidate")
    return 0
