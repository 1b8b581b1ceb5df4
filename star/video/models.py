"""The two BlazePose models, fetched once at set-up and checked before use.

Both files come from the ``mediapipe==0.10.14`` wheel on PyPI (Apache-2.0; Google LLC). ``mediapipe``
itself is never installed (its protobuf pin clashes with streamlit's): the wheel is downloaded with
``pip download``, the two ``.tflite`` files are extracted, their sha256 verified, and they are stored in
``star.paths.cache_dir() / "pose_models"``. Run ``make pose-models`` (``make app`` and ``make test`` do it)
or ``python -m star.video.models --fetch``. Nothing is downloaded at request time: ``model_path`` only
checks the files and raises ``PoseModelsMissing`` naming the command that fixes them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from star.paths import cache_dir

MEDIAPIPE_VERSION = "0.10.14"
LICENSE = "Apache-2.0 (the mediapipe wheel, Google LLC)"
FIX_COMMAND = "make pose-models  (or: python -m star.video.models --fetch)"

# name -> (path inside the wheel, sha256)
MODELS: dict[str, tuple[str, str]] = {
    "detector": ("mediapipe/modules/pose_detection/pose_detection.tflite",
                 "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
    "landmarks": ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
                  "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
}
_verified: dict[tuple[str, int, int], bool] = {}


class PoseModelsMissing(RuntimeError):
    """A pose model file is missing or corrupt; the message names the command that fixes it."""


def models_dir() -> Path:
    """Where the two ``.tflite`` files live: ``cache_dir() / "pose_models"``."""
    return cache_dir() / "pose_models"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _problem(path: Path, expected_sha: str) -> str | None:
    """None when ``path`` holds the expected file, else what is wrong with it."""
    if not path.is_file():
        return "missing"
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        _verified[key] = _sha256(path) == expected_sha
    return None if _verified[key] else f"corrupt (sha256 is not {expected_sha[:12]}...)"


def model_path(name: str, directory: Path | None = None) -> Path:
    """The verified path of model ``name`` ('detector' or 'landmarks'); raises ``PoseModelsMissing``."""
    if name not in MODELS:
        raise KeyError(f"unknown pose model {name!r}; expected one of {sorted(MODELS)}")
    member, sha = MODELS[name]
    path = (directory or models_dir()) / Path(member).name
    problem = _problem(path, sha)
    if problem:
        raise PoseModelsMissing(f"pose model {path} is {problem}. Video input needs the two BlazePose models "
                                f"from mediapipe=={MEDIAPIPE_VERSION}; fetch them with: {FIX_COMMAND}")
    return path


def models_ready(directory: Path | None = None) -> bool:
    try:
        for name in MODELS:
            model_path(name, directory)
    except PoseModelsMissing:
        return False
    return True


def _download_wheel(into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps",
           "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
           "--progress-bar", "off", "-d", str(into)]
    subprocess.run(cmd, check=True)
    wheels = sorted(into.glob("mediapipe-*.whl"))
    if not wheels:
        raise PoseModelsMissing(f"pip download left no mediapipe wheel in {into}")
    return wheels[0]


def extract_models(wheel: Path, directory: Path | None = None) -> dict[str, Path]:
    """Extract and verify both models from a mediapipe wheel into ``directory``; returns name -> path."""
    directory = directory or models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    out = {}
    with zipfile.ZipFile(wheel) as archive:
        for name, (member, sha) in MODELS.items():
            data = archive.read(member)
            found = hashlib.sha256(data).hexdigest()
            if found != sha:
                raise PoseModelsMissing(f"{wheel}:{member} has sha256 {found}, expected {sha}")
            target = directory / Path(member).name
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            os.replace(tmp, target)
            out[name] = target
    return out


def fetch_models(directory: Path | None = None, wheel: Path | None = None, force: bool = False) -> dict[str, Path]:
    """Make sure both models are in ``directory``: download the wheel (or use ``wheel``) when needed."""
    directory = directory or models_dir()
    if not force and models_ready(directory):
        return {name: model_path(name, directory) for name in MODELS}
    if wheel is not None:
        return extract_models(Path(wheel), directory)
    with tempfile.TemporaryDirectory(prefix="star-mediapipe-") as tmp:
        return extract_models(_download_wheel(Path(tmp)), directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m star.video.models", description=__doc__.split("\n")[0])
    parser.add_argument("--fetch", action="store_true", help="download and verify the models if needed")
    parser.add_argument("--force", action="store_true", help="with --fetch: download again even if present")
    parser.add_argument("--wheel", type=Path, help="with --fetch: extract from this local mediapipe wheel")
    parser.add_argument("--dir", type=Path, help=f"model folder (default {models_dir()})")
    args = parser.parse_args(argv)
    try:
        paths = fetch_models(args.dir, args.wheel, args.force) if args.fetch else \
            {name: model_path(name, args.dir) for name in MODELS}
    except (PoseModelsMissing, subprocess.CalledProcessError, OSError, zipfile.BadZipFile, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(f"{name}: {path} (sha256 ok; licence {LICENSE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
