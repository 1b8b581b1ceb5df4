"""ClipBank: layout validation, atomic save, round trips, subset/concat, 1-frame and 2-body clips."""

from __future__ import annotations

import os

import numpy as np
import pytest

from star.data import ClipBank
from star.skeleton import Clip, SkeletonFormatError


def make_clips(lengths=(3, 1, 5), two_body_at=(2,), seed=0):
    rng = np.random.default_rng(seed)
    clips = []
    for i, t in enumerate(lengths):
        m = 2 if i in two_body_at else 1
        clips.append(Clip(rng.normal(size=(m, t, 25, 3)).astype(np.float32), source=f"s{i}", label=i % 2,
                          meta={"subject": 10 + i, "view": i + 1, "setup": 100 + i}))
    return clips


def small_bank(**kw) -> ClipBank:
    return ClipBank.from_clips(make_clips(**kw), ["a", "b"], source="test", extra_keys=("setup",))


def test_from_clips_layout_and_clip_roundtrip():
    clips = make_clips()
    bank = ClipBank.from_clips(clips, ["a", "b"], source="test", extra_keys=("setup",))
    assert len(bank) == 3
    assert bank.offsets.tolist() == [0, 3, 4, 9]
    assert bank.lengths().tolist() == [3, 1, 5]
    assert bank.frames.shape == (9, 25, 3) and bank.frames.dtype == np.float32
    assert bank.num_bodies.tolist() == [1, 1, 2]
    assert bank.class_counts().tolist() == [2, 1]
    for i, c in enumerate(clips):
        got = bank.clip(i)
        assert got.frames.shape == c.frames.shape
        np.testing.assert_array_equal(got.frames, c.frames)
        assert got.label == c.label and got.source == f"s{i}"
        assert got.meta["subject"] == 10 + i and got.meta["view"] == i + 1 and got.meta["setup"] == 100 + i
        assert got.meta["class_name"] == ["a", "b"][i % 2]
    # body-2 channel is zero for one-body clips
    assert not bank.frames_body2[:4].any()
    # clip() returns a copy: editing it leaves the bank untouched
    c0 = bank.clip(0)
    c0.frames[:] = 99
    assert not np.any(bank.frames[:3] == 99)
    assert bank.clip(-1).source == "s2"
    with pytest.raises(IndexError):
        bank.clip(3)


def test_single_body_bank_has_no_body2_keys(tmp_path):
    bank = small_bank(two_body_at=())
    assert bank.frames_body2 is None
    bank.save(tmp_path / "one.npz")
    with np.load(tmp_path / "one.npz") as f:
        assert "frames_body2" not in f.files and "num_bodies" not in f.files
        assert f["offsets"].dtype == np.int64 and f["sample_id"].dtype.kind == "U"


def test_save_load_roundtrip_is_exact(tmp_path):
    bank = small_bank()
    out = bank.save(tmp_path / "sub" / "bank.npz")
    assert out == tmp_path / "sub" / "bank.npz"
    assert sorted(os.listdir(tmp_path / "sub")) == ["bank.npz"]  # no temp file left behind
    back = ClipBank.load(out)
    for key, value in bank.to_arrays().items():
        np.testing.assert_array_equal(back.to_arrays()[key], value, err_msg=key)
    assert back.class_names == ["a", "b"] and back.source == "test"
    assert back.extras["setup"].tolist() == [100, 101, 102]
    assert back.path == str(out)


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "bank.npz"
    small_bank().save(path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        small_bank(seed=1).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["bank.npz"]


def test_load_shared_bank_with_one_frame_clips(shared_data):
    bank = ClipBank.load(shared_data / "nwucla.npz")
    assert len(bank) == 1484 and bank.num_classes == 10
    assert bank.frames_body2 is None and bank.num_bodies.tolist() == [1] * 1484
    one = np.flatnonzero(bank.lengths() == 1)
    assert one.size > 0  # NW-UCLA has 1-frame clips
    clip = bank.clip(int(one[0]))
    assert clip.frames.shape == (1, 1, 25, 3)
    assert bank.synthesized_joints.tolist() == [2, 21, 22, 23, 24]
    sub = bank.subset(one)
    assert sub.lengths().tolist() == [1] * len(one)
    np.testing.assert_array_equal(sub.clip(0).frames, clip.frames)


def test_subset_order_and_mask():
    bank = small_bank()
    sub = bank.subset([2, 0])
    assert sub.lengths().tolist() == [5, 3]
    assert sub.sample_id.tolist() == ["s2", "s0"] and sub.extras["setup"].tolist() == [102, 100]
    np.testing.assert_array_equal(sub.clip(0).frames, bank.clip(2).frames)
    np.testing.assert_array_equal(sub.clip(1).frames, bank.clip(0).frames)
    assert sub.num_bodies.tolist() == [2, 1]
    masked = bank.subset(np.array([False, True, False]))
    assert masked.sample_id.tolist() == ["s1"] and masked.offsets.tolist() == [0, 1]
    empty = bank.subset([])
    assert len(empty) == 0 and empty.frames.shape == (0, 25, 3)
    with pytest.raises(IndexError):
        bank.subset([3])


def test_concat_shifts_labels_and_fills_missing_body2():
    a = small_bank(two_body_at=())
    b = ClipBank.from_clips(make_clips(lengths=(2, 2), two_body_at=(1,)), ["c", "d", "e"])
    pooled = ClipBank.concat([a, b], prefixes=["A", "B"])
    assert pooled.class_names == ["a", "b", "c", "d", "e"]
    assert pooled.label.tolist() == [0, 1, 0, 2, 3]
    assert pooled.sample_id.tolist() == ["A/s0", "A/s1", "A/s2", "B/s0", "B/s1"]
    assert pooled.num_bodies.tolist() == [1, 1, 1, 1, 2]
    assert pooled.extras["setup"].tolist() == [100, 101, 102, -1, -1]
    np.testing.assert_array_equal(pooled.clip(4).frames, b.clip(1).frames)


def test_num_bodies_inferred_from_body2_when_key_missing(tmp_path):
    arrays = small_bank().to_arrays()
    del arrays["num_bodies"]
    np.savez(tmp_path / "x.npz", **arrays)
    assert ClipBank.load(tmp_path / "x.npz").num_bodies.tolist() == [1, 1, 2]


def _write(tmp_path, **changes):
    arrays = small_bank().to_arrays()
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"frames": None}, "frames"),
        ({"label": None}, "label"),
        ({"frames": np.zeros((9, 20, 3), np.float32)}, "frames"),
        ({"frames": np.full((9, 25, 3), np.nan, np.float32)}, "frames"),
        ({"offsets": np.array([0, 3, 3, 9])}, "offsets"),     # an empty clip
        ({"offsets": np.array([0, 4, 3, 9])}, "offsets"),     # not monotonic
        ({"offsets": np.array([0, 3, 4, 8])}, "offsets"),     # does not match frames
        ({"offsets": np.array([1, 3, 4, 9])}, "offsets"),     # does not start at 0
        ({"label": np.array([0, 1, 2])}, "label"),            # 2 classes only
        ({"label": np.array([0, -1, 1])}, "label"),
        ({"label": np.array([0.0, 1.0, 0.0])}, "label"),      # wrong dtype
        ({"label": np.array([0, 1])}, "label"),               # wrong length
        ({"class_names": np.array([1, 2])}, "class_names"),
        ({"subject": np.array([1, 2])}, "subject"),
        ({"sample_id": np.array([1, 2, 3])}, "sample_id"),
        ({"frames_body2": np.zeros((8, 25, 3), np.float32)}, "frames_body2"),
        ({"num_bodies": np.array([1, 3, 1])}, "num_bodies"),
        ({"synthesized_joints": np.array([30])}, "synthesized_joints"),
    ],
)
def test_invalid_banks_raise_format_error_naming_key(tmp_path, changes, key):
    path = _write(tmp_path, **changes)
    with pytest.raises(SkeletonFormatError) as err:
        ClipBank.load(path)
    assert err.value.path == str(path)
    assert key in err.value.where
    assert str(path) in str(err.value)


