"""Time the app as a user feels it: real Chromium on a real ``streamlit run`` server, from an action (a click, a
key, an upload) until the page is idle, median of ``--repeats``.

"Idle" is measured in the page: a MutationObserver records the time of the last change to the document; after
an action the script waits until Streamlit reports no run in progress (no status widget) and nothing has
changed for ``QUIET_MS``; the latency is the time of the last change minus the time of the action. So the
browser's drawing of every chart (Plotly writes its SVG / canvas into the DOM) is counted, not only the
server's run.

Measured, each on the shipped default checkpoint (or ``--checkpoint``) with its models warm:
- first Predict after start (a new server: open ``/predict`` as the server's first request);
- page switches through the navigation (Model, Predict, Embedding spaces, Confusion, Calibration, Compare: its
  first visit computes the paired bootstrap, later ones reuse it);
- Predict: switch the built-in sample, edit the open-vocabulary box, change top-k, move gamma (a slider key and
  the number box), pick a vocabulary preset, upload a skeleton file, upload an already-posed video again;
- Embedding spaces for an uploaded ``.zip`` whose files equal a shipped checkpoint (cached by content).

Run: ``python bench/app_latency.py [--repeats 5] [--json out.json]``. Uses Debian's chromium through
Playwright's ``executable_path``; never downloads a browser.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
QUIET_MS = 600
COMPARED = "baseline-pool42-32-10"  # the Compare page's second checkpoint
GOAL_S = 1.0
FIRST_PREDICT_GOAL_S = 5.0

OBSERVER = """() => {
  if (window.__idle) return;
  window.__idle = {last: performance.now(), input: 0};
  new MutationObserver(() => { window.__idle.last = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  for (const type of ['click', 'keydown', 'change']) {
    document.addEventListener(type, () => { window.__idle.input = performance.now(); }, true);
  }
}"""
MARK = "() => { window.__idle.last = performance.now(); window.__idle.input = 0; return performance.now(); }"
SINCE_INPUT = "() => window.__idle.last - (window.__idle.input || window.__idle.last)"
IDLE = f"""() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-stale="true"]')
  && performance.now() - window.__idle.last > {QUIET_MS}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_extra: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **env_extra)
    cmd = [sys.executable, "-m", "ui.serve", "--server.headless", "true",  # as `make app` starts it
           "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("streamlit did not start")


def rss_mb(proc: subprocess.Popen) -> float:
    """The server process's resident memory (MB), from /proc."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


class Timer:
    """Runs actions on a Playwright page and returns seconds from the action's last input event (the click on
    the option, the Enter key, the file input's change) to the page's last change; the time Playwright itself
    spends finding and clicking elements before that event is not counted."""

    def __init__(self, page, timeout_s: float = 180.0):
        self.page, self.timeout_ms = page, int(timeout_s * 1000)

    def settle(self) -> None:
        self.page.evaluate(OBSERVER)
        self.page.wait_for_timeout(150)
        self.page.wait_for_function(IDLE, timeout=self.timeout_ms, polling=50)

    def time(self, action, ready=None) -> float:
        """``action()`` then wait for idle (and ``ready()``, a wait for what the action must show)."""
        self.page.evaluate(OBSERVER)
        t0 = self.page.evaluate(MARK)
        action()
        self.page.wait_for_timeout(150)  # let the run start (its status widget) before looking for idle
        if ready is not None:
            ready()
        self.page.wait_for_function(IDLE, timeout=self.timeout_ms, polling=50)
        since = self.page.evaluate(SINCE_INPUT)
        return since / 1000 if self.page.evaluate("() => window.__idle.input") > t0 else \
            (self.page.evaluate("() => window.__idle.last") - t0) / 1000


def nav(page, title: str):
    import re

    link = page.locator('[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]').filter(
        has_text=re.compile(f"{re.escape(title)}$"))
    return lambda: link.click()


def heading(page, title: str):
    return lambda: page.get_by_role("heading", name=title, exact=True).wait_for()


def pick_option(page, label: str, option: str):
    """Choose ``option`` in the selectbox labelled ``label``."""
    def act():
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
        box.locator('button[aria-label="Open"]').click()
        page.get_by_role("option", name=option, exact=True).click()
    return act


def zip_of(checkpoint: Path, dest: Path) -> Path:
    out = dest / f"{checkpoint.name}.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("model.safetensors", "model.json", "bundle.npz"):
            zf.write(checkpoint / name, f"{checkpoint.name}/{name}")
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def measure(a, data: Path, checkpoint: Path, out: dict) -> None:
    from playwright.sync_api import sync_playwright

    groups = set(filter(None, a.only.split(","))) or {"first", "pages", "predict", "video", "upload"}
    # the server sees only the measured checkpoint (a link to it), so the app opens it, not the shipped default
    root = Path(tempfile.mkdtemp(prefix="star-latency-ckpt-"))
    (root / checkpoint.name).symlink_to(checkpoint, target_is_directory=True)
    roots = [root]
    other = checkpoint.parent / COMPARED  # Compare's B, in a second root so the app still opens the measured one
    if other.is_dir() and other != checkpoint:
        roots.append(Path(tempfile.mkdtemp(prefix="star-latency-other-")))
        (roots[1] / other.name).symlink_to(other, target_is_directory=True)
    env = {"STAR_CHECKPOINT_DIRS": os.pathsep.join(map(str, roots)), "STAR_DATA_DIR": str(data)}

    def record(name: str, times: list[float], goal: float = GOAL_S) -> None:
        med = statistics.median(times)
        out[name] = {"median_s": round(med, 3), "runs_s": [round(t, 3) for t in times], "goal_s": goal,
                     "met": med <= goal}
        print(f"{name:<58} {med:7.2f} s  {'ok ' if med <= goal else 'MISSED'} (runs {', '.join(f'{t:.2f}' for t in times)})",
              flush=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)

        def new_page():
            ctx = browser.new_context(viewport={"width": 1500, "height": 1300})
            return ctx, ctx.new_page()

        if "first" in groups:  # a new server each time: its first request opens Predict
            times = []
            for _ in range(a.repeats):
                proc, url = start_server(env)
                ctx, page = new_page()
                try:
                    timer = Timer(page)
                    t0 = time.perf_counter()
                    page.goto(f"{url}/predict")
                    page.evaluate(OBSERVER)
                    page.get_by_text("Prediction (ZSL):").wait_for(timeout=180_000)
                    page.wait_for_function(IDLE, timeout=180_000, polling=50)
                    load_ms = page.evaluate("() => window.__idle.last")  # since navigation start
                    times.append(max(load_ms / 1000, 0.0) if load_ms else time.perf_counter() - t0)
                finally:
                    ctx.close()
                    stop(proc)
            record("first Predict after server start", times, FIRST_PREDICT_GOAL_S)

        proc, url = start_server(env)
        out["server memory at start (MB)"] = {"value": round(rss_mb(proc), 1)}
        try:
            ctx, page = new_page()
            timer = Timer(page)
            page.goto(f"{url}/predict")
            page.get_by_text("Prediction (ZSL):").wait_for(timeout=180_000)
            timer.settle()
            if "pages" in groups:
                for title in ("Model", "Predict", "Embedding spaces", "Confusion", "Calibration", "Compare"):
                    times = []
                    for _ in range(a.repeats):
                        timer.time(nav(page, "Model" if title != "Model" else "Calibration"))
                        times.append(timer.time(nav(page, title), heading(page, title)))
                    record(f"page switch to {title}", times)
            if "predict" in groups:
                timer.time(nav(page, "Predict"), heading(page, "Predict"))
                samples = sorted(p.stem for p in (REPO / "assets" / "samples").glob("*.skeleton"))
                times = [timer.time(pick_option(page, "Synthetic demo clip", samples[(i + 1) % len(samples)]),
                                    lambda: page.get_by_text("Prediction (ZSL):").wait_for())
                         for i in range(a.repeats)]
                record("Predict: switch the built-in sample", times)
                tab = page.get_by_role("tab", name="Open vocabulary")
                if tab.count():
                    times = [timer.time(lambda: page.get_by_role("tab", name=name).click())
                             for name in ["Open vocabulary", "Attention"] * a.repeats][:a.repeats]
                    record("Predict: open a details tab", times)
                    times = []  # the first open computes the clip's occlusion (one batched forward pass)
                    for _ in range(a.repeats):
                        times.append(timer.time(lambda: page.get_by_role("tab", name="Part occlusion").click(),
                                                lambda: page.get_by_text("Which parts the decision").wait_for()))
                        timer.time(lambda: page.get_by_role("tab", name="Attention").click())
                    record("Predict: open the Part occlusion tab", times)
                    timer.time(lambda: tab.click())
                preset = page.locator('[data-testid="stSelectbox"]').filter(has_text="Vocabulary")
                if preset.count():
                    timer.time(pick_option(page, "Vocabulary", "Your own list"))
                box = page.locator('[data-testid="stTextArea"] textarea').first
                times = []
                for i in range(a.repeats):
                    def edit(i=i):
                        box.fill(f"drink water\nwave\nsit down\nkick something\nthrow {i}")
                        box.press("Control+Enter")
                    times.append(timer.time(edit))
                record("Predict: edit the open-vocabulary box", times)
                for where, name in (("stMain", "change top-k"), ("stSidebar", "move the gamma slider (one key)")):
                    slider = page.locator(f'[data-testid="{where}"] [data-testid="stSlider"] input[type="range"]').first
                    times = []
                    for i in range(a.repeats):
                        def move(i=i, slider=slider):
                            slider.focus()
                            slider.press("ArrowLeft" if i % 2 else "ArrowRight")
                        times.append(timer.time(move))
                    record(f"Predict: {name}", times)
                number = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input')
                if number.count():
                    times = []
                    for i in range(a.repeats):
                        def typed(i=i):
                            number.first.fill(f"{0.05 + 0.01 * i:.3f}")
                            number.first.press("Enter")
                        times.append(timer.time(typed))
                    record("Predict: type gamma in the number box", times)
                if preset.count():
                    names = ["NTU RGB+D 120", "NTU RGB+D 60", "PKU-MMD", "This checkpoint's classes"]
                    times = [timer.time(pick_option(page, "Vocabulary", names[i % len(names)]))
                             for i in range(a.repeats)]
                    record("Predict: pick a vocabulary preset", times)
                ntu = sorted((data / "ntu_samples").glob("*.skeleton"))
                if ntu:
                    page.get_by_text("Upload a file", exact=True).click()
                    timer.settle()
                    drop = page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]')
                    times = []
                    for i in range(a.repeats + 1):  # alternate between the files: the same file twice is no change
                        took = timer.time(lambda i=i: drop.set_input_files(str(ntu[i % len(ntu)])),
                                          lambda: page.get_by_text("Prediction (ZSL):").wait_for())
                        times += [took] if i else []  # the first upload switches the clip source: not counted
                    record("Predict: upload a real NTU .skeleton", times)
            if "video" in groups:
                video = data / "video" / "two_people.mp4"
                if video.exists():
                    timer.time(nav(page, "Predict"), heading(page, "Predict"))
                    page.get_by_text("Upload a file", exact=True).click()
                    timer.settle()
                    drop = page.locator('[data-testid="stMain"] [data-testid="stFileUploaderDropzoneInput"]')
                    first = timer.time(lambda: drop.set_input_files(str(video)),
                                       lambda: page.get_by_text("Prediction (ZSL):").wait_for(timeout=300_000))
                    out["Predict: a new video (pose extraction), once"] = {"median_s": round(first, 3)}
                    print(f"{'Predict: a new video (pose extraction), once':<58} {first:7.2f} s", flush=True)
                    times = []
                    for _ in range(a.repeats):
                        timer.time(lambda: drop.set_input_files([]))
                        times.append(timer.time(lambda: drop.set_input_files(str(video)),
                                                lambda: page.get_by_text("Prediction (ZSL):").wait_for()))
                    record("Predict: re-upload an already-posed video", times)
            ctx.close()
            if "upload" in groups:
                with tempfile.TemporaryDirectory() as tmp:
                    archive = zip_of(checkpoint, Path(tmp))
                    times = []
                    for _ in range(a.repeats):  # a new session each time: nothing kept in the session
                        ctx, page = new_page()
                        timer = Timer(page)
                        page.goto(f"{url}/embedding_spaces")
                        heading(page, "Embedding spaces")()
                        timer.settle()
                        up = page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]')
                        times.append(timer.time(lambda: up.set_input_files(str(archive)),
                                                lambda: page.wait_for_function(
                                                    "() => document.querySelectorAll('.js-plotly-plot').length >= 1",
                                                    timeout=300_000)))
                        ctx.close()
                    record("Embedding spaces for an uploaded copy of a shipped checkpoint", times)
            out["server memory after the tour (MB)"] = {"value": round(rss_mb(proc), 1)}
            print(f"server memory: {out['server memory at start (MB)']['value']:.0f} MB at start, "
                  f"{out['server memory after the tour (MB)']['value']:.0f} MB after the tour", flush=True)
        finally:
            stop(proc)
        browser.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--only", default="", help="comma-separated groups: first,pages,predict,video,upload")
    p.add_argument("--checkpoint", default=str(REPO / "checkpoints" / "star-pool42-32-10"))
    a = p.parse_args()
    from star.paths import data_dir

    out: dict = {}
    print(f"machine: {machine()}", flush=True)
    measure(a, data_dir(), Path(a.checkpoint).resolve(), out)
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "checkpoint": Path(a.checkpoint).name,
                                            "results": out}, indent=1) + "\n")
    missed = [k for k, v in out.items() if v.get("met") is False]
    print(f"goals missed: {len(missed)}" + (f" ({'; '.join(missed)})" if missed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
