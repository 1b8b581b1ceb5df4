"""Part descriptions: the human-editable side-information files in ``assets/descriptions/``.

Format (documented for people in ``docs/DESCRIPTIONS.md``): a YAML mapping

    class name -> {"6-part": {part: sentence}, "4-part": {...}, "2-part": {...}}

with the part names of :func:`star.skeleton.topology.part_names` (6: head, hand, arm, hip, leg, foot;
4: head, hand-arm, hip, leg-foot; 2: upper body, lower body). Files are read with PyYAML's safe loader
(no Python objects are ever constructed). A file may hold more granularities than the one asked for;
only the requested one is validated.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml

from star.paths import DESCRIPTIONS_DIR
from star.skeleton.topology import part_names

GRANULARITIES = (6, 4, 2)
MAX_LISTED = 20  # problems shown in one error message


def granularity_key(num_parts: int) -> str:
    """The per-class key of a granularity: ``6 -> "6-part"``."""
    if num_parts not in GRANULARITIES:
        raise ValueError(f"num_parts must be one of {sorted(GRANULARITIES)}, got {num_parts}")
    return f"{num_parts}-part"


def parse_parts(value: str) -> list[int]:
    """``"6"`` -> [6]; ``"2,4,6"`` -> [2, 4, 6]. Raises ValueError for anything else."""
    try:
        out = sorted({int(v) for v in str(value).split(",") if v.strip()})
    except ValueError:
        raise ValueError(f"--parts takes 2, 4, 6 or a comma list such as 2,4,6; got {value!r}")
    bad = [k for k in out if k not in GRANULARITIES]
    if not out or bad:
        raise ValueError(f"--parts takes 2, 4, 6 or a comma list such as 2,4,6; got {value!r}")
    return out


class DescriptionError(ValueError):
    """A description file that cannot be used. Names the file, and the first bad class and part.

    ``problems`` lists every problem found (each a full sentence), so one run shows them all.
    """

    def __init__(self, path, problems: list[str], class_name: str | None = None, part: str | None = None):
        self.path = str(path)
        self.problems = list(problems)
        self.class_name = class_name
        self.part = part
        shown = self.problems[:MAX_LISTED]
        more = len(self.problems) - len(shown)
        lines = [f"{self.path}: {len(self.problems)} problem(s) in the description file:"]
        lines += [f"  - {p}" for p in shown]
        if more:
            lines.append(f"  ... and {more} more")
        super().__init__("\n".join(lines))


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key repeated in one mapping is an error instead of silently
    overwriting the first (easy to do when files are concatenated by hand)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark,
                f"found duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def description_path(name_or_path: str | Path) -> Path:
    """``"pool42"`` -> ``assets/descriptions/pool42.yaml``; an existing file or anything that looks like
    a path (has a directory part or a .yaml/.yml suffix) is returned as given."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or len(p.parts) > 1 or p.is_file():
        return p
    return DESCRIPTIONS_DIR / f"{name_or_path}.yaml"


def description_paths(name_or_path: str | Path) -> list[Path]:
    """The files of a description set: ``"pool42"`` -> [pool42.yaml]; a pooled benchmark's set joins shipped
    names with ``+`` (``"pool42+utdmhad"`` -> [pool42.yaml, utdmhad.yaml]); a path is one file."""
    text = str(name_or_path)
    if "+" in text and description_path(text) == DESCRIPTIONS_DIR / f"{text}.yaml" and not Path(text).is_file():
        return [description_path(name) for name in text.split("+")]
    return [description_path(name_or_path)]


