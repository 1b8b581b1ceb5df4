"""Head training on cached backbone features (``star train``): any head of ``star.models.heads``.

Honest model selection, never on test clips:

1. Validation run: a seeded share of the SEEN classes is held out as pseudo-unseen; the head trains on the
   other seen classes' training clips (minus a held-out part: ``validation.protocol`` ``clips`` = a share of
   each class's clips, ``protocol`` = each source's own held-out views / subjects) and after every epoch the
   GZSL rehearsal on the held-out clips gives H at its best gamma, S, U, the pseudo-unseen ZSL accuracy and
   AUSUC. The epoch (and, with ``head.tau_grid``, the temperature) with the best ``validation.select_by``
   wins, with its gamma. ``validation.backbone: pseudo-seen`` reads features of a backbone that never saw the
   pseudo-unseen classes (``<run_dir>/validation``).
2. Final run: the head trains on all seen-class training clips for that many epochs, replaying the
   validation run's learning rates (the schedule of a ``head.epochs`` run, stopped at the chosen epoch), so
   the final head sees exactly the rates the chosen validation epoch had (``head.copy_sampling: one`` trains
   on one of each clip's cached copies per epoch).
3. The test set is evaluated once, and the checkpoint with its evaluation bundle is written.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from star.checkpoint import save_checkpoint
from star.config import RunConfig, load_benchmark_splits
from star.data import get_benchmark
from star.evaluation import build_bundle
from star.features import (BACKBONE_FILE, FEATURE_INFO_FILE, check_preprocess, load_features, validation_fold,
                           validation_run_dir)
from star.models import build_head, load_backbone_weights
from star.models.losses import star_loss
from star.pipeline import run_head
from star.text import class_text_embeddings, get_encoder
from star.training import distributed
from star.training.loop import autocast, epoch_batches, schedule_lr, set_lr
from star.training.runlog import RunLog
from star.training.sidecar import checkpoint_meta
from star.zsl import ausuc, choose_gamma, fused_scores, gzsl_metrics, seen_unseen_curve, zsl_accuracy


def class_text(cfg: RunConfig, bench) -> tuple[object, torch.Tensor, torch.Tensor]:
    """(encoder, names (C, Dt), parts (K, C, Dt)) raw text embeddings, encoded afresh with the run's encoder
    (training does not read the on-disk cache that ``star embed`` fills)."""
    encoder = get_encoder(cfg.head.text_encoder)
    descriptions = cfg.head.descriptions or bench.description_set
    names, parts = class_text_embeddings(encoder, bench.class_names, descriptions, cfg.head.arch.num_parts)
    return encoder, torch.from_numpy(np.asarray(names, np.float32)), torch.from_numpy(np.asarray(parts, np.float32))


class TrainStep(torch.nn.Module):
    """Skeleton and text streams in one forward call, so DistributedDataParallel sees every parameter used.

    With ``learn_tau`` the cosine-logit temperature is a parameter ``log_tau`` (initialised at ``log(tau)``)."""

    def __init__(self, head: torch.nn.Module, tau: float = 0.1, learn_tau: bool = False):
        super().__init__()
        self.head = head
        self.log_tau = torch.nn.Parameter(torch.tensor(float(np.log(tau)))) if learn_tau else None
        self.fixed_tau = float(tau)

    def tau(self):
        return self.log_tau.exp() if self.log_tau is not None else self.fixed_tau

    def tau_value(self) -> float:
        return float(self.log_tau.detach().exp()) if self.log_tau is not None else self.fixed_tau

    def forward(self, x, names, parts):
        return (self.head(x), *self.head.encode_text(names, parts), self.tau())  # output, name/desc proj, tau


def _float(t):
    return None if t is None else t.float()


def _loss(step, x, y, names, parts, classes: list[int], cfg: RunConfig) -> dict:
    hcfg = cfg.head
    with autocast(x.device, hcfg.precision):
        out, name_proj, desc_proj, tau = step(x, names, parts)
    out = dataclasses.replace(out, part_features=_float(out.part_features), global_feature=out.global_feature.float())
    name_proj, desc_proj = name_proj.float(), _float(desc_proj)
    sce_classes = list(range(len(names))) if hcfg.sce_classes == "all" else classes
    return star_loss(out, name_proj, desc_proj, y, classes, text_classes=sce_classes, tau=tau,
                     alpha=hcfg.alpha, beta=hcfg.beta, use_mpce=hcfg.use_mpce, use_sce=hcfg.use_sce,
                     use_gce=hcfg.use_gce)


@torch.no_grad()
def projected_text(head, names: torch.Tensor, parts: torch.Tensor | None) -> tuple[np.ndarray, np.ndarray | None]:
    """(name_proj (C, m), desc_proj (K, C, m) or None) of a head in eval mode, semantic prompts included."""
    head.eval()
    name_proj, desc_proj = head.encode_text(names, parts)
    return name_proj.cpu().numpy(), None if desc_proj is None else desc_proj.cpu().numpy()


def validation_outputs(head, x_val: np.ndarray, cfg: RunConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """(global features, part features) of the validation clips after an epoch, under ``head.precision``'s
    autocast (as the head trains; the test evaluation stays fp32). Under torchrun every process runs its share
    of the clips and all of them get every output."""
    def compute(rows: np.ndarray):
        with autocast(cfg.device, cfg.head.precision):
            out = run_head(head, x_val[rows])
        return out.global_features, out.part_features

    return distributed.gather_rows(len(x_val), compute)


def part_weights(cfg: RunConfig) -> list[float]:
    """The class-score part weights validation compares (``head.part_weight_grid``, else ``head.part_weight``)."""
    return list(cfg.head.part_weight_grid) or [cfg.head.part_weight]


def weight_view(history: list[dict], weight: float, stage: str) -> list[dict]:
    """One part weight's per-epoch records out of a run scored with several (keys ``<key>@<weight>``)."""
    tag = f"@{weight:g}"
    return [{**{k: v for k, v in r.items() if "@" not in k},
             **{k[:-len(tag)]: v for k, v in r.items() if k.endswith(tag)}, "stage": stage, "part_weight": weight}
            for r in history]


