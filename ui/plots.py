"""Plotly figures for the dashboard (no streamlit here: testable on its own).

Every curve figure takes a tidy ``pandas.DataFrame`` (one row per plotted point), the same
table the page offers as CSV, so what is downloaded is what is drawn.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from noisealign.engine.pipeline.spec import ExperimentSpec

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22")
THRESHOLD_COLOR = "#555555"
# A horizontal legend under the whole figure (anchored to the figure, not the plot area,
# so Plotly makes room for it below the x axis title however many rows it wraps to at a
# narrow width; a legend at a fixed y = -0.2 of the plot covered the title at 800 px).
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0}


# ----------------------------------------------------------------------------- threshold


# The definitions live on the spec (noisealign.engine.pipeline.spec.ExperimentSpec): these names stay for the
# pages and tests that import them from here.


def effective_parameters(spec: ExperimentSpec) -> int:
    """:meth:`ExperimentSpec.effective_parameters` (the parameters the threshold counts)."""
    return spec.effective_parameters()


def interpolation_ratio(spec: ExperimentSpec) -> float:
    """:meth:`ExperimentSpec.interpolation_ratio`: 1 at the interpolation threshold."""
    return spec.interpolation_ratio()


def interpolation_threshold(spec: ExperimentSpec, axis: str) -> float | None:
    """:meth:`ExperimentSpec.interpolation_threshold`: where the dashed line goes."""
    return spec.interpolation_threshold(axis)


def _vline(fig: go.Figure, x: float | None, *, rows: Sequence[int] = (1,),
           label: str = "interpolation threshold", log_x: bool = False) -> None:
    if x is None or not math.isfinite(x) or x <= 0 and log_x:
        return
    for i, r in enumerate(rows):
        fig.add_vline(x=x, line_dash="dash", line_color=THRESHOLD_COLOR, line_width=1.5,
                      row=r, col=1)
        if i == 0:
            fig.add_annotation(x=math.log10(x) if log_x else x, y=1.0, yref="y domain",
                               xref="x", text=" " + label, showarrow=False, yanchor="top",
                               xanchor="left", font={"size": 11, "color": THRESHOLD_COLOR},
                               row=r, col=1)


def _band(fig: go.Figure, x, mean, err, color: str, name: str, *, row: int, col: int = 1,
          showlegend: bool = True, customdata=None, dash: str | None = None,
          legendgroup: str | None = None, hover: str = "") -> None:
    x = np.asarray(x, float)
    mean = np.asarray(mean, float)
    err = np.nan_to_num(np.asarray(err, float))
    ok = np.isfinite(mean)
    x, mean, err = x[ok], mean[ok], err[ok]
    if customdata is not None:
        customdata = np.asarray(customdata, dtype=object)[ok]
    if len(x) == 0:
        return
    rgba = _rgba(color, 0.18)
    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]),
                             y=np.concatenate([mean + err, (mean - err)[::-1]]),
                             mode="lines", fill="toself", fillcolor=rgba, line={"width": 0},
                             hoverinfo="skip", showlegend=False, legendgroup=legendgroup or name),
                  row=row, col=col)
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=name,
                             line={"color": color, "dash": dash}, marker={"size": 8},
                             customdata=customdata, showlegend=showlegend,
                             legendgroup=legendgroup or name,
                             hovertemplate=hover or "%{x}: %{y:.4g}<extra>" + name + "</extra>"),
                  row=row, col=col)


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def tick_text(v: float) -> str:
    """A tick label as plain numbers: "0.001", "20", "19,210"; outside 1e-3..1e6 as a
    power of ten, "2×10⁻⁵" (never Plotly's SI prefixes "100μ" or "1.921e+04")."""
    v = float(v)
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    a = abs(v)
    if 1e-3 <= a < 1e6:
        if a >= 1000 or float(v).is_integer():
            return f"{round(v):,}"
        return f"{v:.4g}"
    mant, exp = f"{v:.2e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    power = "10" + str(int(exp)).translate(_SUPERSCRIPT)
    return power if mant == "1" else f"{mant}×{power}"


def nice_log_ticks(lo: float, hi: float, max_ticks: int = 10) -> list[float]:
    """1-2-5 ticks per decade covering [lo, hi] (1 per decade, or every n-th decade, when
    that would be more than ``max_ticks``)."""
    lo, hi = float(lo), float(hi)
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        return []
    lo, hi = min(lo, hi), max(lo, hi)
    e0, e1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mults in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0 ** e for e in range(e0, e1 + 1) for m in mults]
        ticks = [float(f"{t:.12g}") for t in ticks if lo / 1.5 <= t <= hi * 1.5]
        if len(ticks) <= max_ticks:
            return ticks
    every = max(1, math.ceil((e1 - e0 + 1) / max_ticks))
    return [10.0 ** e for e in range(e0, e1 + 1) if (e - e0) % every == 0]


