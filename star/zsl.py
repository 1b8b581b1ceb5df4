"""Zero-shot math: scores, ZSL accuracy, GZSL with calibrated stacking, gamma sweeps, AUSUC.

Pure numpy. Every function also accepts torch tensors (converted with ``.detach().cpu().numpy()``).

Notation: N test clips, C classes (columns of ``scores``), ``seen`` / ``unseen`` lists of class indices
into those columns, ``labels`` (N,) true class indices in the same index space.

Calibrated stacking (paper eq. 9, after Chao et al. 2016): in GZSL, gamma is subtracted from every
seen-class score and the prediction is the argmax over all classes. For one clip only two numbers
matter: s* (best seen score) and u* (best unseen score). With the margin m = s* - u* the rule is

    predict the best unseen class  iff  m < gamma,   otherwise the best seen class.

Tie rules (used everywhere in this module, so sweeps and single evaluations agree exactly):
- inside a group (seen or unseen) ties go to the smallest class index;
- between the groups an exact tie (m == gamma) goes to the SEEN class.
Up to these ties and float rounding this equals ``argmax(calibrated_scores(...))``.

Accuracies are fractions in [0, 1]. ``per_class=True`` gives the mean of per-class accuracies over
the classes that have at least one test clip; the default is the per-clip mean.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


# ---------------------------------------------------------------------------------------------
# input checks

def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_scores(scores: Any) -> np.ndarray:
    s = _to_numpy(scores)
    if s.ndim != 2 or s.shape[0] == 0 or s.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty (N clips, C classes) matrix, got shape {s.shape}")
    s = s.astype(np.float64, copy=False)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores contain {int(np.sum(~np.isfinite(s)))} NaN/inf values; all must be finite")
    return s


def _as_classes(classes: Any, num_classes: int, name: str) -> np.ndarray:
    c = _to_numpy(classes).reshape(-1)
    if c.size == 0:
        raise ValueError(f"{name} class list is empty; it needs at least one class index")
    if not np.issubdtype(c.dtype, np.integer):
        raise ValueError(f"{name} classes must be integer class indices, got dtype {c.dtype}")
    bad = c[(c < 0) | (c >= num_classes)]
    if bad.size:
        raise ValueError(f"{name} classes {bad.tolist()} are out of range for {num_classes} score columns")
    return np.unique(c).astype(np.int64)


def _as_labels(labels: Any, num_clips: int, num_classes: int) -> np.ndarray:
    y = _to_numpy(labels).reshape(-1)
    if y.shape[0] != num_clips:
        raise ValueError(f"labels has {y.shape[0]} entries but scores has {num_clips} rows (clips)")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    bad = y[(y < 0) | (y >= num_classes)]
    if bad.size:
        raise ValueError(f"labels {np.unique(bad).tolist()} are out of range for {num_classes} score columns")
    return y


def _split(scores: Any, seen: Any, unseen: Any | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked (scores, seen, unseen); seen and unseen must be disjoint and cover all C columns."""
    s = _as_scores(scores)
    c = s.shape[1]
    seen_c = _as_classes(seen, c, "seen")
    if unseen is None:
        unseen_c = np.setdiff1d(np.arange(c), seen_c)
        if unseen_c.size == 0:
            raise ValueError(f"seen lists all {c} classes; GZSL needs at least one unseen class")
    else:
        unseen_c = _as_classes(unseen, c, "unseen")
    both = np.intersect1d(seen_c, unseen_c)
    if both.size:
        raise ValueError(f"classes {both.tolist()} are listed as both seen and unseen")
    if seen_c.size + unseen_c.size != c:
        missing = np.setdiff1d(np.arange(c), np.union1d(seen_c, unseen_c))
        raise ValueError(f"seen + unseen must cover all {c} score columns; missing {missing.tolist()}")
    return s, seen_c, unseen_c


