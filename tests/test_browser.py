"""End to end in real headless Chromium: start ``streamlit run app.py`` (the frame), open a page by its URL as the
server's first request, walk every page by clicking the navigation, upload a real NTU file and see the animation
and a prediction, upload a broken file and see the error, move the gamma slider and see H change, type checkpoint
paths outside the checkpoint folders and see them refused; upload a video (``two_people.mp4`` from the shared data)
and see the progress bar, the video, the landmark overlays and a prediction. With ``STAR_SCREENSHOTS=1`` it saves a
screenshot of every page to docs/screenshots/ (the ones in docs/APP.md and the README).

Uses Debian's chromium (``apt-get install chromium``) through Playwright's ``executable_path``; never
``playwright install``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from star.zsl import gzsl_metrics

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py (Streamlit puts that folder on sys.path)
from conftest import shared_video, wait_until_serving  # noqa: E402
from ui import checkpoints, model_view  # noqa: E402

SHOTS = REPO / "docs" / "screenshots"
SAVE_SHOTS = os.environ.get("STAR_SCREENSHOTS", "") not in ("", "0")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SAMPLE = "S002C001P003R001A003.skeleton"
WAIT_MS = 90_000
COMPARED = "baseline-pool42-32-10"  # compared with the toured checkpoint on the Compare page
NAV_LABELS = ["Model", "Predict", "Embedding spaces", "Confusion", "Calibration", "Compare"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                      "(apt-get install -y chromium)"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def checkpoint() -> Path:
    """The shipped checkpoint with unseen classes (the tour moves gamma; the open-vocabulary default has none: its
    pages are tested in tests/test_open_vocabulary.py)."""
    choices = checkpoints.checkpoint_choices([REPO / "checkpoints"])
    if not choices:
        pytest.fail("no checkpoints in checkpoints/")
    return choices.get(checkpoints.ZERO_SHOT_CHECKPOINT) or choices[checkpoints.default_choice(list(choices))]


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    port = _free_port()
    root = tmp_path_factory.mktemp("served")  # a checkpoint folder with only the toured checkpoint
    shutil.copytree(checkpoint, root / checkpoint.name)
    other = tmp_path_factory.mktemp("served-second")  # a second root: the baseline of the same split, for Compare
    shutil.copytree(checkpoint.parent / COMPARED, other / COMPARED)
    env = dict(os.environ, STAR_CHECKPOINT_DIRS=f"{root}{os.pathsep}{other}", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1")
    env.pop("STAR_DATA_DIR", None)
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, url)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


OUTSIDE: list[str] = []  # requests the browser made to any host but the app's own: must stay empty


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1500, "height": 1300})
        pg = ctx.new_page()
        pg.on("request", lambda r: None if r.url.startswith((server + "/", "data:", "blob:")) else OUTSIDE.append(r.url))
        pg.set_default_timeout(WAIT_MS)
        yield pg
        browser.close()


def _nav(page, title: str, timeout_ms: int = WAIT_MS) -> None:
    """Click the page's link in the frame's navigation (same session, so the sidebar's choices persist)."""
    page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]').filter(
        has_text=re.compile(f"{re.escape(title)}$")).click()  # the text is the icon's name, then the label
    page.get_by_role("heading", name=title, exact=True).wait_for()
    _settle(page, timeout_ms)


def _settle(page, timeout_ms: int = WAIT_MS) -> None:
    """Wait until Streamlit has finished the current run (no 'running' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _shot(page, name: str) -> None:
    """Save docs/screenshots/<name>.png when asked (STAR_SCREENSHOTS=1), once the page has finished drawing."""
    if SAVE_SHOTS:
        _settle(page)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"))


def _thumb(page) -> str:
    """The gamma number box's shown value."""
    return page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input').first.input_value().strip()


