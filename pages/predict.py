"""Predict page: upload or pick a clip (or a video: its pose is extracted); 3D animation, ZSL / GZSL top-k,
per-part attention, open vocabulary."""

import json
from pathlib import Path

import streamlit as st

from star import viz
from star.checkpoint import CheckpointError
from star.data.importers import ImportFormatError
from star.skeleton.clip import SkeletonFormatError
from star.text.encoders import EncoderError
from star.inference import score_labelled, top_lists
from ui import clips, frame, loaders, model_view
from ui import video as videos

view = frame.view()
clip = video = labelled = None  # video: (uploaded file, ui.video.VideoResult); labelled: (name, upload id, bank)
if view is not None:
    key, gamma = frame.key(), frame.gamma()
    banks = clips.clip_banks()
    sources = (["Built-in sample", "Upload a file"] + (["Clip bank ($STAR_DATA_DIR)"] if banks else [])
               + ["Upload a clip bank"])
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
                        if outcome.display is not None:  # it decodes: show it, so the user sees why
                            st.video(outcome.display, format=outcome.display_mime, width=480)
                    else:
                        result = outcome.result
                        lifters = {"learned": "learned lifter (trained on Kinect clips)",
                                   "blazepose": "BlazePose's world landmarks"}
                        lifter = st.radio("3-D from", list(lifters), format_func=lifters.get, horizontal=True,
                                          index=list(lifters).index(result.lifter), key="predict_lifter",
                                          help="How the video's 2-D landmarks become 3-D joints (docs/VIDEO.md "
                                               "compares the two). Switching re-lifts the same landmarks.")
                        video, clip = (up, result), result.clip_with(lifter)
            elif up is not None:
                clip = clips.clip_from_upload(up.name, up.getvalue())
        elif source == "Built-in sample":
            samples = clips.builtin_samples()
            if not samples:
                st.warning("No built-in samples (assets/samples/*.skeleton)")
            else:
                pick = st.selectbox("Synthetic demo clip (made by star.skeleton.synth)", samples,
                                    format_func=lambda s: s.label, key="predict_sample")
                clip = loaders.sample_clip(pick)
                presets = [p for p in clips.VOCABULARY_PRESETS if p != clips.CUSTOM]
                loaders.warm_samples(key, samples, [clips.vocabulary(p, view.class_names) for p in presets]
                                     if frame.open_vocabulary_allowed() else [])
        elif source == "Upload a clip bank":
            up = st.file_uploader(clips.BANK_UPLOAD_HELP, type=[s.lstrip(".") for s in clips.BANK_SUFFIXES],
                                  key="predict_bank_upload")
            if up is not None:
                bank = loaders.uploaded_bank(up.name, up.getvalue())
                i = st.selectbox("Clip", range(len(bank)), format_func=lambda i: clips.bank_label(bank, i),
                                 key="predict_bank_upload_clip")
                clip = bank.clip(i)
                labelled = (up.name, up.file_id, bank)
        else:
            bank = st.selectbox("Clip bank", banks, format_func=lambda p: p.name, key="predict_bank")
            samples = loaders.bank_samples(bank)
            pick = st.selectbox("Clip", samples, format_func=lambda s: s.label, key="predict_bank_clip")
            clip = loaders.sample_clip(pick)
    except (SkeletonFormatError, ImportFormatError) as exc:
        st.error(f"Could not read the file: {exc}")
        clip = None

TOP_K_KEY, VOCAB_PRESET, VOCAB_TEXT, VOCAB_TOPK = "predict_topk", "predict_vocab_preset", "predict_vocab", "predict_vocab_topk"
DETAILS_TAB = "predict_details"
LEGEND = "Blue: unseen classes; orange: seen classes (their scores minus gamma)."


