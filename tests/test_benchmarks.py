"""Benchmarks: class lists, exact seen/unseen splits, sample protocols on the shared banks, and a
validation protocol that never touches test clips or unseen classes."""

from __future__ import annotations

import numpy as np
import pytest

from star.data import ClipBank, get_benchmark, list_benchmarks
from star.data.protocols import TEST, TRAIN, UNUSED, every_third_per_class, sample_roles
from star.data.splits import pseudo_unseen_classes, stratified_split

POOL = ["pool42-32/10", "pool42-r0", "pool42-r1", "pool42-r2"]


@pytest.fixture(scope="module")
def pool_bank(shared_data):
    return get_benchmark("pool42-32/10").load_bank(shared_data)


def test_registry_names():
    names = list_benchmarks()
    for n in POOL + ["ntu60-xsub-55/5", "ntu60-xsub-48/12", "ntu60-xview-55/5", "ntu60-xview-48/12",
                     "ntu120-xsub-110/10", "ntu120-xsub-96/24", "ntu120-xset-110/10", "ntu120-xset-96/24",
                     "pku-xsub-46/5", "pku-xsub-39/12", "pku-xview-46/5", "pku-xview-39/12"]:
        assert n in names
    assert get_benchmark("ntu60-xsub-55-5") is get_benchmark("ntu60-xsub-55/5")
    assert get_benchmark("pool42-32_10").name == "pool42-32/10"
    with pytest.raises(ValueError, match="pool42-r0"):
        get_benchmark("pool43")


def test_pool42_class_names():
    b = get_benchmark("pool42-32/10")
    assert b.num_classes == 42 and b.description_set == "pool42"
    names = b.class_names
    expected = {0: "pick up with one hand", 1: "pick up with two hands", 7: "doffing", 9: "carry",
                10: "high arm wave", 11: "horizontal arm wave", 13: "hand catch", 17: "draw tick",
                24: "side kick", 27: "tennis serve", 29: "pick up and throw", 30: "open and close the arms",
                35: "shake the left hand", 37: "crouching", 41: "neck relaxation"}
    for i, name in expected.items():
        assert names[i] == name


def test_pool42_class_names_match_shared_files(shared_data):
    names = []
    for f in ("nwucla.npz", "msr3d.npz", "gtu3d.npz"):
        with np.load(shared_data / f) as d:
            names += [str(c) for c in d["class_names"]]
    assert get_benchmark("pool42-r1").class_names == names


def test_pool42_splits_exact():
    assert get_benchmark("pool42-32/10").unseen_classes == [1, 7, 11, 13, 17, 24, 27, 35, 37, 41]
    listed = {0: [0, 1, 2, 7, 9, 11, 17, 21, 28, 34], 1: [1, 5, 10, 13, 15, 17, 26, 32, 34, 37],
              2: [3, 8, 10, 13, 15, 17, 25, 27, 30, 39]}
    for seed, unseen in listed.items():
        b = get_benchmark(f"pool42-r{seed}")
        formula = sorted(int(c) for c in np.random.default_rng(seed).choice(42, 10, replace=False))
        assert b.unseen_classes == unseen == formula
        assert len(b.seen_classes) == 32
        assert sorted(b.seen_classes + b.unseen_classes) == list(range(42))


@pytest.mark.parametrize(
    "name, n_unseen, n_classes, desc",
    [("ntu60-xsub-55/5", 5, 60, "ntu120"), ("ntu60-xview-48/12", 12, 60, "ntu120"),
     ("ntu120-xsub-110/10", 10, 120, "ntu120"), ("ntu120-xset-96/24", 24, 120, "ntu120"),
     ("pku-xsub-46/5", 5, 51, "pkummd"), ("pku-xview-39/12", 12, 51, "pkummd")],
)
def test_standard_splits_sizes(name, n_unseen, n_classes, desc):
    b = get_benchmark(name)
    assert (b.num_classes, len(b.unseen_classes), len(b.seen_classes)) == (n_classes, n_unseen,
                                                                           n_classes - n_unseen)
    assert b.description_set == desc and b.unseen_classes == sorted(b.unseen_classes)


