"""Checkpoints of the authors' STAR code (github cseeyangchen/STAR, ``ModelMatch`` in ``model/shiftgcn_match_ntu.py``
and ``..._pku.py``) turned into ours: ``star import-official RUN.pt --benchmark B --text FEATURES --out DIR``.

A run file of theirs is ``torch.save`` of the model's state dict (``runs-<epoch>-<step>.pt``, the ``module.``
prefix removed). Their test-time scoring, which this import reproduces exactly:

* Shift-GCN (``pretraining_model.*``) -> per-body last-unit maps, bodies averaged with their reshape (sidecar
  ``token_layout: official``, ``ShiftGCN.features``);
* per part k: cross-attention of the prompts ``body_part_prompts.k`` over the part's tokens
  (``body_part_st_attention_networks.k``), FFN ``body_part_mapping_matrix1/2.k`` with a ReLU, part feature
  ``P_i . (body_part_w.k E_i)``; global feature = the parts' sum weighted by ``part_weights_factor`` (all ones);
* class names through ``crossmodal_align1`` (768-256), ReLU, ``crossmodal_align2`` (256-100); score = cosine.

Their part-description MLPs ``pd_mapping_matrix1/2.k`` and semantic-part prompts ``pd_prompt.k`` are training-time
parts of the same head and are kept (our Part matches view uses them). Tensors their scoring never reads
(``gcn_part_classifier``, ``global_fc1/2``, ``gcn_flobal_classifier``) are listed in the sidecar as dropped.

Their text features (``torch.save`` of a dict: key 0 the class names, keys 1-6 the six parts' descriptions, rows
in label order, 768-d CLIP ViT-L/14@336px ``encode_text``) are read with ``torch.load(weights_only=True)`` and
stored in the checkpoint, so the imported model needs no CLIP weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from star.checkpoint import Checkpoint, CheckpointError, code_version, save_checkpoint
from star.data.benchmarks import get_benchmark
from star.models import ShiftGCN, build_head
from star.models.shiftgcn import load_shiftgcn_state_dict
from star.models.star import StarConfig
from star.skeleton.topology import partition
from star.text.encoders import file_sha256

PARTS = ("head", "hand", "arm", "hip", "leg", "foot")  # their part order, the same as partition(6)
BACKBONE_PREFIX = "pretraining_model."
# per part: their key (with {k}) -> our head key
PART_KEYS = {
    "body_part_prompts.{k}": "branches.{k}.prompts",
    "body_part_st_attention_networks.{k}.q_proj_weight": "branches.{k}.attn.q_proj_weight",
    "body_part_st_attention_networks.{k}.k_proj_weight": "branches.{k}.attn.k_proj_weight",
    "body_part_st_attention_networks.{k}.v_proj_weight": "branches.{k}.attn.v_proj_weight",
    "body_part_st_attention_networks.{k}.in_proj_bias": "branches.{k}.attn.in_proj_bias",
    "body_part_st_attention_networks.{k}.out_proj.weight": "branches.{k}.attn.out_proj.weight",
    "body_part_st_attention_networks.{k}.out_proj.bias": "branches.{k}.attn.out_proj.bias",
    "body_part_mapping_matrix1.{k}.weight": "branches.{k}.ffn.0.weight",
    "body_part_mapping_matrix1.{k}.bias": "branches.{k}.ffn.0.bias",
    "body_part_mapping_matrix2.{k}.weight": "branches.{k}.ffn.3.weight",
    "body_part_mapping_matrix2.{k}.bias": "branches.{k}.ffn.3.bias",
    "body_part_w.{k}": "branches.{k}.proj.weight",  # s_i = P_i . (W E_i): W is a bias-free linear map
    "pd_mapping_matrix1.{k}.weight": "desc_mlps.{k}.0.weight",
    "pd_mapping_matrix1.{k}.bias": "desc_mlps.{k}.0.bias",
    "pd_mapping_matrix2.{k}.weight": "desc_mlps.{k}.2.weight",
    "pd_mapping_matrix2.{k}.bias": "desc_mlps.{k}.2.bias",
}
NAME_KEYS = {"crossmodal_align1.weight": "name_mlp.0.weight", "crossmodal_align1.bias": "name_mlp.0.bias",
             "crossmodal_align2.weight": "name_mlp.2.weight", "crossmodal_align2.bias": "name_mlp.2.bias"}
CHECKED_KEYS = ["body_part_index_list.{k}", "part_weights_factor"]  # must hold what the scoring assumes
UNUSED_PREFIXES = ("gcn_part_classifier.", "global_fc1.", "global_fc2.", "gcn_flobal_classifier.")
# The paper's gammas (section 4), which their code picked on the test set; used unless --gamma is given.
PAPER_GAMMAS = {"ntu60": 0.012, "ntu120": 0.069, "pku": 0.022}
CLIP_SPEC = "openclip:ViT-L-14-336-quickgelu:openai"  # what made their 768-d features (OpenAI CLIP, QuickGELU)
TEXT_DIM, D_MODEL, TEXT_HIDDEN, NUM_PROMPTS, NUM_HEADS, FEAT_DIM = 768, 768, 256, 100, 4, 256


class OfficialImportError(ValueError):
    """A run file or text-feature file that is not what the authors' code writes; the message says what differs."""


