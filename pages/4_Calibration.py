"""Calibration page: S / U / H at the sidebar's gamma, the seen-unseen curve, AUSUC, classes that gain or lose."""

import streamlit as st

from star import analysis, appstate, viz
from ui import common

view = common.page("Calibration")
if view is not None:
    key, gamma = st.session_state["checkpoint_key"], common.gamma()
    st.caption("Move **gamma** in the sidebar: it is subtracted from every seen-class score before the GZSL argmax. "
               "Larger gamma favours unseen classes.")
    m = appstate.gzsl_at(view, gamma)
    ref = appstate.gzsl_at(view, view.gamma)
    cur = common.curve(key)
    c = st.columns(5)
    c[0].metric("gamma", f"{gamma:.3f}", f"{gamma - view.gamma:+.3f} vs checkpoint", delta_color="off",
                delta_arrow="off")
    for col, (name, label) in zip(c[1:4], [("S", "S (seen)"), ("U", "U (unseen)"), ("H", "H (harmonic)")]):
        delta = f"{(m[name] - ref[name]) * 100:+.2f}"
        col.metric(label, f"{m[name] * 100:.2f}", None if float(delta) == 0 else delta)  # no arrow for no change
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
