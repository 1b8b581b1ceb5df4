"""Predict page: upload or pick a clip; 3D animation, ZSL / GZSL top-k, per-part attention, open vocabulary."""

import streamlit as st

from star import appstate, viz
from star.skeleton.clip import SkeletonFormatError
from ui import common

view = common.page("Predict")
clip = None
if view is not None:
    key, gamma = st.session_state["checkpoint_key"], common.gamma()
    banks = appstate.clip_banks()
    sources = ["Built-in sample", "Upload a file"] + (["Clip bank ($STAR_DATA_DIR)"] if banks else [])
    source = st.radio("Clip", sources, horizontal=True, key="predict_source")
    try:
        if source == "Upload a file":
            up = st.file_uploader("A skeleton file: NTU .skeleton, NumPy .npy / .npz, PKU-MMD .txt",
                                  type=["skeleton", "npy", "npz", "txt"], key="predict_upload")
            if up is not None:
                clip = appstate.clip_from_upload(up.name, up.getvalue())
        elif source == "Built-in sample":
            samples = appstate.builtin_samples()
            if not samples:
                st.warning(f"No samples in {appstate.SAMPLES_DIR}")
            else:
                pick = st.selectbox("Synthetic demo clip (made by star.skeleton.synth)", samples,
                                    format_func=lambda s: s.label, key="predict_sample")
                clip = appstate.load_sample(pick)
        else:
            bank = st.selectbox("Clip bank", banks, format_func=lambda p: p.name, key="predict_bank")
            samples = appstate.bank_samples(bank)
            pick = st.selectbox("Clip", samples, format_func=lambda s: s.label, key="predict_bank_clip")
            clip = appstate.load_sample(pick)
    except SkeletonFormatError as exc:
        st.error(f"Could not read the file: {exc}")
        clip = None

if clip is not None:
    top_k = st.slider("top-k", 1, 10, 5, key="predict_topk")
    pred = common.predict(key, clip.frames, clip.source, gamma, top_k)
    st.caption(f"**{clip.source}**: {clip.num_bodies} bod{'y' if clip.num_bodies == 1 else 'ies'}, "
               f"{clip.num_frames} frames" + (f", labelled '{clip.meta['class_name']}'" if 'class_name' in clip.meta
                                              else ""))
    left, right = st.columns([3, 2])
    with left:
        st.plotly_chart(viz.skeleton_animation(clip, title="Joints and bones by body part"), width="stretch")
    with right:
        unseen_names = [view.class_names[i] for i in view.unseen]
        st.markdown(f"**Prediction (ZSL): {pred.zsl_top[0]['class']}**")
        st.plotly_chart(viz.topk_bar(pred.zsl_top, "ZSL: unseen classes only", unseen=unseen_names), width="stretch")
        st.plotly_chart(viz.topk_bar(pred.gzsl_top, f"GZSL: all classes, gamma {gamma:.3f}", unseen=unseen_names),
                        width="stretch")
        st.caption("Blue: unseen classes; orange: seen classes (their scores minus gamma).")

    st.subheader("Per-part evidence")
    if pred.attention_time_joint is None or pred.part_scores is None:
        st.info("This checkpoint is a global baseline: it has no body-part attention.")
    else:
        st.plotly_chart(viz.part_attention_heatmaps(pred.attention_time_joint, int(view.meta["num_parts"]),
                                                    title="Where each part's prompts attend (time x joint)"),
                        width="stretch")
        st.plotly_chart(viz.part_match_heatmap(pred.part_scores, view.meta["part_names"], view.class_names,
                                               appstate.top_classes(pred),
                                               title="How strongly each part's feature matches each top class"),
                        width="stretch")

    st.subheader("Open vocabulary")
    default = "\n".join(t["class"] for t in pred.zsl_top[:3]) + "\nbrushing teeth\nwaving a hand"
    text = st.text_area("Candidate action names, one per line", default, key="predict_vocab", height=150)
    names = [n.strip() for n in text.splitlines() if n.strip()]
    if names:
        ranked = common.rank_names(key, clip.frames, tuple(names))
        st.plotly_chart(viz.topk_bar(ranked, "Your candidates, ranked"), width="stretch")
