"""Part occlusion: which body parts a model's decision depends on (the Predict page's Occlusion tab).

Rule (``occlude``): in the model input (N, 3, T, 25, M), after the checkpoint's own preprocessing, the occluded
part's joints are set to 0 in every frame and for every body, that is, to the origin of the input (the first
frame's spine middle): the part keeps no position and no motion, as when a sensor reports those joints missing.
Its effect is the drop of the top class's probability (softmax at the model's temperature over the candidate
classes) from the clip as it is to the clip with the part occluded. One forward pass scores the clip and its K
occluded copies together.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from star.skeleton.topology import partition
from star.zsl import class_probabilities

RULE = ("the part's joints set to the input's origin (the first frame's spine middle) in every frame: no position, "
        "no motion, as a sensor that reports them missing")


def occlude(inputs: np.ndarray, joints: Sequence[int]) -> np.ndarray:
    """A copy of model inputs (N, 3, T, 25, M) with ``joints`` set to 0 (see the module's rule)."""
    out = np.array(inputs, dtype=np.float32, copy=True)
    out[:, :, :, list(joints), :] = 0.0
    return out


def part_occlusion(score: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray, num_parts: int,
                   candidates: Sequence[int], temperature: float, targets: Sequence[int] | None = None) -> list[dict]:
    """Per part of ``partition(num_parts)``: the probability of each clip's target class (default: its top class
    among ``candidates``) with the part occluded, for the clips ``inputs`` (N, 3, T, 25, M).

    ``score`` maps model inputs (B, 3, T, 25, M) to class scores (B, C). Returns, per clip, a dict {top (the
    target class index), prob (its probability as it is), parts: [{part, prob (occluded), drop (prob - occluded
    prob), top_after (the occluded copy's top class)}]}."""
    parts = partition(num_parts)
    n = len(inputs)
    batch = np.concatenate([np.asarray(inputs, np.float32)] + [occlude(inputs, joints) for joints in parts.values()])
    scores = np.asarray(score(batch), np.float64)
    candidates = list(candidates)
    probs = class_probabilities(scores, candidates, temperature)  # (B, C), 0 outside the candidates
    out = []
    for i in range(n):
        top = int(np.argmax(probs[i])) if targets is None else int(targets[i])
        rows = []
        for k, part in enumerate(parts):
            j = n * (k + 1) + i
            rows.append({"part": part, "prob": float(probs[j, top]), "drop": float(probs[i, top] - probs[j, top]),
                         "top_after": int(np.argmax(probs[j]))})
        out.append({"top": top, "prob": float(probs[i, top]), "parts": rows})
    return out


def class_part_dependence(results: list[dict], labels: Sequence[int], num_parts: int) -> dict[int, dict[str, float]]:
    """Mean probability drop per part over each class's clips: {class: {part: mean drop}} (from ``part_occlusion``
    results of clips with the given labels)."""
    out: dict[int, dict[str, list[float]]] = {}
    for result, label in zip(results, labels):
        for row in result["parts"]:
            out.setdefault(int(label), {p: [] for p in partition(num_parts)})[row["part"]].append(row["drop"])
    return {c: {p: float(np.mean(v)) for p, v in parts.items()} for c, parts in out.items()}


def test_clip_dependence(predictor, data_dir=None, clips_per_class: int | None = None, progress=None) -> dict:
    """Which parts each class depends on, on the checkpoint's own test clips: every clip of an unseen class (all
    classes for a model without unseen ones) occluded part by part, the drop of its TRUE class's probability among
    the candidates, averaged per class. Returns {parts, classes: {class name: {part: mean drop}}, clips: {class
    name: count}, rule}. ``clips_per_class`` keeps the first N test clips of each class (a quicker look)."""
    import dataclasses

    from star.config import RunConfig, load_benchmark_splits

    meta = predictor.meta
    cfg = RunConfig.from_dict(meta["config"], where="the checkpoint's config")
    if data_dir is not None:
        cfg = dataclasses.replace(cfg, data_dir=str(data_dir))
    test = load_benchmark_splits(cfg)[1]["test"]
    wanted = set(meta["unseen_classes"] or range(len(meta["class_names"])))
    rows = [i for i in range(len(test)) if int(test.label[i]) in wanted]
    if clips_per_class:
        counts: dict[int, int] = {}
        first = []
        for i in rows:
            c = int(test.label[i])
            if counts.get(c, 0) < clips_per_class:
                counts[c] = counts.get(c, 0) + 1
                first.append(i)
        rows = first
    labels = [int(test.label[i]) for i in rows]
    results = predictor.occlusions([test.clip(i) for i in rows], targets=labels, progress=progress)
    per_class = class_part_dependence(results, labels, int(meta["num_parts"]))
    names = meta["class_names"]
    return {"parts": list(partition(int(meta["num_parts"]))), "rule": RULE,
            "classes": {names[c]: per_class[c] for c in sorted(per_class)},
            "clips": {names[c]: labels.count(c) for c in sorted(per_class)}}
