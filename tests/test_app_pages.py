"""Every app page through Streamlit's AppTest, driven through the frame (``app.py``, ``st.navigation``), on a shipped
checkpoint: the values shown equal the library's; the checkpoint picker, typed path and .zip upload."""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py (Streamlit puts that folder on sys.path)

from star import analysis  # noqa: E402
from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, list_checkpoints  # noqa: E402
from star.zsl import gzsl_metrics  # noqa: E402
from ui import checkpoints, model_view  # noqa: E402
from ui.clips import builtin_samples, load_sample  # noqa: E402
from ui.model_view import ModelView  # noqa: E402

TIMEOUT = 120
PAGES = {"Model": "pages/model.py", "Predict": "pages/predict.py", "Embedding spaces": "pages/embedding_spaces.py",
         "Confusion": "pages/confusion.py", "Calibration": "pages/calibration.py", "Compare": "pages/compare.py"}


def _star_checkpoint() -> Path:
    """The shipped zero-shot checkpoint (the one with unseen classes these pages are tested on) if present, else the
    first STAR (non-baseline) checkpoint in checkpoints/ (tests/test_open_vocabulary.py has the open-vocabulary
    default's pages)."""
    paths = list_checkpoints(REPO / "checkpoints")
    if not paths:
        pytest.fail("no checkpoints in checkpoints/; the app tests need the shipped checkpoints")
    default = [p for p in paths if p.name == checkpoints.ZERO_SHOT_CHECKPOINT]
    star = [p for p in paths if ModelView.load(p).is_star]
    return (default or star or paths)[0]


@pytest.fixture(scope="module")
def view() -> ModelView:
    return ModelView.load(_star_checkpoint())


@pytest.fixture
def app(view, tmp_path, monkeypatch):
    """A fresh session of the frame on the test checkpoint (its Model page), t-SNE cache in tmp_path."""
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(view.path.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["checkpoint_pick"] = view.path.name
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at: AppTest, page: str) -> AppTest:
    """Switch the session to a page, as a click in the navigation does; the frame draws the sidebar around it."""
    at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.main.title] == [page]
    assert at.sidebar.selectbox(key="checkpoint_pick") and at.sidebar.file_uploader(key="checkpoint_zip")
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_app_py_is_a_frame_over_the_pages_folder():
    source = (REPO / "app.py").read_text()
    assert "st.navigation(" in source
    assert sorted(f"pages/{p.name}" for p in (REPO / "pages").glob("*.py")) == sorted(PAGES.values())
    import tomllib  # the repo's Streamlit config only turns the usage statistics off (no request leaves the server)

    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["browser"]["gatherUsageStats"] is False


def _model_page_names(at: AppTest) -> str:
    return " ".join(h.value for h in at.subheader)


def test_model_page_shows_benchmark_metrics_and_classes_in_words(app, view):
    at = _open(app, "Model")
    assert view.name in _model_page_names(at) and view.meta["benchmark"] in _model_page_names(at)
    shown = _metrics(at)
    assert shown["Harmonic mean (H)"] == f"{view.meta['metrics']['H'] * 100:.2f} %"
    assert shown["ZSL accuracy"] == f"{view.meta['metrics']['zsl_acc'] * 100:.2f} %"
    assert shown["Best H on test"] == f"{view.meta['metrics']['H_best_test'] * 100:.2f} %"
    # in words: no sidecar keys and no JSON views; the gamma story and the text encoder as sentences
    text = " ".join(m.value for m in at.markdown) + " " + " ".join(m.label for m in at.metric)
    assert not any(k in text for k in ("zsl_acc", "H_best_test", "ausuc", "chosen_by")) and not at.json
    assert all(p in [m.value for m in at.markdown] for p in model_view.gamma_story(view.meta))
    assert model_view.text_encoder_text(view.meta) in [m.value for m in at.markdown]
    classes = at.dataframe[0].value
    assert classes["class"].tolist() == view.class_names
    assert (classes["split"] == "unseen").sum() == len(view.unseen)
    settings = dict(zip(at.dataframe[2].value["setting"], at.dataframe[2].value["value"]))
    assert settings["benchmark"] == view.meta["config"]["benchmark"]
    assert at.session_state["gamma"] == pytest.approx(view.gamma)
    assert at.sidebar.number_input(key="gamma_box").value == pytest.approx(round(view.gamma, 4))


