"""Streamlit glue shared by the pages: cached loaders, the sidebar, and the current checkpoint/gamma.

Not a page (app.py lists the pages explicitly). No model math here: it calls ``star.appstate``.
"""

from __future__ import annotations


import numpy as np
import streamlit as st

from star import appstate
from star.skeleton.clip import Clip
from star.checkpoint import CheckpointError, default_checkpoint_root


@st.cache_resource(show_spinner="Loading checkpoint...")
def load_view(key: tuple[str, int, int]) -> appstate.ModelView:
    """The checkpoint's sidecar + bundle, cached per (path, bundle mtime, size). Read-only: shared by sessions
    (cache_resource, not cache_data, so the bundle arrays are not copied on every rerun)."""
    return appstate.ModelView.load(key[0])


@st.cache_resource(show_spinner="Loading the model...")
def load_predictor(key: tuple[str, int, int]):
    from star.inference import Predictor

    return Predictor.load(key[0])


@st.cache_data(max_entries=64, show_spinner="Predicting...")
def predict(key: tuple[str, int, int], frames: np.ndarray, source: str, gamma: float, top_k: int):
    """``Predictor.predict`` for one clip (frames (M, T, 25, 3)), cached so widget changes don't recompute it."""
    return load_predictor(key).predict([Clip(frames, source)], gamma=gamma, top_k=top_k)[0]


@st.cache_data(max_entries=64, show_spinner="Embedding the names with the checkpoint's text encoder...")
def rank_names(key: tuple[str, int, int], frames: np.ndarray, names: tuple[str, ...]) -> list[dict]:
    return load_predictor(key).rank_names([Clip(frames)], list(names))[0]


@st.cache_data(show_spinner="Computing t-SNE (once per checkpoint, then cached on disk)...")
def tsne(key: tuple[str, int, int], what: str) -> dict:
    return appstate.tsne_for(load_view(key), what)


@st.cache_data
def curve(key: tuple[str, int, int]) -> dict:
    return appstate.su_curve_data(load_view(key))


@st.cache_data
def bounds(key: tuple[str, int, int]) -> tuple[float, float]:
    return appstate.gamma_bounds(load_view(key))


def _pick_checkpoint() -> str | None:
    root = default_checkpoint_root()
    options = appstate.checkpoint_options(root)
    typed = st.sidebar.text_input("…or a checkpoint path", key="checkpoint_path",
                                  help="A checkpoint folder (with model.json, model.safetensors, bundle.npz)")
    by_name = {p.name: p for p in options}
    if options:
        pick = st.sidebar.selectbox("Checkpoint", list(by_name), index=appstate.default_index(options),
                                    key="checkpoint_pick", help=f"Checkpoints in {root} (set STAR_CHECKPOINTS to change)")
    else:
        st.sidebar.warning(f"No checkpoints found in {root}")
        pick = None
    if typed.strip():
        return typed.strip()
    return None if pick is None else str(by_name[pick])


def sidebar() -> None:
    """Checkpoint picker + gamma slider; sets session_state view / checkpoint_key / checkpoint_error / gamma.

    ``gamma`` (a plain session-state value, not the widget's) is the one every page reads; the slider writes it
    in its on_change callback, so it survives page switches.
    """
    st.sidebar.title("STAR Studio")
    path = _pick_checkpoint()
    st.session_state.update(view=None, checkpoint_key=None, checkpoint_error=None)
    if path is None:
        st.session_state["checkpoint_error"] = "no checkpoint selected"
        return
    try:
        key = appstate.cache_key(path)
        view = load_view(key)
    except (CheckpointError, OSError) as exc:
        st.session_state["checkpoint_error"] = str(exc)
        st.sidebar.error(f"Cannot load checkpoint: {exc}")
        return
    st.session_state.update(view=view, checkpoint_key=key)
    lo, hi = bounds(key)
    if st.session_state.get("gamma_for") != view.gamma_key:  # a newly picked checkpoint starts at its own gamma
        st.session_state.update(gamma=view.gamma, gamma_for=view.gamma_key)

    def moved() -> None:
        st.session_state["gamma"] = float(st.session_state[view.gamma_key])

    st.sidebar.slider("gamma (calibrated stacking)", min_value=lo, max_value=hi,
                      value=min(max(float(st.session_state["gamma"]), lo), hi), step=0.001, format="%.3f",
                      key=view.gamma_key, on_change=moved,
                      help="Subtracted from every seen-class score in GZSL (paper eq. 9). "
                           f"The checkpoint's gamma is {view.gamma:.4f} ({view.meta['gamma'].get('chosen_by', '')}).")
    st.sidebar.caption(f"{view.meta['benchmark']} · {view.meta['model']} · checkpoint gamma {view.gamma:.4f}")


def current_view() -> appstate.ModelView | None:
    """The loaded checkpoint, or None after showing why (pages return early on None)."""
    view = st.session_state.get("view")
    if view is None:
        st.error(f"No checkpoint loaded: {st.session_state.get('checkpoint_error') or 'pick one in the sidebar'}")
    return view


def gamma() -> float:
    return float(st.session_state["gamma"])
