"""STAR Studio: the Streamlit entry point (``make app`` or ``streamlit run app.py``).

Sidebar: checkpoint picker (every checkpoint under ``checkpoints/`` or ``$STAR_CHECKPOINTS``, plus a typed
path) and the gamma slider shared by every page. Pages live in ``pages/``; heavy objects are cached in
``pages/common.py``. State shared across pages sits in ``st.session_state``: ``view`` (the loaded checkpoint's
``ModelView``, or None), ``checkpoint_error`` and ``gamma``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from pages import common  # noqa: E402

st.set_page_config(page_title="STAR Studio", page_icon="🦴", layout="wide")

PAGES = [
    st.Page("pages/model.py", title="Model", icon="📋", default=True),
    st.Page("pages/predict.py", title="Predict", icon="🎯"),
    st.Page("pages/embeddings.py", title="Embedding spaces", icon="🌌"),
    st.Page("pages/confusion.py", title="Confusion", icon="🔀"),
    st.Page("pages/calibration.py", title="Calibration", icon="⚖️"),
]
nav = st.navigation(PAGES)
common.sidebar()
nav.run()
