"""Training: the Shift-GCN backbone (``backbone``) and the heads on cached features (``head``), alone or
under ``torchrun`` (``distributed``), sharing one learning-rate schedule and one batch iterator (``loop``)."""