def log_ticks(values: Sequence[float], max_ticks: int = 8, decade_ticks: int = 10) -> dict:
    """Axis settings for a log axis with clean labels: ticks at the data's own values when
    they are few and well apart (a sweep's x values), else at 1-2-5 per decade; labels
    as plain numbers (:func:`tick_text`); no minor-tick labels ("2 3 4 5"), no SI
    prefixes; at most ``decade_ticks`` of those (a short panel takes fewer). Pass the result to ``update_xaxes``/``update_yaxes`` with ``type="log"``."""
    v = sorted({float(x) for x in values
                if x is not None and math.isfinite(float(x)) and float(x) > 0})
    if not v:
        return {}
    apart = all(b / a >= 1.3 for a, b in itertools.pairwise(v))
    ticks = v if len(v) <= max_ticks and apart else nice_log_ticks(v[0], v[-1], decade_ticks)
    return {"tickvals": ticks, "ticktext": [tick_text(t) for t in ticks],
            "minor": {"showgrid": False, "ticks": ""}, "hoverformat": ",.4~r"}


# Axes always drawn linear, whatever their values: an SNR in dB is already a log scale
# (and takes values <= 0), a rate lives on 0..1 and its 0 is the clean reference.
LINEAR_AXES = frozenset({"snr_db", "label_noise"})


def all_positive(values: Sequence[float]) -> bool:
    """Whether every finite value is > 0 (a log axis can show them all); NaN (a point
    not computed) is ignored, an infinite value is not drawable and counts as not."""
    v = [float(x) for x in values if x is not None and not math.isnan(float(x))]
    return bool(v) and all(math.isfinite(x) and x > 0 for x in v)


def wants_log(values: Sequence[float], axis: str | None = None) -> bool:
    """Whether an axis holding ``values`` should be logarithmic: never for
    :data:`LINEAR_AXES` (``axis``: the spec field it shows), else only when *every*
    value is positive (a log axis silently drops 0 and below: issue 28's digits preset
    lost its p = 0 point, the MLP SNR preset its -10..0 dB) and they span 8x or more."""
    if axis in LINEAR_AXES or not all_positive(values):
        return False
    v = [float(x) for x in values if x is not None and not math.isnan(float(x))]
    return len(v) >= 2 and max(v) / min(v) >= 8


def _decode(values):
    """A Plotly JSON array as a list: plain lists as they are, typed arrays
    (``{"dtype": "f8", "bdata": base64}``, Plotly >= 6) decoded."""
    if isinstance(values, dict) and "bdata" in values:
        import base64
        arr = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        return arr.reshape(values["shape"]).tolist() if "shape" in values else arr.tolist()
    return list(values) if isinstance(values, (list, tuple, np.ndarray)) else []


