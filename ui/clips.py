"""The Predict page's clips, without streamlit: built-in samples, clip banks, uploaded files.

``UPLOAD_SUFFIXES`` lists what the upload box accepts: skeleton files (``SKELETON_SUFFIXES``) and videos
(``star.video.VIDEO_SUFFIXES``). ``clip_from_upload`` dispatches on the suffix through ``star.skeleton.load_clip``
(which never unpickles); the page sends videos through ``ui.video`` instead (progress, overlays, cache per hash).
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from star.data.clipbank import is_clip_bank
from star.paths import SAMPLES_DIR, data_dir
from star.skeleton.clip import Clip, SkeletonFormatError
from star.video import VIDEO_SUFFIXES, is_video_path

SKELETON_SUFFIXES = (".skeleton", ".npy", ".npz", ".txt")
UPLOAD_SUFFIXES = SKELETON_SUFFIXES + VIDEO_SUFFIXES
UPLOAD_HELP = ("A skeleton file (NTU .skeleton, NumPy .npy / .npz, PKU-MMD .txt) or a video "
               "(.mp4 .avi .mov .mkv .webm: the pose is extracted)")


def is_video_upload(name: str) -> bool:
    """True for a video file name (its pose is extracted by ``ui.video``)."""
    return is_video_path(Path(name).name)


@dataclass(frozen=True)
class Sample:
    label: str
    path: Path
    index: int | None = None  # clip index inside a clip bank, None for a single-clip file


def clip_banks(root: str | Path | None = None) -> list[Path]:
    """Clip banks (.npz with an 'offsets' key) under ``root``, sorted; none when the folder does not exist.

    ``root`` defaults to the data folder, ``star.paths.data_dir()``: ``$STAR_DATA_DIR``, else ``../shared/data``
    next to the repository (as the README and the library document it)."""
    root = Path(root) if root is not None else data_dir()
    if not root.is_dir():
        return []
    return [p for p in sorted(root.rglob("*.npz")) if is_clip_bank(p)]


BANK_SUFFIXES = (".npz", ".pkl")
BANK_UPLOAD_HELP = ("A clip bank: ours (.npz), a pyskl / mmaction2 3-D NTU annotation pickle (.pkl, read without "
                    "running any code) or CTR-GCN / STAR arrays (NTU60_CS.npz, NTU60_CV.npz, NTU120_CSub.npz, "
                    "NTU120_CSet.npz)")


def bank_label(bank, i: int) -> str:
    """'index: sample id (class)' for clip ``i`` of a bank."""
    return f"{i}: {bank.sample_id[i]} ({bank.class_names[int(bank.label[i])]})"


def bank_from_upload(name: str, data: bytes):
    """An uploaded clip bank, pyskl pickle or CTR-GCN .npz (``star.data.importers.read_any_bank``); errors name the
    upload (``ImportFormatError`` or ``SkeletonFormatError``)."""
    from star.data.importers import ImportFormatError, read_any_bank

    with upload_on_disk(name, data, BANK_SUFFIXES) as path:
        try:
            return read_any_bank(path)
        except ImportFormatError as exc:
            raise ImportFormatError(str(exc).replace(str(path.parent) + "/", "")) from None


def bank_sample_for(source: str, benchmark: str, root: str | Path | None = None) -> Sample | None:
    """The data folder's clip behind a bundle's test clip (``source``: ``prefix/sample id`` for a pooled benchmark,
    the sample id otherwise), as the Predict page's clip-bank choice; None when its bank is not in the folder."""
    from star.data import ClipBank
    from star.data.benchmarks import get_benchmark

    components = get_benchmark(benchmark).components
    prefix, _, sample_id = source.rpartition("/") if "/" in source else ("", "", source)
    comp = next((c for c in components if (c.prefix or "") == prefix), None)
    if comp is None:
        return None
    path = (Path(root) if root is not None else data_dir()) / comp.file
    if not path.is_file():
        return None
    bank = ClipBank.load(path)
    where = np.flatnonzero(bank.sample_id == sample_id)
    return Sample(bank_label(bank, int(where[0])), path, int(where[0])) if len(where) else None


def builtin_samples(samples_dir: str | Path = SAMPLES_DIR) -> list[Sample]:
    """The synthetic demo clips shipped in ``assets/samples/*.skeleton``."""
    return [Sample(p.stem, p) for p in sorted(Path(samples_dir).glob("*.skeleton"))]


