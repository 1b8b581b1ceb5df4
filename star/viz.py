"""Plotly figures for the app (pure functions: arrays in, ``go.Figure`` out; no streamlit, no model math).

- ``skeleton_animation(clip)``: 3D joints + bones coloured by the six-part partition, every body, with
  play/pause buttons and a frame slider, equal axis ranges (a cube) and y up.
- ``topk_bar(top)``: horizontal bars for a top-k list ``[{class, score}]`` (best on top).
- ``part_attention_heatmaps(att)``: one heatmap per part, time x that part's joints, from a (T', 25) map.
- ``part_match_heatmap(part_scores)``: parts x classes, how strongly each part feature matches each class.
- ``su_curve(S, U)``: the seen-unseen accuracy curve with the current operating point.
- ``validation_curve(epochs, series)``: validation H / S / U per epoch with the chosen epoch marked.
- ``confusion_heatmap(counts)``: row-normalised confusion with the raw counts in the hover.
- ``embedding_scatter(xy, groups)``: a 2-D scatter (t-SNE) coloured by group, symbols per point, hover text.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from star.skeleton.clip import Clip
from star.skeleton.topology import BONES, JOINT_NAMES, partition

# one colour per part of the six-part partition (head, hand, arm, hip, leg, foot)
COORD_DECIMALS = 4  # the 3D animation's coordinates, in metres: 0.1 mm, far below any sensor's noise
PART_COLOURS: tuple[str, ...] = ("#e6194b", "#f58231", "#ffe119", "#3cb44b", "#4363d8", "#911eb4")
BODY_OPACITY = (1.0, 0.55)  # first body solid, second body lighter
FPS = 30.0  # NTU / Kinect v2 frame rate


def _frames(clip_or_frames: Clip | np.ndarray) -> np.ndarray:
    f = clip_or_frames.frames if isinstance(clip_or_frames, Clip) else np.asarray(clip_or_frames, np.float32)
    if f.ndim == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[2:] != (25, 3):
        raise ValueError(f"frames must be (M, T, 25, 3) or (T, 25, 3), got {f.shape}")
    return f


def frame_indices(num_frames: int, max_frames: int) -> np.ndarray:
    """Evenly spaced frame indices (F,), F = min(T, max_frames), always including the first and last."""
    if num_frames <= max_frames:
        return np.arange(num_frames)
    return np.unique(np.round(np.linspace(0, num_frames - 1, max_frames)).astype(int))


def cube_ranges(frames: np.ndarray, pad: float = 0.05) -> list[list[float]]:
    """Equal-length [lo, hi] ranges for x, y, z covering every present joint (all-zero bodies/frames ignored)."""
    present = np.abs(frames).sum(axis=-1) > 0  # (M, T, 25)
    pts = frames[present] if present.any() else np.zeros((1, 3), np.float32)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 0.1) * (1 + pad)
    return [[float(c - half), float(c + half)] for c in centre]


def cube_side(clip_or_frames: Clip | np.ndarray) -> float:
    """The side (metres) of the animation's cube: every axis of ``skeleton_animation`` spans this much."""
    lo, hi = cube_ranges(_frames(clip_or_frames))[0]
    return hi - lo


def _part_traces(frames_t: np.ndarray, num_parts: int) -> list[dict]:
    """For one time step (M, 25, 3): per part, a bones trace then a joints trace (2K trace dicts), bodies merged."""
    parts = list(partition(num_parts).items())
    part_of = {j: k for k, (_, joints) in enumerate(parts) for j in joints}
    present = [m for m, body in enumerate(frames_t) if np.abs(body).sum() > 0]  # bodies in this frame
    traces = []
    for k, (name, joints) in enumerate(parts):
        colour = PART_COLOURS[k % len(PART_COLOURS)]
        bones = [(child, parent) for child, parent in BONES if part_of[child] == k]
        bx, by, bz, jx, jy, jz, text = [], [], [], [], [], [], []
        for m in present:
            body = np.round(frames_t[m].astype(np.float64), COORD_DECIMALS).tolist()
            for child, parent in bones:
                for axis, out in enumerate((bx, by, bz)):
                    out.extend((body[child][axis], body[parent][axis], None))
            for j in joints:
                jx.append(body[j][0]), jy.append(body[j][1]), jz.append(body[j][2])
                text.append(f"body {m + 1}: {JOINT_NAMES[j]} ({name})")
        traces.append(dict(type="scatter3d", x=bx, y=by, z=bz, mode="lines", line=dict(color=colour, width=6),
                           name=name, legendgroup=name, showlegend=False, hoverinfo="skip"))
        traces.append(dict(type="scatter3d", x=jx, y=jy, z=jz, mode="markers", marker=dict(color=colour, size=4),
                           name=name, legendgroup=name, showlegend=True, text=text,
                           hovertemplate="%{text}<extra></extra>"))
    return traces


