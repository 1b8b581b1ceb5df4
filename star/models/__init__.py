"""Models: the Shift-GCN backbone, the STAR head, the global baseline and the losses."""

from star.models.baseline import GlobalBaseline
from star.models.losses import gce_loss, mpce_loss, sce_loss, star_loss
from star.models.shiftgcn import ShiftGCN, freeze, load_shiftgcn_state_dict
from star.models.star import StarConfig, StarHead, StarOutput

__all__ = [
    "GlobalBaseline", "ShiftGCN", "StarConfig", "StarHead", "StarOutput",
    "freeze", "gce_loss", "load_shiftgcn_state_dict", "mpce_loss", "sce_loss", "star_loss",
]
