"""Reading and writing skeleton files: NTU ``.skeleton``, PKU-MMD ``.txt``, NumPy ``.npy`` / ``.npz``.

Every reader returns a ``Clip`` (frames (M, T, 25, 3) float32) or raises ``SkeletonFormatError`` naming
the file, the line or array, what was expected and what was found. Files larger than ``max_bytes``
(default ``DEFAULT_MAX_BYTES``, 50 MiB) are refused before they are read. NumPy files are always loaded
with ``allow_pickle=False``, and their headers are checked first, so an object (pickled) array or a
header claiming a giant array is refused without loading or allocating anything.

The content of each format lives in its own module (``ntu_format``, ``pku_format``, ``numpy_format``);
this module deals with files and picks the reader.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from star.npzfile import npy_header
from star.skeleton.clip import Clip, SkeletonFormatError
from star.skeleton.ntu_format import format_ntu_skeleton, parse_ntu_skeleton_text
from star.skeleton.numpy_format import LAYOUTS, frames_from_array, from_mtvc
from star.skeleton.pku_format import format_pku_text, parse_pku_text

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
NPZ_EXPANSION = 4  # the arrays inside an .npz may total at most this many times max_bytes once unpacked
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_HEADER_BYTES = 65536
_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")

__all__ = [
    "DEFAULT_MAX_BYTES", "LAYOUTS", "load_clip", "read_ntu_skeleton", "parse_ntu_skeleton_text",
    "write_ntu_skeleton", "read_numpy", "write_npy", "read_pku_txt", "write_pku_txt",
]


def _checked_size(path: Path, max_bytes: int | None) -> int:
    """The file's size in bytes, after checking it exists and is at most ``max_bytes``."""
    limit = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
    if not path.is_file():
        raise SkeletonFormatError(path, None, "an existing file", "no such file" if not path.exists() else "a directory")
    size = path.stat().st_size
    if size > limit:
        raise SkeletonFormatError(path, None, f"a file of at most {limit:,} bytes (raise max_bytes= to allow more)",
                                  f"{size:,} bytes")
    return size


def _read_text(path: Path, max_bytes: int | None) -> str:
    _checked_size(path, max_bytes)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SkeletonFormatError(path, f"line {line}", "plain text (UTF-8 / ASCII)",
                                  f"binary byte {data[exc.start]:#04x} at byte offset {exc.start}") from None


def _as_frames(clip_or_frames: Clip | np.ndarray) -> np.ndarray:
    return clip_or_frames.frames if isinstance(clip_or_frames, Clip) else Clip(np.asarray(clip_or_frames)).frames


def _ntu_name_meta(path: Path) -> tuple[int | None, dict]:
    """Label (0-based action) and setup/camera/subject/replication from an NTU file name, if it has one."""
    match = _NTU_NAME.search(path.name)
    if not match:
        return None, {}
    setup, camera, subject, replication, action = (int(g) for g in match.groups())
    meta = {"setup": setup, "camera": camera, "subject": subject, "replication": replication, "action": action}
    return action - 1, meta


# ----------------------------------------------------------------------------------------------- NTU
def _clip_from_ntu_text(text: str, path: Path, max_bodies: int, denoise: bool) -> Clip:
    clip = parse_ntu_skeleton_text(text, str(path), max_bodies=max_bodies, denoise=denoise)
    label, meta = _ntu_name_meta(path)
    clip.meta.update(meta)
    return Clip(clip.frames, source=path.name, label=label, meta=clip.meta)


def read_ntu_skeleton(path, max_bodies: int = 2, denoise: bool = True, max_bytes: int | None = None) -> Clip:
    """Read an NTU RGB+D ``.skeleton`` file: frames (M, T, 25, 3), M <= max_bodies, bodies ordered by motion.

    Denoising rules: see ``star.skeleton.ntu_format``. ``meta`` has 'reader' ('ntu'), 'num_frames_header',
    'num_bodies_raw', 'body_ids', 'dropped_bodies'; for official file names (S001C002P003R004A005) also
    'setup', 'camera', 'subject', 'replication', 'action' (1-based), and ``label`` = action - 1.
    """
    path = Path(path)
    return _clip_from_ntu_text(_read_text(path, max_bytes), path, max_bodies, denoise)


def write_ntu_skeleton(clip: Clip | np.ndarray, path) -> Path:
    """Write a clip (or frames (M, T, 25, 3)) as an official NTU ``.skeleton`` text file (CRLF)."""
    path = Path(path)
    path.write_bytes(format_ntu_skeleton(_as_frames(clip)).encode("ascii"))
    return path


