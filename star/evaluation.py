"""Test-set evaluation: ZSL accuracy, GZSL S/U/H at the checkpoint's gamma, best H over gamma on the test set
(the paper's protocol, reported separately because it peeks at test labels), and AUSUC.

``evaluate_checkpoint`` (``evaluate_checkpoints``: several, one backbone pass each) recomputes everything from
the benchmark's test clips through the checkpoint's frozen backbone and head (deterministic preprocessing with the
checkpoint's canonical spec), so a fresh clone can check a shipped checkpoint.
``build_bundle`` makes the evaluation bundle the app reads (model outputs only, never input clips).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys

import numpy as np
import torch
from tqdm import tqdm

from star.analysis import subsample_per_class
from star.checkpoint import load_checkpoint
from star.config import RunConfig, load_benchmark_splits
from star.pipeline import StarPipeline, run_head
from star.skeleton.topology import partition
from star.zsl import ausuc, choose_gamma, fused_scores, gzsl_metrics, seen_unseen_curve, zsl_accuracy

ATTENTION_CLIPS = 24  # test clips whose attention maps go into the bundle


def test_metrics(scores: np.ndarray, labels: np.ndarray, seen: list[int], unseen: list[int], gamma: float) -> dict:
    """Every number ``star eval --json`` prints, as fractions in [0, 1].

    A model without unseen classes (trained on every class, e.g. the open-vocabulary one) has only ``S``: top-1
    accuracy of its test clips among all its classes; the zero-shot numbers are ``None``."""
    if not len(unseen):
        pred = np.asarray(seen)[np.argmax(np.asarray(scores)[:, seen], axis=1)]
        return {"zsl_acc": None, "S": float(np.mean(pred == np.asarray(labels))) if len(labels) else None,
                "U": None, "H": None, "gamma": float(gamma), "H_best_test": None, "gamma_best_test": None,
                "ausuc": None}
    g = gzsl_metrics(scores, labels, seen, unseen, gamma)
    gamma_best, h_best = choose_gamma(scores, labels, seen, unseen)
    s_curve, u_curve, _ = seen_unseen_curve(scores, labels, seen, unseen)
    return {"zsl_acc": float(zsl_accuracy(scores, labels, unseen)), "S": float(g["S"]), "U": float(g["U"]),
            "H": float(g["H"]), "gamma": float(gamma), "H_best_test": float(h_best),
            "gamma_best_test": float(gamma_best), "ausuc": float(ausuc(s_curve, u_curve))}


def attention_time_joint(attention: list[np.ndarray], num_parts: int) -> np.ndarray:
    """K arrays (N, heads, m, T'*|part|) -> (N, T', 25): each token's weight averaged over heads and prompts,
    placed at its joint (token order is time-major, then the part's joints in topology order)."""
    parts = list(partition(num_parts).values())
    n = attention[0].shape[0]
    t = attention[0].shape[-1] // len(parts[0])
    out = np.zeros((n, t, 25), dtype=np.float32)
    for joints, att in zip(parts, attention):
        out[:, :, list(joints)] = att.mean(axis=(1, 2)).reshape(n, t, len(joints))
    return out


@torch.no_grad()
def build_bundle(head, test: dict, names: torch.Tensor, parts: torch.Tensor | None, bench,
                 gamma: float, part_weight: float = 0.0) -> tuple[dict, dict]:
    """(metrics, bundle) for cached test features ``test`` (``star.features.load_features`` dict).

    The scores are ``star.zsl.fused_scores`` with ``part_weight`` (0: the global feature against the names).
    Part features, projected descriptions and attention maps go in only when the head has them."""
    device = next(head.parameters()).device
    head.eval()
    outputs = run_head(head, test["x"])
    glob, part_feats = outputs.global_features, outputs.part_features
    parts = parts.to(device) if parts is not None else None
    name_proj, desc_proj = head.encode_text(names.to(device), parts)
    desc_noprompt = head.encode_text(names.to(device), parts, use_prompt=False)[1] if desc_proj is not None else None
    name_proj = name_proj.cpu().numpy()
    desc_np = None if desc_proj is None else desc_proj.cpu().numpy()
    scores = fused_scores(glob, name_proj, part_feats, desc_np, part_weight).astype(np.float32)  # as the bundle stores
    labels = np.asarray(test["y"])
    metrics = test_metrics(scores, labels, bench.seen_classes, bench.unseen_classes, gamma)
    bundle = {"labels": labels, "sources": np.asarray(test["source"]).astype(str), "scores": scores,
              "global_features": glob.astype(np.float32), "name_proj": name_proj.astype(np.float32),
              "seen": np.array(bench.seen_classes), "unseen": np.array(bench.unseen_classes)}
    if desc_proj is not None:
        bundle.update({"part_features": part_feats.astype(np.float32),
                       "desc_proj": desc_np.astype(np.float32),
                       "desc_proj_noprompt": desc_noprompt.cpu().numpy().astype(np.float32)})
    rows = subsample_per_class(labels, ATTENTION_CLIPS)  # a deterministic spread of test clips
    out = head(torch.as_tensor(np.array(test["x"][rows], dtype=np.float32), device=device))
    if out.attention:  # absent for heads without attention (baseline, the "without attention" ablation)
        bundle["attention_rows"] = rows
        bundle["attention_time_joint"] = attention_time_joint([a.cpu().numpy() for a in out.attention],
                                                              head.config.num_parts)
    return metrics, bundle


class BankFeatures:
    """Backbone features of a clip bank's clips, computed on demand for a slice or an index array
    (``(n, 256, T', 25)`` numpy): lets ``build_bundle`` run over test sets too large to hold as features."""

    def __init__(self, pipe: StarPipeline, bank):
        self.pipe, self.bank = pipe, bank

    def __len__(self) -> int:
        return len(self.bank)

    def __getitem__(self, index) -> np.ndarray:
        rows = range(len(self.bank))[index] if isinstance(index, slice) else np.asarray(index).ravel()
        frames = [self.bank.clip(int(i)).frames for i in rows]
        return self.pipe.backbone_features(self.pipe.model_inputs(frames)).numpy()


def bundle_from_bank(pipe: StarPipeline, test_bank, bench) -> tuple[dict, dict]:
    """(metrics, bundle) of a loaded model on a benchmark's test clips, through the pipeline's own preprocessing,
    body averaging and scoring (``build_bundle`` at the checkpoint's gamma and part weight)."""
    test = {"x": BankFeatures(pipe, test_bank), "y": np.asarray(test_bank.label),
            "source": np.asarray(test_bank.sample_id)}
    return build_bundle(pipe.head, test, pipe.name_emb, pipe.part_emb, bench, pipe.ckpt.gamma, pipe.part_weight)


def evaluate_checkpoint(path, data_dir=None, device: str = "cpu", from_bundle: bool = False,
                        batch_size: int = 64) -> dict:
    """Recompute the checkpoint's test metrics from the test clips (or read the bundle's scores)."""
    if from_bundle:
        ckpt = load_checkpoint(path)
        b = ckpt.load_bundle()
        return test_metrics(b["scores"], b["labels"], ckpt.meta["seen_classes"], ckpt.meta["unseen_classes"],
                            ckpt.gamma)
    return evaluate_checkpoints([path], data_dir, device, batch_size)[0]


def _backbone_identity(pipe: StarPipeline, run_cfg: RunConfig, test) -> tuple:
    """What a checkpoint's test features depend on: the backbone's weights and configuration, the clips' path to
    the model input (canonical spec, frame count, body layout) and the test clips themselves."""
    digest = hashlib.sha256()
    for name, tensor in sorted(pipe.ckpt.sub_state("backbone").items()):
        digest.update(f"{name} {tensor.dtype} {tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    spec = json.dumps(pipe.canonical.to_dict(), sort_keys=True)
    return (digest.hexdigest(), json.dumps(pipe.meta["backbone_config"], sort_keys=True), spec,
            int(pipe.meta["num_frames"]), pipe.token_layout, str(run_cfg.data_dir),
            tuple(map(str, test.sample_id)), tuple(map(int, test.label)))


def evaluate_checkpoints(paths, data_dir=None, device: str = "cpu", batch_size: int = 64) -> list[dict]:
    """``evaluate_checkpoint`` for several checkpoints (in their order), running each distinct frozen backbone
    over its test clips once: heads trained on one backbone (STAR, its ablations and the global baseline share
    it) are scored from the same features, batch by batch."""
    groups: dict[tuple, list[int]] = {}
    pipes, tests = [], []
    for i, path in enumerate(paths):
        ckpt = load_checkpoint(path)
        pipe = StarPipeline(ckpt, device)
        run_cfg = RunConfig.from_dict(ckpt.meta["config"], where=f"{ckpt.path}/model.json: config")
        if data_dir is not None:
            run_cfg = dataclasses.replace(run_cfg, data_dir=str(data_dir))
        test = load_benchmark_splits(run_cfg)[1]["test"]  # same clips as at training time
        pipes.append(pipe)
        tests.append(test)
        groups.setdefault(_backbone_identity(pipe, run_cfg, test), []).append(i)
    scores: list[list[np.ndarray]] = [[] for _ in paths]
    for members in groups.values():
        features = BankFeatures(pipes[members[0]], tests[members[0]])
        for s in tqdm(range(0, len(features), batch_size), desc="eval", leave=False, file=sys.stderr):
            feats = features[s:s + batch_size]
            for i in members:
                scores[i].append(pipes[i].scores(pipes[i].head_outputs(feats)))
    return [test_metrics(np.concatenate(scores[i]).astype(np.float32),  # float32: as stored in bundles
                         np.asarray(tests[i].label), pipe.meta["seen_classes"], pipe.meta["unseen_classes"],
                         pipe.ckpt.gamma)
            for i, pipe in enumerate(pipes)]


def fused_metrics(paths) -> dict:
    """Score fusion of several checkpoints of one benchmark (e.g. a joint-stream and a bone-stream model, as the
    multi-stream Shift-GCN / CTR-GCN papers fuse streams): the class scores of their evaluation bundles are
    averaged, and so are their validation gammas. The mean of the calibrated scores ``s_i - gamma_i [seen]`` is
    the mean score calibrated by the mean gamma, so the fused model's gamma is chosen on validation too.
    ``test_metrics`` of the fused scores; ``CheckpointError`` when the checkpoints' test sets differ."""
    from star.checkpoint import CheckpointError

    ckpts = [load_checkpoint(p) for p in paths]
    if not ckpts:
        raise ValueError("fused_metrics needs at least one checkpoint")
    bundles = [c.load_bundle() for c in ckpts]
    first, ref = ckpts[0], bundles[0]
    for c, b in zip(ckpts[1:], bundles[1:]):
        same = (c.meta["benchmark"] == first.meta["benchmark"]
                and c.meta["seen_classes"] == first.meta["seen_classes"]
                and np.array_equal(b["labels"], ref["labels"]) and b["scores"].shape == ref["scores"].shape
                and np.array_equal(b.get("sources", ref.get("sources")), ref.get("sources", b.get("sources"))))
        if not same:
            raise CheckpointError(f"{c.path} and {first.path}: not the same benchmark and test clips; "
                                  "only models of one split can be fused")
    scores = np.mean([b["scores"].astype(np.float64) for b in bundles], axis=0)
    gamma = float(np.mean([c.gamma for c in ckpts]))
    return test_metrics(scores, ref["labels"], first.meta["seen_classes"], first.meta["unseen_classes"], gamma)
