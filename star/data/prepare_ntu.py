"""Official NTU RGB+D ``.skeleton`` folders -> clip banks (the work of ``star prepare-ntu``).

Walks RAW_DIR (recursively) for ``SsssCcccPpppRrrrAaaa.skeleton`` files, skips the samples listed in
the official missing-skeleton list, reads each file with ``star.skeleton.io.read_ntu_skeleton``
(denoised, at most 2 bodies; unreadable files are reported and skipped) and writes

* ``OUT_DIR/ntu60.npz``: actions 1-60 (the NTU RGB+D 60 classes), and
* ``OUT_DIR/ntu120.npz``: actions 1-120,

with label = action - 1, subject = performer, view = camera, and per-clip keys ``setup`` and
``replication``; two-body clips use the bank's ``frames_body2`` / ``num_bodies`` keys.
Memory: the whole NTU-120 bank is held in memory while writing (about 2 x 3 GB).
"""

from __future__ import annotations

import os
import re
import sys
from multiprocessing import Pool
from pathlib import Path
from typing import Callable, Iterator, Sequence

from star.data.benchmarks import class_list
from star.data.clipbank import ClipBank
from star.skeleton.clip import Clip, SkeletonFormatError

SAMPLE_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")
FILE_RE = re.compile(r"^" + SAMPLE_RE.pattern + r"\.skeleton$")
SOURCE = "NTU RGB+D 60/120 (Shahroudy et al., CVPR 2016; Liu et al., TPAMI 2020), prepared by star prepare-ntu"
READ_ERRORS = (SkeletonFormatError, OSError, UnicodeDecodeError, ValueError)


def parse_sample_name(name: str) -> dict[str, int] | None:
    """``S001C002P003R004A005`` -> {'setup': 1, 'camera': 2, 'performer': 3, 'replication': 4,
    'action': 5}; None when ``name`` (file name or stem) is not an NTU sample name."""
    m = FILE_RE.match(name) or re.fullmatch(SAMPLE_RE, name)
    if m is None:
        return None
    keys = ("setup", "camera", "performer", "replication", "action")
    return dict(zip(keys, (int(g) for g in m.groups())))


