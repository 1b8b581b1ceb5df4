"""STAR training losses (paper eqs. 5-8) over temperature-scaled cosine similarities.

All three losses are softmax cross-entropies whose logits are ``cos(a, b) / tau``.

Why a temperature: a cosine lies in [-1, 1], so with plain cosines as logits (the authors' code) the
softmax over C classes can at best give the right class probability ``e / (e + (C - 1) / e)``
(about 0.15 for 42 classes): the loss never gets small, gradients stay large on already-correct
samples and the model mostly learns to push the other classes' cosines towards -1. Dividing by
``tau`` (default 0.1, the usual choice in CLIP-style contrastive training) lets the softmax become
confident, and keeps the ranking, hence ZSL predictions, unchanged (the cosine is still the score).

Class indices: ``labels`` are indices in the FULL class list (rows of the text embeddings).
``class_subset`` lists the full-list indices the softmax runs over (e.g. the seen classes); labels
are mapped to positions in it, and a label outside the subset is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from star.models.star import StarOutput

DEFAULT_TAU = 0.1


def _subset_index(class_subset: Sequence[int], num_classes: int, device: torch.device) -> Tensor:
    idx = torch.as_tensor(list(class_subset), dtype=torch.long, device=device)
    if idx.numel() == 0:
        raise ValueError("class_subset is empty")
    if idx.unique().numel() != idx.numel():
        raise ValueError("class_subset has repeated classes")
    if idx.min() < 0 or idx.max() >= num_classes:
        raise ValueError(f"class_subset must index the {num_classes} classes, got values outside [0, {num_classes})")
    return idx


def _positions(labels: Tensor, subset: Tensor, num_classes: int) -> Tensor:
    """Map full-list labels (N,) to positions in ``subset``; error if a label is not in it."""
    lookup = torch.full((num_classes,), -1, dtype=torch.long, device=subset.device)
    lookup[subset] = torch.arange(subset.numel(), device=subset.device)
    labels = labels.to(subset.device).long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must index the {num_classes} classes, got {labels.tolist()}")
    pos = lookup[labels]
    if (pos < 0).any():
        missing = sorted(set(labels[pos < 0].tolist()))
        raise ValueError(f"labels {missing} are not in class_subset; train only on clips of the subset's classes")
    return pos


def cosine_logits(a: Tensor, b: Tensor, tau: float = DEFAULT_TAU) -> Tensor:
    """cos(a_i, b_j) / tau for a (..., P, m) and b (..., Q, m) -> (..., P, Q)."""
    if tau <= 0:
        raise ValueError(f"temperature tau must be positive, got {tau}")
    return F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2) / tau


def mpce_loss(part_features: Tensor, desc_proj: Tensor, labels: Tensor, class_subset: Sequence[int],
              tau: float = DEFAULT_TAU) -> Tensor:
    """Multi-part cross-entropy (eq. 5).

    part_features (N, K, m); desc_proj (K, C, m); labels (N,) full-list indices. Per part k, the
    softmax runs over the subset's description projections; mean over the batch, then over parts.
    """
    n, k, _ = part_features.shape
    if desc_proj.shape[0] != k:
        raise ValueError(f"desc_proj has {desc_proj.shape[0]} parts, part_features has {k}")
    subset = _subset_index(class_subset, desc_proj.shape[1], part_features.device)
    target = _positions(labels, subset, desc_proj.shape[1])
    logits = cosine_logits(part_features.transpose(0, 1), desc_proj[:, subset], tau)  # (K, N, S)
    return F.cross_entropy(logits.reshape(k * n, -1), target.repeat(k))


def gce_loss(global_feature: Tensor, name_proj: Tensor, labels: Tensor, class_subset: Sequence[int],
             tau: float = DEFAULT_TAU) -> Tensor:
    """Global cross-entropy (eq. 7): global_feature (N, m) vs the subset's name projections (C, m)."""
    subset = _subset_index(class_subset, name_proj.shape[0], global_feature.device)
    target = _positions(labels, subset, name_proj.shape[0])
    return F.cross_entropy(cosine_logits(global_feature, name_proj[subset], tau), target)


def sce_loss(desc_proj: Tensor, name_proj: Tensor, class_subset: Sequence[int], tau: float = DEFAULT_TAU) -> Tensor:
    """Semantic cross-entropy (eq. 6), text only.

    For each part k and class a in the subset: softmax over the subset's names of
    cos(desc_proj[k, a], name_proj[b]) / tau, loss -log p(b = a); mean over classes, then parts.
    The authors use all classes (seen and unseen text); pass ``range(C)`` to do the same.
    """
    k, c, _ = desc_proj.shape
    if name_proj.shape[0] != c:
        raise ValueError(f"desc_proj covers {c} classes, name_proj {name_proj.shape[0]}")
    subset = _subset_index(class_subset, c, desc_proj.device)
    logits = cosine_logits(desc_proj[:, subset], name_proj[subset], tau)  # (K, S, S)
    s = subset.numel()
    target = torch.arange(s, device=desc_proj.device).repeat(k)
    return F.cross_entropy(logits.reshape(k * s, s), target)


def star_loss(output: StarOutput, name_proj: Tensor, desc_proj: Tensor | None, labels: Tensor,
              class_subset: Sequence[int], text_classes: Sequence[int] | None = None, *,
              tau: float = DEFAULT_TAU, alpha: float = 0.1, beta: float = 0.1,
              use_mpce: bool = True, use_sce: bool = True, use_gce: bool = True) -> dict[str, Tensor]:
    """Total loss (eq. 8): ``mpce + alpha * sce + beta * gce``.

    Args:
        output: the head's output for a batch (part_features (N, K, m) or None, global_feature (N, m)).
        name_proj: (C, m) projected class names, all C classes in the full list.
        desc_proj: (K, C, m) projected descriptions (+ semantic prompts), or None.
        labels: (N,) full-list class indices, all in ``class_subset``.
        class_subset: full-list indices of the training (seen) classes: the softmax of MPCE and GCE.
        text_classes: classes of the text-only SCE; default ``class_subset`` (inductive). The authors
            use all classes, unseen names included.
        use_mpce / use_sce / use_gce: ablation switches; a dropped loss is reported as 0.
            Without part features or descriptions (global baseline) MPCE and SCE are dropped and
            ``total`` is GCE itself (beta weighs GCE against MPCE, which is then absent).

    Returns:
        dict with scalar tensors ``total``, ``mpce``, ``sce``, ``gce``.
    """
    has_parts = output.part_features is not None and desc_proj is not None
    zero = output.global_feature.new_zeros(())
    mpce = mpce_loss(output.part_features, desc_proj, labels, class_subset, tau) if use_mpce and has_parts else zero
    sce = (sce_loss(desc_proj, name_proj, class_subset if text_classes is None else text_classes, tau)
           if use_sce and has_parts else zero)
    gce = gce_loss(output.global_feature, name_proj, labels, class_subset, tau) if use_gce else zero
    if not ((use_mpce and has_parts) or (use_sce and has_parts) or use_gce):
        raise ValueError("every loss is switched off (or needs part features this model does not have)")
    total = mpce + alpha * sce + beta * gce if has_parts else gce
    return {"total": total, "mpce": mpce, "sce": sce, "gce": gce}
