"""Cached loaders and computations shared by the pages (``st.cache_resource`` / ``st.cache_data``).

Every cache is keyed by a checkpoint key ``(resolved path, bundle mtime_ns, bundle size)`` from
``ui.checkpoints.cache_key``, so a rewritten checkpoint is loaded afresh. Models and views are resources (shared
by sessions, read-only, not copied per rerun); per-clip results and plot inputs are data.

Uploaded videos (``video``) are kept per upload (sha256 of the bytes and the file name) in a small process-wide
store instead of ``st.cache_data``: the extraction draws a progress bar, and a cached function would record that
bar's updates and replay them on every cache hit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from collections import OrderedDict

import numpy as np
import streamlit as st

from star.skeleton.clip import Clip
from star.video.models import PoseModelsMissing
from ui import model_view
from ui import video as video_helpers
from ui.model_view import ModelView

Key = tuple[str, int, int]


TTL = "30m"  # a cached model or per-clip result unused this long is dropped, so memory comes back after sessions


@st.cache_resource(show_spinner="Loading checkpoint...", max_entries=4, ttl=TTL)
def load_view(key: Key) -> ModelView:
    """The checkpoint's sidecar, weights and bundle (validated; raises ``CheckpointError``)."""
    return ModelView.load(key[0])


@st.cache_resource(show_spinner="Loading the model...", max_entries=3, ttl=TTL)
def load_predictor(key: Key):
    from star.inference import Predictor

    return Predictor.load(key[0])


# Per-clip results are resources (one shared read-only object, never copied): a rerun that only changes gamma,
# top-k or the vocabulary reuses the forward pass and the figures instead of rebuilding them.
@st.cache_resource(max_entries=32, ttl=TTL, show_spinner="Predicting...")
def predict(key: Key, frames: np.ndarray, source: str):
    """``Predictor.predict`` for one clip (frames (M, T, 25, 3)) at the checkpoint's gamma with every class in
    its top lists; pages rank it at the current gamma and k with ``star.inference.top_lists``."""
    predictor = load_predictor(key)
    return predictor.predict([Clip(frames, source)], top_k=len(predictor.class_names))[0]


@st.cache_resource(max_entries=32, ttl=TTL, show_spinner="Occluding each body part (one forward pass)...")
def occlusion(key: Key, frames: np.ndarray, source: str) -> dict:
    """``Predictor.occlusion`` of one clip (every part occluded in turn; ``star.occlusion``)."""
    return load_predictor(key).occlusion(Clip(frames, source))


_DEPENDENCE: OrderedDict = OrderedDict()  # (checkpoint key, data folder) -> star.occlusion.test_clip_dependence


def part_dependence(key: Key, data_dir: str) -> dict:
    """Which parts each class depends on, over the checkpoint's test clips (an explicitly started batch: a progress
    bar while it runs, then kept for the process, at most 4)."""
    from star.occlusion import test_clip_dependence

    if (key, data_dir) not in _DEPENDENCE:
        bar = st.progress(0.0, text="Occluding each part of every test clip...")
        result = test_clip_dependence(load_predictor(key), data_dir, progress=lambda done, total: bar.progress(
            done / total, text=f"Occluding each part: {done} of {total} test clips"))
        bar.empty()
        _DEPENDENCE[(key, data_dir)] = result
        while len(_DEPENDENCE) > 4:
            _DEPENDENCE.popitem(last=False)
    return _DEPENDENCE[(key, data_dir)]


@st.cache_resource(max_entries=16, ttl=TTL, show_spinner="Drawing the skeleton...")
def animation(frames: np.ndarray):
    from star import viz

    return viz.skeleton_animation(frames, title="Joints and bones by body part")


@st.cache_resource(max_entries=32, ttl=TTL, show_spinner=False)
def attention_figure(key: Key, frames: np.ndarray, source: str, relative: bool):
    from star import viz

    pred, view = predict(key, frames, source), load_view(key)
    title = ("Where each part's prompts attend, relative to uniform (x1 = every token of the part alike)" if relative
             else "Where each part's prompts attend: raw weights (each part's weights sum to 1)")
    return viz.part_attention_heatmaps(pred.attention_time_joint, int(view.meta["num_parts"]), title=title,
                                       relative=relative)


@st.cache_resource(max_entries=8, ttl=TTL, show_spinner="Reading the clip bank...")
def bank_samples(path) -> list:
    from ui.clips import bank_samples as samples

    return samples(path)


@st.cache_resource(max_entries=2, ttl=TTL, show_spinner="Reading the clip bank...")
def uploaded_bank(name: str, data: bytes):
    """An uploaded bank / pyskl pickle / CTR-GCN arrays, read once per content (``ui.clips.bank_from_upload``)."""
    from ui.clips import bank_from_upload

    return bank_from_upload(name, data)


