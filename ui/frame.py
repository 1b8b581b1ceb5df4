"""The app's frame: the sidebar drawn once per run by ``app.py`` around whichever page is open, and what pages read.

``app.py`` calls ``sidebar()`` before running the page: the checkpoint picker, a typed path, a ``.zip`` upload
and the gamma slider. They are widgets of the entry script with stable keys, so Streamlit keeps their values
across page switches by itself. Session-state keys:

- widgets: ``checkpoint_pick`` (a label from ``ui.checkpoints.checkpoint_choices``), ``checkpoint_path`` (typed
  path), ``checkpoint_zip`` (uploaded archive), ``gamma`` (the slider; every page reads it through ``gamma()``);
- the frame's own: ``checkpoint_upload`` (the ``UploadedCheckpoint`` holding the unpacked zip's temporary
  folder), ``gamma_for`` (the identity of the checkpoint ``gamma`` belongs to: a newly opened checkpoint starts
  at its own gamma), ``loaded`` (the ``Loaded`` checkpoint of this run).

Which checkpoint: an uploaded zip while one is in the upload box, else a typed path while the box is not empty,
else the picker. Pages start with ``view = frame.view()`` (None after an error box) and use ``key()``,
``gamma()``, ``tsne()`` and ``open_vocabulary_allowed()``. No model math here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from star.checkpoint import CheckpointError
from star.paths import cache_dir
from ui import loaders, uploads
from ui.checkpoints import (UPLOAD_LIMIT_MB, CheckpointRefused, UploadedCheckpoint, cache_key, checkpoint_choices,
                            default_choice, encoder_is_safe, resolve_typed_path, visitor_message, zero_shot_choice)
from ui.model_view import ModelView

PICK, PATH, ZIP, GAMMA = "checkpoint_pick", "checkpoint_path", "checkpoint_zip", "gamma"
SLIDER, BOX = "gamma_slider", "gamma_box"
UPLOAD, GAMMA_FOR, LOADED = "checkpoint_upload", "gamma_for", "loaded"


@dataclass
class Loaded:
    """The checkpoint of this run: its label (what the visitor picked, typed or uploaded), the view and cache key,
    or the error to show; ``upload`` is set for an uploaded checkpoint."""

    label: str
    view: ModelView | None = None
    key: loaders.Key | None = None
    error: str | None = None
    upload: UploadedCheckpoint | None = None


def _sweep_uploads() -> None:
    """Remove the upload folders of ended sessions: not active for longer than Streamlit keeps a disconnected
    session for its browser to come back (``ui.uploads``). Under ``AppTest`` (no runtime) only forget released ones."""
    from streamlit import runtime

    alive = runtime.get_instance().is_active_session if runtime.exists() else (lambda _: True)
    uploads.REGISTRY.sweep(alive, float(st.get_option("server.disconnectedSessionTTL")))


_SWEEPER = uploads.SweepTimer(_sweep_uploads, uploads.sweep_period_s())  # the sweep when no session reruns


def _hold_upload(up) -> UploadedCheckpoint | None:
    """The unpacked upload for the file in the upload box (unpacked once per file; the previous one removed)."""
    _sweep_uploads()  # on every rerun of any session, and in the background
    _SWEEPER.ensure()
    held: UploadedCheckpoint | None = st.session_state.get(UPLOAD)
    if held is not None and (up is None or held.file_id != up.file_id):
        if held.path is not None and held.path.is_dir():  # drop its cached view and model with the folder
            gone = cache_key(held.path)
            loaders.load_view.clear(gone)
            loaders.load_predictor.clear(gone)
        held.release()
        del st.session_state[UPLOAD]
        held = None
    if up is not None and held is None:
        with st.spinner("Checking and unpacking the archive..."):
            held = UploadedCheckpoint.unpack(up.file_id, up.name, up.getvalue())
        st.session_state[UPLOAD] = held
        if held.path is not None:  # removed once the session has ended, with its cached view and model
            ckey = cache_key(held.path)
            uploads.REGISTRY.add(get_script_run_ctx().session_id, held,
                                 lambda: (loaders.load_view.clear(ckey), loaders.load_predictor.clear(ckey)))
    return held


def _choose() -> tuple[Loaded, Path | None]:
    """Draw the checkpoint widgets; the chosen checkpoint's label and folder (None with an error)."""
    choices = checkpoint_choices()
    labels = list(choices)
    if labels:
        if st.session_state.get(PICK) not in choices:
            st.session_state[PICK] = default_choice(labels)
        st.sidebar.selectbox("Checkpoint", labels, key=PICK,
                             help="The checkpoints in the server's checkpoint folders ($STAR_CHECKPOINT_DIRS)")
    else:
        st.sidebar.warning("No checkpoints in the configured checkpoint folders")
    typed = st.sidebar.text_input(
        "…or a checkpoint path", key=PATH,
        help="A checkpoint folder inside the configured checkpoint folders (absolute, or relative to one of "
             "them); overrides the picker while not empty")
    up = st.sidebar.file_uploader(
        "…or upload a checkpoint (.zip)", type=["zip"], key=ZIP, max_upload_size=UPLOAD_LIMIT_MB,
        help="A zip of a checkpoint folder: model.safetensors, model.json and bundle.npz (at its top level or in "
             "one folder). Checked and unpacked into a temporary folder; overrides the picker and the path.")
    held = _hold_upload(up)
    if held is not None:
        return Loaded(f"{held.label} (uploaded)", error=held.error, upload=held), held.path
    if typed.strip():
        try:
            return Loaded(typed.strip()), resolve_typed_path(typed)
        except CheckpointRefused as exc:
            return Loaded(typed.strip(), error=str(exc)), None
    if labels:
        return Loaded(st.session_state[PICK]), choices[st.session_state[PICK]]
    return Loaded("", error="no checkpoint selected"), None


