"""The app's streamlit-free helpers (``ui.checkpoints``, ``ui.model_view``, ``ui.clips``), and the library's side
of the split: ``star/`` never imports streamlit nor knows session state."""

from __future__ import annotations

import dataclasses
import io
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # `ui` sits next to app.py (Streamlit puts that folder on sys.path)

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, Checkpoint, CheckpointError, list_checkpoints  # noqa: E402
from ui import checkpoints as ck  # noqa: E402
from ui.model_view import ModelView  # noqa: E402


@pytest.fixture(scope="module")
def shipped() -> Path:
    paths = list_checkpoints(REPO / "checkpoints")
    if not paths:
        pytest.fail("no shipped checkpoints in checkpoints/")
    return min(paths, key=lambda p: (p / WEIGHTS).stat().st_size)


def test_library_never_imports_streamlit_nor_knows_session_state():
    hits = [str(p.relative_to(REPO)) for p in (REPO / "star").rglob("*.py")
            if re.search(r"import streamlit|session_state", p.read_text())]
    assert hits == []


# ----------------------------------------------------------------------------------- roots and typed paths
@pytest.fixture
def roots(tmp_path) -> list[Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for root, names in ((a, ["one", "two"]), (b, ["two", "three"])):
        for n in names:
            (root / n).mkdir(parents=True)
            (root / n / SIDECAR).write_text("{}")
    (a / "runs" / "deep").mkdir(parents=True)
    return [a, b]


def test_choices_are_the_checkpoints_under_every_root(roots):
    a, b = roots
    assert ck.checkpoint_choices(roots) == {"one": a / "one", "two": a / "two", "b/two": b / "two",
                                            "three": b / "three"}
    assert ck.default_choice(["x", ck.DEFAULT_CHECKPOINT]) == ck.DEFAULT_CHECKPOINT
    assert ck.default_choice(["x", "y"]) == "x" and ck.default_choice([]) is None


def test_roots_come_from_star_checkpoint_dirs(roots, monkeypatch):
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", os.pathsep.join(str(r) for r in roots))
    assert list(ck.checkpoint_choices()) == ["one", "two", "three", "b/two"]
    assert ck.resolve_typed_path("three") == (roots[1] / "three").resolve()


def test_typed_paths_inside_a_root_resolve(roots):
    a, b = roots
    assert ck.resolve_typed_path(str(a / "one"), roots) == (a / "one").resolve()
    assert ck.resolve_typed_path(f"  {a / 'runs' / 'deep'}  ", roots) == (a / "runs" / "deep").resolve()
    assert ck.resolve_typed_path("three", roots) == (b / "three").resolve()  # relative: the root that has it
    assert ck.resolve_typed_path("runs/../two", roots) == (a / "two").resolve()
    assert ck.resolve_typed_path("missing", roots) == (a / "missing").resolve()  # the loader says it is missing


def test_typed_paths_outside_the_roots_get_one_message_that_reveals_nothing(roots, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (roots[0] / "link").symlink_to(outside)
    typed = ["/etc", "/etc/passwd", "/no/such/folder", str(outside), str(tmp_path / "missing"), "..",
             "../secret", str(roots[0] / ".." / "secret"), str(roots[0]), str(roots[0] / "link"), "",
             "   ", "a\x00b"]
    messages = set()
    for t in typed:
        with pytest.raises(ck.CheckpointRefused) as err:
            ck.resolve_typed_path(t, roots)
        messages.add(str(err.value))
    with pytest.raises(ck.CheckpointRefused):
        ck.resolve_typed_path("link", roots[:1])  # relative, through the symlink in the only root
    assert messages == {ck.REFUSED}
    assert issubclass(ck.CheckpointRefused, CheckpointError)


def test_visitor_messages_name_the_label_not_the_server_path(tmp_path):
    exc = CheckpointError(f"{tmp_path / 'x'}: missing model.safetensors")
    assert ck.visitor_message(exc, tmp_path / "x", "x") == "x: missing model.safetensors"


@pytest.mark.parametrize("spec, safe", [
    ("minilm", True), ("minilm:all-MiniLM-L6-v2", True), ("openclip:ViT-L-14-336-quickgelu:openai", True),
    ("openclip:ViT-B-32:/etc/passwd", False), ("openclip:ViT-B-32:weights.safetensors", False),
    ("openclip:ViT-B-32:../x", False), ("openclip:ViT-B-32", False), ("something-else", False), ("", False),
    ("st:/models/all-mpnet-base-v2", False), ("st:all-mpnet-base-v2", False),
])
def test_uploaded_checkpoints_may_not_name_a_weights_file_for_their_text_encoder(spec, safe):
    assert ck.encoder_is_safe({"text_encoder": {"id": "whatever", "spec": spec}}) is safe


def _zip(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in (WEIGHTS, SIDECAR, BUNDLE):
            zf.writestr(n, (folder / n).read_bytes())
        for n, d in (extra or {}).items():
            zf.writestr(n, d)
    return buf.getvalue()


def test_uploaded_checkpoint_lives_in_its_own_temporary_folder_until_released(shipped, tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    up = ck.UploadedCheckpoint.unpack("id-1", "/some/client/path/mine.zip", _zip(shipped))
    assert up.error is None and up.label == "mine.zip"
    assert up.path.is_dir() and up.path.is_relative_to(tmp_path)
    assert ModelView.load(up.path).name == ModelView.load(shipped).name
    up.release()
    assert not up.path.exists() and list(tmp_path.iterdir()) == []
    up.release()  # twice is harmless

    bad = ck.UploadedCheckpoint.unpack("id-2", "evil.zip", _zip(shipped, {"../../x.py": b"print()"}))
    assert bad.path is None and bad.error.startswith("evil.zip: ") and "path part" in bad.error
    assert list(tmp_path.iterdir()) == []  # nothing left of a refused upload


# ----------------------------------------------------------------------------------- the model view
def test_model_view_is_a_checkpoint_plus_its_bundle(shipped):
    own = {f.name for f in dataclasses.fields(ModelView)} - {f.name for f in dataclasses.fields(Checkpoint)}
    assert own == {"bundle", "digest"}
    assert not {"name", "class_names", "seen", "unseen", "gamma", "path", "meta"} & set(vars(ModelView))
    view = ModelView.load(shipped)
    assert isinstance(view, Checkpoint) and view.path == shipped
    assert view.scores.shape == (len(view.labels), len(view.class_names))
    assert view.identity == f"{view.name}::{view.digest}"


def test_upload_reader_errors_name_the_uploaded_file():
    from star.skeleton.clip import SkeletonFormatError
    from ui.clips import clip_from_upload

    with pytest.raises(SkeletonFormatError, match=r"^broken\.skeleton"):
        clip_from_upload("broken.skeleton", b"3\nnot a skeleton file\n")
    with pytest.raises(SkeletonFormatError, match="ending in"):
        clip_from_upload("notes.pdf", b"%PDF")


def test_clip_banks_from_the_data_folder_with_its_documented_default(tmp_path, monkeypatch):
    """``$STAR_DATA_DIR`` when set, else ``star.paths.data_dir()``'s default ``<repo>/../shared/data``; only .npz
    files with an 'offsets' key; nothing (no error) when the folder is missing."""
    import numpy as np

    import star.paths
    from ui.clips import clip_banks

    explicit, shared = tmp_path / "explicit", tmp_path / "shared" / "data"
    for folder in (explicit, shared / "sub"):
        folder.mkdir(parents=True)
        np.savez(folder / "bank.npz", offsets=np.array([0]))
        np.savez(folder / "other.npz", x=np.array([0]))
    monkeypatch.setattr(star.paths, "REPO_ROOT", tmp_path / "repo")  # the default is then tmp_path/shared/data
    monkeypatch.delenv("STAR_DATA_DIR", raising=False)
    assert clip_banks() == [shared / "sub" / "bank.npz"]
    monkeypatch.setenv("STAR_DATA_DIR", str(explicit))
    assert clip_banks() == [explicit / "bank.npz"]
    monkeypatch.setenv("STAR_DATA_DIR", str(tmp_path / "missing"))
    assert clip_banks() == []
    assert clip_banks(shared) == [shared / "sub" / "bank.npz"]


# ----------------------------------------------------------------------------------- the gamma story
def _meta(**gamma_and_metrics) -> dict:
    """A sidecar with every optional gamma field (the current recipe); keyword arguments override."""
    gamma = {"value": 0.352, "chosen_by": "validation: best H on the pseudo-unseen fold", "epoch": 7,
             "val_H": 0.52, "val_S": 0.6, "val_U": 0.46, "val_zsl": 0.41, "pseudo_unseen_classes": [1, 3],
             "select_by": "H", "protocol": "protocol", "backbone": "pseudo-seen", "smooth_epochs": 3,
             "held_out": {"nwucla": {"rule": "view", "groups": [2]},
                          "gtu3d": {"rule": "every third clip per class", "groups": []}},
             "fold_sizes": {"train": 800, "val_seen": 150, "val_unseen": 60}}
    metrics = {"zsl_acc": 0.6, "S": 0.45, "U": 0.56, "H": 0.499, "H_best_test": 0.507, "gamma_best_test": 0.361}
    for k, v in gamma_and_metrics.items():
        (metrics if k in metrics else gamma)[k] = v
    return {"class_names": ["walk", "sit down", "wave", "throw"], "gamma": gamma, "metrics": metrics}


def test_gamma_story_tells_the_fold_the_epoch_and_a_good_transfer():
    from ui.model_view import gamma_story

    assert gamma_story(_meta()) == [
        "**How it was chosen.** Gamma 0.352 was chosen by validation: best H on the pseudo-unseen fold. "
        "The fold replays each source's own test protocol inside its training data: the held-out clips come from "
        "views or subjects the head never trained on, as the test clips do. "
        "Held out: nwucla: view 2; gtu3d: every third clip per class. "
        "Seen classes played unseen: sit down, throw. "
        "Clips: 800 to train on, 150 pseudo-seen and 60 pseudo-unseen to validate on. "
        "Its features come from a second backbone trained on the fold's training clips only, so the pseudo-unseen "
        "classes were truly unseen.",
        "The chosen epoch is 7, the one with the best validation H (the harmonic mean of S and U) averaged over 3 "
        "neighbouring epochs; gamma is the value that maximises validation H at that epoch. "
        "There, validation H is 52.0% (S 60.0%, U 46.0%), ZSL accuracy 41.0%.",
        "**How it transfers to the test clips.** At gamma 0.352 the test clips score H 49.9% (S 45.0%, U 56.0%). "
        "The best H any gamma reaches on them is 50.7%, at gamma 0.361 (picked on the test set: the paper's "
        "optimistic protocol, never used to choose). Gap: 0.8 points.",
        "**Verdict:** the validation gamma transfers well (within 3 points of the test-best H).",
    ]


def test_gamma_story_says_which_way_a_poorly_transferring_gamma_errs():
    from ui.model_view import gamma_story

    larger = gamma_story(_meta(value=0.45, gamma_best_test=0.30, H=0.35, H_best_test=0.46, protocol="clips",
                               backbone="shared", smooth_epochs=1, select_by="zsl"))
    assert "Gap: 11.0 points." in larger[2]
    assert larger[3] == ("**Verdict:** the validation gamma is larger than the test-best one (0.450 vs 0.300): it "
                         "favours unseen classes too much, so S drops.")
    assert "from the same views and subjects the model trains on" in larger[0]
    assert "from the run's own backbone, which did see the pseudo-unseen classes" in larger[0]
    assert larger[1].startswith("The chosen epoch is 7, the one with the best validation ZSL accuracy on the "
                                "pseudo-unseen classes; gamma")
    smaller = gamma_story(_meta(value=0.20, gamma_best_test=0.30, H=0.35, H_best_test=0.46))
    assert smaller[3] == ("**Verdict:** the validation gamma is smaller than the test-best one (0.200 vs 0.300): it "
                          "favours seen classes too much, so U drops.")


def test_gamma_story_tells_several_folds_and_their_spread():
    from ui.model_view import gamma_story

    meta = _meta(backbone="shared")
    meta["gamma"].update(folds=2, fold_at_epoch=[{"fold": 0, "val_gamma": 0.3, "val_H": 0.5},
                                                 {"fold": 1, "val_gamma": 0.404, "val_H": 0.54}])
    story = gamma_story(meta)
    assert ("There are 2 such folds, each with its own pseudo-unseen classes and held-out groups; the epoch is "
            "chosen on their mean curve and gamma is their mean. Fold 1 is shown.") in story[0]
    assert "At the chosen epoch the folds give gamma 0.300, 0.404 and H 50.0%, 54.0%." in story[0]
    assert story[1].endswith("gamma is the folds' mean of the value that maximises each fold's validation H at that "
                             "epoch. There, mean validation H is 52.0% (S 60.0%, U 46.0%), ZSL accuracy 41.0%.")


def test_gamma_story_skips_what_an_old_sidecar_lacks():
    from ui.model_view import gamma_story, validation_curve

    old = {"gamma": {"value": 0.4}, "metrics": {"H": 0.3}}
    assert gamma_story(old) == [
        "**How it was chosen.** Gamma 0.400 comes from validation data, never from test clips.",
        "**How it transfers to the test clips.** At gamma 0.400 the test clips score H 30.0%.",
    ]
    assert gamma_story({"gamma": {"value": 0.4}, "metrics": {}}) == [gamma_story(old)[0]]
    assert validation_curve(old) is None


def test_gamma_story_and_validation_curve_of_a_shipped_checkpoint(shipped):
    from star import viz
    from ui.model_view import gamma_story, validation_curve

    meta = ModelView.load(shipped).meta
    story = gamma_story(meta)
    m = meta["metrics"]
    assert f"Gap: {(m['H_best_test'] - m['H']) * 100:.1f} points." in story[2]
    assert story[3].startswith("**Verdict:** ")
    assert all(meta["class_names"][c] in story[0] for c in meta["gamma"]["pseudo_unseen_classes"])
    curve = validation_curve(meta)
    assert curve["stage"] == "validation" and curve["chosen_epoch"] == meta["gamma"]["epoch"]
    assert len(curve["val_H"]) == len(curve["epoch"])
    fig = viz.validation_curve(curve["epoch"], curve, curve["chosen_epoch"])
    chosen = [t for t in fig.data if t.name == "chosen epoch"]
    assert len(chosen) == 1 and chosen[0].y[0] == pytest.approx(meta["gamma"]["val_H"] * 100)


def test_validation_curve_takes_the_chosen_taus_run_and_draws_what_is_there():
    from star import viz
    from ui.model_view import validation_curve

    runs = {f"validation tau={t:g}": {"epoch": [1, 2, 3], "val_H": [0.1, t, 0.3], "val_S": [0.5, 0.6, 0.7],
                                      "val_U": [0.2, 0.3, 0.4], "lr": [0.01] * 3} for t in (0.05, 0.1)}
    meta = {"gamma": {"value": 0.3, "epoch": 2}, "tau": {"initial": 0.1},
            "learning_curves": {**runs, "final": {"epoch": [1, 2], "loss_total": [1.0, 0.5]}}}
    curve = validation_curve(meta)
    assert curve == {"stage": "validation tau=0.1", "epoch": [1, 2, 3], "chosen_epoch": 2,
                     "val_H": [0.1, 0.1, 0.3], "val_S": [0.5, 0.6, 0.7], "val_U": [0.2, 0.3, 0.4]}
    fig = viz.validation_curve(curve["epoch"], curve, curve["chosen_epoch"])
    assert [t.name for t in fig.data] == ["H", "S (pseudo-seen)", "U (pseudo-unseen)", "chosen epoch"]
    assert list(fig.data[1].y) == pytest.approx([50, 60, 70])
    assert list(fig.data[3].x) == [2] and fig.data[3].y[0] == pytest.approx(10)
    assert [t.name for t in viz.validation_curve([1, 2], {"val_H": [0.1, 0.2]}, chosen_epoch=5).data] == ["H"]


def test_training_precision_reads_the_sidecar_config_and_defaults_to_fp32():
    from ui.model_view import training_precision

    assert training_precision({}) == "backbone fp32, head fp32"
    assert training_precision({"config": {"head": {"precision": "bf16"}, "backbone": {}}}) == "backbone fp32, head bf16"


def test_class_score_names_the_part_weight_and_how_it_was_chosen():
    from ui.model_view import class_score

    assert class_score({}) == "cos(global feature, class name) (the paper's score)"
    assert class_score({"score": {"part_weight": 0.0}}) == class_score({})
    text = class_score({"score": {"part_weight": 2.0, "chosen_by": "validation: best H over head.part_weight_grid"}})
    assert text == ("cos(global, name) + 2 x mean over parts of cos(part, description); "
                    "weight: validation: best H over head.part_weight_grid")


def test_part_pooling_tells_attention_from_mean_pooled_parts_and_the_baseline():
    from ui.model_view import part_pooling

    assert part_pooling({"model": "baseline"}).startswith("none: one global feature")
    assert part_pooling({"model": "star", "head_config": {"use_attention": True}}).startswith("cross-attention")
    assert part_pooling({"model": "star"}) == part_pooling({"model": "star", "head_config": {"use_attention": True}})
    assert part_pooling({"model": "star", "head_config": {"use_attention": False}}).startswith("mean of the part's")


def test_gamma_story_tells_the_part_weight_validation_chose():
    from ui.model_view import gamma_story

    meta = _meta()
    assert not any("part weight" in p for p in gamma_story(meta))  # a fixed weight is not a validation choice
    meta["score"] = {"part_weight": 1.0, "grid": [0.0, 0.5, 1.0]}
    assert ("With it, validation chose the class score's part weight 1 out of 0, 0.5, 1 (0: the global feature "
            "against the class names only; more: the body parts against their descriptions count too).") in gamma_story(meta)[1]


def test_nice_step_is_1_2_or_5_times_a_power_of_ten_at_most_span_over_steps():
    from ui.model_view import nice_step

    assert nice_step(11.3) == pytest.approx(0.02)  # 11.3 / 500 = 0.0226
    assert nice_step(0.85) == pytest.approx(0.001)  # 0.0017
    assert nice_step(2.5) == pytest.approx(0.005)
    assert nice_step(1.0, steps=100) == pytest.approx(0.01)
    assert nice_step(0.0) == pytest.approx(1e-3)


def test_gamma_scale_spans_the_middle_margins_and_holds_the_checkpoint_gamma():
    import numpy as np

    from star.zsl import gzsl_margins
    from ui.model_view import ModelView, gamma_bounds, gamma_scale

    view = ModelView.load(REPO / "checkpoints" / "baseline-pool42-32-10")
    scale = gamma_scale(view)
    q1, q99 = np.percentile(gzsl_margins(view.scores, view.seen, view.unseen), [1, 99])
    assert scale.lo <= q1 and scale.hi >= q99 and scale.lo <= view.gamma <= scale.hi
    assert scale.hi - scale.lo <= 1.3 * (q99 - q1) + 2 * scale.step  # padded by a tenth each side, no more
    for end in (scale.lo, scale.hi):  # the ends lie on the step grid
        assert abs(end / scale.step - round(end / scale.step)) < 1e-6
    lo, hi = gamma_bounds(view)  # the box: every decision (0 included), and the slider's range
    assert (scale.box_lo, scale.box_hi) == pytest.approx((min(lo, scale.lo), max(hi, scale.hi)))
    assert scale.decimals == 3


def test_vocabulary_presets():
    from star.data.benchmarks import class_list
    from ui.clips import CUSTOM, OWN_CLASSES, POOL69, VOCABULARY_PRESETS, vocabulary

    assert vocabulary(OWN_CLASSES, ["a", "b"]) == ["a", "b"]
    assert vocabulary("NTU RGB+D 60", []) == list(class_list("ntu120")[:60])
    assert len(vocabulary("NTU RGB+D 120", [])) == 120 and len(vocabulary("PKU-MMD", [])) == 51
    assert vocabulary(CUSTOM, [], " wave \n\nclap\nwave\n") == ["wave", "clap"]  # blanks and repeats dropped
    assert set(VOCABULARY_PRESETS) == {OWN_CLASSES, "NTU RGB+D 60", "NTU RGB+D 120", "PKU-MMD", POOL69, CUSTOM}
    with pytest.raises(ValueError, match="unknown vocabulary"):
        vocabulary("Kinetics", [])


def test_active_runs_counts_the_others():
    from ui.loaders import ActiveRuns

    runs = ActiveRuns()
    assert runs.enter() == 0 and runs.enter() == 1
    runs.exit()
    assert runs.enter() == 1
    runs.exit(), runs.exit(), runs.exit()  # never below zero
    assert runs.enter() == 0


def test_model_page_texts_are_words():
    from ui.model_view import ModelView, config_rows, metric_rows, text_encoder_text

    view = ModelView.load(REPO / "checkpoints" / "star-pool42-32-10")
    rows = metric_rows(view.meta)
    assert [r["metric"] for r in rows] == ["ZSL accuracy", "Seen accuracy (S)", "Unseen accuracy (U)",
                                           "Harmonic mean (H)", "Best H on test", "AUSUC"]
    assert rows[3]["value"] == f"{view.meta['metrics']['H'] * 100:.2f} %"
    assert text_encoder_text(view.meta).startswith("all-MiniLM-L6-v2 sentence encoder")
    settings = {r["setting"]: r["value"] for r in config_rows(view.meta)}
    assert settings["head: part weights tried on validation"] == "0, 0.5, 1, 2, 4, 8, 16"
    assert settings["validation folds"] == "3" and settings["backbone: precision"] == "bf16"


def test_a_process_that_ends_during_the_warm_up_exits_cleanly(repo_root):
    """The warm-up thread is inside torch when the interpreter ends: it is stopped and joined at exit (a daemon thread
    left in torch aborted the process with status 134)."""
    import subprocess
    import sys

    code = ("import time; from ui import loaders, clips; from ui.checkpoints import cache_key; "
            "loaders.WARM_DELAY_S = 0.0; "
            "key = cache_key('checkpoints/star-pool42-32-10'); "
            "assert loaders.warm_samples(key, clips.builtin_samples()); time.sleep(2.0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr


def test_a_warm_start_leaves_nothing_for_the_first_predict_to_compute(repo_root, tmp_path, monkeypatch):
    """`python -m ui.serve` (make app) runs ``loaders.warm_start`` as the server starts: afterwards the first visit to
    Predict loads no model, runs no forward pass and builds no figure of its own."""
    import collections

    from streamlit.testing.v1 import AppTest

    from star import viz
    from star.inference import Predictor
    from ui import loaders

    root = tmp_path / "root"
    root.mkdir()
    (root / "star-pool42-32-10").symlink_to(repo_root / "checkpoints" / "star-pool42-32-10", target_is_directory=True)
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(root))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(loaders, "WARM_DELAY_S", 3600.0)  # the page's own warm-up of the other samples stays idle
    for cached in (loaders.load_view, loaders.load_predictor, loaders.predict, loaders.animation,
                   loaders.attention_figure, loaders.gamma_scale):
        cached.clear()
    calls = collections.Counter()

    def counted(name, function):
        def wrapper(*args, **kwargs):
            import threading

            if threading.current_thread().name != "star-warm-samples":  # other tests' sample warm-ups in this worker
                calls[name] += 1
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(Predictor, "load", classmethod(counted("model", Predictor.load.__func__)))
    monkeypatch.setattr(Predictor, "predict", counted("forward", Predictor.predict))
    monkeypatch.setattr(viz, "skeleton_animation", counted("animation", viz.skeleton_animation))
    monkeypatch.setattr(viz, "part_attention_heatmaps", counted("attention", viz.part_attention_heatmaps))
    assert loaders.warm_start()
    assert calls == {"model": 1, "forward": 1, "animation": 1, "attention": 1}
    at = AppTest.from_file(str(repo_root / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/predict.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.value.startswith("**Prediction (ZSL):") for m in at.markdown)
    assert calls == {"model": 1, "forward": 1, "animation": 1, "attention": 1}
