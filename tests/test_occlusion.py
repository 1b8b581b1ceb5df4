"""Part occlusion: on a synthetic model whose scores read only the hand joints, occluding the hand, and only the
hand, changes the decision; the rule zeroes exactly the part's joints; the shipped model's occlusion of a real clip."""

from __future__ import annotations

import numpy as np
import pytest

from star.occlusion import class_part_dependence, occlude, part_occlusion
from star.skeleton.topology import partition

from conftest import app_session

HAND = partition(6)["hand"]


def hand_only_model(inputs: np.ndarray) -> np.ndarray:
    """Scores (B, 3): class 0 = how high the hand joints are (mean y), class 1 = minus that, class 2 = 0."""
    height = inputs[:, 1][:, :, HAND, :].mean(axis=(1, 2, 3))  # y of the hand joints: (B, T, 6, M) -> (B,)
    return np.stack([height, -height, np.zeros_like(height)], axis=1)


def test_only_the_part_that_carries_the_signal_changes_the_score():
    rng = np.random.default_rng(0)
    inputs = rng.normal(0, 0.1, (2, 3, 16, 25, 2)).astype(np.float32)
    for j in HAND:  # clip 0: hands up; clip 1: hands down
        inputs[:, 1, :, j, :] += np.array([1.0, -1.0])[:, None, None]
    results = part_occlusion(hand_only_model, inputs, 6, [0, 1, 2], temperature=0.1)
    assert [r["top"] for r in results] == [0, 1]
    for r in results:
        drops = {row["part"]: row["drop"] for row in r["parts"]}
        assert drops["hand"] > 0.5  # occluded hands: height 0, the three classes tie, p = 1/3
        assert r["parts"][1]["prob"] == pytest.approx(1 / 3)
        assert all(drops[p] == 0.0 for p in drops if p != "hand")
        assert [row["part"] for row in r["parts"]] == list(partition(6))
    dependence = class_part_dependence(results, [0, 1], 6)
    assert max(dependence[0], key=dependence[0].get) == "hand" and dependence[1]["leg"] == 0.0


def test_the_rule_zeroes_exactly_the_parts_joints_and_leaves_the_input_alone():
    x = np.ones((1, 3, 4, 25, 2), np.float32)
    out = occlude(x, HAND)
    assert (out[:, :, :, HAND] == 0).all() and x.all()
    others = [j for j in range(25) if j not in HAND]
    assert (out[:, :, :, others] == 1).all()


def test_the_shipped_model_on_a_real_clip(repo_root, ntu_samples):
    from star.inference import Predictor
    from star.skeleton.io import read_ntu_skeleton

    predictor = Predictor.load(repo_root / "checkpoints" / "star-pool42-32-10")
    clip = read_ntu_skeleton(ntu_samples / "S002C001P003R001A003.skeleton")
    result = predictor.occlusion(clip)
    pred = predictor.predict([clip], top_k=1)[0]
    assert predictor.class_names[result["top"]] == pred.zsl_top[0]["class"]  # the same top class as Predict's
    assert result["prob"] == pytest.approx(pred.zsl_top[0]["prob"], abs=1e-6)
    assert [row["part"] for row in result["parts"]] == list(partition(6))
    assert all(-1 <= row["drop"] <= 1 and row["top_after"] in predictor.meta["unseen_classes"] for row in result["parts"])
    assert any(abs(row["drop"]) > 1e-4 for row in result["parts"])  # occluding some part moves the probability


def test_the_predict_page_occlusion_tab_shows_the_librarys_numbers(repo_root, tmp_path, monkeypatch):
    from star.inference import Predictor
    from ui.clips import builtin_samples, load_sample

    at = app_session(monkeypatch, tmp_path, "star-pool42-32-10", "pages/predict.py")
    at.session_state["predict_details"] = "Part occlusion"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    want = Predictor.load(repo_root / "checkpoints" / "star-pool42-32-10").occlusion(load_sample(builtin_samples()[0]))
    table = at.dataframe[0].value
    assert list(table["part"]) == list(partition(6))
    assert list(table["drop (points)"]) == [round(r["drop"] * 100, 2) for r in want["parts"]]
    assert any("Occluded: the part's joints set to the input's origin" in c.value for c in at.caption)


def test_class_dependence_on_the_test_clips_cli_and_page(repo_root, shared_data, tmp_path, monkeypatch, capsys):
    """`star occlude` and the Confusion page's section give the library's per-class drops (1 clip per class here)."""
    import json

    from star.cli import main
    from star.inference import Predictor
    from star.occlusion import test_clip_dependence
    from ui import loaders

    ckpt = repo_root / "checkpoints" / "star-pool42-32-10"
    want = test_clip_dependence(Predictor.load(ckpt), shared_data, clips_per_class=1)
    assert len(want["classes"]) == 10 and set(want["clips"].values()) == {1}
    assert main(["occlude", "--checkpoint", str(ckpt), "--data-dir", str(shared_data), "--clips-per-class", "1",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(want))
    # the page runs the same function over every unseen-class test clip; here limited to 1 per class
    import star.occlusion as occlusion

    real = occlusion.test_clip_dependence
    monkeypatch.setattr(occlusion, "test_clip_dependence",
                        lambda predictor, data, clips_per_class=None, progress=None: real(predictor, data, 1, progress))
    monkeypatch.setenv("STAR_DATA_DIR", str(shared_data))
    loaders._DEPENDENCE.clear()
    at = app_session(monkeypatch, tmp_path, "star-pool42-32-10", "pages/confusion.py")
    at.toggle(key="confusion_occlusion").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    import plotly.io

    heat = plotly.io.from_json(at.get("plotly_chart")[-1].proto.spec).data[0]
    assert list(heat.y) == list(want["classes"]) and list(heat.x) == want["parts"]
    z = heat.z  # plotly's JSON carries arrays as {dtype, bdata (base64), shape}
    z = np.frombuffer(__import__("base64").b64decode(z["bdata"]), z["dtype"]).reshape(
        [int(n) for n in z["shape"].split(",")]) if isinstance(z, dict) else np.asarray(z)
    np.testing.assert_allclose(z, [[want["classes"][c][p] * 100 for p in want["parts"]] for c in want["classes"]])
