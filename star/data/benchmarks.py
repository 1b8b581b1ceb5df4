"""Zero-shot benchmarks: a class list, a seen/unseen class split, a train/test sample protocol and
a validation protocol that never touches test clips or unseen-class clips.

``get_benchmark(name)`` is cheap (class names ship in ``assets/classes/``); data is read only by
``Benchmark.load_bank`` / ``load_splits`` from a data folder of clip banks:

* ``pool42-*``: ``nwucla.npz``, ``msr3d.npz``, ``gtu3d.npz`` (the shared real data), pooled.
* ``ntu60-*``: ``ntu60.npz``; ``ntu120-*``: ``ntu120.npz`` (``star prepare-ntu``).
* ``pku-*``: ``pku.npz`` (``star prepare-pku``).
* ``purls-nwucla-*`` / ``purls-utdmhad-*``: ``nwucla.npz`` / ``utdmhad.npz``, the zero-shot class splits that
  PURLS (CVPR 2024) published, under its protocol (``BY_CLASS``: every clip of a seen class trains, every clip
  of an unseen class is a ZSL test clip); ``...-gzsl`` the same class split under the dataset's own
  cross-view / cross-subject sample protocol, for GZSL.

The data folder is the ``data_dir`` argument, else ``$STAR_DATA_DIR``, else ``<repo>/../shared/data``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from star.data.clipbank import ClipBank
from star.data.protocols import TEST, TRAIN, UNUSED, every_third_per_class, sample_roles
from star.data.splits import pseudo_unseen_classes, random_unseen_classes, stratified_split
from star.paths import CLASSES_DIR as CLASS_LIST_DIR
from star.paths import data_dir as default_data_dir  # $STAR_DATA_DIR, else <repo>/../shared/data


@lru_cache(maxsize=None)
def class_list(name: str) -> tuple[str, ...]:
    """Class names, in label order, from ``assets/classes/<name>.txt`` (pool42, ntu120, pkummd)."""
    path = CLASS_LIST_DIR / f"{name}.txt"
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return tuple(line for line in lines if line)


# The sample protocol of zero-shot splits without a train/test split of the clips (PURLS's, leave-one-dataset-out):
# every clip of a seen class trains, every clip of an unseen class is a test clip.
BY_CLASS = "by-class"


@dataclass(frozen=True)
class Component:
    """One clip-bank file of a benchmark: its file name, sample protocol and (pooled) id prefix.

    holdout: how ``protocol_fold`` holds out part of this source's training clips for validation when the
    protocol does not say (``BY_CLASS``): ``view``, ``subject`` or ``index`` (every third clip per class);
    ``None``: the protocol's own rule (``VALIDATION_GROUPS``).
    """

    file: str
    protocol: str
    prefix: str | None = None
    holdout: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """A zero-shot benchmark.

    name: e.g. ``pool42-32/10``, ``ntu60-xsub-55/5``.
    class_names: list[str] of C names in label order (the benchmark's label space).
    unseen_classes / seen_classes: sorted lists of label indices; together they are 0..C-1.
    description_set: which part-description file applies: 'pool42', 'ntu120' or 'pkummd'.
    components: the clip-bank files, pooled in order (labels shifted by the classes before them).
    merge_names: classes of two sources with the same name are one class (``class_names`` lists each name once,
        at its first place); otherwise each source keeps its own labels.
    """

    name: str
    _class_names: tuple[str, ...]
    _unseen: tuple[int, ...]
    description_set: str
    components: tuple[Component, ...]
    description: str = ""
    merge_names: bool = False

    @property
    def class_names(self) -> list[str]:
        return list(self._class_names)

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    @property
    def unseen_classes(self) -> list[int]:
        return list(self._unseen)

    @property
    def seen_classes(self) -> list[int]:
        unseen = set(self._unseen)
        return [c for c in range(self.num_classes) if c not in unseen]

    # ------------------------------------------------------------------ data
    def load_bank(self, data_dir: str | os.PathLike | None = None) -> ClipBank:
        """All clips of the benchmark in its label space, with a ``role`` extra per clip.

        Returns a ``ClipBank`` whose labels index ``class_names`` and whose ``extras['role']`` is
        (N,) int64: 0 train, 1 test, -1 unused under the benchmark's sample protocol. Pooled banks
        prefix sample ids with the source (``nwucla/a01_s01_e00_v01``). Raises FileNotFoundError
        (saying how to make the file) or ``SkeletonFormatError`` for a bad file.
        """
        folder = default_data_dir(data_dir)
        banks, roles = [], []
        for comp in self.components:
            path = folder / comp.file
            if not path.is_file():
                raise FileNotFoundError(f"{path}: clip bank for benchmark {self.name} not found; "
                                        f"{_how_to_make(comp.file)}")
            bank = ClipBank.load(path)
            # BY_CLASS roles depend on the labels in the benchmark's label space: set after pooling
            roles.append(np.full(len(bank), UNUSED, np.int64) if comp.protocol == BY_CLASS
                         else sample_roles(bank, comp.protocol))
            banks.append(bank)
        names = [c for b in banks for c in b.class_names]
        if (list(dict.fromkeys(names)) if self.merge_names else names) != self.class_names:
            raise ValueError(f"{folder}: the banks' class lists do not match benchmark {self.name} "
                             f"(expected {self.num_classes} classes starting {self.class_names[:3]}, "
                             f"found {len(names)} starting {names[:3]})")
        prefixes = [c.prefix or "" for c in self.components]
        if len(banks) > 1:
            bank = ClipBank.concat(banks, prefixes, path=", ".join(str(folder / c.file) for c in self.components))
        else:
            bank = banks[0]
        if self.merge_names:
            bank = bank.with_labels(np.array([self.class_names.index(n) for n in names])[bank.label], self.class_names)
        role = np.concatenate(roles)
        by_class = np.concatenate([np.full(len(b), c.protocol == BY_CLASS) for b, c in zip(banks, self.components)])
        role[by_class] = np.where(np.isin(bank.label[by_class], self.unseen_classes), TEST, TRAIN)
        bank.extras["role"] = role
        return bank

    def train_indices(self, bank: ClipBank) -> np.ndarray:
        """Positions in ``load_bank``'s bank of training-protocol clips of SEEN classes (sorted int64)."""
        return np.flatnonzero((bank.extras["role"] == TRAIN) & np.isin(bank.label, self.seen_classes))

    def test_indices(self, bank: ClipBank) -> np.ndarray:
        """Positions of test-protocol clips of ALL classes, seen and unseen (sorted int64)."""
        return np.flatnonzero(bank.extras["role"] == TEST)

    def load_splits(self, data_dir: str | os.PathLike | None = None) -> dict[str, ClipBank]:
        """``{'train': ..., 'test': ...}``, both ``ClipBank`` in the benchmark's label space.

        train: training-protocol clips of the seen classes only (no unseen-class clip, ever).
        test: test-protocol clips of all classes. ZSL evaluates the unseen-class ones among unseen
        classes; GZSL evaluates all of them among all classes.
        """
        bank = self.load_bank(data_dir)
        return {"train": bank.subset(self.train_indices(bank)), "test": bank.subset(self.test_indices(bank))}

    # ------------------------------------------------------------------ validation protocol
    def _seen_training(self, train: ClipBank) -> np.ndarray:
        ok = np.isin(train.label, self.seen_classes)
        if "role" in train.extras:
            ok &= train.extras["role"] == TRAIN
        return np.flatnonzero(ok)

    def validation_split(self, train: ClipBank, seed: int = 0,
                         val_fraction: float = 0.2) -> tuple[ClipBank, ClipBank]:
        """Split seen-class training clips into (train_part, val_part), stratified per class.

        Only clips of seen classes (and, when ``train`` has a ``role`` key, of the training
        protocol) are used, so passing ``load_bank``'s full bank is also safe. Per class,
        ``round(n * val_fraction)`` clips (>= 1 when n >= 2) go to val, drawn with ``default_rng(seed)``.
        """
        pool = self._seen_training(train)
        kept, held = stratified_split(train.label[pool], val_fraction, seed)
        return train.subset(pool[kept]), train.subset(pool[held])

    def pseudo_unseen_split(self, seed: int = 0, fraction: float = 0.25) -> tuple[list[int], list[int]]:
        """(pseudo_seen, pseudo_unseen): a seeded share ``fraction`` of the SEEN classes held out.

        Both are sorted label indices; their union is ``seen_classes``; no true unseen class appears.
        """
        return pseudo_unseen_classes(self.seen_classes, fraction, seed)

    def pseudo_unseen_fold(self, train: ClipBank, seed: int = 0, fraction: float = 0.25,
                           val_fraction: float = 0.2, protocol: str = "clips") -> dict:
        """A GZSL rehearsal built from seen-class training clips only, for choosing gamma/epochs.

        Returns a dict with ``seen_classes`` / ``unseen_classes`` (the pseudo split, label indices),
        ``train`` (pseudo-seen clips to train on), ``val_seen`` (held-out pseudo-seen clips) and
        ``val_unseen`` (held-out pseudo-unseen clips). Labels stay in the benchmark's label space.

        ``protocol="clips"`` (the original fold): ``pseudo_unseen_split`` over all seen classes,
        ``val_fraction`` of each pseudo-seen class's clips held out (stratified), ``val_unseen`` = all
        clips of the pseudo-unseen classes. ``protocol="protocol"``: see ``protocol_fold``.
        """
        if protocol == "protocol":
            return self.protocol_fold(train, seed, fraction, val_fraction)
        if protocol != "clips":
            raise ValueError(f"unknown validation protocol {protocol!r} (clips | protocol)")
        p_seen, p_unseen = self.pseudo_unseen_split(seed, fraction)
        pool = self._seen_training(train)
        is_seen = np.isin(train.label[pool], p_seen)
        seen_pool, unseen_pool = pool[is_seen], pool[~is_seen]
        kept, held = stratified_split(train.label[seen_pool], val_fraction, seed)
        return {
            "seen_classes": p_seen, "unseen_classes": p_unseen,
            "train": train.subset(seen_pool[kept]), "val_seen": train.subset(seen_pool[held]),
            "val_unseen": train.subset(unseen_pool),
        }


    def component_of(self, bank: ClipBank) -> np.ndarray:
        """(N,) index into ``components`` of each clip: by sample-id prefix (``nwucla/...``) in a pooled bank,
        0 everywhere for a one-file benchmark."""
        if len(self.components) == 1:
            return np.zeros(len(bank), np.int64)
        out = np.full(len(bank), -1, np.int64)
        for i, comp in enumerate(self.components):
            out[np.char.startswith(bank.sample_id.astype(str), f"{comp.prefix}/")] = i
        if np.any(out < 0):
            raise ValueError(f"{bank.path}: clips without a known source prefix "
                             f"({', '.join(c.prefix for c in self.components)}) in a pooled {self.name} bank")
        return out

    def protocol_fold(self, train: ClipBank, seed: int = 0, fraction: float = 0.25, val_fraction: float = 0.2) -> dict:
        """The pseudo-unseen fold that follows each source's own test protocol inside its training data.

        Per source (component, in order), with one ``default_rng(seed)`` drawn in this order:

        1. pseudo-unseen classes: ``round(fraction * n)`` of the source's n seen classes that have training
           clips (>= 1 when n >= 2, never all), drawn with ``rng.choice`` from the sorted list;
        2. held-out part of its training clips, by the source's protocol (``VALIDATION_GROUPS``): ``view``
           / ``subject`` / ``setup`` protocols hold out ``round(val_fraction * g)`` (>= 1, < g) of the g
           training groups (NW-UCLA: one of views 1, 2; MSR: some odd subjects), drawn with ``rng.choice``
           from the sorted groups; ``index`` (GTU3D, no subject ids) applies the every-third rule again inside
           the training clips (per class in sample-id order, position i % 3 == 2 held out); any other
           protocol holds out ``val_fraction`` of each class's clips (``stratified_split``, seed ``seed``).

        ``train``: pseudo-seen clips outside the held-out part; ``val_seen`` / ``val_unseen``: pseudo-seen /
        pseudo-unseen clips inside it (as test clips are all from the test views / subjects). Pseudo-unseen
        clips outside the held-out part are used by nobody. ``held_out`` records, per source prefix, the rule
        and the held-out groups. Only seen-class training-protocol clips are ever used.
        """
        pool = self._seen_training(train)
        comp = self.component_of(train)[pool]
        labels = train.label[pool]
        rng = np.random.default_rng(seed)
        p_unseen: list[int] = []
        held = np.zeros(len(pool), bool)
        held_out: dict[str, dict] = {}
        for i, c in enumerate(self.components):
            mine = comp == i
            if not mine.any():
                continue
            classes = sorted(int(x) for x in np.unique(labels[mine]))
            n = len(classes)
            k = min(max(int(round(fraction * n)), 1 if n >= 2 else 0), max(n - 1, 0))
            p_unseen += sorted(int(x) for x in rng.choice(classes, k, replace=False)) if k else []
            rule = c.holdout or VALIDATION_GROUPS.get(c.protocol)
            idx = np.flatnonzero(mine)
            if rule in ("view", "subject", "setup"):
                values = train.view if rule == "view" else train.subject if rule == "subject" else train.extras[rule]
                values = np.asarray(values)[pool[idx]]
                groups = sorted(int(g) for g in np.unique(values))
                g = len(groups)
                n_hold = min(max(int(round(val_fraction * g)), 1), g - 1) if g >= 2 else 0
                chosen = sorted(int(x) for x in rng.choice(groups, n_hold, replace=False)) if n_hold else []
                held[idx[np.isin(values, chosen)]] = True
                held_out[c.prefix or c.file] = {"rule": rule, "groups": chosen}
            elif rule == "index":
                sub = train.subset(pool[idx])
                held[idx[every_third_per_class(sub) == TEST]] = True
                held_out[c.prefix or c.file] = {"rule": "every third clip per class", "groups": []}
            else:
                _, h = stratified_split(labels[idx], val_fraction, seed)
                held[idx[h]] = True
                held_out[c.prefix or c.file] = {"rule": f"{val_fraction:g} of each class's clips", "groups": []}
        p_unseen = sorted(p_unseen)
        p_seen = [c for c in self.seen_classes if c not in set(p_unseen)]
        is_unseen = np.isin(labels, p_unseen)
        return {
            "seen_classes": p_seen, "unseen_classes": p_unseen,
            "train": train.subset(pool[~held & ~is_unseen]), "val_seen": train.subset(pool[held & ~is_unseen]),
            "val_unseen": train.subset(pool[held & is_unseen]), "held_out": held_out,
        }


# How ``Benchmark.protocol_fold`` holds out part of a source's training data, by its sample protocol.
VALIDATION_GROUPS = {
    "nwucla-xview": "view", "msr-xsub": "subject", "utdmhad-xsub": "subject", "gtu-thirds": "index",
    "ntu60-xsub": "subject", "ntu120-xsub": "subject", "ntu60-xview": "view", "ntu120-xset": "setup",
}


def _how_to_make(file: str) -> str:
    if file.startswith("ntu"):
        return "make it with `star prepare-ntu RAW_DIR OUT_DIR` and pass OUT_DIR as the data folder"
    if file.startswith("pku"):
        return "make it with `star prepare-pku RAW_DIR OUT_DIR` and pass OUT_DIR as the data folder"
    return "point data_dir (or $STAR_DATA_DIR) at the folder with the shared clip banks"


# ---------------------------------------------------------------------- registry
POOL42_COMPONENTS = (
    Component("nwucla.npz", "nwucla-xview", "nwucla"),
    Component("msr3d.npz", "msr-xsub", "msr3d"),
    Component("gtu3d.npz", "gtu-thirds", "gtu3d"),
)
POOL42_32_10_UNSEEN = (1, 7, 11, 13, 17, 24, 27, 35, 37, 41)
UTDMHAD_COMPONENT = Component("utdmhad.npz", "utdmhad-xsub", "utdmhad")
POOL69_COMPONENTS = (*POOL42_COMPONENTS, UTDMHAD_COMPONENT)
POOL69_DESCRIPTIONS = "pool42+utdmhad"  # MSR Action3D's and UTD-MHAD's "tennis serve" read pool42.yaml's sentences
SOURCE_CLASSES = {"nwucla": 10, "msr3d": 20, "gtu3d": 12, "utdmhad": 27}  # classes per source, in pooled order

# Standard zero-shot class splits (0-based label indices), from the authors' public code.
NTU60_SPLITS = {"55/5": (10, 11, 19, 26, 56), "48/12": (3, 5, 9, 12, 15, 40, 42, 47, 51, 56, 58, 59)}
NTU120_SPLITS = {
    "110/10": (4, 13, 37, 43, 49, 65, 88, 95, 99, 106),
    "96/24": (5, 9, 11, 16, 18, 20, 22, 29, 35, 39, 45, 49, 59, 68, 70, 81, 84, 87, 93, 94, 104, 113,
              114, 119),
}
PKU_SPLITS = {"46/5": (1, 9, 20, 34, 50), "39/12": (3, 7, 11, 15, 19, 21, 25, 31, 33, 36, 43, 48)}
# The zero-shot class splits PURLS (Zhu et al., CVPR 2024) published for the small datasets: unseen class indices
# into the banks' class lists, in its split files' order (../shared/data/protocols/purls_small.json, which also
# holds its published accuracies; tests/test_benchmarks.py checks these against it).
PURLS_SPLITS = {
    "nwucla": {"8/2": (1, 4), "5/5": (1, 3, 4, 6, 8)},
    "utdmhad": {"22/5": (24, 14, 4, 23, 17), "18/9": (0, 3, 7, 16, 6, 18, 11, 13, 1),
                "14/13": (12, 8, 24, 23, 0, 13, 10, 21, 20, 1, 6, 19, 9)},
}
# per PURLS dataset: (bank file, description set, its own sample protocol: the GZSL twins' clips, and the rule that
# holds out validation clips under BY_CLASS)
PURLS_DATASETS = {"nwucla": ("nwucla.npz", "pool42", "nwucla-xview"),
                  "utdmhad": ("utdmhad.npz", "utdmhad", "utdmhad-xsub")}
PURLS_TITLES = {"nwucla": "NW-UCLA", "utdmhad": "UTD-MHAD"}


def _build_registry() -> dict[str, Benchmark]:
    reg: dict[str, Benchmark] = {}

    def add(name, classes, unseen, desc_set, components, text, merge_names=False):
        reg[name] = Benchmark(name, tuple(classes), tuple(sorted(unseen)), desc_set, components, text, merge_names)

    pool = class_list("pool42")
    add("pool42-32/10", pool, POOL42_32_10_UNSEEN, "pool42", POOL42_COMPONENTS,
        "NW-UCLA + MSR Action3D + GTU3D pooled (42 classes), hand-picked 10 unseen")
    for seed in range(5):  # pool42-r0 ... pool42-r4
        add(f"pool42-r{seed}", pool, random_unseen_classes(42, 10, seed), "pool42", POOL42_COMPONENTS,
            f"pool42 with 10 unseen classes drawn by default_rng({seed})")
    ntu120, pku = class_list("ntu120"), class_list("pkummd")
    families = [
        ("ntu60", ntu120[:60], NTU60_SPLITS, ("xsub", "xview"), "ntu120", "ntu60.npz", "NTU RGB+D 60"),
        ("ntu120", ntu120, NTU120_SPLITS, ("xsub", "xset"), "ntu120", "ntu120.npz", "NTU RGB+D 120"),
        ("pku", pku, PKU_SPLITS, ("xsub", "xview"), "pkummd", "pku.npz", "PKU-MMD"),
    ]
    for family, classes, splits, protocols, desc_set, file, title in families:
        for protocol in protocols:
            comp = (Component(file, f"{family}-{protocol}"),)
            for split, unseen in splits.items():
                add(f"{family}-{protocol}-{split}", classes, unseen, desc_set, comp,
                    f"{title} {protocol}, {split} seen/unseen classes")
    # pool69 = pool42 + UTD-MHAD (69 source classes, 68 names: MSR Action3D's and UTD-MHAD's "tennis serve" are one
    # class). pool69-all: every class seen, each source's own train/test clips (the open-vocabulary model's data).
    pool69 = list(pool) + list(class_list("utdmhad"))
    add("pool69-all", list(dict.fromkeys(pool69)), (), POOL69_DESCRIPTIONS, POOL69_COMPONENTS,
        "NW-UCLA + MSR Action3D + GTU3D + UTD-MHAD pooled, every class seen (68 distinct names), each source's own "
        "train/test clips", merge_names=True)
    # leave one dataset out: three sources' every clip trains, the fourth source's every clip is a ZSL test clip,
    # ranked among its own class names (69 labels: a held-out class keeps its label even where a training source
    # has a class of the same name)
    # each source holds out validation clips by its own sample protocol's rule
    lodo = tuple(Component(c.file, BY_CLASS, c.prefix, holdout=VALIDATION_GROUPS[c.protocol])
                 for c in POOL69_COMPONENTS)
    start = 0
    for comp in POOL69_COMPONENTS:
        n = SOURCE_CLASSES[comp.prefix]
        add(f"lodo-{comp.prefix}", pool69, range(start, start + n), POOL69_DESCRIPTIONS, lodo,
            f"pool69 with {comp.prefix} held out: the other three sources train, every {comp.prefix} clip is a "
            "test clip")
        start += n
    for dataset, splits in PURLS_SPLITS.items():
        file, desc_set, protocol = PURLS_DATASETS[dataset]
        holdout = VALIDATION_GROUPS[protocol]
        # NW-UCLA's classes lead pool42's list
        classes = pool[:SOURCE_CLASSES["nwucla"]] if dataset == "nwucla" else class_list(dataset)
        title = PURLS_TITLES[dataset]
        for split, unseen in splits.items():
            add(f"purls-{dataset}-{split}", classes, unseen, desc_set, (Component(file, BY_CLASS, holdout=holdout),),
                f"{title} {split} (PURLS's class split and protocol: all seen-class clips train, all unseen-class "
                f"clips test)")
            add(f"purls-{dataset}-{split}-gzsl", classes, unseen, desc_set, (Component(file, protocol),),
                f"{title} {split} (PURLS's class split) under the {protocol} sample protocol, for GZSL")
    return reg


_REGISTRY: dict[str, Benchmark] | None = None


def _registry() -> dict[str, Benchmark]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _build_registry()
    return _REGISTRY


def list_benchmarks() -> list[str]:
    """Names of all registered benchmarks, in registration order."""
    return list(_registry())


def get_benchmark(name: str) -> Benchmark:
    """The benchmark called ``name`` (``/`` in a split may also be written ``-`` or ``_``,
    e.g. ``ntu60-xsub-55-5``). Raises ValueError listing the known names."""
    reg = _registry()
    if name in reg:
        return reg[name]
    for known in reg:
        if name in (known.replace("/", "-"), known.replace("/", "_")):
            return reg[known]
    raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(reg)}")