def points_outside(fig: go.Figure | dict) -> list[str]:
    """The data points a figure does not show, as readable lines ([] when every point is
    inside its axes): a value <= 0 on a log axis, or one outside an axis's fixed
    ``range``. Error bands (filled traces) are not data points and are skipped; an axis
    without a fixed range autoscales to its data. ``fig``: a figure or its JSON dict (what
    the browser receives)."""
    d = fig if isinstance(fig, dict) else fig.to_plotly_json()
    layout = d.get("layout") or {}
    out = []
    for i, tr in enumerate(d.get("data") or []):
        if tr.get("fill") == "toself" or tr.get("type", "scatter") not in ("scatter",
                                                                           "scattergl"):
            continue
        name = tr.get("name") or f"trace {i}"
        for letter in ("x", "y"):
            ref = tr.get(letter + "axis") or letter
            axis = layout.get(letter + "axis" + ref[1:]) or {}
            vals = [v for v in _decode(tr.get(letter)) if isinstance(v, (int, float))
                    and v is not None and not math.isnan(v)]
            log = axis.get("type") == "log"
            rng = axis.get("range")
            for v in vals:
                if log and not v > 0:
                    out.append(f"{name}: {letter} = {v:g} on the log axis {ref}")
                    continue
                if rng is not None and None not in rng:
                    lo, hi = (10 ** rng[0], 10 ** rng[1]) if log else (rng[0], rng[1])
                    lo, hi = min(lo, hi), max(lo, hi)
                    if not lo - 1e-9 * abs(lo) <= v <= hi + 1e-9 * abs(hi):
                        out.append(f"{name}: {letter} = {v:g} outside {ref}'s range "
                                   f"[{lo:g}, {hi:g}]")
    return out


# ----------------------------------------------------------------------------- styling

# Presentation mode (ui.teach.chart): text sizes in px, and how much thicker lines and
# bigger markers get. Plotly's defaults are 12 px text, 2 px lines, 6-8 px markers.
PRESENT_FONT = 20
PRESENT_TICK_FONT = 18
PRESENT_TITLE_FONT = 22
PRESENT_LINE_SCALE = 1.8
PRESENT_MARKER_SCALE = 1.5