def _type_gamma(page, value: float) -> None:
    """Type gamma into the sidebar's number box (Enter submits it)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input').first
    box.fill(f"{value:.4f}")
    box.press("Enter")


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (opened again if a rerun closed its list meanwhile)."""
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label)
    box.wait_for()
    _settle(page)
    for attempt in range(3):
        box.locator('button[aria-label="Open"]').click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            return
        except Exception:  # noqa: BLE001  (the list closed under the click: open it again)
            if attempt == 2:
                raise
            _settle(page)


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _links(page) -> list[str]:
    links = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]')
    return [t.strip().split("\n")[-1] for t in links.all_inner_texts()]  # after the icon's name


def _sidebar_errors(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stSidebar"] [data-testid="stAlertContentError"]')
            .all_inner_texts()]


def _type_path(page, text: str) -> None:
    """Type a checkpoint path (Enter submits it) and wait for its outcome: the refusal in the sidebar for a path,
    the gamma slider again for an empty box (the picked checkpoint)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stTextInputField"]')
    box.fill(text)
    box.press("Enter")
    sidebar = page.locator('[data-testid="stSidebar"]')
    if text:
        sidebar.locator('[data-testid="stAlertContentError"]').filter(has_text=checkpoints.REFUSED).wait_for()
        # the sidebar is drawn before the page body: wait for the body's refusal too (slow under load)
        page.locator('[data-testid="stMain"]').get_by_text("No checkpoint loaded", exact=False).wait_for()
    else:
        sidebar.locator('[data-testid="stSlider"]').wait_for()
    _settle(page)


def test_app_end_to_end(page, server, checkpoint, ntu_samples, tmp_path):
    view = model_view.ModelView.load(checkpoint)
    ref = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, view.gamma)

    # the server's first request opens a page by its URL: the frame still draws the navigation and the sidebar
    page.goto(f"{server}/calibration")
    page.get_by_role("heading", name="Calibration", exact=True).wait_for()
    _settle(page)
    assert _links(page) == NAV_LABELS
    assert _metric(page, "H (harmonic)") == f"{ref['H'] * 100:.2f}" and _thumb(page) == f"{view.gamma:.4f}"

    # the frame's default page, reached through the navigation
    _nav(page, "Model")
    assert page.url.rstrip("/") == server
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert view.meta["benchmark"] in main_text and "Harmonic mean (H)" in main_text
    assert not any(key in main_text for key in ("zsl_acc", "H_best_test", "chosen_by"))  # in words, not keys
    assert page.locator('[data-testid="stJson"]').count() == 0
    _shot(page, "model")

    # Predict: upload the real NTU file, see the 3D animation and a prediction
    _nav(page, "Predict")
    page.get_by_text("Upload a file", exact=True).click()
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(ntu_samples / SAMPLE))
    page.get_by_text("Prediction (ZSL):").wait_for()
    _settle(page)
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    assert chart.locator(".updatemenu-button").count() == 2  # play / pause
    assert chart.locator(".slider-container").count() == 1  # frame slider
    assert SAMPLE in page.locator('[data-testid="stMain"]').inner_text()
    predicted = page.get_by_text("Prediction (ZSL):").inner_text().split(":", 1)[1].strip()
    assert predicted in [view.class_names[i] for i in view.unseen]
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert "What this model knows." in main_text and "probability (%)" in main_text  # probabilities, not scores
    assert "relative to uniform" in main_text  # the attention tab, open by default
    # which training dataset the recording resembles (the shipped source model's numbers)
    from star.skeleton.io import read_ntu_skeleton
    from star.source_model import load_source_model

    like = load_source_model().resemblance(read_ntu_skeleton(ntu_samples / SAMPLE).frames)
    page.get_by_role("tab", name="Recording").click()
    page.get_by_text("Which training dataset does this recording resemble?").wait_for()
    _settle(page)
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert like.best in main_text and f"{100 * like.probabilities.max():.1f} %" in main_text
    _shot(page, "predict-recording")
    # part occlusion: the library's drops for this clip, one bar per part
    from star.inference import Predictor

    occluded = Predictor.load(checkpoint).occlusion(read_ntu_skeleton(ntu_samples / SAMPLE))
    page.get_by_role("tab", name="Part occlusion").click()
    page.get_by_text("Which parts the decision depends on.").wait_for()
    _settle(page)
    main_text = page.locator('[data-testid="stMain"]').inner_text()
    assert f"({occluded['prob'] * 100:.1f} %)" in main_text and "Occluded: the part's joints set" in main_text
    _shot(page, "predict-occlusion")
    # the open vocabulary: a preset of 120 names, of which the top 10 are drawn
    page.get_by_role("tab", name="Open vocabulary").click()
    _choose(page, "Vocabulary", "NTU RGB+D 120")
    page.get_by_text("Top 10 of 120 names").wait_for()
    _settle(page)
    page.get_by_role("tab", name="Attention").click()
    page.get_by_text("relative to uniform").first.wait_for()
    _settle(page)
    _shot(page, "predict")

    # a broken file shows the reader's message, and the page keeps working
    broken = tmp_path / "broken.skeleton"
    broken.write_text("2\nthis is not a skeleton file\n")
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(broken))
    alert = page.locator('[data-testid="stAlertContentError"]').filter(has_text="Could not read the file")
    alert.wait_for()
    assert "broken.skeleton" in alert.inner_text()
    _shot(page, "predict-error")


    # Calibration: type the gamma with the best test H (or, if that is the checkpoint's H, the one farthest from it)
    # into the number box; the page shows the library's S / H for that gamma; Reset returns to the checkpoint's
    _nav(page, "Calibration")
    before = _metric(page, "H (harmonic)")
    assert before == f"{ref['H'] * 100:.2f}"
    scale = model_view.gamma_scale(view)
    grid = np.round(np.arange(scale.lo, scale.hi + scale.step / 2, scale.step), 4)
    hs = np.array([gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, g)["H"] for g in grid])
    best = int(np.argmax(hs)) if f"{hs.max() * 100:.2f}" != before else int(np.argmax(np.abs(hs - ref["H"])))
    gamma = float(grid[best])
    want = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, gamma)
    if f"{want['H'] * 100:.2f}" == before:
        pytest.fail("H is the same for every gamma on the slider")
    _type_gamma(page, gamma)
    page.wait_for_function(
        "([v]) => [...document.querySelectorAll('[data-testid=\"stMetric\"]')].some(m => "
        "m.innerText.includes('H (harmonic)') && m.querySelector('[data-testid=\"stMetricValue\"]').innerText.trim()"
        " === v)", arg=[f"{want['H'] * 100:.2f}"])
    _settle(page)
    assert _metric(page, "gamma") == f"{gamma:.3f}"
    assert _metric(page, "S (seen)") == f"{want['S'] * 100:.2f}"
    thumb = page.locator('[data-testid="stSidebar"] [data-testid="stSliderThumbValue"]').first.inner_text().strip()
    assert thumb == f"{gamma:.{scale.decimals}f}"  # the slider follows the box
    _shot(page, "calibration")

    # Confusion and Embedding spaces render their charts
    _nav(page, "Confusion")
    page.locator(".js-plotly-plot").first.wait_for()
    assert re.search(r"GZSL \(all classes, gamma -?\d", page.locator('[data-testid="stMain"]').inner_text())
    assert f"gamma {gamma:.3f}" in page.locator('[data-testid="stMain"]').inner_text()  # the frame's gamma
    _shot(page, "confusion")
    # the first visit on a fresh clone computes the t-SNE (then it is cached on disk in .star_cache/)
    _nav(page, "Embedding spaces", timeout_ms=4 * WAIT_MS)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 1", timeout=4 * WAIT_MS)
    _settle(page)
    _shot(page, "embeddings")  # the skeleton space's tab is open first: one chart
    page.get_by_role("tab", name="Semantic space", exact=False).click()
    charts = 2 if view.is_star else 1  # the semantic space with / without the prompt (STAR only)
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot').length === {charts}",
                           timeout=4 * WAIT_MS)
    _settle(page)
    _shot(page, "embeddings-semantic")

    # back on Model in the same session: the moved gamma is still the sidebar's; Reset gives the checkpoint's
    _nav(page, "Model")
    assert _thumb(page) == f"{gamma:.4f}"
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Reset").click()
    page.wait_for_function("v => document.querySelector('[data-testid=\"stSidebar\"] [data-testid=\"stNumberInput\"] "
                           "input').value === v", arg=f"{view.gamma:.4f}")
    _settle(page)
    _nav(page, "Calibration")
    assert _metric(page, "gamma") == f"{view.gamma:.3f}" and _metric(page, "H (harmonic)") == before
    _nav(page, "Model")

    # typed paths outside the checkpoint folders: one refusal, whether the path exists or not
    for typed in ("/etc", "/no/such/folder", f"{checkpoint.parent}/../.."):
        _type_path(page, "")  # the checkpoint loads in between: each refusal is this path's
        _type_path(page, typed)
        assert _sidebar_errors(page) == [f"Cannot load checkpoint: {checkpoints.REFUSED}"]
        # the previous page's elements linger (stale) until the run ends; under load that can outlast _settle
        page.wait_for_function("b => !document.querySelector('[data-testid=\"stMain\"]').innerText.includes(b)",
                               arg=view.meta["benchmark"], timeout=WAIT_MS)
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert f"No checkpoint loaded: {checkpoints.REFUSED}" in main and view.meta["benchmark"] not in main
    _nav(page, "Calibration")  # still refused on another page
    assert _sidebar_errors(page) == [f"Cannot load checkpoint: {checkpoints.REFUSED}"]
    _type_path(page, "")  # cleared: the picked checkpoint again
    page.locator('[data-testid="stMetric"]').first.wait_for()
    assert _sidebar_errors(page) == [] and _metric(page, "H (harmonic)") == before

    # Compare: the toured checkpoint (A) against the baseline of its split (B), the library's numbers
    from star.checkpoint import load_checkpoint
    from star.compare import compare

    _nav(page, "Compare", timeout_ms=4 * WAIT_MS)
    page.get_by_text("McNemar's exact test", exact=False).wait_for(timeout=4 * WAIT_MS)
    a, b = load_checkpoint(checkpoint), load_checkpoint(checkpoint.parent / COMPARED)
    want = compare(a.meta, a.load_bundle(), b.meta, b.load_bundle(), replicates=1).mcnemar  # no bootstrap in it
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert f"A gets {want['a_only']} and B {want['b_only']}; p = {want['p_value']:.4g}" in main
    assert page.locator('.js-plotly-plot').count() == 1 and page.locator('[data-testid="stDataFrame"]').count() == 3
    _shot(page, "compare")

    # a fresh session opened directly on /calibration starts at the checkpoint's own gamma
    page.goto(f"{server}/calibration")
    page.get_by_role("heading", name="Calibration", exact=True).wait_for()
    _settle(page)
    assert _links(page) == NAV_LABELS
    assert _metric(page, "H (harmonic)") == before and _metric(page, "gamma") == f"{view.gamma:.3f}"
    assert _thumb(page) == f"{view.gamma:.4f}"

    # your own labelled clips: a bank of four genuine clips uploaded on Predict, every clip scored
    from star.data.clipbank import ClipBank
    from star.inference import Predictor, score_labelled

    bank = ClipBank.load(ntu_samples.parent / "utdmhad.npz")
    small = bank.subset([int(np.flatnonzero(bank.label == c)[0]) for c in (0, 1, 2, 3)])
    small.save(tmp_path / "mine.npz")
    want = score_labelled(Predictor.load(checkpoint), [small.clip(i) for i in range(4)], small.class_names,
                          small.class_names)
    page.goto(f"{server}/predict")
    page.get_by_role("heading", name="Predict", exact=True).wait_for()
    _settle(page)
    page.get_by_text("Upload a clip bank", exact=True).click()
    _settle(page)
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(tmp_path / "mine.npz"))
    page.get_by_text("True class:", exact=False).wait_for(timeout=4 * WAIT_MS)
    _settle(page)
    page.get_by_text("Score every clip of mine.npz", exact=False).click()
    page.get_by_text("Score all 4 clips", exact=False).click()
    page.get_by_text("Top-1 accuracy", exact=True).wait_for(timeout=4 * WAIT_MS)
    _settle(page)
    assert _metric(page, "Top-1 accuracy") == f"{want['accuracy'] * 100:.1f} %"
    assert page.get_by_text("Download the predictions", exact=False).count() == 1
    _shot(page, "predict-labelled")
    assert not OUTSIDE, f"requests left the server: {OUTSIDE}"


def _upload_on_a_fresh_predict_page(page, server, path: Path) -> None:
    """Open Predict as a new session, pick 'Upload a file' and upload ``path``."""
    page.goto(f"{server}/predict")
    page.get_by_role("heading", name="Predict", exact=True).wait_for()
    _settle(page)
    page.get_by_text("Upload a file", exact=True).click()
    _settle(page)
    page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))


def _wait_until_the_video_plays(page) -> int:
    """Wait until the page's video has decoded a frame without error; its width."""
    page.wait_for_function("() => { const v = document.querySelector('[data-testid=\"stMain\"] video');"
                           " return v && v.readyState >= 2 && v.videoWidth > 0 && !v.error; }")
    return page.locator('[data-testid="stMain"] video').evaluate("v => v.videoWidth")