def test_standard_split_class_names():
    b = get_benchmark("ntu60-xsub-55/5")
    assert [b.class_names[i] for i in b.unseen_classes] == [
        "reading", "writing", "put on a hat/cap", "jump up", "touch pocket"]
    assert get_benchmark("ntu120-xsub-110/10").class_names[119] == "rock-paper-scissors"
    assert get_benchmark("ntu120-xsub-110/10").class_names[:60] == b.class_names
    assert get_benchmark("pku-xsub-46/5").unseen_classes == [1, 9, 20, 34, 50]
    assert get_benchmark("pku-xsub-46/5").class_names[50] == "writing"


def test_pool42_sample_protocol_counts(pool_bank):
    role = pool_bank.extras["role"]
    counts = {}
    for prefix in ("nwucla", "msr3d", "gtu3d"):
        m = np.char.startswith(pool_bank.sample_id, prefix + "/")
        counts[prefix] = (int((role[m] == TRAIN).sum()), int((role[m] == TEST).sum()))
    # NW-UCLA views 1+2 / view 3; MSR odd / even subjects; GTU3D floor(n/3) per class test.
    assert counts == {"nwucla": (1020, 464), "msr3d": (291, 275), "gtu3d": (317, 152)}
    assert len(pool_bank) == 1484 + 566 + 469 and not np.any(role == UNUSED)
    # per-dataset label ranges
    ucla = np.char.startswith(pool_bank.sample_id, "nwucla/")
    assert pool_bank.label[ucla].min() == 0 and pool_bank.label[ucla].max() == 9
    gtu = np.char.startswith(pool_bank.sample_id, "gtu3d/")
    assert pool_bank.label[gtu].min() == 30 and pool_bank.label[gtu].max() == 41
    assert np.all(pool_bank.view[ucla & (role == TEST)] == 3)
    msr = np.char.startswith(pool_bank.sample_id, "msr3d/")
    assert np.all(pool_bank.subject[msr & (role == TRAIN)] % 2 == 1)


def test_every_third_uses_string_order_within_class():
    clips = ["b2", "a", "c", "b10", "x", "y", "z"]
    bank = ClipBank(np.zeros((7, 25, 3), np.float32), np.arange(8), np.array([0, 0, 0, 0, 1, 1, 1]),
                    ["p", "q"], sample_id=np.array(clips))
    # class 0 sorted: a, b10, b2, c -> position 2 is "b2"; class 1: x, y, z -> "z"
    assert every_third_per_class(bank).tolist() == [TEST, TRAIN, TRAIN, TRAIN, TRAIN, TRAIN, TEST]


def test_load_splits_never_trains_on_unseen_or_test(shared_data):
    for name in POOL:
        b = get_benchmark(name)
        splits = b.load_splits(shared_data)
        train, test = splits["train"], splits["test"]
        assert set(np.unique(train.label)) == set(b.seen_classes)
        assert set(np.unique(test.label)) == set(range(42))
        assert not set(train.sample_id) & set(test.sample_id)
        assert np.all(train.extras["role"] == TRAIN) and np.all(test.extras["role"] == TEST)
        assert len(test) == 891
        # train = all 1628 training-protocol clips minus those of unseen classes
        bank = b.load_bank(shared_data)
        unseen_train = (bank.extras["role"] == TRAIN) & np.isin(bank.label, b.unseen_classes)
        assert len(train) == 1628 - int(unseen_train.sum())
        assert not set(train.sample_id) & set(bank.sample_id[np.isin(bank.label, b.unseen_classes)])


def test_split_sizes_pool42_32_10(shared_data):
    b = get_benchmark("pool42-32/10")
    s = b.load_splits(shared_data)
    assert len(s["test"]) == 464 + 275 + 152
    unseen_test = np.isin(s["test"].label, b.unseen_classes).sum()
    assert 0 < unseen_test < len(s["test"])
    assert np.bincount(s["train"].label, minlength=42)[b.unseen_classes].sum() == 0


