"""The on-disk embedding cache, embed_texts, class_text_embeddings and `star embed`."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import yaml

from star.cli import main
from star.skeleton.topology import part_names
from star.text.cache import EmbeddingCache, default_cache_dir, embed_texts
from star.text.descriptions import DescriptionError
from star.text.embed import class_text_embeddings
from star.text.encoders import TextEncoder


class HashEncoder(TextEncoder):
    """A deterministic stand-in encoder that counts what it is asked to encode.

    Vector of a text: 8 float32 values from its sha256 (so any two texts differ, and the value is known).
    """

    dim = 8

    def __init__(self, id: str = "hash:v1"):
        self.id = id
        self.calls: list[list[str]] = []

    @staticmethod
    def vector(text: str) -> np.ndarray:
        raw = np.frombuffer(hashlib.sha256(text.encode()).digest()[:8], dtype=np.uint8)
        return raw.astype(np.float32) / 255.0

    def _encode_batch(self, texts):
        self.calls.append(list(texts))
        return np.stack([self.vector(t) for t in texts])

    @property
    def encoded(self) -> int:
        return sum(len(c) for c in self.calls)


def test_second_call_encodes_nothing(tmp_path):
    enc, cache = HashEncoder(), EmbeddingCache(tmp_path)
    texts = ["drink water", "kick something", "drink water", "sit down"]
    a = embed_texts(enc, texts, cache)
    assert a.shape == (4, 8) and a.dtype == np.float32
    assert enc.encoded == 3  # the duplicate is encoded once
    np.testing.assert_array_equal(a[1], HashEncoder.vector("kick something"))
    np.testing.assert_array_equal(a[0], a[2])
    b = embed_texts(enc, texts, cache)
    assert enc.encoded == 3
    np.testing.assert_array_equal(a, b)
    c = embed_texts(enc, ["sit down", "stand up"], cache)  # only the new text is encoded
    assert enc.calls[-1] == ["stand up"] and enc.encoded == 4
    np.testing.assert_array_equal(c[0], a[3])
    assert cache.count(enc.id) == 4


def test_persisted_across_instances_and_exact_text_keys(tmp_path):
    enc = HashEncoder()
    embed_texts(enc, ["drink water", "Drink water"], EmbeddingCache(tmp_path))
    assert enc.encoded == 2  # case matters: the key is the exact text
    fresh, enc2 = EmbeddingCache(tmp_path), HashEncoder()
    out = embed_texts(enc2, ["Drink water", "drink water"], fresh)
    assert enc2.encoded == 0
    np.testing.assert_array_equal(out[0], HashEncoder.vector("Drink water"))
    embed_texts(enc2, ["drink water "], fresh)  # trailing space: another text
    assert enc2.encoded == 1


def test_encoder_ids_are_separated(tmp_path):
    cache = EmbeddingCache(tmp_path)
    a, b = HashEncoder("hash:v1"), HashEncoder("openclip:ViT-L-14:/w/x.safetensors#sha256:0123")
    embed_texts(a, ["wave"], cache)
    embed_texts(b, ["wave"], cache)
    assert a.encoded == 1 and b.encoded == 1
    assert cache.path_for(a.id) != cache.path_for(b.id)
    assert cache.path_for(b.id).parent == tmp_path and "/" not in cache.path_for(b.id).name
    cache.put(b.id, ["wave"], np.full((1, 8), 7.0))
    assert EmbeddingCache(tmp_path).get(a.id, ["wave"])[0][0] == HashEncoder.vector("wave")[0]
    assert EmbeddingCache(tmp_path).get(b.id, ["wave", "nope"])[0][0] == 7.0
    assert EmbeddingCache(tmp_path).get(b.id, ["nope"]) == [None]


def test_file_format_has_no_pickles_and_no_temp_files_left(tmp_path):
    enc, cache = HashEncoder(), EmbeddingCache(tmp_path)
    embed_texts(enc, ["a", "b"], cache)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]
    with np.load(cache.path_for(enc.id), allow_pickle=False) as z:
        assert str(z["encoder_id"]) == "hash:v1"
        assert list(z["texts"]) == ["a", "b"] and z["vectors"].shape == (2, 8)


def test_two_instances_writing_merge(tmp_path):
    enc = HashEncoder()
    one, two = EmbeddingCache(tmp_path), EmbeddingCache(tmp_path)
    embed_texts(enc, ["a"], one)
    embed_texts(enc, ["b"], two)  # two had not seen "a" yet; it must not drop it
    assert EmbeddingCache(tmp_path).count(enc.id) == 2


def test_unreadable_cache_file_is_ignored_and_rewritten(tmp_path):
    enc, cache = HashEncoder(), EmbeddingCache(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    cache.path_for(enc.id).write_bytes(b"not an npz")
    with pytest.warns(UserWarning, match="ignoring unreadable embedding cache"):
        out = embed_texts(enc, ["a"], cache)
    np.testing.assert_array_equal(out[0], HashEncoder.vector("a"))
    assert EmbeddingCache(tmp_path).count(enc.id) == 1


def test_no_cache_and_empty_input(tmp_path):
    enc = HashEncoder()
    assert embed_texts(enc, [], None).shape == (0, 8)
    embed_texts(enc, ["x", "x"], None)
    embed_texts(enc, ["x"], None)
    assert enc.encoded == 2


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    assert EmbeddingCache().directory == tmp_path / "text_embeddings"
    monkeypatch.delenv("STAR_CACHE_DIR")
    assert default_cache_dir().name == ".star_cache" and (default_cache_dir().parent / "star").is_dir()


def write_descriptions(path, classes):
    data = {c: {f"{k}-part": {p: f"{c} {p} moves" for p in part_names(k)} for k in (6, 4, 2)} for c in classes}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_class_text_embeddings_shapes_and_texts(tmp_path):
    path = write_descriptions(tmp_path / "d.yaml", ["drink water", "kick something", "sit down"])
    enc, cache = HashEncoder(), EmbeddingCache(tmp_path / "cache")
    names, parts = class_text_embeddings(enc, ["kick something", "drink water"], path, 4, cache)  # a subset
    assert names.shape == (2, 8) and parts.shape == (4, 2, 8)
    np.testing.assert_array_equal(names[0], HashEncoder.vector("kick something"))
    np.testing.assert_array_equal(parts[1, 1], HashEncoder.vector("drink water, Hand-arm: drink water hand-arm moves"))
    np.testing.assert_array_equal(parts[3, 0], HashEncoder.vector("kick something, Leg-foot: kick something leg-foot moves"))
    assert enc.encoded == 2 + 4 * 2
    class_text_embeddings(enc, ["kick something", "drink water"], path, 4, cache)
    assert enc.encoded == 10
    with pytest.raises(DescriptionError, match="'stand up' is missing"):
        class_text_embeddings(enc, ["stand up"], path, 6, cache)


def test_star_embed_command(tmp_path, capsys):
    """`star embed` on pool42 with MiniLM: first run encodes, second run finds everything cached."""
    cache_dir = tmp_path / "cache"
    argv = ["embed", "--benchmark", "pool42-32/10", "--parts", "2", "--cache-dir", str(cache_dir)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "encoder minilm:all-MiniLM-L6-v2 (384-d)" in out
    assert "42 class names + 2 parts x 42 descriptions" in out and "126 texts, 126 encoded, 0 already cached" in out
    assert main(argv) == 0
    assert "126 texts, 0 encoded, 126 already cached" in capsys.readouterr().out
    assert EmbeddingCache(cache_dir).count("minilm:all-MiniLM-L6-v2") == 126
    assert main(["embed", "--benchmark", "pool42-32/10", "--parts", "3", "--cache-dir", str(cache_dir)]) == 2
    assert main(["embed", "--benchmark", "no-such", "--cache-dir", str(cache_dir)]) == 2
    assert "unknown benchmark 'no-such'" in capsys.readouterr().err
