"""Head training that keeps learning (issue 11 part 3): lr schedules that reach their drops in a run of any
length, one cached copy per clip per epoch, and the temperature recorded."""

from __future__ import annotations

import numpy as np
import pytest

from star.training.loop import run_milestones, schedule_lr, step_lr
from star.training.head import TrainStep, epoch_rows, smoothed
from star.training.sidecar import learning_curves


def test_milestone_fractions_scale_with_the_run_length():
    assert run_milestones(30, [25, 35], [0.6, 0.85]) == [18, 25]
    assert run_milestones(10, [25, 35], [0.6, 0.85]) == [6, 8]
    assert run_milestones(3, [25, 35], [0.6, 0.85]) == [1, 2]  # even a 3-epoch final run gets both drops
    assert run_milestones(1, [], [0.5]) == [1]  # never before the first epoch
    assert run_milestones(30, [25, 35], None) == [25, 35]  # no fractions: the epochs as given


def test_step_schedule_exact_lrs():
    lrs = [schedule_lr(e, 10, 0.01, "step", [25, 35], [0.6, 0.85]) for e in range(10)]
    assert lrs == pytest.approx([0.01] * 6 + [0.001] * 2 + [0.0001] * 2, rel=1e-12)
    lrs = [schedule_lr(e, 3, 0.01, "step", [25, 35], [0.6, 0.85]) for e in range(3)]
    assert lrs == pytest.approx([0.01, 0.001, 0.0001], rel=1e-12)
    # without fractions: exactly the old step_lr (the shipped configs' schedule)
    assert [schedule_lr(e, 12, 0.01, "step", [8, 11]) for e in range(12)] == [step_lr(e, 0.01, [8, 11]) for e in range(12)]


def test_cosine_schedule_exact_lrs():
    lrs = [schedule_lr(e, 4, 0.1, "cosine") for e in range(4)]
    assert lrs == pytest.approx([0.1, 0.1 * (1 + np.cos(np.pi / 4)) / 2, 0.05, 0.1 * (1 + np.cos(3 * np.pi / 4)) / 2])
    with pytest.raises(ValueError, match="schedule"):
        schedule_lr(0, 4, 0.1, "linear")


def test_epoch_rows_one_copy_per_clip():
    rows = np.arange(10)
    clips = np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c", "d"])
    assert epoch_rows(rows, clips, "all", np.random.default_rng(0)).tolist() == list(range(10))
    picks = [epoch_rows(rows, clips, "one", np.random.default_rng(s)) for s in range(20)]
    for p in picks:
        assert len(p) == 4 and sorted(set(clips[p])) == ["a", "b", "c", "d"] and list(p) == sorted(p)
    assert len({tuple(p) for p in picks}) > 1  # redrawn: different copies in different epochs
    assert epoch_rows(rows[3:], clips[3:], "one", np.random.default_rng(0)).min() >= 3


def test_learned_tau_is_a_parameter_and_fixed_tau_is_not():
    import torch

    head = torch.nn.Linear(2, 2)
    fixed = TrainStep(head, tau=0.2)
    assert fixed.tau() == 0.2 == fixed.tau_value() and fixed.log_tau is None
    learned = TrainStep(head, tau=0.2, learn_tau=True)
    assert learned.tau_value() == pytest.approx(0.2) and learned.log_tau.requires_grad
    assert any(p is learned.log_tau for p in learned.parameters())


def test_learning_curves_are_columns_per_stage():
    recs = [{"stage": "validation", "epoch": 1, "lr": 0.01, "tau": 0.1, "loss_total": 2.0, "val_H": 0.3,
             "val_zsl": 0.5, "val_ausuc": 0.2},
            {"stage": "validation", "epoch": 2, "lr": 0.001, "tau": 0.1, "loss_total": 1.5, "val_H": 0.35,
             "val_zsl": 0.55, "val_ausuc": 0.25},
            {"stage": "final", "epoch": 1, "lr": 0.01, "tau": 0.1, "loss_total": 1.9}]
    got = learning_curves(recs)
    assert got["validation"] == {"epoch": [1, 2], "lr": [0.01, 0.001], "tau": [0.1, 0.1], "loss_total": [2.0, 1.5],
                                 "val_H": [0.3, 0.35], "val_zsl": [0.5, 0.55], "val_ausuc": [0.2, 0.25]}
    assert got["final"] == {"epoch": [1], "lr": [0.01], "tau": [0.1], "loss_total": [1.9]}


def test_smoothed_selection_curve_exact_values():
    assert smoothed([1.0, 2.0, 6.0], 3) == [1.5, 3.0, 4.0]
    assert smoothed([1.0, 2.0, 6.0], 1) == [1.0, 2.0, 6.0]
    assert smoothed([0.0, 5.0, 0.0, 0.0, 3.0, 3.0], 3) == pytest.approx([2.5, 5 / 3, 5 / 3, 1.0, 2.0, 3.0])
    # one lucky early epoch (0.31) loses to a stable later plateau once smoothed
    curve = [0.31, 0.16, 0.12, 0.2, 0.28, 0.29, 0.3]
    assert int(np.argmax(curve)) == 0 and int(np.argmax(smoothed(curve, 3))) == 6


def test_smooth_epochs_must_be_odd():
    from star.config import ValidationConfig

    for bad in (0, 2):
        with pytest.raises(ValueError, match="smooth_epochs"):
            ValidationConfig(smooth_epochs=bad)
    assert ValidationConfig(smooth_epochs=3).smooth_epochs == 3


def test_validation_folds_must_be_positive_and_need_the_shared_backbone():
    from star.config import ValidationConfig

    with pytest.raises(ValueError, match="folds must be >= 1"):
        ValidationConfig(folds=0)
    with pytest.raises(ValueError, match="shared"):
        ValidationConfig(folds=3, backbone="pseudo-seen")
    assert ValidationConfig(folds=3).folds == 3


def test_mean_curve_averages_numeric_keys_per_epoch():
    from star.training.head import mean_curve

    runs = [[{"stage": "validation fold=0", "epoch": 1, "val_H": 0.2, "lr": 0.01},
             {"stage": "validation fold=0", "epoch": 2, "val_H": 0.4, "lr": 0.001}],
            [{"stage": "validation fold=1", "epoch": 1, "val_H": 0.6, "lr": 0.01},
             {"stage": "validation fold=1", "epoch": 2, "val_H": 0.0, "lr": 0.001}]]
    got = mean_curve(runs, "validation")
    assert got == [{"stage": "validation", "epoch": 1, "val_H": pytest.approx(0.4), "lr": pytest.approx(0.01)},
                   {"stage": "validation", "epoch": 2, "val_H": pytest.approx(0.2), "lr": pytest.approx(0.001)}]
