"""STAR Studio (``make app`` or ``streamlit run app.py``): the app's frame around the pages in ``pages/``.

Streamlit runs this script on every rerun: it declares the pages (``st.navigation`` over ``st.Page``: Model is
the default, at ``/``; the others at ``/predict``, ``/embedding_spaces``, ``/confusion``, ``/calibration``, ``/compare``),
draws the shared sidebar once (``ui.frame.sidebar``: checkpoint picker, typed path, ``.zip`` upload, gamma slider;
widgets with stable keys, so their values survive page switches) and the page title, then runs the open page.
Pages read the loaded checkpoint and gamma through ``ui.frame``; cached loaders live in ``ui/loaders.py``.
"""

from __future__ import annotations

import streamlit as st

from ui import frame, loaders

# No page icons: a ":material/...:" icon makes the browser fetch it from fonts.gstatic.com (Streamlit shows the
# page's icon as the tab's favicon), and emoji need an emoji font on the visitor's machine (a headless Debian
# Chromium draws them as empty boxes). The tab's favicon is an emoji, drawn as an inline SVG: no request either.
PAGES = [
    st.Page("pages/model.py", title="Model", default=True),
    st.Page("pages/predict.py", title="Predict"),
    st.Page("pages/embedding_spaces.py", title="Embedding spaces"),
    st.Page("pages/confusion.py", title="Confusion"),
    st.Page("pages/calibration.py", title="Calibration"),
    st.Page("pages/compare.py", title="Compare"),
]

page = st.navigation({"STAR Studio": PAGES})
st.set_page_config(page_title=f"{page.title} · STAR Studio", page_icon="🧍", layout="wide")
busy = loaders.active_runs()
others = busy.enter()
try:
    if others:  # other sessions' runs share this server's CPU cores
        st.toast(f"The server is busy with {others} other request{'s' if others > 1 else ''}: this may take longer "
                 "than usual.", icon="⏳")
    frame.sidebar()
    st.title(page.title)
    page.run()
finally:
    busy.exit()
