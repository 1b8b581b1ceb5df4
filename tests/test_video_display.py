"""The copy of an uploaded video that the browser plays (``star.video.display``) and the overlays cropped to the
people (``star.video.overlay``), through ``ui.video`` as the Predict page uses them.

- ``face_closeup.avi`` (MPEG-4 Part 2 in AVI: Chromium refuses it) becomes a VP8 WebM with every frame, the same
  size and frame rate; ``two_people.mp4`` (H.264 MP4) is passed through byte for byte; an MP4 holding MPEG-4 Part 2
  is transcoded (the codec decides, not the suffix); a long video is shown smaller, then cut, with a note.
- An upload gives the pose and the copy in one pass; a failed transcode still gives the pose plus a note; a video
  without a full body keeps its copy beside the error; temporary folders never stay behind.
- The crops contain every drawn landmark and show the people larger than the whole frame did.
- In real headless Chromium the copy plays (``loadeddata``, a frame size, the duration) and the original AVI does
  not (the check can fail).

Needs ``$STAR_DATA_DIR/video`` (``../shared/data/video``); the upload tests also need the pose models. Skips with
the reason otherwise.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="opencv-python-headless is needed for video input (requirements.txt)")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py

from conftest import shared_video  # noqa: E402
from star.video import display as display_mod  # noqa: E402
from star.video.decode import VideoInfo  # noqa: E402
from star.video.display import DisplayLimits, container_of, display_copy, plan_display, playable_mime  # noqa: E402
from star.video.overlay import crop_box, draw_overlay, landmark_points  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def _decoded(data: bytes, tmp: Path, suffix: str = ".webm") -> dict:
    """What OpenCV reads back from video bytes: codec, frame size, frame count (every frame decoded), fps."""
    path = tmp / f"readback{suffix}"
    path.write_bytes(data)
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC))
    fps = cap.get(cv2.CAP_PROP_FPS)
    count, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        count, size = count + 1, frame.shape[1::-1]
    cap.release()
    return {"codec": fourcc.to_bytes(4, "little").decode(), "frames": count, "size": size, "fps": fps}


def _info(w: int, h: int, frames: int, fps: float = 30.0) -> VideoInfo:
    return VideoInfo("x.avi", w, h, fps, frames, frames / fps, "FMP4", 1)


@pytest.fixture
def no_leftovers(tmp_path, monkeypatch):
    """Temporary folders of the copy go under ``tmp_path/tmp``; yields that folder (empty again afterwards)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    real = tempfile.mkdtemp

    def mkdtemp(suffix=None, prefix=None, dir=None):  # noqa: A002 - tempfile's signature
        return real(suffix, prefix, folder)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)  # the upload's folder and the copy's
    yield folder
    assert not list(folder.iterdir()), "a temporary folder of the display copy was left behind"


def _grey_video(path: Path, fourcc: str, fps: float, size: tuple[int, int], frames: int, step: int) -> None:
    """A video of ``frames`` flat grey frames (frame i has value step * i) written with OpenCV's ``fourcc``."""
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), step * i, np.uint8))
    writer.release()


def _failing_writer(path, plan):
    class Broken:
        def isOpened(self):  # noqa: N802 - OpenCV's name
            return False

        def release(self):
            pass

    return Broken()


