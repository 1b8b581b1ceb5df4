"""Model page (the default): what is loaded: benchmark, classes, partition, text encoder, gamma, metrics, config."""

import streamlit as st

from star.skeleton.topology import JOINT_NAMES, partition
from ui import frame, model_view

view = frame.view()
if view is not None:
    meta = view.meta
    st.subheader(f"{view.name}: {meta['model']} on {meta['benchmark']}")
    overview = model_view.model_overview(view)
    st.table([{"": k, "value": v} for k, v in overview.items()])

    st.subheader("Metrics on the test clips")
    st.dataframe(model_view.metric_rows(meta), hide_index=True, width="stretch")

    st.subheader("Gamma (calibrated stacking)")
    g = meta["gamma"]
    st.markdown(f"**{view.gamma:.4f}**, chosen by: {g.get('chosen_by', 'not recorded')}")
    extra = {k: v for k, v in g.items() if k not in ("value", "chosen_by")}
    if extra:
        st.json(extra, expanded=False)

    col1, col2 = st.columns(2)
    with col1:
        st.subheader("Classes")
        st.dataframe(model_view.class_table(view), hide_index=True, height=420, width="stretch")
    with col2:
        st.subheader(f"Partition ({meta['num_parts']} parts)")
        parts = partition(int(meta["num_parts"]))
        st.dataframe([{"part": p, "joints": ", ".join(JOINT_NAMES[j] for j in js)} for p, js in parts.items()],
                     hide_index=True, width="stretch")
        st.subheader("Text encoder")
        st.json(meta["text_encoder"])

    with st.expander("Training configuration"):
        st.json(meta.get("config", {}))
