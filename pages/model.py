"""Model page (the default): what is loaded, in words: what the model is and was trained on, how well it does on
its test clips, how gamma was chosen, its classes, body parts, text encoder and training settings."""

import json

import streamlit as st

from star.skeleton.topology import JOINT_NAMES, partition
from ui import frame, model_view

view = frame.view()
if view is not None:
    meta = view.meta
    st.subheader(f"{view.name}: {meta['model']} on {meta['benchmark']}")
    st.markdown(f"**What it is.** {model_view.part_pooling(meta).capitalize()}; class score: "
                f"{model_view.class_score(meta)}. Benchmark: {model_view.benchmark_text(meta)}: "
                + (f"{len(view.seen)} classes seen in training, {len(view.unseen)} unseen (zero-shot), "
                   if view.has_unseen else f"all {len(view.seen)} classes seen in training (an open vocabulary: it "
                   "ranks any action names you give on the Predict page), ")
                + f"{len(view.labels)} test clips in its evaluation bundle. {model_view.training_text(meta)}")
    if meta.get("imported_from"):
        st.info(model_view.provenance_text(meta))

    st.subheader("How well it does on its test clips")
    cards = model_view.metric_cards(meta)
    for col, (label, value, help_) in zip(st.columns(len(cards) or 1), cards):
        col.metric(label, value, help=help_)
    if view.has_unseen:
        st.caption("Hover a number for what it measures. S, U and H use the checkpoint's gamma, chosen on "
                   "validation data; the Calibration page moves it.")
        st.subheader(f"Gamma (calibrated stacking): {view.gamma:.4f}")
        for paragraph in model_view.gamma_story(meta):
            st.markdown(paragraph)
    else:
        st.caption("Hover a number for what it measures.")
        st.markdown(model_view.expected_accuracy_text(meta) or "No expected accuracy on new recordings was recorded "
                    "with this checkpoint.")

    col1, col2 = st.columns(2)
    with col1:
        st.subheader("Classes")
        st.dataframe(model_view.class_table(view), hide_index=True, height=420, width="stretch")
    with col2:
        st.subheader(f"Body parts ({meta['num_parts']})")
        parts = partition(int(meta["num_parts"]))
        st.dataframe([{"part": p, "joints": ", ".join(JOINT_NAMES[j] for j in js)} for p, js in parts.items()],
                     hide_index=True, width="stretch")
        st.subheader("Text encoder")
        st.markdown(model_view.text_encoder_text(meta))

    st.subheader("Training settings")
    st.dataframe(model_view.config_rows(meta), hide_index=True, width="stretch")
    st.download_button("Download the full training configuration (JSON)", json.dumps(meta.get("config", {}), indent=1),
                       file_name=f"{view.name}-config.json", mime="application/json")
