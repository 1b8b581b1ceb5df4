"""Every app page through Streamlit's AppTest, on a shipped checkpoint: the values shown equal the library's."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from star import analysis, appstate  # noqa: E402
from star.checkpoint import list_checkpoints  # noqa: E402
from star.zsl import gzsl_metrics  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 120


def _root() -> Path:
    return Path(os.environ.get("STAR_CHECKPOINTS", REPO / "checkpoints"))


def _star_checkpoint() -> Path:
    """The shipped default if present, else the first STAR (non-baseline) checkpoint in checkpoints/."""
    paths = list_checkpoints(_root())
    if not paths:
        pytest.fail(f"no checkpoints in {_root()}; the app tests need the shipped checkpoints")
    default = [p for p in paths if p.name == appstate.DEFAULT_CHECKPOINT]
    star = [p for p in paths if appstate.ModelView.load(p).is_star]
    return (default or star or paths)[0]


@pytest.fixture(scope="module")
def view() -> appstate.ModelView:
    return appstate.ModelView.load(_star_checkpoint())


PAGES = {"model": "app.py", "predict": "pages/1_Predict.py", "embeddings": "pages/2_Embedding_spaces.py",
         "confusion": "pages/3_Confusion.py", "calibration": "pages/4_Calibration.py"}
NAV_LABELS = ["Model", "Predict", "Embedding spaces", "Confusion", "Calibration"]


@pytest.fixture
def app(view, tmp_path, monkeypatch):
    """A fresh session of ``app.py`` (the Model page) on the test checkpoint, t-SNE cache in tmp_path."""
    monkeypatch.setenv("STAR_CHECKPOINTS", str(view.path.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["checkpoint_pick"] = view.path.name
    return at


def _open(at: AppTest, page: str) -> AppTest:
    """Open a page in the session (the first run of a fresh session opens it directly, as a URL like
    /Calibration does: the page script alone renders the sidebar)."""
    at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.sidebar.title] == ["STAR Studio"]  # the page script rendered the shared sidebar
    assert [link.proto.label for link in at.sidebar.get("page_link")] == NAV_LABELS
    return at


def test_pages_folder_holds_exactly_the_four_pages_in_sidebar_order(monkeypatch):
    """Streamlit makes every .py in pages/ a page, ordered by its number; the sidebar links list them in that order."""
    from streamlit.source_util import page_sort_key

    monkeypatch.syspath_prepend(str(REPO))  # as Streamlit does for the app's scripts
    from ui.common import NAV

    scripts = sorted((REPO / "pages").glob("*.py"), key=page_sort_key)
    assert ["app.py"] + [str(p.relative_to(REPO)) for p in scripts] == list(PAGES.values())
    assert [(script, label) for script, label, _ in NAV] == list(zip(PAGES.values(), NAV_LABELS))


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_model_page_shows_benchmark_metrics_and_classes(app, view):
    at = _open(app, "model")
    assert any(view.meta["benchmark"] in h.value for h in at.subheader)
    table = at.table[0].value
    assert view.meta["benchmark"] in table["value"].tolist()
    assert f"{view.gamma:.4f}" in table["value"].tolist()
    metrics = at.dataframe[0].value
    shown = dict(zip(metrics["metric"], metrics["value"]))
    assert shown["H"] == f"{view.meta['metrics']['H'] * 100:.2f}"
    assert shown["zsl_acc"] == f"{view.meta['metrics']['zsl_acc'] * 100:.2f}"
    classes = at.dataframe[1].value
    assert classes["class"].tolist() == view.class_names
    assert (classes["split"] == "unseen").sum() == len(view.unseen)


def test_calibration_page_shows_zsl_metrics_for_the_slider_gamma(app, view):
    at = _open(app, "calibration")
    ref = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, view.gamma)
    shown = _metrics(at)
    assert shown["S (seen)"] == f"{ref['S'] * 100:.2f}" and shown["U (unseen)"] == f"{ref['U'] * 100:.2f}"
    assert shown["H (harmonic)"] == f"{ref['H'] * 100:.2f}"
    curve = appstate.su_curve_data(view)
    assert shown["AUSUC"] == f"{curve['ausuc'] * 100:.2f}"
    # move gamma to where H changes (the test-optimal gamma, on the slider's 0.001 grid)
    lo, hi = appstate.gamma_bounds(view)
    candidates = np.round(np.linspace(lo, hi, 41), 3)
    hs = [gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, g)["H"] for g in candidates]
    g = float(candidates[int(np.argmax(np.abs(np.array(hs) - ref["H"])))])
    at.sidebar.slider(key=view.gamma_key).set_value(g).run()
    new = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, g)
    shown = _metrics(at)
    assert shown["gamma"] == f"{g:.3f}"
    assert shown["H (harmonic)"] == f"{new['H'] * 100:.2f}" != f"{ref['H'] * 100:.2f}"
    assert shown["S (seen)"] == f"{new['S'] * 100:.2f}" and shown["U (unseen)"] == f"{new['U'] * 100:.2f}"
    rows = analysis.class_gain_loss(view.scores, view.labels, view.seen, view.gamma, g, view.class_names)
    assert rows, "moving gamma to a different H must change some class"
    table = at.dataframe[0].value
    assert table["class"].tolist() == [r["class"] for r in rows]
    # the moved gamma is shared: the Confusion and Model pages (their own sidebar scripts) start from it
    _open(at, "confusion")
    assert f"gamma {g:.3f}" in at.tabs[1].label
    assert at.sidebar.slider(key=view.gamma_key).value == pytest.approx(g)
    _open(at, "model")
    assert at.sidebar.slider(key=view.gamma_key).value == pytest.approx(g)


def test_confusion_page_lists_most_confused_pairs(app, view):
    at = _open(app, "confusion")
    want = appstate.confusions(view, view.gamma)
    zsl, gzsl = at.dataframe[0].value, at.dataframe[1].value
    assert zsl["true"].tolist() == [p["true"] for p in want["zsl_pairs"]]
    assert zsl["count"].tolist() == [p["count"] for p in want["zsl_pairs"]]
    assert gzsl["predicted"].tolist() == [p["predicted"] for p in want["gzsl_pairs"]]
    assert f"gamma {view.gamma:.3f}" in at.tabs[1].label


def test_embeddings_page_computes_tsne_once_and_caches_on_disk(app, view, tmp_path, monkeypatch):
    import streamlit as st

    monkeypatch.setattr(appstate, "MAX_TSNE_POINTS", 120)  # keep this test fast: fewer points, fewer iterations
    monkeypatch.setattr(analysis, "TSNE_MAX_ITER", 250)
    st.cache_data.clear()
    at = _open(app, "embeddings")
    files = sorted((tmp_path / "cache").glob("tsne-*.npy"))
    assert len(files) == 3  # skeleton + semantic with and without prompt
    assert all(view.digest in f.name for f in files)
    assert len(at.get("plotly_chart")) == 3
    # a fresh process (no st cache) reads the disk cache instead of recomputing
    st.cache_data.clear()
    monkeypatch.setattr(analysis, "compute_tsne", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    at = _open(app, "embeddings")
    assert len(at.get("plotly_chart")) == 3


def test_predict_page_sample_shows_prediction(app, view):
    from star.inference import Predictor

    at = _open(app, "predict")
    samples = appstate.builtin_samples()
    assert samples, "assets/samples/*.skeleton are missing"
    shown = [m.value for m in at.markdown if m.value.startswith("**Prediction (ZSL)")]
    clip = appstate.load_sample(samples[0])
    pred = Predictor.load(view.path).predict([clip], gamma=view.gamma, top_k=5)[0]
    assert shown == [f"**Prediction (ZSL): {pred.zsl_top[0]['class']}**"]
    assert pred.zsl_top[0]["index"] in view.unseen
    assert len(at.get("plotly_chart")) == 6  # animation, ZSL, GZSL, attention, part match, open vocabulary
    assert not at.error


def test_predict_page_broken_clip_bank_shows_the_readers_error(app, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "broken.npz", frames=np.zeros((3, 25, 3), np.float32), offsets=np.array([0, 5]),
             label=np.array([0]), class_names=np.array(["a"]))
    monkeypatch.setenv("STAR_DATA_DIR", str(data))
    at = _open(app, "predict")
    at.radio(key="predict_source").set_value("Clip bank ($STAR_DATA_DIR)").run()
    assert not at.exception
    assert len(at.error) == 1 and "broken.npz" in at.error[0].value and "offsets" in at.error[0].value
    # the app keeps working: switch back to a sample
    at.radio(key="predict_source").set_value("Built-in sample").run()
    assert not at.error and any(m.value.startswith("**Prediction (ZSL)") for m in at.markdown)


def test_upload_reader_errors_name_the_uploaded_file():
    from star.skeleton.clip import SkeletonFormatError

    with pytest.raises(SkeletonFormatError, match=r"^broken\.skeleton"):
        appstate.clip_from_upload("broken.skeleton", b"3\nnot a skeleton file\n")
    with pytest.raises(SkeletonFormatError, match="ending in"):
        appstate.clip_from_upload("notes.pdf", b"%PDF")


def test_bad_checkpoint_path_shows_error_and_app_keeps_running(view, tmp_path, monkeypatch):
    monkeypatch.setenv("STAR_CHECKPOINTS", str(view.path.parent))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["checkpoint_pick"] = view.path.name
    at.session_state["checkpoint_path"] = str(tmp_path / "nope")
    at.run()
    assert not at.exception
    message = f"{tmp_path / 'nope'}: no checkpoint directory here"
    assert any(message in e.value for e in at.sidebar.error)
    assert any(message in e.value for e in at.main.error) and not at.table
    # the app keeps running: other pages say the same, and clearing the path loads the picked checkpoint
    _open(at, "calibration")
    assert any("No checkpoint loaded" in e.value for e in at.error) and not at.metric
    assert at.sidebar.text_input(key="checkpoint_path_widget").value == str(tmp_path / "nope")  # kept across pages
    at.sidebar.text_input(key="checkpoint_path_widget").input("").run()
    assert not at.error and _metrics(at)["H (harmonic)"] == f"{view.meta['metrics']['H'] * 100:.2f}"
