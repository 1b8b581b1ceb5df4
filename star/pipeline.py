"""A trained STAR model as one object: frozen backbone + head + the class text it was trained with.

``StarPipeline`` is what evaluation, ``star predict`` and the app use, so every consumer computes scores the
same way: clip -> ``to_model_input`` (with the checkpoint's canonical-skeleton spec, sidecar key ``preprocess``;
absent = ``LEGACY``, as every checkpoint before it was trained) -> ``ShiftGCN.features`` -> head -> global feature -> cosine against the
projected class-name embeddings (plus, with a part weight in the sidecar, the parts against their projected
descriptions: ``star.zsl.fused_scores``) -> calibrated stacking (``star.zsl``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from star.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from star.features import backbone_features
from star.models import ShiftGCN, build_head, freeze
from star.models.shiftgcn import TOKEN_LAYOUTS
from star.skeleton.canonical import Canonical
from star.skeleton.clip import Clip
from star.skeleton.transforms import to_model_input_batch
from star.zsl import fused_scores


@dataclass
class HeadOutputs:
    """Numpy outputs of the head for N clips. part_features / attention are None for the baseline."""

    global_features: np.ndarray  # (N, m)
    part_features: np.ndarray | None  # (N, K, m)
    attention: list[np.ndarray] | None  # K arrays (N, heads, m, T' * |part|)


@torch.no_grad()
def run_head(head: torch.nn.Module, features, batch_size: int = 256, with_attention: bool = False) -> HeadOutputs:
    """A head (eval mode) over backbone features (N, 256, T', 25), numpy (memmap too) or torch, in batches."""
    head.eval()
    device = next(head.parameters()).device
    g, p, att = [], [], []
    for s in range(0, len(features), batch_size):
        chunk = features[s:s + batch_size]
        x = chunk.to(device).float() if torch.is_tensor(chunk) else torch.from_numpy(np.array(chunk, np.float32)).to(device)
        out = head(x)
        g.append(out.global_feature.float().cpu().numpy())  # float(): a no-op, unless run under bf16 autocast
        if out.part_features is not None:
            p.append(out.part_features.float().cpu().numpy())
        if with_attention and out.attention:
            att.append([a.float().cpu().numpy() for a in out.attention])
    attention = [np.concatenate([a[k] for a in att]) for k in range(len(att[0]))] if att else None
    return HeadOutputs(np.concatenate(g), np.concatenate(p) if p else None, attention)


class StarPipeline:
    def __init__(self, ckpt: Checkpoint, device: str = "cpu"):
        self.ckpt = ckpt
        self.meta = ckpt.meta
        self.device = device
        try:
            self.canonical = Canonical.from_dict(self.meta.get("preprocess"))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{ckpt.path}: bad 'preprocess' in the sidecar ({exc})") from exc
        self.token_layout = self.meta.get("token_layout", "correct")  # "official": imported from the authors' code
        if self.token_layout not in TOKEN_LAYOUTS:
            raise CheckpointError(f"{ckpt.path}: unknown token_layout {self.token_layout!r} in the sidecar "
                                  f"(expected one of {TOKEN_LAYOUTS})")
        bcfg = self.meta["backbone_config"]
        try:
            self.backbone = ShiftGCN(num_classes=bcfg["num_classes"], num_person=bcfg["num_person"],
                                     stream=bcfg.get("stream", "joint"))
            self.backbone.load_state_dict(ckpt.sub_state("backbone"))
            self.head = build_head(self.meta["model"], self.meta["head_config"])
            self.head.load_state_dict(ckpt.sub_state("head"))
        except (RuntimeError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{ckpt.path}: weights do not match the sidecar's configuration ({exc})") from exc
        freeze(self.backbone)
        self.backbone.to(device)
        self.head.to(device).eval()
        self.part_weight = float(self.meta.get("score", {}).get("part_weight", 0.0))
        self.name_emb = ckpt.tensors["text.names"].float()
        self.part_emb = ckpt.tensors.get("text.parts")
        with torch.no_grad():
            self.name_proj, self.desc_proj = self.project_text(use_prompt=True)
            self.desc_proj_noprompt = self.project_text(use_prompt=False)[1]

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "StarPipeline":
        return cls(load_checkpoint(path), device)

    # ------------------------------------------------------------------ text side
    @torch.no_grad()
    def project_text(self, use_prompt: bool = True, names: torch.Tensor | None = None,
                     parts: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Projected (name (C, m), descriptions (K, C, m) or None) embeddings in the shared space."""
        names = self.name_emb if names is None else names
        parts = self.part_emb if parts is None else parts
        name_proj, desc_proj = self.head.encode_text(names.to(self.device),
                                                     None if parts is None else parts.float().to(self.device),
                                                     use_prompt=use_prompt)
        return name_proj.cpu().numpy(), None if desc_proj is None else desc_proj.cpu().numpy()

    @torch.no_grad()
    def project_names(self, name_embeddings: np.ndarray) -> np.ndarray:
        """Project raw name embeddings of ANY class names (open vocabulary) into the shared space: (C', m)."""
        t = torch.as_tensor(np.asarray(name_embeddings, dtype=np.float32), device=self.device)
        return self.head.encode_names(t).cpu().numpy()

    # ------------------------------------------------------------------ skeleton side
    @torch.no_grad()
    def backbone_features(self, inputs: np.ndarray) -> torch.Tensor:
        """(N, 3, T, 25, 2) -> (N, 256, T/4, 25), bodies averaged as the checkpoint's ``token_layout`` says."""
        return torch.from_numpy(backbone_features(self.backbone, inputs, self.device, self.token_layout))

    def head_outputs(self, features, batch_size: int = 256, with_attention: bool = False) -> HeadOutputs:
        """Head outputs for backbone features (N, 256, T', 25) given as numpy or torch."""
        return run_head(self.head, features, batch_size, with_attention)

    def model_inputs(self, clips_or_frames: list) -> np.ndarray:
        """Clips (or frame arrays) -> (N, 3, T, 25, 2) model inputs, exactly as this checkpoint was trained:
        its canonical spec, then ``to_model_input``."""
        frames = [c.frames if isinstance(c, Clip) else c for c in clips_or_frames]
        return to_model_input_batch(frames, self.meta["num_frames"], self.canonical)

    def clips_outputs(self, clips: list[Clip], with_attention: bool = True) -> HeadOutputs:
        inputs = self.model_inputs(clips)
        return self.head_outputs(self.backbone_features(inputs), with_attention=with_attention)

    def scores(self, outputs: HeadOutputs) -> np.ndarray:
        """Class scores (N, C) of head outputs against the checkpoint's classes, as the checkpoint was selected and
        evaluated: ``star.zsl.fused_scores`` with its part weight (0, the global cosine, when the sidecar has none)."""
        return fused_scores(outputs.global_features, self.name_proj, outputs.part_features, self.desc_proj,
                            self.part_weight)
