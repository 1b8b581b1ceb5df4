"""Calibration page: S / U / H at the sidebar's gamma, the seen-unseen curve, AUSUC, classes that gain or lose,
and how the checkpoint's gamma was chosen on validation data and how it transfers to the test clips."""

import streamlit as st

from star import viz
from ui import frame, loaders, model_view

view = frame.zero_shot_view("calibrating seen against unseen classes (S, U, H and gamma)")
if view is not None:
    gamma = frame.gamma()
    st.caption("Move **gamma** in the sidebar: it is subtracted from every seen-class score before the GZSL argmax. "
               "Larger gamma favours unseen classes.")
    m = model_view.gzsl_at(view, gamma)
    ref = model_view.gzsl_at(view, view.gamma)
    cur = loaders.curve(frame.key())
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
    rows = model_view.class_changes(view, gamma)
    if not rows:
        st.info("No class changes accuracy between the checkpoint's gamma and this one.")
    else:
        st.dataframe(rows, hide_index=True, width="stretch")

    st.subheader(f"How this gamma was chosen: {view.gamma:.3f}")
    for paragraph in model_view.gamma_story(view.meta):
        st.markdown(paragraph)
    val = model_view.validation_curve(view.meta)
    if val is not None:
        st.plotly_chart(viz.validation_curve(val["epoch"], val, val["chosen_epoch"],
                                             title=f"Validation curve ({val['stage']})"), width="stretch")
