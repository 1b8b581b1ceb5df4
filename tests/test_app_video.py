"""Video upload on the Predict page through Streamlit's AppTest (driven through the frame, ``app.py``): the shared
``two_people.mp4`` gives a progress bar while its pose is extracted, the video, the 3D skeleton with both people,
the landmark overlays and a prediction; ``face_closeup.avi`` (no full body) gives the reader's error; without the
pose models the page names ``make pose-models``. The app keeps running in every case.

Needs ``$STAR_DATA_DIR/video`` (``../shared/data/video``) and the pose models (``make pose-models``); skips with the
reason otherwise."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("cv2", reason="opencv-python-headless is needed for video input (requirements.txt)")
pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is needed for video input (requirements.txt)")
from streamlit.testing.v1 import AppTest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py (Streamlit puts that folder on sys.path)

from conftest import shared_video  # noqa: E402
from star.checkpoint import list_checkpoints  # noqa: E402
from star.video import models  # noqa: E402
from ui import checkpoints, loaders  # noqa: E402

TIMEOUT = 240




@pytest.fixture(scope="module")
def pose_models() -> Path:
    """The real pose models' folder (looked up before any test moves $STAR_CACHE_DIR)."""
    if not models.models_ready():
        pytest.skip(f"BlazePose models not set up in {models.models_dir()}: run `{models.FIX_COMMAND}`")
    return models.models_dir()


@pytest.fixture(scope="module")
def checkpoint() -> Path:
    paths = list_checkpoints(REPO / "checkpoints")
    if not paths:
        pytest.fail("no checkpoints in checkpoints/; the app tests need the shipped checkpoints")
    default = [p for p in paths if p.name == checkpoints.ZERO_SHOT_CHECKPOINT]  # its ZSL / GZSL lists are checked
    return (default or paths)[0]


def _predict_page(checkpoint: Path, cache: Path, monkeypatch) -> AppTest:
    """A fresh session of the frame on the Predict page, 'Upload a file' chosen; $STAR_CACHE_DIR is ``cache``."""
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(checkpoint.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(cache))
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    loaders.video_store().clear()  # every test extracts afresh (the store is process-wide, like st caches)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["checkpoint_pick"] = checkpoint.name
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="predict_source").set_value("Upload a file").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app(checkpoint, pose_models, tmp_path, monkeypatch) -> AppTest:
    """The Predict page with the real pose models in a temporary cache folder (linked, not copied)."""
    (tmp_path / "cache" / "pose_models").mkdir(parents=True)
    for f in pose_models.glob("*.tflite"):
        (tmp_path / "cache" / "pose_models" / f.name).symlink_to(f)
    return _predict_page(checkpoint, tmp_path / "cache", monkeypatch)


def _upload(at: AppTest, path: Path) -> AppTest:
    at.file_uploader(key="predict_upload").upload(path.name, path.read_bytes()).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_video_upload_shows_video_skeleton_overlays_and_prediction(app, monkeypatch):
    import ui.video

    calls = []
    extract = ui.video.extract_upload

    def counting(name, data, on_progress=None, limits=None):
        calls.append(name)
        return extract(name, data, lambda done, total: (progress.append((done, total)), on_progress(done, total)),
                       limits)

    progress: list[tuple[int, int]] = []
    monkeypatch.setattr(ui.video, "extract_upload", counting)
    at = _upload(app, shared_video("two_people.mp4", need_models=False))
    assert not at.error, [e.value for e in at.error]
    assert calls == ["two_people.mp4"] and progress[-1] == (72, 72)  # the bar's callback saw every frame
    assert any(c.value.startswith("**two_people.mp4**: 2 bodies, 72 frames") for c in at.caption)
    assert any("1920x1080, 72 frames" in c.value for c in at.caption)
    assert any(m.value.startswith("**Prediction (ZSL): ") for m in at.markdown)
    assert len(at.get("video")) == 1
    data = shared_video("two_people.mp4", need_models=False).read_bytes()
    stored = loaders.video_store().get(ui.video.upload_key("two_people.mp4", data))
    assert stored.display == data and stored.display_mime == "video/mp4"  # an H.264 MP4 plays as it is
    assert all(max(image.shape[:2]) == 640 for _, image in stored.result.overlays)  # cropped to the people
    captions = [c for image in at.get("image") for c in image.captions]
    assert len(captions) == 4 and all(c.startswith("frame ") for c in captions)  # the landmarks on four frames
    assert len(at.get("plotly_chart")) == 4  # skeleton, ZSL, GZSL and the attention tab (the open one)
    # a widget change reruns the page from the store: no second extraction
    at.slider(key="predict_topk").set_value(3).run()
    assert not at.exception and calls == ["two_people.mp4"] and len(at.get("image")) == 4
    # the other lifter re-lifts the same landmarks (no second extraction) and the page says which one it shows
    first = at.radio(key="predict_lifter").value
    assert first == stored.result.lifter
    other = "blazepose" if first == "learned" else "learned"
    at.radio(key="predict_lifter").set_value(other).run()
    assert not at.exception and calls == ["two_people.mp4"]
    said = "the learned lifter" if other == "learned" else "its world landmarks"
    assert any(c.value.endswith("3-D from " + said) for c in at.caption)
    relifted = stored.result.clip_with(other)
    assert relifted.meta["pose_settings"]["lifter"] == other and relifted.source == "two_people.mp4"
    assert relifted.frames.shape == stored.result.clip.frames.shape
    assert abs(relifted.frames - stored.result.clip.frames).max() > 0.01