def test_gamma_controls_fit_the_checkpoint_and_reset_to_its_gamma(app, view):
    at = _open(app, "Calibration")
    scale = model_view.gamma_scale(view)
    slider = at.sidebar.slider(key="gamma_slider")
    assert (slider.min, slider.max, slider.step) == (pytest.approx(scale.lo), pytest.approx(scale.hi),
                                                     pytest.approx(scale.step))
    assert slider.value == pytest.approx(round(view.gamma, scale.decimals))
    # the slider moves the frame's gamma and the box; the box takes any value in its range, the slider follows
    at.sidebar.slider(key="gamma_slider").set_value(scale.lo).run()
    assert at.session_state["gamma"] == pytest.approx(scale.lo)
    assert at.sidebar.number_input(key="gamma_box").value == pytest.approx(scale.lo)
    typed = round(scale.box_lo, 4)
    at.sidebar.number_input(key="gamma_box").set_value(typed).run()
    assert at.session_state["gamma"] == pytest.approx(typed) and _metrics(at)["gamma"] == f"{typed:.3f}"
    assert at.sidebar.slider(key="gamma_slider").value == pytest.approx(max(typed, scale.lo))
    at.sidebar.button(key="gamma_reset").click().run()
    assert at.session_state["gamma"] == view.gamma and _metrics(at)["gamma"] == f"{view.gamma:.3f}"
    assert at.sidebar.button(key="gamma_reset").disabled


def test_calibration_page_shows_zsl_metrics_for_the_slider_gamma(app, view):
    at = _open(app, "Calibration")
    ref = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, view.gamma)
    shown = _metrics(at)
    assert shown["S (seen)"] == f"{ref['S'] * 100:.2f}" and shown["U (unseen)"] == f"{ref['U'] * 100:.2f}"
    assert shown["H (harmonic)"] == f"{ref['H'] * 100:.2f}"
    curve = model_view.su_curve_data(view)
    assert shown["AUSUC"] == f"{curve['ausuc'] * 100:.2f}"
    # type the gamma where H changes most into the number box
    lo, hi = model_view.gamma_bounds(view)
    candidates = np.round(np.linspace(lo, hi, 41), 3)
    hs = [gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, g)["H"] for g in candidates]
    g = float(candidates[int(np.argmax(np.abs(np.array(hs) - ref["H"])))])
    at.sidebar.number_input(key="gamma_box").set_value(g).run()
    new = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, g)
    shown = _metrics(at)
    assert shown["gamma"] == f"{g:.3f}"
    assert shown["H (harmonic)"] == f"{new['H'] * 100:.2f}" != f"{ref['H'] * 100:.2f}"
    assert shown["S (seen)"] == f"{new['S'] * 100:.2f}" and shown["U (unseen)"] == f"{new['U'] * 100:.2f}"
    rows = analysis.class_gain_loss(view.scores, view.labels, view.seen, view.gamma, g, view.class_names)
    assert rows, "moving gamma to a different H must change some class"
    assert at.dataframe[0].value["class"].tolist() == [r["class"] for r in rows]
    # the frame's slider keeps its value across pages by itself
    _open(at, "Confusion")
    assert f"gamma {g:.3f}" in at.tabs[1].label
    assert at.session_state["gamma"] == pytest.approx(g)
    _open(at, "Model")
    assert at.session_state["gamma"] == pytest.approx(g)
    assert at.sidebar.number_input(key="gamma_box").value == pytest.approx(g)


def test_calibration_page_tells_how_the_checkpoint_gamma_was_chosen(app, view):
    at = _open(app, "Calibration")
    assert f"How this gamma was chosen: {view.gamma:.3f}" in [h.value for h in at.subheader]
    shown = [m.value for m in at.markdown]
    story = model_view.gamma_story(view.meta)
    assert story and all(p in shown for p in story)
    curve = model_view.validation_curve(view.meta)
    assert len(at.get("plotly_chart")) == (1 if curve is None else 2)  # the seen-unseen curve (+ validation)


def test_confusion_page_lists_most_confused_pairs(app, view):
    at = _open(app, "Confusion")
    want = model_view.confusions(view, view.gamma)
    zsl, gzsl = at.dataframe[0].value, at.dataframe[1].value
    assert zsl["true"].tolist() == [p["true"] for p in want["zsl_pairs"]]
    assert zsl["count"].tolist() == [p["count"] for p in want["zsl_pairs"]]
    assert gzsl["predicted"].tolist() == [p["predicted"] for p in want["gzsl_pairs"]]
    assert f"gamma {view.gamma:.3f}" in at.tabs[1].label