def read_missing_list(path: Path) -> set[str]:
    """Sample names in a missing-skeleton list (one per line; other text such as headers ignored)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    return {m.group(0) for m in SAMPLE_RE.finditer(text)}


def find_skeleton_files(raw_dir: Path) -> tuple[list[Path], list[Path]]:
    """(unique sample files sorted by name, duplicates skipped) under ``raw_dir``."""
    seen: dict[str, Path] = {}
    duplicates: list[Path] = []
    for root, dirs, files in os.walk(raw_dir):
        dirs.sort()
        for f in sorted(files):
            if FILE_RE.match(f):
                if f in seen:
                    duplicates.append(Path(root) / f)
                else:
                    seen[f] = Path(root) / f
    return [seen[k] for k in sorted(seen)], duplicates


def _read_ntu(path: str):
    from star.skeleton.io import read_ntu_skeleton

    try:
        return path, read_ntu_skeleton(path).frames, None
    except READ_ERRORS as exc:
        return path, None, str(exc)


def map_with_progress(func: Callable, items: Sequence, workers: int, desc: str) -> Iterator:
    """``func`` over ``items`` in order, in ``workers`` processes (1 = in this process), with tqdm."""
    from tqdm import tqdm

    bar = tqdm(total=len(items), desc=desc, unit="file", file=sys.stderr, disable=None)
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield func(item)
                bar.update()
        else:
            with Pool(min(workers, len(items))) as pool:
                for result in pool.imap(func, items, chunksize=max(1, min(64, len(items) // (4 * workers)))):
                    yield result
                    bar.update()
    finally:
        bar.close()


def report_bad(bad: list[tuple[str, str]], out_dir: Path, log_name: str, what: str = "unreadable file(s)") -> None:
    """Print the skipped items (first 5) and write all of them to ``out_dir/log_name``."""
    if not bad:
        return
    print(f"skipped {len(bad)} {what}:", file=sys.stderr)
    for path, msg in bad[:5]:
        print(f"  {msg}", file=sys.stderr)
    if len(bad) > 5:
        print(f"  ... and {len(bad) - 5} more", file=sys.stderr)
    log = out_dir / log_name
    log.write_text("".join(f"{p}\t{m}\n" for p, m in bad), encoding="utf-8")
    print(f"the full list is in {log}", file=sys.stderr)


class PrepareError(Exception):
    """Raw data that cannot be turned into a clip bank (nothing found, nothing readable)."""


def build_bank(clips: Sequence[Clip], num_classes: int) -> ClipBank:
    """The bank of the clips with label < ``num_classes`` (60 or 120), meta setup/replication kept."""
    names = class_list("ntu120")[:num_classes]
    chosen = [c for c in clips if c.label < num_classes]
    return ClipBank.from_clips(chosen, names, SOURCE, extra_keys=("setup", "replication"))


def prepare_ntu(raw_dir: str | Path, out_dir: str | Path, missing_path: str | Path | None = None,
                workers: int = 1) -> list[Path]:
    """Read every NTU ``.skeleton`` file under ``raw_dir`` and write ``ntu120.npz`` and ``ntu60.npz`` to
    ``out_dir``; returns the written banks. Progress and skipped files go to stderr; a problem that leaves
    nothing to write raises :class:`PrepareError`. ``missing_path``: the official missing-skeleton list
    (default: such a file in ``raw_dir``, if any)."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise PrepareError(f"{raw_dir}: not a folder")
    if missing_path is None:
        found = sorted(raw_dir.glob("*missing_skeletons*.txt"))
        missing_path = found[0] if found else None
    elif not Path(missing_path).is_file():
        raise PrepareError(f"{missing_path}: missing-skeleton list not found")
    missing = read_missing_list(Path(missing_path)) if missing_path else set()

    files, duplicates = find_skeleton_files(raw_dir)
    for d in duplicates:
        print(f"warning: {d}: duplicate sample name, using the first copy", file=sys.stderr)
    todo = [f for f in files if f.name[:-len(".skeleton")] not in missing]
    skipped_missing = len(files) - len(todo)
    print(f"found {len(files)} .skeleton files in {raw_dir}; {skipped_missing} listed as missing "
          f"skeletons{f' in {missing_path}' if missing_path else ''} are skipped", file=sys.stderr)
    if not todo:
        raise PrepareError(f"no NTU .skeleton files (SsssCcccPpppRrrrAaaa.skeleton) to read in {raw_dir}")

    out_dir.mkdir(parents=True, exist_ok=True)
    clips, bad = [], []
    for path, frames, error in map_with_progress(_read_ntu, [str(f) for f in todo], workers, "reading"):
        if frames is None:
            bad.append((path, error))
            continue
        name = Path(path).name[:-len(".skeleton")]
        info = parse_sample_name(name)
        if not 1 <= info["action"] <= 120:
            bad.append((path, f"{path}: action {info['action']} outside 1-120"))
            continue
        meta = {"subject": info["performer"], "view": info["camera"], "setup": info["setup"],
                "replication": info["replication"]}
        clips.append(Clip(frames, source=name, label=info["action"] - 1, meta=meta))
    report_bad(bad, out_dir, "prepare-ntu-skipped.txt")
    if not clips:
        raise PrepareError("no file could be read")
    written = []
    for num_classes in (120, 60):  # one bank in memory at a time
        bank = build_bank(clips, num_classes)
        if len(bank) == 0:
            print(f"ntu{num_classes}: no clips, not written", file=sys.stderr)
            continue
        path = bank.save(out_dir / f"ntu{num_classes}.npz")
        written.append(path)
        counts = bank.class_counts()
        print(f"wrote {path}: {len(bank)} clips, {int((counts > 0).sum())}/{bank.num_classes} classes "
              f"present, {int((bank.num_bodies == 2).sum())} two-body clips", file=sys.stderr)
        del bank
    print(f"done: {len(clips)} clips, {len(bad)} unreadable, {skipped_missing} missing-skeleton samples "
          f"skipped", file=sys.stderr)
    return written
