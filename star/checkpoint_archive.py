"""A checkpoint sent as one ``.zip`` (an upload): checked, size-limited, unpacked safely, then validated.

The archive holds exactly the three checkpoint files, ``model.safetensors``, ``model.json`` and ``bundle.npz``,
either at its top level or inside one top-level folder (what zipping a checkpoint folder gives). Before anything
is written, every member is checked from the archive's central directory: no absolute paths, no ``..`` or other
odd path parts, no symbolic links, no encryption, no duplicate names, no other files (macOS ``__MACOSX/`` and
``.DS_Store`` entries are skipped), at most ``max_members`` entries, at most ``max_compressed`` bytes of archive;
each file's declared size within its own limit (``MAX_SIZES``) and the three together within ``max_unpacked``;
no file of a megabyte or more that declares an implausible compression ratio (above ``max_ratio``: a zip bomb).
While unpacking, the bytes are counted: a member that unpacks to more than it declares is stopped right after
its declared size, before anything past it is written (``zipfile``'s own CRC check is replaced by one that runs
after the count, so the lie is named as such). Member names never become paths: the three files are written
under their fixed names into ``dest/checkpoint/``. The result is then loaded with
``star.checkpoint.load_checkpoint`` and ``load_bundle`` (safetensors, JSON, ``np.load`` with
``allow_pickle=False``): nothing is ever unpickled. Every failure is a ``CheckpointError`` naming the archive
and what is wrong, never a server path.

The limits come from what a checkpoint can be. The shipped ones (pool42, 891 test clips, 42 classes, MiniLM)
hold 4.5-12.6 MB of weights, a 0.07-0.5 MB sidecar and a 0.5-2.7 MB bundle. A big one: an NTU-120 head at the
authors' width (``d_model`` 768) on ViT-L text embeddings (768) with its Shift-GCN backbone is about 27 M float32
parameters (108 MB; 256 MiB allows 2.4 times that); its bundle for the ~50k NTU-120 test clips (scores 50k x 120,
global and six part features of 100 dims, source names) about 170 MB (512 MiB: 3 times); a sidecar grows with
epochs and classes, not with weights (16 MiB: 30 times the shipped one). Float32 weights and features deflate
about 1.1:1 and the JSON sidecar about 6:1, so no checkpoint file comes near 50:1 (zeros reach 1000:1).
"""

from __future__ import annotations

import copy
import io
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, CheckpointError, load_checkpoint
from star.npzfile import declared_entries

EXPECTED = (WEIGHTS, SIDECAR, BUNDLE)
MAX_SIZES = {WEIGHTS: 256 * 2**20, SIDECAR: 16 * 2**20, BUNDLE: 512 * 2**20}  # bytes of each file, unpacked
MAX_UNPACKED = 768 * 2**20  # bytes of the three files together, once unpacked
MAX_COMPRESSED = 512 * 2**20  # bytes of .zip accepted (the app's upload limit too)
MAX_RATIO = 50.0  # declared unpacked / compressed size of one file (checkpoint files: 1.1 to 6)
RATIO_FROM = 2**20  # the ratio is checked for files declaring at least this many bytes
MAX_MEMBERS = 16  # archive entries (files, folders, skipped macOS extras)
_WHAT = {WEIGHTS: "weights file", SIDECAR: "sidecar", BUNDLE: "bundle"}
_SKIPPED = ("__MACOSX/", ".DS_Store")
_CHUNK = 2**20


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def _size(n: int) -> str:
    return _mib(n) if n >= 2**20 else f"{n / 2**10:.1f} KiB"


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


def _plan(zf: zipfile.ZipFile, label: str, max_members: int, max_unpacked: int, max_sizes: dict[str, int],
          max_ratio: float) -> dict[str, zipfile.ZipInfo]:
    """Check every member from the central directory (nothing is decompressed); the three expected files by name."""
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
    for fname, info in files.items():
        limit = max_sizes.get(fname, max_unpacked)
        if info.file_size > limit:
            raise CheckpointError(f"{label}: {fname} unpacks to {_mib(info.file_size)}; a checkpoint's "
                                  f"{_WHAT[fname]} is at most {_mib(limit)}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size >= RATIO_FROM and ratio > max_ratio:
            raise CheckpointError(f"{label}: {fname} would unpack to {_mib(info.file_size)} from "
                                  f"{_size(info.compress_size)} ({ratio:.0f}:1); checkpoint files compress at most "
                                  f"{max_ratio:.0f}:1, so this looks like a zip bomb")
    total = sum(i.file_size for i in files.values())
    if total > max_unpacked:
        raise CheckpointError(f"{label}: unpacks to {_mib(total)}; the limit is {_mib(max_unpacked)}")
    return files


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: Path, label: str) -> int:
    """Write one member to ``out``, stopping as soon as it gives more bytes than it declares; bytes written.

    ``zipfile`` never returns more than a member's declared size and checks the CRC once it has read that much,
    so a member that unpacks to more would only ever show as a bad CRC. It is read here through a copy of its
    entry that allows one byte more and has no CRC to check; the count and then the CRC are checked here."""
    entry = copy.copy(info)
    entry.file_size = info.file_size + 1  # one byte past the declared size shows the lie
    del entry.CRC  # zipfile then skips its CRC check (done below, after the count)
    written, crc = 0, 0
    with zf.open(entry) as src, open(out, "xb") as dst:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            if written > info.file_size:
                raise CheckpointError(f"{label}: {info.filename} unpacks to more than the {info.file_size:,} bytes "
                                      "it declares")
            crc = zlib.crc32(chunk, crc)
            dst.write(chunk)
    if written != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename} holds {written:,} bytes and declares {info.file_size:,}")
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
    return written


def unpack_checkpoint_zip(data: bytes, dest: str | Path, name: str = "archive.zip", *,
                          max_compressed: int = MAX_COMPRESSED, max_unpacked: int = MAX_UNPACKED,
                          max_members: int = MAX_MEMBERS, max_sizes: dict[str, int] | None = None,
                          max_ratio: float = MAX_RATIO) -> Path:
    """Unpack a checkpoint archive (the bytes of a ``.zip``) into ``dest/checkpoint/`` and validate it.

    ``dest`` must exist (a fresh temporary folder: the caller removes it); ``name`` labels error messages.
    ``max_sizes`` overrides the per-file limits (``MAX_SIZES``). Returns the checkpoint folder. Raises
    ``CheckpointError`` (a message a person can act on) for an archive that is too large, unreadable, unsafe,
    incomplete or not a loadable checkpoint; nothing is left in ``dest``.
    """
    label = Path(name).name or "archive.zip"
    if len(data) > max_compressed:
        raise CheckpointError(f"{label}: {_mib(len(data))}; the limit for a checkpoint archive is "
                              f"{_mib(max_compressed)}")
    entries = declared_entries(data)
    if entries is not None and entries > max_members:  # refused before zipfile parses a directory that large
        raise CheckpointError(f"{label}: its directory declares {entries:,} entries; a checkpoint archive has at "
                              f"most {max_members}")
    out = Path(dest) / "checkpoint"
    done = False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            files = _plan(zf, label, max_members, max_unpacked, {**MAX_SIZES, **(max_sizes or {})}, max_ratio)
            out.mkdir()  # the declared sizes are checked; _copy holds every member to its declared size
            for fname, info in files.items():
                _copy(zf, info, out / fname, label)
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
        done = True
    except CheckpointError as exc:
        raise CheckpointError(str(exc).replace(str(out), label)) from None
    finally:  # whatever goes wrong, nothing is left in dest
        if not done:
            shutil.rmtree(out, ignore_errors=True)
    return out