def new_head(cfg: RunConfig, bench, text_dim: int) -> torch.nn.Module:
    """A freshly initialised head (seeded with the run's seed) on the run's device."""
    torch.manual_seed(cfg.seed)
    return build_head(cfg.head.model, cfg.head.arch_for(bench.num_classes, text_dim)).to(cfg.device)


def epoch_rows(rows: np.ndarray, clips: np.ndarray, sampling: str, rng: np.random.Generator) -> np.ndarray:
    """The rows one epoch trains on: all of ``rows`` (``all``), or one row per clip id in ``clips`` (the
    rows' clip ids), drawn uniformly among that clip's clean and augmented copies (``one``). Sorted."""
    if sampling == "all":
        return np.sort(rows)
    order = rng.permutation(len(rows))
    _, first = np.unique(clips[order], return_index=True)  # a random row of every clip
    return np.sort(rows[order[first]])


def fit(head, x: np.ndarray, rows: np.ndarray, y: np.ndarray, names, parts, classes: list[int], cfg: RunConfig,
        epochs: int, log: RunLog, stage: str, on_epoch=None, clips: np.ndarray | None = None,
        tau: float | None = None, schedule_epochs: int | None = None) -> tuple[list[dict], float]:
    """Train ``head`` on rows ``rows`` of (x, y) (x may be memory-mapped) for ``epochs``.

    ``clips``: each row's clip id (``head.copy_sampling: one`` draws one row per clip every epoch);
    ``tau``: the temperature (default ``head.tau``; with ``head.learn_tau`` its initial value);
    ``on_epoch(epoch) -> dict`` adds validation metrics. The lr follows ``head.schedule`` of a run of
    ``schedule_epochs`` epochs (default ``epochs``; a longer one stops early, replaying its first rates).
    Returns (per-epoch records, final tau).
    """
    hcfg, device = cfg.head, cfg.device
    rows = np.asarray(rows)
    clips = rows if clips is None else np.asarray(clips)
    step = TrainStep(head, hcfg.tau if tau is None else tau, hcfg.learn_tau)
    groups = [{"params": list(head.parameters())}]
    if step.log_tau is not None:
        groups.append({"params": [step.log_tau], "weight_decay": 0.0})
    opt = torch.optim.SGD(groups, lr=hcfg.lr, momentum=hcfg.momentum, nesterov=True, weight_decay=hcfg.weight_decay)
    model = distributed.wrap(step.to(device))
    names, parts = names.to(device), (parts.to(device) if parts is not None else None)
    history = []
    for epoch in range(epochs):
        rng = np.random.default_rng(cfg.seed * 7919 + epoch)
        lr = schedule_lr(epoch, schedule_epochs or epochs, hcfg.lr, hcfg.schedule, hcfg.milestones, hcfg.milestone_fractions)
        set_lr(opt, lr)
        head.train()
        mine_rows = epoch_rows(rows, clips, hcfg.copy_sampling, rng)
        sums: dict[str, float] = {}
        for mine in tqdm(epoch_batches(len(mine_rows), hcfg.batch_size, rng, sort=True), leave=False,
                         desc=f"{stage} epoch {epoch + 1}/{epochs}", disable=not distributed.is_main()):
            batch = mine_rows[mine]  # sorted, for memory-mapped reads
            xb = torch.as_tensor(np.array(x[batch], dtype=np.float32), device=device)
            yb = torch.as_tensor(y[batch], device=device)
            losses = _loss(model, xb, yb, names, parts, classes, cfg)
            opt.zero_grad(set_to_none=True)
            losses["total"].backward()
            opt.step()
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) * len(mine) / len(mine_rows) * distributed.world_size()
        record = {"stage": stage, "epoch": epoch + 1, "lr": lr, "tau": step.tau_value(),
                  **{f"loss_{k}": distributed.mean_across(v) for k, v in sums.items()}}
        if on_epoch is not None:
            record.update(on_epoch(epoch))
        log.write(**record)
        history.append(record)
    return history, step.tau_value()


