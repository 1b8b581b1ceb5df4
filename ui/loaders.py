"""Cached loaders and computations shared by the pages (``st.cache_resource`` / ``st.cache_data``).

Every cache is keyed by a checkpoint key ``(resolved path, bundle mtime_ns, bundle size)`` from
``ui.checkpoints.cache_key``, so a rewritten checkpoint is loaded afresh. Models and views are resources (shared
by sessions, read-only, not copied per rerun); per-clip results and plot inputs are data.

Uploaded videos (``video``) are kept per upload (sha256 of the bytes and the file name) in a small process-wide
store instead of ``st.cache_data``: the extraction draws a progress bar, and a cached function would record that
bar's updates and replay them on every cache hit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import streamlit as st

from star.skeleton.clip import Clip
from star.video.models import PoseModelsMissing
from ui import model_view
from ui import video as video_helpers
from ui.model_view import ModelView

Key = tuple[str, int, int]


@st.cache_resource(show_spinner="Loading checkpoint...", max_entries=16)
def load_view(key: Key) -> ModelView:
    """The checkpoint's sidecar, weights and bundle (validated; raises ``CheckpointError``)."""
    return ModelView.load(key[0])


@st.cache_resource(show_spinner="Loading the model...", max_entries=4)
def load_predictor(key: Key):
    from star.inference import Predictor

    return Predictor.load(key[0])


@st.cache_data(max_entries=64, show_spinner="Predicting...")
def predict(key: Key, frames: np.ndarray, source: str, gamma: float, top_k: int):
    """``Predictor.predict`` for one clip (frames (M, T, 25, 3)), cached so widget changes don't recompute it."""
    return load_predictor(key).predict([Clip(frames, source)], gamma=gamma, top_k=top_k)[0]


@st.cache_data(max_entries=64, show_spinner="Embedding the names with the checkpoint's text encoder...")
def rank_names(key: Key, frames: np.ndarray, names: tuple[str, ...]) -> list[dict]:
    return load_predictor(key).rank_names([Clip(frames)], list(names))[0]


@st.cache_data(max_entries=32, show_spinner="Computing t-SNE (once per checkpoint, then cached on disk)...")
def tsne(key: Key, what: str, cache_dir: str | None) -> dict:
    return model_view.tsne_for(load_view(key), what, cache_dir)


@st.cache_resource(show_spinner=False)
def source_model():
    """The shipped source model (``star.source_model``), or the reason it cannot be used (a str)."""
    from star.source_model import SourceModelError, load_source_model

    try:
        return load_source_model()
    except SourceModelError as exc:
        return str(exc)


@st.cache_data(max_entries=64, show_spinner=False)
def resemblance(frames: np.ndarray):
    """Which training dataset the clip's recording resembles (``SourceModel.resemblance``); None without a model."""
    model = source_model()
    return None if isinstance(model, str) else model.resemblance(frames)


@st.cache_data(max_entries=32)
def curve(key: Key) -> dict:
    return model_view.su_curve_data(load_view(key))


@st.cache_data(max_entries=32)
def bounds(key: Key) -> tuple[float, float]:
    return model_view.gamma_bounds(load_view(key))


# ----------------------------------------------------------------------------------- uploaded videos
VIDEO_ENTRIES = 8  # outcomes kept (a result is a clip plus four overlay images, a few MB)


class VideoStore:
    """Outcomes of processed uploads by ``ui.video.upload_key`` (least recently used first out); thread-safe."""

    def __init__(self, max_entries: int = VIDEO_ENTRIES):
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, str], video_helpers.VideoOutcome] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key, outcome) -> None:
        with self._lock:
            self._items[key] = outcome
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@st.cache_resource
def video_store() -> VideoStore:
    return VideoStore()


def video(name: str, data: bytes) -> video_helpers.VideoOutcome:
    """The pose of an uploaded video, extracted once per upload (``ui.video.outcome_of_upload``) with a progress
    bar updated from ``on_progress(done_frames, total_frames)``; later reruns and sessions reuse the outcome.
    The page checks ``ui.video.models_problem`` first; models missing all the same give an outcome with their
    error, not kept."""
    key = video_helpers.upload_key(name, data)
    store = video_store()
    outcome = store.get(key)
    if outcome is None:
        label = f"Extracting the pose from {key[1]}..."
        bar = st.progress(0.0, text=label)
        shown = [-1]

        def on_progress(done: int, total: int) -> None:
            percent = min(100, round(100 * done / total)) if total > 0 else 0
            if percent != shown[0] or total <= 0 and done % 25 == 0:  # one message per percent, not per frame
                shown[0] = percent
                bar.progress(percent / 100, text=f"{label} frame {done}" + (f" of {total}" if total > 0 else ""))

        try:
            outcome = video_helpers.outcome_of_upload(key[1], data, on_progress)
        except PoseModelsMissing as exc:  # removed since the page checked: said, not kept
            return video_helpers.VideoOutcome(error=str(exc))
        finally:
            bar.empty()
        store.put(key, outcome)
    return outcome
