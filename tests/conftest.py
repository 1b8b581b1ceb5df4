"""Shared fixtures: where the repository and the shared real data live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The read-only real data: $STAR_DATA_DIR (as the library uses), else ../shared/data next to the repo."""
    return Path(os.environ.get("STAR_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if not (path / "nwucla.npz").exists():
        pytest.fail(f"shared data not found at {path}; set STAR_DATA_DIR to the folder with nwucla.npz")
    return path


@pytest.fixture(scope="session")
def ntu_samples(shared_data: Path) -> Path:
    return shared_data / "ntu_samples"