def _rows(feats: dict, sources, clean_only: bool) -> np.ndarray:
    mask = np.isin(feats["source"], np.asarray(sources))
    if clean_only:
        mask &= feats["copy"] == 0
    return np.flatnonzero(mask)


SELECT_KEYS = {"H": "val_H", "zsl": "val_zsl", "ausuc": "val_ausuc"}


def validation_metrics(scores: np.ndarray, labels: np.ndarray, p_seen: list[int], p_unseen: list[int]) -> dict:
    """GZSL rehearsal metrics on the validation fold: scores (N, C) over the benchmark's classes; only the
    seen classes' columns (pseudo-seen + pseudo-unseen) are scored, the true unseen classes stay out."""
    keep = sorted(p_seen + p_unseen)
    sub = scores[:, keep]
    pos = {c: i for i, c in enumerate(keep)}
    y_sub = np.array([pos[int(c)] for c in labels])
    s_sub, u_sub = [pos[c] for c in p_seen], [pos[c] for c in p_unseen]
    gamma, h = choose_gamma(sub, y_sub, s_sub, u_sub)
    g = gzsl_metrics(sub, y_sub, s_sub, u_sub, gamma)
    s_curve, u_curve, _ = seen_unseen_curve(sub, y_sub, s_sub, u_sub)
    return {"val_H": float(h), "val_gamma": float(gamma), "val_S": float(g["S"]), "val_U": float(g["U"]),
            "val_zsl": float(zsl_accuracy(sub, y_sub, u_sub)), "val_ausuc": float(ausuc(s_curve, u_curve))}


def smoothed(values: list[float], window: int) -> list[float]:
    """``values`` averaged over a centred window of ``window`` (odd) neighbours; at the ends the window
    shrinks to the values that exist (``smoothed([1, 2, 6], 3) == [1.5, 3.0, 4.0]``)."""
    half = window // 2
    return [float(np.mean(values[max(0, i - half):i + half + 1])) for i in range(len(values))]


VAL_KEYS = ("val_H", "val_gamma", "val_S", "val_U", "val_zsl", "val_ausuc")