def _group_best(s: np.ndarray, seen: np.ndarray, unseen: np.ndarray):
    """Best seen class (N,), best unseen class (N,), margin s* - u* (N,) float64."""
    ss, su = s[:, seen], s[:, unseen]
    i_s, i_u = np.argmax(ss, axis=1), np.argmax(su, axis=1)
    rows = np.arange(s.shape[0])
    margin = ss[rows, i_s] - su[rows, i_u]
    return seen[i_s], unseen[i_u], margin


def gzsl_margins(scores: Any, seen: Sequence[int], unseen: Sequence[int]) -> np.ndarray:
    """Per clip (N,): best seen score minus best unseen score. Calibrated stacking predicts an unseen class for a
    clip exactly when gamma exceeds its margin, so these are the only gammas where GZSL decisions change."""
    return _group_best(*_split(scores, seen, unseen))[2]


def _check_gamma(gamma: float) -> float:
    g = float(gamma)
    if np.isnan(g):
        raise ValueError("gamma is NaN")
    return g


# ---------------------------------------------------------------------------------------------
# scores and ZSL

def cosine_scores(features: Any, class_embeddings: Any) -> np.ndarray:
    """Cosine similarity of every clip feature to every class embedding.

    features: (N, D); class_embeddings: (C, D). Returns (N, C) float64 in [-1, 1].
    A zero vector (feature or class) has similarity 0 to everything, never NaN.
    """
    f = _to_numpy(features).astype(np.float64)
    e = _to_numpy(class_embeddings).astype(np.float64)
    if f.ndim != 2 or e.ndim != 2 or f.shape[1] != e.shape[1]:
        raise ValueError(f"features (N, D) and class_embeddings (C, D) must share D; got {f.shape} and {e.shape}")
    fn = np.linalg.norm(f, axis=1, keepdims=True)
    en = np.linalg.norm(e, axis=1, keepdims=True)
    f = np.divide(f, fn, out=np.zeros_like(f), where=fn > 0)
    e = np.divide(e, en, out=np.zeros_like(e), where=en > 0)
    return np.clip(f @ e.T, -1.0, 1.0)


def part_scores(part_features: Any, desc_proj: Any) -> np.ndarray:
    """Per-part cosine scores averaged over parts: part_features (N, K, m), desc_proj (K, C, m) -> (N, C),
    ``mean_k cos(part_features[:, k], desc_proj[k])``, the similarity the multi-part loss (MPCE) trains."""
    p, d = _to_numpy(part_features), _to_numpy(desc_proj)
    if p.ndim != 3 or d.ndim != 3 or p.shape[1] != d.shape[0] or p.shape[2] != d.shape[2]:
        raise ValueError(f"part_features (N, K, m) and desc_proj (K, C, m) must share K and m; got {p.shape} and "
                         f"{d.shape}")
    return np.mean([cosine_scores(p[:, k], d[k]) for k in range(p.shape[1])], axis=0)


def fused_scores(global_features: Any, name_proj: Any, part_features: Any = None, desc_proj: Any = None,
                 part_weight: float = 0.0) -> np.ndarray:
    """Class scores (N, C): ``cos(global, name) + part_weight * part_scores(part_features, desc_proj)``.

    ``part_weight`` 0 is the paper's score (eq. 9, the global feature against the class names only); a
    positive weight adds the part-description evidence. A head without parts needs ``part_weight`` 0."""
    scores = cosine_scores(global_features, name_proj)
    if part_weight == 0:
        return scores
    if part_weight < 0 or not np.isfinite(part_weight):
        raise ValueError(f"part_weight must be a finite number >= 0, got {part_weight}")
    if part_features is None or desc_proj is None:
        raise ValueError(f"part_weight {part_weight} needs part features and part descriptions; this head has none")
    return scores + part_weight * part_scores(part_features, desc_proj)


