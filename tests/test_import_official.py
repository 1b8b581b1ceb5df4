"""``star import-official``: a run file with exactly the authors' ModelMatch key names and shapes (random values)
imports, and our pipeline scores exactly as a reference forward written here from their code's maths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from star.checkpoint import load_checkpoint
from star.data.benchmarks import get_benchmark
from star.models import ShiftGCN
from star.official import OfficialImportError, import_official, map_state_dict
from star.pipeline import StarPipeline

# their body_part_index_list, in their order: head, hand, arm, hip, leg, foot
THEIR_PARTS = [[2, 3, 20], [7, 11, 21, 22, 23, 24], [4, 5, 6, 8, 9, 10], [0, 1], [12, 13, 16, 17], [14, 15, 18, 19]]


def their_state_dict(num_classes: int, seed: int = 0, prompt_rows: int | None = None) -> dict[str, torch.Tensor]:
    """A ModelMatch state dict as main_ntu_match.py saves it: every key name and shape of their model, random values
    (scaled so that attention and cosines are not degenerate)."""
    g = torch.Generator().manual_seed(seed)

    def r(*shape, scale=0.05):
        return torch.randn(*shape, generator=g) * scale

    torch.manual_seed(seed)
    sd = {f"pretraining_model.{k}": v.clone() for k, v in ShiftGCN(num_classes=60, num_person=2).state_dict().items()}
    rows = num_classes if prompt_rows is None else prompt_rows
    for i, joints in enumerate(THEIR_PARTS):
        sd[f"body_part_index_list.{i}"] = torch.tensor(joints)
        sd[f"body_part_prompts.{i}"] = r(100, 768, scale=1.0)
        a = f"body_part_st_attention_networks.{i}."
        sd[a + "q_proj_weight"], sd[a + "k_proj_weight"], sd[a + "v_proj_weight"] = r(768, 768), r(768, 256), r(768, 256)
        sd[a + "in_proj_bias"], sd[a + "out_proj.weight"], sd[a + "out_proj.bias"] = r(2304), r(768, 768), r(768)
        for m in (1, 2):
            sd[f"body_part_mapping_matrix{m}.{i}.weight"], sd[f"body_part_mapping_matrix{m}.{i}.bias"] = r(768, 768), r(768)
        sd[f"body_part_w.{i}"] = r(768, 768)
        sd[f"pd_mapping_matrix1.{i}.weight"], sd[f"pd_mapping_matrix1.{i}.bias"] = r(256, 768), r(256)
        sd[f"pd_mapping_matrix2.{i}.weight"], sd[f"pd_mapping_matrix2.{i}.bias"] = r(100, 256), r(100)
        sd[f"gcn_part_classifier.{i}.weight"], sd[f"gcn_part_classifier.{i}.bias"] = r(100, 256), r(100)
        sd[f"pd_prompt.{i}"] = r(rows, 768, scale=1.0)
    sd["part_weights_factor"] = torch.ones(1, 6)
    sd["crossmodal_align1.weight"], sd["crossmodal_align1.bias"] = r(256, 768), r(256)
    sd["crossmodal_align2.weight"], sd["crossmodal_align2.bias"] = r(100, 256), r(100)
    sd["global_fc1.weight"], sd["global_fc1.bias"] = r(256, 600), r(256)
    sd["global_fc2.weight"], sd["global_fc2.bias"] = r(100, 256), r(100)
    sd["gcn_flobal_classifier.weight"], sd["gcn_flobal_classifier.bias"] = r(num_classes, 256), r(num_classes)
    return sd


def their_text_features(num_rows: int, seed: int = 1) -> dict[int, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(num_rows, 768, generator=g) for k in range(7)}


@torch.no_grad()
def reference_scores(sd: dict, x: torch.Tensor, names: torch.Tensor) -> torch.Tensor:
    """Their get_zsl_acc / get_gzsl_acc scores (before argmax), written from model/shiftgcn_match_ntu.py's maths:
    body maps -> their (N*M, C, T', V).view(N, C, T', V, M).mean(4) -> per part cross-attention, FFN,
    einsum('iv,vf,bif->bi') -> global = parts weighted by part_weights_factor -> cosine with the projected names."""
    backbone = ShiftGCN(num_classes=60, num_person=2)
    backbone.load_state_dict({k[len("pretraining_model."):]: v for k, v in sd.items()
                              if k.startswith("pretraining_model.")})
    backbone.eval()
    maps = backbone.body_maps(x)  # (N, M, C, T', V)
    n, m, c, t, v = maps.shape
    gcn_x = maps.reshape(n * m, c, t, v).view(n, c, t, v, m).mean(4)
    part_scores = []
    for i, joints in enumerate(THEIR_PARTS):
        tokens = gcn_x[:, :, :, joints].reshape(n, c, -1).permute(0, 2, 1)
        attn = nn.MultiheadAttention(embed_dim=768, kdim=256, vdim=256, num_heads=4, batch_first=True)
        prefix = f"body_part_st_attention_networks.{i}."
        attn.load_state_dict({k[len(prefix):]: val for k, val in sd.items() if k.startswith(prefix)})
        attn.eval()
        prompts = sd[f"body_part_prompts.{i}"]
        att, _ = attn(prompts.unsqueeze(0).expand(n, -1, -1), tokens, tokens)
        e = F.relu(F.linear(att, sd[f"body_part_mapping_matrix1.{i}.weight"], sd[f"body_part_mapping_matrix1.{i}.bias"]))
        e = F.linear(e, sd[f"body_part_mapping_matrix2.{i}.weight"], sd[f"body_part_mapping_matrix2.{i}.bias"])
        part_scores.append(torch.einsum("iv,vf,bif->bi", prompts, sd[f"body_part_w.{i}"], e).unsqueeze(1))
    glob = torch.einsum("bpd,qp->bdq", torch.cat(part_scores, 1), sd["part_weights_factor"]).squeeze(2)
    lab = F.relu(F.linear(names, sd["crossmodal_align1.weight"], sd["crossmodal_align1.bias"]))
    lab = F.linear(lab, sd["crossmodal_align2.weight"], sd["crossmodal_align2.bias"])
    return torch.einsum("nk,jk->nj", F.normalize(glob, dim=1), F.normalize(lab, dim=1))


def two_body_clips(count: int, seed: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        frames = rng.normal(0, 0.3, (2, 30 + 7 * i, 25, 3)).astype(np.float32)
        frames[1] += 1.0  # the second performer a metre away
        clips.append(frames)
    return clips


@pytest.fixture(scope="module", params=["ntu60-xsub-55/5", "pku-xsub-46/5"])
def imported(request, tmp_path_factory):
    bench = get_benchmark(request.param)
    tmp = tmp_path_factory.mktemp("official")
    sd = their_state_dict(bench.num_classes)
    torch.save(sd, tmp / "runs-40-23480.pt")
    text = their_text_features(120 if request.param.startswith("ntu") else bench.num_classes)
    torch.save(text, tmp / "text.tar")
    out = import_official(tmp / "runs-40-23480.pt", request.param, tmp / "text.tar", tmp / "ckpt")
    return bench, sd, text, out


def test_imported_scores_equal_their_forward_and_the_layout_matters(imported):
    """Our pipeline on their weights equals their maths to 1e-5; the same weights with our correct body averaging
    give other scores, so the recorded switch is what makes them equal."""
    bench, sd, text, out = imported
    pipe = StarPipeline.load(out)
    inputs = pipe.model_inputs(two_body_clips(3))
    ours = pipe.scores(pipe.head_outputs(pipe.backbone_features(inputs)))
    theirs = reference_scores(sd, torch.from_numpy(inputs), text[0][:bench.num_classes]).numpy()
    assert ours.shape == (3, bench.num_classes)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    assert np.ptp(theirs) > 0.1  # the scores discriminate: the comparison is not between constants
    pipe.token_layout = "correct"
    corrected = pipe.scores(pipe.head_outputs(pipe.backbone_features(inputs)))
    assert np.abs(corrected - theirs).max() > 1e-3


def test_the_sidecar_says_where_the_model_came_from(imported):
    bench, sd, text, out = imported
    meta = json.loads((out / "model.json").read_text())
    origin = meta["imported_from"]
    assert meta["token_layout"] == origin["token_layout"] == "official"
    assert origin["run_file"] == "runs-40-23480.pt" and len(origin["run_sha256"]) == 64
    assert sorted(origin["dropped"]) == sorted(k for k in sd if k.startswith(
        ("gcn_part_classifier.", "global_fc1.", "global_fc2.", "gcn_flobal_classifier.")))
    assert origin["dropped"]["gcn_flobal_classifier.weight"] == [bench.num_classes, 256]
    assert origin["semantic_prompts"] == "kept"
    assert meta["text_encoder"]["dim"] == 768 and meta["text_encoder"]["features_file"] == "text.tar"
    family = bench.name.split("-")[0]
    assert meta["gamma"]["value"] == {"ntu60": 0.012, "pku": 0.022}[family]
    assert meta["unseen_classes"] == bench.unseen_classes
    ckpt = load_checkpoint(out)
    torch.testing.assert_close(ckpt.tensors["text.names"], text[0][:bench.num_classes])
    torch.testing.assert_close(ckpt.tensors["text.parts"][1], text[2][:bench.num_classes])  # part 1 = key 2 (hand)
    torch.testing.assert_close(ckpt.tensors["head.semantic_prompts"][5], sd["pd_prompt.5"])


def test_missing_extra_and_misshapen_keys_are_named_in_one_error(tmp_path):
    sd = their_state_dict(60)
    del sd["body_part_w.3"]
    sd["crossmodal_align2.weight"] = torch.zeros(50, 256)
    sd["some_new_layer.weight"] = torch.zeros(3)
    with pytest.raises(OfficialImportError) as info:
        map_state_dict(sd, 60, tmp_path / "runs.pt")
    message = str(info.value)
    assert "missing ['body_part_w.3']" in message
    assert "unexpected ['some_new_layer.weight']" in message
    assert "crossmodal_align2.weight: (50, 256) (expected (100, 256))" in message


def test_a_different_partition_or_weighting_is_refused(tmp_path):
    sd = their_state_dict(60)
    sd["body_part_index_list.0"] = torch.tensor([3, 2, 20])
    with pytest.raises(OfficialImportError, match="body_part_index_list.0 holds joints"):
        map_state_dict(sd, 60, tmp_path / "runs.pt")
    sd = their_state_dict(60)
    sd["part_weights_factor"] = torch.tensor([[1.0, 2.0, 1.0, 1.0, 1.0, 1.0]])
    with pytest.raises(OfficialImportError, match="part_weights_factor"):
        map_state_dict(sd, 60, tmp_path / "runs.pt")


def test_hard_coded_60_prompt_rows_of_an_ntu120_run_are_dropped_and_said(tmp_path):
    sd = their_state_dict(120, prompt_rows=60)
    _, head, report = map_state_dict(sd, 120, tmp_path / "runs.pt")
    assert head["semantic_prompts"].shape == (6, 120, 768) and not head["semantic_prompts"].any()
    assert report["semantic_prompts"].startswith("dropped: pd_prompt has shape [(60, 768)]")


def test_files_that_are_not_theirs_get_one_clear_error_and_nothing_is_written(tmp_path):
    text = tmp_path / "text.tar"
    torch.save(their_text_features(120), text)
    not_torch = tmp_path / "runs.pt"
    not_torch.write_bytes(b"definitely not a torch file")
    with pytest.raises(OfficialImportError, match="not a readable run file"):
        import_official(not_torch, "ntu60-xsub-55/5", text, tmp_path / "out")
    short = tmp_path / "short.tar"
    torch.save({k: torch.zeros(40, 768) for k in range(7)}, short)
    torch.save(their_state_dict(60), tmp_path / "good.pt")
    with pytest.raises(OfficialImportError, match="key 0 has 40 rows, the benchmark has 60 classes"):
        import_official(tmp_path / "good.pt", "ntu60-xsub-55/5", short, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class Boom:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/star-official-pwned",))


def test_a_run_file_that_would_run_code_is_refused_unrun(tmp_path):
    import os

    evil = tmp_path / "runs.pt"
    torch.save({"body_part_w.0": torch.zeros(1), "x": Boom()}, evil)
    if os.path.exists("/tmp/star-official-pwned"):
        os.remove("/tmp/star-official-pwned")
    with pytest.raises(OfficialImportError, match="not a readable run file"):
        import_official(evil, "ntu60-xsub-55/5", evil, tmp_path / "out")
    assert not os.path.exists("/tmp/star-official-pwned")


def test_their_description_text_file_imports_as_our_yaml(tmp_path):
    from star.cli import main
    from star.text.descriptions import DescriptionError, load_descriptions, read_official_descriptions

    lines = ["wave; Head: looks ahead; Hand: palm open, swings side to side; Arm: raised beside the head; "
             "Hip: still; Leg: straight; Foot: flat on the floor",
             "sit down; Head: lowers with the body; Hand: rests on the thighs; Arm: hangs; Hip: drops onto the seat; "
             "Leg: knees bend to ninety degrees; Foot: stays planted"]
    src = tmp_path / "part_descriptions.txt"
    src.write_text("\n".join(lines) + "\n")
    assert main(["describe", "--import", str(src), "--out", str(tmp_path / "d.yaml")]) == 0
    got = load_descriptions(tmp_path / "d.yaml", ["wave", "sit down"], 6)
    assert got["wave"]["hand"] == "palm open, swings side to side"
    assert got["sit down"]["foot"] == "stays planted" and list(got["sit down"]) == ["head", "hand", "arm", "hip",
                                                                                    "leg", "foot"]
    src.write_text(lines[0] + "\nclap; Head: still; Hand: meet\n")
    with pytest.raises(DescriptionError, match="line 2: expected 'name; Head: ...") as info:
        read_official_descriptions(src)
    assert "found parts ['Head', 'Hand']" in str(info.value)


@pytest.fixture(scope="module")
def imported_with_clips(tmp_path_factory, ntu_samples):
    """An import with --data-dir: two genuine NTU clips as the benchmark's test clips, given one seen and one unseen
    label here (the checks below are that numbers agree, not what they are). Returns (checkpoint, data dir, clips)."""
    from star.data.clipbank import ClipBank
    from star.skeleton.clip import Clip
    from star.skeleton.io import read_ntu_skeleton

    tmp = tmp_path_factory.mktemp("official-clips")
    frames = [read_ntu_skeleton(ntu_samples / f"{n}.skeleton").frames
              for n in ("S002C001P003R001A003", "S001C003P008R002A058")]
    clips = [Clip(f, source=f"clip{i}", label=label) for i, (f, label) in enumerate(zip(frames, (2, 10)))]
    bank = ClipBank.from_clips(clips, get_benchmark("ntu60-xsub-55/5").class_names)
    bank.extras["split_xsub"] = np.array([1, 1])  # both test clips
    bank.save(tmp / "data" / "ntu60.npz")
    torch.save(their_state_dict(60, seed=4), tmp / "runs.pt")
    torch.save(their_text_features(120), tmp / "text.tar")
    out = import_official(tmp / "runs.pt", "ntu60-xsub-55/5", tmp / "text.tar", tmp / "root" / "star-official",
                          data_dir=tmp / "data")
    return out, tmp / "data", clips


def test_import_with_test_clips_writes_a_bundle_that_star_eval_reproduces(imported_with_clips):
    """The test clips are scored through the pipeline before anything is written; `star eval` recomputes the same
    metrics from the clips."""
    from star.evaluation import evaluate_checkpoint

    out, data, clips = imported_with_clips
    ckpt = load_checkpoint(out)
    bundle = ckpt.load_bundle()
    assert list(bundle["labels"]) == [2, 10] and bundle["scores"].shape == (2, 60)
    pipe = StarPipeline(ckpt)
    np.testing.assert_allclose(bundle["scores"], pipe.scores(pipe.clips_outputs(clips)), atol=1e-5)
    again = evaluate_checkpoint(out, data)
    for key in ("zsl_acc", "S", "U", "H"):
        assert again[key] == pytest.approx(ckpt.meta["metrics"][key])
    assert "attention_time_joint" in bundle  # the app's attention view has its data


def test_the_app_opens_an_imported_checkpoint_and_uploaded_banks(imported_with_clips, tmp_path, monkeypatch, ntu_samples):
    """Model page: where it came from. Predict: a pyskl pickle uploaded as a clip bank is predicted; a pickle that
    would run code is refused with a message and the page keeps working."""
    import pickle

    from streamlit.testing.v1 import AppTest

    from star.skeleton.io import read_ntu_skeleton

    out, _, _ = imported_with_clips
    monkeypatch.setenv("STAR_CHECKPOINT_DIRS", str(out.parent))
    monkeypatch.setenv("STAR_CACHE_DIR", str(tmp_path / "cache"))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    info = " ".join(i.value for i in at.info)
    assert "Imported from the authors' code" in info and "runs.pt" in info and "token layout *official*" in info
    assert "gcn_flobal_classifier" in info
    at.switch_page("pages/predict.py").run()
    at.radio(key="predict_source").set_value("Upload a clip bank").run()
    frames = read_ntu_skeleton(ntu_samples / "S001C003P008R002A058.skeleton").frames
    good = pickle.dumps({"split": {}, "annotations": [{"frame_dir": "S001C003P008R002A058", "label": 57,
                                                       "keypoint": frames, "total_frames": frames.shape[1]}]})
    at.file_uploader(key="predict_bank_upload").upload("ntu60_3danno.pkl", good).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="predict_bank_upload_clip").options == ["0: S001C003P008R002A058 (shaking hands)"]
    assert any(m.value.startswith("**Prediction (ZSL):") for m in at.markdown)
    evil = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    at.file_uploader(key="predict_bank_upload").upload("evil.pkl", evil).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("refused without running it" in e.value for e in at.error)
    assert not (tmp_path / "pwned").exists()


def test_the_cli_imports_then_predicts_and_eval_explains_missing_data(tmp_path, capsys):
    from star.cli import main
    from ui.clips import builtin_samples

    torch.save(their_state_dict(60, seed=5), tmp_path / "runs-40-23480.pt")
    torch.save(their_text_features(120), tmp_path / "text.tar")
    out = tmp_path / "ckpt" / "star-official"
    assert main(["import-official", str(tmp_path / "runs-40-23480.pt"), "--benchmark", "ntu60-xsub-55/5", "--text",
                 str(tmp_path / "text.tar"), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "token layout official, gamma 0.012" in said
    assert "dropped (unused by the scores): 18 tensors (gcn_flobal_classifier, gcn_part_classifier, global_fc1, " \
           "global_fc2)" in said and "no --data-dir: no evaluation bundle" in said
    assert main(["predict", str(builtin_samples()[0].path), "--checkpoint", str(out), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    unseen = {get_benchmark("ntu60-xsub-55/5").class_names[i] for i in (10, 11, 19, 26, 56)}
    assert {t["class"] for t in rows[0]["top"]} == unseen
    assert main(["eval", "--checkpoint", str(out), "--data-dir", str(tmp_path / "no-banks")]) == 2
    assert "ntu60.npz: clip bank for benchmark ntu60-xsub-55/5 not found" in capsys.readouterr().err


def test_an_imported_checkpoint_opens_from_a_zip_upload(imported_with_clips, tmp_path):
    import io
    import zipfile

    from star.checkpoint_archive import unpack_checkpoint_zip

    out, _, _ = imported_with_clips
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:  # stored: deflating 90 MB of weights is slow
        for name in ("model.safetensors", "model.json", "bundle.npz"):
            zf.write(out / name, f"star-official/{name}")
    folder = unpack_checkpoint_zip(buffer.getvalue(), tmp_path, "star-official.zip")
    ckpt = load_checkpoint(folder)
    assert ckpt.meta["token_layout"] == "official" and ckpt.meta["imported_from"]["run_file"] == "runs.pt"
    assert StarPipeline(ckpt).token_layout == "official"
