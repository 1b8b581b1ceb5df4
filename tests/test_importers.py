"""pyskl / mmaction2 pickles and CTR-GCN arrays of genuine NTU clips, written here in exactly those toolkits' layouts
(``pickle.dump`` / ``np.savez``, not our writers), become clip banks that the NTU benchmarks and ``star predict`` read;
a pickle that would run code is refused with nothing run."""

from __future__ import annotations

import collections
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from star.data.benchmarks import get_benchmark
from star.data.clipbank import ClipBank
from star.data.importers import ImportFormatError, read_ctrgcn, read_pyskl, write_bank
from star.data.safe_pickle import UnsafePickleError, loads_plain
from star.skeleton.io import read_ntu_skeleton

from conftest import sometimes_truncated

A003, A058 = "S002C001P003R001A003", "S001C003P008R002A058"  # brush teeth (1 person), shaking hands (2 people)


@pytest.fixture(scope="module")
def genuine(ntu_samples):
    return {name: read_ntu_skeleton(ntu_samples / f"{name}.skeleton").frames for name in (A003, A058)}


def pyskl_annotations(genuine, split=None) -> dict:
    """pyskl's ntu60_3danno.pkl layout: split lists of frame_dir names + one dict per clip."""
    anns = [{"frame_dir": name, "label": int(name[-3:]) - 1, "keypoint": frames.astype(np.float32),
             "total_frames": frames.shape[1], "img_shape": (1080, 1920), "original_shape": (1080, 1920)}
            for name, frames in genuine.items()]
    if split is None:  # P008 is a cross-subject training performer, P003 is not; camera 1 is cross-view test
        split = {"xsub_train": [A058], "xsub_val": [A003], "xview_train": [A058], "xview_val": [A003]}
    return {"split": split, "annotations": anns}


def ctrgcn_arrays(genuine) -> dict:
    """CTR-GCN's NTU60_CS.npz layout: (N, 300, 150) zero-padded, centred on the first frame's spine middle, one-hot."""
    def row(frames):
        x = np.zeros((300, 2, 25, 3), np.float32)
        centred = frames - frames[0, 0, 1]
        x[: frames.shape[1], : frames.shape[0]] = centred.transpose(1, 0, 2, 3)
        return x.reshape(300, 150)

    def onehot(name):
        y = np.zeros(60, np.float32)
        y[int(name[-3:]) - 1] = 1
        return y

    return {"x_train": np.stack([row(genuine[A058])]), "y_train": np.stack([onehot(A058)]),
            "x_test": np.stack([row(genuine[A003])]), "y_test": np.stack([onehot(A003)])}


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_a_pyskl_pickle_becomes_a_bank_with_its_split(genuine, tmp_path, protocol):
    path = tmp_path / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps(pyskl_annotations(genuine), protocol=protocol))
    name, bank = read_pyskl(path)
    assert name == "ntu60" and len(bank) == 2 and bank.num_classes == 60
    by_id = {bank.sample_id[i]: i for i in range(len(bank))}
    for clip_name, frames in genuine.items():
        clip = bank.clip(by_id[clip_name])
        assert clip.label == int(clip_name[-3:]) - 1
        assert clip.frames.shape == frames.shape  # frame counts and bodies as in the file
        np.testing.assert_array_equal(clip.frames, frames)
    i = by_id[A058]
    assert (bank.subject[i], bank.view[i], bank.extras["setup"][i], bank.extras["replication"][i]) == (8, 3, 1, 2)
    assert bank.extras["split_xsub"][i] == 0 and bank.extras["split_xsub"][by_id[A003]] == 1


def test_the_recorded_split_lists_drive_the_ntu_protocol(genuine, tmp_path):
    """A file's own split lists win over the subject rule: here they say the reverse of the official performers."""
    path = tmp_path / "ntu60_3danno.pkl"
    split = {"xsub_train": [A003], "xsub_val": [A058]}
    path.write_bytes(pickle.dumps(pyskl_annotations(genuine, split)))
    write_bank(*read_pyskl(path), tmp_path / "data")
    bank = get_benchmark("ntu60-xsub-55/5").load_bank(tmp_path / "data")
    roles = dict(zip(bank.sample_id, bank.extras["role"]))
    assert roles == {A003: 0, A058: 1}