def _set_gamma(value: float, scale) -> None:
    """The frame's gamma and both of its widgets (the slider clipped to its range); used before the widgets are
    drawn or from their callbacks."""
    value = float(value)
    st.session_state.update({GAMMA: value, BOX: round(value, 4),
                             SLIDER: round(min(max(value, scale.lo), scale.hi), scale.decimals)})


def _gamma_controls(view: ModelView, key: loaders.Key) -> None:
    """Gamma in the sidebar: a slider over the range that fits the checkpoint (``ui.model_view.gamma_scale``), a
    number box for an exact value, and a reset to the checkpoint's validated gamma. The value every page reads
    is ``st.session_state['gamma']``; the widgets follow it."""
    scale = loaders.gamma_scale(key)
    if st.session_state.get(GAMMA_FOR) != view.identity or GAMMA not in st.session_state:
        st.session_state[GAMMA_FOR] = view.identity
        _set_gamma(view.gamma, scale)
    elif SLIDER not in st.session_state or BOX not in st.session_state:  # widgets not drawn last run
        _set_gamma(st.session_state[GAMMA], scale)
    box = st.sidebar
    box.slider("gamma (calibrated stacking)", min_value=scale.lo, max_value=scale.hi, step=scale.step,
               format=f"%.{scale.decimals}f", key=SLIDER, on_change=lambda: _set_gamma(st.session_state[SLIDER], scale),
               help="Subtracted from every seen-class score in GZSL (paper eq. 9); larger favours unseen classes. "
                    f"The slider spans the margins of 98 % of the test clips, in steps of {scale.step:g}; type any "
                    f"value from {scale.box_lo:g} to {scale.box_hi:g} in the box.")
    left, right = box.columns([3, 2], vertical_alignment="bottom")
    left.number_input("gamma, exact", min_value=scale.box_lo, max_value=scale.box_hi, step=scale.step,
                      format="%.4f", key=BOX, on_change=lambda: _set_gamma(st.session_state[BOX], scale))
    right.button("Reset", key="gamma_reset", on_click=_set_gamma, args=(view.gamma, scale),
                 disabled=abs(float(st.session_state[GAMMA]) - view.gamma) < 1e-12,
                 help=f"Back to the checkpoint's gamma {view.gamma:.4f}, chosen on validation data")
    box.caption(f"{view.meta['benchmark']} · {view.meta['model']} · checkpoint gamma {view.gamma:.4f} "
                "(chosen on validation data)")


