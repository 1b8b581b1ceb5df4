"""Zero-shot prediction for clips: the library behind ``star predict`` and the app's Predict page.

``Predictor`` wraps a ``StarPipeline`` (which preprocesses clips with the checkpoint's canonical-skeleton spec,
sidecar key ``preprocess``; absent = legacy). For each clip it returns a ``Prediction``: ZSL top-k over the unseen
classes, GZSL top-k over all classes after calibrated stacking at gamma, per-part evidence (how strongly each
part feature matches each class's projected part description) and the attention maps. ``rank_names`` ranks
a clip against any candidate names (open vocabulary), embedding them with the checkpoint's own text encoder.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from star.checkpoint import check_encoder, default_checkpoint_root
from star.data import ClipBank, is_clip_bank
from star.evaluation import attention_time_joint
from star.pipeline import StarPipeline
from star.skeleton import load_clip
from star.skeleton.clip import Clip
from star.text import embed_texts, get_encoder
from star.models.losses import DEFAULT_TAU
from star.zsl import calibrated_scores, class_probabilities, cosine_scores

DEFAULT_CHECKPOINT = "star-openvocab-pool69"  # trained on every class of the four small datasets


@dataclass
class Prediction:
    source: str
    scores: np.ndarray  # (C,) cosine scores against the checkpoint's classes
    zsl_top: list[dict]  # [{class, index, score, prob}] over unseen classes (prob: among the unseen classes)
    gzsl_top: list[dict]  # [{class, index, score, prob}] over all classes, seen scores minus gamma
    gamma: float
    part_scores: np.ndarray | None = None  # (K, C) cosine(part feature, projected part description)
    attention_time_joint: np.ndarray | None = None  # (T', 25)
    attention: list[np.ndarray] | None = field(default=None, repr=False)  # K arrays (heads, m, tokens)
    global_feature: np.ndarray | None = field(default=None, repr=False)  # (m,): ranks new names without a forward


def _top(scores: np.ndarray, candidates: list[int], names: list[str], k: int, temperature: float) -> list[dict]:
    """The k best candidates, best first, each with its score and its probability among the candidates."""
    cand = np.asarray(candidates)
    probs = class_probabilities(scores, cand, temperature)
    order = cand[np.argsort(-scores[cand], kind="stable")][:k]
    return [{"class": names[i], "index": int(i), "score": float(scores[i]), "prob": float(probs[i])} for i in order]


def top_lists(scores: np.ndarray, seen: list[int], unseen: list[int], names: list[str], gamma: float, k: int,
              temperature: float) -> tuple[list[dict], list[dict]]:
    """One clip's (C,) class scores -> (ZSL top-k over the unseen classes, GZSL top-k over all classes after
    calibrated stacking at ``gamma``), each entry {class, index, score, prob}; cheap, so a new gamma or k
    needs no new forward pass. Without unseen classes (an open-vocabulary model) the ZSL list is empty and the
    other ranks all classes."""
    cal = calibrated_scores(scores[None], seen, gamma)[0] if len(unseen) else scores
    return (_top(scores, unseen, names, k, temperature) if len(unseen) else [],
            _top(cal, list(range(len(names))), names, k, temperature))


class Predictor:
    def __init__(self, pipeline: StarPipeline):
        self.pipe = pipeline
        self.meta = pipeline.meta
        self.class_names = list(self.meta["class_names"])
        self._encoder = None
        self._name_vectors: dict[str, np.ndarray] = {}  # text-encoder vectors of names ranked before (bounded)
        self._text_lock = threading.Lock()  # one encoder load and one encoding at a time (the app shares it)

    @property
    def tau(self) -> float:
        """The head's training temperature (sidecar ``tau.value``; older sidecars: the default 0.1)."""
        return float((self.meta.get("tau") or {}).get("value", DEFAULT_TAU))

    @property
    def temperature(self) -> float:
        """The temperature that turns class scores into probabilities: tau times (1 + part weight).

        The head was trained with softmax(cos / tau) over classes (paper eq. 6). A checkpoint whose class score
        adds ``part_weight`` x the mean part cosine has scores in [-(1 + w), 1 + w]; dividing by (1 + w) brings
        them back to a weighted mean of cosines before tau applies, so its probabilities are as sharp as the
        trained softmax, not (1 + w) times sharper."""
        return self.tau * (1.0 + self.pipe.part_weight)

    @classmethod
    def load(cls, checkpoint: str | Path | None = None, device: str = "cpu") -> "Predictor":
        path = Path(checkpoint) if checkpoint else default_checkpoint_root() / DEFAULT_CHECKPOINT
        return cls(StarPipeline.load(path, device))

    def predict(self, clips: list[Clip], gamma: float | None = None, top_k: int = 5) -> list[Prediction]:
        gamma = self.pipe.ckpt.gamma if gamma is None else float(gamma)
        out = self.pipe.clips_outputs(clips, with_attention=True)
        scores = self.pipe.scores(out)
        seen, unseen = self.meta["seen_classes"], self.meta["unseen_classes"]
        maps = attention_time_joint(out.attention, self.meta["num_parts"]) if out.attention else None
        preds = []
        for i, clip in enumerate(clips):
            part_scores = None
            if out.part_features is not None:
                part_scores = np.stack([cosine_scores(out.part_features[i, k][None], self.pipe.desc_proj[k])[0]
                                        for k in range(out.part_features.shape[1])])
            zsl_top, gzsl_top = top_lists(scores[i], seen, unseen, self.class_names, gamma, top_k, self.temperature)
            preds.append(Prediction(
                source=clip.source, scores=scores[i], gamma=gamma, zsl_top=zsl_top, gzsl_top=gzsl_top,
                part_scores=part_scores, attention_time_joint=None if maps is None else maps[i],
                attention=None if not out.attention else [a[i] for a in out.attention],
                global_feature=np.asarray(out.global_features[i])))
        return preds

    def occlusion(self, clip: Clip, zero_shot: bool = True) -> dict:
        """``star.occlusion.part_occlusion`` of one clip: each body part occluded in turn, the top class's
        probability drop. Candidates: the unseen classes (``zero_shot`` and the model has some), else all classes."""
        return self.occlusions([clip], zero_shot=zero_shot)[0]

    def occlusions(self, clips: list[Clip], targets: list[int] | None = None, zero_shot: bool = True,
                   batch_size: int = 16, progress=None) -> list[dict]:
        """``occlusion`` of many clips, ``batch_size`` clips (and their occluded copies) per forward pass; with
        ``targets`` (a class per clip, e.g. its true class) the drop of that class's probability instead of the top
        one's. ``progress(done, total)`` after each batch."""
        from star.occlusion import part_occlusion

        unseen = self.meta["unseen_classes"]
        candidates = unseen if zero_shot and unseen else list(range(len(self.class_names)))

        def score(inputs: np.ndarray) -> np.ndarray:
            return self.pipe.scores(self.pipe.head_outputs(self.pipe.backbone_features(inputs)))

        out = []
        for s in range(0, len(clips), batch_size):
            batch = clips[s:s + batch_size]
            out += part_occlusion(score, self.pipe.model_inputs(batch), int(self.meta["num_parts"]), candidates,
                                  self.temperature, None if targets is None else targets[s:s + batch_size])
            if progress is not None:
                progress(min(s + batch_size, len(clips)), len(clips))
        return out

    def encoder(self):
        if self._encoder is None:
            enc = get_encoder(self.meta["text_encoder"].get("spec", self.meta["text_encoder"]["id"]))
            check_encoder(self.pipe.ckpt, enc.id)
            self._encoder = enc
        return self._encoder

    NAME_MEMORY = 4096  # names whose text vectors are kept (the NTU-120 + PKU-MMD lists fit many times)

    def name_vectors(self, names: list[str]) -> np.ndarray:
        """(N, D) text-encoder vectors of ``names``, encoding only names not seen recently (kept in memory)."""
        with self._text_lock:
            missing = [n for n in dict.fromkeys(names) if n not in self._name_vectors]
            if missing:
                if len(self._name_vectors) + len(missing) > self.NAME_MEMORY:
                    self._name_vectors.clear()
                self._name_vectors.update(zip(missing, embed_texts(self.encoder(), missing)))
            return np.stack([self._name_vectors[n] for n in names]).astype(np.float32, copy=False)

    def rank_names(self, clips: list[Clip], names: list[str], top_k: int | None = None) -> list[list[dict]]:
        """Open vocabulary: rank each clip against arbitrary action names (embedded with the checkpoint's encoder);
        each entry's ``prob`` is softmax(cos / tau) among the given names. Repeated names count once.

        Names only: a new name has no part descriptions, so the ranking is the global cosine (the paper's score)
        even for a checkpoint whose class scores add part evidence (sidecar ``score.part_weight``)."""
        glob = self.pipe.clips_outputs(clips, with_attention=False).global_features
        return self.rank_features(glob, names, top_k)

    def rank_features(self, global_features: np.ndarray, names: list[str], top_k: int | None = None) -> list[list[dict]]:
        """``rank_names`` for clips' global features (N, m) already computed (``Prediction.global_feature``)."""
        names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
        if not names:
            raise ValueError("give at least one candidate action name")
        known = {n: i for i, n in enumerate(self.class_names)}
        raw = np.zeros((len(names), self.pipe.name_emb.shape[1]), dtype=np.float32)
        new = [j for j, n in enumerate(names) if n not in known]
        for j, n in enumerate(names):
            if n in known:
                raw[j] = self.pipe.name_emb[known[n]].numpy()
        if new:
            raw[new] = self.name_vectors([names[j] for j in new])
        proj = self.pipe.project_names(raw)
        scores = cosine_scores(np.atleast_2d(np.asarray(global_features)), proj)
        k = len(names) if top_k is None else top_k
        return [_top(row, list(range(len(names))), names, k, self.tau) for row in scores]