@st.fragment
def predictions(view, key, pred, gamma: float, temperature: float, video_layout: bool) -> None:
    """ZSL and GZSL top-k as probabilities (a fragment: moving top-k reruns only this)."""
    unseen_names = [view.class_names[i] for i in view.unseen]
    top_k = st.slider("top-k", 1, min(10, len(view.class_names)), min(5, len(view.class_names)), key=TOP_K_KEY)
    zsl_top, gzsl_top = top_lists(pred.scores, view.seen, view.unseen, view.class_names, gamma, top_k, temperature)
    ranking = zsl_top if view.has_unseen else gzsl_top  # what `star predict --json` prints for this clip
    st.download_button("Download this prediction (JSON, as star predict --json)",
                       clips.prediction_json(pred.source, ranking),
                       file_name=f"{Path(pred.source).stem or 'clip'}-prediction.json", mime="application/json",
                       key="predict_download")
    if not view.has_unseen:  # an open-vocabulary model: one ranking of its classes, all seen in training
        st.markdown(f"**Prediction: {gzsl_top[0]['class']}**")
        st.plotly_chart(viz.topk_bar(gzsl_top, f"Among its {len(view.class_names)} classes (all seen in training)",
                                     probability=True), width="stretch")
        st.caption("To rank other action names (NTU RGB+D, PKU-MMD or your own), open **Open vocabulary** below. "
                   "The raw scores are in the hover.")
        return
    st.markdown(f"**Prediction (ZSL): {zsl_top[0]['class']}**")
    zsl = viz.topk_bar(zsl_top, f"ZSL: among the {len(view.unseen)} unseen classes", unseen=unseen_names,
                       probability=True)
    gzsl = viz.topk_bar(gzsl_top, f"GZSL: among all {len(view.class_names)} classes, gamma {gamma:.3f}",
                        unseen=unseen_names, probability=True)
    charts = st.columns(2) if video_layout else (st.container(), st.container())
    charts[0].plotly_chart(zsl, width="stretch")
    charts[1].plotly_chart(gzsl, width="stretch")
    st.caption(LEGEND + " The raw scores are in the hover.")


def open_vocabulary(view, key, clip) -> None:
    """Rank the clip against a vocabulary preset or the user's own names."""
    if not frame.open_vocabulary_allowed():
        st.info("Open vocabulary is off for this uploaded checkpoint: its text encoder is a weights file, which "
                "the app does not load for uploads.")
        return
    left, right = st.columns([2, 1])
    preset = left.selectbox("Vocabulary", clips.VOCABULARY_PRESETS, key=VOCAB_PRESET,
                            help="Action names to rank the clip against: the checkpoint's own classes, a "
                                 "dataset's class list, or your own names (one per line)")
    k = right.number_input("show the top", 1, 200, 10, key=VOCAB_TOPK)
    text = ""
    if preset == clips.CUSTOM:
        text = st.text_area("Candidate action names, one per line", "drink water\nbrush teeth\nwave\nsit down",
                            key=VOCAB_TEXT, height=150)
    names = clips.vocabulary(preset, view.class_names, text)
    if not names:
        st.info("Type at least one action name.")
        return
    try:
        ranked = loaders.rank_names(key, clip.frames, clip.source, tuple(names), int(k))
    except EncoderError as exc:
        st.warning(f"The checkpoint's text encoder is not available here: {exc}")
        return
    st.plotly_chart(viz.topk_bar(ranked, f"Top {len(ranked)} of {len(names)} names ({preset})", probability=True),
                    width="stretch")
    st.caption("Ranked by the clip's global feature against each name's embedding (names only: a new name has no "
               "part descriptions); probabilities are softmax(cosine / tau) among these names.")


def attention_view(view, key, clip, pred) -> None:
    scale = st.radio("Scale", ["relative to uniform", "raw weights"], horizontal=True, key="predict_attention_scale",
                     help="Each part's weights are a softmax over its own time x joint tokens, so a part with few "
                          "joints has large raw weights. Relative to uniform: weight x (T' x joints in the part); "
                          "1 means the prompts attend to every token of the part alike.")
    relative = scale == "relative to uniform"
    st.plotly_chart(loaders.attention_figure(key, clip.frames, clip.source, relative), width="stretch")
    rel = viz.attention_relative_to_uniform(pred.attention_time_joint, int(view.meta["num_parts"]))
    st.caption(f"This clip's weights range from x{rel.min():.2f} to x{rel.max():.2f} of uniform (relative view: "
               "log2 colour scale, white at x1, saturated at x0.25 and x4; hover for the raw weight).")