def skeleton_animation(clip: Clip | np.ndarray, num_parts: int = 6, max_frames: int = 60,
                       title: str | None = None, height: int = 560) -> go.Figure:
    """3D animation of a clip: frames (M, T, 25, 3) -> figure with 2K traces and F = min(T, max_frames) frames.

    Coordinates are camera space (metres, y up). Axis ranges are equal (aspectmode 'cube'), so bones keep their
    true lengths (``cube_side`` gives the side in metres; the axes carry no tick labels); the camera looks from in
    front of the performer with y up. Both bodies share the part colours.
    The traces are plain dicts of known-good properties, so plotly's per-property validation (about 1 s for 60
    frames) is skipped; the tests check the figure's content.
    """
    f = _frames(clip)
    idx = frame_indices(f.shape[1], max_frames)
    step_ms = 1000.0 / FPS * (f.shape[1] - 1) / max(len(idx) - 1, 1)
    ranges = cube_ranges(f)
    # no tick labels or axis titles: a WebGL scene draws each as a texture, which doubled the chart's drawing time
    # in a software-rendering browser (0.94 s against 0.54 s); the grid stays, and the caption gives the cube's side
    axis = dict(showbackground=True, backgroundcolor="#f4f4f8", gridcolor="#d0d0d8", zeroline=False,
                showticklabels=False, showspikes=False, title=dict(text=""))
    play = dict(frame=dict(duration=step_ms, redraw=True), fromcurrent=True, transition=dict(duration=0),
                mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), mode="immediate", transition=dict(duration=0))
    layout = dict(
        title=dict(text=title), height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0),
        scene=dict(xaxis=dict(range=ranges[0], **axis), yaxis=dict(range=ranges[1], **axis),
                   zaxis=dict(range=ranges[2], **axis), aspectmode="cube",
                   camera=dict(up=dict(x=0, y=1, z=0), eye=dict(x=0.35, y=0.35, z=-1.9))),
        legend=dict(title=dict(text="part"), itemsizing="constant"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top",
                          pad=dict(t=8, r=8), showactive=False,
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚ pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, x=0.18, y=0.0, len=0.8, xanchor="left", yanchor="top", pad=dict(t=8),
                      currentvalue=dict(prefix="frame "),
                      steps=[dict(label=str(int(t)), method="animate",
                                  args=[[str(int(t))], dict(frame=dict(duration=0, redraw=True), mode="immediate",
                                                            transition=dict(duration=0))]) for t in idx])],
    )
    fig = go.Figure(data=_part_traces(f[:, idx[0]], num_parts), layout=layout, _validate=False)
    # a frame carries only what changes: the coordinates (and the hover texts when bodies come or go); plotly keeps
    # the rest of each trace (colours, names, hover template) from the figure's own traces
    first = _bodies_present(f[:, idx[0]])
    fig.frames = [go.Frame(data=[{key: tr[key] for key in (FRAME_KEYS if _bodies_present(f[:, t]) == first
                                                           else FRAME_KEYS + ("text",)) if key in tr}
                                 for tr in _part_traces(f[:, t], num_parts)], name=str(int(t)), _validate=False)
                  for t in idx]
    return fig


FRAME_KEYS = ("type", "x", "y", "z")


def _bodies_present(frames_t: np.ndarray) -> tuple[int, ...]:
    return tuple(m for m, body in enumerate(frames_t) if np.abs(body).sum() > 0)


