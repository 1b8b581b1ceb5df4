"""The plain-MLP floor: 32 resampled frames + velocities -> MLP -> MiniLM class-name space. No backbone, no
parts, no prompts. Used to measure the canonical-skeleton steps (star/skeleton/canonical.py) cheaply.

Per run (one benchmark split, one seed, one canonical spec):
1. every clip: ``Canonical.apply`` -> ``transforms.to_model_input(.., 32)`` (centre on the first spine mid,
   resize to 32 frames) -> body 0 -> positions (32, 75) and velocities (32, 75), flattened (4800,),
   z-scored with the training clips' statistics;
2. validation (never touches test clips or unseen classes): ``Benchmark.pseudo_unseen_fold(seed)`` holds
   out a quarter of the seen classes as pseudo-unseen (``--protocol protocol``, the default: each source's
   own held-out views / subjects, as the v2 STAR recipe; ``clips``: held-out clips of the training views,
   as the canonical-skeleton measurements in bench/results/canonical_mlp.json); an MLP trained on the rest
   picks gamma by the best H on val_seen + val_unseen (``zsl.choose_gamma``); that H is the validation H;
3. test: a fresh MLP trained on all seen-class training clips; ZSL accuracy, GZSL S/U/H at the
   validation gamma, best-on-test H (optimistic, as the paper reports), AUSUC; per-source S and U
   (source = the dataset a clip's class comes from); own-source share of unseen test clips' best SEEN
   class, against the text-nearest expectation (unseen class -> nearest seen class by name cosine) and
   the uniform expectation (share of seen classes in the clip's own source).

The MLP: z-scored 4800-d input -> dropout 0.2 -> [Linear 256, LayerNorm, GELU, dropout 0.5] x 2 ->
Linear 384, trained with cross-entropy on cosine / 0.1 against the FIXED MiniLM name embeddings of the
training classes (AdamW, 30 epochs, batch 64, lr 1e-3, weight decay 1e-2, cosine schedule). Optional
augmentation (``--aug-copies K``: K copies per clip with a random crop of 80-100 % and a rotation up to
0.1 rad, ``transforms.augment``, drawn once per run) is off by default: it multiplies the training time.

    .venv/bin/python bench/mlp_floor.py --split pool42-r0 --seed 0 --canonical legacy
    .venv/bin/python bench/mlp_floor.py --split pool42-r0,pool42-r1 --seed 0,1,2 \
        --canonical "legacy;view,joints,scale,smooth=1" --json-out bench/results/canonical_mlp.json

Records are merged into --json-out by (split, seed, spec, protocol); metrics only, no data. One run is about a
minute on one CPU thread. Summaries: bench/canonical_report.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from star import zsl  # noqa: E402
from star.data import get_benchmark  # noqa: E402
from star.data.benchmarks import BY_CLASS, POOL42_COMPONENTS  # noqa: E402
from star.skeleton.canonical import Canonical  # noqa: E402
from star.skeleton.transforms import augment, to_model_input  # noqa: E402
from star.training.runlog import cpu_model  # noqa: E402

NUM_FRAMES = 32
HIDDEN = 256
EPOCHS = 30
BATCH = 64
LR = 1e-3
WEIGHT_DECAY = 1e-2
TEMPERATURE = 0.1
AUG_COPIES = 0  # augmented copies per training clip (each multiplies the training time)
AUG_MIN_RATIO = 0.8
AUG_MAX_ANGLE = 0.1
SOURCES = tuple(c.prefix for c in POOL42_COMPONENTS)  # nwucla, msr3d, gtu3d


# ------------------------------------------------------------------------ data
def name_embeddings(class_names: list[str]) -> np.ndarray:
    """(C, 384) MiniLM name embeddings through the project's cache (the encoder loads only on a miss)."""
    from star.text.cache import EmbeddingCache, embed_texts
    from star.text.encoders import MINILM_ID, get_encoder

    cache = EmbeddingCache()
    got = cache.get(MINILM_ID, list(class_names))
    if all(v is not None for v in got):
        return np.stack(got).astype(np.float32)
    return embed_texts(get_encoder("minilm"), list(class_names), cache).astype(np.float32)