def read_torch_file(path: str | Path, what: str) -> Any:
    """``torch.load(weights_only=True)``: tensors and plain containers only; any other object is refused unrun."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise OfficialImportError(f"{path}: {what} not found") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError or zipfile errors for bad files
        raise OfficialImportError(f"{path}: not a readable {what} (a torch.save file of tensors only: {exc})") from exc


def _tensor_dict(obj: Any, path: Path, what: str) -> dict:
    if not isinstance(obj, dict) or not all(torch.is_tensor(v) for v in obj.values()):
        raise OfficialImportError(f"{path}: a {what} should be a dict of tensors (torch.save of a state dict), "
                           f"found {type(obj).__name__}")
    return dict(obj)


def read_text_features(path: str | Path, num_classes: int) -> tuple[Tensor, Tensor, list[str]]:
    """(names (C, 768), parts (6, C, 768), messages) from their text-feature file, first ``num_classes`` rows."""
    path = Path(path)
    data = read_torch_file(path, "text-feature file")
    if not isinstance(data, dict):
        raise OfficialImportError(f"{path}: expected a dict with keys 0 (class names) and 1-6 (part descriptions), "
                           f"found {type(data).__name__}")
    missing = [k for k in range(7) if k not in data]
    if missing:
        raise OfficialImportError(f"{path}: text-feature dict lacks keys {missing} (expected 0 = class names, "
                           f"1-6 = head, hand, arm, hip, leg, foot descriptions); found {sorted(map(str, data))}")
    rows = []
    for k in range(7):
        t = data[k]
        if not torch.is_tensor(t) or t.dim() != 2 or t.shape[1] != TEXT_DIM:
            found = tuple(t.shape) if torch.is_tensor(t) else type(t).__name__
            raise OfficialImportError(f"{path}: key {k} should be a (classes, {TEXT_DIM}) tensor of CLIP features, "
                               f"found {found}")
        if t.shape[0] < num_classes:
            raise OfficialImportError(f"{path}: key {k} has {t.shape[0]} rows, the benchmark has {num_classes} classes")
        if not torch.isfinite(t).all():
            raise OfficialImportError(f"{path}: key {k} holds NaN or infinite values")
        rows.append(t[:num_classes].float())
    messages = [f"text features: rows 0-{num_classes - 1} of {data[0].shape[0]} per key (label order)"]
    return rows[0], torch.stack(rows[1:]), messages


def _check_shape(sd: dict, key: str, shape: tuple, path: Path) -> None:
    if tuple(sd[key].shape) != tuple(shape):
        raise OfficialImportError(f"{path}: {key} has shape {tuple(sd[key].shape)}, expected {tuple(shape)}")


def map_state_dict(sd: dict[str, Tensor], num_classes: int, path: Path) -> tuple[dict, dict, dict]:
    """Their state dict -> (backbone state, head state, report). Raises OfficialImportError naming every missing,
    extra or wrong-shaped key at once."""
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in sd.items()}
    head_cfg = head_config(num_classes)
    own = build_head("star", head_cfg).state_dict()
    wanted = {}
    for k in range(len(PARTS)):
        wanted.update({theirs.format(k=k): ours.format(k=k) for theirs, ours in PART_KEYS.items()})
    wanted.update(NAME_KEYS)
    checked = [c.format(k=k) for c in CHECKED_KEYS for k in range(len(PARTS))]
    checked = list(dict.fromkeys(checked))
    prompts = [f"pd_prompt.{k}" for k in range(len(PARTS))]
    expected = set(wanted) | set(checked) | set(prompts)
    missing = sorted(k for k in expected if k not in sd)
    if not any(k.startswith(BACKBONE_PREFIX) for k in sd):
        missing.append(BACKBONE_PREFIX + "*")
    extra = sorted(k for k in sd if k not in expected and not k.startswith(BACKBONE_PREFIX)
                   and not k.startswith(UNUSED_PREFIXES))
    bad = [f"{t}: {tuple(sd[t].shape)} (expected {tuple(own[o].shape)})" for t, o in wanted.items()
           if t in sd and tuple(sd[t].shape) != tuple(own[o].shape)]
    if missing or extra or bad:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        if bad:
            parts.append(f"wrong shapes {bad}")
        raise OfficialImportError(f"{path}: not a run file of the authors' ModelMatch with {len(PARTS)} parts and "
                                  f"{num_classes} classes: " + "; ".join(parts))
    for k, joints in enumerate(partition(len(PARTS)).values()):
        key = f"body_part_index_list.{k}"
        if [int(j) for j in sd[key].flatten()] != list(joints):
            raise OfficialImportError(f"{path}: {key} holds joints {sd[key].tolist()}, expected {list(joints)} "
                                      f"({PARTS[k]}); a different partition cannot be imported")
    _check_shape(sd, "part_weights_factor", (1, len(PARTS)), path)
    if not torch.equal(sd["part_weights_factor"].float(), torch.ones(1, len(PARTS))):
        raise OfficialImportError(f"{path}: part_weights_factor is {sd['part_weights_factor'].tolist()}, expected all "
                                  "ones (the released code never trains it; the global feature is the parts' sum)")
    head_state = {ours: sd[theirs].float() for theirs, ours in wanted.items()}
    rows = {tuple(sd[p].shape) for p in prompts}
    report_prompts = "kept"
    if rows == {(num_classes, TEXT_DIM)}:
        head_state["semantic_prompts"] = torch.stack([sd[p].float() for p in prompts])
    else:  # e.g. NTU-120 run of a code that hard-codes 60 rows: unusable rows, dropped and said so
        head_state["semantic_prompts"] = torch.zeros(len(PARTS), num_classes, TEXT_DIM)
        report_prompts = (f"dropped: pd_prompt has shape {sorted(rows)}, the benchmark has {num_classes} classes; "
                          "zeros instead (the prompts are a training-time correction; scores do not use them)")
    backbone_state = {k[len(BACKBONE_PREFIX):]: v for k, v in sd.items() if k.startswith(BACKBONE_PREFIX)}
    dropped = {k: list(v.shape) for k, v in sd.items() if k.startswith(UNUSED_PREFIXES)}
    report = {"semantic_prompts": report_prompts, "checked": checked, "dropped": dropped}
    return backbone_state, head_state, report


def head_config(num_classes: int) -> StarConfig:
    """Their head's sizes: d = 768, m = 100 prompts, 4 heads, FFN 768-768-768, text MLPs 768-256-100."""
    return StarConfig(num_classes=num_classes, num_parts=len(PARTS), feat_dim=FEAT_DIM, d_model=D_MODEL,
                      num_prompts=NUM_PROMPTS, num_heads=NUM_HEADS, ffn_hidden=D_MODEL, text_dim=TEXT_DIM,
                      text_hidden=TEXT_HIDDEN, use_attention=True, use_visual_prompts=True,
                      use_semantic_prompts=True, dropout=0.0)