def topk_bar(top: Sequence[dict], title: str = "", unseen: Sequence[str] | None = None,
             height: int | None = None, probability: bool = False) -> go.Figure:
    """Horizontal bars for ``[{'class': name, 'score': s}, ...]`` (given best first; drawn best on top).

    With ``unseen`` (class names), unseen classes are coloured differently from seen ones. With ``probability``
    the bars are each entry's ``prob`` in percent (0-100 axis) and the raw score is in the hover.
    """
    names = [t["class"] for t in top][::-1]
    scores = [float(t["score"]) for t in top][::-1]
    unseen_set = set(unseen or [])
    colours = ["#4363d8" if (unseen is None or n in unseen_set) else "#f58231" for n in names]
    kind = ["" if unseen is None else (" (unseen)" if n in unseen_set else " (seen)") for n in names]
    if probability:
        probs = [100.0 * float(t["prob"]) for t in top][::-1]
        fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=colours,
                               customdata=np.stack([kind, scores], axis=1) if names else None,
                               text=[f"{p:.1f} %" for p in probs], textposition="auto",
                               hovertemplate="%{y}%{customdata[0]}: %{x:.1f} % (score %{customdata[1]:.4f})"
                                             "<extra></extra>"))
        fig.update_layout(title=title, height=height or 90 + 32 * len(names), margin=dict(l=10, r=10, t=40, b=30),
                          xaxis=dict(title="probability (%)", range=[0, 100]), yaxis=dict(automargin=True))
        return fig
    fig = go.Figure(go.Bar(x=scores, y=names, orientation="h", marker_color=colours, customdata=kind,
                           text=[f"{s:.3f}" for s in scores], textposition="auto",
                           hovertemplate="%{y}%{customdata}: %{x:.4f}<extra></extra>"))
    fig.update_layout(title=title, height=height or 90 + 32 * len(names), margin=dict(l=10, r=10, t=40, b=30),
                      xaxis_title="score", yaxis=dict(automargin=True))
    lo, hi = min([0.0, *scores]), max([0.0, *scores])
    if lo < 0:  # room left of a negative bar for its value, which plotly draws outside a short bar
        span = (hi - lo) or 1.0
        fig.update_xaxes(range=[lo - 0.3 * span, hi + 0.05 * span])
    return fig


def attention_relative_to_uniform(att_time_joint: np.ndarray, num_parts: int = 6) -> np.ndarray:
    """(T', 25) attention -> (T', 25) weight divided by the uniform weight of its part, 1 / (T' x joints in the
    part): 1 = uniform, 2 = twice the uniform share. Each part's weights sum to 1 over its T' x joints tokens."""
    att = np.asarray(att_time_joint, np.float64)
    out = np.zeros_like(att)
    for joints in partition(num_parts).values():
        out[:, list(joints)] = att[:, list(joints)] * (att.shape[0] * len(joints))
    return out


RELATIVE_TICKS = (0.25, 0.5, 1.0, 2.0, 4.0)


def part_attention_heatmaps(att_time_joint: np.ndarray, num_parts: int = 6, title: str = "",
                            relative: bool = False) -> go.Figure:
    """One heatmap per part (K subplots): time (T', rows) x the part's joints (columns), from a (T', 25) map.

    Each part's attention is a softmax over its own tokens, so raw values are comparable within a part only
    (a part with few joints has larger weights). With ``relative`` every cell is its weight over the part's
    uniform weight (``attention_relative_to_uniform``) on one log2 colour scale for all parts, white at 1
    (uniform), ticks x0.25 .. x4; the raw weight is in the hover.
    """
    att = np.asarray(att_time_joint, np.float64)
    if att.ndim != 2 or att.shape[1] != 25:
        raise ValueError(f"attention map must be (T', 25), got {att.shape}")
    rel = attention_relative_to_uniform(att, num_parts)
    parts = list(partition(num_parts).items())
    fig = make_subplots(rows=1, cols=len(parts), subplot_titles=[n for n, _ in parts], horizontal_spacing=0.03,
                        column_widths=[len(j) for _, j in parts])
    times = list(range(att.shape[0]))
    for k, (name, joints) in enumerate(parts):
        cols = list(joints)
        if relative:
            z = np.log2(np.clip(rel[:, cols], 1e-6, None))
            hover = (f"{name}<br>joint %{{x}}<br>time step %{{y}}<br>%{{customdata[0]:.2f}} x uniform"
                     "<br>weight %{customdata[1]:.5f}<extra></extra>")
            custom = np.stack([rel[:, cols], att[:, cols]], axis=-1)
        else:
            z, custom = att[:, cols], None
            hover = f"{name}<br>" + "joint %{x}<br>time step %{y}<br>weight %{z:.4f}<extra></extra>"
        fig.add_trace(go.Heatmap(z=z, x=[JOINT_NAMES[j] for j in joints], y=times, coloraxis="coloraxis",
                                 customdata=custom, hovertemplate=hover), row=1, col=k + 1)
        fig.update_xaxes(tickangle=-60, tickfont=dict(size=9), row=1, col=k + 1)
        fig.update_yaxes(showticklabels=k == 0, row=1, col=k + 1)
    fig.update_yaxes(title_text="time step (T')", row=1, col=1)
    if relative:
        span = float(np.log2(RELATIVE_TICKS[-1]))
        axis = dict(colorscale="RdBu_r", cmin=-span, cmax=span, colorbar=dict(
            title="x uniform", tickvals=[float(np.log2(t)) for t in RELATIVE_TICKS],
            ticktext=[f"x{t:g}" for t in RELATIVE_TICKS]))
    else:
        axis = dict(colorscale="Viridis", colorbar=dict(title="weight"))
    fig.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=60, b=10), coloraxis=axis)
    return fig


