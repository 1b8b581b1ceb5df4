import json

import numpy as np
import pytest
import torch

from star.checkpoint import (FORMAT, CheckpointError, check_encoder, list_checkpoints, load_bundle, load_checkpoint,
                             save_checkpoint)


def _meta(**extra):
    meta = {
        "name": "t", "model": "star", "benchmark": "pool42-32/10", "class_names": ["a", "b", "c"],
        "seen_classes": [0, 1], "unseen_classes": [2], "num_parts": 2, "part_names": ["upper body", "lower body"],
        "text_encoder": {"id": "enc", "dim": 4}, "head_config": {}, "backbone_config": {}, "num_frames": 64,
        "gamma": {"value": 0.1, "chosen_by": "validation"}, "metrics": {}, "config": {}, "seed": 0, "device": "cpu",
    }
    meta.update(extra)
    return meta


def _bundle():
    return {"labels": np.array([0, 2]), "scores": np.zeros((2, 3), np.float32),
            "global_features": np.zeros((2, 5), np.float32), "name_proj": np.zeros((3, 5), np.float32)}


def test_round_trip(tmp_path):
    """Every tensor and bundle array comes back with its exact values, shape and dtype, and the sidecar as written."""
    g = torch.Generator().manual_seed(0)
    tensors = {"text.names": torch.randn(3, 4, generator=g), "head.w": torch.randn(2, 2, generator=g),
               "head.half": torch.randn(5, generator=g).half(), "backbone.index": torch.randperm(7, generator=g)}
    rng = np.random.default_rng(0)
    bundle = {"labels": np.array([0, 2], np.int64), "scores": rng.normal(size=(2, 3)).astype(np.float32),
              "global_features": rng.normal(size=(2, 5)).astype(np.float32),
              "name_proj": rng.normal(size=(3, 5)).astype(np.float32), "sources": np.array(["nwucla/a", "msr3d/b"]),
              "attention_time_joint": rng.random((2, 2, 16, 25)).astype(np.float16)}
    out = save_checkpoint(tmp_path / "ck", tensors, _meta(extra_field={"nested": [1, 2.5, "x"]}), bundle)
    ck = load_checkpoint(out / "model.json")  # a file inside the folder works too
    assert ck.meta["format"] == FORMAT and ck.gamma == 0.1 and ck.unseen == [2]
    assert {k: v for k, v in ck.meta.items() if k not in ("format", "code_version")} == _meta(
        extra_field={"nested": [1, 2.5, "x"]})
    assert set(ck.tensors) == set(tensors)
    for key, value in tensors.items():
        assert ck.tensors[key].dtype == value.dtype and torch.equal(ck.tensors[key], value), key
    assert torch.equal(ck.sub_state("head")["w"], tensors["head.w"])
    back = ck.load_bundle()
    assert set(back) == set(bundle)
    for key, value in bundle.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape, key
        np.testing.assert_array_equal(back[key], value)
    assert list_checkpoints(tmp_path) == [out]
    check_encoder(ck, "enc")
    with pytest.raises(CheckpointError, match="trained with text encoder 'enc'"):
        check_encoder(ck, "other")


def test_overwrite_is_atomic_and_leaves_no_temp_dirs(tmp_path):
    save_checkpoint(tmp_path / "ck", {"text.names": torch.zeros(3, 4)}, _meta())
    save_checkpoint(tmp_path / "ck", {"text.names": torch.ones(3, 4)}, _meta(name="second"))
    assert load_checkpoint(tmp_path / "ck").name == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["ck"]


def test_failed_save_leaves_nothing(tmp_path):
    bad_bundle = {"labels": np.array([object()], dtype=object)}
    with pytest.raises(CheckpointError, match="dtype object"):
        save_checkpoint(tmp_path / "ck", {"text.names": torch.zeros(3, 4)}, _meta(), bad_bundle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("change, message", [
    (lambda d: (d / "model.json").unlink(), "missing model.json"),
    (lambda d: (d / "model.json").write_text("{not json"), "not valid JSON"),
    (lambda d: (d / "model.safetensors").write_bytes(b"garbage"), "not a readable safetensors"),
    (lambda d: _edit(d, unseen_classes=[]), "partition"),
    (lambda d: _edit(d, format="other/0"), "expected format"),
    (lambda d: _edit(d, text_encoder={"id": "enc", "dim": 7}), r"text.names should be \(3, 7\)"),
])
def test_invalid_checkpoints_say_what_is_wrong(tmp_path, change, message):
    d = save_checkpoint(tmp_path / "ck", {"text.names": torch.zeros(3, 4)}, _meta())
    change(d)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(d)


def _edit(d, **changes):
    meta = json.loads((d / "model.json").read_text())
    meta.update(changes)
    (d / "model.json").write_text(json.dumps(meta))


def test_bundle_never_unpickles(tmp_path):
    path = tmp_path / "bundle.npz"
    np.savez(path, labels=np.array([{"a": 1}], dtype=object), scores=np.zeros(1), global_features=np.zeros(1),
             name_proj=np.zeros(1))
    with pytest.raises(CheckpointError, match="not a readable bundle"):
        load_bundle(path)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        load_checkpoint(tmp_path / "nope")
