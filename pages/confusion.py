"""Confusion page: ZSL confusion over unseen classes, GZSL confusion at the current gamma, most confused pairs."""

import streamlit as st

from star import viz
from star.paths import data_dir
from ui import frame, loaders, model_view

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
    st.subheader("Which parts each unseen class depends on")
    clips_in = int(sum(1 for y in view.labels if y in set(view.unseen)))
    if st.toggle(f"Occlude each body part of the {clips_in} unseen-class test clips (one forward pass per "
                 "16 clips and their copies; about a minute on 2 cores)", key="confusion_occlusion"):
        try:
            dep = loaders.part_dependence(frame.key(), str(data_dir()))
        except (FileNotFoundError, ValueError) as exc:
            st.error(f"The test clips are needed and cannot be read: {exc}")
        else:
            st.plotly_chart(viz.part_dependence_heatmap(dep["classes"], dep["parts"],
                                                        title="Drop of the true class's probability when a part is "
                                                              "occluded (ZSL, points)"), width="stretch")
            st.caption(f"Mean over each class's test clips; occluded: {dep['rule']}. Red: the class needs the part; "
                       "blue: it scores higher without it.")

