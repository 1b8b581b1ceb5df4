"""The app's streamlit-free helpers (``ui.checkpoints``, ``ui.model_view``, ``ui.clips``), and the library's side
of the split: ``star/`` never imports streamlit nor knows session state."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py (Streamlit puts that folder on sys.path)

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, Checkpoint, CheckpointError, list_checkpoints  # noqa: E402
from ui import checkpoints as ck  # noqa: E402
from ui.model_view import ModelView  # noqa: E402


@pytest.fixture(scope="module")
def shipped() -> Path:
    paths = list_checkpoints(REPO / "checkpoints")
    if not paths:
        pytest.fail("no shipped checkpoints in checkpoints/")
    return min(paths, key=lambda p: (p / WEIGHTS).stat().st_size)


def test_library_never_imports_streamlit_nor_knows_session_state():
    hits = [str(p.relative_to(REPO)) for p in (REPO / "star").rglob("*.py")
            if re.search(r"import streamlit|session_state", p.read_text())]
    assert hits == []


# ----------------------------------------------------------------------------------- roots and typed paths
@pytest.fixture
def roots(tmp_path) -> list[Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for root, names in ((a, ["one", "two"]), (b, ["two", "three"])):
        for n in names:
            (root / n).mkdir(parents=True)
            (root / n / SIDECAR).write_text("{}")
    (a / "runs" / "deep").mkdir(parents=True)
    return [a, b]


def test_choices_are_the_checkpoints_under_every_root(roots):
    a, b = roots
    assert ck.checkpoint_choices(roots) == {"one": a / "one", "two": a / "two", "b/two": b / "two",
                                            "three": b / "three"}
    assert ck.default_choice(["x", ck.DEFAULT_CHECKPOINT]) == ck.DEFAULT_CHECKPOINT
    assert ck.default_choice(["x", "y"]) == "x" and ck.default_choice([]) is None


def test_roots_come_from_star_checkpoint_dirs(roots, monkeypatch):
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", os.pathsep.join(str(r) for r in roots))
    assert list(ck.checkpoint_choices()) == ["one", "two", "three", "b/two"]
    assert ck.resolve_typed_path("three") == (roots[1] / "three").resolve()


def test_typed_paths_inside_a_root_resolve(roots):
    a, b = roots
    assert ck.resolve_typed_path(str(a / "one"), roots) == (a / "one").resolve()
    assert ck.resolve_typed_path(f"  {a / 'runs' / 'deep'}  ", roots) == (a / "runs" / "deep").resolve()
    assert ck.resolve_typed_path("three", roots) == (b / "three").resolve()  # relative: the root that has it
    assert ck.resolve_typed_path("runs/../two", roots) == (a / "two").resolve()
    assert ck.resolve_typed_path("missing", roots) == (a / "missing").resolve()  # the loader says it is missing


def test_typed_paths_outside_the_roots_get_one_message_that_reveals_nothing(roots, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (roots[0] / "link").symlink_to(outside)
    typed = ["/etc", "/etc/passwd", "/no/such/folder", str(outside), str(tmp_path / "missing"), "..",
             "../secret", str(roots[0] / ".." / "secret"), str(roots[0]), str(roots[0] / "link"), "",
             "   ", "a\x00b"]
    messages = set()
    for t in typed:
        with pytest.raises(ck.CheckpointRefused) as err:
            ck.resolve_typed_path(t, roots)
        messages.add(str(err.value))
    with pytest.raises(ck.CheckpointRefused):
        ck.resolve_typed_path("link", roots[:1])  # relative, through the symlink in the only root
    assert messages == {ck.REFUSED}
    assert issubclass(ck.CheckpointRefused, CheckpointError)


def test_visitor_messages_name_the_label_not_the_server_path(tmp_path):
    exc = CheckpointError(f"{tmp_path / 'x'}: missing model.safetensors")
    assert ck.visitor_message(exc, tmp_path / "x", "x") == "x: missing model.safetensors"


@pytest.mark.parametrize("spec, safe", [
    ("minilm", True), ("minilm:all-MiniLM-L6-v2", True), ("openclip:ViT-L-14-336-quickgelu:openai", True),
    ("openclip:ViT-B-32:/etc/passwd", False), ("openclip:ViT-B-32:weights.safetensors", False),
    ("openclip:ViT-B-32:../x", False), ("openclip:ViT-B-32", False), ("something-else", False), ("", False),
])
def test_uploaded_checkpoints_may_not_name_a_weights_file_for_their_text_encoder(spec, safe):
    assert ck.encoder_is_safe({"text_encoder": {"id": "whatever", "spec": spec}}) is safe


def _zip(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in (WEIGHTS, SIDECAR, BUNDLE):
            zf.writestr(n, (folder / n).read_bytes())
        for n, d in (extra or {}).items():
            zf.writestr(n, d)
    return buf.getvalue()


def test_uploaded_checkpoint_lives_in_its_own_temporary_folder_until_released(shipped, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    up = ck.UploadedCheckpoint.unpack("id-1", "/some/client/path/mine.zip", _zip(shipped))
    assert up.error is None and up.label == "mine.zip"
    assert up.path.is_dir() and up.path.is_relative_to(tmp_path) and up.cache_dir.is_relative_to(tmp_path)
    assert ModelView.load(up.path).name == ModelView.load(shipped).name
    up.release()
    assert not up.path.exists() and list(tmp_path.iterdir()) == []
    up.release()  # twice is harmless

    bad = ck.UploadedCheckpoint.unpack("id-2", "evil.zip", _zip(shipped, {"../../x.py": b"print()"}))
    assert bad.path is None and bad.error.startswith("evil.zip: ") and "path part" in bad.error
    assert list(tmp_path.iterdir()) == []  # nothing left of a refused upload


# ----------------------------------------------------------------------------------- the model view
def test_model_view_is_a_checkpoint_plus_its_bundle(shipped):
    own = {f.name for f in dataclasses.fields(ModelView)} - {f.name for f in dataclasses.fields(Checkpoint)}
    assert own == {"bundle", "digest"}
    assert not {"name", "class_names", "seen", "unseen", "gamma", "path", "meta"} & set(vars(ModelView))
    view = ModelView.load(shipped)
    assert isinstance(view, Checkpoint) and view.path == shipped
    assert view.scores.shape == (len(view.labels), len(view.class_names))
    assert view.identity == f"{view.name}::{view.digest}"


def test_upload_reader_errors_name_the_uploaded_file():
    from star.skeleton.clip import SkeletonFormatError
    from ui.clips import clip_from_upload

    with pytest.raises(SkeletonFormatError, match=r"^broken\.skeleton"):
        clip_from_upload("broken.skeleton", b"3\nnot a skeleton file\n")
    with pytest.raises(SkeletonFormatError, match="ending in"):
        clip_from_upload("notes.pdf", b"%PDF")


def test_clip_banks_only_from_an_explicit_folder(tmp_path, monkeypatch):
    import numpy as np

    from ui.clips import clip_banks

    np.savez(tmp_path / "bank.npz", offsets=np.array([0]))
    np.savez(tmp_path / "other.npz", x=np.array([0]))
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    assert clip_banks() == []
    monkeypatch.setenv("STAR_DATA_DIR", str(tmp_path))
    assert clip_banks() == [tmp_path / "bank.npz"]