def part_matches(view, clip, pred, temperature: float) -> None:
    zsl_top, gzsl_top = top_lists(pred.scores, view.seen, view.unseen, view.class_names, frame.gamma(), 5,
                                  temperature)
    top = clips.top_classes(zsl_top, gzsl_top)  # the ZSL top 5, then GZSL's new ones
    st.plotly_chart(viz.part_match_heatmap(pred.part_scores, view.meta["part_names"], view.class_names, top,
                                           title="How strongly each part's feature matches each top class"),
                    width="stretch")
    if pred.attention_time_joint is None:
        st.caption("This head mean-pools each part's tokens instead of attending over them, so it has no "
                   "attention map.")


def part_occlusion(view, key, clip) -> None:
    from star.occlusion import RULE

    result = loaders.occlusion(key, clip.frames, clip.source)
    top = view.class_names[result["top"]]
    among = "the unseen classes" if view.has_unseen else "its classes"
    st.markdown(f"**Which parts the decision depends on.** Top class among {among}: **{top}** "
                f"({result['prob'] * 100:.1f} %). Each bar: how much its probability drops when that part is occluded.")
    st.plotly_chart(viz.occlusion_bars(result["parts"], top), width="stretch")
    st.dataframe([{"part": r["part"], "probability with the part occluded (%)": round(r["prob"] * 100, 2),
                   "drop (points)": round(r["drop"] * 100, 2), "top class then": view.class_names[r["top_after"]]}
                  for r in result["parts"]], hide_index=True, width="stretch")
    st.caption(f"Occluded: {RULE}. Compare with the attention view: attention says where the prompts look, "
               "occlusion what the decision needs.")


def labelled_bank(view, key, name: str, upload_id: str, bank, clip) -> None:
    """An uploaded bank's labels: where this clip's true class ranks, and every clip scored on request (kept for this
    upload and checkpoint)."""
    names = list(bank.class_names)
    true = names[clip.label] if clip.label is not None else None
    if true is not None:
        ranked = loaders.rank_names(key, clip.frames, clip.source, tuple(names), len(names))
        place = [t["class"] for t in ranked].index(true) + 1
        st.markdown(f"**True class: {true}**, ranked {place} of the bank's {len(names)} class names.")
    with st.expander(f"Score every clip of {name} ({len(bank)} clips) against its {len(names)} class names"):
        result = st.session_state.get("labelled_result")
        if result is None or result[0] != (upload_id, key):
            if not st.toggle(f"Score all {len(bank)} clips", key="labelled_start"):
                return
            bar = st.progress(0.0, text="Scoring...")
            scored = score_labelled(loaders.load_predictor(key), [bank.clip(j) for j in range(len(bank))], names,
                                    names, progress=lambda done, total: bar.progress(done / total,
                                                                                     text=f"{done} of {total} clips"))
            bar.empty()
            result = ((upload_id, key), scored)
            st.session_state["labelled_result"] = result
        scored = result[1]
        if scored["accuracy"] is None:
            st.info("No clip's class is among the candidates.")
            return
        st.metric("Top-1 accuracy", f"{scored['accuracy'] * 100:.1f} %", help=f"over {scored['clips']} clips, "
                  f"ranked among the bank's {len(names)} class names")
        left, right = st.columns(2)
        left.dataframe(scored["per_class"], hide_index=True, width="stretch")
        right.plotly_chart(viz.confusion_heatmap(scored["confusion"], scored["names"],
                                                 title="Your clips: true class (rows) against prediction"),
                           width="stretch")
        wrong = [{"clip": r["source"], "true": r["true"], "predicted": r["top"][0]["class"], "true class ranked": r["rank"]}
                 for r in scored["rows"] if r["rank"] is not None and not r["right"]]
        st.markdown(f"**Clips it got wrong ({len(wrong)})**")
        st.dataframe(wrong, hide_index=True, width="stretch")
        lines = "".join(clips.prediction_json(r["source"], r["top"]) for r in scored["rows"])
        lines += json.dumps({"accuracy": scored["accuracy"], "clips": scored["clips"]}) + "\n"
        st.download_button("Download the predictions (JSON lines, as star predict --json)", lines,
                           file_name=f"{Path(name).stem}-predictions.jsonl", mime="application/json")


