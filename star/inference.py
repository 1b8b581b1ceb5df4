"""Zero-shot prediction for clips: the library behind ``star predict`` and the app's Predict page.

``Predictor`` wraps a ``StarPipeline``. For each clip it returns a ``Prediction``: ZSL top-k over the unseen
classes, GZSL top-k over all classes after calibrated stacking at gamma, per-part evidence (how strongly each
part feature matches each class's projected part description) and the attention maps. ``rank_names`` ranks
a clip against any candidate names (open vocabulary), embedding them with the checkpoint's own text encoder.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from star.checkpoint import CheckpointError, check_encoder, default_checkpoint_root
from star.evaluate import attention_time_joint
from star.data import ClipBank
from star.pipeline import StarPipeline
from star.skeleton import load_clip
from star.skeleton.clip import Clip, SkeletonFormatError
from star.text import embed_texts, get_encoder
from star.zsl import calibrated_scores, cosine_scores

DEFAULT_CHECKPOINT = "star-pool42-32-10"


@dataclass
class Prediction:
    source: str
    scores: np.ndarray  # (C,) cosine scores against the checkpoint's classes
    zsl_top: list[dict]  # [{class, index, score}] over unseen classes
    gzsl_top: list[dict]  # [{class, index, score}] over all classes, seen scores minus gamma
    gamma: float
    part_scores: np.ndarray | None = None  # (K, C) cosine(part feature, projected part description)
    attention_time_joint: np.ndarray | None = None  # (T', 25)
    attention: list[np.ndarray] | None = field(default=None, repr=False)  # K arrays (heads, m, tokens)


def _top(scores: np.ndarray, candidates: list[int], names: list[str], k: int) -> list[dict]:
    cand = np.asarray(candidates)
    order = cand[np.argsort(-scores[cand], kind="stable")][:k]
    return [{"class": names[i], "index": int(i), "score": float(scores[i])} for i in order]


class Predictor:
    def __init__(self, pipeline: StarPipeline):
        self.pipe = pipeline
        self.meta = pipeline.meta
        self.class_names = list(self.meta["class_names"])
        self._encoder = None

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "cpu") -> "Predictor":
        path = Path(checkpoint) if checkpoint else default_checkpoint_root() / DEFAULT_CHECKPOINT
        return cls(StarPipeline.load(path, device))

    def predict(self, clips: list[Clip], gamma: float | None = None, top_k: int = 5) -> list[Prediction]:
        gamma = self.pipe.ckpt.gamma if gamma is None else float(gamma)
        out = self.pipe.clips_outputs(clips, with_attention=True)
        scores = self.pipe.scores(out.global_features)
        seen, unseen = self.meta["seen_classes"], self.meta["unseen_classes"]
        cal = calibrated_scores(scores, seen, gamma)
        maps = attention_time_joint(out.attention, self.meta["num_parts"]) if out.attention else None
        preds = []
        for i, clip in enumerate(clips):
            part_scores = None
            if out.part_features is not None:
                part_scores = np.stack([cosine_scores(out.part_features[i, k][None], self.pipe.desc_proj[k])[0]
                                        for k in range(out.part_features.shape[1])])
            preds.append(Prediction(
                source=clip.source, scores=scores[i], gamma=gamma,
                zsl_top=_top(scores[i], unseen, self.class_names, top_k),
                gzsl_top=_top(cal[i], list(range(len(self.class_names))), self.class_names, top_k),
                part_scores=part_scores, attention_time_joint=None if maps is None else maps[i],
                attention=None if not out.attention else [a[i] for a in out.attention]))
        return preds

    def encoder(self):
        if self._encoder is None:
            enc = get_encoder(self.meta["text_encoder"].get("spec", self.meta["text_encoder"]["id"]))
            check_encoder(self.pipe.ckpt, enc.id)
            self._encoder = enc
        return self._encoder

    def rank_names(self, clips: list[Clip], names: list[str], top_k: int | None = None) -> list[list[dict]]:
        """Open vocabulary: rank each clip against arbitrary action names (embedded with the checkpoint's encoder)."""
        names = [n.strip() for n in names if n.strip()]
        if not names:
            raise ValueError("give at least one candidate action name")
        known = {n: i for i, n in enumerate(self.class_names)}
        raw = np.zeros((len(names), self.pipe.name_emb.shape[1]), dtype=np.float32)
        new = [j for j, n in enumerate(names) if n not in known]
        for j, n in enumerate(names):
            if n in known:
                raw[j] = self.pipe.name_emb[known[n]].numpy()
        if new:
            raw[new] = embed_texts(self.encoder(), [names[j] for j in new])
        proj = self.pipe.project_names(raw)
        glob = self.pipe.clips_outputs(clips, with_attention=False).global_features
        scores = cosine_scores(glob, proj)
        k = len(names) if top_k is None else top_k
        return [_top(row, list(range(len(names))), names, k) for row in scores]


def read_input(path: str) -> tuple[list[Clip], list[str] | None]:
    """A clip file -> ([clip], None); a clip bank (.npz with offsets) -> (clips, its class names)."""
    p = Path(path)
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                is_bank = "offsets" in z.files
        except (OSError, ValueError, zipfile.BadZipFile):
            is_bank = False  # not a readable archive: load_clip says precisely what is wrong
        if is_bank:
            bank = ClipBank.load(p)
            return [bank.clip(i) for i in range(len(bank))], list(bank.class_names)
    return [load_clip(p)], None


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


def run(args: argparse.Namespace) -> int:
    try:
        clips, bank_names = read_input(args.path)
        predictor = Predictor.load(args.checkpoint, args.device)
    except (SkeletonFormatError, CheckpointError, FileNotFoundError) as exc:
        print(f"error: {exc}")
        return 2
    candidates = None
    if args.classes is not None:
        candidates = [c.strip() for c in args.classes.split(";") if c.strip()]
    elif args.classes_file is not None:
        candidates = [c.strip() for c in Path(args.classes_file).read_text().splitlines() if c.strip()]
    correct = total = 0
    for s in range(0, len(clips), args.batch_size):
        batch = clips[s:s + args.batch_size]
        if candidates is not None:
            tops = predictor.rank_names(batch, candidates, args.top_k)
        else:
            preds = predictor.predict(batch, args.gamma, args.top_k)
            tops = [p.gzsl_top if args.gzsl else p.zsl_top for p in preds]
        pool = candidates if candidates is not None else (
            predictor.class_names if args.gzsl else [predictor.class_names[i] for i in predictor.meta["unseen_classes"]])
        for clip, top in zip(batch, tops):
            top = [{"class": t["class"], "score": round(t["score"], 6)} for t in top]
            if args.json:
                print(json.dumps({"source": clip.source, "top": top}))
            else:
                print(f"{clip.source}: " + ", ".join(f"{t['class']} ({t['score']:.3f})" for t in top))
            if bank_names is not None and clip.label is not None and bank_names[clip.label] in pool:
                total += 1
                correct += int(top[0]["class"] == bank_names[clip.label])
    if bank_names is not None and total:
        if args.json:
            print(json.dumps({"accuracy": correct / total, "clips": total}))
        else:
            print(f"accuracy: {correct / total:.4f} over {total} labelled clips whose class is a candidate")
    return 0