def test_body_count_without_body2_is_rejected(tmp_path):
    path = _write(tmp_path, frames_body2=None)
    with pytest.raises(SkeletonFormatError, match="num_bodies"):
        ClipBank.load(path)


def test_pickled_and_non_npz_files_are_rejected(tmp_path):
    obj = tmp_path / "obj.npz"
    arrays = small_bank().to_arrays()
    arrays["sample_id"] = np.array(["a", 1, None], dtype=object)
    np.savez(obj, **arrays)
    with pytest.raises(SkeletonFormatError, match="sample_id"):
        ClipBank.load(obj)
    text = tmp_path / "text.npz"
    text.write_text("not a zip archive")
    with pytest.raises(SkeletonFormatError, match="clip-bank"):
        ClipBank.load(text)
    npy = tmp_path / "one.npy"
    np.save(npy, np.zeros((3, 25, 3)))
    with pytest.raises(SkeletonFormatError, match="single .npy"):
        ClipBank.load(npy)
    with pytest.raises(FileNotFoundError):
        ClipBank.load(tmp_path / "missing.npz")


def test_from_clips_rejects_unlabelled_and_three_body_clips():
    with pytest.raises(ValueError, match="no label"):
        ClipBank.from_clips([Clip(np.zeros((1, 2, 25, 3)))], ["a"])
    with pytest.raises(ValueError, match="1-2 bodies"):
        ClipBank.from_clips([Clip(np.zeros((3, 2, 25, 3)), label=0)], ["a"])


def test_data_info_command(tmp_path, capsys, shared_data):
    from star.cli import main

    path = small_bank().save(tmp_path / "b.npz")
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "   0  a" in out and "   1  b" in out
    assert "total clips: 3 in 2 classes, 9 frames" in out
    assert "frames per clip: min 1, median 3, mean 3.0, max 5" in out
    assert "bodies: 2 clips with 1 body, 1 with 2" in out
    assert "subjects: 3 (10, 11, 12)" in out and "views: 3 (1, 2, 3)" in out
    assert main(["data", "info", "pool42-32/10", "--data-dir", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "   1  pick up with two hands" in out and "unseen" in out
    assert "protocol: 1628 train, 891 test clips" in out
    assert main(["data", "info", str(tmp_path / "nope.npz")]) == 1
    assert "not a benchmark name" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_text("x")
    assert main(["data", "info", str(tmp_path / "bad.npz")]) == 1
    assert "bad.npz" in capsys.readouterr().err


def test_is_clip_bank_tells_a_bank_from_other_files(tmp_path):
    from star.data import is_clip_bank

    bank = small_bank().save(tmp_path / "b.npz")
    np.savez(tmp_path / "one_clip.npz", frames=np.zeros((4, 25, 3), np.float32))
    np.save(tmp_path / "a.npy", np.zeros(3))
    (tmp_path / "bad.npz").write_text("not a zip")
    assert is_clip_bank(bank)
    assert not any(is_clip_bank(tmp_path / n) for n in ("one_clip.npz", "a.npy", "bad.npz", "missing.npz"))
