"""Train/test sample protocols: which clips of a bank are for training and which for testing.

Each protocol maps a ``ClipBank`` to an (N,) int64 *role* array: ``TRAIN`` (0), ``TEST`` (1) or
``UNUSED`` (-1, a clip the protocol does not place, e.g. a PKU-MMD video absent from the split file).
Class splits (seen/unseen) are separate: see ``star.data.benchmarks``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from star.data.clipbank import ClipBank

TRAIN, TEST, UNUSED = 0, 1, -1

# NTU RGB+D 60 cross-subject: the 20 training performers (official protocol).
NTU60_XSUB_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
# NTU RGB+D 120 cross-subject: the 53 training performers (official protocol).
NTU120_XSUB_TRAIN_SUBJECTS = NTU60_XSUB_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91,
    92, 93, 94, 95, 97, 98, 100, 103,
)
NTU_XVIEW_TRAIN_CAMERAS = (2, 3)


def _by_mask(is_test: np.ndarray) -> np.ndarray:
    return np.where(is_test, TEST, TRAIN).astype(np.int64)


def nwucla_cross_view(bank: ClipBank) -> np.ndarray:
    """NW-UCLA: views 1 and 2 train, view 3 test (other views unused)."""
    role = np.full(len(bank), UNUSED, np.int64)
    role[np.isin(bank.view, (1, 2))] = TRAIN
    role[bank.view == 3] = TEST
    return role


def odd_subjects_train(bank: ClipBank) -> np.ndarray:
    """Odd subjects train, even subjects test (unknown subjects <= 0 unused): the cross-subject protocol of
    MSR Action3D and of UTD-MHAD (subjects 1, 3, 5, 7 train)."""
    role = _by_mask(bank.subject % 2 == 0)
    role[bank.subject <= 0] = UNUSED
    return role


def every_third_per_class(bank: ClipBank) -> np.ndarray:
    """GTU3D (no subject ids): within each class, clips sorted by ``sample_id`` (plain string order);
    position i with i % 3 == 2 is test, the rest train."""
    role = np.full(len(bank), TRAIN, np.int64)
    for c in np.unique(bank.label):
        members = np.flatnonzero(bank.label == c)
        order = members[np.argsort(bank.sample_id[members], kind="stable")]
        role[order[2::3]] = TEST
    return role


def ntu60_cross_subject(bank: ClipBank) -> np.ndarray:
    """NTU-60 cross-subject: the 20 official training performers train, the rest test."""
    return _by_mask(~np.isin(bank.subject, NTU60_XSUB_TRAIN_SUBJECTS))


def ntu120_cross_subject(bank: ClipBank) -> np.ndarray:
    """NTU-120 cross-subject: the 53 official training performers train, the rest test."""
    return _by_mask(~np.isin(bank.subject, NTU120_XSUB_TRAIN_SUBJECTS))


def ntu_cross_view(bank: ClipBank) -> np.ndarray:
    """NTU cross-view: cameras 2 and 3 train, camera 1 test (``view`` holds the camera id)."""
    role = np.full(len(bank), UNUSED, np.int64)
    role[np.isin(bank.view, NTU_XVIEW_TRAIN_CAMERAS)] = TRAIN
    role[bank.view == 1] = TEST
    return role


def ntu120_cross_setup(bank: ClipBank) -> np.ndarray:
    """NTU-120 cross-setup: even setup ids train, odd test (needs the bank's ``setup`` key)."""
    setup = _extra(bank, "setup", "star prepare-ntu")
    role = _by_mask(setup % 2 == 1)
    role[setup <= 0] = UNUSED
    return role


def _file_split(key: str) -> Callable[[ClipBank], np.ndarray]:
    def protocol(bank: ClipBank) -> np.ndarray:
        role = _extra(bank, key, "star prepare-pku with the official split file")
        if np.any(~np.isin(role, (TRAIN, TEST, UNUSED))):
            raise ValueError(f"{bank.path}: key '{key}' must hold 0 (train), 1 (test) or -1 (unused)")
        return role.astype(np.int64)

    protocol.__doc__ = f"Roles stored in the bank's ``{key}`` key (0 train, 1 test, -1 unused)."
    return protocol


def _extra(bank: ClipBank, key: str, made_by: str) -> np.ndarray:
    if key not in bank.extras or bank.extras[key].dtype.kind == "U":
        raise ValueError(f"{bank.path}: this protocol needs the integer key '{key}', which the bank "
                         f"lacks (found {sorted(bank.extras)}); make the bank with {made_by}")
    return bank.extras[key]


def _recorded_first(key: str, rule: Callable[[ClipBank], np.ndarray]) -> Callable[[ClipBank], np.ndarray]:
    """The roles a bank recorded from its source's own split lists (``key``: written by ``star prepare-pyskl`` /
    ``prepare-ctrgcn``), else ``rule`` (the official subject / camera / setup lists)."""
    def protocol(bank: ClipBank) -> np.ndarray:
        if key in bank.extras and bank.extras[key].dtype.kind != "U":
            return _file_split(key)(bank)
        return rule(bank)

    protocol.__doc__ = f"The bank's recorded ``{key}`` roles if it has them, else: {rule.__doc__}"
    return protocol


PROTOCOLS: dict[str, Callable[[ClipBank], np.ndarray]] = {
    "nwucla-xview": nwucla_cross_view,
    "msr-xsub": odd_subjects_train,
    "utdmhad-xsub": odd_subjects_train,
    "gtu-thirds": every_third_per_class,
    "ntu60-xsub": _recorded_first("split_xsub", ntu60_cross_subject),
    "ntu60-xview": _recorded_first("split_xview", ntu_cross_view),
    "ntu120-xsub": _recorded_first("split_xsub", ntu120_cross_subject),
    "ntu120-xset": _recorded_first("split_xset", ntu120_cross_setup),
    "pku-xsub": _file_split("split_xsub"),
    "pku-xview": _file_split("split_xview"),
}


def sample_roles(bank: ClipBank, protocol: str) -> np.ndarray:
    """(N,) int64 roles (0 train, 1 test, -1 unused) of ``bank`` under the named protocol."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown sample protocol {protocol!r}; known: {sorted(PROTOCOLS)}")
    return PROTOCOLS[protocol](bank)
