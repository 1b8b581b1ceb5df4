"""A checkpoint sent as one ``.zip`` (an upload): checked, size-limited, unpacked safely, then validated.

The archive holds exactly the three checkpoint files, ``model.safetensors``, ``model.json`` and ``bundle.npz``,
either at its top level or inside one top-level folder (what zipping a checkpoint folder gives). Before anything
is written, every member is checked: no absolute paths, no ``..`` or other odd path parts, no symbolic links,
no encryption, no duplicate names, no other files (macOS ``__MACOSX/`` and ``.DS_Store`` entries are skipped),
at most ``max_members`` entries, at most ``max_compressed`` bytes of archive and ``max_unpacked`` bytes once
unpacked (counted while unpacking too, so a member that lies about its size is stopped). Member names never
become paths: the three files are written under their fixed names into ``dest/checkpoint/``. The result is
then loaded with ``star.checkpoint.load_checkpoint`` and ``load_bundle`` (safetensors, JSON, ``np.load`` with
``allow_pickle=False``): nothing is ever unpickled. Every failure is a ``CheckpointError`` naming the archive
and what is wrong, never a server path.
"""

from __future__ import annotations

import io
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, CheckpointError, load_checkpoint

EXPECTED = (WEIGHTS, SIDECAR, BUNDLE)
MAX_COMPRESSED = 256 * 2**20  # bytes of .zip accepted
MAX_UNPACKED = 1024 * 2**20  # bytes of the three files together, once unpacked
MAX_MEMBERS = 16  # archive entries (files, folders, skipped macOS extras)
_SKIPPED = ("__MACOSX/", ".DS_Store")
_CHUNK = 2**20


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _skipped(name: str) -> bool:
    return name.startswith(_SKIPPED[0]) or PurePosixPath(name).name == _SKIPPED[1]


def _member_parts(info: zipfile.ZipInfo, label: str) -> tuple[str, ...]:
    """The member's path parts, after refusing anything that is not a plain relative file or folder name."""
    name = info.filename
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise CheckpointError(f"{label}: '{name}' is a symbolic link; the archive must hold plain files only")
    if info.flag_bits & 0x1:
        raise CheckpointError(f"{label}: '{name}' is encrypted; zip the checkpoint without a password")
    if "\\" in name or "\x00" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise CheckpointError(f"{label}: '{name}' is not a relative path inside the archive")
    parts = tuple(name.rstrip("/").split("/"))
    if any(p in ("", ".", "..") for p in parts):
        raise CheckpointError(f"{label}: '{name}' has an empty, '.' or '..' path part")
    return parts


def _plan(zf: zipfile.ZipFile, label: str, max_members: int, max_unpacked: int) -> dict[str, zipfile.ZipInfo]:
    """Check every member; the three expected files by name."""
    infos = zf.infolist()
    if len(infos) > max_members:
        raise CheckpointError(f"{label}: {len(infos)} entries; a checkpoint archive holds at most {max_members}")
    seen: set[str] = set()
    files: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    for info in infos:
        parts = _member_parts(info, label)
        key = "/".join(parts).lower()
        if key in seen:
            raise CheckpointError(f"{label}: '{info.filename}' appears twice")
        seen.add(key)
        if _skipped(info.filename):
            continue
        if info.is_dir():
            if len(parts) != 1:
                raise CheckpointError(f"{label}: unexpected folder '{info.filename}' (expected the three files, "
                                      "optionally inside one folder)")
            folders.add(parts[0])
            continue
        if len(parts) > 2 or parts[-1] not in EXPECTED:
            raise CheckpointError(f"{label}: unexpected entry '{info.filename}' (expected only "
                                  f"{', '.join(EXPECTED)}, optionally inside one folder)")
        if parts[-1] in files:
            raise CheckpointError(f"{label}: two copies of {parts[-1]}")
        files[parts[-1]] = info
        if len(parts) == 2:
            folders.add(parts[0])
    if len(folders) > 1 or (folders and any("/" not in i.filename.rstrip("/") for i in files.values())):
        raise CheckpointError(f"{label}: the files must sit together, at the top level or in one folder")
    missing = [n for n in EXPECTED if n not in files]
    if missing:
        raise CheckpointError(f"{label}: missing {', '.join(missing)} (a checkpoint archive holds "
                              f"{', '.join(EXPECTED)})")
    total = sum(i.file_size for i in files.values())
    if total > max_unpacked:
        raise CheckpointError(f"{label}: unpacks to {_mib(total)}; the limit is {_mib(max_unpacked)}")
    return files


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path, budget: int, label: str) -> int:
    """Write one member to ``out``, reading at most its declared size and ``budget`` bytes; bytes written."""
    written = 0
    with zf.open(info) as src, open(out, "xb") as dst:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size or written > budget:
                raise CheckpointError(f"{label}: {info.filename} unpacks to more than it declares or the "
                                      f"limit of {_mib(budget)}")
            dst.write(chunk)
    return written


def unpack_checkpoint_zip(data: bytes, dest: str | Path, name: str = "archive.zip", *,
                          max_compressed: int = MAX_COMPRESSED, max_unpacked: int = MAX_UNPACKED,
                          max_members: int = MAX_MEMBERS) -> Path:
    """Unpack a checkpoint archive (the bytes of a ``.zip``) into ``dest/checkpoint/`` and validate it.

    ``dest`` must exist (a fresh temporary folder: the caller removes it); ``name`` labels error messages.
    Returns the checkpoint folder. Raises ``CheckpointError`` (a message a person can act on) for an archive
    that is too large, unreadable, unsafe, incomplete or not a loadable checkpoint; nothing is left in ``dest``.
    """
    label = Path(name).name or "archive.zip"
    if len(data) > max_compressed:
        raise CheckpointError(f"{label}: {_mib(len(data))}; the limit for a checkpoint archive is "
                              f"{_mib(max_compressed)}")
    out = Path(dest) / "checkpoint"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = _plan(zf, label, max_members, max_unpacked)
            out.mkdir()
            budget = max_unpacked
            for fname, info in files.items():
                budget -= _copy(zf, info, out / fname, budget, label)
    except CheckpointError:
        shutil.rmtree(out, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        # corrupt data, a bad CRC, an unsupported compression method, a truncated archive
        shutil.rmtree(out, ignore_errors=True)
        raise CheckpointError(f"{label}: not a readable zip archive ({exc})") from None
    except OSError as exc:  # the server's side (disk full, ...): say so without naming its folders
        shutil.rmtree(out, ignore_errors=True)
        raise CheckpointError(f"{label}: could not be unpacked on the server ({exc.strerror or 'I/O error'})") from None
    try:
        load_checkpoint(out).load_bundle()
    except CheckpointError as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise CheckpointError(str(exc).replace(str(out), label)) from None
    return out
