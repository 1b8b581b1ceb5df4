"""Embedding spaces: t-SNE of test clips' global features and of the semantic space (names, part descriptions)."""

import streamlit as st

from ui import frame

SPACE_TAB = "embedding_space"

view = frame.view()
if view is not None:
    st.caption("t-SNE (scikit-learn, fixed seed), computed once per checkpoint and cached on disk. "
               "Hover a point for its class and sample.")
    names = ["Skeleton space: test clips", "Semantic space: names and part descriptions"]
    tabs = dict(zip(names, st.tabs(names, key=SPACE_TAB, on_change="rerun")))  # only the open tab is drawn
    if tabs[names[0]].open:
        with tabs[names[0]]:
            sk = frame.tsne("skeleton")
            title = f"{len(sk['xy'])} test clips (● seen, ◆ unseen; * marks unseen classes)"
            st.plotly_chart(frame.tsne_figure("skeleton", title), width="stretch")
    if tabs[names[1]].open:
        with tabs[names[1]]:
            if not view.is_star:
                st.info("This checkpoint has no part descriptions (global baseline): only class names are shown.")
            kinds = [("semantic", "with the semantic-part prompt"), ("semantic-noprompt", "without the prompt")]
            kinds = kinds if view.is_star else [("semantic", "class names")]
            for col, (what, label) in zip(st.columns(len(kinds)), kinds):
                with col:
                    st.plotly_chart(frame.tsne_figure(what, label, 640, True), width="stretch")
