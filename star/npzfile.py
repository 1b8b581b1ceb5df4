""".npz archives from untrusted sources (clip banks, evaluation bundles, other toolkits' arrays), read with limits.

``npz_members`` reads only the zip directory and each member's ``.npy`` header: it refuses encrypted members,
compression methods other than stored / deflate, object arrays, more members than ``max_members``, and arrays that
would need more than ``max_bytes`` in all, before anything is allocated. ``load_npz`` then reads the arrays. Every
zipfile / zlib / numpy error becomes ``NpzError`` naming the file and the member.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

MAX_MEMBERS = 256
DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB: a clip bank of NTU-120 is about 6 GiB
ALLOWED_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


class NpzError(ValueError):
    """An .npz that is not a plain, readable archive of plain arrays within the limits."""


def declared_entries(head_and_tail: bytes) -> int | None:
    """The number of entries a zip archive's end-of-central-directory record declares (ZIP64 too), read from the
    archive's last bytes before ``zipfile`` parses a directory of that size; None when no such record is found.
    ``head_and_tail``: the whole archive, or at least its last 64 KiB + 98 bytes."""
    tail = head_and_tail[-(65536 + 98):]
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(tail):
        return None
    entries = int.from_bytes(tail[end + 10:end + 12], "little")
    if entries == 0xFFFF:  # ZIP64: the count is in the ZIP64 end record, just before its locator
        z64 = tail.rfind(b"PK\x06\x06", 0, end)
        if z64 >= 0 and z64 + 40 <= len(tail):
            entries = int.from_bytes(tail[z64 + 32:z64 + 40], "little")
    return entries


def _check_entries(path: Path, max_members: int) -> None:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - (65536 + 98)))
        count = declared_entries(fh.read())
    if count is not None and count > max_members:
        raise NpzError(f"{path}: its directory declares {count} members, more than {max_members}")


def npy_header(fh) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, Fortran order, dtype) of the .npy stream ``fh``, left at the first data byte. ValueError for a format
    version other than 1.0-3.0 or a shape whose entries are not integers of at least 0 (numpy's parser accepts
    ``True`` / ``False`` there, and loading such a file then fails with a TypeError)."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    elif version == (3, 0):
        shape, fortran, dtype = np.lib.format._read_array_header(fh, version)
    else:
        raise ValueError(f".npy format version {version} (expected 1.0, 2.0 or 3.0)")
    if not all(type(d) is int and d >= 0 for d in shape):
        raise ValueError(f"shape {shape!r}: every entry must be an integer of at least 0")
    return shape, fortran, dtype


def npz_members(path: str | Path, max_members: int = MAX_MEMBERS,
                max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, tuple[tuple[int, ...], np.dtype, bool]]:
    """{array name: (shape, dtype, Fortran order)} of the archive's members, checked (see the module docstring)."""
    path = Path(path)
    members: dict[str, tuple[tuple[int, ...], np.dtype, bool]] = {}
    total = 0
    try:
        _check_entries(path, max_members)  # before zipfile reads a directory of millions of entries
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > max_members:
                raise NpzError(f"{path}: {len(infos)} members, more than {max_members}")
            for info in infos:
                where = f"{path}: array '{info.filename.removesuffix('.npy')}'"
                if info.flag_bits & 0x1:
                    raise NpzError(f"{where} is encrypted")
                if info.compress_type not in ALLOWED_METHODS:
                    raise NpzError(f"{where} uses compression method {info.compress_type} (only stored or deflate)")
                if not info.filename.endswith(".npy"):
                    raise NpzError(f"{path}: member '{info.filename}' is not an .npy array")
                with zf.open(info) as fh:
                    try:
                        shape, fortran, dtype = npy_header(fh)
                        start = fh.tell()
                    except Exception as exc:  # numpy's header parser raises ValueError, SyntaxError, TokenError...
                        raise NpzError(f"{where} has no valid .npy header ({type(exc).__name__}: {exc})") from None
                if dtype.hasobject:
                    raise NpzError(f"{where} is a pickled object array (never loaded)")
                needed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if needed > info.file_size - start:
                    raise NpzError(f"{where} declares {needed:,} bytes of data for shape {tuple(shape)} but holds "
                                   f"{max(info.file_size - start, 0):,} (truncated or corrupt)")
                total += needed
                if total > max_bytes:
                    raise NpzError(f"{path}: its arrays would need more than {max_bytes} bytes")
                members[info.filename[:-4]] = (tuple(int(d) for d in shape), dtype, bool(fortran))
    except NpzError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError,
            NotImplementedError) as exc:
        raise NpzError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    return members


def load_npz(path: str | Path, max_members: int = MAX_MEMBERS, max_bytes: int = DEFAULT_MAX_BYTES,
             members: dict | None = None) -> dict[str, np.ndarray]:
    """The archive's arrays, after ``npz_members``' checks (``members``: their result, when the caller has it
    already); ``NpzError`` for anything wrong."""
    members = npz_members(path, max_members, max_bytes) if members is None else members
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in members}
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise NpzError(f"{path}: a member cannot be read ({type(exc).__name__}: {exc})") from None
