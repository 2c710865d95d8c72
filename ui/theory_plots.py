"""The theory page's figure: the analytic linear model's curves (alignment, the
Information Imbalance, the test error) against n/d or the SNR, with the page's simulations
drawn on top as markers.

Apart from :mod:`noisealign.ui.plots` (the curve figures of the other pages, whose
helpers it uses) to keep that module to a readable size; no streamlit here either.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .plots import PALETTE, THRESHOLD_COLOR, all_positive, log_ticks

# (curve key, legend name, colour, row): row 1 holds the measures where higher is more
# aligned, row 2 the Information Imbalance (lower is more aligned), row 3 the test error.
THEORY_CURVES = (
    ("rho", "ρ = cos(β_a, β_b) (theory)", PALETTE[0], 1),
    ("cka", "Linear CKA, finite d (theory)", PALETTE[1], 1),
    ("ii_score", "Information Imbalance score 1 − Δ (theory)", PALETTE[2], 1),
    ("ii", "Information Imbalance Δ (theory)", PALETTE[3], 2),
)
# The d -> infinity limits, drawn dotted on request (rho^2 is what CKA tends to).
THEORY_LARGE_D = (
    ("cka_large_d", "ρ² (linear CKA as d → ∞)", PALETTE[1], 1),
    ("ii_score_large_d", "Information Imbalance score as d → ∞", PALETTE[2], 1),
    ("ii_large_d", "Δ(ρ) as d → ∞", PALETTE[3], 2),
)
THEORY_ROWS = {"cka": 1, "ii_score": 1, "ii": 2, "test_error": 3}
THEORY_X = {"nd": "n / d (samples per input dimension)",
            "snr_db": "signal-to-noise ratio SNR (dB)"}


def theory_figure(curves: dict, *, x: str = "nd", sims: pd.DataFrame | None = None,
                  explorer: pd.DataFrame | None = None, log_error: bool = True,
                  large_d: bool = False, threshold: float | None = None) -> go.Figure:
    """Our linear model's curves against ``x`` ("nd": n/d, or "snr_db"), in three rows
    that share the x axis: alignment where higher is more aligned (ρ, the finite-d linear
    CKA, the II score), the Information Imbalance Δ (lower is more aligned) on its own
    axis, and the test error. ``large_d`` adds the d → ∞ limits dotted (ρ², ...).

    ``curves``: :func:`engine.theory.curves` plus ``d`` (and ``snr_db`` for ``x="snr_db"``).
    ``sims`` (the page's simulations) and ``explorer`` (a matching alignment-explorer
    sweep) are markers; columns ``x`` (or ``nd``), ``measure`` (cka, ii_score, ii,
    test_error), ``mean``, ``sem``, ``label``. ``threshold``: where to draw the
    interpolation threshold on the x axis (default: n/d = 1 on the n/d axis, none on the
    SNR axis, which does not move it).
    """
    if x == "snr_db":
        xs = np.asarray(curves["snr_db"], float)
    else:
        xs = np.asarray(curves["n"], float) / float(curves["d"])
        threshold = 1.0 if threshold is None else threshold
    short = "n/d" if x == "nd" else "SNR (dB)"
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.45, 0.25, 0.3])
    lines: list[tuple[str, str, str, int, str | None]] = [
        (k, n, c, r, None) for k, n, c, r in THEORY_CURVES]
    if large_d:
        lines += [(k, n, c, r, "dot") for k, n, c, r in THEORY_LARGE_D]
    for key, label, color, row, dash in lines:
        fig.add_trace(go.Scatter(x=xs, y=curves[key], mode="lines", name=label,
                                 line={"color": color, "width": 1.5 if dash else 2.5, "dash": dash},
                                 hovertemplate=short + " %{x:.3f}: %{y:.4f}<extra>" + label
                                 + "</extra>"), row=row, col=1)
    fig.add_trace(go.Scatter(x=xs, y=curves["test_error"], mode="lines",
                             name="test error (theory)", line={"color": PALETTE[4], "width": 2.5},
                             hovertemplate=short + " %{x:.3f}: %{y:.4f}<extra>test error"
                             "</extra>"), row=3, col=1)
    colors = {"cka": PALETTE[1], "ii_score": PALETTE[2], "ii": PALETTE[3],
              "test_error": PALETTE[4]}
    for frame, symbol in ((sims, "circle-open"), (explorer, "diamond-open")):
        if frame is None or not len(frame):
            continue
        col = "x" if "x" in frame else "nd"
        for (measure, label), g in frame.groupby(["measure", "label"], sort=False):
            if measure not in THEORY_ROWS:
                continue
            g = g.sort_values(col)
            fig.add_trace(go.Scatter(
                x=g[col], y=g["mean"], mode="markers",
                error_y={"type": "data", "array": np.nan_to_num(g["sem"].to_numpy(float)),
                             "visible": True},
                marker={"symbol": symbol, "size": 11, "color": colors.get(measure, "#000"),
                            "line": {"width": 2}},
                name=label, hovertemplate=short + " %{x:.3f}: %{y:.4f}<extra>" + label
                + "</extra>"), row=THEORY_ROWS[measure], col=1)
    if threshold is not None:
        for r in (1, 2, 3):
            fig.add_vline(x=threshold, line_dash="dash", line_color=THRESHOLD_COLOR, row=r,
                          col=1)
        fig.add_annotation(x=threshold, y=1.0, yref="y domain", xref="x",
                           text=" n = d (threshold)", showarrow=False, yanchor="top",
                           xanchor="left", font={"size": 11, "color": THRESHOLD_COLOR},
                           row=1, col=1)
    # 0..1 scales, widened where a drawn value falls outside (a simulated Δ above 1).
    fig.update_yaxes(title_text="alignment (higher = more aligned)",
                     range=_unit_span(_row_values(fig, 1)), row=1, col=1)
    fig.update_yaxes(title_text="Δ (lower = more aligned)",
                     range=_unit_span(_row_values(fig, 2)), row=2, col=1)
    err = np.asarray(curves["test_error"], float)
    if sims is not None and len(sims):
        err = np.concatenate([err, sims.loc[sims["measure"] == "test_error", "mean"]
                              .to_numpy(float)])
    log_error = log_error and all_positive(err)  # a log axis would drop an error of 0
    fig.update_yaxes(title_text="test error (MSE, clean targets)",
                     type="log" if log_error else "linear", row=3, col=1,
                     # the third row is short: few labels, or they overlap at 800 px
                     **(log_ticks(err, max_ticks=4, decade_ticks=4) if log_error else {}))
    fig.update_xaxes(title_text=THEORY_X.get(x, x), row=3, col=1)
    fig.update_layout(height=760, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    return fig


def _row_values(fig: go.Figure, row: int) -> list[float]:
    """Every y value (with its error bar) drawn in subplot ``row`` of a one-column figure."""
    ref = "y" if row == 1 else f"y{row}"
    out: list[float] = []
    for tr in fig.data:
        if (tr.yaxis or "y") != ref or tr.y is None:
            continue
        y = np.asarray(tr.y, float)
        err = getattr(tr, "error_y", None)
        e = np.asarray(err.array, float) if err is not None and err.array is not None else 0
        out += [*(y + e).tolist(), *(y - e).tolist()]
    return [v for v in out if math.isfinite(v)]


def _unit_span(values: Sequence[float], lo: float = -0.02, hi: float = 1.05) -> list[float]:
    """[lo, hi] (a 0..1 scale with a margin), widened to hold every value."""
    v = [float(x) for x in values if math.isfinite(float(x))]
    if not v:
        return [lo, hi]
    pad = 0.03 * (max(hi, max(v)) - min(lo, min(v)))
    return [min(lo, min(v) - pad) if min(v) < lo else lo,
            max(hi, max(v) + pad) if max(v) > hi else hi]
