"""PKU-MMD skeleton + label folders -> one clip bank (the work of ``star prepare-pku``).

PKU-MMD ships long videos, not clips. For every video ``<video>.txt`` in the label folder (lines
``label,start,end,confidence``, label 1-based in the 51-class list of ``assets/classes/pkummd.txt``)
the skeleton file ``<video>.txt`` (one frame per line, 150 numbers: 2 bodies x 25 joints x xyz) is
read and every labelled segment, frames ``start`` to ``end`` inclusive (0-based, clipped to the
file), becomes one clip. A body that is all zero within the segment is dropped.

The standard zero-shot splits (46/5, 39/12) use the 51 classes of PKU-MMD phase 1; phase 2 files
have the same formats and can be prepared the same way. Video names ending in -L/-M/-R give the
view (1/2/3). The official split files (``cross-subject.txt``, ``cross-view.txt``: a
"Training videos:" list and a "Validataion videos:" list, comma separated) set the per-clip keys
``split_xsub`` / ``split_xview``: 0 train, 1 test, -1 video not listed (or no split file given).

Folders default to the usual names inside RAW_DIR (PKU_Skeleton_Renew, Skeleton, ...; Train_Label_PKU_final,
Label, ...); split files are searched for in RAW_DIR. Options override each.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np

from star.data.benchmarks import class_list
from star.data.clipbank import ClipBank
from star.data.prepare_ntu import READ_ERRORS, PrepareError, map_with_progress, report_bad
from star.skeleton.clip import Clip

SKELETON_DIRS = ("PKU_Skeleton_Renew", "Skeleton", "skeleton", "skeletons", "Skeletons", "Data", "data")
LABEL_DIRS = ("Train_Label_PKU_final", "Label", "label", "labels", "Labels", "Label_PKUMMD")
SPLIT_PATTERNS = {"xsub": "cross*subject*.txt", "xview": "cross*view*.txt"}
VIEWS = {"L": 1, "M": 2, "R": 3}
SOURCE = "PKU-MMD (Liu et al., 2017), prepared by star prepare-pku"
MAX_SKELETON_BYTES = 500 * 1024 * 1024


def parse_split_file(path: Path) -> tuple[list[str], list[str]]:
    """(training videos, test videos) from an official split file.

    Sections start at a line with "Training videos:" or "Validataion/Validation/Test(ing) videos:";
    video ids are separated by commas or whitespace. Raises ValueError when the file has neither.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    parts = re.split(r"(?im)^\s*(training|validataion|validation|testing|test)\s+videos\s*:", text)
    sections: dict[str, list[str]] = {"train": [], "test": []}
    for head, body in zip(parts[1::2], parts[2::2]):
        key = "train" if head.lower() == "training" else "test"
        sections[key] += [v for v in re.split(r"[,\s]+", body) if v]
    if not sections["train"] and not sections["test"]:
        raise ValueError(f"{path}: expected 'Training videos:' and 'Validataion videos:' lists, found neither")
    both = set(sections["train"]) & set(sections["test"])
    if both:
        raise ValueError(f"{path}: videos listed as both training and test, e.g. {sorted(both)[0]}")
    return sections["train"], sections["test"]


def parse_label_file(path: Path) -> list[tuple[int, int, int]]:
    """(label 1-based, start, end) for each non-blank line ``label,start,end[,confidence]``."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        fields = [f for f in re.split(r"[,\s]+", line.strip()) if f]
        try:
            label, start, end = (int(float(f)) for f in fields[:3])
        except (ValueError, OverflowError):  # too few fields, or text / inf where numbers belong
            raise ValueError(f"{path}, line {n}: expected 'label,start,end,confidence', "
                             f"found {line.strip()[:60]!r}") from None
        out.append((label, start, end))
    return out


def _first_dir(raw: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (raw / name).is_dir():
            return raw / name
    return None


def _read_video(item: tuple[str, str]):
    """(video, frames (M, T, 25, 3) or None, error) for one skeleton file."""
    from star.skeleton.io import read_pku_txt

    video, path = item
    try:
        return video, read_pku_txt(path, max_bytes=MAX_SKELETON_BYTES).frames, None
    except READ_ERRORS as exc:
        return video, None, str(exc)


def cut_segments(video: str, frames: np.ndarray, segments: list[tuple[int, int, int]], num_classes: int,
                 view: int, problems: list[tuple[str, str]]) -> list[Clip]:
    """One ``Clip`` per labelled segment of a video's frames (M, T, 25, 3); bad segments -> ``problems``."""
    clips = []
    total = frames.shape[1]
    for k, (label, start, end) in enumerate(segments):
        where = f"{video} segment {k + 1} (label {label}, frames {start}-{end})"
        if not 1 <= label <= num_classes:
            problems.append((video, f"{where}: label outside 1-{num_classes}"))
            continue
        a, b = max(start, 0), min(end + 1, total)
        if b <= a:
            problems.append((video, f"{where}: no frames inside the {total}-frame skeleton file"))
            continue
        seg = frames[:, a:b]
        seg = seg[np.any(seg != 0, axis=(1, 2, 3))]
        if seg.shape[0] == 0:
            problems.append((video, f"{where}: only zeros"))
            continue
        meta = {"view": view, "subject": -1, "start": a, "end": b - 1}
        clips.append(Clip(seg, source=f"{video}_{k + 1:03d}", label=label - 1, meta=meta))
    return clips


