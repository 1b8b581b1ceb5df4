"""STAR head: dual-prompt cross-modality alignment (paper section 3.3).

Skeleton stream (one branch per body part ``k``; K = 2, 4 or 6 from ``topology.partition``):

* tokens: the part's joints over time, taken from the backbone map ``(N, feat_dim, T', 25)`` as
  ``(N, T' * |part|, feat_dim)``. Token order is time-major, then the part's joints in topology
  (ascending index) order: token ``t * |part| + j`` is frame ``t``, joint ``partition(K)[part][j]``.
* multi-head cross-attention: queries = visual-attribute prompts ``P_k`` (m, d), keys/values = tokens
  (projected from feat_dim to d inside the attention); no residual, no LayerNorm (as released).
* FFN (d -> ffn_hidden -> d, ReLU), giving ``E_k`` (N, m, d).
* part feature, one score per prompt: ``s_k[n, i] = P_k[i] . (W_k E_k[n, i])`` (N, m).
* global feature: ``sum_k s_k`` (N, m). The prompt count m is also the width of the shared space.

Semantic stream: class-name embeddings (C, Dt) go through a two-layer ReLU MLP (Dt -> text_hidden
-> m); the descriptions of part k (C, Dt) go through that part's own MLP, after adding the learnable
semantic-part prompt ``Q_k`` (num_classes, Dt), initialised to zeros (training starts from the raw
descriptions; the prompt learns only the class-specific correction). Prompt rows follow the class
order of the checkpoint's class list.

Ablation switches (``StarConfig``):

* ``use_attention=False``: the attention output is replaced by the mean of the part tokens,
  projected to d by a linear layer and broadcast to all m prompts. No attention weights are returned.
* ``use_visual_prompts=False``: the prompts are a fixed, non-learnable random normal buffer
  (drawn from ``prompt_seed``, saved with the weights). They still act as queries and in the final
  projection, so the architecture is unchanged; only the learned motion attributes are removed.
* ``use_semantic_prompts=False``: nothing is added to the description embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn

from star.skeleton.topology import NUM_JOINTS, partition


@dataclass
class StarConfig:
    """Sizes and switches of a head (STAR or the global baseline), stored in every checkpoint sidecar as
    ``head_config``. It is also the ``head.arch`` section of a run's configuration (``star.config``), so
    these defaults are the only defaults. ``num_classes`` and ``text_dim`` are filled in from the benchmark
    and the text encoder when a run builds its head.
    """

    num_classes: int | None = None  # C: classes of the benchmark (seen + unseen); set from the benchmark
    num_parts: int = 6  # K: body parts, 2, 4 or 6 (star.skeleton.topology.partition)
    feat_dim: int = 256  # channels of the backbone map (N, feat_dim, T', 25)
    d_model: int = 128  # prompt / attention width d (the authors use 768; 128 keeps a checkpoint < 15 MB)
    num_prompts: int = 100  # m: visual-attribute prompts per part = width of the shared skeleton-text space
    num_heads: int = 4  # attention heads (the authors' code 4, the paper 8); must divide d_model
    ffn_hidden: int | None = None  # FFN hidden width; None = d_model (the paper's d-d-d FFN)
    text_dim: int = 384  # Dt: raw text-embedding width; set from the text encoder
    text_hidden: int = 256  # hidden width of the text MLPs (Dt -> text_hidden -> m)
    use_attention: bool = True  # ablation switch: False replaces cross-attention by mean-pooled part tokens
    use_visual_prompts: bool = True  # ablation switch: False freezes the prompts as a fixed random buffer
    use_semantic_prompts: bool = True  # ablation switch: False adds no learnable prompt to descriptions
    dropout: float = 0.0  # dropout in attention and FFN (the paper uses none)
    prompt_seed: int = 0  # seed of the fixed prompts when use_visual_prompts is False

    def __post_init__(self) -> None:
        if self.ffn_hidden is None:
            self.ffn_hidden = self.d_model
        partition(self.num_parts)  # raises on a bad part count
        if self.d_model % self.num_heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by num_heads ({self.num_heads})")
        for name in ("num_classes", "feat_dim", "d_model", "num_prompts", "num_heads", "text_dim", "text_hidden"):
            value = getattr(self, name)
            if value is None and name == "num_classes":
                continue  # not known yet: a run config before the benchmark is read
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class StarOutput:
    """What a head returns for a batch of N clips.

    part_features: (N, K, m), or None for the global-only baseline.
    global_feature: (N, m).
    attention: K tensors (N, heads, m, T' * |part_k|) of attention weights (token order: see module
        docstring); empty when the head has no attention.
    part_names: the K part names, in order.
    """

    part_features: Tensor | None
    global_feature: Tensor
    attention: list[Tensor] = field(default_factory=list)
    part_names: list[str] = field(default_factory=list)


def text_mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    """Two linear layers with a ReLU: (.., in_dim) -> (.., out_dim)."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))


