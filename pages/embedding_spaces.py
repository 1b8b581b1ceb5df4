"""Embedding spaces: t-SNE of test clips' global features and of the semantic space (names, part descriptions)."""

import streamlit as st

from star import viz
from ui import frame

view = frame.view()
if view is not None:
    st.caption("t-SNE (scikit-learn, fixed seed), computed once per checkpoint and cached on disk. "
               "Hover a point for its class and sample.")
    st.subheader("Skeleton space: test clips' global features")
    sk = frame.tsne("skeleton")
    st.plotly_chart(viz.embedding_scatter(sk["xy"], sk["groups"], sk["hover"], sk["symbols"],
                                          title=f"{len(sk['xy'])} test clips (● seen, ◆ unseen; * marks unseen "
                                                "classes)"), width="stretch")
    st.subheader("Semantic space: class names and part descriptions")
    if not view.is_star:
        st.info("This checkpoint has no part descriptions (global baseline): only class names are shown.")
    kinds = [("semantic", "with the semantic-part prompt"), ("semantic-noprompt", "without the prompt")]
    kinds = kinds if view.is_star else [("semantic", "class names")]
    for col, (what, label) in zip(st.columns(len(kinds)), kinds):
        with col:
            se = frame.tsne(what)
            st.plotly_chart(viz.embedding_scatter(se["xy"], se["groups"], se["hover"], se["symbols"],
                                                  title=label, height=640, legend_below=True),
                            width="stretch")
