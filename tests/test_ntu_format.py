"""NTU RGB+D .skeleton reading, denoising, writing, error cases, fuzzing, speed; the two genuine files."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import read_fuzzed, sometimes_truncated
from star.skeleton import SkeletonFormatError
from star.skeleton.io import read_ntu_skeleton, write_ntu_skeleton
from star.skeleton.ntu_format import format_ntu_skeleton, parse_ntu_skeleton_text
from star.skeleton.synth import forward_kinematics, make_clip

A058 = "S001C003P008R002A058.skeleton"
A003 = "S002C001P003R001A003.skeleton"
ID = 72057594037900000  # the writer's body ids: ID + slot
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no overflow/invalid-value warnings either


def standing(num_frames: int, x: float = 0.0, z: float = 3.0, wobble: float = 0.0) -> np.ndarray:
    """A standing body (T, 25, 3) at (x, ., z), translated by wobble * sin over time."""
    pos = forward_kinematics({}, num_frames) + np.array([x, 0.1, z])
    pos[:, :, 0] += wobble * np.sin(np.arange(num_frames) / 3.0)[:, None]
    return pos.astype(np.float32)


def bodies_text(*bodies: np.ndarray) -> str:
    """NTU text for bodies (T, 25, 3) that are zero where absent; body k gets id ID + k."""
    return format_ntu_skeleton(np.stack(bodies))


# ------------------------------------------------------------------------------------ genuine files
def test_real_one_person_file(ntu_samples):
    clip = read_ntu_skeleton(ntu_samples / A003)
    assert clip.frames.shape == (1, 100, 25, 3)
    assert clip.frames.dtype == np.float32
    assert clip.meta["num_frames_header"] == 100 and clip.meta["num_bodies_raw"] == 1
    assert clip.meta["reader"] == "ntu" and clip.meta["dropped_bodies"] == {}
    assert clip.label == 2 and clip.meta["action"] == 3 and clip.meta["subject"] == 3 and clip.meta["camera"] == 1
    assert clip.source == A003
    np.testing.assert_array_equal(clip.frames[0, 0, 0], np.float32([0.1264189, -0.08822607, 2.788731]))


def test_real_two_person_file(ntu_samples):
    clip = read_ntu_skeleton(ntu_samples / A058)
    f = clip.frames
    assert f.shape == (2, 70, 25, 3)
    assert clip.meta["num_frames_header"] == 70 and clip.meta["num_bodies_raw"] == 2
    # the body listed second in the file moves more, so it comes first
    assert clip.meta["body_ids"] == [["72057594037944734"], ["72057594037944738"]]
    np.testing.assert_array_equal(f[0, 0, 0], np.float32([-0.387201, -0.05403496, 2.961099]))
    np.testing.assert_array_equal(f[1, 0, 0], np.float32([0.7201789, 0.1647426, 3.561895]))
    np.testing.assert_array_equal(f[1, -1, 0], np.float32([0.639133, 0.1554954, 3.519047]))
    assert np.all(np.any(f != 0, axis=(2, 3)))  # both people in every frame
    # shaking hands: the right hands start ~1.1 m apart and meet
    gap = np.linalg.norm(f[0, :, 11] - f[1, :, 11], axis=1)
    assert gap[0] > 0.8 and gap.min() < 0.05
    assert clip.label == 57


@pytest.mark.parametrize("name", [A003, A058])
def test_real_joint_ranges(ntu_samples, name):
    f = read_ntu_skeleton(ntu_samples / name).frames
    assert np.all(np.abs(f[..., :2]) < 2.5)
    assert np.all((f[..., 2] > 0.5) & (f[..., 2] < 6))
    assert np.all(f[:, :, 3, 1] > f[:, :, 0, 1])  # head above spine base: y is up


@pytest.mark.parametrize("name", [A003, A058])
def test_real_file_round_trip(ntu_samples, tmp_path, name):
    clip = read_ntu_skeleton(ntu_samples / name)
    back = read_ntu_skeleton(write_ntu_skeleton(clip, tmp_path / name))
    np.testing.assert_array_equal(back.frames, clip.frames)


# ------------------------------------------------------------------------------- writer / round trip
def test_written_format_is_the_official_layout(tmp_path):
    frames = np.stack([standing(3), np.zeros((3, 25, 3), np.float32)])
    frames[1, 1] = standing(1, x=1.0)[0]  # second body only in frame 2
    text = (write_ntu_skeleton(frames, tmp_path / "a.skeleton")).read_bytes().decode()
    lines = text.split("\r\n")
    assert text.endswith("\r\n") and lines[0] == "3"
    assert lines[1] == "1" and lines[2].split()[0] == str(ID) and len(lines[2].split()) == 10 and lines[3] == "25"
    assert all(len(line.split()) == 12 for line in lines[4:29])
    assert lines[29] == "2"  # frame 2 has both bodies
    assert len(lines) == 1 + 3 + 4 * 27 + 1


def test_round_trip_exact_float32(tmp_path):
    rng = np.random.default_rng(0)
    frames = (standing(40, wobble=0.2)[None] + rng.normal(0, 0.01, (1, 40, 25, 3))).astype(np.float32)
    back = read_ntu_skeleton(write_ntu_skeleton(frames, tmp_path / "r.skeleton"))
    np.testing.assert_array_equal(back.frames, frames)


# ------------------------------------------------------------------------------------------ denoising
def test_short_lived_body_dropped_and_boundary():
    a = standing(30, wobble=0.01)
    b11 = np.zeros_like(a)
    b11[:11] = standing(11, x=1.0, wobble=0.3)
    clip = parse_ntu_skeleton_text(bodies_text(a, b11), "x")
    assert clip.frames.shape == (1, 30, 25, 3)
    assert "seen in 11 frames" in clip.meta["dropped_bodies"][str(ID + 1)]
    b12 = np.zeros_like(a)
    b12[:12] = standing(12, x=1.0, wobble=0.3)
    assert parse_ntu_skeleton_text(bodies_text(a, b12), "x").frames.shape == (2, 30, 25, 3)


def test_lone_short_body_is_kept():
    clip = parse_ntu_skeleton_text(bodies_text(standing(5)), "x")
    assert clip.frames.shape == (1, 5, 25, 3)


def test_spread_noisy_body_dropped_even_with_most_motion():
    a = standing(30, wobble=0.01)
    lying = standing(30, x=1.0, wobble=0.5)[:, :, [1, 0, 2]]  # x and y swapped: wide, not tall
    clip = parse_ntu_skeleton_text(bodies_text(a, lying), "x")
    assert clip.frames.shape == (1, 30, 25, 3)
    np.testing.assert_array_equal(clip.frames[0], a)
    assert "noisy frames" in clip.meta["dropped_bodies"][str(ID + 1)]


def test_keeps_two_most_moving_bodies_in_motion_order():
    still, fast, medium = standing(30, x=-1), standing(30, x=0, wobble=0.3), standing(30, x=1, wobble=0.1)
    clip = parse_ntu_skeleton_text(bodies_text(still, fast, medium), "x")
    assert clip.frames.shape == (2, 30, 25, 3)
    np.testing.assert_array_equal(clip.frames[0], fast)
    np.testing.assert_array_equal(clip.frames[1], medium)
    assert list(clip.meta["dropped_bodies"]) == [str(ID)]
    one = parse_ntu_skeleton_text(bodies_text(still, fast, medium), "x", max_bodies=1)
    np.testing.assert_array_equal(one.frames[0], fast)


def test_body_with_new_tracking_id_is_merged_into_one_slot():
    main = standing(60, x=0, wobble=0.3)
    first, second = np.zeros_like(main), np.zeros_like(main)
    first[:30] = standing(30, x=1, wobble=0.05)
    second[30:] = standing(30, x=1.1, wobble=0.05)
    clip = parse_ntu_skeleton_text(bodies_text(main, first, second), "x")
    assert clip.frames.shape == (2, 60, 25, 3)
    np.testing.assert_array_equal(clip.frames[1], first + second)
    assert clip.meta["body_ids"] == [[str(ID)], [str(ID + 1), str(ID + 2)]]


def test_empty_frames_dropped_only_when_denoising():
    body = np.zeros((23, 25, 3), np.float32)
    body[3:] = standing(20, wobble=0.1)
    text = bodies_text(body)
    clip = parse_ntu_skeleton_text(text, "x")
    assert clip.frames.shape == (1, 20, 25, 3) and clip.meta["num_empty_frames_dropped"] == 3
    raw = parse_ntu_skeleton_text(text, "x", denoise=False)
    assert raw.frames.shape == (1, 23, 25, 3) and not raw.frames[0, :3].any()


def test_without_denoising_bodies_keep_file_order():
    still, fast = standing(5, x=-1), standing(5, wobble=0.3)
    clip = parse_ntu_skeleton_text(bodies_text(still, fast), "x", denoise=False)
    np.testing.assert_array_equal(clip.frames[0], still)


def test_repeated_body_id_in_one_frame_is_a_second_body():
    text = bodies_text(standing(20, x=-0.8, wobble=0.2), standing(20, x=0.8, wobble=0.1)).replace(str(ID + 1), str(ID))
    clip = parse_ntu_skeleton_text(text, "x")
    assert clip.frames.shape == (2, 20, 25, 3)
    assert clip.meta["body_ids"] == [[str(ID)], [f"{ID}#2"]]


# ----------------------------------------------------------------------------------------- bad input
VALID = bodies_text(standing(3))  # 85 lines: header, 3 x (body count, body line, joint count, 25 joints)


def _replace_line(index: int, new: str) -> str:
    lines = VALID.split("\r\n")
    lines[index] = new
    return "\r\n".join(lines)


def _replace_value(line: int, pos: int, new: str) -> str:
    tokens = VALID.split("\r\n")[line].split()
    tokens[pos] = new
    return _replace_line(line, " ".join(tokens))


BAD_TEXTS = {
    "empty": ("", None, "empty file"),
    "blank": ("\r\n \r\n", None, "empty file"),
    "truncated": ("\r\n".join(VALID.split("\r\n")[:50]), "line 31", "end of the file"),
    "truncated mid-line": (VALID[:-30], "line 85", "12 values on a joint line"),
    "zero frames": ("0\r\n", "line 1", "at least 1"),
    "negative frames": ("-3\r\n1\r\n", "line 1", "at least 1"),
    "absurd frames": (_replace_line(0, "1000000000"), "line 1", "at most 100000"),
    "more frames than lines": (_replace_line(0, "500"), "line 1", "truncated"),
    "frame count text": (_replace_line(0, "three"), "line 1", "'three'"),
    "body count absurd": (_replace_line(1, "11"), "line 2", "between 0 and 10"),
    "body count huge": (_replace_line(1, "999999999999"), "line 2", "between 0 and 10"),
    "wrong joint count": (_replace_line(3, "24"), "line 4", "25 joints"),
    "joint count text": (_replace_line(3, "twenty-five"), "line 4", "joint count"),
    "text in joint line": (_replace_value(10, 1, "abc"), "line 11", "'abc'"),
    "nan": (_replace_value(12, 0, "nan"), "line 13", "finite"),
    "inf": (_replace_value(13, 2, "-inf"), "line 14", "finite"),
    "overflow": (_replace_value(13, 2, "1e999"), "line 14", "finite"),
    "huge value": (_replace_value(13, 1, "1e300"), "line 14", "|value| <= 10000 m"),
    "short joint line": (_replace_line(5, " ".join(VALID.split("\r\n")[5].split()[:11])), "line 6", "12 values"),
    "short body line": (_replace_line(2, " ".join(VALID.split("\r\n")[2].split()[:9])), "line 3", "10 values"),
    "text in body line": (_replace_value(2, 3, "yes"), "line 3", "'yes'"),
    "trailing text": (VALID + "1\r\n", "line 86", "end of the file"),
    "no bodies": ("3\r\n0\r\n0\r\n0\r\n", None, "no body in any of the 3 frames"),
}


@pytest.mark.parametrize("case", list(BAD_TEXTS))
def test_bad_text_raises_located_error(tmp_path, case):
    text, where, found = BAD_TEXTS[case]
    path = tmp_path / "bad.skeleton"
    path.write_bytes(text.encode())
    t0 = time.perf_counter()
    with pytest.raises(SkeletonFormatError) as info:
        read_ntu_skeleton(path)
    assert time.perf_counter() - t0 < 2.0
    message = str(info.value)
    assert str(path) in message and found in message
    assert info.value.where == where


def test_valid_base_text_reads():
    assert parse_ntu_skeleton_text(VALID, "x").frames.shape == (1, 3, 25, 3)


def test_binary_and_oversize_and_missing(tmp_path):
    path = tmp_path / "bin.skeleton"
    path.write_bytes(VALID.encode()[:200] + b"\xff\xfe\x00" + VALID.encode()[200:])
    with pytest.raises(SkeletonFormatError, match="binary byte 0xff"):
        read_ntu_skeleton(path)
    big = tmp_path / "big.skeleton"
    big.write_bytes(VALID.encode())
    with pytest.raises(SkeletonFormatError, match="at most 1,000 bytes"):
        read_ntu_skeleton(big, max_bytes=1000)
    assert read_ntu_skeleton(big, max_bytes=len(VALID)).num_frames == 3
    with pytest.raises(SkeletonFormatError, match="no such file"):
        read_ntu_skeleton(tmp_path / "missing.skeleton")


# ------------------------------------------------------------------------------------------- fuzzing
VALID_LINES = VALID.split("\r\n")
ODD_TOKENS = ["nan", "inf", "-1", "0", "1", "2", "25", "11", "1e999", "abc", "", "99999999999", "3.5", "\x00", "-0", "1_0"]


@st.composite
def mutated_files(draw) -> bytes:
    lines = list(VALID_LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "token", "insert"]))
        junk = draw(st.sampled_from(ODD_TOKENS) | st.text(max_size=12) | st.floats().map(repr))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "replace":
            lines[i] = junk
        elif op == "insert":
            lines.insert(i, junk)
        else:
            tokens = lines[i].split() or [""]
            tokens[draw(st.integers(0, len(tokens) - 1))] = junk
            lines[i] = " ".join(tokens)
        if not lines:
            break
    return sometimes_truncated(draw, "\r\n".join(lines).encode("utf-8", "surrogatepass"))


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(data=mutated_files())
def test_fuzz_ntu_reader(fuzz_dir, data):
    read_fuzzed(read_ntu_skeleton, fuzz_dir / "fuzz.skeleton", data)


# --------------------------------------------------------------------------------------------- speed
def test_reads_300_frame_two_body_file(tmp_path):
    """A full-length two-body file round-trips (its read speed is measured by bench/io_speed.py, not here)."""
    a = make_clip("jump up", seed=1).frames[0]
    b = make_clip("clapping", seed=2).frames[0]
    frames = np.stack([np.resize(a, (300, 25, 3)), np.resize(b, (300, 25, 3))])
    path = write_ntu_skeleton(frames, tmp_path / "long.skeleton")
    clip = read_ntu_skeleton(path)
    assert clip.frames.shape == (2, 300, 25, 3)
    # the reader orders bodies by motion, so they come back in either order
    assert any(np.allclose(clip.frames, order, atol=1e-4) for order in (frames, frames[::-1]))