def test_video_without_a_full_body_shows_the_readers_error(app):
    from ui.video import upload_key

    at = _upload(app, shared_video("face_closeup.avi", need_models=False))
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Could not read the file: face_closeup.avi: expected a video")
    assert "no full body" in errors[0] and "star-video-" not in errors[0]  # names the upload, not the temp file
    data = shared_video("face_closeup.avi", need_models=False).read_bytes()
    stored = loaders.video_store().get(upload_key("face_closeup.avi", data))
    assert stored.error == errors[0][len("Could not read the file: "):] or stored.error in errors[0]
    assert stored.display_mime == "video/webm" and stored.video.frames == 164  # a copy that plays, kept with it
    assert len(at.get("video")) == 1  # the playable copy is shown beside the error, so the user sees why
    assert not any(m.value.startswith("**Prediction") for m in at.markdown)
    # the app keeps running: a sample still predicts
    at.radio(key="predict_source").set_value("Built-in sample").run()
    assert not at.exception and not at.error and any(m.value.startswith("**Prediction") for m in at.markdown)


def test_not_a_video_and_a_cut_video_show_the_readers_error(app):
    at = app.file_uploader(key="predict_upload").upload("notes.mp4", b"hello, this is text").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith("Could not read the file: notes.mp4, byte 0: expected a video container")
    cut = shared_video("two_people.mp4", need_models=False).read_bytes()
    at.file_uploader(key="predict_upload").set_value(("cut.mp4", cut[: len(cut) // 3], "video/mp4")).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("Could not read the file: cut.mp4")
    assert "no readable video stream" in errors[0]


def test_video_store_keeps_the_latest_outcomes_per_upload():
    from ui.video import VideoOutcome, upload_key

    store = loaders.VideoStore(max_entries=2)
    keys = [upload_key(f"/x/{n}.mp4", n.encode()) for n in "abc"]
    assert keys[0] == (hashlib.sha256(b"a").hexdigest(), "a.mp4")  # the bytes' hash and the file's own name
    for k in keys:
        store.put(k, VideoOutcome(error=k[1]))
    assert store.get(keys[0]) is None and store.get(keys[2]).error == "c.mp4"
    assert upload_key("a.mp4", b"a") != upload_key("b.mp4", b"a")  # same bytes, another name: its own outcome


def test_video_store_is_bounded_by_bytes_and_keeps_the_newest():
    from ui.video import VideoOutcome

    class Big(VideoOutcome):  # an outcome holding n bytes of display copy
        def __init__(self, n):
            super().__init__(error="x")
            object.__setattr__(self, "blob", b"\0" * n)

        @property
        def display(self):
            return self.blob

    store = loaders.VideoStore(max_entries=8, max_bytes=100)
    assert loaders.outcome_bytes(Big(60)) == 60
    store.put(("a", "a.mp4"), Big(60))
    store.put(("b", "b.mp4"), Big(60))  # 120 bytes > 100: the older one goes
    assert store.get(("a", "a.mp4")) is None and store.get(("b", "b.mp4")) is not None
    store.put(("c", "c.mp4"), Big(500))  # larger than the bound alone: kept (the newest always is), the rest go
    assert store.get(("b", "b.mp4")) is None and store.get(("c", "c.mp4")).display == b"\0" * 500


def test_missing_pose_models_name_make_pose_models(checkpoint, tmp_path, monkeypatch):
    at = _predict_page(checkpoint, tmp_path / "empty-cache", monkeypatch)
    at = at.file_uploader(key="predict_upload").upload("clip.mp4", b"\x00\x00\x00\x18ftypmp42").run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "make pose-models" in errors[0] and "pose models" in errors[0]
