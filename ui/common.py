"""Streamlit glue shared by the pages: cached loaders, the sidebar, and the current checkpoint/gamma.

Every page script (``app.py`` and ``pages/*.py``) starts with ``view = page("Title")``: page config, the
sidebar (page links, checkpoint picker, gamma slider), the title, and the loaded checkpoint (None after an error
box). Streamlit runs one page script per rerun (classic multipage app): whichever page is open renders the sidebar.
State shared across pages sits in ``st.session_state``: ``checkpoint_pick`` / ``checkpoint_path`` (the picker's
choice), ``view`` (the loaded ``ModelView`` or None), ``checkpoint_key``, ``checkpoint_error`` and ``gamma``.
No model math here: it calls ``star.appstate``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from star import appstate
from star.skeleton.clip import Clip
from star.checkpoint import CheckpointError, default_checkpoint_root

# The sidebar's page links (script relative to app.py, label, icon). Streamlit's own list of the pages/ folder is
# switched off in .streamlit/config.toml: it would label app.py "app".
NAV = (("app.py", "Model", ":material/info:"),
       ("pages/1_Predict.py", "Predict", ":material/directions_run:"),
       ("pages/2_Embedding_spaces.py", "Embedding spaces", ":material/scatter_plot:"),
       ("pages/3_Confusion.py", "Confusion", ":material/grid_on:"),
       ("pages/4_Calibration.py", "Calibration", ":material/tune:"))


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


def _remember(state_key: str, widget_key: str):
    """on_change callback: copy a sidebar widget's value to a plain session-state key.

    Each page script renders its own sidebar widgets (Streamlit gives them per-page ids), so a widget's own state
    is dropped on a page switch; the plain key keeps the choice, and every page's widget starts from it.
    """
    def copy() -> None:
        st.session_state[state_key] = st.session_state[widget_key]
    return copy


def _pick_checkpoint() -> str | None:
    """The picked (``checkpoint_pick``: a name under the root) or typed (``checkpoint_path``) checkpoint path."""
    root = default_checkpoint_root()
    by_name = {p.name: p for p in appstate.checkpoint_options(root)}
    pick = st.session_state.get("checkpoint_pick")
    if by_name:
        names = list(by_name)
        index = names.index(pick) if pick in by_name else appstate.default_index(list(by_name.values()))
        pick = st.sidebar.selectbox("Checkpoint", names, index=index, key="checkpoint_pick_widget",
                                    on_change=_remember("checkpoint_pick", "checkpoint_pick_widget"),
                                    help=f"Checkpoints in {root} (set STAR_CHECKPOINTS to change)")
        st.session_state["checkpoint_pick"] = pick
    else:
        st.sidebar.warning(f"No checkpoints found in {root}")
        pick = None
    typed = st.sidebar.text_input("…or a checkpoint path", value=st.session_state.get("checkpoint_path", ""),
                                  key="checkpoint_path_widget",
                                  on_change=_remember("checkpoint_path", "checkpoint_path_widget"),
                                  help="A checkpoint folder (with model.json, model.safetensors, bundle.npz); "
                                       "overrides the picker while not empty")
    if typed.strip():
        return typed.strip()
    return None if pick is None else str(by_name[pick])


def sidebar() -> None:
    """Page links, checkpoint picker, gamma slider; sets session_state view / checkpoint_key / checkpoint_error / gamma.

    ``gamma`` (a plain session-state value, not the widget's) is the one every page reads; the slider writes it
    in its on_change callback, so it survives page switches (as ``checkpoint_pick`` / ``checkpoint_path`` do).
    """
    st.sidebar.title("STAR Studio")
    for script, label, icon in NAV:
        st.sidebar.page_link(script, label=label, icon=icon)
    st.sidebar.divider()
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

    st.sidebar.slider("gamma (calibrated stacking)", min_value=lo, max_value=hi,
                      value=min(max(float(st.session_state["gamma"]), lo), hi), step=0.001, format="%.3f",
                      key=view.gamma_key, on_change=_remember("gamma", view.gamma_key),
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


def page(title: str) -> appstate.ModelView | None:
    """Start a page: page config, the shared sidebar, the title; the loaded checkpoint, or None (error shown)."""
    st.set_page_config(page_title=f"{title} · STAR Studio", page_icon=":material/accessibility_new:", layout="wide")
    sidebar()
    st.title(title)
    return current_view()