class PartBranch(nn.Module):
    """One part: tokens (N, L, feat_dim) -> (part feature (N, m), attention (N, heads, m, L) or None)."""

    def __init__(self, cfg: StarConfig, seed_offset: int = 0):
        super().__init__()
        m, d = cfg.num_prompts, cfg.d_model
        if cfg.use_visual_prompts:
            self.prompts = nn.Parameter(torch.randn(m, d))
        else:
            gen = torch.Generator().manual_seed(cfg.prompt_seed + seed_offset)
            self.register_buffer("prompts", torch.randn(m, d, generator=gen))
        self.use_attention = cfg.use_attention
        if cfg.use_attention:
            self.attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, kdim=cfg.feat_dim,
                                              vdim=cfg.feat_dim, batch_first=True)
        else:
            self.token_proj = nn.Linear(cfg.feat_dim, d)
        self.ffn = nn.Sequential(nn.Linear(d, cfg.ffn_hidden), nn.ReLU(), nn.Dropout(cfg.dropout),
                                 nn.Linear(cfg.ffn_hidden, d))
        self.proj = nn.Linear(d, d, bias=False)  # W in s_k = P^T W E

    def forward(self, tokens: Tensor) -> tuple[Tensor, Tensor | None]:
        n = tokens.shape[0]
        queries = self.prompts.unsqueeze(0).expand(n, -1, -1)  # (N, m, d)
        if self.use_attention:
            attended, weights = self.attn(queries, tokens, tokens, need_weights=True,
                                          average_attn_weights=False)  # (N, m, d), (N, heads, m, L)
        else:
            pooled = self.token_proj(tokens.mean(dim=1))  # (N, d)
            attended, weights = pooled.unsqueeze(1).expand_as(queries), None
        e = self.ffn(attended)  # (N, m, d)
        scores = (self.prompts.unsqueeze(0) * self.proj(e)).sum(dim=-1)  # (N, m): P_i . (W E_i)
        return scores, weights


class StarHead(nn.Module):
    """The STAR head on top of a frozen backbone map; see the module docstring for the maths."""

    def __init__(self, config: StarConfig):
        super().__init__()
        self.config = cfg = config
        if cfg.num_classes is None:
            raise ValueError("StarConfig.num_classes is not set (the number of the benchmark's classes)")
        parts = partition(cfg.num_parts)
        self.part_names = list(parts)
        for k, joints in enumerate(parts.values()):
            self.register_buffer(f"joints_{k}", torch.tensor(joints, dtype=torch.long), persistent=False)
        self.branches = nn.ModuleList(PartBranch(cfg, seed_offset=k) for k in range(cfg.num_parts))
        self.name_mlp = text_mlp(cfg.text_dim, cfg.text_hidden, cfg.num_prompts)
        self.desc_mlps = nn.ModuleList(text_mlp(cfg.text_dim, cfg.text_hidden, cfg.num_prompts)
                                       for _ in range(cfg.num_parts))
        if cfg.use_semantic_prompts:
            self.semantic_prompts = nn.Parameter(torch.zeros(cfg.num_parts, cfg.num_classes, cfg.text_dim))
        else:
            self.semantic_prompts = None

    def part_joints(self, k: int) -> Tensor:
        return getattr(self, f"joints_{k}")

    def part_tokens(self, feat: Tensor, k: int) -> Tensor:
        """Tokens of part k: (N, feat_dim, T', V) -> (N, T' * |part|, feat_dim), time-major."""
        x = feat.index_select(3, self.part_joints(k))  # (N, D, T', P)
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])

    def forward(self, feat: Tensor) -> StarOutput:
        """feat: backbone map (N, feat_dim, T', 25) -> StarOutput (see its docstring)."""
        cfg = self.config
        if feat.dim() != 4 or feat.shape[1] != cfg.feat_dim or feat.shape[3] != NUM_JOINTS:
            raise ValueError(f"StarHead expects a backbone map (N, {cfg.feat_dim}, T', {NUM_JOINTS}), "
                             f"got {tuple(feat.shape)}")
        scores, attention = [], []
        for k, branch in enumerate(self.branches):
            s, w = branch(self.part_tokens(feat, k))
            scores.append(s)
            if w is not None:
                attention.append(w)
        part_features = torch.stack(scores, dim=1)  # (N, K, m)
        return StarOutput(part_features, part_features.sum(dim=1), attention, list(self.part_names))

    def encode_names(self, name_emb: Tensor) -> Tensor:
        """Class-name embeddings (C, Dt) -> shared space (C, m). Any class list (C need not match)."""
        if name_emb.dim() != 2 or name_emb.shape[1] != self.config.text_dim:
            raise ValueError(f"name embeddings must be (C, {self.config.text_dim}), got {tuple(name_emb.shape)}")
        return self.name_mlp(name_emb)

    def encode_text(self, name_emb: Tensor, desc_emb: Tensor | None,
                    use_prompt: bool | None = None) -> tuple[Tensor, Tensor | None]:
        """Project text into the shared space.

        Args:
            name_emb: (C, Dt) class-name embeddings.
            desc_emb: (K, C, Dt) per-part description embeddings, or None (then desc_proj is None).
            use_prompt: add the semantic-part prompts to the descriptions; None means "if the config
                enables them". With prompts, C must equal ``num_classes`` (rows are tied to the
                checkpoint's class order).

        Returns:
            name_proj (C, m), desc_proj (K, C, m) or None.
        """
        cfg = self.config
        name_proj = self.encode_names(name_emb)
        if desc_emb is None:
            return name_proj, None
        c = name_emb.shape[0]
        if desc_emb.shape != (cfg.num_parts, c, cfg.text_dim):
            raise ValueError(f"description embeddings must be (K={cfg.num_parts}, C={c}, {cfg.text_dim}), "
                             f"got {tuple(desc_emb.shape)}")
        if use_prompt is None:
            use_prompt = cfg.use_semantic_prompts
        if use_prompt:
            if self.semantic_prompts is None:
                raise ValueError("this head was built with use_semantic_prompts=False; it has no semantic prompts")
            if c != cfg.num_classes:
                raise ValueError(f"semantic prompts cover the checkpoint's {cfg.num_classes} classes, got text "
                                 f"for {c}; pass use_prompt=False to encode another class list")
            desc_emb = desc_emb + self.semantic_prompts
        desc_proj = torch.stack([mlp(desc_emb[k]) for k, mlp in enumerate(self.desc_mlps)])
        return name_proj, desc_proj
