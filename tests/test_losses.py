"""Losses against hand-computed values: 2 samples, 3 classes, 2 parts, 2-d features.

The vectors are chosen so every cosine is one of 1, 0, -1, r = 1/sqrt(2), -r; the expected losses are
written from those cosines with plain math.
"""

from __future__ import annotations

import math

import pytest
import torch

from star.models import StarOutput, star_loss
from star.models.losses import gce_loss, mpce_loss, sce_loss

R = 1 / math.sqrt(2)
TAU = 0.5

# part_features (N=2, K=2, m=2)
PART = torch.tensor([[[1.0, 0.0], [0.0, 2.0]],
                     [[1.0, 1.0], [3.0, 0.0]]])
# desc_proj (K=2, C=3, m=2)
DESC = torch.tensor([[[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
                     [[0.0, 1.0], [1.0, 0.0], [-1.0, 0.0]]])
# global_feature (N=2, m=2) and name_proj (C=3, m=2)
GLOBAL = torch.tensor([[1.0, 0.0], [0.0, -1.0]])
NAMES = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
LABELS = torch.tensor([0, 2])


def ce(cosines: list[float], target: int, tau: float = TAU) -> float:
    """-log softmax(cosines / tau)[target], in plain math."""
    return -cosines[target] / tau + math.log(sum(math.exp(c / tau) for c in cosines))


def test_mpce_all_classes():
    expected = (ce([1, 0, R], 0)        # sample 0, part 0
                + ce([R, R, 1], 2)      # sample 1, part 0
                + ce([1, 0, 0], 0)      # sample 0, part 1
                + ce([0, 1, -1], 2)) / 4  # sample 1, part 1
    got = mpce_loss(PART, DESC, LABELS, [0, 1, 2], tau=TAU)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_mpce_seen_subset_only():
    # softmax over classes 0 and 2 only; label 2 is position 1 in the subset
    expected = (ce([1, R], 0) + ce([R, 1], 1) + ce([1, 0], 0) + ce([0, -1], 1)) / 4
    got = mpce_loss(PART, DESC, LABELS, [0, 2], tau=TAU)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_gce():
    assert float(gce_loss(GLOBAL, NAMES, LABELS, [0, 1, 2], tau=TAU)) == pytest.approx(
        (ce([1, R, 0], 0) + ce([0, -R, -1], 2)) / 2, rel=1e-6)
    assert float(gce_loss(GLOBAL, NAMES, LABELS, [2, 0], tau=TAU)) == pytest.approx(
        (ce([0, 1], 1) + ce([-1, 0], 0)) / 2, rel=1e-6)


def test_gce_default_temperature_is_0_1():
    assert float(gce_loss(GLOBAL, NAMES, LABELS, [0, 1, 2])) == pytest.approx(
        (ce([1, R, 0], 0, 0.1) + ce([0, -R, -1], 2, 0.1)) / 2, rel=1e-6)


def test_sce():
    part0 = ce([1, R, 0], 0) + ce([0, R, 1], 1) + ce([R, 1, R], 2)
    part1 = ce([0, R, 1], 0) + ce([1, R, 0], 1) + ce([-1, -R, 0], 2)
    assert float(sce_loss(DESC, NAMES, [0, 1, 2], tau=TAU)) == pytest.approx((part0 + part1) / 6, rel=1e-6)
    subset = (ce([1, 0], 0) + ce([R, R], 1)) + (ce([0, 1], 0) + ce([-1, 0], 1))
    assert float(sce_loss(DESC, NAMES, [0, 2], tau=TAU)) == pytest.approx(subset / 4, rel=1e-6)


def test_star_loss_combines_with_alpha_beta_and_switches():
    out = StarOutput(PART, GLOBAL)
    mpce = float(mpce_loss(PART, DESC, LABELS, [0, 2], TAU))
    sce_all = float(sce_loss(DESC, NAMES, [0, 1, 2], TAU))
    gce = float(gce_loss(GLOBAL, NAMES, LABELS, [0, 2], TAU))
    losses = star_loss(out, NAMES, DESC, LABELS, [0, 2], text_classes=[0, 1, 2], tau=TAU)
    assert float(losses["total"]) == pytest.approx(mpce + 0.1 * sce_all + 0.1 * gce, rel=1e-6)
    assert float(losses["sce"]) == pytest.approx(sce_all, rel=1e-6)
    # SCE defaults to the training subset
    sce_seen = float(sce_loss(DESC, NAMES, [0, 2], TAU))
    assert float(star_loss(out, NAMES, DESC, LABELS, [0, 2], tau=TAU)["sce"]) == pytest.approx(sce_seen, rel=1e-6)
    no_sce = star_loss(out, NAMES, DESC, LABELS, [0, 2], tau=TAU, use_sce=False)
    assert float(no_sce["total"]) == pytest.approx(mpce + 0.1 * gce, rel=1e-6) and float(no_sce["sce"]) == 0
    no_mpce = star_loss(out, NAMES, DESC, LABELS, [0, 2], tau=TAU, use_mpce=False, alpha=0.5, beta=2.0)
    assert float(no_mpce["total"]) == pytest.approx(0.5 * sce_seen + 2.0 * gce, rel=1e-6)
    no_gce = star_loss(out, NAMES, DESC, LABELS, [0, 2], tau=TAU, use_gce=False)
    assert float(no_gce["total"]) == pytest.approx(mpce + 0.1 * sce_seen, rel=1e-6)


def test_star_loss_without_parts_is_the_global_loss():
    losses = star_loss(StarOutput(None, GLOBAL), NAMES, None, LABELS, [0, 1, 2], tau=TAU)
    assert float(losses["total"]) == pytest.approx((ce([1, R, 0], 0) + ce([0, -R, -1], 2)) / 2, rel=1e-6)
    assert float(losses["mpce"]) == 0 and float(losses["sce"]) == 0
    with pytest.raises(ValueError, match="switched off"):
        star_loss(StarOutput(None, GLOBAL), NAMES, None, LABELS, [0, 1, 2], use_gce=False)


def test_label_outside_subset_is_an_error():
    with pytest.raises(ValueError, match=r"labels \[2\] are not in class_subset"):
        gce_loss(GLOBAL, NAMES, LABELS, [0, 1])
    with pytest.raises(ValueError, match="labels"):
        mpce_loss(PART, DESC, torch.tensor([0, 5]), [0, 1, 2])


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="tau"):
        gce_loss(GLOBAL, NAMES, LABELS, [0, 1, 2], tau=0.0)
    with pytest.raises(ValueError, match="repeated"):
        gce_loss(GLOBAL, NAMES, LABELS, [0, 0, 2])
    with pytest.raises(ValueError, match="empty"):
        sce_loss(DESC, NAMES, [])


def test_losses_are_scale_invariant_cosines():
    # cosine logits: scaling the features changes nothing
    a = mpce_loss(PART, DESC, LABELS, [0, 1, 2], TAU)
    b = mpce_loss(PART * 7.0, DESC * 0.01, LABELS, [0, 1, 2], TAU)
    assert float(a) == pytest.approx(float(b), rel=1e-5)