def build_backbone(state: dict[str, Tensor], path: Path) -> tuple[ShiftGCN, list[str]]:
    """A two-body Shift-GCN holding their ``pretraining_model`` weights (its ``fc`` keeps their class count)."""
    fc = state.get("fc.weight")
    num_classes = int(fc.shape[0]) if fc is not None and fc.dim() == 2 else 60
    model = ShiftGCN(num_classes=num_classes, num_person=2)
    try:
        messages = load_shiftgcn_state_dict(model, state)
    except ValueError as exc:
        raise OfficialImportError(f"{path}: {BACKBONE_PREFIX}* is not the released Shift-GCN: {exc}") from exc
    return model, messages


def family_of(benchmark: str) -> str:
    return benchmark.split("-", 1)[0]


def import_official(run_path: str | Path, benchmark: str, text_path: str | Path, out: str | Path,
                    gamma: float | None = None, name: str | None = None, data_dir: str | Path | None = None,
                    device: str = "cpu") -> Path:
    """Write the checkpoint ``out`` (safetensors + sidecar, and the evaluation bundle when ``data_dir`` holds the
    benchmark's clip bank) from their run file and text features. Nothing is written when anything fails."""
    run_path, text_path, out = Path(run_path), Path(text_path), Path(out)
    bench = get_benchmark(benchmark)
    sd = _tensor_dict(read_torch_file(run_path, "run file"), run_path, "run file")
    backbone_state, head_state, report = map_state_dict(sd, bench.num_classes, run_path)
    names, parts, text_messages = read_text_features(text_path, bench.num_classes)
    backbone, backbone_messages = build_backbone(backbone_state, run_path)
    head = build_head("star", head_config(bench.num_classes))
    head.load_state_dict(head_state)
    if gamma is None:
        family = family_of(benchmark)
        if family not in PAPER_GAMMAS:
            raise OfficialImportError(f"no published gamma for {benchmark}; pass --gamma")
        gamma, gamma_how = PAPER_GAMMAS[family], (f"the paper's value for {family} (their code picked it on the "
                                                  "test set; not re-validated here)")
    else:
        gamma_how = "given at import (--gamma)"
    tensors = {**{f"backbone.{k}": v for k, v in backbone.state_dict().items()},
               **{f"head.{k}": v for k, v in head.state_dict().items()},
               "text.names": names, "text.parts": parts}
    meta = {
        "name": name or out.name, "model": "star", "benchmark": bench.name, "class_names": bench.class_names,
        "seen_classes": bench.seen_classes, "unseen_classes": bench.unseen_classes,
        "num_parts": len(PARTS), "part_names": list(PARTS),
        "text_encoder": {"id": CLIP_SPEC, "dim": TEXT_DIM, "spec": CLIP_SPEC,
                         "features_file": text_path.name, "features_sha256": file_sha256(text_path)},
        "descriptions": bench.description_set,
        "head_config": head.config.to_dict(), "backbone_config": {"num_classes": backbone.num_classes,
                                                                  "num_person": 2, "stream": "joint"},
        "num_frames": 64, "token_layout": "official",
        "gamma": {"value": float(gamma), "chosen_by": gamma_how},
        "tau": {"value": 1.0, "learned": False, "chosen_by": "the authors' code: softmax over plain cosines"},
        "metrics": {}, "config": {"benchmark": bench.name, "num_frames": 64, "preprocess": "legacy", "data_dir": None if data_dir is None
                                  else str(data_dir)},
        "seed": None, "device": "unknown (trained with the authors' code)",
        "imported_from": {
            "code": "cseeyangchen/STAR (ModelMatch, main_ntu_match.py / main_pku_match.py)",
            "run_file": run_path.name, "run_sha256": file_sha256(run_path), "token_layout": "official",
            "semantic_prompts": report["semantic_prompts"], "checked": report["checked"],
            "dropped": report["dropped"], "backbone": backbone_messages, "text": text_messages,
        },
    }
    meta["code_version"] = code_version()
    bundle = None
    if data_dir is not None:  # scored through the same pipeline as `star eval` / `star predict`, before writing
        from star.evaluation import bundle_from_bank
        from star.pipeline import StarPipeline

        pipe = StarPipeline(Checkpoint(out, meta, tensors), device)
        test = bench.load_splits(data_dir)["test"]
        try:
            meta["metrics"], bundle = bundle_from_bank(pipe, test, bench)
        except ValueError as exc:
            raise OfficialImportError(f"{data_dir}: the test clips of {bench.name} cannot be scored ({exc}); import "
                                      "without --data-dir to write no bundle") from exc
    try:
        return save_checkpoint(out, tensors, meta, bundle)
    except CheckpointError as exc:
        raise OfficialImportError(str(exc)) from exc
