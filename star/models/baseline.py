"""Global-only baseline: the same frozen backbone, no parts, no prompts, no attention.

The backbone map (N, feat_dim, T', V) is mean-pooled over time and joints, then a two-layer ReLU
MLP (feat_dim -> text_hidden -> m) maps it into the shared space; class names go through their own
MLP (Dt -> text_hidden -> m). It has the same interface as :class:`StarHead` (``forward`` returns a
:class:`StarOutput` with ``part_features=None``; ``encode_text`` returns ``desc_proj=None``) so the
same training loop, evaluation and app run it. ``star_loss`` then uses the global loss only.
Unused fields of the config (parts, prompts, attention switches) are ignored.
"""

from __future__ import annotations

from torch import Tensor, nn

from star.models.star import StarConfig, StarOutput, text_mlp


class GlobalBaseline(nn.Module):
    def __init__(self, config: StarConfig):
        super().__init__()
        self.config = cfg = config
        self.part_names: list[str] = []
        self.visual_mlp = text_mlp(cfg.feat_dim, cfg.text_hidden, cfg.num_prompts)
        self.name_mlp = text_mlp(cfg.text_dim, cfg.text_hidden, cfg.num_prompts)

    def forward(self, feat: Tensor) -> StarOutput:
        """feat: (N, feat_dim, T', V) -> StarOutput(part_features=None, global_feature (N, m))."""
        if feat.dim() != 4 or feat.shape[1] != self.config.feat_dim:
            raise ValueError(f"GlobalBaseline expects a backbone map (N, {self.config.feat_dim}, T', V), "
                             f"got {tuple(feat.shape)}")
        return StarOutput(None, self.visual_mlp(feat.mean(dim=(2, 3))), [], [])

    def encode_names(self, name_emb: Tensor) -> Tensor:
        """(C, Dt) -> (C, m)."""
        if name_emb.dim() != 2 or name_emb.shape[1] != self.config.text_dim:
            raise ValueError(f"name embeddings must be (C, {self.config.text_dim}), got {tuple(name_emb.shape)}")
        return self.name_mlp(name_emb)

    def encode_text(self, name_emb: Tensor, desc_emb: Tensor | None = None,
                    use_prompt: bool | None = None) -> tuple[Tensor, None]:
        """Same signature as ``StarHead.encode_text``; descriptions are not used: returns (name_proj, None)."""
        return self.encode_names(name_emb), None
