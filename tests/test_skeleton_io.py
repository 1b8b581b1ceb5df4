"""NumPy and PKU-MMD readers/writers, their error cases, and load_clip's choice of reader."""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import star.skeleton
from conftest import read_fuzzed, sometimes_truncated
from star.skeleton import Clip, SkeletonFormatError
from star.skeleton.io import (
    DEFAULT_MAX_BYTES, load_clip, read_numpy, read_ntu_skeleton, read_pku_txt, write_npy, write_ntu_skeleton,
    write_pku_txt,
)
from star.skeleton.numpy_format import detect_layouts

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")


def frames_of(m: int, t: int, seed: int = 0) -> np.ndarray:
    """Non-zero random frames (m, t, 25, 3) float32 in a Kinect-like range."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-1, 1, (m, t, 25, 3)) + np.array([0, 0, 3.0])).astype(np.float32)


def npy_with_header(path: Path, descr: str, shape: tuple, payload: bytes) -> Path:
    """A hand-made .npy (version 1.0) whose header may lie about the data that follows."""
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload)
    return path


def test_default_max_bytes():
    assert DEFAULT_MAX_BYTES == 50 * 1024 * 1024


# ------------------------------------------------------------------------------------------- NumPy
@pytest.mark.parametrize("layout,m", [("MTVC", 2), ("MTVC", 1), ("CTVM", 2), ("CTVM", 1), ("TVC", 1),
                                      ("T75", 1), ("T150", 2), ("T150", 1)])
def test_npy_round_trip_every_layout(tmp_path, layout, m):
    frames = frames_of(m, 17)
    path = write_npy(Clip(frames), tmp_path / f"c.{layout}.npy", layout=layout)
    assert detect_layouts(np.load(path).shape) == [layout]
    clip = read_numpy(path)
    np.testing.assert_array_equal(clip.frames, frames)
    assert clip.meta["layout"] == layout and clip.meta["reader"] == "numpy"
    np.testing.assert_array_equal(read_numpy(path, layout=layout).frames, frames)


def test_known_shapes_map_to_layouts():
    assert detect_layouts((3, 300, 25, 2)) == ["CTVM"]
    assert detect_layouts((1, 3, 300, 25, 2)) == ["CTVM"]
    assert detect_layouts((2, 300, 25, 3)) == ["MTVC"]
    assert detect_layouts((300, 25, 3)) == ["TVC"]
    assert detect_layouts((3, 25, 3)) == ["TVC"]
    assert detect_layouts((300, 150)) == ["T150"] and detect_layouts((300, 75)) == ["T75"]
    assert detect_layouts((3, 300, 25, 3)) == ["CTVM", "MTVC"]
    assert detect_layouts((300, 25, 2)) == []


def test_ctvm_with_batch_of_one_and_zero_padding(tmp_path):
    """A CTR-GCN style array: (1, 3, 300, 25, 2), 40 real frames, second body absent."""
    frames = frames_of(1, 40)
    array = np.zeros((1, 3, 300, 25, 2), np.float32)
    array[0, :, :40, :, 0] = frames[0].transpose(2, 0, 1)
    np.save(tmp_path / "b.npy", array)
    clip = read_numpy(tmp_path / "b.npy")
    np.testing.assert_array_equal(clip.frames, frames)
    assert clip.meta["num_frames_trimmed"] == 260 and clip.meta["num_bodies_raw"] == 2


def test_ambiguous_shape_asks_for_layout(tmp_path):
    array = frames_of(3, 10)  # (3, 10, 25, 3): CTVM with 3 bodies, or MTVC with 3 coordinates
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(SkeletonFormatError, match=r"pass layout=.*CTVM and MTVC"):
        read_numpy(tmp_path / "a.npy")
    np.testing.assert_array_equal(read_numpy(tmp_path / "a.npy", layout="MTVC").frames, array)
    assert read_numpy(tmp_path / "a.npy", layout="CTVM").frames.shape == (3, 10, 25, 3)
    with pytest.raises(SkeletonFormatError, match="layout="):
        load_clip(tmp_path / "a.npy")


def test_layout_errors(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((10, 25, 2), np.float32))
    with pytest.raises(SkeletonFormatError, match=r"T150 \(T, 150\).*found shape \(10, 25, 2\)"):
        read_numpy(tmp_path / "w.npy")
    np.save(tmp_path / "t.npy", np.ones((10, 150), np.float32))
    with pytest.raises(SkeletonFormatError, match=r"expected layout T75 \(T, 75\), found shape \(10, 150\)"):
        read_numpy(tmp_path / "t.npy", layout="T75")
    with pytest.raises(ValueError, match="unknown layout"):
        read_numpy(tmp_path / "t.npy", layout="NCTVM")


@pytest.mark.parametrize("array,found", [
    (np.zeros((0, 25, 3), np.float32), "0 frames"),
    (np.zeros((5, 25, 3), np.float32), "only zeros"),
    (np.full((5, 75), np.nan, np.float32), "nan at body 0, frame 0, joint 0"),
    (np.full((5, 75), 1e30), r"\|value\| <= 10000 m\), found 1e\+30"),
    (np.array([["a"] * 75] * 2), "dtype <U1"),
    (np.ones((5, 75), np.complex64), "dtype complex64"),
])
def test_bad_arrays(tmp_path, array, found):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(SkeletonFormatError, match=found):
        read_numpy(tmp_path / "x.npy")


def test_pickles_are_never_loaded(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(SkeletonFormatError, match="pickled object array"):
        read_numpy(tmp_path / "obj.npy")
    (tmp_path / "p.npy").write_bytes(pickle.dumps(np.ones((5, 75))))
    with pytest.raises(SkeletonFormatError, match="Python pickle, which is never loaded"):
        load_clip(tmp_path / "p.npy")
    np.savez(tmp_path / "obj.npz", x=np.array([object()], dtype=object))
    with pytest.raises(SkeletonFormatError, match=r"array 'x'.*pickled"):
        read_numpy(tmp_path / "obj.npz")


def test_header_promising_giant_array_is_refused_without_allocating(tmp_path):
    path = npy_with_header(tmp_path / "lie.npy", "<f4", (10**9, 25, 3), b"\0" * 1000)
    with pytest.raises(SkeletonFormatError, match="300,000,000,000 bytes.*truncated or corrupt"):
        read_numpy(path)
    with zipfile.ZipFile(tmp_path / "lie.npz", "w") as archive:
        archive.writestr("x.npy", path.read_bytes())
    with pytest.raises(SkeletonFormatError, match="array 'x'.*truncated or corrupt"):
        read_numpy(tmp_path / "lie.npz")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY\x01\x00\xff\xffgarbage")
    with pytest.raises(SkeletonFormatError, match="valid .npy header"):
        read_numpy(tmp_path / "junk.npy")
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(SkeletonFormatError, match=r"valid \.npz"):
        read_numpy(tmp_path / "bad.npz")


def test_npz_arrays_and_keys(tmp_path):
    frames = frames_of(1, 12)
    np.savez(tmp_path / "one.npz", skel=frames[0])
    np.testing.assert_array_equal(read_numpy(tmp_path / "one.npz").frames, frames)
    np.savez_compressed(tmp_path / "two.npz", a=frames[0], b=np.arange(3))
    with pytest.raises(SkeletonFormatError, match=r"one array, or key=.*\['a', 'b'\]"):
        read_numpy(tmp_path / "two.npz")
    np.testing.assert_array_equal(read_numpy(tmp_path / "two.npz", key="a").frames, frames)
    with pytest.raises(SkeletonFormatError, match="an array named 'c'"):
        read_numpy(tmp_path / "two.npz", key="c")


def _bank(path: Path, lengths: list[int], two_bodies: bool = False) -> np.ndarray:
    frames = frames_of(1, sum(lengths))[0]
    arrays = dict(frames=frames, offsets=np.cumsum([0] + lengths).astype(np.int64),
                  label=np.arange(len(lengths)), class_names=np.array(["wave", "clap", "jump"][: len(lengths)]),
                  sample_id=np.array([f"s{i}" for i in range(len(lengths))]))
    if two_bodies:
        arrays.update(frames_body2=frames + 1, num_bodies=np.full(len(lengths), 2))
    np.savez(path, **arrays)
    return frames


def test_clip_bank_npz(tmp_path):
    _bank(tmp_path / "bank.npz", [5, 7, 3])
    with pytest.raises(SkeletonFormatError, match=r"star\.data\.ClipBank\.load.*a clip bank of 3 clips"):
        load_clip(tmp_path / "bank.npz")
    frames = _bank(tmp_path / "single.npz", [6], two_bodies=True)
    clip = load_clip(tmp_path / "single.npz")
    assert clip.frames.shape == (2, 6, 25, 3) and clip.label == 0
    assert clip.meta["class_name"] == "wave" and clip.meta["sample_id"] == "s0"
    np.testing.assert_array_equal(clip.frames[1], frames + 1)


def test_malformed_clip_bank_arrays(tmp_path):
    frames = frames_of(1, 6)[0]
    np.savez(tmp_path / "b1.npz", frames=frames, offsets=np.array([0, 6]), label=np.int64(3))  # 0-d label
    with pytest.raises(SkeletonFormatError, match="one entry per clip"):
        load_clip(tmp_path / "b1.npz")
    np.savez(tmp_path / "b2.npz", frames=frames, offsets=np.array([0, 9]))
    with pytest.raises(SkeletonFormatError, match=r"array 'frames'.*covering offsets 0\.\.9"):
        load_clip(tmp_path / "b2.npz")
    np.savez(tmp_path / "b3.npz", frames=frames, offsets=np.array([0, 6]), frames_body2=frames[:3])
    with pytest.raises(SkeletonFormatError, match="array 'frames_body2'"):
        load_clip(tmp_path / "b3.npz")


def _saved(save, **arrays) -> bytes:
    buffer = io.BytesIO()
    save(buffer, **arrays)
    return buffer.getvalue()


NUMPY_FILES = [
    _saved(lambda b, x: np.save(b, x), x=frames_of(2, 5)),
    _saved(np.savez, a=frames_of(1, 5)[0]),
    _saved(np.savez_compressed, frames=frames_of(1, 5)[0], offsets=np.array([0, 5])),
]


@pytest.fixture(scope="module")
def fuzz_npy(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.npz"


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(NUMPY_FILES), edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
       cut=st.none() | st.integers(0, 10**6))
def test_fuzz_numpy_reader(fuzz_npy, base, edits, cut):
    data = bytearray(base)
    for pos, value in edits:
        data[pos % len(data)] = value
    fuzz_npy.write_bytes(bytes(data if cut is None else data[: cut % len(data)]))
    try:
        clip = load_clip(fuzz_npy)
    except SkeletonFormatError:
        return
    assert clip.frames.shape[2:] == (25, 3) and np.isfinite(clip.frames).all()


def test_size_limit_checked_before_reading(tmp_path):
    write_npy(frames_of(1, 50), tmp_path / "c.npy")
    size = (tmp_path / "c.npy").stat().st_size
    with pytest.raises(SkeletonFormatError, match=f"{size:,} bytes"):
        read_numpy(tmp_path / "c.npy", max_bytes=size - 1)
    with pytest.raises(SkeletonFormatError, match="raise max_bytes"):
        load_clip(tmp_path / "c.npy", max_bytes=100)
    assert load_clip(tmp_path / "c.npy", max_bytes=size).num_frames == 50


# --------------------------------------------------------------------------------------------- PKU
def test_pku_round_trip_and_format(tmp_path):
    frames = frames_of(2, 9)
    path = write_pku_txt(frames, tmp_path / "p.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == 9 and all(len(line.split()) == 150 for line in lines)
    assert float(lines[0].split()[75]) == pytest.approx(frames[1, 0, 0, 0])  # body 2 starts at value 76
    clip = read_pku_txt(path)
    np.testing.assert_array_equal(clip.frames, frames)
    assert clip.meta["reader"] == "pku" and clip.source == "p.txt"


def test_pku_one_person_has_zero_second_body(tmp_path):
    frames = frames_of(1, 4)
    path = write_pku_txt(Clip(frames), tmp_path / "one.txt")
    assert path.read_text().splitlines()[0].split()[75:] == ["0"] * 75
    np.testing.assert_array_equal(read_pku_txt(path).frames, frames)


def test_pku_75_values_per_line_and_blank_lines(tmp_path):
    frames = frames_of(1, 3)
    text = "\n".join(" ".join(f"{v:.9g}" for v in row) for row in frames[0].reshape(3, 75))
    (tmp_path / "s.txt").write_text("\n" + text.replace("\n", "\n\n") + "\n\n")
    np.testing.assert_array_equal(read_pku_txt(tmp_path / "s.txt").frames, frames)


PKU_VALID = "\n".join(" ".join(["0.5"] * 150) for _ in range(3)) + "\n"


def _pku_replace(line: int, pos: int, new: str) -> str:
    rows = [r.split() for r in PKU_VALID.splitlines()]
    rows[line][pos] = new
    return "\n".join(" ".join(r) for r in rows)


@pytest.mark.parametrize("text,where,found", [
    ("", None, "an empty file"),
    ("\n\n", None, "an empty file"),
    ("1 2 3\n", "line 1", "found 3"),
    (PKU_VALID + " ".join(["1"] * 149), "line 4", "found 149"),
    (_pku_replace(1, 7, "x"), "line 2", "text 'x'"),
    (_pku_replace(2, 4, "nan"), "line 3", "nan at value 5"),
    (_pku_replace(0, 0, "inf"), "line 1", "inf at value 1"),
    ("\n".join(" ".join(["0"] * 150) for _ in range(2)), None, "only zeros"),
])
def test_pku_errors(tmp_path, text, where, found):
    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(SkeletonFormatError) as info:
        read_pku_txt(tmp_path / "bad.txt")
    assert found in str(info.value) and str(tmp_path / "bad.txt") in str(info.value)
    assert info.value.where == where


@st.composite
def mutated_pku(draw) -> bytes:
    rows = [r.split() for r in PKU_VALID.splitlines()]
    for _ in range(draw(st.integers(1, 3))):
        r = draw(st.integers(0, len(rows) - 1))
        op = draw(st.sampled_from(["token", "drop_token", "delete_line", "insert_line"]))
        junk = draw(st.sampled_from(["nan", "-inf", "0", "1e999", "abc", "", "7"]) | st.text(max_size=8)
                    | st.floats().map(repr))
        if op == "token":
            rows[r] = rows[r] or [""]
            rows[r][draw(st.integers(0, len(rows[r]) - 1))] = junk
        elif op == "drop_token" and rows[r]:
            rows[r].pop(draw(st.integers(0, len(rows[r]) - 1)))
        elif op == "delete_line":
            rows.pop(r)
        else:
            rows.insert(r, [junk])
        if not rows:
            break
    return sometimes_truncated(draw, "\n".join(" ".join(r) for r in rows).encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_pku())
def test_fuzz_pku_reader(fuzz_dir, data):
    read_fuzzed(read_pku_txt, fuzz_dir / "fuzz.txt", data)


# ---------------------------------------------------------------------------------- choosing a reader
def test_load_clip_picks_reader_by_extension_and_content(tmp_path, ntu_samples):
    frames = frames_of(1, 15)
    ntu = write_ntu_skeleton(frames, tmp_path / "a.skeleton")
    assert load_clip(ntu).meta["reader"] == "ntu"
    (tmp_path / "ntu_as.txt").write_bytes(ntu.read_bytes())
    assert load_clip(tmp_path / "ntu_as.txt").meta["reader"] == "ntu"
    (tmp_path / "ntu.dat").write_bytes(ntu.read_bytes())
    assert load_clip(tmp_path / "ntu.dat").meta["reader"] == "ntu"
    pku = write_pku_txt(frames, tmp_path / "b.txt")
    assert load_clip(pku).meta["reader"] == "pku"
    (tmp_path / "pku.data").write_bytes(pku.read_bytes())
    assert load_clip(tmp_path / "pku.data").meta["reader"] == "pku"
    npy = write_npy(frames, tmp_path / "c.npy")
    (tmp_path / "c_no_ext").write_bytes(npy.read_bytes())
    for path in (npy, tmp_path / "c_no_ext"):
        np.testing.assert_array_equal(load_clip(path).frames, frames)
    np.testing.assert_array_equal(star.skeleton.load_clip(ntu).frames, frames)
    real = ntu_samples / "S001C003P008R002A058.skeleton"
    np.testing.assert_array_equal(load_clip(real).frames, read_ntu_skeleton(real).frames)


def test_load_clip_unknown_content_and_misused_layout(tmp_path):
    (tmp_path / "x.csv").write_text("1,2\n3,4\n")
    with pytest.raises(SkeletonFormatError, match="an NTU .skeleton, PKU-MMD .txt, .npy or .npz"):
        load_clip(tmp_path / "x.csv")
    write_ntu_skeleton(frames_of(1, 2), tmp_path / "a.skeleton")
    with pytest.raises(ValueError, match="layout= applies to .npy/.npz"):
        load_clip(tmp_path / "a.skeleton", layout="TVC")
    with pytest.raises(SkeletonFormatError, match="a directory"):
        load_clip(tmp_path)
