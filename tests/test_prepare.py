"""prepare-ntu / prepare-pku on small raw folders the tests write with the project's own writers."""

from __future__ import annotations

import numpy as np
import pytest

from star.cli import main
from star.data import ClipBank, get_benchmark
from star.data.prepare_pku import parse_label_file, parse_split_file
from star.skeleton.io import write_ntu_skeleton, write_pku_txt


def body(rng, t, shift=0.0):
    """A plausible standing body (y-range > x-range, so not 'noisy'), moving slowly: (t, 25, 3)."""
    base = np.stack([rng.uniform(-0.2, 0.2, 25), np.linspace(-0.8, 0.8, 25), np.full(25, 3.0)], axis=1)
    drift = np.linspace(0, 0.3, t)[:, None, None] * rng.normal(size=(1, 25, 3))
    out = base[None] + drift
    out[..., 0] += shift
    return out.astype(np.float32)


NTU_SAMPLES = {  # name -> number of bodies
    "S001C001P001R001A011": 1,  # subject 1 (xsub train), camera 1, label 10 = reading (unseen in 55/5)
    "S001C002P001R001A001": 1,  # subject 1, camera 2, label 0
    "S002C003P003R002A002": 1,  # subject 3 (xsub test), setup 2, label 1
    "S002C001P003R001A058": 2,  # two people, label 57
    "S018C001P045R001A061": 1,  # NTU-120 only, label 60
}
MISSING = "S001C001P002R001A003"
CORRUPT = "S001C002P002R001A004"


@pytest.fixture(scope="module")
def ntu_raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntu_raw")
    rng = np.random.default_rng(0)
    written = {}
    for i, (name, bodies) in enumerate(NTU_SAMPLES.items()):
        folder = root / ("s001_to_s017" if i < 3 else "s018_to_s032")
        folder.mkdir(exist_ok=True)
        frames = np.stack([body(rng, 20 + i, shift=1.0 * b) for b in range(bodies)])
        write_ntu_skeleton(frames, folder / f"{name}.skeleton")
        written[name] = frames
    write_ntu_skeleton(np.stack([body(rng, 20)]), root / "s001_to_s017" / f"{MISSING}.skeleton")
    (root / "s001_to_s017" / f"{CORRUPT}.skeleton").write_text("20\n1\nthis is not a body line\n")
    (root / "notes.skeleton").write_text("not an NTU sample name, ignored")
    missing = root / "NTU_RGBD_samples_with_missing_skeletons.txt"
    missing.write_text(f"List of samples with missing skeletons:\n\n{MISSING}\nS009C001P001R001A001\n")
    return root, written, missing


@pytest.fixture(scope="module")
def ntu_banks(ntu_raw, tmp_path_factory):
    root, written, missing = ntu_raw
    out = tmp_path_factory.mktemp("ntu_out")
    assert main(["prepare-ntu", str(root), str(out), "--missing", str(missing), "--workers", "1"]) == 0
    return out, written


def test_prepare_ntu_writes_both_banks(ntu_banks):
    out, written = ntu_banks
    b120 = ClipBank.load(out / "ntu120.npz")
    b60 = ClipBank.load(out / "ntu60.npz")
    assert b120.num_classes == 120 and b60.num_classes == 60
    assert b120.sample_id.tolist() == sorted(NTU_SAMPLES)
    assert b60.sample_id.tolist() == sorted(n for n in NTU_SAMPLES if int(n[-3:]) <= 60)
    expect = {n: dict(setup=int(n[1:4]), view=int(n[5:8]), subject=int(n[9:12]), replication=int(n[13:16]),
                      label=int(n[17:20]) - 1) for n in NTU_SAMPLES}
    for i, name in enumerate(b120.sample_id):
        e = expect[name]
        assert (b120.subject[i], b120.view[i], b120.label[i]) == (e["subject"], e["view"], e["label"])
        assert (b120.extras["setup"][i], b120.extras["replication"][i]) == (e["setup"], e["replication"])
        clip = b120.clip(i)
        src = written[name]
        assert clip.frames.shape == src.shape
        if src.shape[0] == 2:  # bodies come ordered by motion; match either order
            order = [0, 1] if np.allclose(clip.frames[0], src[0], atol=1e-4) else [1, 0]
            np.testing.assert_allclose(clip.frames, src[order], atol=1e-4)
        else:
            np.testing.assert_allclose(clip.frames, src, atol=1e-4)
    assert b120.num_bodies.tolist() == [1, 1, 2, 1, 1]  # in name order, S002C001P003R001A058 is 3rd
    skipped = (out / "prepare-ntu-skipped.txt").read_text()
    assert CORRUPT in skipped and MISSING not in skipped