def hubness_corrected(scores: Any, reference_scores: Any, k: int = 10) -> np.ndarray:
    """Class scores with each class's hubness removed (the class term of CSLS, Lample et al., ICLR 2018).

    A class text that lies close to every skeleton feature (a "hub") wins many clips that are not its own; CSLS
    subtracts from each class's score the mean of its ``k`` highest scores over a reference set of clips. Here the
    reference is the model's own training clips (seen classes only), so no test clip is used. scores: (N, C);
    reference_scores: (M, C) of the reference clips; returns (N, C) ``scores - r`` with ``r[c]`` that mean.
    (CSLS's clip term and factor 2 do not change how a clip ranks the classes, so they are left out.)"""
    s, ref = _as_scores(scores), _as_scores(reference_scores)
    if ref.shape[1] != s.shape[1]:
        raise ValueError(f"reference scores have {ref.shape[1]} classes, the scores {s.shape[1]}")
    k = int(k)
    if not 1 <= k <= ref.shape[0]:
        raise ValueError(f"k must be in 1..{ref.shape[0]} (the reference clips), got {k}")
    r = -np.mean(np.partition(-ref, k - 1, axis=0)[:k], axis=0)
    return s - r[None, :]


def class_probabilities(scores: Any, candidates: Sequence[int], temperature: float) -> np.ndarray:
    """Softmax of ``scores / temperature`` over the ``candidates`` columns only: (N, C) or (C,) -> same shape,
    0 outside the candidates. These are probabilities *among the candidates*: an action that is none of them
    still gets probabilities that sum to 1."""
    s = np.asarray(scores, np.float64)
    t = float(temperature)
    if not t > 0 or not np.isfinite(t):
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    cand = np.asarray(candidates, dtype=np.int64)
    if cand.size == 0:
        raise ValueError("no candidate classes")
    z = s[..., cand] / t
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    out = np.zeros_like(s)
    out[..., cand] = z / z.sum(axis=-1, keepdims=True)
    return out


def zsl_predict(scores: Any, unseen: Sequence[int]) -> np.ndarray:
    """ZSL prediction: argmax over the unseen classes only.

    scores: (N, C); unseen: class indices. Returns (N,) int64 class indices in the full 0..C-1 space.
    Ties go to the smallest class index.
    """
    s = _as_scores(scores)
    u = _as_classes(unseen, s.shape[1], "unseen")
    return u[np.argmax(s[:, u], axis=1)]


