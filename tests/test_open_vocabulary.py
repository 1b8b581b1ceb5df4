"""A checkpoint trained on every class (the open-vocabulary one, issue 25): no unseen classes, so no zero-shot or
GZSL numbers; the library ranks all its classes or any names, and the app's zero-shot pages say so and offer a
checkpoint that has unseen classes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from star.evaluation import test_metrics as compute_metrics  # noqa: E402
from star.inference import Predictor, candidate_pool, top_lists, top_predictions  # noqa: E402
from ui import checkpoints, clips, model_view  # noqa: E402

ZSL = checkpoints.ZERO_SHOT_CHECKPOINT


def every_class_seen(src: Path, dst: Path) -> Path:
    """A copy of a shipped checkpoint whose sidecar says every class was seen (metrics recomputed from its bundle)."""
    shutil.copytree(src, dst)
    meta = json.loads((dst / "model.json").read_text())
    n = len(meta["class_names"])
    meta.update({"name": dst.name, "seen_classes": list(range(n)), "unseen_classes": []})
    with np.load(dst / "bundle.npz") as b:
        meta["metrics"] = compute_metrics(b["scores"], b["labels"], meta["seen_classes"], [], meta["gamma"]["value"])
    (dst / "model.json").write_text(json.dumps(meta))
    return dst


@pytest.fixture(scope="module")
def open_ckpt(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("open") / "checkpoints"
    root.mkdir()
    shutil.copytree(REPO / "checkpoints" / ZSL, root / ZSL)
    return every_class_seen(REPO / "checkpoints" / ZSL, root / "every-class-seen")


def test_metrics_without_unseen_classes_are_top1_over_all_classes():
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.3], [0.0, 0.2, 0.1]])
    labels = np.array([0, 1, 1, 2])
    m = compute_metrics(scores, labels, [0, 1, 2], [], gamma=0.3)
    assert m["S"] == pytest.approx(0.5)  # clips 0 and 1 right; 2 -> class 0, 3 -> class 1
    assert m["zsl_acc"] is None and m["U"] is None and m["H"] is None and m["ausuc"] is None
    assert m["gamma"] == 0.3


def test_a_checkpoint_may_have_no_unseen_classes_but_needs_seen_ones(open_ckpt, tmp_path):
    ck = load_checkpoint(open_ckpt)
    assert ck.unseen == [] and len(ck.seen) == len(ck.class_names)
    bad = tmp_path / "bad"
    shutil.copytree(open_ckpt, bad)
    meta = json.loads((bad / "model.json").read_text())
    meta.update({"seen_classes": [], "unseen_classes": list(range(len(meta["class_names"])))})
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="partition"):
        load_checkpoint(bad)


def test_top_lists_rank_every_class_when_none_is_unseen():
    scores = np.array([0.1, 0.8, 0.3])
    zsl, ranked = top_lists(scores, [0, 1, 2], [], ["a", "b", "c"], gamma=0.5, k=3, temperature=0.1)
    assert zsl == [] and [t["class"] for t in ranked] == ["b", "c", "a"]
    assert [t["score"] for t in ranked] == pytest.approx([0.8, 0.3, 0.1])  # no gamma: nothing to calibrate against


def test_predict_ranks_all_classes_of_an_open_vocabulary_checkpoint(open_ckpt, ntu_samples):
    from star.skeleton.io import read_ntu_skeleton

    predictor = Predictor.load(open_ckpt)
    assert candidate_pool(predictor, None, gzsl=False) == predictor.class_names
    clip = read_ntu_skeleton(ntu_samples / "S001C003P008R002A058.skeleton")
    (top,) = top_predictions(predictor, [clip], top_k=42)
    assert sorted(t["class"] for t in top) == sorted(predictor.class_names)


def test_model_page_numbers_for_a_model_without_unseen_classes(open_ckpt):
    meta = json.loads((open_ckpt / "model.json").read_text())
    cards = model_view.metric_cards(meta)
    assert [c[0] for c in cards] == ["Top-1 on its test clips"]
    assert cards[0][1] == f"{meta['metrics']['S'] * 100:.2f} %"
    assert model_view.expected_accuracy_text(meta) == ""
    meta["expected_accuracy"] = {"zsl_acc": 0.4321, "meaning": "the mean of four held-out datasets"}
    assert [c[1] for c in model_view.metric_cards(meta)] == [cards[0][1], "43.21 %"]
    assert "about 43 %" in model_view.expected_accuracy_text(meta)
    view = model_view.ModelView.load(open_ckpt)
    assert not view.has_unseen and "all seen in training" in model_view.model_overview(view)["Classes"]
    assert "every one of its" in model_view.what_it_knows(view, 0.1)


def test_zero_shot_choice_prefers_the_shipped_zero_shot_checkpoint(open_ckpt, tmp_path):
    choices = checkpoints.checkpoint_choices([open_ckpt.parent])
    assert set(choices) == {ZSL, "every-class-seen"}
    assert checkpoints.zero_shot_choice(choices) == ZSL
    assert checkpoints.zero_shot_choice({"every-class-seen": open_ckpt}) is None
    assert checkpoints.zero_shot_choice({"missing": tmp_path / "nothing", "zsl": choices[ZSL]}) == "zsl"


def test_the_four_small_datasets_preset():
    names = clips.vocabulary(clips.POOL69, [])
    assert len(names) == 68 and names.count("tennis serve") == 1
    assert names[:2] == ["pick up with one hand", "pick up with two hands"] and names[-1] == "squat (two arms stretch out)"


def test_app_pages_on_a_checkpoint_without_unseen_classes(open_ckpt, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(open_ckpt.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["checkpoint_pick"] = "every-class-seen"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Top-1 on its test clips" in [m.label for m in at.metric]
    assert not at.sidebar.slider  # no gamma to move
    for page in ("pages/calibration.py", "pages/confusion.py"):
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("no unseen classes" in i.value for i in at.info)
        assert [b.label for b in at.main.button] == [f"Open {ZSL}"]
    at.main.button(key="open_zero_shot").click().run()  # the offered checkpoint opens, with its gamma
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["checkpoint_pick"] == ZSL and at.sidebar.slider(key="gamma_slider")
    assert not at.info or not any("no unseen classes" in i.value for i in at.info)
    # Predict: one ranking of all its classes, no ZSL / GZSL pair
    from ui.clips import builtin_samples, load_sample

    at.session_state["checkpoint_pick"] = "every-class-seen"
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    pred = Predictor.load(open_ckpt).predict([load_sample(builtin_samples()[0])], top_k=5)[0]
    assert pred.zsl_top == [] and len(pred.gzsl_top) == 5
    shown = [m.value for m in at.markdown if m.value.startswith("**Prediction")]
    assert shown == [f"**Prediction: {pred.gzsl_top[0]['class']}**"]