def test_validation_split_is_seeded_stratified_and_clean(shared_data):
    b = get_benchmark("pool42-r0")
    bank = b.load_bank(shared_data)
    tr, val = b.validation_split(bank, seed=0, val_fraction=0.2)
    test_ids = set(bank.sample_id[bank.extras["role"] == TEST])
    for part in (tr, val):
        assert not set(part.sample_id) & test_ids
        assert not np.isin(part.label, b.unseen_classes).any()
    assert not set(tr.sample_id) & set(val.sample_id)
    n_seen_train = len(b.train_indices(bank))
    assert len(tr) + len(val) == n_seen_train
    counts = np.bincount(b.load_splits(shared_data)["train"].label, minlength=42)
    for c in b.seen_classes:
        assert (val.label == c).sum() == max(1, round(counts[c] * 0.2))
    tr2, val2 = b.validation_split(bank, seed=0)
    assert val2.sample_id.tolist() == val.sample_id.tolist()
    _, val3 = b.validation_split(bank, seed=1)
    assert val3.sample_id.tolist() != val.sample_id.tolist()


def test_pseudo_unseen_fold(shared_data):
    b = get_benchmark("pool42-32/10")
    p_seen, p_unseen = b.pseudo_unseen_split(seed=0, fraction=0.25)
    assert len(p_unseen) == 8 and len(p_seen) == 24
    assert sorted(p_seen + p_unseen) == b.seen_classes
    assert not set(p_unseen) & set(b.unseen_classes)
    assert b.pseudo_unseen_split(seed=0) == (p_seen, p_unseen)
    assert b.pseudo_unseen_split(seed=1) != (p_seen, p_unseen)
    train = b.load_splits(shared_data)["train"]
    fold = b.pseudo_unseen_fold(train, seed=0)
    assert fold["unseen_classes"] == p_unseen
    assert set(np.unique(fold["val_unseen"].label)) == set(p_unseen)
    assert set(np.unique(fold["train"].label)) == set(p_seen) == set(np.unique(fold["val_seen"].label))
    test_ids = set(b.load_splits(shared_data)["test"].sample_id)
    all_ids = [fold[k].sample_id for k in ("train", "val_seen", "val_unseen")]
    assert sum(len(x) for x in all_ids) == len(train)
    assert not set(np.concatenate(all_ids)) & test_ids


def test_split_helpers_edge_cases():
    kept, held = stratified_split(np.array([0, 1, 1, 2, 2, 2, 2, 2]), 0.2, seed=0)
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(8))
    labels = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    # class 0 (1 clip) keeps it; class 1 (2 clips) holds 1; class 2 (5 clips) holds round(1.0) = 1
    assert np.bincount(labels[held], minlength=3).tolist() == [0, 1, 1]
    with pytest.raises(ValueError):
        stratified_split(labels, 1.0, seed=0)
    assert pseudo_unseen_classes([4, 2], 0.9, seed=0)[1] in ([2], [4])
    with pytest.raises(ValueError):
        pseudo_unseen_classes([3], 0.5, seed=0)


def test_missing_bank_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="prepare-ntu"):
        get_benchmark("ntu60-xsub-55/5").load_bank(tmp_path)
    with pytest.raises(FileNotFoundError, match="prepare-pku"):
        get_benchmark("pku-xview-46/5").load_bank(tmp_path)


def test_wrong_class_list_is_rejected(tmp_path):
    bank = ClipBank(np.zeros((1, 25, 3), np.float32), [0, 1], [0], ["not ntu"], subject=[1], view=[1])
    bank.save(tmp_path / "ntu60.npz")
    with pytest.raises(ValueError, match="class lists do not match"):
        get_benchmark("ntu60-xsub-55/5").load_bank(tmp_path)


def test_protocol_needing_missing_key_says_so():
    bank = ClipBank(np.zeros((1, 25, 3), np.float32), [0, 1], [0], ["a"])
    with pytest.raises(ValueError, match="setup"):
        sample_roles(bank, "ntu120-xset")
    with pytest.raises(ValueError, match="split_xsub"):
        sample_roles(bank, "pku-xsub")


