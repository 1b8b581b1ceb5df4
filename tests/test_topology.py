"""NTU-25 topology: joint names, bones as a tree, 2/4/6-part partitions."""

from __future__ import annotations

from collections import Counter

import pytest

from star.skeleton import topology as topo


def test_joint_names():
    assert len(topo.JOINT_NAMES) == 25 == topo.NUM_JOINTS
    assert len(set(topo.JOINT_NAMES)) == 25
    assert topo.JOINT_NAMES[topo.SPINE_MID] == "spine mid"
    assert topo.JOINT_NAMES[20] == "spine shoulder"
    assert topo.JOINT_NAMES[23] == "right hand tip"


@pytest.mark.parametrize("k", [2, 4, 6])
def test_every_joint_in_exactly_one_part(k):
    parts = topo.partition(k)
    assert len(parts) == k
    counts = Counter(j for joints in parts.values() for j in joints)
    assert sorted(counts) == list(range(25))
    assert set(counts.values()) == {1}
    index = topo.joint_part_index(k)
    names = topo.part_names(k)
    for j in range(25):
        assert j in parts[names[index[j]]]


# The six parts as the reference lists them (../shared/REFERENCE.md), written out independently.
REFERENCE_SIX = "head 2 3 20; hand 7 11 21 22 23 24; arm 4 5 6 8 9 10; hip 0 1; leg 12 13 16 17; foot 14 15 18 19"


def test_six_parts_exactly_as_reference():
    expected = {name: tuple(int(j) for j in joints.split())
                for name, joints in (part.strip().split(" ", 1) for part in REFERENCE_SIX.split(";"))}
    assert topo.partition(6) == expected
    assert list(topo.partition(6)) == list(expected)


def test_four_and_two_parts_are_unions_of_six():
    six = topo.partition(6)
    four = topo.partition(4)
    assert list(four) == ["head", "hand-arm", "hip", "leg-foot"]
    assert set(four["hand-arm"]) == set(six["hand"]) | set(six["arm"])
    assert set(four["leg-foot"]) == set(six["leg"]) | set(six["foot"])
    two = topo.partition(2)
    assert set(two["upper body"]) == set(six["head"]) | set(six["hand"]) | set(six["arm"])
    assert set(two["lower body"]) == {0, 1, 12, 13, 14, 15, 16, 17, 18, 19}


@pytest.mark.parametrize("k", [0, 3, 5, 25])
def test_other_part_counts_refused(k):
    with pytest.raises(ValueError, match="num_parts"):
        topo.partition(k)


def test_bones_form_a_tree_rooted_at_spine_base():
    bones = topo.BONES
    assert len(bones) == 24
    children = [c for c, _ in bones]
    assert len(set(children)) == 24 and 0 not in children  # one parent per joint except the root
    parent = dict(bones)
    for j in range(25):  # every joint reaches the root without a cycle
        seen, k = set(), j
        while k != 0:
            assert k not in seen
            seen.add(k)
            k = parent[k]
    assert all(0 <= a < 25 and 0 <= b < 25 for a, b in bones)
