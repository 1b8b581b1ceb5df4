"""``star.checkpoint_archive``: an uploaded checkpoint .zip is size-limited, checked member by member, unpacked
under fixed names only, validated, and every failure is a ``CheckpointError`` that names no server path."""

from __future__ import annotations

import io
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, CheckpointError, list_checkpoints, load_checkpoint
from star.checkpoint_archive import MAX_COMPRESSED, MAX_SIZES, MAX_UNPACKED, unpack_checkpoint_zip

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    """The three files of the smallest shipped checkpoint."""
    paths = list_checkpoints(REPO / "checkpoints")
    if not paths:
        pytest.fail("no shipped checkpoints in checkpoints/")
    smallest = min(paths, key=lambda p: (p / WEIGHTS).stat().st_size)
    return {n: (smallest / n).read_bytes() for n in (WEIGHTS, SIDECAR, BUNDLE)}


def make_zip(members: list[tuple[str | zipfile.ZipInfo, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def checkpoint_zip(files: dict[str, bytes], folder: str = "", method: int = zipfile.ZIP_DEFLATED) -> bytes:
    members = [(f"{folder}/", b"")] if folder else []
    return make_zip(members + [(f"{folder}/{n}" if folder else n, d) for n, d in files.items()], method)


def refused(data: bytes, dest: Path, match: str, **limits) -> str:
    with pytest.raises(CheckpointError, match=match) as err:
        unpack_checkpoint_zip(data, dest, "upload.zip", **limits)
    assert list(dest.iterdir()) == [], "nothing may be left behind"
    message = str(err.value)
    assert message.startswith("upload.zip") and str(dest) not in message  # names the archive, not the server
    return message


def test_good_archive_unpacks_to_a_loadable_checkpoint(files, tmp_path):
    out = unpack_checkpoint_zip(checkpoint_zip(files), tmp_path, "mine.zip")
    assert out == tmp_path / "checkpoint"
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    assert all((out / n).read_bytes() == d for n, d in files.items())
    ckpt = load_checkpoint(out)
    assert ckpt.name and set(ckpt.load_bundle()) >= {"labels", "scores"}


def test_good_archive_inside_one_folder_skipping_macos_extras(files, tmp_path):
    data = make_zip([("ckpt/", b"")] + [(f"ckpt/{n}", d) for n, d in files.items()]
                    + [("__MACOSX/ckpt/._model.json", b"junk"), ("ckpt/.DS_Store", b"junk")])
    out = unpack_checkpoint_zip(data, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    # stored (uncompressed) members are fine too
    second = tmp_path / "second"
    second.mkdir()
    out2 = unpack_checkpoint_zip(checkpoint_zip(files, "c", zipfile.ZIP_STORED), second)
    assert load_checkpoint(out2).name == load_checkpoint(out).name


@pytest.mark.parametrize("evil", ["../model.json", "ckpt/../../model.json", "/tmp/model.json", "..\\model.json",
                                  "C:/model.json", "./model.json", "ckpt//model.json"])
def test_zip_slip_names_are_refused_before_anything_is_written(files, tmp_path, evil):
    dest = tmp_path / "dest"
    dest.mkdir()
    data = make_zip([(evil, files[SIDECAR]), (WEIGHTS, files[WEIGHTS]), (BUNDLE, files[BUNDLE])])
    refused(data, dest, "path")
    assert not (tmp_path / "model.json").exists() and not Path("/tmp/model.json").exists()


def test_symbolic_link_members_are_refused(files, tmp_path):
    link = zipfile.ZipInfo(SIDECAR)
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = make_zip([(link, b"/etc/passwd"), (WEIGHTS, files[WEIGHTS]), (BUNDLE, files[BUNDLE])])
    refused(data, tmp_path, "symbolic link")


def test_encrypted_members_are_refused(files, tmp_path):
    data = bytearray(checkpoint_zip(files))
    # set the 'encrypted' flag of the first central-directory entry (offset 8 in the header)
    at = data.index(b"PK\x01\x02")
    flags = struct.unpack_from("<H", data, at + 8)[0]
    struct.pack_into("<H", data, at + 8, flags | 0x1)
    refused(bytes(data), tmp_path, "encrypted")


@pytest.mark.parametrize("members, match", [
    ([SIDECAR, SIDECAR, WEIGHTS, BUNDLE], "twice"),
    ([SIDECAR, "MODEL.JSON", WEIGHTS, BUNDLE], "twice"),  # same name on a case-insensitive file system
    ([SIDECAR, "a/model.json", WEIGHTS, BUNDLE], "two copies"),
    ([SIDECAR, WEIGHTS, BUNDLE, "run.py"], "unexpected entry 'run.py'"),
    ([SIDECAR, WEIGHTS, BUNDLE, "a/b/"], "unexpected folder"),
    (["a/b/model.json", "a/b/model.safetensors", "a/b/bundle.npz"], "unexpected entry"),
    (["a/model.json", "b/model.safetensors", "b/bundle.npz"], "sit together"),
    (["a/model.json", "model.safetensors", "a/bundle.npz"], "sit together"),
    ([SIDECAR, WEIGHTS], "missing bundle.npz"),
])
def test_only_the_three_checkpoint_files_once(files, tmp_path, members, match):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        data = make_zip([(m, files.get(Path(m).name, b"x")) for m in members])
    refused(data, tmp_path, match)


def test_size_and_member_limits(files, tmp_path):
    data = checkpoint_zip(files)
    assert "limit" in refused(data, tmp_path, "limit for a checkpoint archive", max_compressed=len(data) - 1)
    total = sum(len(d) for d in files.values())
    refused(data, tmp_path, "unpacks to", max_unpacked=total - 1)
    message = refused(data, tmp_path, "bundle.npz unpacks to", max_sizes={BUNDLE: len(files[BUNDLE]) - 1})
    assert "a checkpoint's bundle is at most" in message
    many = make_zip([(f"__MACOSX/{i}", b"") for i in range(20)] + [(n, d) for n, d in files.items()])
    refused(many, tmp_path, "at most 16")
    # the defaults accept the real checkpoint, and a real one's files sit well inside their own limits
    assert unpack_checkpoint_zip(data, tmp_path).is_dir()
    assert all(len(d) * 10 < MAX_SIZES[n] for n, d in files.items())
    assert sum(MAX_SIZES.values()) >= MAX_UNPACKED >= MAX_COMPRESSED >= max(MAX_SIZES.values())


def _zeros_zip(files: dict[str, bytes], mib: int) -> bytes:
    """The real sidecar and bundle with ``mib`` MiB of zeros as model.safetensors (deflated, declared honestly)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(SIDECAR, files[SIDECAR])
        zf.writestr(BUNDLE, files[BUNDLE])
        with zf.open(WEIGHTS, "w", force_zip64=True) as out:
            zeros = bytes(2**20)
            for _ in range(mib):
                out.write(zeros)
    return buf.getvalue()


def test_a_zip_bomb_is_refused_from_its_directory_before_anything_is_written(files, tmp_path):
    """300 MB of zeros as model.safetensors (a 1.9 MB zip): refused from the declared size alone, fast, and dest
    stays empty; 100 MB of zeros (under the weights limit) is refused for its compression ratio."""
    bomb = _zeros_zip(files, 300)
    assert len(bomb) < 2 * 2**20
    dest = tmp_path / "dest"
    dest.mkdir()
    start = time.perf_counter()
    message = refused(bomb, dest, "unpacks to")
    assert time.perf_counter() - start < 0.5  # nothing was decompressed
    assert message == (f"upload.zip: model.safetensors unpacks to 300.0 MiB; a checkpoint's weights file is at "
                       f"most {MAX_SIZES[WEIGHTS] / 2**20:.1f} MiB")
    assert not (dest / "checkpoint").exists()
    message = refused(_zeros_zip(files, 100), dest, "zip bomb")
    assert message.startswith("upload.zip: model.safetensors would unpack to 100.0 MiB from ")
    assert not (dest / "checkpoint").exists()


def _declare(data: bytes, member: str, size: int) -> bytes:
    """The archive with ``member``'s size in the central directory (what zipfile reads) set to ``size``."""
    out = bytearray(data)
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        name_len = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46: pos + 46 + name_len].decode() == member:
            struct.pack_into("<I", out, pos + 24, size)
        pos += 4
    return bytes(out)


def test_a_member_that_unpacks_to_more_than_it_declares_is_stopped(tmp_path):
    """A zip bomb lying in its directory: the declared sizes pass the limits, the data does not get written; it is
    named as such (not as zipfile's bad CRC, which would come after the data)."""
    big = b"\0" * (4 * 2**20)
    data = _declare(make_zip([(SIDECAR, b"{}"), (WEIGHTS, big), (BUNDLE, b"x")]), WEIGHTS, 10)
    message = refused(data, tmp_path, "more than")
    assert message == "upload.zip: model.safetensors unpacks to more than the 10 bytes it declares"
    # stored (no compression) the same
    stored = _declare(make_zip([(SIDECAR, b"{}"), (WEIGHTS, big), (BUNDLE, b"x")], zipfile.ZIP_STORED), WEIGHTS, 10)
    assert refused(stored, tmp_path, "more than").endswith("the 10 bytes it declares")
    # one that holds less than it declares is a broken archive
    short = _declare(make_zip([(SIDECAR, b"{}"), (WEIGHTS, b"w"), (BUNDLE, b"x")]), SIDECAR, 10)
    assert "model.json holds 2 bytes and declares 10" in refused(short, tmp_path, "not a readable zip")


def test_corrupt_archives(files, tmp_path):
    assert "not a readable zip archive" in refused(b"this is not a zip file", tmp_path, "not a readable zip")
    good = checkpoint_zip(files)
    refused(good[: len(good) // 2], tmp_path, "not a readable zip")  # truncated: no central directory
    stored = bytearray(checkpoint_zip(files, method=zipfile.ZIP_STORED))
    i = stored.index(files[WEIGHTS][-64:])
    stored[i] ^= 0xFF  # flip one byte of the weights: a bad CRC
    refused(bytes(stored), tmp_path, "not a readable zip archive \\(Bad CRC-32 for file 'model.safetensors'\\)")


def test_a_readable_zip_with_a_broken_checkpoint_says_which_file(files, tmp_path):
    bad_json = dict(files, **{SIDECAR: b"{not json"})
    assert "upload.zip/model.json: not valid JSON" in refused(checkpoint_zip(bad_json), tmp_path, "JSON")
    bad_weights = dict(files, **{WEIGHTS: b"\0" * 100})
    refused(checkpoint_zip(bad_weights), tmp_path, "safetensors")
    pickled = dict(files, **{BUNDLE: b"\x80\x04K\x01."})  # a pickle, not an npz: never unpickled
    refused(checkpoint_zip(pickled), tmp_path, "bundle")