# ---------------------------------------------------------------------- protocol validation fold (issue 11)
def _synthetic_pool():
    """6 classes over 3 sources: nwucla {0, 1} (views 1, 2 train, 3 test), msr3d {2, 3} (odd subjects train),
    gtu3d {4, 5} (every third clip test); class 5 is the benchmark's unseen class."""
    from star.data.benchmarks import Benchmark, Component

    rows = []  # (sample id, label, subject, view, role)
    for c in (0, 1):
        for v in (1, 2, 3):
            for r in range(2):
                rows.append((f"nwucla/a{c}_v{v}_e{r}", c, 1, v, TEST if v == 3 else TRAIN))
    for c in (2, 3):
        for s in (1, 2, 3, 4):
            rows.append((f"msr3d/a{c}_s{s}", c, s, -1, TEST if s % 2 == 0 else TRAIN))
    for c, n in ((4, 6), (5, 3)):
        for i in range(n):
            rows.append((f"gtu3d/c{c}_{i}", c, -1, -1, TEST if i % 3 == 2 else TRAIN))
    n = len(rows)
    bank = ClipBank(np.ones((2 * n, 25, 3), np.float32), np.arange(0, 2 * n + 1, 2), [r[1] for r in rows],
                    [f"class{c}" for c in range(6)], subject=[r[2] for r in rows], view=[r[3] for r in rows],
                    sample_id=[r[0] for r in rows], extras={"role": np.array([r[4] for r in rows])})
    comps = (Component("a.npz", "nwucla-xview", "nwucla"), Component("b.npz", "msr-xsub", "msr3d"),
             Component("c.npz", "gtu-thirds", "gtu3d"))
    return Benchmark("syn", tuple(f"class{c}" for c in range(6)), (5,), "pool42", comps), bank


def test_protocol_fold_exact_on_a_synthetic_pool():
    b, bank = _synthetic_pool()
    fold = b.pseudo_unseen_fold(bank, seed=0, fraction=0.5, val_fraction=0.5, protocol="protocol")
    # one pseudo-unseen class per source with >= 2 seen classes (gtu3d has one seen class: none held out)
    assert fold["seen_classes"] == [0, 2, 4] and fold["unseen_classes"] == [1, 3]
    assert fold["held_out"] == {"nwucla": {"rule": "view", "groups": [2]}, "msr3d": {"rule": "subject", "groups": [1]},
                                "gtu3d": {"rule": "every third clip per class", "groups": []}}
    assert fold["train"].sample_id.tolist() == ["nwucla/a0_v1_e0", "nwucla/a0_v1_e1", "msr3d/a2_s3",
                                                "gtu3d/c4_0", "gtu3d/c4_1", "gtu3d/c4_4"]
    # held-out view 2 / subject 1 / the third training clip of class 4 (c4_3: c4_2 and c4_5 are test clips)
    assert fold["val_seen"].sample_id.tolist() == ["nwucla/a0_v2_e0", "nwucla/a0_v2_e1", "msr3d/a2_s1", "gtu3d/c4_3"]
    assert fold["val_unseen"].sample_id.tolist() == ["nwucla/a1_v2_e0", "nwucla/a1_v2_e1", "msr3d/a3_s1"]
    # nothing of the test protocol, of the true unseen class, or of a pseudo-unseen class in train
    test_ids = set(bank.sample_id[bank.extras["role"] == TEST])
    for key in ("train", "val_seen", "val_unseen"):
        assert not set(fold[key].sample_id) & test_ids
        assert 5 not in fold[key].label
    assert not np.isin(fold["train"].label, fold["unseen_classes"]).any()
    assert not set(fold["train"].sample_id) & set(fold["val_seen"].sample_id)
    # a held-out view / subject is held out whole: no training clip from it
    assert not any("_v2_" in s or s.endswith("_s1") for s in fold["train"].sample_id)
    # seeded: the same seed gives the same fold, another seed another one
    again = b.pseudo_unseen_fold(bank, seed=0, fraction=0.5, val_fraction=0.5, protocol="protocol")
    assert again["val_unseen"].sample_id.tolist() == fold["val_unseen"].sample_id.tolist()
    other = b.pseudo_unseen_fold(bank, seed=1, fraction=0.5, val_fraction=0.5, protocol="protocol")
    assert other["unseen_classes"] == [0, 3] and other["held_out"]["msr3d"]["groups"] == [3]