def test_embeddings_page_computes_tsne_once_and_caches_on_disk(app, view, tmp_path, monkeypatch):
    import streamlit as st

    monkeypatch.setattr(model_view, "MAX_TSNE_POINTS", 120)  # keep this test fast: fewer points, fewer iterations
    monkeypatch.setattr(analysis, "TSNE_MAX_ITER", 250)
    st.cache_data.clear()
    st.cache_resource.clear()
    at = _open(app, "Embedding spaces")  # the skeleton tab opens first; only the open tab is computed and drawn
    assert len(list((tmp_path / "cache").glob("tsne-*.npy"))) == 1 and len(at.get("plotly_chart")) == 1
    at.session_state["embedding_space"] = "Semantic space: names and part descriptions"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    files = sorted((tmp_path / "cache").glob("tsne-*.npy"))
    assert len(files) == 3  # skeleton + semantic with and without prompt
    assert all(view.digest in f.name for f in files)
    assert len(at.get("plotly_chart")) == 2
    # a fresh process (no st cache) reads the disk cache instead of recomputing
    st.cache_data.clear()
    st.cache_resource.clear()
    monkeypatch.setattr(analysis, "compute_tsne", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    at = _open(app, "Embedding spaces")  # the session kept its open tab: the semantic space
    assert len(at.get("plotly_chart")) == 2
    at.session_state["embedding_space"] = "Skeleton space: test clips"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1


def _spec(chart) -> dict:
    import json

    return json.loads(chart.proto.spec)


def _bars(at: AppTest, title: str) -> list[tuple[str, float]]:
    """(class, bar value) of the bar chart whose title starts with ``title``, best first."""
    for chart in at.get("plotly_chart"):
        spec = _spec(chart)
        if str(spec["layout"].get("title", {}).get("text", "")).startswith(title):
            bar = spec["data"][0]
            return list(zip(bar["y"], bar["x"]))[::-1]
    raise AssertionError(f"no chart titled {title!r}")


def _details(at: AppTest, tab: str) -> AppTest:
    """Open a tab of Predict's lazy details (only the open tab runs)."""
    at.session_state["predict_details"] = tab
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_predict_page_sample_shows_prediction(app, view):
    from star.inference import Predictor, top_lists

    at = _open(app, "Predict")
    samples = builtin_samples()
    assert samples, "assets/samples/*.skeleton are missing"
    shown = [m.value for m in at.markdown if m.value.startswith("**Prediction (ZSL)")]
    predictor = Predictor.load(view.path)
    pred = predictor.predict([load_sample(samples[0])], gamma=view.gamma, top_k=5)[0]
    assert shown == [f"**Prediction (ZSL): {pred.zsl_top[0]['class']}**"]
    assert pred.zsl_top[0]["index"] in view.unseen
    # what the model knows, and probabilities at the model's own temperature
    assert model_view.what_it_knows(view, predictor.temperature) in [i.value for i in at.info]
    assert _bars(at, "ZSL") == [(t["class"], pytest.approx(100 * t["prob"])) for t in pred.zsl_top]
    assert _bars(at, "GZSL") == [(t["class"], pytest.approx(100 * t["prob"])) for t in pred.gzsl_top]
    # top-k reruns the predictions with k bars; gamma moves the GZSL list
    at.slider(key="predict_topk").set_value(3).run()
    zsl, gzsl = top_lists(pred.scores, view.seen, view.unseen, view.class_names, view.gamma, 3, predictor.temperature)
    assert _bars(at, "ZSL") == [(t["class"], pytest.approx(100 * t["prob"])) for t in zsl]
    assert len(_bars(at, "GZSL")) == 3
    assert len(at.get("plotly_chart")) == 4  # animation, ZSL, GZSL, attention (the open tab)
    assert [t.label for t in at.tabs] == ["Attention", "Part matches", "Part occlusion", "Open vocabulary", "Recording"]
    assert not at.error
    # the synthetic clip (no tracking noise, its own bone lengths) lies outside the training range: flagged above
    # the tabs; the Recording tab has the shipped source model's numbers
    from star.source_model import load_source_model

    like = load_source_model().resemblance(load_sample(samples[0]).frames)
    assert like.unlike_all and [w.value for w in at.warning] == [
        f"{len(like.unusual)} of the clip's recording cues lie outside the range of the training clips: it "
        "resembles none of the training datasets, so expect weaker predictions (tab Recording)."]
    _details(at, "Recording")
    assert {k: v for k, v in _metrics(at).items() if k in like.sources} == {
        name: f"{100 * p:.1f} %" for name, p in zip(like.sources, like.probabilities)}
    assert len(at.get("plotly_chart")) == 3  # the Recording tab has no chart: only it runs


def test_predict_page_attention_is_shown_relative_to_uniform(app, view):
    from star import viz
    from star.inference import Predictor

    at = _open(app, "Predict")
    pred = Predictor.load(view.path).predict([load_sample(builtin_samples()[0])])[0]
    heat = [_spec(c) for c in at.get("plotly_chart") if "attend" in str(_spec(c)["layout"]["title"])]
    assert len(heat) == 1 and "relative to uniform" in heat[0]["layout"]["title"]["text"]
    rel = viz.attention_relative_to_uniform(pred.attention_time_joint, int(view.meta["num_parts"]))
    assert heat[0]["layout"]["coloraxis"]["colorbar"]["ticktext"] == ["x0.25", "x0.5", "x1", "x2", "x4"]
    assert any(f"from x{rel.min():.2f} to x{rel.max():.2f}" in c.value for c in at.caption)
    at.radio(key="predict_attention_scale").set_value("raw weights").run()
    heat = [_spec(c) for c in at.get("plotly_chart") if "attend" in str(_spec(c)["layout"]["title"])]
    assert "raw weights" in heat[0]["layout"]["title"]["text"]


def test_predict_page_open_vocabulary_presets_and_top_k(app, view):
    from star.data.benchmarks import class_list
    from star.inference import Predictor

    at = _details(_open(app, "Predict"), "Open vocabulary")
    assert at.selectbox(key="predict_vocab_preset").value == "This checkpoint's classes"
    clip = load_sample(builtin_samples()[0])
    predictor = Predictor.load(view.path)
    want = predictor.rank_names([clip], view.class_names, 10)[0]
    assert _bars(at, "Top 10 of") == [(t["class"], pytest.approx(100 * t["prob"])) for t in want]
    at.selectbox(key="predict_vocab_preset").set_value("NTU RGB+D 120").run()
    assert not at.exception
    bars = _bars(at, "Top 10 of 120 names")  # top-k respected for a long vocabulary
    want = predictor.rank_names([clip], list(class_list("ntu120")), 10)[0]
    assert [b[0] for b in bars] == [t["class"] for t in want]
    at.number_input(key="predict_vocab_topk").set_value(3).run()
    assert len(_bars(at, "Top 3 of 120 names")) == 3
    at.selectbox(key="predict_vocab_preset").set_value("Your own list").run()
    at.text_area(key="predict_vocab").input("wave\nclapping\nwave\n\n").run()
    assert sorted(b[0] for b in _bars(at, "Top 2 of 2 names")) == ["clapping", "wave"]


NOAM_CHECKPOINT = "star-noam-pool42-32-10"  # the shipped STAR head with mean-pooled parts (no attention)


def test_a_head_without_attention_shows_its_part_matches_and_says_why_there_is_no_map(tmp_path, monkeypatch):
    path = REPO / "checkpoints" / NOAM_CHECKPOINT
    noam = ModelView.load(path)
    assert noam.is_star and noam.meta["head_config"]["use_attention"] is False
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(path.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["checkpoint_pick"] = NOAM_CHECKPOINT
    at.run()
    assert any(m.value.startswith("**What it is.** Mean of the part's") for m in at.markdown)
    at = _open(at, "Predict")
    assert [t.label for t in at.tabs] == ["Part matches", "Part occlusion", "Open vocabulary", "Recording"]  # no attention tab
    assert any(c.value.startswith("This head mean-pools each part's tokens") for c in at.caption)
    assert len(at.get("plotly_chart")) == 4  # animation, ZSL, GZSL, part match: no attention map
    assert not at.error


def test_predict_page_upload_shows_the_readers_error_then_a_prediction(app, view):
    at = _open(app, "Predict")
    at.radio(key="predict_source").set_value("Upload a file").run()
    at.file_uploader(key="predict_upload").upload("broken.skeleton", b"2\nnot a skeleton file\n").run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("Could not read the file: broken.skeleton")
    sample = builtin_samples()[0]
    at.file_uploader(key="predict_upload").set_value((sample.path.name, sample.path.read_bytes(), "")).run()
    assert not at.error and any(m.value.startswith("**Prediction (ZSL)") for m in at.markdown)


def test_predict_page_broken_clip_bank_shows_the_readers_error(app, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    np.savez(data / "broken.npz", frames=np.zeros((3, 25, 3), np.float32), offsets=np.array([0, 5]),
             label=np.array([0]), class_names=np.array(["a"]))
    monkeypatch.setenv("STAR_DATA_DIR", str(data))
    at = _open(app, "Predict")
    at.radio(key="predict_source").set_value("Clip bank ($STAR_DATA_DIR)").run()
    assert not at.exception
    assert len(at.error) == 1 and "broken.npz" in at.error[0].value and "offsets" in at.error[0].value
    # the app keeps working: switch back to a sample
    at.radio(key="predict_source").set_value("Built-in sample").run()
    assert not at.error and any(m.value.startswith("**Prediction (ZSL)") for m in at.markdown)


def test_typed_paths_outside_the_checkpoint_folders_are_refused(app, view, tmp_path):
    at = _open(app, "Calibration")
    for typed in ("/etc", "/no/such/folder", str(view.path.parent / ".." / ".."), str(tmp_path)):
        at.sidebar.text_input(key="checkpoint_path").input(typed).run()
        assert not at.exception
        assert [e.value for e in at.sidebar.error] == [f"Cannot load checkpoint: {checkpoints.REFUSED}"]
        assert [e.value for e in at.main.error] == [f"No checkpoint loaded: {checkpoints.REFUSED}"]
        assert not at.metric and at.sidebar.text_input(key="checkpoint_path").value == typed
    _open(at, "Model")  # still refused on another page: the typed path is the frame's
    assert any(checkpoints.REFUSED in e for e in _errors(at)) and not at.metric
    # a folder inside the roots that is no checkpoint: the loader's message, naming what was typed only
    at.sidebar.text_input(key="checkpoint_path").input("nope").run()
    assert [e.value for e in at.sidebar.error] == ["Cannot load checkpoint: nope: no checkpoint directory here "
                                                   f"(expected a folder with {WEIGHTS} and {SIDECAR})"]
    # a name relative to the roots opens it; clearing the box returns to the picker
    at.sidebar.text_input(key="checkpoint_path").input(view.path.name).run()
    assert not at.error and view.name in _model_page_names(at)
    _open(at, "Calibration")
    at.sidebar.text_input(key="checkpoint_path").input("").run()
    assert not at.error and _metrics(at)["H (harmonic)"] == f"{view.meta['metrics']['H'] * 100:.2f}"


def _checkpoint_zip(folder: Path, extra: dict[str, bytes] | None = None, inside: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in (WEIGHTS, SIDECAR, BUNDLE):
            zf.writestr(f"{inside}{n}", (folder / n).read_bytes())
        for n, d in (extra or {}).items():
            zf.writestr(n, d)
    return buf.getvalue()


def test_uploaded_checkpoint_zip_is_opened_from_a_temporary_folder(app, view, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    at = _open(app, "Calibration")
    uploader = at.sidebar.file_uploader(key="checkpoint_zip")
    uploader.upload("mine.zip", _checkpoint_zip(view.path, inside=f"{view.name}/"), "application/zip").run()
    assert not at.exception and not at.error, _errors(at)
    held = at.session_state["checkpoint_upload"]
    assert held.path.is_relative_to(tmp_path / "tmp") and held.path.is_dir()
    ref = gzsl_metrics(view.scores, view.labels, view.seen, view.unseen, view.gamma)
    assert _metrics(at)["H (harmonic)"] == f"{ref['H'] * 100:.2f}"
    _open(at, "Model")
    assert view.name in _model_page_names(at)
    assert at.session_state["checkpoint_upload"] is held  # unpacked once, not on every rerun
    # a zip-slip archive replaces it: refused, and the previous upload's folder is gone
    at.sidebar.file_uploader(key="checkpoint_zip").set_value(
        ("evil.zip", _checkpoint_zip(view.path, {"../../evil.py": b"print('hi')"}), "application/zip")).run()
    assert not at.exception and not held.path.exists() and not (tmp_path / "evil.py").exists()
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("Cannot load checkpoint: evil.zip: '../../evil.py'")
    assert str(tmp_path) not in errors[0] and not at.metric
    # a corrupt one says so
    at.sidebar.file_uploader(key="checkpoint_zip").set_value(("bad.zip", b"PK\x03\x04 nonsense", "")).run()
    assert [e.value for e in at.sidebar.error] == [
        "Cannot load checkpoint: bad.zip: not a readable zip archive (File is not a zip file)"]
    # clearing the upload returns to the picked checkpoint and leaves no temporary folder behind
    at.sidebar.file_uploader(key="checkpoint_zip").clear().run()
    assert not at.error and view.name in _model_page_names(at)
    assert "checkpoint_upload" not in at.session_state and list((tmp_path / "tmp").iterdir()) == []