def clip_features(frames: np.ndarray) -> np.ndarray:
    """Canonical frames (M, T, 25, 3) -> (4800,) float32: body 0 at 32 frames, positions then velocities."""
    x = to_model_input(frames, NUM_FRAMES)[..., 0]  # (3, 32, 25)
    return _pos_vel(x)


def _pos_vel(x: np.ndarray) -> np.ndarray:
    pos = x.transpose(1, 2, 0).reshape(NUM_FRAMES, -1)  # (32, 75)
    vel = np.diff(pos, axis=0, prepend=pos[:1])  # (32, 75), first row 0
    return np.concatenate([pos, vel], axis=1).reshape(-1).astype(np.float32)


def augmented_features(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = augment(frames, rng, NUM_FRAMES, min_ratio=AUG_MIN_RATIO, max_angle=AUG_MAX_ANGLE)[..., 0]
    return _pos_vel(x)


class Data:
    """A benchmark's clips after one canonical spec: features per clip and the class/source bookkeeping."""

    def __init__(self, split: str, spec: Canonical, bank=None):
        self.bench = get_benchmark(split)  # the class split; the features below do not depend on it
        self.bank = bank if bank is not None else self.bench.load_bank()
        self.spec = spec
        n = len(self.bank)
        self.canon = [spec.apply(self.bank.clip(i).frames) for i in range(n)]
        self.feats = np.stack([clip_features(f) for f in self.canon])  # (N, 4800)
        self.labels = self.bank.label.copy()
        # the benchmark's sources (pool42: nwucla, msr3d, gtu3d; one-file benchmarks: the file's stem)
        self.sources = tuple(c.prefix or Path(c.file).stem for c in self.bench.components)
        self.clip_source = self.bench.component_of(self.bank)  # (N,) index into sources
        class_source = np.full(self.bench.num_classes, -1)
        class_source[self.labels] = self.clip_source
        self.class_source = class_source  # (C,) index into sources


# ------------------------------------------------------------------------ model
class FloorMLP(nn.Module):
    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Dropout(0.2),
            nn.Linear(in_dim, HIDDEN), nn.LayerNorm(HIDDEN), nn.GELU(), nn.Dropout(0.5),
            nn.Linear(HIDDEN, HIDDEN), nn.LayerNorm(HIDDEN), nn.GELU(), nn.Dropout(0.5),
            nn.Linear(HIDDEN, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 4800) -> (B, 384), unit norm
        return nn.functional.normalize(self.net(x), dim=-1)


def source_normalised(data: Data, idx: np.ndarray) -> np.ndarray:
    """Every clip's features z-scored with the statistics of its own source's clips among ``idx`` (the
    training clips): removes each source's offset and scale from the input, using no clip outside ``idx``."""
    out = np.empty_like(data.feats)
    for k, name in enumerate(data.sources):
        rows = data.clip_source == k
        ref = data.feats[idx][data.clip_source[idx] == k]
        if not len(ref):
            raise ValueError(f"no training clips from source {name} to normalise it with")
        out[rows] = (data.feats[rows] - ref.mean(0)) / (ref.std(0) + 1e-3)
    return out


def train_mlp(data: Data, idx: np.ndarray, classes: list[int], text: np.ndarray, seed: int,
              aug_copies: int = AUG_COPIES, feats: np.ndarray | None = None):
    """Train on clips ``idx`` (labels within ``classes``); returns a scoring function feats -> (N, C) cosine.
    ``feats`` replaces ``data.feats`` (e.g. ``source_normalised``; not with augmentation)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if feats is not None and aug_copies:
        raise ValueError("augmented copies are drawn from the canonical clips; they cannot follow replaced features")
    clean = (data.feats if feats is None else feats)[idx]
    aug = [augmented_features(data.canon[i], rng) for i in idx for _ in range(aug_copies)]
    x = np.concatenate([clean, np.stack(aug)]) if aug else clean
    y_full = np.concatenate([data.labels[idx], np.repeat(data.labels[idx], aug_copies)])
    mean, std = clean.mean(0), clean.std(0) + 1e-3
    pos = {c: k for k, c in enumerate(classes)}
    y = torch.as_tensor([pos[int(c)] for c in y_full])
    xt = torch.as_tensor((x - mean) / std)
    t_cls = nn.functional.normalize(torch.as_tensor(text[classes]), dim=-1)  # (Cs, 384), fixed
    model = FloorMLP(x.shape[1], text.shape[1])
    steps = EPOCHS * int(np.ceil(len(x) / BATCH))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(EPOCHS):
        perm = torch.randperm(len(x), generator=gen)
        for b in range(0, len(x), BATCH):
            j = perm[b:b + BATCH]
            logits = model(xt[j]) @ t_cls.T / TEMPERATURE
            loss = nn.functional.cross_entropy(logits, y[j])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    t_all = nn.functional.normalize(torch.as_tensor(text), dim=-1)

    def score(feats: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return (model(torch.as_tensor((feats - mean) / std)) @ t_all.T).double().numpy()  # (N, C)

    return score


# ------------------------------------------------------------------------ one run
def run_one(data: Data, text: np.ndarray, seed: int, aug_copies: int = AUG_COPIES, protocol: str = "protocol",
            val_fraction: float = 0.3, source_norm: bool = False, pseudo_unseen_fraction: float = 0.25) -> dict:
    bench, bank = data.bench, data.bank
    seen, unseen = bench.seen_classes, bench.unseen_classes
    t0 = time.perf_counter()
    train_idx = bench.train_indices(bank)
    test_idx = bench.test_indices(bank)

    # validation: the pseudo-unseen fold of the seen training clips (as positions into the bank)
    fold = _fold_positions(bench, bank, train_idx, seed, protocol, val_fraction, pseudo_unseen_fraction)
    vfeats = source_normalised(data, fold["train"]) if source_norm else data.feats
    val_score = train_mlp(data, fold["train"], fold["seen_classes"], text, seed, aug_copies,
                          vfeats if source_norm else None)
    vidx = np.concatenate([fold["val_seen"], fold["val_unseen"]])
    vs = val_score(vfeats[vidx])[:, seen]  # columns: the seen classes only
    col = {c: k for k, c in enumerate(seen)}
    vy = np.array([col[int(c)] for c in data.labels[vidx]])
    p_seen = [col[c] for c in fold["seen_classes"]]
    p_unseen = [col[c] for c in fold["unseen_classes"]]
    gamma_val, h_val = zsl.choose_gamma(vs, vy, p_seen, p_unseen)
    val_zsl = zsl.zsl_accuracy(vs, vy, p_unseen)

    # test
    feats = source_normalised(data, train_idx) if source_norm else data.feats
    score = train_mlp(data, train_idx, seen, text, seed, aug_copies, feats if source_norm else None)
    s = score(feats[test_idx])  # (N, 42)
    y = data.labels[test_idx]
    src = data.clip_source[test_idx]
    g = zsl.gzsl_metrics(s, y, seen, unseen, gamma_val)
    g_best, h_best = zsl.choose_gamma(s, y, seen, unseen)
    S_curve, U_curve, _ = zsl.seen_unseen_curve(s, y, seen, unseen)
    pred = zsl.gzsl_predict(s, seen, gamma_val)
    zpred = zsl.zsl_predict(s, unseen)
    rec = {
        "split": bench.name, "seed": seed, "model": "mlp", "protocol": protocol, "spec": data.spec.to_spec(),
        "canonical": data.spec.to_dict(),
        "zsl_acc": zsl.zsl_accuracy(s, y, unseen), "S": g["S"], "U": g["U"], "H": g["H"],
        "gamma_val": gamma_val, "H_val": h_val, "zsl_acc_val": val_zsl,
        "H_best_test": h_best, "gamma_best_test": g_best, "ausuc": zsl.ausuc(S_curve, U_curve),
        "aug_copies": aug_copies, "source_norm": source_norm, "per_source": {}, "n_test": int(len(test_idx)), "n_train": int(len(train_idx)),
    }
    is_unseen = np.isin(y, unseen)
    for k, name in enumerate(data.sources):
        m_s, m_u = (src == k) & ~is_unseen, (src == k) & is_unseen
        rec["per_source"][name] = {
            "S": _acc(pred[m_s], y[m_s]), "U": _acc(pred[m_u], y[m_u]), "zsl_acc": _acc(zpred[m_u], y[m_u]),
            "n_seen": int(m_s.sum()), "n_unseen": int(m_u.sum()),
            "n_unseen_classes": int(sum(data.class_source[c] == k for c in unseen)),
        }
    rec["zsl_by_class"] = {str(c): [int(np.sum(zpred[y == c] == c)), int(np.sum(y == c))] for c in unseen
                           if np.any(y == c)}  # [right, clips] per unseen class (ZSL argmax over unseen classes)
    rec.update(own_source_shares(s, y, src, seen, unseen, data.class_source, text, data.sources))
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def _acc(pred: np.ndarray, y: np.ndarray) -> float | None:
    return float(np.mean(pred == y)) if len(y) else None


def _fold_positions(bench, bank, train_idx: np.ndarray, seed: int, protocol: str = "clips",
                    val_fraction: float = 0.2, fraction: float = 0.25) -> dict:
    """``Benchmark.pseudo_unseen_fold`` on the seen training clips, as positions into ``bank``."""
    sub = bank.subset(train_idx)
    sub.extras["pos"] = train_idx.copy()
    fold = bench.pseudo_unseen_fold(sub, seed=seed, fraction=fraction, val_fraction=val_fraction, protocol=protocol)
    return {"seen_classes": fold["seen_classes"], "unseen_classes": fold["unseen_classes"],
            "train": fold["train"].extras["pos"], "val_seen": fold["val_seen"].extras["pos"],
            "val_unseen": fold["val_unseen"].extras["pos"]}


def own_source_shares(s, y, src, seen, unseen, class_source, text, sources=SOURCES) -> dict:
    """Unseen test clips: share whose best SEEN class is from their own source (measured), vs the share
    expected if it were the text-nearest seen class of their class (name cosine), vs uniform over seen."""
    is_u = np.isin(y, unseen)
    seen = np.asarray(seen)
    best_seen = seen[np.argmax(s[is_u][:, seen], axis=1)]
    measured = class_source[best_seen] == src[is_u]
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    nearest = {c: int(seen[np.argmax(t[seen] @ t[c])]) for c in unseen}
    text_same = np.array([class_source[nearest[int(c)]] == class_source[int(c)] for c in y[is_u]])
    uniform = np.array([np.mean(class_source[seen] == class_source[int(c)]) for c in y[is_u]])
    out = {"own_source_share": float(measured.mean()), "own_source_text_nearest": float(text_same.mean()),
           "own_source_uniform": float(uniform.mean()), "own_source_by_source": {}}
    for k, name in enumerate(sources):
        m = src[is_u] == k
        if m.any():
            out["own_source_by_source"][name] = {"measured": float(measured[m].mean()),
                                                 "text_nearest": float(text_same[m].mean()),
                                                 "uniform": float(uniform[m].mean())}
    return out


# ------------------------------------------------------------------------ records
def merge_records(path: Path, new: list[dict]) -> None:
    """Merge ``new`` into the JSON list at ``path`` by (split, seed, spec, protocol, source_norm); atomic write."""
    old = json.loads(path.read_text()) if path.is_file() else []
    key = lambda r: (r["split"], r["seed"], r["spec"], r.get("protocol", "clips"), r.get("source_norm", False))  # noqa: E731
    merged = {key(r): r for r in old}
    merged.update({key(r): r for r in new})
    out = sorted(merged.values(), key=lambda r: (r["split"], r["spec"], r.get("source_norm", False), r["seed"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    os.replace(tmp, path)


def bank_key(bench) -> tuple:
    """What a loaded bank (its clips and their train / test roles) depends on: the clip-bank files and, under the
    by-class protocol (PURLS's splits, leave one dataset out), the class split too."""
    by_class = any(c.protocol == BY_CLASS for c in bench.components)
    return bench.components, (tuple(bench.unseen_classes) if by_class else None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="pool42-r0", help="benchmark(s), comma-separated (pool42-32/10, pool42-r0..r4)")
    ap.add_argument("--seed", default="0", help="seed(s), comma-separated")
    ap.add_argument("--canonical", default="legacy",
                    help="canonical spec(s), ';'-separated, e.g. 'legacy;view,joints,scale,smooth=1'")
    ap.add_argument("--json-out", default=None, help="merge records into this JSON file")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--aug-copies", type=int, default=AUG_COPIES, help="augmented copies per training clip")
    ap.add_argument("--protocol", choices=("protocol", "clips"), default="protocol",
                    help="validation fold: each source's held-out views / subjects (protocol) or held-out clips")
    ap.add_argument("--val-fraction", type=float, default=0.3, help="validation share (as validation.val_fraction)")
    ap.add_argument("--pseudo-unseen-fraction", type=float, default=0.25,
                    help="share of the seen classes held out as pseudo-unseen (as validation.pseudo_unseen_fraction)")
    ap.add_argument("--source-norm", action="store_true",
                    help="z-score each clip with its own source's training clips (use a separate --json-out)")
    ap.add_argument("--skip-done", action="store_true", help="skip (split, seed, spec, protocol) already in --json-out")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    seeds = [int(s) for s in args.seed.split(",")]
    specs = [Canonical.parse(s) for s in args.canonical.split(";")]
    out = Path(args.json_out) if args.json_out else None
    done = set()
    if out is not None and args.skip_done and out.is_file():
        done = {(r["split"], r["seed"], r["spec"], r.get("protocol", "clips"), r.get("source_norm", False))
                for r in json.loads(out.read_text())}
    banks: dict = {}  # one load per set of clip-bank files (all pool42 splits share one) and by-class split
    prepared: dict = {}  # (files, spec) -> Data: the canonical features do not depend on the class split
    for split in splits:
        bench = get_benchmark(split)
        text = name_embeddings(bench.class_names)
        files = bank_key(bench)
        if files not in banks:
            banks[files] = bench.load_bank()
        for spec in specs:
            todo = [sd for sd in seeds
                    if (bench.name, sd, spec.to_spec(), args.protocol, args.source_norm) not in done]
            if not todo:
                continue
            t0 = time.perf_counter()
            key = (files, spec)
            if key not in prepared:
                prepared[key] = Data(split, spec, bank=banks[files])
            data = prepared[key]
            data.bench = bench
            prep = time.perf_counter() - t0
            for seed in todo:
                rec = run_one(data, text, seed, args.aug_copies, args.protocol, args.val_fraction, args.source_norm,
                              args.pseudo_unseen_fraction)
                rec["pseudo_unseen_fraction"] = args.pseudo_unseen_fraction
                rec["prep_s"] = prep
                rec["machine"] = cpu_model()
                print(f"{bench.name} seed {seed} [{rec['spec']}]: ZSL {100 * rec['zsl_acc']:.1f}  "
                      f"S/U/H {100 * rec['S']:.1f}/{100 * rec['U']:.1f}/{100 * rec['H']:.1f} "
                      f"(gamma_val {rec['gamma_val']:.3f}, H_val {100 * rec['H_val']:.1f})  "
                      f"H_best {100 * rec['H_best_test']:.1f}  AUSUC {100 * rec['ausuc']:.1f}  "
                      f"own-src {100 * rec['own_source_share']:.0f}% (text {100 * rec['own_source_text_nearest']:.0f}%)"
                      f"  {rec['wall_s']:.0f}s", flush=True)
                if out is not None:
                    merge_records(out, [rec])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