def bank_samples(bank_path: str | Path) -> list[Sample]:
    """One Sample per clip of a bank, labelled 'index: sample id (class)'."""
    from star.data import ClipBank

    bank = ClipBank.load(bank_path)
    return [Sample(bank_label(bank, i), Path(bank_path), i) for i in range(len(bank))]


def load_sample(sample: Sample) -> Clip:
    if sample.index is None:
        from star.skeleton import load_clip

        return load_clip(sample.path)
    from star.data import ClipBank

    return ClipBank.load(sample.path).clip(sample.index)


@contextmanager
def upload_on_disk(name: str, data: bytes, suffixes: tuple[str, ...], error=SkeletonFormatError):
    """The uploaded bytes as a file in a temporary folder, under the upload's own name (readers dispatch on the
    suffix); the folder is removed afterwards. A reader error raised inside names the upload, never the temporary
    path. A name not ending in one of ``suffixes`` raises ``error`` first."""
    base = Path(name).name or "upload"
    if Path(base).suffix.lower() not in suffixes:
        raise error(base, None, f"a file ending in {', '.join(suffixes)}", f"'{Path(base).suffix or 'no suffix'}'")
    with tempfile.TemporaryDirectory(prefix="star-upload-") as tmp:
        path = Path(tmp) / base
        path.write_bytes(data)
        try:
            yield path
        except SkeletonFormatError as exc:
            def clean(text):
                return None if text is None else str(text).replace(str(path), base).replace(tmp, "")
            raise type(exc)(base, clean(exc.where), clean(exc.expected), clean(exc.found)) from None


def clip_from_upload(name: str, data: bytes) -> Clip:
    """Read an uploaded skeleton file with ``load_clip`` (never unpickles). Errors name the uploaded file."""
    from star.skeleton import load_clip

    with upload_on_disk(name, data, UPLOAD_SUFFIXES) as path:
        clip = load_clip(path)
    clip.source = path.name
    return clip


def prediction_json(source: str, top: list[dict]) -> str:
    """One clip's ranking as a line of ``star predict --json``: {"source", "top": [{"class", "score"}]}."""
    import json

    return json.dumps({"source": source, "top": [{"class": t["class"], "score": round(float(t["score"]), 6)}
                                                 for t in top]}) + "\n"


def top_classes(zsl_top: list[dict], gzsl_top: list[dict], limit: int = 8) -> list[int]:
    """Class indices of a ZSL then a GZSL top list, without repeats (for the part-match map)."""
    return list(dict.fromkeys(t["index"] for t in list(zsl_top) + list(gzsl_top)))[:limit]


# ----------------------------------------------------------------------------------- open vocabulary
OWN_CLASSES, CUSTOM = "This checkpoint's classes", "Your own list"
POOL69 = "NW-UCLA + MSR Action3D + GTU3D + UTD-MHAD"
VOCABULARY_PRESETS = (OWN_CLASSES, "NTU RGB+D 60", "NTU RGB+D 120", "PKU-MMD", POOL69, CUSTOM)


def vocabulary(preset: str, checkpoint_classes: list[str], custom_text: str = "") -> list[str]:
    """The candidate names of a preset: the checkpoint's own classes, NTU RGB+D 60 (the first 60 of NTU-120's
    list), NTU RGB+D 120, PKU-MMD, the four small datasets here (pool42 + UTD-MHAD, 68 names; ``assets/classes``),
    or one name per line of ``custom_text``; blanks and repeats dropped, order kept."""
    from star.data.benchmarks import class_list

    lists = {OWN_CLASSES: lambda: checkpoint_classes, "NTU RGB+D 60": lambda: class_list("ntu120")[:60],
             "NTU RGB+D 120": lambda: class_list("ntu120"), "PKU-MMD": lambda: class_list("pkummd"),
             POOL69: lambda: class_list("pool42") + class_list("utdmhad"),
             CUSTOM: lambda: custom_text.splitlines()}
    if preset not in lists:
        raise ValueError(f"unknown vocabulary '{preset}' (one of {', '.join(VOCABULARY_PRESETS)})")
    return list(dict.fromkeys(n.strip() for n in lists[preset]() if n.strip()))
