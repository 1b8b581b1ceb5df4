"""Skeleton files of other toolkits -> clip banks (``star prepare-pyskl``, ``star prepare-ctrgcn``).

* pyskl / mmaction2 annotation pickles (``ntu60_3danno.pkl``, ``ntu120_3danno.pkl``): a dict with ``split`` (split
  name -> list of ``frame_dir``) and ``annotations`` (one dict per clip: ``frame_dir``, ``label``, ``keypoint``
  (M, T, V, C), ``total_frames``, optional ``keypoint_score``). Read with ``star.data.safe_pickle`` (nothing in the
  file runs). NTU ``frame_dir`` names (``S001C002P003R004A005``) give subject, camera, setup and replication.
* CTR-GCN / STAR arrays (``NTU60_CS.npz``, ``NTU60_CV.npz``, ``NTU120_CSub.npz``, ``NTU120_CSet.npz``): ``x_train``
  (N, 300, 150) = (frames, 2 bodies x 25 joints x xyz, zero-padded), one-hot ``y_train`` (N, classes), ``x_test``,
  ``y_test``. They carry no sample names; the file is one protocol's split, recorded as such.

Both write ``ntu60.npz`` or ``ntu120.npz`` (the names the NTU benchmarks read) with the file's own split lists as
per-clip role keys ``split_xsub`` / ``split_xview`` / ``split_xset`` (0 train, 1 test, -1 not in that split), which
the NTU sample protocols use in place of the subject / camera / setup rule (``star.data.protocols``).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from star.data.benchmarks import class_list
from star.data.clipbank import ClipBank
from star.data.prepare_ntu import SAMPLE_RE
from star.data.protocols import TEST, TRAIN, UNUSED
from star.data.safe_pickle import DEFAULT_MAX_BYTES, UnsafePickleError, load_plain_pickle
from star.npzfile import NpzError, npy_header, npz_members
from star.skeleton.clip import NUM_JOINTS, Clip
from star.skeleton.ntu_format import MAX_FRAMES  # the frame cap of every skeleton reader

SPLIT_KINDS = ("xsub", "xview", "xset")  # pyskl split names: <kind>_train, <kind>_val
CTRGCN_FILES = {"NTU60_CS": ("ntu60", "xsub"), "NTU60_CV": ("ntu60", "xview"),
                "NTU120_CSub": ("ntu120", "xsub"), "NTU120_CSet": ("ntu120", "xset")}


class ImportFormatError(ValueError):
    """A file that is not in the layout its importer reads; the message names the file, the place and the fix."""


def _bank_name(num_classes: int, path: Path) -> tuple[str, list[str]]:
    if num_classes <= 60:
        return "ntu60", list(class_list("ntu120")[:60])
    if num_classes <= 120:
        return "ntu120", list(class_list("ntu120"))
    raise ImportFormatError(f"{path}: labels reach {num_classes - 1}; NTU RGB+D has at most 120 classes")


def _needs_ntu25_3d(path: Path, where: str, shape: tuple) -> ImportFormatError:
    return ImportFormatError(
        f"{path}: {where} has keypoints of shape {shape} (bodies, frames, joints, coordinates); STAR's six body "
        f"parts need NTU-25 3-D joints (V = {NUM_JOINTS}, C = 3). 2-D or COCO-17 keypoints (e.g. pyskl's "
        "*_hrnet.pkl) cannot be used: take the 3-D annotation file (ntu60_3danno.pkl / ntu120_3danno.pkl)")


def _roles(split: dict, names: list[str], path: Path) -> dict[str, np.ndarray]:
    """Per-clip role arrays from pyskl's split lists: split_<kind> = 0 in <kind>_train, 1 in <kind>_val, else -1."""
    index = {n: i for i, n in enumerate(names)}
    roles = {}
    for kind in SPLIT_KINDS:
        train, test = split.get(f"{kind}_train"), split.get(f"{kind}_val", split.get(f"{kind}_test"))
        if train is None and test is None:
            continue
        role = np.full(len(names), UNUSED, np.int64)
        for value, members in ((TRAIN, train or []), (TEST, test or [])):
            if not isinstance(members, (list, tuple)) or not all(isinstance(m, str) for m in members):
                raise ImportFormatError(f"{path}: split '{kind}' should be lists of frame_dir strings")
            for m in members:
                if m in index:
                    role[index[m]] = value
        roles[f"split_{kind}"] = role
    return roles


