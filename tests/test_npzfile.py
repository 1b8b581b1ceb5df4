"""Untrusted .npz archives (clip banks, bundles, other toolkits' arrays): the fuzzing's cases of issue 28 give one
documented error before anything large is allocated (star.npzfile, ClipBank.load, load_bundle)."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from star.checkpoint import CheckpointError, load_bundle
from star.data.clipbank import ClipBank
from star.npzfile import NpzError, load_npz, npz_members
from star.skeleton.clip import SkeletonFormatError


def _bank_arrays() -> dict:
    return {"frames": np.zeros((6, 25, 3), np.float32), "offsets": np.array([0, 3, 6]), "label": np.array([0, 1]),
            "class_names": np.array(["a", "b"])}


def _npz(path, arrays: dict, method=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", method) as zf:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            zf.writestr(f"{key}.npy", buffer.getvalue())
    return path


def _encrypt_flag(path):
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (i := data.find(signature, start)) >= 0:
            data[i + offset] |= 0x1
            start = i + 4
    path.write_bytes(bytes(data))


def test_a_good_archive_reads_back_exactly(tmp_path):
    arrays = _bank_arrays()
    path = _npz(tmp_path / "b.npz", arrays)
    assert {k: v[0] for k, v in npz_members(path).items()} == {k: np.asarray(v).shape for k, v in arrays.items()}
    back = load_npz(path)
    for k, v in arrays.items():
        np.testing.assert_array_equal(back[k], v)


def test_encrypted_and_unknown_compression_members_are_refused(tmp_path):
    path = _npz(tmp_path / "enc.npz", _bank_arrays())
    _encrypt_flag(path)
    with pytest.raises(NpzError, match="is encrypted"):
        npz_members(path)
    with pytest.raises(SkeletonFormatError, match="encrypted"):
        ClipBank.load(path)
    path = _npz(tmp_path / "lzma.npz", _bank_arrays(), zipfile.ZIP_LZMA)
    with pytest.raises(NpzError, match="compression method 14"):
        npz_members(path)


def test_a_header_claiming_a_huge_array_is_refused_before_allocation(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": (2 ** 40,)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("frames.npy", buffer.getvalue())
    with pytest.raises(NpzError, match="declares 8,796,093,022,208 bytes of data .* but holds 0"):
        load_npz(path)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_bundle(path)
    # one that holds what it declares but more than the caller allows
    path = _npz(tmp_path / "big.npz", {"frames": np.zeros(1000)})
    with pytest.raises(NpzError, match="would need more than 4000 bytes"):
        load_npz(path, max_bytes=4000)


@pytest.mark.parametrize("content", [b"", b"PK\x05\x06" + b"\x00" * 18, b"not a zip at all", None])
def test_empty_truncated_and_bare_files(tmp_path, content):
    path = tmp_path / "x.npz"
    if content is None:  # a bare .npy named .npz
        np.save(path.with_suffix(".npy"), np.zeros(3))
        path.with_suffix(".npy").rename(path)
    else:
        path.write_bytes(content)
    with pytest.raises(SkeletonFormatError):
        ClipBank.load(path)
    with pytest.raises(CheckpointError):
        load_bundle(path)


def test_a_truncated_member_is_a_clear_error(tmp_path):
    path = _npz(tmp_path / "t.npz", _bank_arrays())
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2] + data[-200:])
    with pytest.raises(SkeletonFormatError):
        ClipBank.load(cut)


@pytest.mark.parametrize("key, value", [("label", np.array([np.inf, 0.0])), ("label", np.array([0, -np.inf])),
                                        ("offsets", np.array([0.0, np.nan, 6.0]))])
def test_non_finite_integer_fields_are_a_format_error(tmp_path, key, value):
    arrays = dict(_bank_arrays(), **{key: value})
    with pytest.raises(SkeletonFormatError):
        ClipBank.load(_npz(tmp_path / "inf.npz", arrays))


def test_too_many_members_are_refused_from_the_directory(tmp_path):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(300):
            zf.writestr(f"a{i}.npy", b"")
    with pytest.raises(NpzError, match="300 members, more than 256"):
        npz_members(path)


def test_a_directory_of_millions_of_entries_is_refused_from_its_end_record(tmp_path):
    """3,000,000 declared entries: refused from the end-of-directory record, before zipfile parses the directory."""
    import time

    from star.checkpoint_archive import unpack_checkpoint_zip
    from star.npzfile import declared_entries

    path = _npz(tmp_path / "b.npz", _bank_arrays())
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    assert declared_entries(bytes(data)) == 4
    data[end + 8:end + 12] = (0xFFFF).to_bytes(2, "little") * 2  # entries on this disk / in all: ZIP64 marker
    z64 = bytearray(b"PK\x06\x06" + (44).to_bytes(8, "little") + b"\x00" * 20 + (3_000_000).to_bytes(8, "little")
                    + (3_000_000).to_bytes(8, "little") + b"\x00" * 16)
    data[end:end] = z64 + b"PK\x06\x07" + b"\x00" * 16
    path.write_bytes(bytes(data))
    assert declared_entries(bytes(data)) == 3_000_000
    start = time.perf_counter()
    with pytest.raises(NpzError, match="declares 3000000 members"):
        npz_members(path)
    with pytest.raises(CheckpointError, match="declares 3,000,000 entries"):
        unpack_checkpoint_zip(bytes(data), tmp_path, "big.zip")
    assert time.perf_counter() - start < 5 and not (tmp_path / "checkpoint").exists()


def test_an_archive_whose_checkpoint_fails_to_load_leaves_nothing(tmp_path, repo_root, monkeypatch):
    """Any failure while loading the unpacked checkpoint, even one that is not a CheckpointError, removes it."""
    import star.checkpoint_archive as archive

    ck = repo_root / "checkpoints" / "star-pool42-32-10"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in ("model.safetensors", "model.json", "bundle.npz"):
            zf.write(ck / name, name)
    monkeypatch.setattr(archive, "load_checkpoint", lambda path: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        archive.unpack_checkpoint_zip(buffer.getvalue(), tmp_path, "x.zip")
    assert not (tmp_path / "checkpoint").exists()


def test_every_skeleton_reader_caps_frames_and_refuses_all_zero_joints(tmp_path):
    """A 50 MiB int8 .npy no longer becomes a 699,035-frame clip; an NTU file whose joints are all zero is refused
    as the NumPy readers refuse one."""
    from star.skeleton import load_clip
    from star.skeleton.ntu_format import MAX_FRAMES, format_ntu_skeleton

    long = np.ones((MAX_FRAMES + 1, 75), np.int8)
    np.save(tmp_path / "long.npy", long)
    with pytest.raises(SkeletonFormatError, match=f"at most {MAX_FRAMES} frames"):
        load_clip(tmp_path / "long.npy")
    ones = format_ntu_skeleton(np.zeros((1, 5, 25, 3), np.float32) + 1.0)
    (tmp_path / "ok.skeleton").write_text(ones)
    assert load_clip(tmp_path / "ok.skeleton").num_frames == 5
    joint_line = "1 1 1 628.9 -156.6 2028.7 -517.6 0 0 0 0 2"
    assert joint_line in ones  # every joint at (1, 1, 1) m; the same file with every joint at the origin:
    (tmp_path / "zero.skeleton").write_text(ones.replace(joint_line, "0 0 0 628.9 -156.6 2028.7 -517.6 0 0 0 0 2"))
    with pytest.raises(SkeletonFormatError, match="only zeros"):
        load_clip(tmp_path / "zero.skeleton")


def _header_with_shape(shape_text: str) -> bytes:
    """A version 1.0 .npy header whose shape is ``shape_text`` verbatim (numpy's writer would refuse it)."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_text + ", }"
    text += " " * (63 - (10 + len(text)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


@pytest.mark.parametrize("shape", ["(1, 1, False)", "(True, 25, 3)", "(1, 25, 3.0)", "(1, -25, 3)"])
def test_a_shape_that_is_not_whole_numbers_is_a_format_error(tmp_path, shape):
    """Found by the load_clip_npy fuzzer: numpy's header parser takes True / False as dimensions (bool is an int),
    then loading the file fails with "TypeError: an integer is required"; here it is the readers' own error."""
    from star.skeleton import load_clip

    data = _header_with_shape(shape) + np.zeros(75, "<f4").tobytes()
    (tmp_path / "bad.npy").write_bytes(data)
    with pytest.raises(SkeletonFormatError, match="valid .npy header"):
        load_clip(tmp_path / "bad.npy")
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as zf:
        zf.writestr("frames.npy", data)
    with pytest.raises(NpzError, match="no valid .npy header"):
        load_npz(tmp_path / "bad.npz")
    with pytest.raises(SkeletonFormatError):
        load_clip(tmp_path / "bad.npz")
