"""Which of the training datasets does a clip's recording resemble?

On pool42 a clip's dataset (NW-UCLA, MSR Action3D, GTU3D) decides which seen classes it resembles, more than
its action does (docs/SOURCE_PROBE.md). A user's own clip, from another sensor or from a video, is a new
"dataset" to the models. This module says which training dataset a clip looks like from its recording
alone (``star.skeleton.cues``: tracking jitter, bone lengths, length, frozen frames; nothing about the
action), and which of its cues lie outside everything seen in training.

The model is a multinomial logistic regression on z-scored cues, fitted by ``bench/source_model.py`` on all
pool42 clips and shipped as JSON (``assets/source_model.json``; plain numbers, nothing pickled). Its
probabilities are computed here with numpy, so the app needs no scikit-learn estimator at run time.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from star.paths import ASSETS_DIR
from star.skeleton.canonical import Canonical
from star.skeleton.cues import NUM_CUES, cue_names, recording_cues

SOURCE_MODEL_FILE = ASSETS_DIR / "source_model.json"
FORMAT = "star-source-model/1"
DISPLAY_NAMES = {"nwucla": "NW-UCLA", "msr3d": "MSR Action3D", "gtu3d": "GTU3D"}
BAND = (0.5, 99.5)  # percentiles of the training clips' cues: a cue outside this band is unusual
UNLIKE_ALL = 5  # with this many unusual cues, a clip resembles none of the training datasets


class SourceModelError(ValueError):
    """A source-model file that cannot be used (missing, malformed or inconsistent)."""


@dataclass(frozen=True)
class Resemblance:
    """One clip: the probability of each training dataset and the cues outside the training band."""

    sources: tuple[str, ...]
    probabilities: np.ndarray  # (S,), sums to 1
    unusual: list[dict]  # {"cue", "value", "low", "high"} for each cue outside the band

    @property
    def best(self) -> str:
        return self.sources[int(np.argmax(self.probabilities))]

    @property
    def unlike_all(self) -> bool:
        return len(self.unusual) >= UNLIKE_ALL


@dataclass(frozen=True)
class SourceModel:
    sources: tuple[str, ...]  # display names, in the order of ``coef``'s rows
    spec: str  # the canonical spec applied to a clip before its cues
    mean: np.ndarray  # (NUM_CUES,) of the training cues
    scale: np.ndarray  # (NUM_CUES,) > 0
    coef: np.ndarray  # (S, NUM_CUES) on z-scored cues
    intercept: np.ndarray  # (S,)
    low: np.ndarray  # (NUM_CUES,) the band's lower edge (raw cue units)
    high: np.ndarray  # (NUM_CUES,)
    info: dict = field(default_factory=dict)  # how it was fitted and measured

    def __post_init__(self) -> None:
        s = len(self.sources)
        shapes = {"mean": (NUM_CUES,), "scale": (NUM_CUES,), "coef": (s, NUM_CUES), "intercept": (s,),
                  "low": (NUM_CUES,), "high": (NUM_CUES,)}
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise SourceModelError(f"source model: '{name}' has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise SourceModelError(f"source model: '{name}' holds a non-finite number")
        if s < 2:
            raise SourceModelError(f"source model: {s} source(s); it needs at least 2")
        if np.any(self.scale <= 0):
            raise SourceModelError("source model: 'scale' must be > 0 everywhere")
        Canonical.parse(self.spec)  # raises ValueError with the reason

    # ------------------------------------------------------------------ fitting
    @classmethod
    def fit(cls, cues: np.ndarray, source: np.ndarray, sources: tuple[str, ...], spec: str, c_reg: float,
            info: dict | None = None) -> "SourceModel":
        """A logistic regression (inverse L2 strength ``c_reg``) on z-scored ``cues`` (N, NUM_CUES) with
        labels ``source`` (N,) indexing ``sources``."""
        from sklearn.linear_model import LogisticRegression

        cues = np.asarray(cues, dtype=np.float64)
        mean = cues.mean(0)
        scale = cues.std(0)
        scale = np.where(scale > 0, scale, 1.0)
        lr = LogisticRegression(C=c_reg, max_iter=5000).fit((cues - mean) / scale, source)
        if list(lr.classes_) != list(range(len(sources))):
            raise ValueError(f"every source needs clips: got labels {list(lr.classes_)} for {len(sources)} sources")
        low, high = np.percentile(cues, BAND, axis=0)
        return cls(tuple(sources), spec, mean, scale, lr.coef_.astype(np.float64), lr.intercept_.astype(np.float64),
                   low, high, dict(info or {}))

    # ------------------------------------------------------------------ use
    def cue_probabilities(self, cues: np.ndarray) -> np.ndarray:
        """(N, NUM_CUES) cues -> (N, S) probabilities (softmax of the linear scores)."""
        z = (np.asarray(cues, dtype=np.float64) - self.mean) / self.scale
        logits = z @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def unusual_cues(self, cues: np.ndarray) -> list[dict]:
        """The cues of one clip (NUM_CUES,) outside the training band: {"cue", "value", "low", "high"} each."""
        names = cue_names()
        return [{"cue": names[i], "value": float(cues[i]), "low": float(self.low[i]), "high": float(self.high[i])}
                for i in np.flatnonzero((cues < self.low) | (cues > self.high))]

    def resemblance(self, frames: np.ndarray) -> Resemblance:
        """Raw frames (M, T, 25, 3) of one clip -> its ``Resemblance`` (the model's own canonical spec first)."""
        cues = recording_cues(Canonical.parse(self.spec).apply(frames))
        return Resemblance(self.sources, self.cue_probabilities(cues[None])[0], self.unusual_cues(cues))

    # ------------------------------------------------------------------ file
    def to_dict(self) -> dict:
        return {"format": FORMAT, "sources": list(self.sources), "spec": self.spec, "cues": cue_names(),
                **{k: getattr(self, k).tolist() for k in ("mean", "scale", "coef", "intercept", "low", "high")},
                "info": self.info}

    @classmethod
    def from_dict(cls, d: dict) -> "SourceModel":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise SourceModelError(f"not a source model: 'format' is {d.get('format') if isinstance(d, dict) else d!r}, "
                                   f"expected {FORMAT!r}")
        if d.get("cues") != cue_names():
            raise SourceModelError("source model: its cue list differs from this version's star.skeleton.cues")
        try:
            arrays = {k: np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef", "intercept", "low",
                                                                     "high")}
            return cls(tuple(str(s) for s in d["sources"]), str(d["spec"]), info=dict(d.get("info", {})), **arrays)
        except KeyError as exc:
            raise SourceModelError(f"source model: the field {exc} is missing") from None
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SourceModelError):
                raise
            raise SourceModelError(f"source model: {exc}") from None

    def save(self, path: str | Path) -> Path:
        """Write the JSON atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f, indent=1)
                f.write("\n")
            os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a shipped asset
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


def load_source_model(path: str | Path = SOURCE_MODEL_FILE) -> SourceModel:
    path = Path(path)
    if not path.is_file():
        raise SourceModelError(f"{path}: no source model (bench/source_model.py writes it)")
    try:
        d = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SourceModelError(f"{path}: not valid JSON ({exc})") from None
    return SourceModel.from_dict(d)
