"""Your own labelled clips: a bank scored among its class names (star.inference.score_labelled) and on Predict."""

from __future__ import annotations

import numpy as np

from conftest import app_session


def test_labelled_clips_give_accuracy_ranks_and_a_confusion_that_agree(repo_root, shared_data):
    """A bank's labelled clips scored among its own class names: every number follows from the per-clip rankings,
    and the top lists are star predict's (the same ranking, the same schema)."""
    from star.data.clipbank import ClipBank
    from star.inference import Predictor, score_labelled

    bank = ClipBank.load(shared_data / "utdmhad.npz")
    picks = [int(np.flatnonzero(bank.label == c)[0]) for c in range(6)]
    clips = [bank.clip(i) for i in picks]
    names = bank.class_names[:6] + ["juggling three balls"]  # a candidate no clip has
    predictor = Predictor.load(repo_root / "checkpoints" / "star-openvocab-pool69")
    got = score_labelled(predictor, clips, bank.class_names, names, top_k=3)
    ranked = predictor.rank_names(clips, names)
    assert [r["top"][0]["class"] for r in got["rows"]] == [r[0]["class"] for r in ranked]
    assert [len(r["top"]) for r in got["rows"]] == [3] * 6
    assert [r["rank"] for r in got["rows"]] == [[t["class"] for t in r].index(bank.class_names[c.label]) + 1
                                                for r, c in zip(ranked, clips)]
    assert got["accuracy"] == np.mean([r["rank"] == 1 for r in got["rows"]]) and got["clips"] == 6
    assert got["confusion"].sum() == 6 and got["confusion"].shape == (7, 7)
    assert np.trace(got["confusion"]) == sum(r["right"] for r in got["rows"])
    assert [p["class"] for p in got["per_class"]] == bank.class_names[:6]
    other = score_labelled(predictor, clips, bank.class_names, ["juggling three balls", bank.class_names[0]])
    assert other["clips"] == 1 and [r["rank"] for r in other["rows"]][1:] == [None] * 5


def test_an_uploaded_labelled_bank_on_predict(repo_root, shared_data, tmp_path, monkeypatch):
    """A bank uploaded on Predict: the clip's true class and its rank; every clip scored on request, with accuracy,
    per class, the wrong clips and a JSON download in star predict's schema."""
    import io

    from star.data.clipbank import ClipBank
    from star.inference import Predictor, score_labelled

    bank = ClipBank.load(shared_data / "utdmhad.npz")
    small = bank.subset([int(np.flatnonzero(bank.label == c)[0]) for c in (0, 1, 2, 3)])
    buffer = io.BytesIO()
    np.savez(buffer, **small.to_arrays())
    at = app_session(monkeypatch, tmp_path, page="pages/predict.py")
    at.radio(key="predict_source").set_value("Upload a clip bank").run()
    at.file_uploader(key="predict_bank_upload").upload("mine.npz", buffer.getvalue()).run()
    assert not at.exception, [e.value for e in at.exception]
    predictor = Predictor.load(repo_root / "checkpoints" / "star-openvocab-pool69")
    clips = [small.clip(i) for i in range(len(small))]
    want = score_labelled(predictor, clips, small.class_names, small.class_names)
    place = want["rows"][0]["rank"]
    assert any(m.value == f"**True class: {small.class_names[clips[0].label]}**, ranked {place} of the bank's "
               f"{len(small.class_names)} class names." for m in at.markdown)
    at.toggle(key="labelled_start").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.metric if m.label == "Top-1 accuracy"] == [f"{want['accuracy'] * 100:.1f} %"]
    download = [d for d in at.get("download_button")]
    assert download  # the predictions, as star predict --json writes them


def test_a_prediction_downloads_as_star_predict_json(repo_root, tmp_path, monkeypatch, capsys):
    from star.cli import main
    from ui.clips import builtin_samples

    at = app_session(monkeypatch, tmp_path, "star-pool42-32-10", "pages/predict.py")
    button = [d for d in at.get("download_button") if "as star predict --json" in d.proto.label]
    assert len(button) == 1
    sample = builtin_samples()[0]
    assert main(["predict", str(sample.path), "--checkpoint", str(repo_root / "checkpoints" / "star-pool42-32-10"),
                 "--json"]) == 0
    cli = capsys.readouterr().out.splitlines()[0]
    from star.inference import Predictor
    from ui.clips import load_sample, prediction_json

    pred = Predictor.load(repo_root / "checkpoints" / "star-pool42-32-10").predict([load_sample(sample)], top_k=5)[0]
    assert prediction_json(pred.source, pred.zsl_top) == cli + "\n"  # the page's download is this line