def recording(view, clip) -> None:
    model = loaders.source_model()
    if isinstance(model, str):
        st.info(f"No source model: {model}")
        return
    like = loaders.resemblance(clip.frames)
    st.markdown("**Which training dataset does this recording resemble?**")
    for col, name, p in zip(st.columns(len(like.sources)), like.sources, like.probabilities):
        col.metric(name, f"{100 * p:.1f} %")
    acc = model.info.get("unseen_class_balanced_accuracy")
    st.caption("From how the clip was recorded (tracking jitter, bone lengths, length, frozen frames), not "
               "from its action. On pool42 a clip's predictions lean to classes of the dataset it resembles "
               "(docs/SOURCE_PROBE.md)" + (f"; on classes it never saw, this model names the dataset of "
                                          f"{100 * acc:.1f} % of clips." if acc is not None else "."))
    if like.unusual:
        st.markdown(f"**Cues outside the training range ({len(like.unusual)})**")
        st.dataframe(like.unusual, hide_index=True, width="stretch")


@st.fragment
def details(view, key, clip, pred, temperature: float) -> None:
    """Per-part evidence, open vocabulary and the recording, one tab at a time (a fragment with lazy tabs: only
    the open tab runs and is drawn, and switching tabs reruns only this)."""
    names = (["Attention"] if pred.attention_time_joint is not None else []) + \
        (["Part matches"] if pred.part_scores is not None else []) + ["Part occlusion", "Open vocabulary"] + \
        (["Recording"] if str(view.meta.get("benchmark", "")).startswith("pool42") else [])
    if pred.part_scores is None:
        st.caption("This checkpoint is a global baseline: it has no body parts, so no per-part evidence.")
    tabs = dict(zip(names, st.tabs(names, key=DETAILS_TAB, on_change="rerun")))
    views = {"Attention": lambda: attention_view(view, key, clip, pred),
             "Part matches": lambda: part_matches(view, clip, pred, temperature),
             "Part occlusion": lambda: part_occlusion(view, key, clip),
             "Open vocabulary": lambda: open_vocabulary(view, key, clip),
             "Recording": lambda: recording(view, clip)}
    for name, tab in tabs.items():
        if tab.open:
            with tab:
                views[name]()


pred = None
if clip is not None:
    try:
        pred = loaders.predict(key, clip.frames, clip.source)
    except (CheckpointError, RuntimeError, KeyError) as exc:  # an uploaded checkpoint whose weights don't fit
        st.error(f"This checkpoint cannot predict: {exc}")

if pred is not None:
    temperature = loaders.load_predictor(key).temperature
    st.caption(f"**{clip.source}**: {clip.num_bodies} bod{'y' if clip.num_bodies == 1 else 'ies'}, "
               f"{clip.num_frames} frames" + (f", labelled '{clip.meta['class_name']}'" if 'class_name' in clip.meta
                                              else "") +
               f". Skeleton: equal axis scales, y up; the grid's cube is {viz.cube_side(clip.frames):.2f} m wide.")
    st.info(model_view.what_it_knows(view, temperature), icon="ℹ️")
    animation = loaders.animation(clip.frames)
    if video is None:
        left, right = st.columns([3, 2])
        left.plotly_chart(animation, width="stretch", key="predict_animation")
        with right:
            predictions(view, key, pred, gamma, temperature, False)
    else:  # the video beside its skeleton, the landmarks on a few frames, then the predictions
        up, result = video
        st.caption(f"Pose extracted with BlazePose: {result.summary()}; 3-D from "
                   f"{'the learned lifter' if videos.lifter_of(clip) == 'learned' else 'its world landmarks'}")
        left, right = st.columns(2)
        if result.display is not None:
            left.video(result.display, format=result.display_mime)
        if result.display_note:
            left.caption(result.display_note)
        right.plotly_chart(animation, width="stretch", key="predict_animation")
        st.subheader("Pose on the video")
        for col, (index, image) in zip(st.columns(len(result.overlays) or 1), result.overlays):
            col.image(image, caption=result.overlay_caption(index), width="stretch", output_format="JPEG")
        st.subheader("Prediction")
        predictions(view, key, pred, gamma, temperature, True)

    if str(view.meta.get("benchmark", "")).startswith("pool42"):
        like = loaders.resemblance(clip.frames)
        if like is not None and like.unlike_all:
            st.warning(f"{len(like.unusual)} of the clip's recording cues lie outside the range of the training "
                       "clips: it resembles none of the training datasets, so expect weaker predictions (tab "
                       "Recording).")
    if labelled is not None:
        st.subheader("Your labelled clips")
        labelled_bank(view, key, *labelled, clip)
    details(view, key, clip, pred, temperature)