def test_prepare_ntu_benchmark_splits_by_subject(ntu_banks):
    out, _ = ntu_banks
    s = get_benchmark("ntu60-xsub-55/5").load_splits(out)
    # subject 1 trains (its A011 clip is unseen class 10, so it is not trained on); subject 3 tests
    assert s["train"].sample_id.tolist() == ["S001C002P001R001A001"]
    assert s["test"].sample_id.tolist() == ["S002C001P003R001A058", "S002C003P003R002A002"]
    xview = get_benchmark("ntu60-xview-55/5").load_splits(out)
    assert xview["train"].sample_id.tolist() == ["S001C002P001R001A001", "S002C003P003R002A002"]
    assert xview["test"].sample_id.tolist() == ["S001C001P001R001A011", "S002C001P003R001A058"]
    xset = get_benchmark("ntu120-xset-110/10").load_splits(out)
    assert xset["train"].sample_id.tolist() == ["S002C001P003R001A058", "S002C003P003R002A002",
                                                "S018C001P045R001A061"]
    assert xset["test"].sample_id.tolist() == ["S001C001P001R001A011", "S001C002P001R001A001"]
    xsub120 = get_benchmark("ntu120-xsub-96/24").load_splits(out)
    assert "S018C001P045R001A061" in xsub120["train"].sample_id  # performer 45 trains in NTU-120


def test_prepare_ntu_parallel_and_autodetected_missing_list(ntu_raw, tmp_path, capsys):
    root, _, _ = ntu_raw
    assert main(["prepare-ntu", str(root), str(tmp_path), "--workers", "2"]) == 0
    bank = ClipBank.load(tmp_path / "ntu120.npz")
    assert bank.sample_id.tolist() == sorted(NTU_SAMPLES)
    err = capsys.readouterr().err
    assert "1 listed as missing" in err and "1 unreadable" in err


def test_prepare_ntu_errors(tmp_path, capsys):
    assert main(["prepare-ntu", str(tmp_path / "nope"), str(tmp_path / "out")]) == 1
    (tmp_path / "empty").mkdir()
    assert main(["prepare-ntu", str(tmp_path / "empty"), str(tmp_path / "out")]) == 1
    assert "no NTU .skeleton files" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- PKU-MMD
SPLIT_XSUB = "Training videos: \n0002-L, 0002-M, 0003-L\nValidataion videos: \n0291-L, 0291-M\n"
SPLIT_XVIEW = "Training videos: \n0002-M, 0291-M\nValidataion videos: \n0002-L, 0003-L, 0291-L\n"


@pytest.fixture(scope="module")
def pku_raw(tmp_path_factory):
    root = tmp_path_factory.mktemp("pku_raw")
    skel, lab = root / "PKU_Skeleton_Renew", root / "Train_Label_PKU_final"
    skel.mkdir()
    lab.mkdir()
    rng = np.random.default_rng(1)
    videos = {}
    for v in ("0002-L", "0002-M", "0003-L", "0291-L"):
        videos[v] = np.stack([body(rng, 60), body(rng, 60, shift=1.0)])
        videos[v][1, :30] = 0  # second person only in frames 30-59
        write_pku_txt(videos[v], skel / f"{v}.txt")
    labels = {
        "0002-L": "2,0,9,1\n14,30,44,2\n",      # brushing hair (1 body); handshaking (2 bodies)
        "0002-M": "51,5,5,1\n",                 # writing, one frame
        "0003-L": "30,50,80,1\n52,0,3,1\n",     # reading, end clipped to frame 59; label 52 is invalid
        "0291-L": "1,10,20,1\n",                # bow, test video in xsub
        "0400-R": "1,0,5,1\n",                  # label file without a skeleton file
    }
    for v, text in labels.items():
        (lab / f"{v}.txt").write_text(text)
    (skel / "0291-M.txt").write_text("1 2 3\n")  # corrupt, and it has no label file: never read
    (root / "cross-subject.txt").write_text(SPLIT_XSUB)
    (root / "cross-view.txt").write_text(SPLIT_XVIEW)
    return root, videos