def part_match_heatmap(part_scores: np.ndarray, part_names: Sequence[str], class_names: Sequence[str],
                       classes: Sequence[int], title: str = "") -> go.Figure:
    """part_scores (K, C) cosine scores -> heatmap parts (rows) x the given classes (columns)."""
    ps = np.asarray(part_scores, np.float64)
    cols = list(classes)
    z = ps[:, cols]
    fig = go.Figure(go.Heatmap(z=z, x=[class_names[c] for c in cols], y=list(part_names), colorscale="RdBu",
                               zmid=0, text=np.round(z, 3), texttemplate="%{text}",
                               hovertemplate="part %{y}<br>class %{x}<br>cosine %{z:.4f}<extra></extra>",
                               colorbar=dict(title="cosine")))
    fig.update_layout(title=title, height=120 + 34 * len(part_names), margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(autorange="reversed"), xaxis=dict(tickangle=-20))
    return fig


def su_curve(S: Sequence[float], U: Sequence[float], current: tuple[float, float] | None = None,
             area: float | None = None, reference: tuple[float, float] | None = None) -> go.Figure:
    """Seen-unseen accuracy curve: U on x, S on y (percent); ``current`` = (S, U) of the slider's gamma,
    ``reference`` = (S, U) at the checkpoint's gamma."""
    s, u = np.asarray(S, np.float64) * 100, np.asarray(U, np.float64) * 100
    order = np.lexsort((-s, u))
    fig = go.Figure(go.Scatter(x=u[order], y=s[order], mode="lines", name="seen-unseen curve",
                               line=dict(color="#4363d8", width=2), fill="tozeroy", fillcolor="rgba(67,99,216,0.1)",
                               hovertemplate="U %{x:.2f}%<br>S %{y:.2f}%<extra></extra>"))
    if reference is not None:
        fig.add_trace(go.Scatter(x=[reference[1] * 100], y=[reference[0] * 100], mode="markers",
                                 name="checkpoint gamma", marker=dict(color="#3cb44b", size=11, symbol="diamond")))
    if current is not None:
        fig.add_trace(go.Scatter(x=[current[1] * 100], y=[current[0] * 100], mode="markers", name="current gamma",
                                 marker=dict(color="#e6194b", size=13, symbol="x")))
    label = "" if area is None else f" (AUSUC {area * 100:.2f})"
    fig.update_layout(title="Seen-unseen accuracy curve" + label, xaxis=dict(title="U: unseen accuracy (%)",
                      range=[0, 100]), yaxis=dict(title="S: seen accuracy (%)", range=[0, 100]),
                      height=440, margin=dict(l=10, r=10, t=40, b=10), legend=dict(x=0.99, xanchor="right", y=0.99))
    return fig


