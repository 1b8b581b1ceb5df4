"""Predict page: upload or pick a clip (or a video: its pose is extracted); 3D animation, ZSL / GZSL top-k,
per-part attention, open vocabulary."""

import streamlit as st

from star import viz
from star.checkpoint import CheckpointError
from star.skeleton.clip import SkeletonFormatError
from star.text.encoders import EncoderError
from ui import clips, frame, loaders
from ui import video as videos

view = frame.view()
clip = video = None  # video: (uploaded file, ui.video.VideoResult) for a video upload
if view is not None:
    key, gamma = frame.key(), frame.gamma()
    banks = clips.clip_banks()
    sources = ["Built-in sample", "Upload a file"] + (["Clip bank ($STAR_DATA_DIR)"] if banks else [])
    source = st.radio("Clip", sources, horizontal=True, key="predict_source")
    try:
        if source == "Upload a file":
            up = st.file_uploader(clips.UPLOAD_HELP, type=[s.lstrip(".") for s in clips.UPLOAD_SUFFIXES],
                                  key="predict_upload")
            if up is not None and clips.is_video_upload(up.name):
                problem = videos.models_problem()
                if problem:
                    st.error(problem)
                else:
                    outcome = loaders.video(up.name, up.getvalue())
                    if outcome.error:
                        st.error(f"Could not read the file: {outcome.error}")
                    else:
                        video, clip = (up, outcome.result), outcome.result.clip
            elif up is not None:
                clip = clips.clip_from_upload(up.name, up.getvalue())
        elif source == "Built-in sample":
            samples = clips.builtin_samples()
            if not samples:
                st.warning("No built-in samples (assets/samples/*.skeleton)")
            else:
                pick = st.selectbox("Synthetic demo clip (made by star.skeleton.synth)", samples,
                                    format_func=lambda s: s.label, key="predict_sample")
                clip = clips.load_sample(pick)
        else:
            bank = st.selectbox("Clip bank", banks, format_func=lambda p: p.name, key="predict_bank")
            samples = clips.bank_samples(bank)
            pick = st.selectbox("Clip", samples, format_func=lambda s: s.label, key="predict_bank_clip")
            clip = clips.load_sample(pick)
    except SkeletonFormatError as exc:
        st.error(f"Could not read the file: {exc}")
        clip = None

pred = None
if clip is not None:
    top_k = st.slider("top-k", 1, 10, 5, key="predict_topk")
    try:
        pred = loaders.predict(key, clip.frames, clip.source, gamma, top_k)
    except (CheckpointError, RuntimeError, KeyError) as exc:  # an uploaded checkpoint whose weights don't fit
        st.error(f"This checkpoint cannot predict: {exc}")

if pred is not None:
    st.caption(f"**{clip.source}**: {clip.num_bodies} bod{'y' if clip.num_bodies == 1 else 'ies'}, "
               f"{clip.num_frames} frames" + (f", labelled '{clip.meta['class_name']}'" if 'class_name' in clip.meta
                                              else ""))
    unseen_names = [view.class_names[i] for i in view.unseen]
    animation = viz.skeleton_animation(clip, title="Joints and bones by body part")
    zsl_chart = viz.topk_bar(pred.zsl_top, "ZSL: unseen classes only", unseen=unseen_names)
    gzsl_chart = viz.topk_bar(pred.gzsl_top, f"GZSL: all classes, gamma {gamma:.3f}", unseen=unseen_names)
    headline = f"**Prediction (ZSL): {pred.zsl_top[0]['class']}**"
    legend = "Blue: unseen classes; orange: seen classes (their scores minus gamma)."
    if video is None:
        left, right = st.columns([3, 2])
        with left:
            st.plotly_chart(animation, width="stretch")
        with right:
            st.markdown(headline)
            st.plotly_chart(zsl_chart, width="stretch")
            st.plotly_chart(gzsl_chart, width="stretch")
            st.caption(legend)
    else:  # the video beside its skeleton, the landmarks on a few frames, then the predictions
        up, result = video
        st.caption(f"Pose extracted with BlazePose: {result.summary()}")
        left, right = st.columns(2)
        left.video(up.getvalue(), format=videos.mime_of(up.name))
        right.plotly_chart(animation, width="stretch")
        st.subheader("Pose on the video")
        for col, (index, image) in zip(st.columns(len(result.overlays) or 1), result.overlays):
            col.image(image, caption=result.overlay_caption(index), width="stretch")
        st.subheader("Prediction")
        st.markdown(headline)
        left, right = st.columns(2)
        left.plotly_chart(zsl_chart, width="stretch")
        right.plotly_chart(gzsl_chart, width="stretch")
        st.caption(legend)

    st.subheader("Per-part evidence")
    if pred.part_scores is None:
        st.info("This checkpoint is a global baseline: it has no body parts.")
    else:
        if pred.attention_time_joint is None:
            st.info("This head mean-pools each part's tokens instead of attending over them, so it has no "
                    "attention map; how each part matches the top classes follows.")
        else:
            st.plotly_chart(viz.part_attention_heatmaps(pred.attention_time_joint, int(view.meta["num_parts"]),
                                                        title="Where each part's prompts attend (time x joint)"),
                            width="stretch")
        st.plotly_chart(viz.part_match_heatmap(pred.part_scores, view.meta["part_names"], view.class_names,
                                               clips.top_classes(pred),
                                               title="How strongly each part's feature matches each top class"),
                        width="stretch")

    if str(view.meta.get("benchmark", "")).startswith("pool42"):
        st.subheader("Which training dataset does this recording resemble?")
        model = loaders.source_model()
        if isinstance(model, str):
            st.info(f"No source model: {model}")
        else:
            like = loaders.resemblance(clip.frames)
            for col, name, p in zip(st.columns(len(like.sources)), like.sources, like.probabilities):
                col.metric(name, f"{100 * p:.1f} %")
            acc = model.info.get("unseen_class_balanced_accuracy")
            st.caption("From how the clip was recorded (tracking jitter, bone lengths, length, frozen frames), not "
                       "from its action. On pool42 a clip's predictions lean to classes of the dataset it resembles "
                       "(docs/SOURCE_PROBE.md)" + (f"; on classes it never saw, this model names the dataset of "
                                                  f"{100 * acc:.1f} % of clips." if acc is not None else "."))
            if like.unlike_all:
                st.warning(f"{len(like.unusual)} of the clip's recording cues lie outside the range of the training "
                           "clips: it resembles none of the training datasets, so expect weaker predictions.")
            if like.unusual:
                with st.expander(f"Cues outside the training range ({len(like.unusual)})"):
                    st.dataframe(like.unusual, hide_index=True, width="stretch")

    st.subheader("Open vocabulary")
    if not frame.open_vocabulary_allowed():
        st.info("Open vocabulary is off for this uploaded checkpoint: its text encoder is a weights file, which "
                "the app does not load for uploads.")
    else:
        default = "\n".join(t["class"] for t in pred.zsl_top[:3]) + "\nbrushing teeth\nwaving a hand"
        text = st.text_area("Candidate action names, one per line", default, key="predict_vocab", height=150)
        names = [n.strip() for n in text.splitlines() if n.strip()]
        if names:
            try:
                ranked = loaders.rank_names(key, clip.frames, tuple(names))
            except EncoderError as exc:
                st.warning(f"The checkpoint's text encoder is not available here: {exc}")
            else:
                st.plotly_chart(viz.topk_bar(ranked, "Your candidates, ranked"), width="stretch")
