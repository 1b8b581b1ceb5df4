"""The sidecar schema (star.sidecar): every malformed sidecar the fuzzing of issue 28 found gives one CheckpointError
that names the problem; the shipped sidecars pass; nothing else is raised."""

from __future__ import annotations

import json
import shutil

import pytest

from star.checkpoint import CheckpointError, load_checkpoint

SHIPPED = ("star-openvocab-pool69", "star-pool42-32-10", "star-noam-pool42-32-10", "baseline-pool42-32-10")


@pytest.fixture(scope="module")
def sidecar(repo_root):
    return json.loads((repo_root / "checkpoints" / "star-pool42-32-10" / "model.json").read_text())


def _load_with(tmp_path, repo_root, text: bytes | str):
    folder = tmp_path / "ck"
    folder.mkdir(exist_ok=True)
    if not (folder / "model.safetensors").exists():
        shutil.copy(repo_root / "checkpoints" / "star-pool42-32-10" / "model.safetensors", folder / "model.safetensors")
    (folder / "model.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    return load_checkpoint(folder)


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_sidecars_fit_the_schema(repo_root, name):
    load_checkpoint(repo_root / "checkpoints" / name)


@pytest.mark.parametrize("text, message", [
    (b"\xff\xfe{}", "not UTF-8"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": ' + "9" * 5000 + "}", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, found list"),
    ('"text"', "expected a JSON object, found str"),
    ("null", "expected a JSON object, found NoneType"),
    ("{" + '"a": {' * 40 + "}" * 41, "nested more than 32 levels"),
])
def test_files_that_are_not_a_sidecar(tmp_path, repo_root, text, message):
    with pytest.raises(CheckpointError, match=message):
        _load_with(tmp_path, repo_root, text)


@pytest.mark.parametrize("field, value, message", [
    ("seen_classes", None, "field 'seen_classes': expected a list of class indices"),
    ("seen_classes", True, "field 'seen_classes'"),
    ("seen_classes", 0, "field 'seen_classes'"),
    ("seen_classes", [[0, 1]], "field 'seen_classes'"),
    ("unseen_classes", [99], "field 'unseen_classes': expected a list of class indices 0-41"),
    ("text_encoder", "minilm", "field 'text_encoder': expected an object"),
    ("text_encoder", {"id": "minilm"}, "field 'text_encoder.dim' is missing"),
    ("gamma", {}, "field 'gamma.value' is missing"),
    ("gamma", 1.5, "field 'gamma': expected an object"),
    ("gamma", {"value": float("nan")}, "field 'gamma.value': expected a finite number"),
    ("num_parts", "x", "field 'num_parts': expected 2, 4 or 6"),
    ("class_names", {"a": 1}, "field 'class_names': expected a list"),
    ("metrics", {"H": "high"}, "field 'metrics'"),
    ("num_frames", 10 ** 9, "field 'num_frames'"),
    ("model", "transformer", "field 'model'"),
    ("tau", {"value": -1}, "field 'tau.value': expected a positive number"),
    ("token_layout", "sideways", "field 'token_layout'"),
])
def test_fields_of_the_wrong_type_or_range_name_the_field(tmp_path, repo_root, sidecar, field, value, message):
    bad = dict(sidecar, **{field: value})
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _load_with(tmp_path, repo_root, json.dumps(bad))


def test_a_sidecar_error_reaches_the_app_as_a_checkpoint_error_only(tmp_path, repo_root, sidecar):
    """No TypeError / KeyError / AttributeError escapes for a sidecar whose fields are all wrong."""
    for field in list(sidecar):
        for value in (None, {}, "x", -1.5, True):
            try:
                _load_with(tmp_path, repo_root, json.dumps(dict(sidecar, **{field: value})))
            except CheckpointError:
                pass