def _pyskl_clip(ann: Any, i: int, path: Path) -> Clip:
    if not isinstance(ann, dict):
        raise ImportFormatError(f"{path}: annotations[{i}] should be a dict, found {type(ann).__name__}")
    missing = [k for k in ("frame_dir", "label", "keypoint") if k not in ann]
    if missing:
        raise ImportFormatError(f"{path}: annotations[{i}] lacks {missing} (has {sorted(map(str, ann))})")
    name, label, kp = ann["frame_dir"], ann["label"], ann["keypoint"]
    if not isinstance(name, str) or not isinstance(label, (int, np.integer)) or int(label) < 0:
        raise ImportFormatError(f"{path}: annotations[{i}] needs a string frame_dir and a label >= 0, found "
                                f"{name!r} and {label!r}")
    if not isinstance(kp, np.ndarray) or kp.dtype.kind not in "fiu" or kp.ndim != 4:
        found = kp.shape if isinstance(kp, np.ndarray) else type(kp).__name__
        raise ImportFormatError(f"{path}: annotations[{i}] ({name}) keypoint should be a numeric (M, T, V, C) "
                                f"array, found {found}")
    if kp.shape[2:] != (NUM_JOINTS, 3):
        raise _needs_ntu25_3d(path, f"annotations[{i}] ({name})", kp.shape)
    if not 1 <= kp.shape[1] <= MAX_FRAMES or kp.shape[0] < 1:
        raise ImportFormatError(f"{path}: annotations[{i}] ({name}) has {kp.shape[0]} bodies and {kp.shape[1]} "
                                f"frames; expected at least one body and 1-{MAX_FRAMES} frames")
    frames = np.asarray(kp[:2], np.float32)  # at most two bodies, as every bank here
    if not np.isfinite(frames).all():
        raise ImportFormatError(f"{path}: annotations[{i}] ({name}) holds NaN or infinite coordinates")
    meta = {}
    m = SAMPLE_RE.fullmatch(name)
    if m:
        setup, camera, performer, replication, action = map(int, m.groups())
        if action - 1 != int(label):
            raise ImportFormatError(f"{path}: annotations[{i}] ({name}) has label {label}, but its name says "
                                    f"action {action} (label {action - 1})")
        meta = {"subject": performer, "view": camera, "setup": setup, "replication": replication}
    return Clip(frames, source=name, label=int(label), meta=meta)


def read_pyskl(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, ClipBank]:
    """A pyskl / mmaction2 3-D NTU annotation pickle as (bank name ``ntu60`` / ``ntu120``, clip bank)."""
    path = Path(path)
    try:
        data = load_plain_pickle(path, max_bytes)
    except UnsafePickleError as exc:
        raise ImportFormatError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ImportFormatError(f"{path}: expected a dict with 'split' and 'annotations' (a pyskl annotation file), "
                                f"found {found}")
    split = data.get("split") or {}
    if not isinstance(split, dict):
        raise ImportFormatError(f"{path}: 'split' should be a dict of frame_dir lists")
    clips = [_pyskl_clip(a, i, path) for i, a in enumerate(data["annotations"])]
    if not clips:
        raise ImportFormatError(f"{path}: 'annotations' is empty")
    names = [c.source for c in clips]
    if len(set(names)) != len(names):
        raise ImportFormatError(f"{path}: frame_dir names repeat; each clip needs its own name")
    bank_name, class_names = _bank_name(max(c.label for c in clips) + 1, path)
    roles = _roles(split, names, path)
    bank = ClipBank.from_clips(clips, class_names, f"pyskl annotations {path.name}, imported by star prepare-pyskl",
                               extra_keys=("setup", "replication"))
    bank.extras.update(roles)
    return bank_name, bank


def _npz_shapes(path: Path) -> dict[str, tuple[tuple, np.dtype, bool]]:
    """Each member's (shape, dtype, Fortran order), from the headers only (``star.npzfile``; nothing allocated)."""
    try:
        return npz_members(path)
    except NpzError as exc:
        raise ImportFormatError(str(exc)) from None


def _rows(zf: zipfile.ZipFile, key: str, chunk: int = 256):
    """Yield (rows, array of up to ``chunk`` rows) of a C-order .npy member, read a chunk at a time."""
    with zf.open(key + ".npy") as fh:
        shape, _, dtype = npy_header(fh)
        row = int(np.prod(shape[1:])) * dtype.itemsize
        for start in range(0, shape[0], chunk):
            n = min(chunk, shape[0] - start)
            data = fh.read(n * row)
            if len(data) != n * row:
                raise ImportFormatError(f"{zf.filename}: {key} is truncated at row {start}")
            yield start, np.frombuffer(data, dtype).reshape((n,) + tuple(shape[1:]))


