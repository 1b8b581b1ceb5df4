"""``star.checkpoint_archive``: an uploaded checkpoint .zip is size-limited, checked member by member, unpacked
under fixed names only, validated, and every failure is a ``CheckpointError`` that names no server path."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from star.checkpoint import BUNDLE, SIDECAR, WEIGHTS, CheckpointError, list_checkpoints, load_checkpoint
from star.checkpoint_archive import unpack_checkpoint_zip

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
    many = make_zip([(f"__MACOSX/{i}", b"") for i in range(20)] + [(n, d) for n, d in files.items()])
    refused(many, tmp_path, "at most 16")
    # the defaults accept the real checkpoint
    assert unpack_checkpoint_zip(data, tmp_path).is_dir()


def test_a_member_that_unpacks_to_more_than_it_declares_is_stopped(tmp_path):
    """A zip bomb lying in its directory: the declared sizes pass the limit, the data does not get written."""
    big = b"\0" * (4 * 2**20)
    data = bytearray(make_zip([(SIDECAR, b"{}"), (WEIGHTS, big), (BUNDLE, b"x")]))
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # declare 10 bytes for every member
        struct.pack_into("<I", data, pos + 24, 10)
        pos += 4
    refused(bytes(data), tmp_path, "more than it declares|not a readable zip")


def test_corrupt_archives(files, tmp_path):
    assert "not a readable zip archive" in refused(b"this is not a zip file", tmp_path, "not a readable zip")
    good = checkpoint_zip(files)
    refused(good[: len(good) // 2], tmp_path, "not a readable zip")  # truncated: no central directory
    stored = bytearray(checkpoint_zip(files, method=zipfile.ZIP_STORED))
    i = stored.index(files[WEIGHTS][-64:])
    stored[i] ^= 0xFF  # flip one byte of the weights: a bad CRC
    refused(bytes(stored), tmp_path, "not a readable zip")


def test_a_readable_zip_with_a_broken_checkpoint_says_which_file(files, tmp_path):
    bad_json = dict(files, **{SIDECAR: b"{not json"})
    assert "upload.zip/model.json: not valid JSON" in refused(checkpoint_zip(bad_json), tmp_path, "JSON")
    bad_weights = dict(files, **{WEIGHTS: b"\0" * 100})
    refused(checkpoint_zip(bad_weights), tmp_path, "safetensors")
    pickled = dict(files, **{BUNDLE: b"\x80\x04K\x01."})  # a pickle, not an npz: never unpickled
    refused(checkpoint_zip(pickled), tmp_path, "bundle")