def test_clips_fold_is_the_default_and_unknown_protocol_is_an_error():
    b, bank = _synthetic_pool()
    default = b.pseudo_unseen_fold(bank, seed=0, fraction=0.5)
    clips = b.pseudo_unseen_fold(bank, seed=0, fraction=0.5, protocol="clips")
    assert default["val_unseen"].sample_id.tolist() == clips["val_unseen"].sample_id.tolist()
    assert "held_out" not in default
    with pytest.raises(ValueError, match="clips | protocol"):
        b.pseudo_unseen_fold(bank, protocol="views")
    assert b.component_of(bank).tolist() == [0] * 12 + [1] * 8 + [2] * 9


def test_protocol_fold_on_pool42(shared_data):
    b = get_benchmark("pool42-32/10")
    train = b.load_splits(shared_data)["train"]
    fold = b.pseudo_unseen_fold(train, seed=0, fraction=0.25, val_fraction=0.3, protocol="protocol")
    assert fold["held_out"]["nwucla"]["groups"] in ([1], [2])
    assert set(fold["held_out"]["msr3d"]["groups"]) <= {1, 3, 5, 7, 9} and len(fold["held_out"]["msr3d"]["groups"]) == 2
    assert not set(fold["unseen_classes"]) & set(b.unseen_classes)
    assert sorted(fold["seen_classes"] + fold["unseen_classes"]) == b.seen_classes
    comp = b.component_of(train)
    for i in range(3):  # every source contributes pseudo-unseen classes
        assert set(fold["unseen_classes"]) & set(np.unique(train.label[comp == i]).tolist())
    view = dict(zip(train.sample_id, train.view))
    held_view = fold["held_out"]["nwucla"]["groups"][0]
    assert all(view[s] != held_view for s in fold["train"].sample_id if s.startswith("nwucla/"))
    assert all(view[s] == held_view for s in fold["val_unseen"].sample_id if s.startswith("nwucla/"))


# ---------------------------------------------------------------------- PURLS's published splits (issue 25)
PURLS_NAMES = ["purls-nwucla-8/2", "purls-nwucla-5/5", "purls-utdmhad-22/5", "purls-utdmhad-18/9", "purls-utdmhad-14/13"]


def test_purls_splits_match_the_published_file(shared_data):
    """Every PURLS split of the registry has the class lists of protocols/purls_small.json, in both protocols."""
    import json

    published = json.loads((shared_data / "protocols" / "purls_small.json").read_text())["splits"]
    assert len(published) == 5
    for entry in published:
        dataset = {"nw-ucla": "nwucla", "utd-mhad": "utdmhad"}[entry["dataset"]]
        for name in (f"purls-{dataset}-{entry['split']}", f"purls-{dataset}-{entry['split']}-gzsl"):
            b = get_benchmark(name)
            assert b.unseen_classes == sorted(entry["unseen"]) and b.seen_classes == sorted(entry["seen"])
            assert [b.class_names[c] for c in entry["unseen"]] == entry["unseen_names"]
            assert [b.class_names[c] for c in entry["seen"]] == entry["seen_names"]
            assert b.components[0].file == entry["bank"]
            with np.load(shared_data / entry["bank"]) as z:
                assert b.class_names == [str(c) for c in z["class_names"]]
    assert sorted(n for n in list_benchmarks() if n.startswith("purls") and not n.endswith("-gzsl")) == sorted(PURLS_NAMES)


