"""The app leaves nothing behind and asks nobody else: against a real ``streamlit run app.py`` (started from the repo
root as the README says, without any command-line option that the repo's ``.streamlit/config.toml`` sets) in
headless Chromium:

- no request goes to a host other than the app's own (no Material-icon favicons from fonts.gstatic.com, no usage
  statistics to data.streamlit.io), and a page opened by its URL logs no console error but the two 404s of
  Streamlit's own connection probe (``/<page>/_stcore/health`` and ``/<page>/_stcore/host-config``: its frontend
  tries the page's path as the server's base path first, then the root; not fixable from the app);
- an uploaded checkpoint's folder is removed once its session has ended (the browser closed and Streamlit's
  disconnected-session TTL passed), while another session's stays as long as that session lives.

The server runs with ``--server.disconnectedSessionTTL 2`` and ``STAR_UPLOAD_SWEEP_S=1`` so that takes seconds.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py
from conftest import wait_until_serving  # noqa: E402
from ui.checkpoints import UPLOAD_LIMIT_MB  # noqa: E402

ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
WAIT_MS = 90_000
TTL_S, SWEEP_S = 2, 1
UPLOAD_PREFIX = "star-checkpoint-upload-"
PROBE_404 = re.compile(r"^/[A-Za-z0-9_]+/_stcore/(health|host-config)$")  # Streamlit's base-path probe


def test_the_repos_streamlit_config_keeps_requests_home_and_allows_a_checkpoint_upload():
    """What the browser tests below see the server do, as settings (quick, no browser)."""
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["maxUploadSize"] >= UPLOAD_LIMIT_MB  # the server's cap, above every widget's own
    assert config["runner"]["postScriptGC"] is False  # no full collection holding the GIL after every run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` from the repo root; its temporary files (the upload folders) under a folder of
    the test's own. Yields (url, that folder)."""
    tmp = tmp_path_factory.mktemp("server-tmp")
    port = _free_port()
    env = dict(os.environ, STAR_CHECKPOINT_DIRS=str(REPO / "checkpoints"), HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TMPDIR=str(tmp), STAR_UPLOAD_SWEEP_S=str(SWEEP_S),
               STAR_CACHE_DIR=str(tmp_path_factory.mktemp("cache")))
    for name in [k for k in env if k.startswith("STREAMLIT_")]:
        env.pop(name)  # the repo's config file, nothing else
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
           "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
           "--server.disconnectedSessionTTL", str(TTL_S)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, url)
    yield url, tmp
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert "Collecting usage statistics" not in out  # the config file was read


@pytest.fixture(scope="module")
def browser(server):
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


class Recorded:
    """A fresh browser context (a new session) recording every request and console error of its page."""

    def __init__(self, browser, url: str) -> None:
        self.url = url
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.ctx.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.requests: list[str] = []
        self.errors: list[tuple[str, str]] = []  # (text, url)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append((m.text, m.location.get("url", "")))
                     if m.type == "error" else None)

    def open(self, path: str) -> None:
        self.page.goto(f"{self.url}/{path}")
        self.page.locator('[data-testid="stSidebarNav"]').wait_for()
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_timeout(300)
        self.page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                                    timeout=WAIT_MS)
        self.page.wait_for_timeout(300)

    def elsewhere(self) -> list[str]:
        """Requests to any host but the app's (inline data: and blob: URLs are no requests to a host)."""
        return [u for u in self.requests if not u.startswith((self.url + "/", "data:", "blob:"))]


@pytest.mark.browser
def test_no_request_leaves_the_server_and_pages_opened_by_url_log_only_streamlits_probe(server, browser):
    url, _ = server
    for path in ("", "calibration"):
        rec = Recorded(browser, url)
        try:
            rec.open(path)
            assert rec.page.get_by_role("heading", level=1).first.inner_text().strip()
            assert len(rec.requests) > 20 and rec.elsewhere() == [], rec.elsewhere()
            unexplained = [(text, where) for text, where in rec.errors
                           if not (where.startswith(url) and PROBE_404.match(where[len(url):])
                                   and "404" in text and where[len(url):].startswith(f"/{path}/"))]
            assert unexplained == [], unexplained
            if path == "":
                assert rec.errors == []  # the probe 404s only come with a page's own URL
        finally:
            rec.ctx.close()


def _uploads(tmp: Path) -> set[Path]:
    return {p for p in tmp.glob(f"{UPLOAD_PREFIX}*") if (p / "checkpoint" / "bundle.npz").is_file()}


def _wait_for(condition, timeout_s: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout_s:
            pytest.fail(f"not within {timeout_s} s: {what}")
        time.sleep(0.2)
    return time.monotonic() - start


@pytest.mark.browser
def test_an_uploaded_checkpoints_folder_goes_when_its_session_ends(server, browser, tmp_path):
    url, tmp = server
    archive = tmp_path / "mine.zip"
    folder = REPO / "checkpoints" / "star-pool42-32-10"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name in ("model.safetensors", "model.json", "bundle.npz"):
            zf.write(folder / name, f"{folder.name}/{name}")
    before = _uploads(tmp)
    held = {}
    sessions = {name: Recorded(browser, url) for name in ("leaves", "stays")}
    try:
        for name, rec in sessions.items():
            rec.open("")
            known = before | set(held.values())
            rec.page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                str(archive))
            _wait_for(lambda: _uploads(tmp) - known, 60, f"the {name} session's upload unpacked")
            rec.settle()
            (held[name],) = _uploads(tmp) - known
            assert rec.page.get_by_text("Cannot load checkpoint").count() == 0
        sessions["leaves"].ctx.close()  # the browser goes away
        took = _wait_for(lambda: not held["leaves"].exists(), TTL_S + 4 * SWEEP_S + 10,
                         "the ended session's upload folder removed")
        assert took >= TTL_S - 0.5  # not before Streamlit stops keeping the session for a reconnect
        print(f"ended session's upload folder removed {took:.1f} s after its browser closed")
        assert held["stays"].is_dir()  # the live session keeps its own, through the same sweeps
        page = sessions["stays"].page  # and still works from it: another page, same session
        page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]').filter(
            has_text=re.compile("Calibration$")).click()
        page.get_by_role("heading", name="Calibration", exact=True).wait_for()
        sessions["stays"].settle()
        assert page.get_by_text("Cannot load checkpoint").count() == 0 and held["stays"].is_dir()
    finally:
        for rec in sessions.values():
            rec.ctx.close()
    _wait_for(lambda: not held["stays"].exists(), TTL_S + 4 * SWEEP_S + 10, "the second upload folder removed")
    assert _uploads(tmp) == before
