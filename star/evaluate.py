"""``star eval``: ZSL accuracy, GZSL S/U/H at the checkpoint's gamma, best H over gamma on the test set
(the paper's protocol, reported separately because it peeks at test labels), and AUSUC.

``evaluate_checkpoint`` recomputes everything from the benchmark's test clips through the checkpoint's
frozen backbone and head (deterministic preprocessing), so a fresh clone can check a shipped checkpoint.
``build_bundle`` makes the evaluation bundle the app reads (model outputs only, never input clips).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch
from tqdm import tqdm

from star import __version__
from star.checkpoint import code_version, load_checkpoint
from star.config import load_benchmark_splits, run_dir
from star.pipeline import StarPipeline, head_config, run_head
from star.skeleton.topology import partition
from star.skeleton.transforms import to_model_input_batch
from star.zsl import (ausuc, choose_gamma, cosine_scores, gzsl_metrics, seen_unseen_curve, zsl_accuracy)

ATTENTION_CLIPS = 24  # test clips whose attention maps go into the bundle


def test_metrics(scores: np.ndarray, labels: np.ndarray, seen: list[int], unseen: list[int], gamma: float) -> dict:
    """Every number ``star eval --json`` prints, as fractions in [0, 1]."""
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


def pick_attention_clips(labels: np.ndarray, count: int = ATTENTION_CLIPS) -> np.ndarray:
    """A deterministic spread of test clips: round-robin over classes, first clips first."""
    by_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    picked, r = [], 0
    while len(picked) < min(count, len(labels)):
        for rows in by_class:
            if r < len(rows) and len(picked) < count:
                picked.append(rows[r])
        r += 1
    return np.sort(np.array(picked, dtype=np.int64))


@torch.no_grad()
def build_bundle(head, test: dict, names: torch.Tensor, parts: torch.Tensor | None, bench, gamma: float,
                 cfg: dict) -> tuple[dict, dict]:
    """(metrics, bundle) for cached test features ``test`` (``star.extract.load_features`` dict)."""
    device = next(head.parameters()).device
    head.eval()
    outputs = run_head(head, test["x"])
    glob, part_feats = outputs.global_features, outputs.part_features
    if parts is not None:
        name_proj, desc_proj = [t.cpu().numpy() for t in head.encode_text(names.to(device), parts.to(device))]
        desc_noprompt = head.encode_text(names.to(device), parts.to(device), use_prompt=False)[1].cpu().numpy()
    else:
        name_proj, desc_proj, desc_noprompt = head.encode_names(names.to(device)).cpu().numpy(), None, None
    scores = cosine_scores(glob, name_proj).astype(np.float32)  # metrics from exactly what the bundle stores
    labels = np.asarray(test["y"])
    metrics = test_metrics(scores, labels, bench.seen_classes, bench.unseen_classes, gamma)
    bundle = {"labels": labels, "sources": np.asarray(test["source"]).astype(str), "scores": scores,
              "global_features": glob.astype(np.float32), "name_proj": name_proj.astype(np.float32),
              "seen": np.array(bench.seen_classes), "unseen": np.array(bench.unseen_classes)}
    if parts is not None:
        bundle.update({"part_features": part_feats.astype(np.float32), "desc_proj": desc_proj.astype(np.float32),
                       "desc_proj_noprompt": desc_noprompt.astype(np.float32)})
        rows = pick_attention_clips(labels)
        out = head(torch.as_tensor(np.array(test["x"][rows], dtype=np.float32), device=device))
        if out.attention:  # absent in the "without attention" ablation
            bundle["attention_rows"] = rows
            bundle["attention_time_joint"] = attention_time_joint([a.cpu().numpy() for a in out.attention],
                                                                  cfg["head"]["num_parts"])
    return metrics, bundle


def checkpoint_meta(cfg: dict, bench, encoder, text_dim: int, choice: dict, metrics: dict, wall_time_s: float) -> dict:
    hcfg = cfg["head"]
    return {
        "name": str(cfg["out"]).rstrip("/").split("/")[-1], "model": hcfg["model"], "benchmark": bench.name,
        "class_names": bench.class_names, "seen_classes": bench.seen_classes, "unseen_classes": bench.unseen_classes,
        "num_parts": hcfg["num_parts"], "part_names": list(partition(hcfg["num_parts"])),
        "text_encoder": {"id": encoder.id, "dim": text_dim, "spec": hcfg["text_encoder"]},
        "descriptions": hcfg["descriptions"] or bench.description_set,
        "head_config": head_config(hcfg, bench.num_classes, text_dim),
        "backbone_config": backbone_config(cfg, bench),
        "num_frames": cfg["num_frames"],
        "gamma": {"value": choice["gamma"], "chosen_by": "validation: best H on the pseudo-unseen fold of seen-class"
                  " training clips (never test clips)", "epoch": choice["epoch"], "val_H": choice["val_H"],
                  "val_zsl": choice["val_zsl"], "pseudo_unseen_classes": choice["pseudo_unseen_classes"],
                  "select_by": choice["select_by"]},
        "validation_curve": choice["curve"],
        "metrics": metrics, "config": cfg, "code_version": code_version(), "package_version": __version__,
        "seed": cfg["seed"], "device": _device_name(cfg["device"]),
        "wall_time_s": {**stage_times(cfg), "head": wall_time_s},
    }


def backbone_config(cfg: dict, bench) -> dict:
    """How the frozen backbone was built: from the run directory's record (the truth), else the config."""
    state = run_dir(cfg) / "backbone_state.json"
    num_person = json.loads(state.read_text())["num_person"] if state.exists() else cfg["backbone"]["num_person"]
    return {"num_classes": len(bench.seen_classes), "num_person": num_person}


