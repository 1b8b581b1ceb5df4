"""Head training on cached backbone features (``star train``): any head of ``star.models.heads``.

Honest model selection, never on test clips:

1. Validation run: a seeded share of the SEEN classes is held out as pseudo-unseen; the head trains on the
   other seen classes' training clips (minus a held-out val share) and after every epoch the GZSL rehearsal
   (held-out pseudo-seen clips + all pseudo-unseen clips) gives H at its best gamma and the pseudo-unseen ZSL
   accuracy. The epoch with the best ``validation.select_by`` wins, with its gamma.
2. Final run: the head trains on all seen-class training clips for that many epochs (same schedule).
3. The test set is evaluated once, and the checkpoint with its evaluation bundle is written.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from star.checkpoint import save_checkpoint
from star.config import RunConfig, load_benchmark_splits
from star.data import get_benchmark
from star.evaluation import build_bundle
from star.features import BACKBONE_FILE, load_features
from star.models import build_head, load_backbone_weights
from star.models.losses import star_loss
from star.pipeline import run_head
from star.text import class_text_embeddings, get_encoder
from star.training import distributed
from star.training.loop import epoch_batches, set_lr, step_lr
from star.training.runlog import RunLog
from star.training.sidecar import checkpoint_meta
from star.zsl import choose_gamma, cosine_scores, zsl_accuracy


def class_text(cfg: RunConfig, bench) -> tuple[object, torch.Tensor, torch.Tensor]:
    """(encoder, names (C, Dt), parts (K, C, Dt)) raw text embeddings, through the on-disk cache."""
    encoder = get_encoder(cfg.head.text_encoder)
    descriptions = cfg.head.descriptions or bench.description_set
    names, parts = class_text_embeddings(encoder, bench.class_names, descriptions, cfg.head.arch.num_parts)
    return encoder, torch.from_numpy(np.asarray(names, np.float32)), torch.from_numpy(np.asarray(parts, np.float32))


class TrainStep(torch.nn.Module):
    """Skeleton and text streams in one forward call, so DistributedDataParallel sees every parameter used."""

    def __init__(self, head: torch.nn.Module):
        super().__init__()
        self.head = head

    def forward(self, x, names, parts):
        return (self.head(x), *self.head.encode_text(names, parts))  # output, name_proj, desc_proj or None


def _loss(step, x, y, names, parts, classes: list[int], cfg: RunConfig) -> dict:
    out, name_proj, desc_proj = step(x, names, parts)
    hcfg = cfg.head
    sce_classes = list(range(len(names))) if hcfg.sce_classes == "all" else classes
    return star_loss(out, name_proj, desc_proj, y, classes, text_classes=sce_classes, tau=hcfg.tau,
                     alpha=hcfg.alpha, beta=hcfg.beta, use_mpce=hcfg.use_mpce, use_sce=hcfg.use_sce,
                     use_gce=hcfg.use_gce)


@torch.no_grad()
def projected_names(head, names: torch.Tensor) -> np.ndarray:
    head.eval()
    return head.encode_names(names).cpu().numpy()


def new_head(cfg: RunConfig, bench, text_dim: int) -> torch.nn.Module:
    """A freshly initialised head (seeded with the run's seed) on the run's device."""
    torch.manual_seed(cfg.seed)
    return build_head(cfg.head.model, cfg.head.arch_for(bench.num_classes, text_dim)).to(cfg.device)


def fit(head, x: np.ndarray, y: np.ndarray, names, parts, classes: list[int], cfg: RunConfig, epochs: int,
        log: RunLog, stage: str, on_epoch=None) -> list[dict]:
    """Train ``head`` on rows (x, y) for ``epochs``; ``on_epoch(epoch) -> dict`` adds validation metrics."""
    hcfg, device = cfg.head, cfg.device
    opt = torch.optim.SGD(head.parameters(), lr=hcfg.lr, momentum=hcfg.momentum, nesterov=True,
                          weight_decay=hcfg.weight_decay)
    model = distributed.wrap(TrainStep(head))
    names, parts = names.to(device), (parts.to(device) if parts is not None else None)
    history = []
    for epoch in range(epochs):
        rng = np.random.default_rng(cfg.seed * 7919 + epoch)
        lr = step_lr(epoch, hcfg.lr, hcfg.milestones)
        set_lr(opt, lr)
        head.train()
        sums: dict[str, float] = {}
        for mine in tqdm(epoch_batches(len(x), hcfg.batch_size, rng, sort=True), leave=False,
                         desc=f"{stage} epoch {epoch + 1}/{epochs}", disable=not distributed.is_main()):
            xb = torch.as_tensor(np.array(x[mine], dtype=np.float32), device=device)
            yb = torch.as_tensor(y[mine], device=device)
            losses = _loss(model, xb, yb, names, parts, classes, cfg)
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(mine) / len(x) * distributed.world_size()
        record = {"stage": stage, "epoch": epoch + 1, "lr": lr,
                  **{f"loss_{k}": distributed.mean_across(v) for k, v in sums.items()}}
        if on_epoch is not None:
            record.update(on_epoch(epoch))
        log.write(**record)
        history.append(record)
    return history


def _rows(feats: dict, sources, clean_only: bool) -> np.ndarray:
    mask = np.isin(feats["source"], np.asarray(sources))
    if clean_only:
        mask &= feats["copy"] == 0
    return np.flatnonzero(mask)


def select_epoch(cfg: RunConfig, bench, feats: dict, names, parts, log: RunLog) -> dict:
    """Validation run on the pseudo-unseen fold: returns the chosen epoch, gamma and the per-epoch curve."""
    vcfg = cfg.validation
    train_bank = load_benchmark_splits(cfg)[1]["train"]
    fold = bench.pseudo_unseen_fold(train_bank, seed=cfg.seed, fraction=vcfg.pseudo_unseen_fraction,
                                    val_fraction=vcfg.val_fraction)
    p_seen, p_unseen = fold["seen_classes"], fold["unseen_classes"]
    tr = _rows(feats, fold["train"].sample_id, clean_only=False)
    va = _rows(feats, np.concatenate([fold["val_seen"].sample_id, fold["val_unseen"].sample_id]), clean_only=True)
    x_val, y_val = feats["x"][va], feats["y"][va]
    head = new_head(cfg, bench, names.shape[1])

    def on_epoch(epoch: int) -> dict:
        scores = cosine_scores(run_head(head, x_val).global_features, projected_names(head, names.to(cfg.device)))
        keep = sorted(p_seen + p_unseen)  # score only the seen classes' columns (true unseen stay out)
        sub = scores[:, keep]
        pos = {c: i for i, c in enumerate(keep)}
        y_sub = np.array([pos[int(c)] for c in y_val])
        s_sub, u_sub = [pos[c] for c in p_seen], [pos[c] for c in p_unseen]
        gamma, h = choose_gamma(sub, y_sub, s_sub, u_sub)
        return {"val_H": float(h), "val_gamma": float(gamma), "val_zsl": float(zsl_accuracy(sub, y_sub, u_sub))}

    history = fit(head, feats["x"][tr], feats["y"][tr], names, parts, p_seen, cfg, cfg.head.epochs, log,
                  "validation", on_epoch)
    key = "val_H" if vcfg.select_by == "H" else "val_zsl"
    best = max(history, key=lambda r: (r[key], -r["epoch"]))
    return {"epoch": best["epoch"], "gamma": best["val_gamma"], "val_H": best["val_H"], "val_zsl": best["val_zsl"],
            "pseudo_unseen_classes": p_unseen, "select_by": vcfg.select_by, "curve": history}


def train_head(cfg: RunConfig) -> Path:
    """Validation run, final run, test evaluation; writes the checkpoint ``cfg.out`` and returns its path."""
    cfg.device = distributed.setup(cfg.device)
    t0 = time.perf_counter()
    rd = cfg.run_path
    bench = get_benchmark(cfg.benchmark)
    encoder, names, parts = class_text(cfg, bench)
    feats = load_features(rd, "train")
    log = RunLog(rd / f"head_{Path(cfg.out).name}_log.jsonl")
    choice = select_epoch(cfg, bench, feats, names, parts, log)
    if distributed.is_main():
        print(f"validation chose epoch {choice['epoch']} (val H {choice['val_H']:.3f}, gamma {choice['gamma']:.4f})")
    head = new_head(cfg, bench, names.shape[1])
    fit(head, feats["x"], feats["y"], names, parts, bench.seen_classes, cfg, choice["epoch"], log, "final")
    head.eval()
    out = Path(cfg.out)
    if distributed.is_main():
        test = load_features(rd, "test")
        metrics, bundle = build_bundle(head, test, names, parts, bench, choice["gamma"])
        backbone = load_backbone_weights(rd / BACKBONE_FILE)
        tensors = {**{f"backbone.{k}": v for k, v in backbone.items()},
                   **{f"head.{k}": v for k, v in head.state_dict().items()}, "text.names": names}
        if "desc_proj" in bundle:  # the head reads part descriptions: keep them with the weights
            tensors["text.parts"] = parts
        meta = checkpoint_meta(cfg, bench, encoder, head.config, choice, metrics,
                               wall_time_s=round(time.perf_counter() - t0, 1))
        save_checkpoint(out, tensors, meta, bundle)
        print(f"checkpoint: {out}  ZSL {metrics['zsl_acc']:.3f}  S {metrics['S']:.3f}  U {metrics['U']:.3f}"
              f"  H {metrics['H']:.3f}  (gamma {metrics['gamma']:.4f}, chosen on validation)")
    distributed.teardown()
    return out