def test_a_ctrgcn_npz_becomes_a_bank_with_the_files_own_split(genuine, tmp_path):
    path = tmp_path / "NTU60_CS.npz"
    np.savez(path, **ctrgcn_arrays(genuine))
    name, bank = read_ctrgcn(path)
    assert name == "ntu60" and len(bank) == 2
    train, test = bank.clip(0), bank.clip(1)
    assert (train.label, test.label) == (57, 2)
    assert train.frames.shape == genuine[A058].shape and test.frames.shape == genuine[A003].shape
    np.testing.assert_allclose(test.frames, genuine[A003] - genuine[A003][0, 0, 1], atol=1e-6)
    assert list(bank.extras["split_xsub"]) == [0, 1]
    write_bank(name, bank, tmp_path / "data")
    roles = get_benchmark("ntu60-xsub-55/5").load_bank(tmp_path / "data").extras["role"]
    assert list(roles) == [0, 1]


@pytest.mark.parametrize("maker", ["pyskl", "ctrgcn"])
def test_star_prepare_then_star_predict_scores_the_bank(genuine, tmp_path, maker, repo_root):
    if maker == "pyskl":
        src = tmp_path / "ntu60_3danno.pkl"
        src.write_bytes(pickle.dumps(pyskl_annotations(genuine)))
        cmd = ["prepare-pyskl", str(src), str(tmp_path / "data")]
    else:
        src = tmp_path / "NTU60_CS.npz"
        np.savez(src, **ctrgcn_arrays(genuine))
        cmd = ["prepare-ctrgcn", str(src), str(tmp_path / "data"), "--benchmark", "ntu60-xsub-55/5"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "star", *cmd], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout and "2 clips" in done.stdout
    bank = tmp_path / "data" / "ntu60.npz"
    done = subprocess.run([sys.executable, "-m", "star", "predict", str(bank), "--json", "--checkpoint",
                           str(repo_root / "checkpoints" / "star-pool42-32-10")], capture_output=True, text=True,
                          env=env)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    per_clip = [r for r in rows if "top" in r]
    assert len(per_clip) == 2 and all(len(r["top"]) == 5 for r in per_clip)
    expected = {A003, A058} if maker == "pyskl" else {"NTU60_CS_train_000000", "NTU60_CS_test_000000"}
    assert {r["source"] for r in per_clip} == expected


def test_two_d_or_coco_keypoints_get_an_error_that_says_why(genuine, tmp_path):
    data = pyskl_annotations(genuine)
    data["annotations"][0]["keypoint"] = np.zeros((1, 40, 17, 2), np.float32)
    path = tmp_path / "ntu60_hrnet.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ImportFormatError, match=r"shape \(1, 40, 17, 2\).*NTU-25 3-D"):
        read_pyskl(path)
    np.savez(tmp_path / "NTU60_CS.npz", x_train=np.zeros((1, 300, 100), np.float32), y_train=np.zeros((1, 60)),
             x_test=np.zeros((1, 300, 100), np.float32), y_test=np.zeros((1, 60)))
    with pytest.raises(ImportFormatError, match=r"x_train should be .*found shape \(1, 300, 100\)"):
        read_ctrgcn(tmp_path / "NTU60_CS.npz")


def test_a_label_that_contradicts_the_sample_name_is_an_error(genuine, tmp_path):
    data = pyskl_annotations(genuine)
    data["annotations"][0]["label"] = 7
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ImportFormatError, match="has label 7, but its name says action 3"):
        read_pyskl(path)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused_and_nothing_runs(genuine, tmp_path):
    marker = tmp_path / "pwned"
    data = pyskl_annotations(genuine)
    data["annotations"][1]["img_shape"] = RunsCode(marker)
    path = tmp_path / "ntu60_3danno.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(ImportFormatError, match=r"names (posix|os)\.system.*refused without running it"):
        read_pyskl(path)
    assert not marker.exists()
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        loads_plain(b"cbuiltins\neval\n(S'1'\ntR.")