def test_predict_page_video_upload(page, server):
    """A video on the Predict page (a fresh session): its pose is extracted (progress bar), then the video plays
    beside the 3D skeleton, the landmarks are drawn on four frames and the predictions follow."""
    video = shared_video("two_people.mp4")
    _upload_on_a_fresh_predict_page(page, server, video)
    page.locator('[data-testid="stProgress"]').filter(has_text="Extracting the pose from two_people.mp4").wait_for()
    page.get_by_text("Prediction (ZSL):").wait_for(timeout=4 * WAIT_MS)
    _settle(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.locator("video").count() == 1
    assert "two_people.mp4: 2 bodies, 72 frames" in main.inner_text()
    assert main.locator('[data-testid="stImage"]').count() == 4  # the landmarks drawn on four frames
    assert main.locator(".js-plotly-plot").count() >= 3  # the skeleton, ZSL and GZSL
    assert not main.locator('[data-testid="stAlertContentError"]').count()
    _wait_until_the_video_plays(page)
    assert not OUTSIDE, f"requests left the server: {OUTSIDE}"
    main.locator('[data-testid="stCaptionContainer"]').filter(has_text="two_people.mp4").first.evaluate(
        "e => { e.scrollIntoView({block: 'start'}); let s = e.parentElement;"  # then clear of the top bar
        " while (s && !s.scrollTop) s = s.parentElement; if (s) s.scrollTop -= 80; else window.scrollBy(0, -80); }")
    page.wait_for_timeout(500)
    _shot(page, "predict-video")
    # the other lifter: the same landmarks lifted again, said in the caption, no second extraction
    assert "3-D from the learned lifter" in main.inner_text()
    main.get_by_text("BlazePose's world landmarks", exact=True).click()
    main.get_by_text("3-D from its world landmarks").wait_for(timeout=WAIT_MS)
    _settle(page)
    assert not main.locator('[data-testid="stProgress"]').count()
    assert not main.locator('[data-testid="stAlertContentError"]').count()


def test_an_avi_plays_in_the_page(page, server):
    """NTU's RGB videos are .avi, which Chromium cannot play: the page shows a copy it can (``face_closeup.avi`` has
    no full body, so the reader's error is shown beside the playing video)."""
    video = shared_video("face_closeup.avi")
    _upload_on_a_fresh_predict_page(page, server, video)
    page.locator('[data-testid="stAlertContentError"]').filter(has_text="face_closeup.avi").wait_for(timeout=4 * WAIT_MS)
    _settle(page)
    assert _wait_until_the_video_plays(page) == 320
    assert not OUTSIDE, f"requests left the server: {OUTSIDE}"
