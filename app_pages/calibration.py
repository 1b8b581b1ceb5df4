"""Calibration page: S / U / H at the sidebar's gamma, the seen-unseen curve, AUSUC, classes that gain or lose."""

import streamlit as st

from app_pages import common
from star import analysis, appstate, viz

st.title("Calibration")
view = common.current_view()
if view is not None:
    key, gamma = st.session_state["checkpoint_key"], common.gamma()
    st.caption("Move **gamma** in the sidebar: it is subtracted from every seen-class score before the GZSL argmax. "
               "Larger gamma favours unseen classes.")
    m = appstate.gzsl_at(view, gamma)
    ref = appstate.gzsl_at(view, view.gamma)
    cur = common.curve(key)
    c = st.columns(5)
    c[0].metric("gamma", f"{gamma:.3f}", f"{gamma - view.gamma:+.3f} vs checkpoint", delta_color="off")
    c[1].metric("S (seen)", f"{m['S'] * 100:.2f}", f"{(m['S'] - ref['S']) * 100:+.2f}")
    c[2].metric("U (unseen)", f"{m['U'] * 100:.2f}", f"{(m['U'] - ref['U']) * 100:+.2f}")
    c[3].metric("H (harmonic)", f"{m['H'] * 100:.2f}", f"{(m['H'] - ref['H']) * 100:+.2f}")
    c[4].metric("AUSUC", f"{cur['ausuc'] * 100:.2f}")
    st.plotly_chart(viz.su_curve(cur["S"], cur["U"], current=(m["S"], m["U"]), area=cur["ausuc"],
                                 reference=(ref["S"], ref["U"])), width="stretch")

    st.subheader(f"Classes that gain or lose: gamma {view.gamma:.3f} (checkpoint) → {gamma:.3f}")
    rows = analysis.class_gain_loss(view.scores, view.labels, view.seen, view.gamma, gamma, view.class_names)
    if not rows:
        st.info("No class changes accuracy between the checkpoint's gamma and this one.")
    else:
        st.dataframe([{"class": r["class"], "split": "seen" if r["seen"] else "unseen",
                       "accuracy at checkpoint gamma (%)": round(r["acc_a"] * 100, 1),
                       "accuracy now (%)": round(r["acc_b"] * 100, 1), "change (points)": round(r["delta"] * 100, 1)}
                      for r in rows], hide_index=True, width="stretch")
