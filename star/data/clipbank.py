"""The clip bank: many variable-length skeleton clips in one ``.npz`` file.

Layout (shared with ``../shared/data/README.md``; every array, no pickles):

=====================  ======================  ==================================================
key                    shape / dtype           meaning
=====================  ======================  ==================================================
``frames``             (S, 25, 3) float32      all clips' first body, concatenated (S = sum of T)
``offsets``            (N+1,) int64            clip i is ``frames[offsets[i]:offsets[i+1]]``
``label``              (N,) int64              index into ``class_names``
``class_names``        (C,) str                action names
``subject``, ``view``  (N,) int64              performer / camera ids, -1 or 0 where unknown
``sample_id``          (N,) str                the clip's name in its source dataset
``source``             () str                  citation
``synthesized_joints`` (K,) int64              NTU joints the source lacks (filled in geometrically)
``frames_body2``       (S, 25, 3) float32      optional: second body, zeros where there is none
``num_bodies``         (N,) int64              optional: 1 or 2 bodies per clip
any other (N,) key     int64 or str            per-clip metadata (e.g. ``setup``, ``replication``)
=====================  ======================  ==================================================

Banks written by ``star prepare-ntu`` / ``prepare-pku`` carry the two optional body-2 keys; the
shared single-person banks do not.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from star.npzfile import NpzError, load_npz, npz_members
from star.skeleton.clip import NUM_JOINTS, Clip, SkeletonFormatError

REQUIRED_KEYS = ("frames", "offsets", "label", "class_names")
CORE_KEYS = REQUIRED_KEYS + (
    "subject", "view", "sample_id", "source", "synthesized_joints", "frames_body2", "num_bodies",
)
IN_MEMORY = "<in-memory clip bank>"


def _describe(a: np.ndarray) -> str:
    return f"array of shape {a.shape} and dtype {a.dtype}"


def is_clip_bank(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a readable ``.npz`` archive with an ``offsets`` array (a clip bank, not one clip).
    False for anything unreadable: ``ClipBank.load`` / ``load_clip`` then say precisely what is wrong."""
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False
    if not hasattr(data, "files"):  # a plain .npy array
        return False
    with data:
        return "offsets" in data.files


