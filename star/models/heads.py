"""The heads a checkpoint can hold, by name: the one place that knows which head classes exist.

Every head answers the same calls, so training, evaluation, the pipeline and the app never ask which one
they hold:

* ``head(feat)``: backbone map (N, feat_dim, T', 25) -> :class:`StarOutput` (``part_features`` (N, K, m) or
  None, ``global_feature`` (N, m), ``attention`` (K tensors, possibly none));
* ``head.encode_names(name_emb)``: (C, Dt) -> (C, m), any class list (open vocabulary);
* ``head.encode_text(name_emb, desc_emb, use_prompt=None)``: -> (name_proj (C, m), desc_proj (K, C, m) or
  None). A head without parts returns None, and the losses then drop their part terms.

A third head is one new module with such a class and one entry in ``HEADS``.
"""

from __future__ import annotations

from torch import nn

from star.models.baseline import GlobalBaseline
from star.models.star import StarConfig, StarHead

HEADS: dict[str, type[nn.Module]] = {"star": StarHead, "baseline": GlobalBaseline}


def list_heads() -> list[str]:
    return list(HEADS)


def build_head(name: str, config: StarConfig | dict) -> nn.Module:
    """The head called ``name`` built from ``config`` (a :class:`StarConfig` or its dict, e.g. a sidecar's
    ``head_config``)."""
    if name not in HEADS:
        raise ValueError(f"unknown head model '{name}' (known: {', '.join(HEADS)})")
    return HEADS[name](config if isinstance(config, StarConfig) else StarConfig(**config))