def mean_curve(runs: list[list[dict]], stage: str) -> list[dict]:
    """Per-epoch records averaged over folds (``runs``: one ``fit`` history per fold, equally long): every
    numeric key the records share, under ``stage``. One fold gives its own values back."""
    keys = [k for k, v in runs[0][0].items() if isinstance(v, (int, float)) and k != "epoch"
            and all(k in h[0] for h in runs)]
    return [{"stage": stage, "epoch": recs[0]["epoch"], **{k: float(np.mean([r[k] for r in recs])) for k in keys}}
            for recs in zip(*runs)]


def select_epoch(cfg: RunConfig, bench, feats: dict, names, parts, log: RunLog) -> dict:
    """Validation runs on the pseudo-unseen folds: the chosen epoch, gamma, tau and the per-epoch curves
    (``choose(cfg, validation_curves(...))``).

    The folds are ``star.features.validation_fold`` 0 .. ``validation.folds`` - 1 (``validation.protocol``);
    their features come from the run's backbone or, with ``validation.backbone: pseudo-seen`` (one fold), from
    the validation backbone that never saw the pseudo-unseen classes. One run per fold and tau of
    ``head.tau_grid`` (else ``head.tau``). Per tau, the folds' per-epoch metrics are averaged (stage
    ``validation`` / ``validation tau=<tau>``; the folds' own records follow as ``... fold=<j>``); the (tau,
    epoch) with the best ``validation.select_by`` on that mean curve, smoothed over ``validation.smooth_epochs``,
    wins (ties: smaller epoch, then the earlier tau) and brings the folds' mean best-H gamma at that epoch.
    With ``head.part_weight_grid`` every epoch is also scored with each part weight (``star.zsl.fused_scores``),
    and each (tau, weight) pair is a candidate with its own curve (stage ``... w=<weight>``); ties go to the
    earlier weight of the grid."""
    return choose(cfg, validation_curves(cfg, bench, feats, names, parts, log))


def validation_curves(cfg: RunConfig, bench, feats: dict, names, parts, log: RunLog) -> dict:
    """The validation runs of ``select_epoch``: per (tau, part weight) the folds' mean per-epoch records, each
    with its smoothed ``select_score`` (``means``), the folds' own records (``fold_records``) and the folds."""
    vcfg = cfg.validation
    train_bank = load_benchmark_splits(cfg)[1]["train"]
    folds = [validation_fold(cfg, bench, train_bank, j) for j in range(vcfg.folds)]
    if vcfg.backbone == "pseudo-seen":
        vdir = validation_run_dir(cfg)
        check_preprocess(cfg, vdir / FEATURE_INFO_FILE, "validation features")
        feats = load_features(vdir, "train")
    taus = list(cfg.head.tau_grid) or [cfg.head.tau]
    weights, multi_w = part_weights(cfg), len(part_weights(cfg)) > 1
    if any(weights) and (parts is None or not new_head(cfg, bench, names.shape[1]).part_names):
        raise ValueError(f"head.part_weight / head.part_weight_grid {weights}: the '{cfg.head.model}' head has no "
                         "parts to score; use 0")
    key = SELECT_KEYS[vcfg.select_by]
    means, fold_records = [], []
    for tau in taus:
        stage = "validation" if len(taus) == 1 else f"validation tau={tau:g}"
        runs = []
        for j, fold in enumerate(folds):
            p_seen, p_unseen = fold["seen_classes"], fold["unseen_classes"]
            tr = _rows(feats, fold["train"].sample_id, clean_only=False)
            va = _rows(feats, np.concatenate([fold["val_seen"].sample_id, fold["val_unseen"].sample_id]),
                       clean_only=True)
            x_val, y_val = np.asarray(feats["x"][va]), feats["y"][va]
            head = new_head(cfg, bench, names.shape[1])

            def on_epoch(epoch: int) -> dict:
                glob, part_feats = validation_outputs(head, x_val, cfg)
                name_proj, desc_proj = projected_text(head, names.to(cfg.device),
                                                      None if parts is None else parts.to(cfg.device))
                by_weight = {w: validation_metrics(fused_scores(glob, name_proj, part_feats, desc_proj, w),
                                                   y_val, p_seen, p_unseen)
                             for w in weights}
                if not multi_w:
                    return by_weight[weights[0]]
                return {f"{k}@{w:g}": v for w, m in by_weight.items() for k, v in m.items()}

            history, _ = fit(head, feats["x"], tr, feats["y"], names, parts, p_seen, cfg, cfg.head.epochs, log,
                             stage if len(folds) == 1 else f"{stage} fold={j}", on_epoch,
                             clips=feats["source"][tr], tau=tau)
            runs.append(history)
        for w in weights:  # every part weight is a candidate of its own, scored on the same training runs
            wstage = f"{stage} w={w:g}" if multi_w else stage
            wruns = [weight_view(h, w, wstage if len(folds) == 1 else f"{wstage} fold={j}")
                     for j, h in enumerate(runs)] if multi_w else [[dict(r, part_weight=w) for r in h] for h in runs]
            mean = mean_curve(wruns, wstage) if len(folds) > 1 else wruns[0]
            for e, score in enumerate(smoothed([r[key] for r in mean], vcfg.smooth_epochs)):
                for r in [mean[e]] + ([h[e] for h in wruns] if len(folds) > 1 else []):
                    r["tau_init"] = tau
                    r["select_score"] = score
            means.append(mean)
            if len(folds) > 1:
                fold_records += [dict(r, fold=j) for j, h in enumerate(wruns) for r in h]
    return {"means": means, "fold_records": fold_records, "folds": folds, "taus": taus, "weights": weights}