class ClipBank:
    """N skeleton clips of varying length, with labels and per-clip metadata.

    Attributes (all numpy arrays unless said otherwise):
        frames: (S, 25, 3) float32, first body of every clip, concatenated.
        offsets: (N+1,) int64, strictly increasing from 0 to S (every clip has >= 1 frame).
        label: (N,) int64 in [0, C).
        class_names: list[str] of length C.
        subject, view: (N,) int64.
        sample_id: (N,) str.
        source: str.
        synthesized_joints: (K,) int64 joint indices.
        frames_body2: (S, 25, 3) float32 or None (single-person bank).
        num_bodies: (N,) int64 with values 1 or 2.
        extras: dict name -> (N,) int64 or str array (e.g. ``setup``, ``replication``, ``split_xsub``).
    Invalid contents raise ``SkeletonFormatError`` naming the key.
    """

    def __init__(
        self,
        frames: np.ndarray,
        offsets: np.ndarray,
        label: np.ndarray,
        class_names: Sequence[str],
        subject: np.ndarray | None = None,
        view: np.ndarray | None = None,
        sample_id: np.ndarray | Sequence[str] | None = None,
        source: str = "",
        synthesized_joints: np.ndarray | Sequence[int] | None = None,
        frames_body2: np.ndarray | None = None,
        num_bodies: np.ndarray | None = None,
        extras: dict[str, np.ndarray] | None = None,
        path: Any = IN_MEMORY,
        check_values: bool = True,
    ):
        self.path = str(path)
        self._check_values = check_values  # False for banks derived from an already-checked one
        self.frames = self._floats("frames", frames)
        self.offsets = self._ints("offsets", offsets, ndim=1)
        self._check_offsets()
        n = len(self.offsets) - 1
        self.class_names = [str(c) for c in self._strings("class_names", class_names, None)]
        if not self.class_names:
            raise SkeletonFormatError(self.path, "key 'class_names'", "at least one class name", "none")
        self.label = self._ints("label", label, ndim=1, length=n)
        if n and (self.label.min() < 0 or self.label.max() >= len(self.class_names)):
            bad = self.label[(self.label < 0) | (self.label >= len(self.class_names))][0]
            raise SkeletonFormatError(
                self.path, "key 'label'", f"labels in [0, {len(self.class_names)})", f"label {bad}")
        self.subject = self._ints("subject", np.full(n, -1) if subject is None else subject, ndim=1, length=n)
        self.view = self._ints("view", np.full(n, -1) if view is None else view, ndim=1, length=n)
        if sample_id is None:
            sample_id = np.array([f"clip{i}" for i in range(n)])
        self.sample_id = self._strings("sample_id", sample_id, n)
        self.source = str(source)
        sj = np.zeros(0, np.int64) if synthesized_joints is None else synthesized_joints
        self.synthesized_joints = self._ints("synthesized_joints", sj, ndim=1)
        if np.any((self.synthesized_joints < 0) | (self.synthesized_joints >= NUM_JOINTS)):
            raise SkeletonFormatError(self.path, "key 'synthesized_joints'", "joint indices 0-24",
                                      str(self.synthesized_joints.tolist()))
        self._set_bodies(frames_body2, num_bodies, n)
        self.extras: dict[str, np.ndarray] = {}
        for key, values in (extras or {}).items():
            self.extras[key] = self._extra(key, values, n)

    # ---------------------------------------------------------------- validation helpers
    def _error(self, key: str, expected: str, found: str) -> SkeletonFormatError:
        return SkeletonFormatError(self.path, f"key '{key}'", expected, found)

    def _floats(self, key: str, a: Any) -> np.ndarray:
        a = np.asarray(a)
        if a.ndim != 3 or a.shape[1:] != (NUM_JOINTS, 3) or a.dtype.kind not in "fiu":
            raise self._error(key, "a float array of shape (frames, 25, 3)", _describe(a))
        a = a.astype(np.float32, copy=False)
        if self._check_values:
            for start in range(0, len(a), 1 << 20):  # in chunks: no full-size temporary
                ok = np.isfinite(a[start:start + (1 << 20)]).all(axis=(1, 2))
                if not ok.all():
                    row = start + int(np.flatnonzero(~ok)[0])
                    raise self._error(key, "finite coordinates", f"NaN or inf at frame row {row}")
        return a

    def _ints(self, key: str, a: Any, ndim: int, length: int | None = None) -> np.ndarray:
        a = np.asarray(a)
        if a.size == 0 and a.dtype.kind == "f":
            a = a.astype(np.int64)
        if a.ndim != ndim or a.dtype.kind not in "iu" or (length is not None and len(a) != length):
            want = f"an integer array of shape ({length if length is not None else 'K'},)"
            raise self._error(key, want, _describe(a))
        return a.astype(np.int64, copy=False)

    def _strings(self, key: str, a: Any, length: int | None) -> np.ndarray:
        a = np.asarray(a)
        if a.ndim != 1 or a.dtype.kind != "U" or (length is not None and len(a) != length):
            want = f"a string array of shape ({length if length is not None else 'C'},)"
            raise self._error(key, want, _describe(a))
        return a

    def _extra(self, key: str, a: Any, n: int) -> np.ndarray:
        a = np.asarray(a)
        if a.ndim != 1 or len(a) != n or a.dtype.kind not in "iuU":
            raise self._error(key, f"an integer or string array of shape ({n},)", _describe(a))
        return a if a.dtype.kind == "U" else a.astype(np.int64, copy=False)

    def _check_offsets(self) -> None:
        o = self.offsets
        if len(o) < 1 or o[0] != 0:
            raise self._error("offsets", "an array starting at 0", f"{o[:3].tolist()}...")
        steps = np.diff(o)
        if np.any(steps <= 0):
            i = int(np.flatnonzero(steps <= 0)[0])
            raise self._error("offsets", "strictly increasing offsets (every clip has >= 1 frame)",
                              f"offsets[{i}]={o[i]}, offsets[{i + 1}]={o[i + 1]}")
        if o[-1] != len(self.frames):
            raise self._error("offsets", f"last offset equal to the frame count {len(self.frames)}",
                              f"{int(o[-1])}")

    def _set_bodies(self, body2: Any, num_bodies: Any, n: int) -> None:
        self.frames_body2 = None if body2 is None else self._floats("frames_body2", body2)
        if self.frames_body2 is not None and self.frames_body2.shape != self.frames.shape:
            raise self._error("frames_body2", f"the shape of 'frames' {self.frames.shape}",
                              str(self.frames_body2.shape))
        if num_bodies is None:
            if self.frames_body2 is None:
                self.num_bodies = np.ones(n, np.int64)
            else:  # a clip has a second body where any of its body-2 frames is non-zero
                nonzero = np.abs(self.frames_body2).reshape(len(self.frames), -1).max(axis=1) > 0
                counts = np.add.reduceat(nonzero, self.offsets[:-1]) if n else np.zeros(0, np.int64)
                self.num_bodies = np.where(counts > 0, 2, 1).astype(np.int64)
            return
        self.num_bodies = self._ints("num_bodies", num_bodies, ndim=1, length=n)
        if np.any((self.num_bodies < 1) | (self.num_bodies > 2)):
            raise self._error("num_bodies", "values 1 or 2", str(np.unique(self.num_bodies).tolist()))
        if self.frames_body2 is None and np.any(self.num_bodies == 2):
            raise self._error("num_bodies", "only 1s when there is no 'frames_body2' key",
                              "clips with 2 bodies")

    # ---------------------------------------------------------------- file I/O
    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClipBank":
        """Read and validate a clip-bank ``.npz``. Raises ``SkeletonFormatError`` naming the file and key."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such clip-bank file")
        if not zipfile.is_zipfile(path):
            raise SkeletonFormatError(path, None, "a clip-bank .npz archive", "not a zip archive (a single .npy "
                                      "array or another file)")
        try:  # the directory and every member's header checked before any array is allocated (star.npzfile)
            members = npz_members(path)
        except NpzError as exc:
            raise SkeletonFormatError(path, None, "a clip-bank .npz archive", str(exc).replace(f"{path}: ", ""))
        missing = [k for k in REQUIRED_KEYS if k not in members]
        if missing:
            raise SkeletonFormatError(path, f"key '{missing[0]}'", f"keys {list(REQUIRED_KEYS)}",
                                      f"keys {sorted(members)}")
        try:
            arrays = load_npz(path, members=members)
        except NpzError as exc:
            raise SkeletonFormatError(path, None, "readable plain arrays", str(exc).replace(f"{path}: ", ""))
        n = len(np.asarray(arrays["offsets"]).reshape(-1)) - 1
        extras = {k: v for k, v in arrays.items()
                  if k not in CORE_KEYS and v.ndim == 1 and len(v) == n and v.dtype.kind in "iuU"}
        source = arrays.get("source", np.array(""))
        if source.dtype.kind != "U" or source.size > 1:
            raise SkeletonFormatError(path, "key 'source'", "a single string", _describe(source))
        return cls(
            arrays["frames"], arrays["offsets"], arrays["label"], arrays["class_names"],
            subject=arrays.get("subject"), view=arrays.get("view"), sample_id=arrays.get("sample_id"),
            source=str(source.reshape(-1)[0]) if source.size else "",
            synthesized_joints=arrays.get("synthesized_joints"),
            frames_body2=arrays.get("frames_body2"), num_bodies=arrays.get("num_bodies"),
            extras=extras, path=path,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The bank as the dict of arrays written to ``.npz`` (body-2 keys only for two-person banks)."""
        out = {
            "frames": self.frames, "offsets": self.offsets, "label": self.label,
            "class_names": np.array(self.class_names, dtype=str), "subject": self.subject,
            "view": self.view, "sample_id": self.sample_id, "source": np.array(self.source),
            "synthesized_joints": self.synthesized_joints,
        }
        if self.frames_body2 is not None:
            out["frames_body2"] = self.frames_body2
            out["num_bodies"] = self.num_bodies
        out.update(self.extras)
        return out

    def save(self, path: str | os.PathLike, compress: bool = False) -> Path:
        """Write the bank atomically: a temporary file in the same folder, then ``os.replace``.

        A crash mid-write never leaves a half-written file at ``path``. Returns the path written.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                (np.savez_compressed if compress else np.savez)(f, **self.to_arrays())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_clips(
        cls,
        clips: Iterable[Clip],
        class_names: Sequence[str],
        source: str = "",
        synthesized_joints: Sequence[int] = (),
        extra_keys: Sequence[str] = (),
    ) -> "ClipBank":
        """Build a bank from ``Clip`` values (frames (M, T, 25, 3), M <= 2, ``label`` set).

        ``sample_id`` = ``clip.source``; ``subject``/``view`` and every name in ``extra_keys`` come
        from ``clip.meta`` (-1 where missing). A body-2 channel is stored when any clip has 2 bodies.
        """
        clips = list(clips)
        body1, body2, nb = [], [], []
        for i, c in enumerate(clips):
            if c.label is None:
                raise ValueError(f"clip {i} ({c.source!r}) has no label")
            if not 1 <= c.num_bodies <= 2 or c.num_frames < 1:
                raise ValueError(f"clip {i} ({c.source!r}): need 1-2 bodies and >= 1 frame, "
                                 f"got frames of shape {c.frames.shape}")
            body1.append(c.frames[0])
            body2.append(c.frames[1] if c.num_bodies == 2 else np.zeros_like(c.frames[0]))
            nb.append(c.num_bodies)
        lengths = np.array([len(b) for b in body1], np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        empty = np.zeros((0, NUM_JOINTS, 3), np.float32)
        two = any(n == 2 for n in nb)

        def meta(key: str) -> np.ndarray:
            return np.array([int(c.meta.get(key, -1)) for c in clips], np.int64)

        return cls(
            np.concatenate(body1) if body1 else empty, offsets,
            np.array([int(c.label) for c in clips], np.int64), class_names,
            subject=meta("subject"), view=meta("view"),
            sample_id=np.array([str(c.source) for c in clips], dtype=str) if clips else np.zeros(0, "U1"),
            source=source, synthesized_joints=np.asarray(synthesized_joints, np.int64),
            frames_body2=(np.concatenate(body2) if two else None),
            num_bodies=np.array(nb, np.int64) if two else None,
            extras={k: meta(k) for k in extra_keys},
        )

    # ---------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __repr__(self) -> str:
        return (f"ClipBank({len(self)} clips, {len(self.class_names)} classes, {len(self.frames)} frames, "
                f"path={self.path!r})")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def lengths(self) -> np.ndarray:
        """(N,) int64 frame count of every clip."""
        return np.diff(self.offsets)

    def class_counts(self) -> np.ndarray:
        """(C,) int64 number of clips per class."""
        return np.bincount(self.label, minlength=self.num_classes)

    def clip(self, i: int) -> Clip:
        """Clip ``i`` as a ``Clip``: frames (M, T, 25, 3) float32 (a copy), M = ``num_bodies[i]``,
        ``label``, ``source`` = sample_id, ``meta`` with subject, view, class_name, index and extras."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"clip index {i} out of range for a bank of {n} clips")
        i = int(i) % n
        a, b = self.offsets[i], self.offsets[i + 1]
        if self.num_bodies[i] == 2:
            frames = np.stack([self.frames[a:b], self.frames_body2[a:b]])
        else:
            frames = self.frames[a:b][None].copy()
        meta: dict[str, Any] = {
            "subject": int(self.subject[i]), "view": int(self.view[i]),
            "class_name": self.class_names[self.label[i]], "index": i,
        }
        for key, values in self.extras.items():
            meta[key] = str(values[i]) if values.dtype.kind == "U" else int(values[i])
        return Clip(frames, source=str(self.sample_id[i]), label=int(self.label[i]), meta=meta)

    def subset(self, indices: Sequence[int] | np.ndarray) -> "ClipBank":
        """A new bank with clips ``indices`` (ints in the given order, or an (N,) bool mask)."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise ValueError(f"mask of length {len(idx)} for a bank of {len(self)} clips")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64).reshape(-1)
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(f"subset indices out of range for a bank of {len(self)} clips")
        idx = idx % max(len(self), 1)
        lengths = self.lengths()[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        starts = self.offsets[idx]
        rows = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return ClipBank(
            self.frames[rows], offsets, self.label[idx], self.class_names,
            subject=self.subject[idx], view=self.view[idx], sample_id=self.sample_id[idx],
            source=self.source, synthesized_joints=self.synthesized_joints,
            frames_body2=None if self.frames_body2 is None else self.frames_body2[rows],
            num_bodies=self.num_bodies[idx] if self.frames_body2 is not None else None,
            extras={k: v[idx] for k, v in self.extras.items()}, path=self.path, check_values=False,
        )

    @classmethod
    def concat(cls, banks: Sequence["ClipBank"], prefixes: Sequence[str] | None = None,
               path: Any = IN_MEMORY) -> "ClipBank":
        """Pool banks: class lists are concatenated and labels shifted by the classes before them.

        ``prefixes`` (one per bank) are prepended to sample ids as ``prefix/sample_id``. An extra key
        missing from some banks is filled with -1 (or ""); ``synthesized_joints`` is the union.
        """
        if not banks:
            raise ValueError("concat needs at least one bank")
        shifts = np.cumsum([0] + [b.num_classes for b in banks[:-1]])
        two = any(b.frames_body2 is not None for b in banks)
        keys = sorted({k for b in banks for k in b.extras})
        extras = {}
        for k in keys:
            kinds = {b.extras[k].dtype.kind for b in banks if k in b.extras}
            fill = "" if kinds == {"U"} else -1
            extras[k] = np.concatenate([b.extras.get(k, np.full(len(b), fill)) for b in banks])
        ids = [b.sample_id if prefixes is None else np.char.add(f"{prefixes[j]}/", b.sample_id.astype(str))
               for j, b in enumerate(banks)]
        frame_counts = np.cumsum([0] + [len(b.frames) for b in banks[:-1]])
        return cls(
            np.concatenate([b.frames for b in banks]),
            np.concatenate([[0]] + [b.offsets[1:] + s for b, s in zip(banks, frame_counts)]),
            np.concatenate([b.label + s for b, s in zip(banks, shifts)]),
            [c for b in banks for c in b.class_names],
            subject=np.concatenate([b.subject for b in banks]),
            view=np.concatenate([b.view for b in banks]),
            sample_id=np.concatenate(ids),
            source="; ".join(dict.fromkeys(b.source for b in banks if b.source)),
            synthesized_joints=np.unique(np.concatenate([b.synthesized_joints for b in banks])),
            frames_body2=(np.concatenate([b.frames_body2 if b.frames_body2 is not None
                                          else np.zeros_like(b.frames) for b in banks]) if two else None),
            num_bodies=np.concatenate([b.num_bodies for b in banks]) if two else None,
            extras=extras, path=path, check_values=False,
        )

    def with_labels(self, label: np.ndarray, class_names: Sequence[str]) -> "ClipBank":
        """The same clips with a new label array (N,) into a new class list (shares the frame arrays)."""
        return ClipBank(
            self.frames, self.offsets, label, class_names, subject=self.subject, view=self.view,
            sample_id=self.sample_id, source=self.source, synthesized_joints=self.synthesized_joints,
            frames_body2=self.frames_body2,
            num_bodies=self.num_bodies if self.frames_body2 is not None else None,
            extras=dict(self.extras), path=self.path, check_values=False,
        )