def read_description_file(path: str | Path) -> dict:
    """Parse a description file into its raw mapping (no validation against a class list)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DescriptionError(path, ["file not found (descriptions live in assets/descriptions/<name>.yaml)"])
    except (OSError, UnicodeDecodeError) as e:
        raise DescriptionError(path, [f"cannot read the file as UTF-8 text: {e}"])
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no Python objects
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise DescriptionError(path, [f"not valid YAML at {where}{problem}"])
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"a {type(data).__name__}"
        raise DescriptionError(path, [f"expected a mapping 'class name: {{6-part: ..., 4-part: ..., 2-part: ...}}'"
                                      f" at the top level, found {found}"])
    return data


def _is_mapping(value, where: str, expected: str, problem, cls: str) -> bool:
    """True for a mapping; otherwise reports "<where>: expected <expected>, found <type>" and returns False."""
    if isinstance(value, dict):
        return True
    problem(f"{where}: expected {expected}, found {type(value).__name__}", cls=cls)
    return False


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_descriptions(path_or_name: str | Path, class_names: list[str], num_parts: int,
                      allow_extra: bool = False) -> dict[str, dict[str, str]]:
    """Load and validate one granularity of a description file.

    Returns ``{class: {part: sentence}}`` in ``class_names`` order and ``part_names(num_parts)`` order,
    sentences with whitespace collapsed. Raises :class:`DescriptionError` listing every problem:
    missing classes, unknown classes (with a close-match suggestion), a class without the
    ``"<K>-part"`` section, missing or unknown parts, empty or non-text sentences.
    ``allow_extra=True`` ignores classes of the file that are not in ``class_names`` (a benchmark that
    uses a subset, e.g. NTU-60's 60 classes from the NTU-120 file); they are then not checked.
    """
    paths = description_paths(path_or_name)
    path = paths[0] if len(paths) == 1 else Path(str(path_or_name))
    key = granularity_key(num_parts)
    parts = part_names(num_parts)
    data: dict = {}
    for p in paths:  # a pooled set: a class named in two files takes the first file's sentences
        data = {**read_description_file(p), **data}

    problems: list[str] = []
    first: list[tuple[str | None, str | None]] = []

    def problem(msg: str, cls: str | None = None, part: str | None = None) -> None:
        problems.append(msg)
        first.append((cls, part))

    wanted = set(class_names)
    for cls in data:
        if not isinstance(cls, str):
            problem(f"class key {cls!r} is not text; put the class name in quotes", cls=str(cls))
        elif cls not in wanted and not allow_extra:
            missing_now = [c for c in class_names if c not in data]
            hint = _suggest(cls, missing_now) or _suggest(cls, class_names)
            problem(f"unknown class {cls!r}{hint}; class names must match the benchmark's exactly", cls=cls)
    for cls in class_names:
        if cls not in data:
            problem(f"class {cls!r} is missing", cls=cls)

    out: dict[str, dict[str, str]] = {}
    for cls in class_names:
        if cls not in data:
            continue
        entry = data[cls]
        if not _is_mapping(entry, f"class {cls!r}", "a mapping with keys 6-part, 4-part, 2-part", problem, cls):
            continue
        allowed = {granularity_key(k) for k in GRANULARITIES}
        for g in entry:
            if g not in allowed:
                problem(f"class {cls!r}: unknown key {g!r}{_suggest(str(g), allowed)}; "
                        f"expected {', '.join(sorted(allowed, reverse=True))}", cls=cls)
        if key not in entry:
            problem(f"class {cls!r}: section {key!r} is missing", cls=cls)
            continue
        section = entry[key]
        if not _is_mapping(section, f"class {cls!r}, {key}", "a mapping part -> sentence", problem, cls):
            continue
        for part in section:
            if part not in parts:
                problem(f"class {cls!r}, {key}: unknown part {part!r}{_suggest(str(part), parts)}; "
                        f"{key} parts are {', '.join(parts)}", cls=cls, part=str(part))
        sentences: dict[str, str] = {}
        for part in parts:
            if part not in section:
                problem(f"class {cls!r}, {key}: part {part!r} is missing", cls=cls, part=part)
                continue
            text = section[part]
            if not isinstance(text, str):
                found = "nothing" if text is None else f"a {type(text).__name__} ({text!r})"
                problem(f"class {cls!r}, {key}, part {part!r}: expected a sentence, found {found}",
                        cls=cls, part=part)
                continue
            text = " ".join(text.split())
            if not text:
                problem(f"class {cls!r}, {key}, part {part!r}: the sentence is empty", cls=cls, part=part)
                continue
            sentences[part] = text
        out[cls] = sentences

    if problems:
        cls0, part0 = first[0]
        raise DescriptionError(path, problems, class_name=cls0, part=part0)
    return out


def part_label(part: str) -> str:
    """How a part is named in the encoder text: ``"upper body" -> "Upper body"``."""
    return part[:1].upper() + part[1:]


def part_texts(descriptions: dict[str, dict[str, str]], class_names: list[str],
               num_parts: int) -> list[list[str]]:
    """The text fed to the encoder per part: K lists of C strings ``"<name>, <Part>: <description>"``
    (as the authors join name and part description), parts in ``part_names(num_parts)`` order."""
    return [[f"{cls}, {part_label(part)}: {descriptions[cls][part]}" for cls in class_names]
            for part in part_names(num_parts)]


def read_official_descriptions(path: str | Path) -> dict[str, dict[str, dict[str, str]]]:
    """The authors' part-description text file (``text/ntu120_part_descriptions.txt`` in cseeyangchen/STAR): one
    class per line, ``name; Head: ...; Hand: ...; Arm: ...; Hip: ...; Leg: ...; Foot: ...``, as our mapping
    ``{name: {"6-part": {part: sentence}}}`` (their file has only the six parts). Raises :class:`DescriptionError`
    listing every line that does not fit."""
    import re

    path = Path(path)
    labels = [part_label(p) for p in part_names(6)]
    marker = re.compile(r";\s*(" + "|".join(labels) + r")\s*:\s*")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DescriptionError(path, [f"cannot read the file ({exc})"]) from None
    out: dict[str, dict[str, dict[str, str]]] = {}
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        pieces = marker.split(line)  # [name, label, text, label, text, ...]
        name, found = pieces[0].strip(), pieces[1::2]
        if found != labels:
            problems.append(f"line {number}: expected 'name; {'; '.join(f'{x}: ...' for x in labels)}', found parts "
                            f"{found or 'none'}")
            continue
        sentences = [" ".join(t.split()).rstrip(";").strip() for t in pieces[2::2]]
        if not name or not all(sentences):
            problems.append(f"line {number}: an empty class name or part sentence")
            continue
        if name in out:
            problems.append(f"line {number}: class {name!r} is described twice")
            continue
        out[name] = {granularity_key(6): dict(zip(part_names(6), sentences))}
    if problems or not out:
        raise DescriptionError(path, problems or ["no class lines (name; Head: ...; ...; Foot: ...)"])
    return out