# ------------------------------------------------------------------------------ deciding and planning
def test_the_container_and_the_codec_decide_not_the_suffix(tmp_path):
    assert container_of(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00") == "mp4"
    assert container_of(b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00") is None  # QuickTime .mov
    assert container_of(b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\x82\x84webmB\x87") == "webm"
    assert container_of(b"\x1a\x45\xdf\xa3\xa3B\x86\x81\x01B\x82\x88matroskaB\x87") is None
    assert container_of(b"RIFF\x9e~\x04\x00AVI LIST") is None
    # an .mp4 whose stream is MPEG-4 Part 2 (OpenCV's 'mp4v') shows a black player: transcoded
    path = tmp_path / "part2.mp4"
    _grey_video(path, "mp4v", 10, (64, 48), 6, 40)
    shown = display_copy(path)
    assert shown.transcoded and shown.mime == "video/webm" and shown.frames == 6 and shown.note is None
    back = _decoded(shown.data, tmp_path)
    assert back["codec"] == "VP80" and back["frames"] == 6 and back["size"] == (64, 48)
    # and the copy itself would play as it is
    copy = tmp_path / "copy.webm"
    copy.write_bytes(shown.data)
    from star.video.decode import probe_video

    assert playable_mime(copy, probe_video(copy)) == "video/webm"


def test_the_plan_caps_the_size_and_the_work():
    lim = DisplayLimits()
    assert plan_display(_info(1920, 1080, 300), lim) == display_mod.DisplayPlan(1280, 720, None, 30.0)
    upright = plan_display(_info(1080, 1920, 300), lim)  # a phone video held upright: 720 x 1280
    assert (upright.width, upright.height, upright.max_frames) == (720, 1280, None)
    small = plan_display(_info(320, 240, 164, 25.0), lim)
    assert (small.width, small.height, small.max_frames, small.fps) == (320, 240, None, 25.0)
    minute = plan_display(_info(1920, 1080, 1800), lim)  # 1 min of 1080p30: smaller, every frame
    assert minute.max_frames is None and 400 <= minute.height < 720
    assert minute.width * minute.height * 1800 <= lim.budget
    long = plan_display(_info(1920, 1080, 18000), lim)  # 10 min: 240 p, then only the start
    assert long.height == 240 and long.max_frames == lim.budget // (long.width * long.height) < 18000
    assert long.width % 2 == 0 and minute.width % 2 == 0 and minute.height % 2 == 0


def test_the_writer_works_in_the_callers_thread_too(tmp_path, no_leftovers):
    from star.video.display import DisplayWriter

    path = tmp_path / "small.avi"
    _grey_video(path, "MJPG", 12, (1280, 960), 8, 30)
    from star.video.decode import iter_frames, probe_video

    info = probe_video(path)
    with DisplayWriter(info, background=False) as copy:
        for index, frame in iter_frames(info):
            copy.write(index, frame)
        shown = copy.finish()
    back = _decoded(shown.data, tmp_path)
    assert back["frames"] == 8 and back["size"] == (960, 720) and back["fps"] == pytest.approx(12)  # 720 p at most


# ------------------------------------------------------------------------------ the shared videos
def test_avi_becomes_a_vp8_webm_with_every_frame(tmp_path, no_leftovers):
    avi = shared_video("face_closeup.avi", need_models=False)
    shown = display_copy(avi)
    assert shown.ok and shown.transcoded and shown.mime == "video/webm" and shown.note is None
    assert shown.data[:4] == b"\x1a\x45\xdf\xa3" and container_of(shown.data[:64]) == "webm"
    back = _decoded(shown.data, tmp_path)
    assert back == {"codec": "VP80", "frames": 164, "size": (320, 240), "fps": pytest.approx(25.0, abs=0.01)}
    assert (shown.width, shown.height, shown.frames) == (320, 240, 164) and shown.seconds > 0


def test_a_long_video_is_cut_with_a_note(tmp_path, no_leftovers):
    avi = shared_video("face_closeup.avi", need_models=False)
    shown = display_copy(avi, limits=DisplayLimits(budget=320 * 240 * 50))  # 240 p already: cut at 50 frames
    assert shown.frames == 50 and _decoded(shown.data, tmp_path)["frames"] == 50
    assert shown.note.startswith("The player shows the first 2.0 s of 6.6 s")


def test_a_playable_mp4_is_passed_through_unchanged(no_leftovers):
    mp4 = shared_video("two_people.mp4", need_models=False)
    data = mp4.read_bytes()
    shown = display_copy(mp4, original=data)
    assert shown.data is data and not shown.transcoded and shown.mime == "video/mp4" and shown.note is None
    assert display_copy(mp4).data == data  # read from the file when not given: the same bytes


def test_an_encoder_failure_gives_a_note_not_an_exception(monkeypatch, no_leftovers):
    avi = shared_video("face_closeup.avi", need_models=False)
    monkeypatch.setattr(display_mod, "_open_writer", _failing_writer)
    shown = display_copy(avi)
    assert shown.data is None and not shown.ok
    assert shown.note.startswith("face_closeup.avi cannot be shown in the browser: converting it from FMP4 to a "
                                 "VP80 WebM failed (RuntimeError: OpenCV could not open a VP80 WebM writer)")

    class Dies:  # fails half way: nothing half-written is handed on
        def __init__(self, path, plan):
            self.real, self.count = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"VP80"),
                                                    plan.fps, (plan.width, plan.height)), 0

        def isOpened(self):  # noqa: N802
            return self.real.isOpened()

        def write(self, frame):
            self.count += 1
            if self.count > 20:
                raise cv2.error("disk full")
            self.real.write(frame)

        def release(self):
            self.real.release()

    monkeypatch.setattr(display_mod, "_open_writer", Dies)
    shown = display_copy(avi)
    assert shown.data is None and "disk full" in shown.note


# ------------------------------------------------------------------------------ uploads (pose + copy in one pass)
@pytest.fixture(scope="module")
def person_avi(tmp_path_factory) -> Path:
    """The first 30 frames of two_people.mp4 at 960x540 as an MJPG AVI (a video with people Chromium cannot
    play); written to a temporary folder only."""
    src = shared_video("two_people.mp4")
    path = tmp_path_factory.mktemp("avi") / "hug.avi"
    cap = cv2.VideoCapture(str(src))
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), cap.get(cv2.CAP_PROP_FPS),
                             (960, 540))
    for _ in range(30):
        ok, frame = cap.read()
        assert ok
        writer.write(cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    return path


def test_an_avi_upload_gives_the_pose_the_copy_and_cropped_overlays(person_avi, tmp_path, no_leftovers):
    from ui.video import OVERLAY_COUNT, outcome_of_upload

    outcome = outcome_of_upload("hug.avi", person_avi.read_bytes())
    assert outcome.error is None, outcome.error
    result = outcome.result
    assert result.clip.frames.shape[:2] == (2, 30) and result.clip.source == "hug.avi"
    assert result.display_mime == "video/webm" and result.display_note is None
    assert outcome.display is result.display and outcome.display_mime == "video/webm"
    back = _decoded(result.display, tmp_path)
    assert back["codec"] == "VP80" and back["frames"] == 30 and back["size"] == (960, 540)
    assert back["fps"] == pytest.approx(result.fps, abs=0.01)
    assert len(result.overlays) == OVERLAY_COUNT
    for _, image in result.overlays:  # cropped to the two people (narrower than 16:9), 640 px on the long side
        assert image.dtype == np.uint8 and max(image.shape[:2]) == 640 and image.shape[1] / image.shape[0] < 1.5


def test_a_failed_transcode_keeps_the_pose_and_says_why(person_avi, monkeypatch, no_leftovers):
    from ui.video import outcome_of_upload

    monkeypatch.setattr(display_mod, "_open_writer", _failing_writer)
    outcome = outcome_of_upload("hug.avi", person_avi.read_bytes())
    assert outcome.error is None and outcome.result.clip.frames.shape[:2] == (2, 30)
    assert len(outcome.result.overlays) == 4
    assert outcome.display is None and outcome.result.display is None
    assert outcome.display_note.startswith("hug.avi cannot be shown in the browser") and "pose" in outcome.display_note


def test_an_upload_without_a_full_body_keeps_its_copy(no_leftovers):
    from ui.video import outcome_of_upload

    data = shared_video("face_closeup.avi").read_bytes()
    outcome = outcome_of_upload("face_closeup.avi", data)
    assert outcome.result is None and outcome.error.startswith("face_closeup.avi: expected a video showing")
    assert outcome.display_mime == "video/webm" and outcome.video.frames == 164 and outcome.display_note is None


def test_a_playable_upload_is_its_own_copy(no_leftovers, monkeypatch):
    """Nothing is encoded for an upload that plays; its bytes are the copy, kept even beside a reader error."""
    import star.video
    from star.video.decode import NoPersonError
    from ui.video import outcome_of_upload

    data = shared_video("two_people.mp4").read_bytes()
    seen = []

    def no_person(path, *args, on_frame=None, **kwargs):  # stands in for the pose: decoding is not what is tested
        seen.append(on_frame)
        raise NoPersonError(path, None, "a video showing at least one person's full body", "nobody")

    monkeypatch.setattr(star.video, "extract_pose", no_person, raising=False)
    outcome = outcome_of_upload("two_people.mp4", data)
    assert seen == [None] and outcome.error.startswith("two_people.mp4: expected")
    assert outcome.display is data and outcome.display_mime == "video/mp4" and not outcome.video.transcoded


# ------------------------------------------------------------------------------ overlays cropped to the people
def _person(x0: float, y0: float, w: float, h: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lm = np.ones((33, 3))
    lm[:, 0], lm[:, 1] = x0 + rng.uniform(0, w, 33), y0 + rng.uniform(0, h, 33)
    lm[[0, 1], 0], lm[[0, 1], 1] = [x0, x0 + w], [y0, y0 + h]  # the extremes are landmarks
    return lm


def test_a_small_person_is_cropped_and_shown_large():
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    body = _person(1500, 700, 100, 250)
    body[5, 2] = 0.1  # a low-confidence landmark is neither drawn nor framed
    body[5, :2] = [10, 10]
    box = crop_box(landmark_points([body]), 1920, 1080)
    x0, y0, x1, y1 = box
    pts = landmark_points([body])
    assert len(pts) == 32 and ((pts >= [x0, y0]) & (pts < [x1, y1])).all()  # every drawn landmark is inside
    assert (x1 - x0) < 200 and (y1 - y0) < 340  # the person, not the frame
    image = draw_overlay(frame, [body], box, size=640)
    assert max(image.shape[:2]) == 640 and image.shape[0] > (y1 - y0)  # larger than the region was on screen
    # the person fills the crop: 250 px of 1080 before, most of the image's height now
    assert 250 * 640 / (y1 - y0) / 640 > 0.7 > 250 / 1080
    # the bones are drawn thick enough to see (3 px at 640): the person's colour appears in many pixels
    assert (np.abs(image.astype(int) - [255, 80, 40]).sum(-1) < 60).sum() > 2000


def test_two_people_are_framed_together_and_an_empty_frame_stays_whole():
    a, b = _person(200, 300, 150, 400, 1), _person(600, 320, 160, 380, 2)
    x0, y0, x1, y1 = crop_box(landmark_points([a, b]), 1920, 1080, aspect=1.0)
    pts = landmark_points([a, b])
    assert ((pts >= [x0, y0]) & (pts < [x1, y1])).all() and abs((x1 - x0) - (y1 - y0)) <= 2
    assert crop_box(np.zeros((0, 2)), 1920, 1080) == (0, 0, 1920, 1080)
    whole = draw_overlay(np.zeros((240, 320, 3), np.uint8), [], None, size=640)
    assert whole.shape == (480, 640, 3)
    # a box at the frame's edge stays inside the frame
    edge = crop_box(np.array([[0.0, 0.0], [50.0, 1079.0]]), 1920, 1080, aspect=1.0)
    assert edge[0] == 0 and edge[1] == 0 and edge[3] == 1080 and edge[2] >= 1000


# ------------------------------------------------------------------------------ in the browser
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_chromium_plays_the_copy_and_not_the_avi():
    pytest.importorskip("playwright", reason="playwright (Python) is needed for the browser check")
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    avi = shared_video("face_closeup.avi", need_models=False)
    mp4 = shared_video("two_people.mp4", need_models=False)
    copy = display_copy(avi)
    files = {"/copy.webm": (copy.data, copy.mime), "/face.avi": (avi.read_bytes(), "video/x-msvideo"),
             "/two.mp4": (display_copy(mp4).data, "video/mp4"), "/": (b"<html><body></body></html>", "text/html")}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body, mime = files[self.path]
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    probe = """async (src) => {
      const v = document.createElement('video'); v.muted = true; v.preload = 'auto'; document.body.appendChild(v);
      const r = await new Promise((done) => {
        const t = setTimeout(() => done({timeout: true}), 15000);
        v.addEventListener('loadeddata', () => { clearTimeout(t); done({}); });
        v.addEventListener('error', () => { clearTimeout(t); done({error: v.error ? v.error.code : -1}); });
        v.src = src;
      });
      r.width = v.videoWidth; r.height = v.videoHeight; r.duration = v.duration;
      return r; }"""
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
            page = browser.new_page()
            page.goto(url + "/")
            got = {name: page.evaluate(probe, url + name) for name in ("/copy.webm", "/face.avi", "/two.mp4")}
            browser.close()
    finally:
        server.shutdown()
    assert got["/copy.webm"]["width"] == 320 and got["/copy.webm"]["height"] == 240, got
    assert "error" not in got["/copy.webm"] and got["/copy.webm"]["duration"] == pytest.approx(164 / 25, abs=0.05)
    assert got["/face.avi"].get("error") == 4 and got["/face.avi"]["width"] == 0  # MEDIA_ERR_SRC_NOT_SUPPORTED
    assert got["/two.mp4"]["width"] == 1920 and "error" not in got["/two.mp4"]
