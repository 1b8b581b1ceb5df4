"""The one schema of a checkpoint's sidecar (``model.json``), checked when a checkpoint is loaded.

A sidecar is untrusted bytes (an uploaded ``.zip`` brings one): ``read_sidecar`` turns every way it can be wrong
(not UTF-8, not JSON, nested too deep, an integer too long, not an object) and ``check_sidecar`` every field of the
wrong type, range or length into one ``ValueError`` naming the field, which ``star.checkpoint`` raises as a
``CheckpointError``. Fields the library reads are checked; others are kept as they are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_BYTES = 16 << 20  # a sidecar with learning curves is about 100 kB
MAX_DEPTH = 32  # nesting of objects and lists
MAX_CLASSES = 10_000
MODELS = ("star", "baseline")


class SidecarError(ValueError):
    """A sidecar that does not fit the schema; the message names the field and what was expected."""


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping past ``limit`` (iterative: no recursion to exhaust)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node)
    return deepest


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """The sidecar's JSON object, or ``SidecarError`` saying why the file is not one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SidecarError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise SidecarError(f"{path}: {len(data)} bytes, more than a sidecar can be ({MAX_BYTES})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SidecarError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        meta = json.loads(text)
    except RecursionError:
        raise SidecarError(f"{path}: JSON nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and Python's limit on integer digits
        raise SidecarError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise SidecarError(f"{path}: expected a JSON object, found {type(meta).__name__}")
    if _depth(meta, MAX_DEPTH) > MAX_DEPTH:
        raise SidecarError(f"{path}: JSON nested more than {MAX_DEPTH} levels")
    return meta


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _fail(field: str, expected: str, found: Any) -> SidecarError:
    shown = json.dumps(found)[:80] if isinstance(found, (dict, list, str, int, float, bool, type(None))) else repr(found)
    return SidecarError(f"field '{field}': expected {expected}, found {shown}")


def _need(meta: dict, field: str, ok, expected: str) -> Any:
    node: Any = meta
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            raise SidecarError(f"field '{field}' is missing")
        node = node[part]
    if not ok(node):
        raise _fail(field, expected, node)
    return node


def check_sidecar(meta: dict[str, Any]) -> None:
    """Raise ``SidecarError`` for the first field of ``meta`` that does not fit the schema (see the module)."""
    _need(meta, "name", lambda v: isinstance(v, str) and 0 < len(v) <= 256, "a name of 1-256 characters")
    _need(meta, "model", lambda v: v in MODELS, f"one of {MODELS}")
    _need(meta, "benchmark", lambda v: isinstance(v, str) and 0 < len(v) <= 256, "a benchmark name")
    names = _need(meta, "class_names", lambda v: isinstance(v, list) and 0 < len(v) <= MAX_CLASSES
                  and all(isinstance(n, str) and 0 < len(n) <= 512 for n in v),
                  f"a list of 1-{MAX_CLASSES} class names")
    n = len(names)
    for field in ("seen_classes", "unseen_classes"):
        _need(meta, field, lambda v: isinstance(v, list) and all(_int(c) and 0 <= c < n for c in v),
              f"a list of class indices 0-{n - 1}")
    k = _need(meta, "num_parts", lambda v: v in (2, 4, 6), "2, 4 or 6")
    _need(meta, "part_names", lambda v: isinstance(v, list) and len(v) == k and all(isinstance(p, str) for p in v),
          f"a list of {k} part names")
    _need(meta, "text_encoder", lambda v: isinstance(v, dict), "an object {id, dim}")
    _need(meta, "text_encoder.id", lambda v: isinstance(v, str) and v, "the encoder's id")
    _need(meta, "text_encoder.dim", lambda v: _int(v) and 0 < v <= 16384, "an embedding width 1-16384")
    _need(meta, "head_config", lambda v: isinstance(v, dict), "an object")
    _need(meta, "backbone_config", lambda v: isinstance(v, dict), "an object")
    if meta["backbone_config"]:  # written by every training run; absent only in hand-made test sidecars
        _need(meta, "backbone_config.num_classes", lambda v: _int(v) and 0 < v <= MAX_CLASSES, "a class count")
        _need(meta, "backbone_config.num_person", lambda v: v in (1, 2), "1 or 2")
    _need(meta, "num_frames", lambda v: _int(v) and 1 <= v <= 10_000, "a frame count 1-10000")
    _need(meta, "gamma", lambda v: isinstance(v, dict), "an object {value, chosen_by}")
    _need(meta, "gamma.value", _number, "a finite number")
    _need(meta, "metrics", lambda v: isinstance(v, dict) and all(x is None or _number(x) for x in v.values()),
          "an object of finite numbers (or null)")
    _need(meta, "config", lambda v: isinstance(v, dict), "an object")
    _need(meta, "seed", lambda v: v is None or _int(v), "an integer or null")
    _need(meta, "device", lambda v: isinstance(v, str), "a text")
    for field, ok, expected in (("tau.value", lambda v: _number(v) and v > 0, "a positive number"),
                                ("score.part_weight", lambda v: _number(v) and v >= 0, "a number >= 0"),
                                ("token_layout", lambda v: v in ("correct", "official"), "'correct' or 'official'")):
        head, _, rest = field.partition(".")
        if head in meta:
            if rest and not isinstance(meta[head], dict):
                raise _fail(head, "an object", meta[head])
            if not rest or rest in meta[head]:
                _need(meta, field, ok, expected)
