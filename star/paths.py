"""Where things live: the one place that knows the repository layout and the environment variables.

- ``REPO_ROOT``: the checkout (``assets/``, ``checkpoints/``, ``configs/`` sit under it).
- ``data_dir()``: the shared clip banks: ``$STAR_DATA_DIR``, else ``<repo>/../shared/data``.
- ``checkpoint_roots()``: folders whose sub-folders are checkpoints: ``$STAR_CHECKPOINT_DIRS``
  (several joined with ``os.pathsep``), else ``<repo>/checkpoints``.
- ``cache_dir()``: the root of every on-disk cache (text embeddings, t-SNE, pose models):
  ``$STAR_CACHE_DIR``, else ``<repo>/.star_cache``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "assets"
SAMPLES_DIR = ASSETS_DIR / "samples"
DESCRIPTIONS_DIR = ASSETS_DIR / "descriptions"
CLASSES_DIR = ASSETS_DIR / "classes"
CONFIGS_DIR = REPO_ROOT / "configs"
DEFAULT_CHECKPOINT_ROOT = REPO_ROOT / "checkpoints"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None


def data_dir(explicit: str | Path | None = None) -> Path:
    """``explicit`` if given, else ``$STAR_DATA_DIR``, else ``<repo>/../shared/data``."""
    if explicit is not None:
        return Path(explicit).expanduser()
    return _env_path("STAR_DATA_DIR") or REPO_ROOT.parent / "shared" / "data"


def checkpoint_roots() -> list[Path]:
    """``$STAR_CHECKPOINT_DIRS`` (``os.pathsep``-separated), else ``[<repo>/checkpoints]``."""
    value = os.environ.get("STAR_CHECKPOINT_DIRS", "").strip()
    if value:
        return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]
    return [DEFAULT_CHECKPOINT_ROOT]


def cache_dir() -> Path:
    """``$STAR_CACHE_DIR``, else ``<repo>/.star_cache``: one default for every cache."""
    return _env_path("STAR_CACHE_DIR") or REPO_ROOT / ".star_cache"
