"""Compare: the sidebar's checkpoint (A) against another of the same benchmark (B) on the same test clips: paired
bootstrap CIs, McNemar's test, both seen-unseen curves, per-class differences and the clips where they disagree."""

import pandas as pd
import streamlit as st

from star.compare import METRICS
from ui import checkpoints, clips, frame, loaders

LABELS = {"zsl_acc": "ZSL accuracy", "S": "Seen accuracy S", "U": "Unseen accuracy U", "H": "Harmonic mean H",
          "ausuc": "AUSUC"}

view = frame.zero_shot_view("comparing zero-shot accuracy")
if view is not None:
    choices = checkpoints.checkpoint_choices()
    same = {label: path for label, path in choices.items()
            if checkpoints.cache_key(path) != frame.key() and checkpoints.benchmark_of(path) == view.meta["benchmark"]}
    if not same:
        st.info(f"No other checkpoint of **{view.meta['benchmark']}** is offered: a comparison needs two models "
                "tested on the same clips. Put one in a checkpoint folder ($STAR_CHECKPOINT_DIRS).")
    else:
        other = st.selectbox("Compare with (B)", list(same), key="compare_with",
                             help=f"Checkpoints of {view.meta['benchmark']}; differences are B - A")
        key_b = checkpoints.cache_key(same[other])
        result = loaders.comparison(frame.key(), key_b)
        st.caption(f"A = **{result.a}** (the sidebar's), B = **{result.b}**: {result.num_clips} test clips of "
                   f"{result.benchmark}, {result.num_unseen_clips} of them of unseen classes. Each model at its own "
                   "validation gamma. CIs: 95 %, paired bootstrap over clips (seen and unseen clips resampled "
                   f"separately, {result.bootstrap['replicates']} replicates, seed {result.bootstrap['seed']}).")
        table = pd.DataFrame([{"metric": LABELS[k], "A (%)": round(result.metrics["a"][k] * 100, 2),
                               "B (%)": round(result.metrics["b"][k] * 100, 2),
                               "B - A": round(result.difference[k]["b_minus_a"] * 100, 2),
                               "95 % CI low": round(result.difference[k]["ci_low"] * 100, 2),
                               "95 % CI high": round(result.difference[k]["ci_high"] * 100, 2)} for k in METRICS])
        st.dataframe(table, hide_index=True, width="stretch")
        m = result.mcnemar
        st.markdown(f"**McNemar's exact test on the ZSL decisions:** of the unseen-class clips only one model gets "
                    f"right, A gets {m['a_only']} and B {m['b_only']}; p = {m['p_value']:.4g} "
                    f"({'a difference' if m['p_value'] < 0.05 else 'no difference'} at the 5 % level).")
        left, right = st.columns(2)
        with left:
            st.plotly_chart(loaders.comparison_curves(frame.key(), key_b), width="stretch")
        with right:
            per_class = pd.DataFrame(result.per_class)
            st.markdown("**Per class** (unseen classes first: ZSL; then every class: GZSL at each model's gamma; "
                        "largest differences first)")
            st.dataframe(per_class, hide_index=True, height=400, width="stretch")
        st.subheader(f"Where they disagree ({len(result.disagreements)} decisions)")
        if result.disagreements:
            rows = pd.DataFrame(result.disagreements)
            picked = st.dataframe(rows, hide_index=True, height=320, width="stretch", on_select="rerun",
                                  selection_mode="single-row", key="compare_disagreement")
            chosen = picked.selection.rows if picked is not None else []
            if chosen:
                row = result.disagreements[chosen[0]]
                sample = clips.bank_sample_for(row["source"], result.benchmark)
                if sample is None:
                    st.caption(f"{row['source']}: its clip bank is not in the data folder, so it cannot be opened.")
                elif st.button(f"Open {row['source']} on Predict", key="compare_open", type="primary"):
                    st.session_state.update({"predict_source": "Clip bank ($STAR_DATA_DIR)",
                                             "predict_bank": sample.path, "predict_bank_clip": sample})
                    st.switch_page("pages/predict.py")
