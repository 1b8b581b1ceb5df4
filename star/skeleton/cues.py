"""Recording cues: what a clip says about how it was recorded, not about the action.

Issue 11 measured that on pool42 a clip's dataset decides which seen classes it resembles
(docs/SOURCE_PROBE.md), and that these cues alone name the dataset of clips from classes never seen.
``bench/source_probe.py`` uses them for that measurement; ``star.source_model`` uses them to tell a user
which training dataset their clip resembles.

The cue vector of one clip (body 0 of canonical frames), ``NUM_CUES`` values:

- per-joint jitter, 25 values: the RMS over time of the second difference (metres per frame squared), i.e.
  tracking noise; 0 for clips shorter than 3 frames;
- the median length of each bone in ``topology.BONES`` (metres), i.e. the tracker's skeleton model;
- log(T), the clip length;
- the share of frozen frames: frames in which no joint moved more than ``FROZEN_EPS`` (repeated frames of
  a low-rate sensor); 0 for a 1-frame clip.
"""

from __future__ import annotations

import numpy as np

from star.skeleton.topology import BONES, JOINT_NAMES

FROZEN_EPS = 1e-6  # metres: a frame whose every joint moved less than this is frozen
NUM_JOINTS = 25
CUE_GROUPS = {"jitter": slice(0, NUM_JOINTS), "bone lengths": slice(NUM_JOINTS, NUM_JOINTS + len(BONES)),
              "length and frozen frames": slice(NUM_JOINTS + len(BONES), NUM_JOINTS + len(BONES) + 2)}
NUM_CUES = NUM_JOINTS + len(BONES) + 2


def cue_names() -> list[str]:
    """One readable name per cue, in the order of ``recording_cues``."""
    return ([f"jitter {JOINT_NAMES[j]}" for j in range(NUM_JOINTS)]
            + [f"bone {JOINT_NAMES[a]}-{JOINT_NAMES[b]}" for a, b in BONES] + ["log frames", "frozen frames"])


def recording_cues(frames: np.ndarray) -> np.ndarray:
    """Canonical frames (M, T, 25, 3) -> (NUM_CUES,) float32 cues of body 0 (see the module docstring)."""
    x = np.asarray(frames, dtype=np.float64)
    if x.ndim != 4 or x.shape[2:] != (NUM_JOINTS, 3) or x.shape[1] < 1:
        raise ValueError(f"frames of shape {x.shape}: expected (bodies, frames >= 1, 25, 3)")
    x = x[0]  # (T, 25, 3)
    t = x.shape[0]
    if t >= 3:
        acc = x[2:] - 2 * x[1:-1] + x[:-2]  # (T-2, 25, 3)
        jitter = np.sqrt((acc ** 2).sum(-1).mean(0))  # (25,)
    else:
        jitter = np.zeros(NUM_JOINTS)
    bones = np.array([np.median(np.linalg.norm(x[:, a] - x[:, b], axis=-1)) for a, b in BONES])
    if t >= 2:
        step = np.abs(np.diff(x, axis=0)).max(axis=(1, 2))  # (T-1,)
        frozen = float(np.mean(step < FROZEN_EPS))
    else:
        frozen = 0.0
    return np.concatenate([jitter, bones, [np.log(t), frozen]]).astype(np.float32)