def choose(cfg: RunConfig, curves: dict, weights: list[float] | None = None) -> dict:
    """The (tau, part weight, epoch) with the best smoothed validation score among ``weights`` (default: every
    weight the curves have), with its gamma and the curves of those weights: what ``select_epoch`` returns."""
    vcfg, taus, folds = cfg.validation, curves["taus"], curves["folds"]
    weights = curves["weights"] if weights is None else list(weights)
    if not weights or not set(weights) <= set(curves["weights"]):
        raise ValueError(f"part weights {weights} are not among the validated ones {curves['weights']}")
    multi_w = len(weights) > 1
    means = [h for h in curves["means"] if h[0]["part_weight"] in weights]
    fold_records = [r for r in curves["fold_records"] if r["part_weight"] in weights]
    best = max((r for h in means for r in h),
               key=lambda r: (r["select_score"], -r["epoch"], -taus.index(r["tau_init"]),
                              -weights.index(r["part_weight"])))
    tau_by = ("learned (log tau, from head.tau)" if cfg.head.learn_tau else "config (head.tau)") if len(taus) == 1 \
        else f"validation: best {vcfg.select_by} over head.tau_grid" + (" (initial values, then learned)"
                                                                         if cfg.head.learn_tau else "")
    at_best = [r for r in fold_records if r["epoch"] == best["epoch"] and r["tau_init"] == best["tau_init"]
               and r["part_weight"] == best["part_weight"]]
    fold0 = folds[0]
    return {"epoch": best["epoch"], "gamma": best["val_gamma"], "val_H": best["val_H"], "val_zsl": best["val_zsl"],
            "val_ausuc": best["val_ausuc"], "val_S": best["val_S"], "val_U": best["val_U"],
            "tau": best["tau_init"], "tau_chosen_by": tau_by, "tau_grid": taus,
            "part_weight": best["part_weight"], "part_weight_grid": weights,
            "part_weight_chosen_by": (f"validation: best {vcfg.select_by} over head.part_weight_grid" if multi_w
                                      else "config (head.part_weight)"),
            "pseudo_unseen_classes": fold0["unseen_classes"], "select_by": vcfg.select_by,
            "smooth_epochs": vcfg.smooth_epochs, "folds": vcfg.folds,
            **({"fold_unseen_classes": [f["unseen_classes"] for f in folds],
                "fold_at_epoch": [{k: r[k] for k in ("fold", *VAL_KEYS)} for r in at_best]}
               if len(folds) > 1 else {}),
            "final_schedule": f"replay of the {cfg.head.epochs}-epoch validation schedule", "protocol": vcfg.protocol,
            "backbone": vcfg.backbone, "held_out": fold0.get("held_out"),
            "fold_sizes": {k: len(fold0[k]) for k in ("train", "val_seen", "val_unseen")},
            "curve": [r for h in means for r in h] + fold_records}