def test_parse_split_and_label_files(tmp_path):
    p = tmp_path / "cross-subject.txt"
    p.write_text(SPLIT_XSUB)
    assert parse_split_file(p) == (["0002-L", "0002-M", "0003-L"], ["0291-L", "0291-M"])
    p.write_text("nothing here")
    with pytest.raises(ValueError, match="Training videos"):
        parse_split_file(p)
    p.write_text("Training videos:\na, b\nValidation videos:\nb\n")
    with pytest.raises(ValueError, match="both"):
        parse_split_file(p)
    lab = tmp_path / "l.txt"
    lab.write_text("3,10,20,1\n\n 4, 30, 40, 2\n")
    assert parse_label_file(lab) == [(3, 10, 20), (4, 30, 40)]
    lab.write_text("3,10\n")
    with pytest.raises(ValueError, match="line 1"):
        parse_label_file(lab)


def test_prepare_pku_cuts_segments(pku_raw, tmp_path, capsys):
    root, videos = pku_raw
    assert main(["prepare-pku", str(root), str(tmp_path), "--workers", "1"]) == 0
    bank = ClipBank.load(tmp_path / "pku.npz")
    assert bank.num_classes == 51
    assert bank.sample_id.tolist() == ["0002-L_001", "0002-L_002", "0002-M_001", "0003-L_001", "0291-L_001"]
    assert bank.label.tolist() == [1, 13, 50, 29, 0]
    assert bank.lengths().tolist() == [10, 15, 1, 10, 11]
    assert bank.num_bodies.tolist() == [1, 2, 1, 2, 1]  # body 2 is in frames 30-59
    assert bank.view.tolist() == [1, 1, 2, 1, 1]
    assert bank.extras["start"].tolist() == [0, 30, 5, 50, 10]
    assert bank.extras["end"].tolist() == [9, 44, 5, 59, 20]
    np.testing.assert_allclose(bank.clip(1).frames, videos["0002-L"][:, 30:45], atol=1e-4)
    np.testing.assert_allclose(bank.clip(0).frames, videos["0002-L"][:1, 0:10], atol=1e-4)
    assert bank.extras["split_xsub"].tolist() == [0, 0, 0, 0, 1]
    assert bank.extras["split_xview"].tolist() == [1, 1, 0, 1, 1]
    skipped = (tmp_path / "prepare-pku-skipped.txt").read_text()
    assert "label outside 1-51" in skipped and "0400-R" in skipped
    s = get_benchmark("pku-xsub-46/5").load_splits(tmp_path)
    # unseen 46/5 = 1 (brushing hair), 9, 20, 34, 50 (writing): never in train
    assert s["train"].sample_id.tolist() == ["0002-L_002", "0003-L_001"]
    assert s["test"].sample_id.tolist() == ["0291-L_001"]
    v = get_benchmark("pku-xview-46/5").load_splits(tmp_path)
    assert v["train"].sample_id.tolist() == [] and len(v["test"]) == 4


def test_prepare_pku_explicit_paths_and_errors(pku_raw, tmp_path, capsys):
    root, _ = pku_raw
    args = ["prepare-pku", str(tmp_path / "nothing"), str(tmp_path / "o"),
            "--skeleton-dir", str(root / "PKU_Skeleton_Renew"), "--label-dir", str(root / "Train_Label_PKU_final"),
            "--output-name", "pku1.npz", "--workers", "2"]
    assert main(args) == 0
    bank = ClipBank.load(tmp_path / "o" / "pku1.npz")
    assert len(bank) == 5 and np.all(bank.extras["split_xsub"] == -1)
    assert "no xsub split file" in capsys.readouterr().err
    assert main(["prepare-pku", str(tmp_path / "nothing"), str(tmp_path / "o")]) == 1
    assert "pass --skeleton-dir" in capsys.readouterr().err
