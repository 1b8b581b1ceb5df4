"""Ship a trained checkpoint: copy it to ``checkpoints/<name>`` with the sidecar's ``name`` set to that name.

The copy is written through ``star.checkpoint.save_checkpoint`` (a temporary folder swapped in, so a shipped
checkpoint is never half-written); weights, bundle and every other sidecar field are kept as trained, and the
sidecar records where the checkpoint was copied from (``shipped_from``).

    .venv/bin/python bench/ship.py runs/timing-pool42-32-10-v3-ddp-config/ckpt/star-timing-pool42-32-10-v3-ddp-config \\
        star-pool42-32-10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402


def ship(src: str | Path, name: str, root: str | Path = REPO / "checkpoints") -> Path:
    """Copy the checkpoint ``src`` to ``root/name`` (replacing what is there) and return the new folder."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"checkpoint name {name!r}: a plain folder name, like star-pool42-32-10")
    ck = load_checkpoint(src)
    src_path = Path(src).resolve()
    where = str(src_path.relative_to(REPO)) if src_path.is_relative_to(REPO) else str(src_path)
    meta = {**ck.meta, "name": name, "shipped_from": where}
    bundle = ck.load_bundle() if ck.bundle_path.is_file() else None
    return save_checkpoint(Path(root) / name, ck.tensors, meta, bundle)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", help="a trained checkpoint folder (model.json, model.safetensors, bundle.npz)")
    ap.add_argument("name", help="the shipped name, e.g. star-pool42-32-10")
    args = ap.parse_args(argv)
    print(f"shipped {ship(args.src, args.name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
