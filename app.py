"""STAR Studio: the Streamlit entry point (``make app`` or ``streamlit run app.py``).

Sidebar: checkpoint picker (every checkpoint under ``checkpoints/`` or ``$STAR_CHECKPOINTS``, plus a typed
path) and the gamma slider shared by every page. Pages live in ``app_pages/``; heavy objects are cached in
``app_pages/common.py``. (Not ``pages/``: Streamlit 1.67 treats a ``pages/`` folder next to the entry script as
a legacy multipage app until ``st.navigation`` has run once, so a fresh server opened on ``/calibration``
would run that page without this script, and AppTest loses the sidebar.)
State shared across pages sits in ``st.session_state``: ``view`` (the loaded checkpoint's ``ModelView``, or
None), ``checkpoint_key``, ``checkpoint_error`` and ``gamma``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app_pages import common  # noqa: E402

st.set_page_config(page_title="STAR Studio", page_icon=":material/accessibility_new:", layout="wide")

PAGES = [
    st.Page("app_pages/model.py", title="Model", icon=":material/info:", default=True),
    st.Page("app_pages/predict.py", title="Predict", icon=":material/directions_run:"),
    st.Page("app_pages/embeddings.py", title="Embedding spaces", icon=":material/scatter_plot:"),
    st.Page("app_pages/confusion.py", title="Confusion", icon=":material/grid_on:"),
    st.Page("app_pages/calibration.py", title="Calibration", icon=":material/tune:"),
]
nav = st.navigation(PAGES)
common.sidebar()
nav.run()