def test_the_restricted_unpickler_reads_plain_data_exactly():
    value = {"a": [1, 2.5, "x", None, True], "b": (np.arange(12, dtype=np.int16).reshape(3, 4),),
             "c": np.float32(1.5), "d": collections.OrderedDict(k=np.array(["s", "t"])), "e": b"raw"}
    for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
        back = loads_plain(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(back["b"][0], value["b"][0])
        assert back["b"][0].dtype == np.int16 and back["c"] == np.float32(1.5)
        assert back["a"] == value["a"] and back["e"] == b"raw" and list(back["d"]["k"]) == ["s", "t"]


def test_object_arrays_and_oversized_allocations_are_refused():
    with pytest.raises(UnsafePickleError, match="object array"):
        loads_plain(pickle.dumps(np.array([{"a": 1}, None], dtype=object)))
    # _reconstruct asked for 2**40 bytes by a hand-written pickle
    evil = (b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            b"\x8a\x06\x00\x00\x00\x00\x00\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00f8\x85R\x87R.")
    with pytest.raises(UnsafePickleError, match="more than the file holds"):
        loads_plain(evil)


class _DtypeCall:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return np.dtype, self.args


@pytest.mark.parametrize("args", [("<f4", "4", True), ("<f4", False, 1), (4, False, True), (["<f4"], False, True)])
def test_a_dtype_call_other_than_numpys_own_is_refused(args):
    """Found by `.ci/run`'s 10 s fuzz budget: numpy.dtype('<f4', '4', True) from a pickle gave numpy's
    VisibleDeprecationWarning (an error in a later numpy); numpy writes a type string and two booleans."""
    with pytest.raises(UnsafePickleError, match="only a type string and two booleans"):
        loads_plain(pickle.dumps(_DtypeCall(*args), protocol=2))
    assert loads_plain(pickle.dumps(_DtypeCall("<f4", False, True), protocol=2)) == np.dtype("<f4")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_pyskl_pickles_give_a_bank_or_one_clear_error(genuine, tmp_path, data):
    """Flipped, inserted and cut bytes of a real annotation pickle: a sound bank or ImportFormatError, nothing else."""
    raw = bytearray(pickle.dumps(pyskl_annotations(genuine), protocol=4))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    raw = sometimes_truncated(data.draw, bytes(raw))
    path = tmp_path / "fuzz.pkl"
    path.write_bytes(raw)
    try:
        _, bank = read_pyskl(path)
    except ImportFormatError:
        return
    assert isinstance(bank, ClipBank) and len(bank) >= 1
    assert np.isfinite(bank.frames).all()


def test_a_pickle_naming_a_huge_memo_index_costs_no_memory():
    """Found by fuzzing: LONG_BINPUT 175399797 in a 230-byte pickle made the C unpickler allocate 2.8 GB for its memo."""
    import tracemalloc

    evil = b"\x80\x02]r\x75\x76\x74\x0a."  # PROTO 2, EMPTY_LIST, LONG_BINPUT 175399797, STOP
    tracemalloc.start()
    assert loads_plain(evil) == []
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 << 20


def test_a_pickle_declaring_a_huge_bytearray_is_refused_before_allocating():
    """Found by the CI's 10-second fuzzing: BYTEARRAY8 declaring 11.7 GB in a 36-byte pickle ran out of memory."""
    import base64

    evil = base64.b64decode("gAJ9cQAoWAUAAABzcGxpCpZ9lIy4AgAAAAAAAAp4eQxfcmVj")
    with pytest.raises(UnsafePickleError, match="a bytearray of 11686155389 bytes"):
        loads_plain(evil)
    assert loads_plain(pickle.dumps(bytearray(b"abc"), protocol=5)) == bytearray(b"abc")


def test_a_dtype_given_a_state_numpy_never_writes_is_refused():
    """Found by fuzzing: BUILD on a float32 dtype with an item size of 20046 crashed the process (a segfault)."""
    evil = (b"\x80\x02cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R"
            b"(K\x03X\x01\x00\x00\x00<NNNMNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb.")
    with pytest.raises(UnsafePickleError, match="a dtype a state numpy never writes"):
        loads_plain(evil)
    assert loads_plain(pickle.dumps(np.dtype("f4"))) == np.dtype("f4")  # numpy's own state passes
    with pytest.raises(UnsafePickleError, match="sets the state of a OrderedDict"):
        loads_plain(b"\x80\x02ccollections\nOrderedDict\n)R}b.")