def read_input(path: str | Path) -> tuple[list[Clip], list[str] | None]:
    """A clip file -> ([clip], None); a clip bank (.npz with offsets) -> (clips, its class names)."""
    p = Path(path)
    if p.suffix == ".npz" and is_clip_bank(p):
        bank = ClipBank.load(p)
        return [bank.clip(i) for i in range(len(bank))], list(bank.class_names)
    return [load_clip(p)], None


def candidate_pool(predictor: Predictor, candidates: list[str] | None, gzsl: bool) -> list[str]:
    """The class names a prediction ranks: the given candidates, all classes (GZSL, or a model without unseen
    classes) or the unseen ones."""
    if candidates is not None:
        return candidates
    names, unseen = predictor.class_names, predictor.meta["unseen_classes"]
    return names if gzsl or not unseen else [names[i] for i in unseen]


def top_predictions(predictor: Predictor, clips: list[Clip], candidates: list[str] | None = None,
                    gzsl: bool = False, gamma: float | None = None, top_k: int = 5) -> list[list[dict]]:
    """For each clip, its top-k [{class, index, score}]: over ``candidates`` (open vocabulary) if given,
    else over all classes after calibrated stacking (``gzsl``; a model without unseen classes: all its classes)
    or over the unseen classes (ZSL)."""
    if candidates is not None:
        return predictor.rank_names(clips, candidates, top_k)
    everything = gzsl or not predictor.meta["unseen_classes"]
    return [p.gzsl_top if everything else p.zsl_top for p in predictor.predict(clips, gamma, top_k)]


