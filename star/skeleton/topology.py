"""NTU-25 skeleton topology: joint names, bones, and the 2/4/6-part partitions.

Joint indices are 0-based in NTU RGB+D order. The 6-part partition follows the authors' code
(see shared/REFERENCE.md); the 4- and 2-part partitions are unions of it, as in the paper
(4: head, hand-arm, hip, leg-foot; 2: upper body, lower body).
"""

from __future__ import annotations

JOINT_NAMES: tuple[str, ...] = (
    "spine base", "spine mid", "neck", "head",
    "left shoulder", "left elbow", "left wrist", "left hand",
    "right shoulder", "right elbow", "right wrist", "right hand",
    "left hip", "left knee", "left ankle", "left foot",
    "right hip", "right knee", "right ankle", "right foot",
    "spine shoulder", "left hand tip", "left thumb", "right hand tip", "right thumb",
)
NUM_JOINTS = len(JOINT_NAMES)
SPINE_MID = 1

# (child, parent) pairs, 0-based; 24 bones form a tree rooted at the spine base.
BONES: tuple[tuple[int, int], ...] = (
    (1, 0), (20, 1), (2, 20), (3, 2),
    (4, 20), (5, 4), (6, 5), (7, 6), (21, 7), (22, 6),
    (8, 20), (9, 8), (10, 9), (11, 10), (23, 11), (24, 10),
    (12, 0), (13, 12), (14, 13), (15, 14),
    (16, 0), (17, 16), (18, 17), (19, 18),
)

_SIX = {
    "head": (2, 3, 20),
    "hand": (7, 11, 21, 22, 23, 24),
    "arm": (4, 5, 6, 8, 9, 10),
    "hip": (0, 1),
    "leg": (12, 13, 16, 17),
    "foot": (14, 15, 18, 19),
}

PARTITIONS: dict[int, dict[str, tuple[int, ...]]] = {
    6: dict(_SIX),
    4: {
        "head": _SIX["head"],
        "hand-arm": tuple(sorted(_SIX["hand"] + _SIX["arm"])),
        "hip": _SIX["hip"],
        "leg-foot": tuple(sorted(_SIX["leg"] + _SIX["foot"])),
    },
    2: {
        "upper body": tuple(sorted(_SIX["head"] + _SIX["hand"] + _SIX["arm"])),
        "lower body": tuple(sorted(_SIX["hip"] + _SIX["leg"] + _SIX["foot"])),
    },
}


def partition(num_parts: int) -> dict[str, tuple[int, ...]]:
    """Part name -> sorted joint indices for a 2-, 4- or 6-part partition."""
    if num_parts not in PARTITIONS:
        raise ValueError(f"num_parts must be one of {sorted(PARTITIONS)}, got {num_parts}")
    return dict(PARTITIONS[num_parts])


def part_names(num_parts: int) -> list[str]:
    return list(partition(num_parts))


def joint_part_index(num_parts: int = 6) -> list[int]:
    """For each of the 25 joints, the index of the part it belongs to."""
    out = [-1] * NUM_JOINTS
    for k, joints in enumerate(partition(num_parts).values()):
        for j in joints:
            out[j] = k
    return out