@st.cache_resource(max_entries=64, ttl=TTL, show_spinner=False)
def sample_clip(sample) -> Clip:
    """A built-in sample or a clip of a bank (read once; the clip is shared, never modified)."""
    from ui.clips import load_sample

    return load_sample(sample)


@st.cache_data(max_entries=64, show_spinner="Embedding the names with the checkpoint's text encoder...", ttl=TTL)
def rank_names(key: Key, frames: np.ndarray, source: str, names: tuple[str, ...], top_k: int) -> list[dict]:
    """The clip (its cached prediction's global feature) ranked against ``names``, best ``top_k``."""
    feature = predict(key, frames, source).global_feature
    return load_predictor(key).rank_features(feature[None], list(names), top_k)[0]


@st.cache_resource(max_entries=16, ttl=TTL, show_spinner=False)
def _tsne(key: Key, what: str, cache_dir: str | None) -> dict:
    return model_view.tsne_for(load_view(key), what, cache_dir)


_TSNE_RATE = [1.0, 0.004]  # seconds = a + b x points; b updated from each t-SNE this process computes


@st.cache_resource(max_entries=12, ttl=TTL, show_spinner=False)
def tsne_figure(key: Key, what: str, cache_dir: str | None, title: str, height: int, legend_below: bool):
    """The Embedding page's scatter of one t-SNE, built once per checkpoint and view (``star.viz.embedding_scatter``)."""
    from star import viz

    d = tsne(key, what, cache_dir)
    return viz.embedding_scatter(d["xy"], d["groups"], d["hover"], d["symbols"], title=title, height=height,
                                 legend_below=legend_below)


COMPARE_REPLICATES = 1000  # bootstrap replicates of the Compare page (star compare's default)


@st.cache_resource(max_entries=8, ttl=TTL,
                   show_spinner="Comparing: 1,000 paired bootstrap replicates (a few seconds, once per pair)...")
def comparison(key_a: Key, key_b: Key):
    """``star.compare.compare`` of two loaded checkpoints (A = the sidebar's), cached per pair."""
    from star.compare import compare

    a, b = load_view(key_a), load_view(key_b)
    return compare(a.meta, a.bundle, b.meta, b.bundle, replicates=COMPARE_REPLICATES)


@st.cache_resource(max_entries=8, ttl=TTL, show_spinner=False)
def comparison_curves(key_a: Key, key_b: Key):
    """Both models' seen-unseen curves and their points at their own gammas, on one figure."""
    from star import viz

    curves, points = {}, {}
    for key in (key_a, key_b):
        view = load_view(key)
        data = model_view.su_curve_data(view)
        curves[view.name] = (data["S"], data["U"])
        g = model_view.gzsl_at(view, view.gamma)
        points[view.name] = (g["S"], g["U"])
    return viz.su_curves(curves, points)


def tsne_expected_seconds(points: int) -> float:
    return _TSNE_RATE[0] + _TSNE_RATE[1] * points


def tsne(key: Key, what: str, cache_dir: str | None) -> dict:
    """A t-SNE from memory or the disk cache at once; otherwise computed in a worker thread while a progress bar
    shows the elapsed and the expected time (from the points and this process's last t-SNE)."""
    view = load_view(key)
    if model_view.tsne_cached(view, what, cache_dir):
        return _tsne(key, what, cache_dir)
    n = len(model_view.tsne_points(view, what)["points"])
    expected = tsne_expected_seconds(n)
    label = f"Computing the t-SNE of {n} points (once for this checkpoint, then kept on disk)"
    bar = st.progress(0.0, text=f"{label}: about {expected:.0f} s")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        job = pool.submit(_tsne, key, what, cache_dir)
        while True:
            try:
                result = job.result(timeout=0.5)
                break
            except FuturesTimeout:
                took = time.perf_counter() - start
                bar.progress(min(took / expected, 0.99), text=f"{label}: {took:.0f} s of about {expected:.0f} s")
    took = time.perf_counter() - start
    _TSNE_RATE[1] = max(took - _TSNE_RATE[0], 0.1) / max(n, 1)
    bar.empty()
    return result


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
def gamma_scale(key: Key) -> model_view.GammaScale:
    return model_view.gamma_scale(load_view(key))


# ----------------------------------------------------------------------------------- busy
class ActiveRuns:
    """How many script runs are in progress in this process (all sessions); thread-safe."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def enter(self) -> int:
        """Count one more run; the number of other runs in progress when it started."""
        with self._lock:
            self._count += 1
            return self._count - 1

    def exit(self) -> None:
        with self._lock:
            self._count = max(self._count - 1, 0)


@st.cache_resource
def active_runs() -> ActiveRuns:
    return ActiveRuns()


# ----------------------------------------------------------------------------------- warm-up
_warm_lock = threading.Lock()
_warmed: set[Key] = set()
WARM_DELAY_S = 3.0


def _background_priority() -> None:
    """Lower the calling thread's CPU priority (Linux schedules threads alone), so work done ahead of time yields
    the cores to the sessions' own runs; elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 15)
    except (AttributeError, OSError):
        pass