# ----------------------------------------------------------------------------------------------- PKU
def read_pku_txt(path, max_bytes: int | None = None) -> Clip:
    """Read PKU-MMD skeleton text (one frame per line, 150 numbers): frames (M, T, 25, 3), M = 1 or 2."""
    path = Path(path)
    clip = parse_pku_text(_read_text(path, max_bytes), str(path))
    return Clip(clip.frames, source=path.name, meta=clip.meta)


def write_pku_txt(clip: Clip | np.ndarray, path) -> Path:
    """Write a clip of 1 or 2 bodies as PKU-MMD skeleton text (a missing second body is written as zeros)."""
    path = Path(path)
    path.write_bytes(format_pku_text(_as_frames(clip)).encode("ascii"))
    return path


# --------------------------------------------------------------------------------------------- NumPy
def _check_npy_header(fp: IO[bytes], path: Path, where: str | None, available: int) -> None:
    """Refuse object (pickled) dtypes and headers promising more data than the file holds."""
    start = fp.read(len(_NPY_MAGIC))
    if start[:1] == b"\x80":
        raise SkeletonFormatError(path, where, "a NumPy array (.npy)", "a Python pickle, which is never loaded")
    if start != _NPY_MAGIC:
        raise SkeletonFormatError(path, where, "a NumPy array (.npy)", f"a file starting with {start!r}")
    fp = io.BytesIO(start + fp.read(_MAX_HEADER_BYTES))  # the header only; works for zip members too
    try:
        shape, _, dtype = npy_header(fp)
    except Exception as exc:  # numpy raises ValueError/SyntaxError/EOFError... for corrupt headers
        raise SkeletonFormatError(path, where, "a valid .npy header", f"{type(exc).__name__}: {exc}") from None
    if dtype.hasobject:
        raise SkeletonFormatError(path, where, "a plain numeric array (pickled objects are never loaded)",
                                  f"dtype {dtype}, a pickled object array")
    needed = math.prod(int(s) for s in shape) * dtype.itemsize
    left = available - fp.tell()
    if needed > left:
        raise SkeletonFormatError(path, where, f"{needed:,} bytes of array data for shape {tuple(shape)}",
                                  f"{max(left, 0):,} bytes (truncated or corrupt file)")


def _npz_members_checked(path: Path, limit: int) -> None:
    """Every member of the .npz checked from the zip directory and its .npy header (``star.npzfile``)."""
    from star.npzfile import NpzError, npz_members

    try:
        npz_members(path, max_bytes=limit)
    except NpzError as exc:
        raise SkeletonFormatError(path, None, "a valid .npz archive of plain arrays",
                                  str(exc).replace(f"{path}: ", "")) from None


def _clip_from_bank(npz, path: Path) -> Clip:
    """The single clip of a one-clip bank, or an error pointing to ``star.data.ClipBank``."""
    offsets = np.asarray(npz["offsets"])
    if offsets.ndim != 1 or offsets.size < 2:
        raise SkeletonFormatError(path, "array 'offsets'", "(N+1,) clip offsets with N >= 1", f"shape {offsets.shape}")
    if offsets.size > 2:
        raise SkeletonFormatError(path, None, "one clip; this is a clip bank, so load it with "
                                  "star.data.ClipBank.load(path) and pick a clip with bank.clip(i)",
                                  f"a clip bank of {offsets.size - 1} clips")
    if offsets.dtype.kind not in "iu":
        raise SkeletonFormatError(path, "array 'offsets'", "integer offsets", f"dtype {offsets.dtype}")
    a, b = int(offsets[0]), int(offsets[1])
    frames = np.asarray(npz["frames"])
    if not (frames.ndim == 3 and frames.shape[1:] == (25, 3)) or not 0 <= a < b <= frames.shape[0]:
        raise SkeletonFormatError(path, "array 'frames'", f"(sum T, 25, 3) frames covering offsets {a}..{b}",
                                  f"shape {frames.shape}")
    bodies = [frames[a:b]]
    try:
        if "frames_body2" in npz.files and ("num_bodies" not in npz.files or int(npz["num_bodies"][0]) >= 2):
            second = np.asarray(npz["frames_body2"])
            if second.shape != frames.shape:
                raise SkeletonFormatError(path, "array 'frames_body2'", f"shape {frames.shape}, like 'frames'",
                                          f"shape {second.shape}")
            bodies.append(second[a:b])
        label = int(npz["label"][0]) if "label" in npz.files else None
        extra = {}
        if label is not None and "class_names" in npz.files:
            extra["class_name"] = str(npz["class_names"][label])
        if "sample_id" in npz.files:
            extra["sample_id"] = str(npz["sample_id"][0])
    except (IndexError, TypeError, ValueError) as exc:
        raise SkeletonFormatError(path, None, "clip-bank arrays 'label', 'class_names', 'sample_id', 'num_bodies' "
                                  "with one entry per clip", f"{type(exc).__name__}: {exc}") from None
    out, meta = frames_from_array(np.stack(bodies), "MTVC", str(path), "array 'frames'")
    meta = {"reader": "clipbank", **meta, **extra}
    return Clip(out, source=path.name, label=label, meta=meta)