def stage_times(cfg: dict) -> dict:
    """Wall times of the backbone and feature-extraction stages recorded in the run directory."""
    times = {}
    for key, rel in (("backbone", "backbone_state.json"), ("extract", "features/info.json")):
        path = run_dir(cfg) / rel
        if path.exists():
            times[key] = json.loads(path.read_text()).get("wall_time_s")
    return times


def _device_name(device: str) -> str:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name()})"
    return f"cpu ({cpu_model()}, {torch.get_num_threads()} threads)"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where available, else the machine type."""
    import platform

    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def evaluate_checkpoint(path, data_dir=None, device: str = "cpu", from_bundle: bool = False,
                        batch_size: int = 64) -> dict:
    """Recompute the checkpoint's test metrics from the test clips (or read the bundle's scores)."""
    ckpt = load_checkpoint(path)
    meta = ckpt.meta
    if from_bundle:
        b = ckpt.load_bundle()
        scores, labels = b["scores"], b["labels"]
    else:
        pipe = StarPipeline(ckpt, device)
        run_cfg = dict(meta["config"], data_dir=data_dir or meta["config"].get("data_dir"))
        test = load_benchmark_splits(run_cfg)[1]["test"]  # same clips as at training time
        glob, labels = [], np.asarray(test.label)
        for s in tqdm(range(0, len(test), batch_size), desc="eval", leave=False, file=sys.stderr):
            frames = [test.clip(i).frames for i in range(s, min(s + batch_size, len(test)))]
            feats = pipe.backbone_features(to_model_input_batch(frames, meta["num_frames"]))
            glob.append(pipe.head_outputs(feats).global_features)
        scores = pipe.scores(np.concatenate(glob)).astype(np.float32)  # as stored in bundles
    return test_metrics(scores, labels, meta["seen_classes"], meta["unseen_classes"], ckpt.gamma)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (checkpoints/<name>)")
    parser.add_argument("--data-dir", default=None, help="folder with the benchmark's clip banks")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--from-bundle", action="store_true", help="use the bundle's stored test scores")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    m = evaluate_checkpoint(args.checkpoint, args.data_dir, args.device, args.from_bundle)
    if args.json:
        print(json.dumps(m))
        return 0
    print(f"ZSL top-1            {m['zsl_acc'] * 100:6.2f}")
    print(f"GZSL S / U / H       {m['S'] * 100:6.2f} / {m['U'] * 100:6.2f} / {m['H'] * 100:6.2f}"
          f"   (gamma {m['gamma']:.4f}, chosen on validation)")
    print(f"best H on test       {m['H_best_test'] * 100:6.2f}   (gamma {m['gamma_best_test']:.4f};"
          f" the paper's protocol: gamma picked on the test set, optimistic)")
    print(f"AUSUC                {m['ausuc'] * 100:6.2f}")
    return 0
