"""Confusion page: ZSL confusion over unseen classes, GZSL confusion at the current gamma, most confused pairs."""

import streamlit as st

from star import viz
from ui import frame, model_view

view = frame.zero_shot_view("the ZSL and GZSL confusion matrices")
if view is not None:
    gamma = frame.gamma()
    cm = model_view.confusions(view, gamma)
    tabs = st.tabs(["ZSL (unseen classes)", f"GZSL (all classes, gamma {gamma:.3f})"])
    captions = {"zsl": "Test clips of unseen classes, argmax over unseen classes only. Rows: true class, normalised.",
                "gzsl": "All test clips, calibrated stacking at the sidebar's gamma. Rows: true class, normalised."}
    for tab, (kind, names) in zip(tabs, (("zsl", "zsl_names"), ("gzsl", "names"))):
        with tab:
            st.caption(captions[kind])
            title = f"{kind.upper()} confusion"
            st.plotly_chart(viz.confusion_heatmap(cm[kind], cm[names], title=title), width="stretch")
            st.subheader(f"Most confused pairs ({kind.upper()})")
            st.dataframe(cm[f"{kind}_pairs"], hide_index=True, width="stretch",
                         column_config={"rate": st.column_config.NumberColumn(format="percent")})