def sidebar() -> Loaded:
    """Draw the frame's sidebar (below the navigation) and load the chosen checkpoint; also kept as ``loaded``."""
    loaded, path = _choose()
    if path is not None:
        try:
            loaded.key = cache_key(path)
            loaded.view = loaders.load_view(loaded.key)
        except (CheckpointError, OSError) as exc:
            loaded.key, loaded.error = None, visitor_message(exc, path, loaded.label)
    st.session_state[LOADED] = loaded
    if loaded.view is None:
        st.sidebar.error(f"Cannot load checkpoint: {loaded.error}")
    elif loaded.view.has_unseen:
        _gamma_controls(loaded.view, loaded.key)
    else:
        st.sidebar.caption(f"{loaded.view.meta['benchmark']} · {loaded.view.meta['model']} · every class seen in "
                           "training: no gamma (it only trades seen against unseen classes)")
    return loaded


# ----------------------------------------------------------------------------------- what pages read
def loaded() -> Loaded:
    return st.session_state[LOADED]


def _through_the_frame() -> None:
    """Rerun through ``app.py`` when a page script was run on its own.

    Streamlit starts an app whose script has a ``pages/`` folder next to it in its legacy multipage mode (each
    page script run alone) until ``st.navigation`` has run once in the process; ``AppTest`` does so on every run.
    A page opened by its URL as the process's first run, or switched to in AppTest, then runs without the frame:
    switch the mode off (as ``st.navigation`` does) and rerun the same page, now inside the frame.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def view() -> ModelView | None:
    """The loaded checkpoint, or None after showing why in the page (pages return early on None)."""
    _through_the_frame()
    current = loaded()
    if current.view is None:
        st.error(f"No checkpoint loaded: {current.error or 'pick one in the sidebar'}")
    return current.view


def _open(label: str) -> None:
    st.session_state.update({PICK: label, PATH: ""})


def zero_shot_view(what: str) -> ModelView | None:
    """The loaded checkpoint if it has unseen classes; else None after saying in the page that ``what`` needs
    them, with a button that opens a checkpoint that has them (pages return early on None)."""
    current = view()
    if current is None or current.has_unseen:
        return current
    st.info(f"**{current.name}** was trained on every one of its classes, so it has no unseen classes: {what} "
            "needs a model that some classes were kept from.")
    label = zero_shot_choice(checkpoint_choices())
    if label is None:
        st.caption("No checkpoint with unseen classes is offered in the checkpoint folders.")
    else:
        st.button(f"Open {label}", key="open_zero_shot", on_click=_open, args=(label,), type="primary",
                  help="A checkpoint with seen and unseen classes (its GZSL gamma comes with it)")
    return None


def key() -> loaders.Key:
    return loaded().key


def gamma() -> float:
    """The sidebar's gamma; a checkpoint without unseen classes has no gamma control: its own (unused) value."""
    current = loaded().view
    if current is not None and not current.has_unseen:
        return current.gamma
    return float(st.session_state[GAMMA])


def tsne(what: str) -> dict:
    """The loaded checkpoint's t-SNE of 'skeleton', 'semantic' or 'semantic-noprompt' (``ui.model_view.tsne_for``),
    from the disk cache (``star.paths.cache_dir()``, keyed by the bundle's content, so an uploaded copy of a known
    checkpoint finds its results), or computed once with a progress bar."""
    return loaders.tsne(key(), what, str(cache_dir()))


def tsne_figure(what: str, title: str, height: int = 620, legend_below: bool = False):
    """The scatter of ``tsne(what)`` (computed first, with its progress bar, when not cached), built once per checkpoint."""
    tsne(what)
    return loaders.tsne_figure(key(), what, str(cache_dir()), title, height, legend_below)


def open_vocabulary_allowed() -> bool:
    """Server checkpoints always; an uploaded one only when its text encoder is not a weights file."""
    current = loaded()
    return current.upload is None or encoder_is_safe(current.view.meta)