def train_head(cfg: RunConfig, also: dict[str, list[float]] | None = None) -> Path:
    """Validation run, final run, test evaluation; writes the checkpoint ``cfg.out`` and returns its path.

    ``also`` ({checkpoint path: part weights}) writes more checkpoints from the same validation runs, each chosen
    among only those part weights of ``head.part_weight_grid`` with its own final run: e.g. ``{out0: [0.0]}`` is
    the paper's score, paired with the grid's choice at the cost of one final run (``bench/random_splits.py``).
    Each one's config records its own part weights, and its head wall time is the shared validation time plus
    its own final run."""
    cfg.device = distributed.setup(cfg.device)
    t0 = time.perf_counter()
    rd = cfg.run_path
    bench = get_benchmark(cfg.benchmark)
    encoder, names, parts = class_text(cfg, bench)
    check_preprocess(cfg, rd / FEATURE_INFO_FILE, "cached features")
    feats = load_features(rd, "train")
    log = RunLog(rd / f"head_{Path(cfg.out).name}_log.jsonl")
    curves = validation_curves(cfg, bench, feats, names, parts, log)
    validation_s = time.perf_counter() - t0
    for out, weights in {cfg.out: None, **(also or {})}.items():
        run_cfg = cfg if weights is None else dataclasses.replace(
            cfg, out=str(out), head=dataclasses.replace(cfg.head, part_weight=float(weights[0]),
                                                        part_weight_grid=[float(w) for w in weights] if len(weights) > 1 else []))
        finish(run_cfg, bench, feats, encoder, names, parts, choose(cfg, curves, weights), log, validation_s)
    distributed.teardown()
    return Path(cfg.out)


def finish(cfg: RunConfig, bench, feats: dict, encoder, names, parts, choice: dict, log: RunLog,
           validation_s: float) -> None:
    """The final run of a validation choice, the test evaluation and the checkpoint ``cfg.out``."""
    t0 = time.perf_counter()
    if distributed.is_main():
        print(f"validation chose epoch {choice['epoch']} (val H {choice['val_H']:.3f}, gamma {choice['gamma']:.4f}, "
              f"part weight {choice['part_weight']:g})")
    head = new_head(cfg, bench, names.shape[1])
    final_curve, tau_final = fit(head, feats["x"], np.arange(len(feats["y"])), feats["y"], names, parts,
                                 bench.seen_classes, cfg, choice["epoch"], log, "final", clips=feats["source"],
                                 tau=choice["tau"], schedule_epochs=cfg.head.epochs)
    choice = {**choice, "final_curve": final_curve, "tau_final": tau_final}
    head.eval()
    out = Path(cfg.out)
    if distributed.is_main():
        rd = cfg.run_path
        test = load_features(rd, "test")
        metrics, bundle = build_bundle(head, test, names, parts, bench, choice["gamma"], choice["part_weight"])
        backbone = load_backbone_weights(rd / BACKBONE_FILE)
        tensors = {**{f"backbone.{k}": v for k, v in backbone.items()},
                   **{f"head.{k}": v for k, v in head.state_dict().items()}, "text.names": names}
        if "desc_proj" in bundle:  # the head reads part descriptions: keep them with the weights
            tensors["text.parts"] = parts
        meta = checkpoint_meta(cfg, bench, encoder, head.config, choice, metrics,
                               wall_time_s=round(validation_s + time.perf_counter() - t0, 1))
        save_checkpoint(out, tensors, meta, bundle)
        shown = "  ".join(f"{k if k != 'zsl_acc' else 'ZSL'} {metrics[k]:.3f}" for k in ("zsl_acc", "S", "U", "H")
                          if metrics[k] is not None)
        print(f"checkpoint: {out}  {shown}  (gamma {metrics['gamma']:.4f}, chosen on validation)")