def _unseen_clips(s: np.ndarray, labels: Any, unseen: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u = _as_classes(unseen, s.shape[1], "unseen")
    y = _as_labels(labels, s.shape[0], s.shape[1])
    keep = np.isin(y, u)
    if not keep.any():
        raise ValueError(f"no test clip has an unseen label (unseen classes {u.tolist()})")
    return s[keep], y[keep], u


def _mean_accuracy(correct: np.ndarray, labels: np.ndarray, per_class: bool) -> float:
    if not per_class:
        return float(np.count_nonzero(correct) / correct.size)
    rates = [np.count_nonzero(correct[labels == c]) / np.count_nonzero(labels == c) for c in np.unique(labels)]
    return float(_sum_in_order(rates) / len(rates))


def _sum_in_order(values) -> Any:
    """Plain left-to-right sum, so scalar and vectorised code give bit-identical results."""
    total = 0.0
    for v in values:
        total = total + v
    return total


def zsl_accuracy(scores: Any, labels: Any, unseen: Sequence[int], per_class: bool = False) -> float:
    """ZSL top-1 accuracy on the test clips whose label is unseen (clips with seen labels are ignored).

    scores: (N, C); labels: (N,). per_class=False: fraction of those clips predicted right;
    per_class=True: mean over unseen classes (with >= 1 clip) of each class's accuracy.
    """
    return topk_accuracy(scores, labels, unseen, k=1, per_class=per_class)


def topk_accuracy(scores: Any, labels: Any, unseen: Sequence[int], k: int = 5, per_class: bool = False) -> float:
    """ZSL top-k accuracy: the true class is among the k best unseen classes (ties: smaller index first).

    scores: (N, C); labels: (N,); only clips with unseen labels count. k is capped at len(unseen).
    """
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    s = _as_scores(scores)
    s, y, u = _unseen_clips(s, labels, unseen)
    order = np.argsort(-s[:, u], axis=1, kind="stable")[:, : int(k)]
    correct = np.any(u[order] == y[:, None], axis=1)
    return _mean_accuracy(correct, y, per_class)


# ---------------------------------------------------------------------------------------------
# GZSL with calibrated stacking

def calibrated_scores(scores: Any, seen: Sequence[int], gamma: float) -> np.ndarray:
    """scores (N, C) float64 with gamma subtracted from the seen columns (paper eq. 9), for display."""
    s = _as_scores(scores).copy()
    s[:, _as_classes(seen, s.shape[1], "seen")] -= _check_gamma(gamma)
    return s


def gzsl_predict(scores: Any, seen: Sequence[int], gamma: float) -> np.ndarray:
    """GZSL prediction with calibrated stacking; every class not in ``seen`` counts as unseen.

    scores: (N, C). Returns (N,) int64 class indices. The best unseen class wins iff
    (s* - u*) < gamma; exact ties go to the seen class (see the module docstring).
    """
    s, seen_c, unseen_c = _split(scores, seen, None)
    best_s, best_u, margin = _group_best(s, seen_c, unseen_c)
    return np.where(margin < _check_gamma(gamma), best_u, best_s)


def _harmonic(s: Any, u: Any) -> Any:
    s, u = np.asarray(s, dtype=np.float64), np.asarray(u, dtype=np.float64)
    den = s + u
    return np.where(den > 0, (2.0 * s * u) / np.where(den > 0, den, 1.0), 0.0)


def gzsl_metrics(scores: Any, labels: Any, seen: Sequence[int], unseen: Sequence[int], gamma: float,
                 per_class: bool = False) -> dict[str, float]:
    """GZSL accuracies at one gamma: {'S', 'U', 'H'} as fractions.

    scores: (N, C); labels: (N,). S = accuracy over clips with a seen label, U = over clips with an
    unseen label (0 if there are none), H = 2SU / (S + U), 0 when S + U = 0.
    """
    s, seen_c, unseen_c = _split(scores, seen, unseen)
    y = _as_labels(labels, s.shape[0], s.shape[1])
    pred = gzsl_predict(s, seen_c, gamma)
    out = {}
    for key, group in (("S", seen_c), ("U", unseen_c)):
        mask = np.isin(y, group)
        out[key] = _mean_accuracy(pred[mask] == y[mask], y[mask], per_class) if mask.any() else 0.0
    out["H"] = float(_harmonic(out["S"], out["U"]))
    return out


def _sorted_gammas(gammas: Any) -> np.ndarray:
    g = _to_numpy(gammas).astype(np.float64).reshape(-1)
    if g.size == 0 or np.isnan(g).any():
        raise ValueError("gammas must be a non-empty 1-D array without NaN")
    return g


def _group_rate(margin: np.ndarray, correct: np.ndarray, y: np.ndarray, g: np.ndarray,
                wins_when_below: bool, per_class: bool) -> np.ndarray:
    """Accuracy (G,) of one group's clips for every gamma in g.

    A clip is right iff its in-group argmax is its label (``correct``) and its group wins:
    unseen wins iff margin < gamma (``wins_when_below``), seen wins otherwise.
    """
    if y.size == 0:
        return np.zeros(g.size)
    classes = np.unique(y) if per_class else [None]
    rates = []
    for c in classes:
        in_c = np.ones(y.size, bool) if c is None else (y == c)
        m = np.sort(margin[in_c & correct])
        below = np.searchsorted(m, g, side="left")  # number of right clips with margin < gamma
        hits = below if wins_when_below else m.size - below
        rates.append(hits / np.count_nonzero(in_c))
    return rates[0] if not per_class else _sum_in_order(rates) / len(rates)


def gamma_sweep(scores: Any, labels: Any, seen: Sequence[int], unseen: Sequence[int], gammas: Any,
                per_class: bool = False) -> dict[str, np.ndarray]:
    """S, U, H for many gammas at once; equals ``gzsl_metrics`` at each gamma exactly.

    scores: (N, C); labels: (N,); gammas: (G,). Returns {'gamma', 'S', 'U', 'H'}, each (G,), in the
    order given. Cost O((N + G) log N): margins are sorted once and counted with searchsorted.
    """
    s, seen_c, unseen_c = _split(scores, seen, unseen)
    y = _as_labels(labels, s.shape[0], s.shape[1])
    g = _sorted_gammas(gammas)
    best_s, best_u, margin = _group_best(s, seen_c, unseen_c)
    is_seen = np.isin(y, seen_c)
    is_unseen = ~is_seen
    S = _group_rate(margin[is_seen], (best_s == y)[is_seen], y[is_seen], g, False, per_class)
    U = _group_rate(margin[is_unseen], (best_u == y)[is_unseen], y[is_unseen], g, True, per_class)
    S, U = np.asarray(S, np.float64), np.asarray(U, np.float64)
    return {"gamma": g, "S": S, "U": U, "H": _harmonic(S, U)}


def default_gamma_grid(scores: Any, seen: Sequence[int], unseen: Sequence[int], num: int | None = None,
                       include_zero: bool = True) -> np.ndarray:
    """Sorted gammas (G,) that reach every distinct GZSL decision for these scores.

    Decisions only change when gamma crosses a margin s* - u*. With sorted unique margins
    m_1 < ... < m_K the grid holds: one gamma <= m_1 (all clips seen), one gamma inside each gap
    (m_k, m_k+1] (the midpoint), and one gamma > m_K (all clips unseen), plus 0 (the uncalibrated
    rule) when ``include_zero``. ``num`` caps the number of decision points by picking evenly spaced
    ones (the two ends are always kept).
    """
    s, seen_c, unseen_c = _split(scores, seen, unseen)
    m = np.unique(_group_best(s, seen_c, unseen_c)[2])
    span = m[-1] - m[0]
    pad = 0.01 * span if span > 0 else 0.01 * max(1.0, abs(m[0]))
    lo = min(m[0] - pad, m[0])
    hi = max(m[-1] + pad, np.nextafter(m[-1], np.inf))
    mid = m[:-1] + (m[1:] - m[:-1]) / 2
    mid = np.where(mid > m[:-1], mid, m[1:])  # adjacent floats: the upper one lies in (m_k, m_k+1]
    grid = np.concatenate([[lo], mid, [hi]])
    if num is not None:
        if int(num) < 2:
            raise ValueError(f"num must be >= 2 (both ends of the curve), got {num}")
        if grid.size > int(num):
            grid = grid[np.unique(np.round(np.linspace(0, grid.size - 1, int(num))).astype(int))]
    if include_zero:
        grid = np.union1d(grid, [0.0])
    return grid


def seen_unseen_curve(scores: Any, labels: Any, seen: Sequence[int], unseen: Sequence[int],
                      per_class: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The full seen-unseen accuracy curve: (S (G,), U (G,), gammas (G,)), gammas ascending.

    Goes from all-seen (U = 0, S = S_max) to all-unseen (U = U_max, S = 0) through every decision change.
    """
    grid = default_gamma_grid(scores, seen, unseen)
    out = gamma_sweep(scores, labels, seen, unseen, grid, per_class=per_class)
    return out["S"], out["U"], out["gamma"]


def ausuc(S: Any, U: Any) -> float:
    """Area Under the Seen-Unseen accuracy Curve (Chao, Changpinyo, Gong, Sha 2016, "An empirical study
    and analysis of generalized zero-shot learning for object recognition in the wild", ECCV).

    S, U: (G,) accuracies (fractions) along a gamma sweep. U is the x axis, S the y axis; points are
    ordered by U, the end points (0, max S) and (max U, 0) are added, and the area is the trapezoid rule.
    For a full curve (``seen_unseen_curve``) the added points are already on it. Result in [0, 1].
    """
    s = _to_numpy(S).astype(np.float64).reshape(-1)
    u = _to_numpy(U).astype(np.float64).reshape(-1)
    if s.shape != u.shape or s.size == 0:
        raise ValueError(f"S and U must be non-empty and the same length, got {s.shape} and {u.shape}")
    if np.isnan(s).any() or np.isnan(u).any():
        raise ValueError("S and U must not contain NaN")
    order = np.lexsort((-s, u))
    x = np.concatenate([[0.0], u[order], [u.max()]])
    y = np.concatenate([[s.max()], s[order], [0.0]])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def choose_gamma(scores: Any, labels: Any, seen: Sequence[int], unseen: Sequence[int], gammas: Any = None,
                 per_class: bool = False) -> tuple[float, float]:
    """The gamma with the best harmonic mean H: (best_gamma, best_H).

    Ties: smallest |gamma|, then smallest gamma. gammas (G,) default to ``default_gamma_grid``.
    Use a VALIDATION set (e.g. held-out seen classes as pseudo-unseen). The paper and its released code
    pick gamma on the test set itself, which is the usual protocol but gives optimistic H.
    """
    g = default_gamma_grid(scores, seen, unseen) if gammas is None else gammas
    out = gamma_sweep(scores, labels, seen, unseen, g, per_class=per_class)
    h, g = out["H"], out["gamma"]
    best = np.flatnonzero(h == h.max())
    pick = best[np.lexsort((g[best], np.abs(g[best])))[0]]
    return float(g[pick]), float(h[pick])


# ---------------------------------------------------------------------------------------------
# per-class views

def _labels_preds(labels: Any, preds: Any) -> tuple[np.ndarray, np.ndarray]:
    y = _to_numpy(labels).reshape(-1)
    p = _to_numpy(preds).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"labels and preds must have the same length, got {y.shape[0]} and {p.shape[0]}")
    for name, a in (("labels", y), ("preds", p)):
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"{name} must be integer class indices, got dtype {a.dtype}")
    return y.astype(np.int64), p.astype(np.int64)


def confusion_matrix(labels: Any, preds: Any, classes: Sequence[int], other: bool = False) -> np.ndarray:
    """Counts (K, K) int64, rows = true class, columns = predicted class, both in the order of ``classes``.

    labels, preds: (N,). Clips whose true label is not in ``classes`` are skipped. Predictions outside
    ``classes`` are dropped (rows then sum to less than the class's clip count) unless ``other=True``,
    which adds a last column counting them: shape (K, K + 1).
    """
    y, p = _labels_preds(labels, preds)
    cls = _to_numpy(classes).reshape(-1).astype(np.int64)
    if cls.size == 0 or np.unique(cls).size != cls.size:
        raise ValueError(f"classes must be a non-empty list without repeats, got {cls.tolist()}")
    k = cls.size
    pos = {int(c): i for i, c in enumerate(cls)}
    out = np.zeros((k, k + 1), np.int64)
    for t, q in zip(y.tolist(), p.tolist()):
        if t in pos:
            out[pos[t], pos.get(q, k)] += 1
    return out if other else out[:, :k]


def normalise_rows(matrix: Any) -> np.ndarray:
    """Each row divided by its sum (float64, same shape); rows summing to 0 stay 0."""
    m = _to_numpy(matrix).astype(np.float64)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m.shape}")
    tot = m.sum(axis=1, keepdims=True)
    return np.divide(m, tot, out=np.zeros_like(m), where=tot != 0)


def per_class_accuracy(labels: Any, preds: Any, classes: Sequence[int]) -> dict[int, float]:
    """{class: fraction of its clips predicted as it}, for the given classes that have >= 1 clip."""
    y, p = _labels_preds(labels, preds)
    out = {}
    for c in _to_numpy(classes).reshape(-1).astype(np.int64).tolist():
        mask = y == c
        if mask.any():
            out[c] = float(np.count_nonzero(p[mask] == c) / np.count_nonzero(mask))
    return out
