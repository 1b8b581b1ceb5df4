"""Models: the Shift-GCN backbone (+ loading its weights), the heads behind one interface, the losses."""

from star.models.baseline import GlobalBaseline
from star.models.heads import HEADS, build_head, list_heads
from star.models.losses import gce_loss, mpce_loss, sce_loss, star_loss
from star.models.shiftgcn import ShiftGCN, freeze, load_backbone, load_backbone_weights, load_shiftgcn_state_dict
from star.models.star import StarConfig, StarHead, StarOutput

__all__ = [
    "HEADS", "GlobalBaseline", "ShiftGCN", "StarConfig", "StarHead", "StarOutput",
    "build_head", "freeze", "gce_loss", "list_heads", "load_backbone", "load_backbone_weights",
    "load_shiftgcn_state_dict", "mpce_loss", "sce_loss", "star_loss",
]