def presentation_style(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` readable from the back of a lecture hall: every text (axes,
    ticks, legend, subplot titles and annotations, hover labels) large, lines and markers
    thicker, the figure taller to keep the plot area. The data are untouched."""
    fig = copy.deepcopy(fig)  # a copy: the page's own figure stays as it is
    fig.update_layout(font={"size": PRESENT_FONT},
                      legend={"font": {"size": PRESENT_FONT}},
                      hoverlabel={"font": {"size": PRESENT_FONT}},
                      height=int((fig.layout.height or 450) * 1.25))
    fig.update_xaxes(title_font={"size": PRESENT_TITLE_FONT},
                     tickfont={"size": PRESENT_TICK_FONT}, automargin=True)
    fig.update_yaxes(title_font={"size": PRESENT_TITLE_FONT},
                     tickfont={"size": PRESENT_TICK_FONT}, automargin=True)
    if fig.layout.title and fig.layout.title.text:
        fig.update_layout(title_font={"size": PRESENT_TITLE_FONT})
    fig.update_annotations(font_size=PRESENT_FONT)  # subplot titles, threshold labels
    for axis in [*fig.select_xaxes(), *fig.select_yaxes()]:
        _fewer_ticks(axis)  # large labels need more room each
        if axis.title and axis.title.text:
            axis.title.text = _two_lines(axis.title.text)
    for trace in fig.data:
        line = getattr(trace, "line", None)
        if line is not None and trace.type == "scatter" and trace.fill != "toself":
            trace.line.width = max(3.0, (line.width or 2.0) * PRESENT_LINE_SCALE)
        marker = getattr(trace, "marker", None)
        if marker is not None and trace.type == "scatter":
            size = marker.size if isinstance(marker.size, (int, float)) else 8
            trace.marker.size = size * PRESENT_MARKER_SCALE
            if marker.line is not None and isinstance(marker.line.width, (int, float)):
                trace.marker.line.width = max(2.5, marker.line.width * PRESENT_LINE_SCALE)
        if trace.type == "heatmap":
            trace.textfont = {"size": PRESENT_TICK_FONT}
    for shape in fig.layout.shapes or ():  # the dashed threshold lines
        if shape.line is not None:
            shape.line.width = max(2.5, (shape.line.width or 1.5) * PRESENT_LINE_SCALE)
    return fig


def _two_lines(text: str, longest: int = 26) -> str:
    """A long axis title broken at the space nearest its middle (large text would run
    past the plot's edge)."""
    if len(text) <= longest or "<br>" in text:
        return text
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(i - len(text) / 2))
    return text[:cut] + "<br>" + text[cut + 1:]


def _fewer_ticks(axis: go.layout.XAxis | go.layout.YAxis) -> None:
    """Thin an axis's explicit ticks (:func:`log_ticks`) for large labels: the powers of
    ten when there are two or more, else every other tick; automatic ticks get fewer."""
    vals = list(axis.tickvals) if axis.tickvals is not None else []
    if not vals:
        axis.nticks = 6
        return
    if len(vals) <= 5:
        return
    keep = [i for i, v in enumerate(vals)
            if v > 0 and math.isclose(math.log10(v), round(math.log10(v)), abs_tol=1e-9)]
    if len(keep) < 2:
        keep = list(range(0, len(vals), 2))
    texts = list(axis.ticktext) if axis.ticktext is not None else None
    axis.tickvals = [vals[i] for i in keep]
    if texts is not None:
        axis.ticktext = [texts[i] for i in keep]


# ----------------------------------------------------------------------------- alignment


def sweep_figure(df: pd.DataFrame, *, x: str, x_label: str, measure_label: str,
                 error_label: str, series_label: str | None = None,
                 threshold: float | None = None, log_x: bool | None = None,
                 chance: float | None = None) -> go.Figure:
    """Alignment (top) and test error (bottom) against ``x``, one curve per series.
    ``chance`` (classification: 1 - 1/classes): the error axis spans 0 to it at least.

    ``df`` columns: ``x``, ``series`` (str), ``align_mean``, ``align_sem``, ``error_mean``,
    ``error_sem``, ``key`` (cache key, carried as customdata so a click opens the run).
    Bands are +- one standard error over the ensemble's pairs / members.
    """
    log_x = wants_log(df["x"], axis=x) if log_x is None else log_x
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        row_heights=[0.6, 0.4])
    for i, (name, g) in enumerate(df.groupby("series", sort=False)):
        g = g.sort_values("x")
        color = PALETTE[i % len(PALETTE)]
        label = f"{series_label} = {name}" if series_label else str(name)
        _band(fig, g["x"], g["align_mean"], g["align_sem"], color, label, row=1,
              customdata=g["key"], legendgroup=label,
              hover=f"{x_label} %{{x}}<br>{measure_label} %{{y:.4g}}<extra>{label}</extra>")
        _band(fig, g["x"], g["error_mean"], g["error_sem"], color, label, row=2,
              customdata=g["key"], showlegend=False, legendgroup=label,
              hover=f"{x_label} %{{x}}<br>{error_label} %{{y:.4g}}<extra>{label}</extra>")
    _vline(fig, threshold, rows=(1, 2), log_x=log_x)
    fig.update_yaxes(title_text=measure_label, row=1, col=1)
    fig.update_yaxes(title_text=error_label, row=2, col=1)
    if chance is not None:
        err_range = error_axis_range(df["error_mean"], df["error_sem"], chance=chance)
        if err_range is not None:
            fig.update_yaxes(range=err_range, row=2, col=1)
    ticks = log_ticks(df["x"]) if log_x else {}
    fig.update_xaxes(title_text=x_label, row=2, col=1, type="log" if log_x else "linear",
                     **ticks)
    fig.update_xaxes(type="log" if log_x else "linear", row=1, col=1, **ticks)
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0},
                      hovermode="closest", clickmode="event+select",
                      showlegend=series_label is not None)
    return fig


def heatmap_figure(matrix: np.ndarray, *, title: str, zmin: float | None = None,
                   zmax: float | None = None, colorscale: str = "Viridis",
                   reverse: bool = False) -> go.Figure:
    """K x K matrix; entry (a, b) is the measure from member a (row) to member b."""
    m = np.asarray(matrix, float)
    k = m.shape[0]
    labels = [f"m{i + 1}" for i in range(k)]
    text = [[("" if not np.isfinite(v) else f"{v:.3f}") for v in row] for row in m]
    fig = go.Figure(go.Heatmap(z=m, x=labels, y=labels, zmin=zmin, zmax=zmax,
                               colorscale=colorscale, reversescale=reverse, text=text,
                               texttemplate="%{text}" if k <= 12 else None,
                               hovertemplate="from %{y} to %{x}: %{z:.4f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text="member a (from)")
    fig.update_xaxes(title_text="member b (to)", side="bottom")
    fig.update_layout(title=title, height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def members_figure(test_error: np.ndarray, train_loss: np.ndarray, *, error_label: str,
                   loss_label: str) -> go.Figure:
    """Per-member test error (clean targets) and training loss (own noisy data)."""
    k = len(test_error)
    labels = [f"m{i + 1}" for i in range(k)]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(error_label, loss_label))
    fig.add_trace(go.Bar(x=labels, y=test_error, marker_color=PALETTE[0], name=error_label),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=labels, y=train_loss, marker_color=PALETTE[4], name=loss_label),
                  row=1, col=2)
    fig.update_layout(height=300, showlegend=False, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


# ----------------------------------------------------------------------------- information


def id_layers_figure(ids: dict) -> go.Figure:
    """Intrinsic dimension per layer (x) of one run: TwoNN and GRIDE, trained (solid) and
    untrained (dotted), mean with the standard error over members as error bars.
    ``ids``: ``{"trained": block, "init": block}`` of
    :func:`noisealign.engine.measures.summaries.intrinsic_dimension`."""
    fig = go.Figure()
    for state, dash in (("trained", None), ("init", "dot")):
        block = ids.get(state) or {}
        if "layers" not in block:
            continue
        for j, method in enumerate(("twonn", "gride")):
            name = (("TwoNN" if method == "twonn" else
                     f"GRIDE (order {block.get('gride_scale', '?')})")
                    + ("" if state == "trained" else ", untrained"))
            fig.add_trace(go.Scatter(
                x=block["layers"], y=block[method + "_mean"], mode="lines+markers", name=name,
                error_y={"type": "data", "array": np.nan_to_num(
                    np.asarray(block[method + "_sem"], float)), "visible": True},
                line={"color": PALETTE[j], "dash": dash}, marker={"size": 8},
                hovertemplate="%{x}: ID %{y:.3g}<extra>" + name + "</extra>"))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      title={"text": "Intrinsic dimension per layer", "font": {"size": 14}},
                      yaxis_title="intrinsic dimension",
                      legend=LEGEND_BELOW)
    fig.update_yaxes(rangemode="tozero")
    return fig


def id_sweep_figure(df: pd.DataFrame, *, threshold: float | None, x_label: str) -> go.Figure:
    """Intrinsic dimension of the last hidden layer against parameters, one curve per
    condition. ``df``: ``n_parameters``, ``condition``, ``method``, ``id_mean``,
    ``id_sem``, ``dash``."""
    methods = list(dict.fromkeys(df["method"]))
    fig = make_subplots(rows=1, cols=len(methods) or 1, subplot_titles=methods,
                        horizontal_spacing=0.1)
    log_x = wants_log(df["n_parameters"])
    conditions = list(dict.fromkeys(df["condition"]))
    for c, method in enumerate(methods, start=1):
        for i, name in enumerate(conditions):
            g = df[(df["condition"] == name) & (df["method"] == method)]
            if g.empty:
                continue
            g = g.sort_values("n_parameters")
            _band(fig, g["n_parameters"], g["id_mean"], g["id_sem"],
                  PALETTE[i % len(PALETTE)], name, row=1, col=c, showlegend=c == 1,
                  dash="dot" if bool(g["dash"].iloc[0]) else None,
                  hover="P %{x}<br>ID %{y:.3g}<extra>" + name + "</extra>")
        if threshold is not None:
            fig.add_vline(x=threshold, line_dash="dash", line_color=THRESHOLD_COLOR, row=1, col=c)
    ticks = log_ticks(df["n_parameters"]) if log_x else {}
    for c in range(1, len(methods) + 1):
        fig.update_xaxes(title_text=x_label, type="log" if log_x else "linear", row=1, col=c,
                         **ticks)
        fig.update_yaxes(title_text="intrinsic dimension" if c == 1 else None,
                         rangemode="tozero", row=1, col=c)
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend=LEGEND_BELOW)
    return fig


def error_axis_range(mean: Sequence[float], sem: Sequence[float] | None = None, *,
                     chance: float | None = None) -> list[float] | None:
    """A y range for a classification error axis that never zooms into noise: it spans
    at least 0 to the chance level ``chance`` (1 - 1/classes) and every value +- its
    error bar, with a small margin. Without a chance level, at least 0 to the largest
    value. ``None`` when there is no finite value (the axis then autoscales).

    Errors of networks at chance (random labels: 0.89-0.93 for 10 classes) would
    otherwise fill the whole axis, so that their noise looks like a peak.
    """
    m = np.asarray(mean, float)
    s = np.zeros_like(m) if sem is None else np.nan_to_num(np.asarray(sem, float))
    ok = np.isfinite(m)
    if not ok.any():
        return None
    lo = min(0.0, float(np.min(m[ok] - s[ok])))
    hi = max(float(np.max(m[ok] + s[ok])), 0.0 if chance is None else float(chance))
    pad = 0.04 * (hi - lo) if hi > lo else 0.05
    return [lo - pad, hi + pad]


def information_figure(df: pd.DataFrame, *, threshold: float | None,
                       info_label: str, error_label: str,
                       chance: float | None = None) -> go.Figure:
    """Delta(h -> y_clean) (left) and test error (right) against parameters, one curve
    per condition. ``df``: ``n_parameters``, ``condition``, ``info_mean``, ``info_sem``,
    ``error_mean``, ``error_sem``, ``dash`` (bool: a reference curve), ``key``.
    ``chance``: the error of guessing (1 - 1/classes); the error axis spans 0 to it at
    least (:func:`error_axis_range`)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(info_label, error_label),
                        horizontal_spacing=0.1)
    log_x = wants_log(df["n_parameters"])
    for i, (name, g) in enumerate(df.groupby("condition", sort=False)):
        g = g.sort_values("n_parameters")
        color = PALETTE[i % len(PALETTE)]
        dash = "dot" if bool(g["dash"].iloc[0]) else None
        _band(fig, g["n_parameters"], g["info_mean"], g["info_sem"], color, name, row=1,
              col=1, dash=dash, customdata=g["key"],
              hover="P %{x}<br>Δ %{y:.4g}<extra>" + name + "</extra>")
        if g["error_mean"].notna().any():
            _band(fig, g["n_parameters"], g["error_mean"], g["error_sem"], color, name, row=1,
                  col=2, dash=dash, showlegend=False, customdata=g["key"],
                  hover="P %{x}<br>error %{y:.4g}<extra>" + name + "</extra>")
    if threshold is not None:
        for c in (1, 2):
            fig.add_vline(x=threshold, line_dash="dash", line_color=THRESHOLD_COLOR, row=1, col=c)
        fig.add_annotation(x=math.log10(threshold) if log_x else threshold, y=1.0,
                           yref="y domain", xref="x", text=" P = n · classes",
                           showarrow=False, yanchor="top", xanchor="left",
                           font={"size": 11, "color": THRESHOLD_COLOR}, row=1, col=1)
    ticks = log_ticks(df["n_parameters"]) if log_x else {}
    for c in (1, 2):
        fig.update_xaxes(title_text="parameters P per network", type="log" if log_x else "linear",
                         row=1, col=c, **ticks)
    err_range = error_axis_range(df["error_mean"], df["error_sem"], chance=chance)
    if err_range is not None:
        fig.update_yaxes(range=err_range, row=1, col=2)
    fig.update_layout(height=430, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend=LEGEND_BELOW)
    return fig


def loss_figure(df: pd.DataFrame, *, x_label: str, y_label: str) -> go.Figure:
    """Delta(penultimate -> pre-softmax) against cross-entropy loss, one marker per run,
    coloured by condition; over-parameterised runs filled, under-parameterised hollow."""
    fig = go.Figure()
    for i, (name, g) in enumerate(df.groupby("condition", sort=False)):
        color = PALETTE[i % len(PALETTE)]
        over = g["over"].astype(bool)
        for part, filled in ((g[over], True), (g[~over], False)):
            if part.empty:
                continue
            fig.add_trace(go.Scatter(
                x=part["loss"], y=part["pen_out"], mode="markers",
                name=name + ("" if filled else " (under-parameterised)"),
                marker={"size": 10, "color": color if filled else "white",
                            "line": {"color": color, "width": 2}},
                customdata=np.stack([part["n_parameters"], part["width"]], axis=1),
                hovertemplate=(x_label + " %{x:.3g}<br>" + y_label
                               + " %{y:.3g}<br>P %{customdata[0]}, width %{customdata[1]}"
                               + "<extra>" + name + "</extra>")))
    log_x = wants_log(df["loss"]) if len(df) else False
    fig.update_xaxes(title_text=x_label, type="log" if log_x else "linear",
                     **(log_ticks(df["loss"]) if log_x else {}))
    fig.update_yaxes(title_text=y_label)
    fig.update_layout(height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend=LEGEND_BELOW)
    return fig


# ----------------------------------------------------------------------------- own models


def names_heatmap(matrix: np.ndarray, names: Sequence[str], *, title: str,
                  row_title: str = "a (from)", col_title: str = "b (to)",
                  colorscale: str = "Viridis", reverse: bool = False,
                  cols: Sequence[str] | None = None) -> go.Figure:
    """A matrix with named rows and columns (arrays of the Compare page); entry
    (a, b) from row a to column b; NaN cells are blank."""
    m = np.asarray(matrix, float)
    cols = list(names) if cols is None else list(cols)
    text = [[("" if not np.isfinite(v) else f"{v:.3f}") for v in row] for row in m]
    fig = go.Figure(go.Heatmap(z=m, x=cols, y=list(names), colorscale=colorscale,
                               reversescale=reverse, text=text,
                               texttemplate="%{text}" if max(m.shape) <= 12 else None,
                               hovertemplate="%{y} → %{x}: %{z:.4f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title_text=row_title, type="category")
    fig.update_xaxes(title_text=col_title, side="bottom", type="category")
    fig.update_layout(title=title, height=max(360, 60 + 34 * len(names)),
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def ii_plane_figure(points: Sequence[dict]) -> go.Figure:
    """The information-imbalance plane: Delta(a -> b) against Delta(b -> a), one point
    per pair, with the diagonal; below it a predicts b better than b predicts a."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1.1], y=[0, 1.1], mode="lines", name="Δ(a→b) = Δ(b→a)",
                             line={"color": "#999", "dash": "dash"}, hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[p["ii_ab"] for p in points], y=[p["ii_ba"] for p in points], mode="markers",
        name="pairs", marker={"size": 9, "color": "#1f77b4"},
        customdata=[[p["a"], p["b"]] for p in points],
        hovertemplate="a = %{customdata[0]}<br>b = %{customdata[1]}<br>Δ(a→b) = %{x:.4f}"
                      "<br>Δ(b→a) = %{y:.4f}<extra></extra>"))
    fig.update_xaxes(title_text="Δ(a → b)", range=[0, 1.1])
    fig.update_yaxes(title_text="Δ(b → a)", range=[0, 1.1], scaleanchor="x")
    fig.update_layout(title="Information-imbalance plane", height=460, showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


# ----------------------------------------------------------------------------- over training

INIT_X = 0.5  # where initialisation (epoch 0) sits on the log epoch axis


def _epoch_x(epochs) -> np.ndarray:
    e = np.asarray(epochs, float)
    return np.where(e > 0, e, INIT_X)


def over_training_figure(df: pd.DataFrame, *, measure: str, measure_label: str,
                         error_label: str, epoch: int | None = None) -> go.Figure:
    """One run's measures against training epoch, with the test error on the same axis.

    ``df``: :func:`noisealign.ui.tables.over_training_frame`. Top: the pair measures (the chosen
    ``measure`` shown, the others one legend click away), mean over pairs +- standard
    error; middle: Delta(h -> y clean) and Delta(y clean -> h), mean over members;
    bottom: the test error. Log epoch axis, initialisation at "init". ``epoch`` (the
    slider's) is marked with a dotted line.
    """
    from .tables import MEASURE_SHORT
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.45, 0.3, 0.25])
    x = _epoch_x(df["epoch"])
    for i, m in enumerate(("cka", "cka_debiased", "ii_score", "mknn", "ii")):
        if f"{m}_mean" not in df:
            continue
        name = MEASURE_SHORT.get(m, m) + (" (both directions)" if m == "ii" else "")
        before = len(fig.data)
        _band(fig, x, df[f"{m}_mean"], df[f"{m}_sem"], PALETTE[i], name, row=1,
              hover="epoch %{customdata}: %{y:.4g}<extra>" + name + "</extra>",
              customdata=df["epoch"])
        if m != measure:
            for tr in fig.data[before:]:
                tr.visible = "legendonly"
    for i, (s, name) in enumerate((("ii_h_to_y", "Δ(h → y clean)"),
                                   ("ii_y_to_h", "Δ(y clean → h)"))):
        _band(fig, x, df[f"{s}_mean"], df[f"{s}_sem"], PALETTE[5 + i], name, row=2,
              customdata=df["epoch"],
              hover="epoch %{customdata}: %{y:.4g}<extra>" + name + "</extra>")
    _band(fig, x, df["test_error_mean"], df["test_error_sem"], PALETTE[8], error_label, row=3,
          customdata=df["epoch"],
          hover="epoch %{customdata}: %{y:.4g}<extra>" + error_label + "</extra>")
    if epoch is not None:
        for r in (1, 2, 3):
            fig.add_vline(x=float(_epoch_x([epoch])[0]), line_dash="dot",
                          line_color=THRESHOLD_COLOR, line_width=1.5, row=r, col=1)
    ticks = [float(v) for v in x]
    labels = ["init" if e == 0 else f"{int(e):,}" for e in df["epoch"]]
    if len(ticks) > 12:  # keep init, the end and about ten between
        keep = sorted(set(np.linspace(0, len(ticks) - 1, 12).round().astype(int).tolist()))
        ticks, labels = [ticks[i] for i in keep], [labels[i] for i in keep]
    for r in (1, 2, 3):
        fig.update_xaxes(type="log", tickvals=ticks, ticktext=labels, row=r, col=1)
    fig.update_xaxes(title_text="epoch (log scale)", row=3, col=1)
    fig.update_yaxes(title_text=measure_label, row=1, col=1)
    fig.update_yaxes(title_text="Δ with y clean", row=2, col=1)
    fig.update_yaxes(title_text=error_label, row=3, col=1)
    fig.update_layout(height=640, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      hovermode="closest", title=None)
    return fig
