"""Description files: format, validation errors, encoder texts, and the shipped files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from star.skeleton.topology import part_names
from star.text.descriptions import (DESCRIPTIONS_DIR, DescriptionError, description_path, load_descriptions,
                                    parse_parts, part_texts)

CLASSES = ["drink water", "kick something"]


def full_entry(tag: str) -> dict:
    return {f"{k}-part": {p: f"{tag} {p} moves" for p in part_names(k)} for k in (6, 4, 2)}


def write(tmp_path: Path, data, name: str = "d.yaml") -> Path:
    path = tmp_path / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def good_data() -> dict:
    return {c: full_entry(c.split()[0]) for c in CLASSES}


def test_loads_in_class_and_part_order_and_collapses_whitespace(tmp_path):
    data = good_data()
    data = {"kick something": data["kick something"], "drink water": data["drink water"]}  # file order differs
    data["drink water"]["2-part"]["upper body"] = "  head  tilts\n back "
    path = write(tmp_path, "# a comment line\n" + yaml.safe_dump(data, sort_keys=False))
    for k in (6, 4, 2):
        d = load_descriptions(path, CLASSES, k)
        assert list(d) == CLASSES
        assert all(list(d[c]) == part_names(k) for c in CLASSES)
    d2 = load_descriptions(path, CLASSES, 2)
    assert d2["drink water"]["upper body"] == "head tilts back"
    assert d2["kick something"]["lower body"] == "kick lower body moves"


def test_part_texts_join_name_part_and_description(tmp_path):
    d = load_descriptions(write(tmp_path, good_data()), CLASSES, 4)
    texts = part_texts(d, CLASSES, 4)
    assert len(texts) == 4 and all(len(t) == 2 for t in texts)
    assert texts[0][0] == "drink water, Head: drink head moves"
    assert texts[1][1] == "kick something, Hand-arm: kick hand-arm moves"
    texts2 = part_texts(load_descriptions(write(tmp_path, good_data()), CLASSES, 2), CLASSES, 2)
    assert texts2[0][0] == "drink water, Upper body: drink upper body moves"


def test_missing_class_is_named(tmp_path):
    data = good_data()
    del data["kick something"]
    path = write(tmp_path, data)
    with pytest.raises(DescriptionError) as e:
        load_descriptions(path, CLASSES, 6)
    assert e.value.class_name == "kick something"
    assert str(path) in str(e.value) and "'kick something' is missing" in str(e.value)


def test_extra_class_listed_with_close_match_suggestion(tmp_path):
    data = good_data()
    data["kick somthing"] = data.pop("kick something")
    data["juggle"] = full_entry("juggle")
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, data), CLASSES, 6)
    msg = str(e.value)
    assert "unknown class 'kick somthing' (did you mean 'kick something'?)" in msg
    assert "unknown class 'juggle';" in msg  # no close match, no suggestion
    assert "'kick something' is missing" in msg
    assert len(e.value.problems) == 3


def test_extra_classes_allowed_for_a_subset(tmp_path):
    path = write(tmp_path, good_data())
    d = load_descriptions(path, ["kick something"], 6, allow_extra=True)
    assert list(d) == ["kick something"]
    with pytest.raises(DescriptionError):
        load_descriptions(path, ["kick something"], 6)


def test_missing_and_unknown_part(tmp_path):
    data = good_data()
    del data["drink water"]["6-part"]["foot"]
    data["drink water"]["6-part"]["fot"] = "typo"
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, data), CLASSES, 6)
    msg = str(e.value)
    assert "class 'drink water', 6-part: unknown part 'fot' (did you mean 'foot'?)" in msg
    assert "class 'drink water', 6-part: part 'foot' is missing" in msg
    assert e.value.class_name == "drink water" and e.value.part == "fot"
    # the other granularities of the same file are fine
    assert load_descriptions(tmp_path / "d.yaml", CLASSES, 4)["drink water"]["head"] == "drink head moves"


@pytest.mark.parametrize("value, found", [("", "the sentence is empty"), ("   ", "the sentence is empty"),
                                          (None, "found nothing"), (3, "found a int")])
def test_empty_or_non_text_sentence(tmp_path, value, found):
    data = good_data()
    data["kick something"]["4-part"]["hip"] = value
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, data), CLASSES, 4)
    assert e.value.class_name == "kick something" and e.value.part == "hip"
    assert "class 'kick something', 4-part, part 'hip'" in str(e.value) and found in str(e.value)


def test_missing_granularity_section(tmp_path):
    data = good_data()
    del data["drink water"]["2-part"]
    data["drink water"]["3-part"] = {}
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, data), CLASSES, 2)
    assert "section '2-part' is missing" in str(e.value)
    assert "unknown key '3-part'" in str(e.value)


def test_bad_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "drink water:\n  6-part:\n    head: [unclosed\n    hand: x\n")
    with pytest.raises(DescriptionError) as e:
        load_descriptions(path, CLASSES, 6)
    assert "not valid YAML at line" in str(e.value) and str(path) in str(e.value)


def test_duplicate_class_is_an_error(tmp_path):
    text = yaml.safe_dump(good_data(), sort_keys=False)
    text += yaml.safe_dump({"drink water": full_entry("again")}, sort_keys=False)
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, text), CLASSES, 6)
    assert "duplicate key 'drink water'" in str(e.value)


@pytest.mark.parametrize("text, found", [("- a\n- b\n", "found a list"), ("", "found an empty file"),
                                         ("just words\n", "found a str")])
def test_top_level_must_be_a_mapping(tmp_path, text, found):
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, text), CLASSES, 6)
    assert "expected a mapping" in str(e.value) and found in str(e.value)


def test_class_entry_must_be_a_mapping(tmp_path):
    data = good_data()
    data["drink water"] = "drinks"
    with pytest.raises(DescriptionError) as e:
        load_descriptions(write(tmp_path, data), CLASSES, 6)
    assert "class 'drink water': expected a mapping" in str(e.value)


def test_python_tags_are_refused(tmp_path):
    path = write(tmp_path, "drink water: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(DescriptionError) as e:
        load_descriptions(path, CLASSES, 6)
    assert "not valid YAML" in str(e.value)


def test_missing_file_and_paths(tmp_path):
    with pytest.raises(DescriptionError, match="file not found"):
        load_descriptions(tmp_path / "none.yaml", CLASSES, 6)
    assert description_path("pool42") == DESCRIPTIONS_DIR / "pool42.yaml"
    assert DESCRIPTIONS_DIR.parent.name == "assets" and (DESCRIPTIONS_DIR.parent.parent / "star").is_dir()
    assert description_path(tmp_path / "x.yaml") == tmp_path / "x.yaml"
    assert description_path("other/dir/file.yml") == Path("other/dir/file.yml")
    with pytest.raises(ValueError):
        load_descriptions(write(tmp_path, good_data()), CLASSES, 5)


def test_parse_parts():
    assert parse_parts("6") == [6]
    assert parse_parts("6,2,4") == [2, 4, 6]
    for bad in ("5", "2,3", "x", ""):
        with pytest.raises(ValueError):
            parse_parts(bad)


# ------------------------------------------------------------------ the shipped description files

def pool42_names(shared_data: Path) -> list[str]:
    names: list[str] = []
    for f in ("nwucla", "msr3d", "gtu3d"):
        with np.load(shared_data / f"{f}.npz", allow_pickle=False) as z:
            names += [str(c) for c in z["class_names"]]
    return names


def class_file_names(repo_root: Path, shared_data: Path, name: str) -> list[str]:
    own = repo_root / "assets" / "classes" / f"{name}.txt"
    path = own if own.is_file() else shared_data / f"{name}_class_names.txt"
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


@pytest.mark.parametrize("num_parts", [6, 4, 2])
@pytest.mark.parametrize("name, count", [("pool42", 42), ("ntu120", 120), ("pkummd", 51), ("utdmhad", 27)])
def test_shipped_description_files_validate(repo_root, shared_data, name, count, num_parts):
    names = pool42_names(shared_data) if name == "pool42" else class_file_names(repo_root, shared_data, name)
    assert len(names) == count
    path = repo_root / "assets" / "descriptions" / f"{name}.yaml"
    assert path.is_file(), f"{path} is missing (it ships with the project)"
    d = load_descriptions(path, names, num_parts)
    assert len(d) == count
    sentences = [s for c in d.values() for s in c.values()]
    assert len(sentences) == count * num_parts and all(len(s.split()) >= 2 for s in sentences)
    if name == "utdmhad":  # the bank's own names, in label order, are the file's keys
        with np.load(shared_data / "utdmhad.npz", allow_pickle=False) as z:
            assert names == [str(c) for c in z["class_names"]]


@pytest.mark.parametrize("num_parts", [6, 4, 2])
def test_pooled_description_sentences_are_unique(repo_root, shared_data, num_parts):
    """Within pool42.yaml, within utdmhad.yaml, and between the two (they are pooled; "tennis serve" is in both),
    no sentence is given to two classes, in any part, so no two classes share a part text."""
    files = {"pool42": pool42_names(shared_data), "utdmhad": class_file_names(repo_root, shared_data, "utdmhad")}
    owners: dict[str, set[str]] = {}
    for name, names in files.items():
        d = load_descriptions(repo_root / "assets" / "descriptions" / f"{name}.yaml", names, num_parts)
        for cls, parts in d.items():
            for sentence in parts.values():
                owners.setdefault(sentence.lower(), set()).add(f"{name}:{cls}")
    shared = {s: sorted(v) for s, v in owners.items() if len(v) > 1}
    assert not shared, f"{num_parts}-part sentences given to more than one class: {shared}"


def test_a_pooled_description_set_reads_each_file_first_one_winning(tmp_path):
    from star.text.descriptions import description_paths

    assert description_paths("pool42+ntu120") == [DESCRIPTIONS_DIR / "pool42.yaml", DESCRIPTIONS_DIR / "ntu120.yaml"]
    assert description_paths("pool42") == [DESCRIPTIONS_DIR / "pool42.yaml"]
    odd = tmp_path / "a+b.yaml"  # a file whose name has a plus is one file
    assert description_paths(odd) == [odd]
    names = ["tennis serve", "drink water"]  # pool42 has the first, ntu120 the second
    both = load_descriptions("pool42+ntu120", names, 2, allow_extra=True)
    assert both["tennis serve"] == load_descriptions("pool42", ["tennis serve"], 2, allow_extra=True)["tennis serve"]
    assert both["drink water"] == load_descriptions("ntu120", ["drink water"], 2, allow_extra=True)["drink water"]
    with pytest.raises(DescriptionError, match="missing"):
        load_descriptions("pool42+ntu120", ["no such action"], 2, allow_extra=True)