def score_labelled(predictor: Predictor, clips: list[Clip], class_names: list[str], candidates: list[str],
                   top_k: int = 5, batch_size: int = 64, progress=None) -> dict:
    """A user's labelled clips ranked among ``candidates`` (open vocabulary: ``Predictor.rank_names``).

    ``clips[i].label`` indexes ``class_names``. Returns {rows: per clip {source, true, top (the first ``top_k``
    [{class, score}], as ``star predict --json``), rank (1-based place of the true name among the candidates, None
    when it is not one), right}, accuracy (top-1 over clips whose true name is a candidate), clips (that many),
    per_class [{class, clips, accuracy}], names (the candidates, the confusion's order), confusion (counts: true
    candidate x predicted candidate)}. ``progress(done, total)`` after each batch."""
    names = list(dict.fromkeys(n.strip() for n in candidates if n.strip()))
    index = {n: j for j, n in enumerate(names)}
    confusion = np.zeros((len(names), len(names)), np.int64)
    rows = []
    for s in range(0, len(clips), batch_size):
        batch = clips[s:s + batch_size]
        for clip, ranked in zip(batch, predictor.rank_names(batch, names)):
            true = class_names[clip.label] if clip.label is not None else None
            order = [t["class"] for t in ranked]
            rank = order.index(true) + 1 if true in index else None
            if rank is not None:
                confusion[index[true], index[order[0]]] += 1
            rows.append({"source": clip.source, "true": true,
                         "top": [{"class": t["class"], "score": round(float(t["score"]), 6)} for t in ranked[:top_k]],
                         "rank": rank, "right": rank == 1})
        if progress is not None:
            progress(min(s + batch_size, len(clips)), len(clips))
    scored = [r for r in rows if r["rank"] is not None]
    per_class = [{"class": n, "clips": int(confusion[j].sum()),
                  "accuracy": float(confusion[j, j] / confusion[j].sum())} for j, n in enumerate(names)
                 if confusion[j].sum()]
    return {"rows": rows, "accuracy": float(np.mean([r["right"] for r in scored])) if scored else None,
            "clips": len(scored), "per_class": per_class, "names": names, "confusion": confusion}