def read_numpy(path, layout: str | None = None, key: str | None = None, max_bytes: int | None = None) -> Clip:
    """Read a skeleton array from ``.npy`` or ``.npz`` (layouts in ``star.skeleton.numpy_format``).

    ``layout=None`` detects the layout from the shape and asks for ``layout=`` when two fit. An ``.npz``
    must hold one array, or name it with ``key=``; a clip bank (``frames`` + ``offsets``) is read only
    when it holds exactly one clip.
    """
    path = Path(path)
    size = _checked_size(path, max_bytes)
    with open(path, "rb") as fp:
        head = fp.read(len(_NPY_MAGIC))
    limit = NPZ_EXPANSION * (DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes))
    try:
        if head.startswith(_ZIP_MAGIC):
            _npz_members_checked(path, limit)
            with np.load(path, allow_pickle=False) as npz:
                if {"frames", "offsets"} <= set(npz.files) and key is None:
                    return _clip_from_bank(npz, path)
                if key is None:
                    if len(npz.files) != 1:
                        raise SkeletonFormatError(path, None, "one array, or key= naming one",
                                                  f"arrays {sorted(npz.files)}")
                    key = npz.files[0]
                if key not in npz.files:
                    raise SkeletonFormatError(path, None, f"an array named {key!r}", f"arrays {sorted(npz.files)}")
                array, where = np.asarray(npz[key]), f"array {key!r}"
        else:
            with open(path, "rb") as fp:
                _check_npy_header(fp, path, None, size)
            array, where = np.load(path, allow_pickle=False), None
    except SkeletonFormatError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise SkeletonFormatError(path, None, "a readable .npy/.npz file", f"{type(exc).__name__}: {exc}") from None
    frames, meta = frames_from_array(array, layout, str(path), where)
    return Clip(frames, source=path.name, meta={"reader": "numpy", **meta})


def write_npy(clip: Clip | np.ndarray, path, layout: str = "MTVC") -> Path:
    """Write frames as a ``.npy`` array in ``layout`` (float32), to exactly ``path``."""
    path = Path(path)
    array = np.ascontiguousarray(from_mtvc(_as_frames(clip), layout), dtype=np.float32)
    with open(path, "wb") as fp:
        np.save(fp, array, allow_pickle=False)
    return path


# ---------------------------------------------------------------------------------------- dispatch
def load_clip(path, layout: str | None = None, max_bytes: int | None = None) -> Clip:
    """Read any supported skeleton file, choosing the reader by content and extension.

    NumPy magic bytes or .npy/.npz -> ``read_numpy``; .skeleton -> NTU; .txt -> PKU-MMD (NTU if its
    first line is a single integer); other extensions: NTU when the first line is a single integer,
    PKU when it has 75 or more values. ``layout`` applies to NumPy files only. Videos (.mp4 .avi .mov
    .mkv .webm) go through pose extraction (``star.video``; ``max_bytes`` then overrides its size limit).
    """
    path = Path(path)
    if path.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv", ".webm"):  # RGB video: pose extraction
        from star.video.pipeline import load_video_clip

        return load_video_clip(path, max_bytes=max_bytes)
    _checked_size(path, max_bytes)
    with open(path, "rb") as fp:
        head = fp.read(len(_NPY_MAGIC))
    suffix = path.suffix.lower()
    if head.startswith((_NPY_MAGIC, _ZIP_MAGIC, b"\x80")) or suffix in (".npy", ".npz"):
        return read_numpy(path, layout=layout, max_bytes=max_bytes)
    if layout is not None:
        raise ValueError(f"layout= applies to .npy/.npz files only, not {path.name}")
    text = _read_text(path, max_bytes)
    if suffix == ".skeleton":
        return _clip_from_ntu_text(text, path, 2, True)
    first = next((line.split() for line in text.splitlines() if line.strip()), [])
    if len(first) == 1 and first[0].lstrip("+-").isdigit():  # an NTU frame-count line
        return _clip_from_ntu_text(text, path, 2, True)
    if suffix == ".txt" or len(first) >= 75:
        clip = parse_pku_text(text, str(path))
        return Clip(clip.frames, source=path.name, meta=clip.meta)
    raise SkeletonFormatError(path, "line 1", "an NTU .skeleton, PKU-MMD .txt, .npy or .npz skeleton file",
                              f"{len(first)} values on the first line of a {suffix or 'extension-less'} file")
