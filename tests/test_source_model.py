"""star.source_model: which training dataset a clip's recording resembles (and the shipped model's file)."""

from __future__ import annotations

import json
import stat

import numpy as np
import pytest

from star.skeleton.cues import NUM_CUES, cue_names, recording_cues
from star.skeleton.io import read_ntu_skeleton
from star.source_model import (FORMAT, SOURCE_MODEL_FILE, UNLIKE_ALL, SourceModel, SourceModelError,
                               load_source_model)

SOURCES = ("A", "B", "C")


def _cues(seed: int = 0, per_source: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated clouds of cue vectors: source k is shifted by 6 along cue k."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3 * per_source, NUM_CUES))
    y = np.repeat(np.arange(3), per_source)
    x[np.arange(len(y)), y] += 6.0
    return x, y


def _model() -> SourceModel:
    x, y = _cues()
    return SourceModel.fit(x, y, SOURCES, "view,joints", c_reg=1.0, info={"note": "test"})


def test_probabilities_equal_scikit_learns_and_pick_the_right_cloud():
    from sklearn.linear_model import LogisticRegression

    x, y = _cues()
    model = _model()
    z = (x - x.mean(0)) / x.std(0)
    ref = LogisticRegression(C=1.0, max_iter=5000).fit(z, y)
    p = model.cue_probabilities(x)
    np.testing.assert_allclose(p, ref.predict_proba(z), atol=1e-9)
    np.testing.assert_allclose(p.sum(1), 1.0)
    test_x, test_y = _cues(seed=1)
    assert np.mean(model.cue_probabilities(test_x).argmax(1) == test_y) > 0.95


def test_band_and_unusual_cues():
    x, _ = _cues()
    model = _model()
    np.testing.assert_allclose(model.low, np.percentile(x, 0.5, axis=0))
    np.testing.assert_allclose(model.high, np.percentile(x, 99.5, axis=0))
    c = np.clip(x[0], model.low, model.high)
    assert model.unusual_cues(c) == []
    c[[2, 40]] = model.high[[2, 40]] + 1.0
    c[7] = model.low[7] - 0.5
    got = model.unusual_cues(c)
    assert [g["cue"] for g in got] == [cue_names()[i] for i in (2, 7, 40)]
    assert got[1] == {"cue": cue_names()[7], "value": pytest.approx(model.low[7] - 0.5), "low": model.low[7],
                      "high": model.high[7]}


def test_resemblance_of_frames_uses_the_cues_of_the_canonical_clip():
    rng = np.random.default_rng(3)
    frames = np.cumsum(rng.normal(scale=0.01, size=(1, 40, 25, 3)), axis=1) + rng.normal(size=(1, 1, 25, 3))
    model = _model()
    got = model.resemblance(frames)
    from star.skeleton.canonical import Canonical

    cues = recording_cues(Canonical.parse("view,joints").apply(frames))
    np.testing.assert_allclose(got.probabilities, model.cue_probabilities(cues[None])[0])
    assert got.best == SOURCES[int(np.argmax(got.probabilities))]
    assert got.unlike_all == (len(got.unusual) >= UNLIKE_ALL)
    # the cues ignore where the clip stands and how it is turned
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    moved = model.resemblance(frames @ turn.T + np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(moved.probabilities, got.probabilities, atol=1e-6)


def test_round_trip_through_json_is_exact_and_the_file_is_readable(tmp_path):
    model = _model()
    path = model.save(tmp_path / "sub" / "sm.json")
    back = load_source_model(path)
    for k in ("mean", "scale", "coef", "intercept", "low", "high"):
        np.testing.assert_array_equal(getattr(back, k), getattr(model, k))
    assert (back.sources, back.spec, back.info) == (model.sources, model.spec, {"note": "test"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["sm.json"]  # no temporary file left


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other"), "not a source model"),
    (lambda d: d.pop("coef"), "'coef' is missing"),
    (lambda d: d.update(coef=[[0.0] * NUM_CUES] * 2), f"'coef' has shape (2, {NUM_CUES}), expected (3, {NUM_CUES})"),
    (lambda d: d.update(cues=d["cues"][:-1]), "cue list differs"),
    (lambda d: d["scale"].__setitem__(0, 0.0), "'scale' must be > 0"),
    (lambda d: d["mean"].__setitem__(0, float("nan")), "non-finite"),
    (lambda d: d.update(spec="view,bogus"), "source model:"),
    (lambda d: d.update(sources=["A"], coef=[[0.0] * NUM_CUES], intercept=[0.0]), "at least 2"),
])
def test_a_broken_file_gets_a_clear_error(tmp_path, change, message):
    d = _model().to_dict()
    assert d["format"] == FORMAT
    change(d)
    path = tmp_path / "sm.json"
    path.write_text(json.dumps(d))
    with pytest.raises(SourceModelError) as err:
        load_source_model(path)
    assert message in str(err.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(SourceModelError, match="bench/source_model.py writes it"):
        load_source_model(tmp_path / "none.json")
    (tmp_path / "bad.json").write_bytes(b"\xff{not json")
    with pytest.raises(SourceModelError, match="not valid JSON"):
        load_source_model(tmp_path / "bad.json")


def test_the_shipped_model_says_what_its_file_recorded_about_the_real_ntu_clips(ntu_samples):
    model = load_source_model(SOURCE_MODEL_FILE)
    assert model.sources == ("NW-UCLA", "MSR Action3D", "GTU3D") and model.spec == "view,joints"
    recorded = model.info["ntu_samples"]
    assert sorted(recorded) == sorted(p.name for p in ntu_samples.glob("*.skeleton"))
    for name, rec in recorded.items():
        got = model.resemblance(read_ntu_skeleton(ntu_samples / name).frames)
        assert got.best == rec["resembles"]
        np.testing.assert_allclose(got.probabilities, rec["probabilities"], atol=1e-4)
        assert len(got.unusual) == rec["unusual_cues"]


def test_the_shipped_model_names_the_dataset_of_real_pool42_clips(shared_data):
    from star.data import get_benchmark
    from star.data.benchmarks import POOL42_COMPONENTS

    model = load_source_model(SOURCE_MODEL_FILE)
    bench = get_benchmark("pool42-32/10")
    bank = bench.load_bank(shared_data)
    source = bench.component_of(bank)
    rng = np.random.default_rng(0)
    for k, comp in enumerate(POOL42_COMPONENTS):
        picks = rng.choice(np.flatnonzero(source == k), 20, replace=False)
        hits = [model.resemblance(bank.clip(int(i)).frames).best == model.sources[k] for i in picks]
        assert np.mean(hits) >= 0.9, comp.prefix


def test_the_shipped_model_says_what_its_file_recorded_about_a_real_video():
    from conftest import shared_video
    from star.video import extract_pose

    path = shared_video("two_people.mp4")
    rec = load_source_model(SOURCE_MODEL_FILE).info["video_samples"][path.name]
    got = load_source_model(SOURCE_MODEL_FILE).resemblance(extract_pose(path).to_clip().frames)
    assert got.best == rec["resembles"] and got.unlike_all == rec["unlike_all"]
    np.testing.assert_allclose(got.probabilities, rec["probabilities"], atol=1e-4)
    assert len(got.unusual) == rec["unusual_cues"]
