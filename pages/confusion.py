"""Confusion page: ZSL confusion over unseen classes, GZSL confusion at the current gamma, most confused pairs."""

import streamlit as st

from star import viz
from ui import frame, model_view

view = frame.view()
if view is not None:
    gamma = frame.gamma()
    cm = model_view.confusions(view, gamma)
    tab_zsl, tab_gzsl = st.tabs(["ZSL (unseen classes)", f"GZSL (all classes, gamma {gamma:.3f})"])
    with tab_zsl:
        st.caption("Test clips of unseen classes, argmax over unseen classes only. Rows: true class, normalised.")
        st.plotly_chart(viz.confusion_heatmap(cm["zsl"], cm["zsl_names"], title="ZSL confusion"), width="stretch")
        st.subheader("Most confused pairs (ZSL)")
        st.dataframe(cm["zsl_pairs"], hide_index=True, width="stretch",
                     column_config={"rate": st.column_config.NumberColumn(format="percent")})
    with tab_gzsl:
        st.caption("All test clips, calibrated stacking at the sidebar's gamma. Rows: true class, normalised.")
        st.plotly_chart(viz.confusion_heatmap(cm["gzsl"], cm["names"], title="GZSL confusion"), width="stretch")
        st.subheader("Most confused pairs (GZSL)")
        st.dataframe(cm["gzsl_pairs"], hide_index=True, width="stretch",
                     column_config={"rate": st.column_config.NumberColumn(format="percent")})