def read_ctrgcn(path: str | Path, protocol: str | None = None) -> tuple[str, ClipBank]:
    """A CTR-GCN / STAR ``NTU*_C*.npz`` as (bank name, clip bank); the bank's ``split_<protocol>`` role key holds the
    file's own train (0) / test (1) clips. ``protocol``: xsub, xview or xset (default: from the file name). The
    (clips, 300, 150) arrays are read a chunk of rows at a time, so memory stays near the bank's own size."""
    path = Path(path)
    if protocol is None:
        protocol = CTRGCN_FILES.get(path.stem, (None, None))[1]
        if protocol is None:
            raise ImportFormatError(f"{path}: cannot tell the protocol from the file name (expected one of "
                                    f"{', '.join(f + '.npz' for f in CTRGCN_FILES)}); give it (xsub, xview, xset)")
    if protocol not in SPLIT_KINDS:
        raise ImportFormatError(f"unknown protocol {protocol!r}; expected one of {SPLIT_KINDS}")
    shapes = _npz_shapes(path)
    need = ("x_train", "y_train", "x_test", "y_test")
    missing = [k for k in need if k not in shapes]
    if missing:
        raise ImportFormatError(f"{path}: lacks {missing} (a CTR-GCN file has {list(need)}; found {sorted(shapes)})")
    for part in ("train", "test"):
        (xs, xd, xf), (ys, yd, _) = shapes[f"x_{part}"], shapes[f"y_{part}"]
        if len(xs) != 3 or xs[2] != 2 * NUM_JOINTS * 3 or xd.kind != "f" or xf:
            raise ImportFormatError(
                f"{path}: x_{part} should be a C-order float array (clips, frames, 150 = 2 bodies x 25 joints x xyz), "
                f"found shape {xs} dtype {xd}; STAR's six body parts need NTU-25 3-D joints")
        if len(ys) not in (1, 2) or ys[0] != xs[0] or yd.kind not in "fiub":
            raise ImportFormatError(f"{path}: y_{part} should be one-hot (clips, classes) or labels (clips,) for "
                                    f"{xs[0]} clips, found shape {ys} dtype {yd}")
    clips, roles = [], []
    with np.load(path, allow_pickle=False) as data, zipfile.ZipFile(path) as zf:
        for part, role in (("train", TRAIN), ("test", TEST)):
            y = data[f"y_{part}"]  # small: (clips, classes)
            labels = y.argmax(axis=1) if y.ndim == 2 else y.astype(np.int64)
            for start, x in _rows(zf, f"x_{part}"):
                for j in range(len(x)):
                    i = start + j
                    clips.append(_ctrgcn_clip(x[j], int(labels[i]), f"{path.stem}_{part}_{i:06d}", path))
                    roles.append(role)
    if not clips:
        raise ImportFormatError(f"{path}: holds no clips")
    bank_name, class_names = _bank_name(max(c.label for c in clips) + 1, path)
    bank = ClipBank.from_clips(clips, class_names, f"CTR-GCN arrays {path.name}, imported by star prepare-ctrgcn")
    bank.extras[f"split_{protocol}"] = np.array(roles, np.int64)
    return bank_name, bank


def write_bank(bank_name: str, bank: ClipBank, out_dir: str | Path) -> Path:
    """Save ``out_dir/<bank_name>.npz`` (written whole or not at all: ``ClipBank.save``)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return bank.save(out_dir / f"{bank_name}.npz")


def _ctrgcn_clip(x: np.ndarray, label: int, name: str, path: Path) -> Clip:
    """(300, 150) zero-padded frames -> a clip of the valid frames, one or two bodies."""
    frames = np.asarray(x, np.float32).reshape(len(x), 2, NUM_JOINTS, 3).transpose(1, 0, 2, 3)  # (2, T, 25, 3)
    if not np.isfinite(frames).all():
        raise ImportFormatError(f"{path}: clip {name} holds NaN or infinite coordinates")
    valid = np.flatnonzero(np.abs(frames).sum(axis=(0, 2, 3)) > 0)
    if len(valid) == 0:
        raise ImportFormatError(f"{path}: clip {name} is all zeros")
    frames = frames[:, : valid[-1] + 1]
    if not np.abs(frames[1]).sum() > 0:
        frames = frames[:1]
    return Clip(frames, source=name, label=label)


def read_any_bank(path: str | Path) -> ClipBank:
    """A clip bank from any file the project reads as one: our ``.npz`` bank, a pyskl ``.pkl`` or CTR-GCN arrays
    (``.npz`` with ``x_train``; protocol from the file name). ``ImportFormatError`` / ``SkeletonFormatError`` else."""
    path = Path(path)
    if path.suffix.lower() == ".pkl":
        return read_pyskl(path)[1]
    if path.suffix.lower() != ".npz":
        raise ImportFormatError(f"{path.name}: expected a clip bank (.npz), a pyskl pickle (.pkl) or CTR-GCN arrays "
                                "(.npz)")
    if "x_train" in _npz_shapes(path):
        return read_ctrgcn(path)[1]
    return ClipBank.load(path)