def compute_sample(key: Key, sample) -> None:
    """Predict and draw one built-in sample into the caches: what the Predict page shows for it first."""
    clip = sample_clip(sample)
    pred = predict(key, clip.frames, clip.source)
    animation(clip.frames)
    if pred.attention_time_joint is not None:
        attention_figure(key, clip.frames, clip.source, True)


def warm_samples(key: Key, samples: list, vocabularies: list[list[str]] = ()) -> bool:
    """Predict and draw every built-in sample for this checkpoint once, in a background thread, so that switching
    samples on Predict only draws; then embed the ``vocabularies`` (name lists) with its text encoder. Started at
    most once per checkpoint and process; True if started now."""
    with _warm_lock:
        if key in _warmed:
            return False
        _warmed.add(key)

    def work() -> None:
        _background_priority()
        if _stop_warming.wait(WARM_DELAY_S):  # after the page that started it has been drawn; or the process ends
            return
        for sample in samples:
            if _stop_warming.is_set():
                return
            try:
                compute_sample(key, sample)
            except Exception:  # noqa: BLE001  (a warm-up never breaks the app: the page computes it again)
                return
        if vocabularies:  # the preset lists' text vectors (loads the text encoder once, off the page's path)
            try:
                predictor = load_predictor(key)
                for names in vocabularies:
                    predictor.name_vectors([n for n in names if n not in predictor.class_names])
            except Exception:  # noqa: BLE001  (an encoder that cannot load says so when the page asks for it)
                return

    # cached functions called outside a script run log "missing ScriptRunContext" at every call: expected here
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    thread = threading.Thread(target=work, name="star-warm-samples", daemon=True)
    _warm_threads.append(thread)
    thread.start()
    return True


def warm_start() -> bool:
    """What a new server's first page view needs, computed before anyone asks (``ui.serve`` runs this in a background
    thread once the server is up): the checkpoint the app opens first (its view, model and gamma scale) and its first
    built-in sample predicted and drawn. A session that arrives meanwhile waits on the same cache entries instead of
    computing them again. Stops between steps when the process ends; never raises (the page computes whatever
    failed and says why). True if every step ran."""
    from ui import checkpoints, clips

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    try:
        choices = checkpoints.checkpoint_choices()
        label = checkpoints.default_choice(list(choices))
        if label is None:
            return False
        key = checkpoints.cache_key(choices[label])
        view = load_view(key)
        steps = [lambda: load_predictor(key)]
        if view.has_unseen:
            steps.append(lambda: gamma_scale(key))
        samples = clips.builtin_samples()
        if samples:
            steps.append(lambda: compute_sample(key, samples[0]))
        for step in steps:
            if _stop_warming.is_set():
                return False
            step()
        return True
    except Exception:  # noqa: BLE001  (a warm-up never breaks the server)
        return False


def join_at_exit(thread: threading.Thread) -> None:
    """Have the process stop and join ``thread`` (a warm-up) at exit, as ``warm_samples``' threads."""
    _warm_threads.append(thread)


_stop_warming = threading.Event()
_warm_threads: list[threading.Thread] = []


@atexit.register
def _end_warm_ups(timeout_s: float = 60.0) -> None:
    """At exit, let a running warm-up finish its step and stop: a daemon thread still inside torch when the
    interpreter finalises aborts the process ("terminate called without an active exception", exit status 134)."""
    _stop_warming.set()
    deadline = time.monotonic() + timeout_s
    for thread in _warm_threads:
        thread.join(max(0.0, deadline - time.monotonic()))


# ----------------------------------------------------------------------------------- uploaded videos
VIDEO_ENTRIES = 8  # outcomes kept (a result is a clip, four overlay images and the video's display copy)
VIDEO_BYTES = 512 * 2**20  # and at most this many bytes of them together (a display copy can be the upload itself)


def outcome_bytes(outcome) -> int:
    """About how much memory a ``ui.video.VideoOutcome`` holds: its display copy, overlays and clip frames."""
    total = len(getattr(outcome, "display", None) or b"")
    result = getattr(outcome, "result", None)
    if result is not None:
        total += int(result.clip.frames.nbytes) + sum(int(image.nbytes) for _, image in result.overlays)
    return total


class VideoStore:
    """Outcomes of processed uploads by ``ui.video.upload_key`` (least recently used first out, at most
    ``max_entries`` and ``max_bytes``, the newest always kept); thread-safe."""

    def __init__(self, max_entries: int = VIDEO_ENTRIES, max_bytes: int = VIDEO_BYTES):
        self.max_entries, self.max_bytes = max_entries, max_bytes
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
            while len(self._items) > 1 and (len(self._items) > self.max_entries or
                                            sum(outcome_bytes(o) for o in self._items.values()) > self.max_bytes):
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
