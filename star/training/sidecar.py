"""What a trained checkpoint records about itself: the sidecar ``model.json`` (see ``star.checkpoint``)."""

from __future__ import annotations

from star import __version__
from star.checkpoint import code_version
from star.config import RunConfig
from star.features import backbone_num_person, stage_times
from star.models import StarConfig
from star.skeleton.topology import partition
from star.training.loop import run_milestones
from star.training.runlog import device_name

GAMMA_CHOSEN_BY = "validation: best H on the pseudo-unseen fold of seen-class training clips (never test clips)"


def gamma_chosen_by(folds: int) -> str:
    """How the sidecar's gamma was chosen, for a run of ``validation.folds`` folds."""
    if folds <= 1:
        return GAMMA_CHOSEN_BY
    return (f"validation: mean of the best-H gammas of {folds} pseudo-unseen folds of seen-class training clips "
            "(never test clips)")
CURVE_KEYS = ("lr", "tau", "loss_total", "val_H", "val_zsl", "val_ausuc", "val_S", "val_U", "val_gamma")


def learning_curves(records: list[dict]) -> dict:
    """Per-epoch records (``fit``'s) as columns per stage: {stage: {"epoch": [...], "loss_total": [...], ...}}
    (``bench/results.py`` tabulates / plots these)."""
    out: dict[str, dict[str, list]] = {}
    for r in records:
        col = out.setdefault(r["stage"], {"epoch": []})
        col["epoch"].append(r["epoch"])
        for k in CURVE_KEYS:
            if k in r:
                col.setdefault(k, []).append(r[k])
    return out


def checkpoint_meta(cfg: RunConfig, bench, encoder, arch: StarConfig, choice: dict, metrics: dict,
                    wall_time_s: float) -> dict:
    """The sidecar of a head trained with ``cfg`` on ``bench``; ``arch`` is the head's built configuration
    and ``choice`` what the validation run chose (``star.training.head.select_epoch``)."""
    hcfg = cfg.head
    return {
        "name": str(cfg.out).rstrip("/").split("/")[-1], "model": hcfg.model, "benchmark": bench.name,
        "class_names": bench.class_names, "seen_classes": bench.seen_classes, "unseen_classes": bench.unseen_classes,
        "num_parts": arch.num_parts, "part_names": list(partition(arch.num_parts)),
        "text_encoder": {"id": encoder.id, "dim": arch.text_dim, "spec": hcfg.text_encoder},
        "descriptions": hcfg.descriptions or bench.description_set,
        "head_config": arch.to_dict(),
        "backbone_config": {"num_classes": len(bench.seen_classes),
                            "num_person": backbone_num_person(cfg.run_path, cfg.backbone.num_person),
                            "stream": cfg.backbone.stream},  # check_preprocess made sure the features have it
        "num_frames": cfg.num_frames,
        "preprocess": cfg.canonical.to_dict(),
        "gamma": {"value": choice["gamma"], "chosen_by": gamma_chosen_by(choice.get("folds", 1)), "epoch": choice["epoch"],
                  "val_H": choice["val_H"], "val_zsl": choice["val_zsl"],
                  "pseudo_unseen_classes": choice["pseudo_unseen_classes"], "select_by": choice["select_by"],
                  **{k: choice[k] for k in ("val_ausuc", "val_S", "val_U", "protocol", "backbone", "held_out",
                                            "fold_sizes", "smooth_epochs", "folds", "fold_unseen_classes",
                                            "fold_at_epoch") if k in choice}},
        "tau": {"value": choice.get("tau_final", hcfg.tau), "initial": choice.get("tau", hcfg.tau),
                "learned": hcfg.learn_tau, "chosen_by": choice.get("tau_chosen_by", "config (head.tau)"),
                "grid": choice.get("tau_grid", [hcfg.tau])},
        "score": {"part_weight": choice.get("part_weight", hcfg.part_weight),
                  "chosen_by": choice.get("part_weight_chosen_by", "config (head.part_weight)"),
                  "grid": choice.get("part_weight_grid", [hcfg.part_weight]),
                  "formula": "cos(global, name) + part_weight * mean over parts of cos(part, description)"},
        "schedule": {"kind": hcfg.schedule, "lr": hcfg.lr, "weight_decay": hcfg.weight_decay,
                     # the final run replays the validation run's schedule (head.epochs long) up to the chosen epoch
                     "final": choice.get("final_schedule", "rescaled to the chosen length"),
                     "final_milestones": [m for m in run_milestones(hcfg.epochs, hcfg.milestones,
                                                                    hcfg.milestone_fractions) if m < choice["epoch"]]
                     if hcfg.schedule == "step" else None, "copy_sampling": hcfg.copy_sampling,
                     "augmented_copies": cfg.features.augmented_copies},
        "validation_curve": choice["curve"],
        "learning_curves": learning_curves(choice["curve"] + choice.get("final_curve", [])),
        "metrics": metrics, "config": cfg.to_dict(), "code_version": code_version(), "package_version": __version__,
        "seed": cfg.seed, "device": device_name(cfg.device),
        "wall_time_s": {**stage_times(cfg.run_path), "head": wall_time_s},
    }