def test_purls_protocol_trains_on_every_seen_clip_and_tests_every_unseen_clip(shared_data):
    b = get_benchmark("purls-utdmhad-22/5")
    bank = b.load_bank(shared_data)
    assert len(bank) == 861
    train, test = b.train_indices(bank), b.test_indices(bank)
    assert len(train) + len(test) == 861 and not np.intersect1d(train, test).size
    assert set(bank.label[test].tolist()) == {4, 14, 17, 23, 24} and len(test) == 5 * 32
    assert not np.isin(bank.label[train], b.unseen_classes).any()
    # the validation fold holds out whole subjects of the seen classes' clips, never an unseen-class clip
    fold = b.pseudo_unseen_fold(bank, seed=0, fraction=0.4, val_fraction=0.3, protocol="protocol")
    assert fold["held_out"]["utdmhad.npz"]["rule"] == "subject"
    held = set(fold["held_out"]["utdmhad.npz"]["groups"])
    assert len(held) == 2 and held <= set(range(1, 9))
    for key in ("train", "val_seen", "val_unseen"):
        assert not np.isin(fold[key].label, b.unseen_classes).any()
    assert set(fold["train"].subject.tolist()).isdisjoint(held)
    assert set(fold["val_seen"].subject.tolist()) | set(fold["val_unseen"].subject.tolist()) <= held
    assert len(fold["unseen_classes"]) == round(0.4 * 22)


def test_purls_gzsl_protocol_is_the_datasets_own(shared_data):
    utd = get_benchmark("purls-utdmhad-18/9-gzsl")
    bank = utd.load_bank(shared_data)
    train, test = bank.subset(utd.train_indices(bank)), bank.subset(utd.test_indices(bank))
    assert set(train.subject.tolist()) == {1, 3, 5, 7} and set(test.subject.tolist()) == {2, 4, 6, 8}
    assert not np.isin(train.label, utd.unseen_classes).any() and len(np.unique(test.label)) == 27
    ucla = get_benchmark("purls-nwucla-5/5-gzsl")
    bank = ucla.load_bank(shared_data)
    assert set(bank.view[ucla.train_indices(bank)].tolist()) == {1, 2}
    assert set(bank.view[ucla.test_indices(bank)].tolist()) == {3}
    assert ucla.description_set == "pool42" and utd.description_set == "utdmhad"


def test_pool69_merges_the_shared_name_and_keeps_every_source(shared_data):
    b = get_benchmark("pool69-all")
    assert b.num_classes == 68 and b.unseen_classes == [] and b.class_names.count("tennis serve") == 1
    assert b.description_set == "pool42+utdmhad"
    bank = b.load_bank(shared_data)
    assert len(bank) == 1484 + 566 + 469 + 861 and bank.num_classes == 68
    serve = b.class_names.index("tennis serve")
    sources = {str(s).split("/", 1)[0] for s in bank.sample_id[bank.label == serve]}
    assert sources == {"msr3d", "utdmhad"} and np.sum(bank.label == serve) == 30 + 32
    # each source's own protocol: UTD-MHAD's odd subjects train
    utd = np.char.startswith(bank.sample_id.astype(str), "utdmhad/")
    assert set(bank.subject[utd & (bank.extras["role"] == TRAIN)].tolist()) == {1, 3, 5, 7}
    assert b.class_names[:42] == get_benchmark("pool42-32/10").class_names and len(b.class_names[42:]) == 26


@pytest.mark.parametrize("source, first, count", [("nwucla", 0, 10), ("msr3d", 10, 20), ("gtu3d", 30, 12),
                                                  ("utdmhad", 42, 27)])
def test_leave_one_dataset_out(shared_data, source, first, count):
    b = get_benchmark(f"lodo-{source}")
    assert b.num_classes == 69 and b.unseen_classes == list(range(first, first + count))
    bank = b.load_bank(shared_data)
    test, train = b.test_indices(bank), b.train_indices(bank)
    held = np.char.startswith(bank.sample_id.astype(str), f"{source}/")
    assert np.array_equal(np.sort(test), np.flatnonzero(held)) and np.array_equal(np.sort(train), np.flatnonzero(~held))
    fold = b.pseudo_unseen_fold(bank, seed=0, fraction=0.25, val_fraction=0.3, protocol="protocol")
    assert source not in fold["held_out"] and len(fold["held_out"]) == 3
    assert not set(fold["unseen_classes"]) & set(b.unseen_classes)
