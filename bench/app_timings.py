"""Time the Streamlit app's pages through AppTest, and the server-side work of one gamma-slider move.

For each page: the time of its first load in a fresh session after the checkpoint and the model are cached
in the process (what a user sees after the app's first model load). Embedding spaces is timed with the
t-SNE already in its disk cache (``--cold-tsne`` times it with an empty cache too). Then the gamma update:
S/U/H + the gain/loss table + both confusions at a new gamma (the Calibration and Confusion pages' math),
median of ``--repeats``. Run: ``python bench/app_timings.py [--checkpoint DIR]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py
PAGES = {"model": "pages/model.py", "predict": "pages/predict.py", "embeddings": "pages/embedding_spaces.py",
         "confusion": "pages/confusion.py", "calibration": "pages/calibration.py"}


def _page_load(at_factory, page: str) -> float:
    at = at_factory()
    at.run()  # the frame's default page (Model) first: how a session starts
    t = time.perf_counter()
    at.switch_page(PAGES[page]).run()
    took = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    return took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint directory (default: the app's default)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--cold-tsne", action="store_true", help="also time Embedding spaces with an empty t-SNE cache")
    a = p.parse_args()

    from streamlit.testing.v1 import AppTest

    from star import analysis
    from ui import checkpoints, model_view

    if a.checkpoint:
        os.environ["STAR_CHECKPOINT_DIRS"] = str(Path(a.checkpoint).resolve().parent)
    choices = checkpoints.checkpoint_choices()
    if not choices:
        raise SystemExit("no checkpoints found (set STAR_CHECKPOINT_DIRS or pass --checkpoint)")
    pick = Path(a.checkpoint).resolve().name if a.checkpoint else checkpoints.default_choice(list(choices))
    ckpt = choices[pick]
    view = model_view.ModelView.load(ckpt)

    def fresh() -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
        at.session_state["checkpoint_pick"] = pick
        return at

    rows = []
    t = time.perf_counter()
    at = fresh()
    at.run()
    rows.append(("first app start (checkpoint + bundle load, Model page)", time.perf_counter() - t))
    t = time.perf_counter()
    at.switch_page(PAGES["predict"]).run()
    rows.append(("first Predict (model load + text encoder + one clip)", time.perf_counter() - t))
    if a.cold_tsne:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["STAR_CACHE_DIR"] = tmp
            rows.append(("Embedding spaces, empty t-SNE cache", _page_load(fresh, "embeddings")))
            os.environ.pop("STAR_CACHE_DIR")
    _page_load(fresh, "embeddings")  # fill the disk cache if needed
    for page in PAGES:
        rows.append((f"page '{page}', fresh session, models cached", _page_load(fresh, page)))

    lo, hi = model_view.gamma_bounds(view)
    gammas = [lo + (hi - lo) * (i + 0.5) / a.repeats for i in range(a.repeats)]
    times = {"S/U/H (gzsl_metrics)": [], "gain/loss table": [], "confusions (ZSL + GZSL)": []}
    for g in gammas:
        t0 = time.perf_counter()
        model_view.gzsl_at(view, g)
        t1 = time.perf_counter()
        analysis.class_gain_loss(view.scores, view.labels, view.seen, view.gamma, g, view.class_names)
        t2 = time.perf_counter()
        model_view.confusions(view, g)
        t3 = time.perf_counter()
        times["S/U/H (gzsl_metrics)"].append(t1 - t0)
        times["gain/loss table"].append(t2 - t1)
        times["confusions (ZSL + GZSL)"].append(t3 - t2)
    for name, ts in times.items():
        rows.append((f"gamma update: {name}, median of {a.repeats}", statistics.median(ts)))
    at = fresh()
    at.run()
    at.switch_page(PAGES["calibration"]).run()
    reruns = []
    for g in gammas[: min(5, len(gammas))]:
        t = time.perf_counter()
        at.sidebar.number_input(key="gamma_box").set_value(round(g, 4)).run()
        reruns.append(time.perf_counter() - t)
    rows.append(("gamma update: whole Calibration rerun (AppTest), median of 5", statistics.median(reruns)))

    print(f"checkpoint {ckpt.name}: {len(view.labels)} test clips, {len(view.class_names)} classes")
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'ms':>9}")
    for name, sec in rows:
        print(f"{name:<{width}}  {sec * 1000:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
