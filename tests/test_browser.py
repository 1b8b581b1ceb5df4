"""End to end in real headless Chromium: start ``streamlit run app.py``, upload a real NTU file, see the animation
and a prediction, move the gamma slider and see H change, upload a broken file and see the error; save a
screenshot of every page to docs/screenshots/.

Uses Debian's chromium (``apt-get install chromium``) through Playwright's ``executable_path``; never
``playwright install``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from star import appstate
from star.checkpoint import default_checkpoint_root, list_checkpoints
from star.zsl import gzsl_metrics

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "docs" / "screenshots"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SAMPLE = "S002C001P003R001A003.skeleton"
WAIT_MS = 90_000

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
    paths = list_checkpoints(default_checkpoint_root())
    if not paths:
        pytest.fail(f"no checkpoints in {default_checkpoint_root()}")
    return paths[appstate.default_index(paths)]


@pytest.fixture(scope="module")
def server(checkpoint):
    port = _free_port()
    env = dict(os.environ, STAR_CHECKPOINTS=str(checkpoint.parent), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.pop("STAR_DATA_DIR", None)
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start: {proc.stdout.read()[-3000:]}")
        time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        ctx = browser.new_context(viewport={"width": 1500, "height": 1300})
        pg = ctx.new_page()
        pg.set_default_timeout(WAIT_MS)
        yield pg
        browser.close()


def _nav(page, title: str, timeout_ms: int = WAIT_MS) -> None:
    """Click the page's link in the sidebar navigation (same session, so gamma and uploads persist)."""
    page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).click()
    page.get_by_role("heading", name=title, exact=True).wait_for()
    _settle(page, timeout_ms)


def _settle(page, timeout_ms: int = WAIT_MS) -> None:
    """Wait until Streamlit has finished the current run (no 'running' status widget)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def test_app_end_to_end(page, server, checkpoint, ntu_samples, tmp_path):
    view = appstate.ModelView.load(checkpoint)

    page.goto(server)
    page.get_by_role("heading", name="Model", exact=True).wait_for()
    _settle(page)
    assert view.meta["benchmark"] in page.locator('[data-testid="stMain"]').inner_text()
    _shot(page, "model")

    # Predict: upload the real NTU file, see the 3D animation and a prediction
    _nav(page, "Predict")
    page.get_by_text("Upload a file", exact=True).click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(ntu_samples / SAMPLE))
    page.get_by_text("Prediction (ZSL):").wait_for()
    _settle(page)
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    assert chart.locator(".updatemenu-button").count() == 2  # play / pause
    assert chart.locator(".slider-container").count() == 1  # frame slider
    assert SAMPLE in page.locator('[data-testid="stMain"]').inner_text()
    predicted = page.get_by_text("Prediction (ZSL):").inner_text().split(":", 1)[1].strip()
    assert predicted in [view.class_names[i] for i in view.unseen]
    _shot(page, "predict")

    # a broken file shows the reader's message, and the page keeps working
    broken = tmp_path / "broken.skeleton"
    broken.write_text("2\nthis is not a skeleton file\n")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(broken))
    alert = page.locator('[data-testid="stAlertContentError"]').filter(has_text="Could not read the file")
    alert.wait_for()
    assert "broken.skeleton" in alert.inner_text()
    _shot(page, "predict-error")

    # Calibration: move gamma with the keyboard (Home = lowest, then ArrowRight steps of 0.001) to the first
    # value where H differs from the checkpoint's; the page shows the library's S / H for that gamma
    _nav(page, "Calibration")
    before = _metric(page, "H (harmonic)")
    ref = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, view.gamma)
    assert before == f"{ref['H'] * 100:.2f}"
    _shot(page, "calibration")
    lo, hi = appstate.gamma_bounds(view)
    for steps in range(int(round((hi - lo) / 0.001)) + 1):
        gamma = round(lo + steps * 0.001, 3)
        want = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, gamma)
        if f"{want['H'] * 100:.2f}" != before:
            break
    else:
        pytest.fail("H is the same for every gamma on the slider")
    handle = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"] input[type="range"]').first
    handle.focus()
    handle.press("Home")
    for _ in range(steps):
        handle.press("ArrowRight")
    page.wait_for_function(
        "([v]) => [...document.querySelectorAll('[data-testid=\"stMetric\"]')].some(m => "
        "m.innerText.includes('H (harmonic)') && m.querySelector('[data-testid=\"stMetricValue\"]').innerText.trim()"
        " === v)", arg=[f"{want['H'] * 100:.2f}"])
    _settle(page)
    assert _metric(page, "gamma") == f"{gamma:.3f}"
    assert _metric(page, "S (seen)") == f"{want['S'] * 100:.2f}"

    # Confusion and Embedding spaces render their charts
    _nav(page, "Confusion")
    page.locator(".js-plotly-plot").first.wait_for()
    assert re.search(r"GZSL \(all classes, gamma -?\d", page.locator('[data-testid="stMain"]').inner_text())
    _shot(page, "confusion")
    # the first visit on a fresh clone computes the t-SNE (then it is cached on disk in checkpoints/.star_cache)
    _nav(page, "Embedding spaces", timeout_ms=4 * WAIT_MS)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=WAIT_MS)
    _shot(page, "embeddings")
