"""Synthetic demo clips: plausible bodies, the intended motions, shipped files in sync, CLI."""

from __future__ import annotations

import numpy as np
import pytest

from star.cli import main as star_main
from star.skeleton import load_clip
from star.skeleton.synth import ACTIONS, REST_OFFSETS, make_clip, sample_file_name, write_samples
from star.skeleton.topology import BONES

REQUIRED = ["hand waving", "clapping", "jump up", "sit down", "kicking something", "arm circles"]
HEAD, SPINE_BASE, LEFT_HAND, RIGHT_HAND, LEFT_FOOT, RIGHT_FOOT = 3, 0, 7, 11, 15, 19


def bone_lengths(f: np.ndarray) -> np.ndarray:
    """(T, 24) bone lengths of frames (T, 25, 3)."""
    f = f.astype(np.float64)
    return np.stack([np.linalg.norm(f[:, a] - f[:, b], axis=1) for a, b in BONES], axis=1)


def test_required_actions_exist():
    assert set(REQUIRED) <= set(ACTIONS)


@pytest.mark.parametrize("name", list(ACTIONS))
@pytest.mark.parametrize("seed", [None, 7])
def test_clip_is_a_plausible_body(name, seed):
    clip = make_clip(name, seed=seed)
    f = clip.frames[0]
    assert clip.frames.shape[0] == 1 and clip.frames.dtype == np.float32
    assert 2.0 * 30 <= f.shape[0] <= 4.2 * 30  # 2-4 s at 30 fps
    lengths = bone_lengths(f)
    assert np.ptp(lengths, axis=0).max() < 1e-5  # every bone keeps its length
    if seed is None:
        np.testing.assert_allclose(lengths[0], np.linalg.norm(REST_OFFSETS[[c for c, _ in BONES]], axis=1), atol=1e-6)
    stand = f[0, HEAD, 1] - f[0, [LEFT_FOOT, RIGHT_FOOT], 1].min()
    assert 1.4 < stand < 1.8  # head centre to soles: a ~1.7 m person
    assert np.all((f[..., 2] > 1.5) & (f[..., 2] < 4.5)) and np.all(np.abs(f[..., 0]) < 1.6)
    assert np.all(f[..., 1] > -0.9)  # nothing below the floor (y = -0.87)
    step = np.linalg.norm(np.diff(f, axis=0), axis=2)
    assert step.max() < 0.3  # under 9 m/s: no jumps between frames
    accel = np.linalg.norm(np.diff(f, n=2, axis=0), axis=2)
    assert accel.max() < 0.12
    assert step.sum(axis=0).max() > 0.3  # something moves
    assert clip.meta["synthetic"] is True and clip.source.startswith("synthetic_")


def _travel(f: np.ndarray, joint: int) -> float:
    return float(np.linalg.norm(np.diff(f[:, joint], axis=0), axis=1).sum())


def test_each_action_moves_what_it_should():
    wave = make_clip("hand waving").frames[0]
    assert _travel(wave, RIGHT_HAND) > 5 * _travel(wave, LEFT_HAND)
    assert wave[:, RIGHT_HAND, 1].max() > wave[:, HEAD, 1].max() - 0.1  # hand raised near head height
    clap = make_clip("clapping").frames[0]
    gap = np.linalg.norm(clap[:, LEFT_HAND] - clap[:, RIGHT_HAND], axis=1)
    assert gap.min() < 0.08 and gap[0] > 0.3
    jump = make_clip("jump up").frames[0]
    feet = jump[:, [LEFT_FOOT, RIGHT_FOOT], 1].min(axis=1)
    assert feet.max() - feet[0] > 0.2  # both feet leave the floor
    sit = make_clip("sit down").frames[0]
    assert sit[0, SPINE_BASE, 1] - sit[-1, SPINE_BASE, 1] > 0.3
    assert abs(sit[-1, LEFT_FOOT, 1] - sit[0, LEFT_FOOT, 1]) < 0.01  # feet stay on the floor
    kick = make_clip("kicking something").frames[0]
    assert kick[:, RIGHT_FOOT, 2].min() < kick[0, RIGHT_FOOT, 2] - 0.4  # the right foot goes forward (-z)
    assert np.ptp(kick[:, LEFT_FOOT], axis=0).max() < 0.01  # the supporting foot stays put
    circles = make_clip("arm circles").frames[0]
    mid = circles[30:70]
    assert np.all(mid[:, RIGHT_HAND, 0] - mid[:, SPINE_BASE, 0] > 0.5)  # arms held out to the side
    assert np.ptp(mid[:, RIGHT_HAND, 1]) > 0.2 and np.ptp(mid[:, RIGHT_HAND, 2]) > 0.2  # tracing circles


def test_seed_varies_the_clip_deterministically():
    a, b = make_clip("clapping", seed=1), make_clip("clapping", seed=1)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(make_clip("clapping", seed=2).frames[:, :10], a.frames[:, :10])
    with pytest.raises(ValueError, match="unknown synthetic action"):
        make_clip("juggling")


def test_written_samples_read_back(tmp_path):
    paths = write_samples(tmp_path, ["hand waving", "jump up"])
    assert [p.name for p in paths] == ["synthetic_hand_waving.skeleton", "synthetic_jump_up.skeleton"]
    for path, name in zip(paths, ["hand waving", "jump up"]):
        clip = load_clip(path)
        assert clip.meta["reader"] == "ntu"
        np.testing.assert_array_equal(clip.frames, make_clip(name).frames)


def test_shipped_samples_are_the_generators_output(repo_root):
    folder = repo_root / "assets" / "samples"
    assert (folder / "README.md").read_text().lower().count("synthetic") >= 2
    for name in ACTIONS:
        clip = load_clip(folder / sample_file_name(name))
        np.testing.assert_allclose(clip.frames, make_clip(name).frames, atol=1e-6)
    assert all(p.name.startswith("synthetic_") for p in folder.glob("*.skeleton"))


def test_cli_synth(tmp_path, capsys):
    assert star_main(["synth", "--out", str(tmp_path / "out"), "--action", "clapping"]) == 0
    assert (tmp_path / "out" / "synthetic_clapping.skeleton").exists()
    assert "synthetic" in capsys.readouterr().out