def occlusion_bars(parts: Sequence[dict], top: str) -> go.Figure:
    """Probability drop of the top class per occluded part (``star.occlusion.part_occlusion``'s rows), in points."""
    names = [r["part"] for r in parts]
    drops = [r["drop"] * 100 for r in parts]
    fig = go.Figure(go.Bar(x=names, y=drops, marker_color=[PART_COLOURS[k % len(PART_COLOURS)] for k in range(len(names))],
                           hovertemplate="%{x}: %{y:+.2f} points<extra></extra>"))
    fig.update_layout(title=f"Drop of p({top}) when each part is occluded", height=320,
                      yaxis=dict(title="probability drop (points)"), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def part_dependence_heatmap(classes: dict[str, dict[str, float]], parts: Sequence[str], title: str = "") -> go.Figure:
    """Classes x parts heat map of the mean probability drop (points) when a part is occluded
    (``star.occlusion.test_clip_dependence``); red: the class needs the part, blue: the class gains without it."""
    names = list(classes)
    z = np.array([[classes[c][p] * 100 for p in parts] for c in names])
    limit = float(np.abs(z).max()) if z.size and np.abs(z).max() > 0 else 1.0
    fig = go.Figure(go.Heatmap(z=z, x=list(parts), y=names, zmin=-limit, zmax=limit, colorscale="RdBu_r",
                               colorbar=dict(title="drop (points)"),
                               hovertemplate="%{y}, %{x} occluded: %{z:+.1f} points<extra></extra>"))
    fig.update_layout(title=title, height=max(300, 28 * len(names) + 120), margin=dict(l=10, r=10, t=40, b=10),
                      yaxis=dict(autorange="reversed"))
    return fig


def su_curves(curves: dict[str, tuple[Sequence[float], Sequence[float]]],
              points: dict[str, tuple[float, float]] | None = None) -> go.Figure:
    """Several seen-unseen curves on one plot: ``curves`` {name: (S (G,), U (G,))} as fractions, ``points``
    {name: (S, U)} at each model's own gamma (marked on its curve)."""
    fig = go.Figure()
    colours = ("#4363d8", "#e6194b", "#3cb44b", "#f58231")
    for (name, (S, U)), colour in zip(curves.items(), colours):
        s, u = np.asarray(S, np.float64) * 100, np.asarray(U, np.float64) * 100
        order = np.lexsort((-s, u))
        fig.add_trace(go.Scatter(x=u[order], y=s[order], mode="lines", name=name, line=dict(color=colour, width=2),
                                 hovertemplate=f"{name}<br>U %{{x:.2f}}%<br>S %{{y:.2f}}%<extra></extra>"))
        if points and name in points:
            ps, pu = points[name]
            fig.add_trace(go.Scatter(x=[pu * 100], y=[ps * 100], mode="markers", name=f"{name}: its gamma",
                                     marker=dict(color=colour, size=11, symbol="diamond")))
    fig.update_layout(title="Seen-unseen accuracy curves (every gamma)", height=440,
                      xaxis=dict(title="U: unseen accuracy (%)", range=[0, 100]),
                      yaxis=dict(title="S: seen accuracy (%)", range=[0, 100]), margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(x=0.99, xanchor="right", y=0.99))
    return fig


VALIDATION_SERIES = {"val_H": ("H", "#4363d8", "solid"), "val_S": ("S (pseudo-seen)", "#f58231", "solid"),
                     "val_U": ("U (pseudo-unseen)", "#3cb44b", "solid"), "val_zsl": ("ZSL", "#911eb4", "dot")}


def validation_curve(epochs: Sequence[int], series: dict[str, Sequence[float]], chosen_epoch: int | None = None,
                     title: str = "Validation curve (pseudo-unseen fold)") -> go.Figure:
    """Validation scores per epoch (percent): one line per key of ``series`` present in ``VALIDATION_SERIES``
    (``val_H``, ``val_S``, ``val_U``, ``val_zsl``), and a marker on H at ``chosen_epoch``."""
    ep = list(epochs)
    fig = go.Figure()
    for key, (name, colour, dash) in VALIDATION_SERIES.items():
        if key in series:
            fig.add_trace(go.Scatter(x=ep, y=np.asarray(series[key], np.float64) * 100, mode="lines+markers",
                                     name=name, line=dict(color=colour, width=2, dash=dash), marker=dict(size=5),
                                     hovertemplate=f"epoch %{{x}}<br>{name} %{{y:.1f}}%<extra></extra>"))
    if chosen_epoch in ep and "val_H" in series:
        h = float(series["val_H"][ep.index(chosen_epoch)]) * 100
        fig.add_trace(go.Scatter(x=[chosen_epoch], y=[h], mode="markers", name="chosen epoch",
                                 marker=dict(color="#e6194b", size=13, symbol="star"),
                                 hovertemplate="chosen epoch %{x}<br>H %{y:.1f}%<extra></extra>"))
    fig.update_layout(title=title, xaxis=dict(title="epoch", dtick=1 if len(ep) <= 30 else None),
                      yaxis=dict(title="validation score (%)", range=[0, 100]), height=380,
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(x=0.99, xanchor="right", y=0.99))
    return fig


def confusion_heatmap(counts: np.ndarray, row_names: Sequence[str], col_names: Sequence[str] | None = None,
                      title: str = "") -> go.Figure:
    """counts (K, K') int -> heatmap of the row-normalised rates (rows = true class, columns = predicted).

    Hover shows the rate and the raw count; rows with no clips stay 0.
    """
    c = np.asarray(counts, np.float64)
    cols = list(row_names if col_names is None else col_names)
    if c.shape != (len(row_names), len(cols)):
        raise ValueError(f"counts {c.shape} do not match {len(row_names)} rows x {len(cols)} columns")
    tot = c.sum(axis=1, keepdims=True)
    rate = np.divide(c, tot, out=np.zeros_like(c), where=tot > 0)
    custom = np.stack([c, np.broadcast_to(tot, c.shape)], axis=-1).astype(int)
    fig = go.Figure(go.Heatmap(z=rate, x=cols, y=list(row_names), customdata=custom, colorscale="Blues", zmin=0,
                               zmax=1, colorbar=dict(title="rate"),
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{z:.1%} (%{customdata[0]} of "
                                             "%{customdata[1]} clips)<extra></extra>"))
    size = max(520, min(1000, 200 + 20 * len(row_names)))  # cells stay readable for 10 to 42 classes
    font = dict(size=12 if max(len(row_names), len(cols)) <= 20 else 9)
    fig.update_layout(title=title, height=size, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title="predicted", tickangle=-45, tickfont=font),
                      yaxis=dict(title="true", autorange="reversed", tickfont=font))
    return fig


SYMBOLS = ("circle", "diamond", "square", "x", "triangle-up", "cross")


def embedding_scatter(xy: np.ndarray, groups: Sequence[str], hover: Sequence[str],
                      symbols: Sequence[str] | None = None, title: str = "", height: int = 620,
                      legend_below: bool = False) -> go.Figure:
    """xy (N, 2) -> one trace per group (in first-appearance order), coloured by group.

    ``symbols`` (N,) are category labels (e.g. 'seen' / 'unseen') mapped to marker symbols in order of
    appearance; ``hover`` (N,) is the text shown on hover (class and sample). ``legend_below`` puts a few
    groups' legend in rows under the plot (for narrow plots) instead of a column at the right.
    """
    xy = np.asarray(xy, np.float64)
    n = xy.shape[0]
    if xy.ndim != 2 or xy.shape[1] != 2 or len(groups) != n or len(hover) != n:
        raise ValueError(f"xy must be (N, 2) with N groups and hover texts; got {xy.shape}, {len(groups)}, {len(hover)}")
    cats = list(dict.fromkeys(symbols)) if symbols is not None else []
    sym_of = {c: SYMBOLS[i % len(SYMBOLS)] for i, c in enumerate(cats)}
    palette = qualitative.Dark24 + qualitative.Light24 + qualitative.Alphabet
    groups = np.asarray(list(groups), dtype=object)
    hover = np.asarray(list(hover), dtype=object)
    fig = go.Figure()
    for g_i, g in enumerate(dict.fromkeys(groups.tolist())):
        rows = np.flatnonzero(groups == g)
        sym = [sym_of[symbols[i]] for i in rows] if symbols is not None else "circle"
        fig.add_trace(go.Scattergl(x=xy[rows, 0], y=xy[rows, 1], mode="markers", name=str(g),
                                   marker=dict(color=palette[g_i % len(palette)], symbol=sym, size=7,
                                               line=dict(width=0.5, color="#333")),
                                   text=hover[rows].tolist(), hovertemplate="%{text}<extra></extra>"))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(showticklabels=False, title="t-SNE 1"), yaxis=dict(showticklabels=False,
                      title="t-SNE 2", scaleanchor="x"), legend=dict(font=dict(size=10)))
    if legend_below:
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0))
    return fig