def prepare_pku(raw_dir: str | Path, out_dir: str | Path, skeleton_dir: str | Path | None = None,
                label_dir: str | Path | None = None, xsub_split: str | Path | None = None,
                xview_split: str | Path | None = None, output_name: str = "pku.npz", workers: int = 1) -> Path:
    """Cut every labelled segment of the PKU-MMD videos under ``raw_dir`` into a clip and write the bank
    ``out_dir/output_name``; returns its path. Folders and split files default to the usual names inside
    ``raw_dir``. Progress and problems go to stderr; nothing to write raises :class:`PrepareError`."""
    raw = Path(raw_dir)
    skel_dir = skeleton_dir or _first_dir(raw, SKELETON_DIRS)
    label_dir = label_dir or _first_dir(raw, LABEL_DIRS)
    for what, folder in (("skeleton", skel_dir), ("label", label_dir)):
        if folder is None or not Path(folder).is_dir():
            raise PrepareError(f"no {what} folder found (looked for {folder or 'the usual names'} in {raw}); "
                               f"pass --{what}-dir")
    splits: dict[str, dict[str, int]] = {}
    for key, path in (("xsub", xsub_split), ("xview", xview_split)):
        if path is None:
            found = sorted(raw.rglob(SPLIT_PATTERNS[key])) if raw.is_dir() else []
            path = found[0] if found else None
        if path is None:
            print(f"warning: no {key} split file; every clip gets split_{key} = -1", file=sys.stderr)
            splits[key] = {}
            continue
        try:
            train, test = parse_split_file(Path(path))
        except (OSError, ValueError) as exc:
            raise PrepareError(str(exc)) from exc
        splits[key] = {**{v: 0 for v in train}, **{v: 1 for v in test}}
        print(f"{key} split {path}: {len(train)} training, {len(test)} test videos", file=sys.stderr)

    names = class_list("pkummd")
    problems: list[tuple[str, str]] = []
    segments: dict[str, list[tuple[int, int, int]]] = {}
    items = []
    for label_file in sorted(Path(label_dir).glob("*.txt")):
        video = label_file.stem
        skel = Path(skel_dir) / label_file.name
        if not skel.is_file():
            problems.append((video, f"{skel}: skeleton file missing for label file {label_file}"))
            continue
        try:
            segments[video] = parse_label_file(label_file)
        except ValueError as exc:
            problems.append((video, str(exc)))
            continue
        items.append((video, str(skel)))
    if not items:
        raise PrepareError(f"no label file in {label_dir} with a matching skeleton file in {skel_dir}"
                           + "".join(f"\n  {msg}" for _, msg in problems[:5]))

    clips: list[Clip] = []
    for video, frames, error in map_with_progress(_read_video, items, workers, "reading"):
        if frames is None:
            problems.append((video, error))
            continue
        view = VIEWS.get(video.rsplit("-", 1)[-1].upper(), 0) if "-" in video else 0
        for c in cut_segments(video, frames, segments[video], len(names), view, problems):
            c.meta["split_xsub"] = splits["xsub"].get(video, -1)
            c.meta["split_xview"] = splits["xview"].get(video, -1)
            clips.append(c)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report_bad(problems, out_dir, "prepare-pku-skipped.txt", "video(s) or segment(s) with problems")
    if not clips:
        raise PrepareError("no clip could be cut")
    bank = ClipBank.from_clips(clips, names, SOURCE,
                               extra_keys=("split_xsub", "split_xview", "start", "end"))
    path = bank.save(out_dir / output_name)
    counts = bank.class_counts()
    print(f"wrote {path}: {len(bank)} clips from {len(items)} videos, {int((counts > 0).sum())}/"
          f"{bank.num_classes} classes present, {int((bank.num_bodies == 2).sum())} two-body clips, "
          f"{len(problems)} problem(s) skipped", file=sys.stderr)
    return path
