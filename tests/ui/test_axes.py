"""Axes chosen by the data they must show (issue 28, item 1): a log axis only where every
value is positive, an SNR in dB and a rate always linear, and, over every preset of the
findings report and every page's default view, every drawn data point inside its axis.

The presets draw from the summaries shipped with the app (engine/precomputed), so the
pages are the real ones (AppTest) and nothing is trained.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from noisealign.engine.presets.catalog import PRESETS
from noisealign.ui import plots, theory_plots
from tests.app.test_app import chart_specs, no_exception, open_app


def test_wants_log_only_where_every_value_is_positive():
    assert plots.wants_log([10, 100, 1000])
    assert not plots.wants_log([0, 10, 100, 1000]), "0 would vanish from a log axis"
    assert not plots.wants_log([-10, -5, 0, 5, 10, 40])
    assert not plots.wants_log([10, 20, 40])  # spans less than 8x: linear reads better
    assert not plots.wants_log([float("inf"), 1, 100])
    assert plots.wants_log([1, float("nan"), 100]), "a NaN (not computed) is no point"
    # An SNR in dB and a rate are linear however their values spread.
    assert not plots.wants_log([1, 10, 40], axis="snr_db")
    assert not plots.wants_log([0.01, 0.1, 0.8], axis="label_noise")
    assert plots.wants_log([0.01, 0.1, 1], axis="init_scale")


def _frame(xs) -> pd.DataFrame:
    return pd.DataFrame({"x": xs, "series": "a", "align_mean": np.linspace(0.2, 0.9, len(xs)),
                         "align_sem": 0.01, "error_mean": 0.3, "error_sem": 0.01,
                         "key": [f"k{i}" for i in range(len(xs))]})


def test_sweep_figure_keeps_zero_and_negative_points():
    kw = {"x_label": "x", "measure_label": "CKA", "error_label": "error"}
    # The digits preset's rates (p = 0 is its biggest effect) and the MLP preset's SNRs.
    for axis, xs in (("label_noise", [0, 0.05, 0.1, 0.2, 0.4, 0.8]),
                     ("snr_db", [-10, -5, 0, 5, 10, 40]),
                     ("width", [0, 8, 64, 512])):
        fig = plots.sweep_figure(_frame(xs), x=axis, **kw)
        assert plots.points_outside(fig) == [], axis
        assert fig.layout.xaxis2.type == "linear"
    fig = plots.sweep_figure(_frame([8, 64, 512]), x="width", **kw)
    assert fig.layout.xaxis2.type == "log"


def test_points_outside_finds_what_an_axis_drops():
    fig = plots.sweep_figure(_frame([0, 10, 100]), x="width", x_label="x",
                             measure_label="CKA", error_label="error", log_x=True)
    problems = plots.points_outside(fig)
    assert problems and "x = 0 on the log axis" in problems[0]
    fig.update_layout(xaxis2_type="linear")
    fig.update_yaxes(range=[0.5, 1], row=1, col=1)
    assert any("outside y's range" in p for p in plots.points_outside(fig))
    # The JSON the browser gets (typed arrays) reads the same.
    assert plots.points_outside(json.loads(fig.to_json())) == plots.points_outside(fig)


def test_theory_figure_widens_its_unit_scales_for_values_above_1():
    from noisealign.engine import theory
    curves = dict(theory.curves(50, 10.0, np.linspace(5, 300, 40)), d=50)
    sims = pd.DataFrame({"nd": [1.0, 2.0], "measure": ["ii", "test_error"],
                         "mean": [1.08, 0.0], "sem": [0.03, 0.0], "label": "sim", })
    fig = theory_plots.theory_figure(curves, sims=sims)
    assert plots.points_outside(fig) == []
    assert fig.layout.yaxis2.range[1] >= 1.11
    assert fig.layout.yaxis3.type != "log", "an error of 0 would vanish from a log axis"


def _charts_clean(at, what: str) -> int:
    specs = chart_specs(no_exception(at))
    for i, spec in enumerate(specs):
        assert plots.points_outside(json.loads(spec)) == [], f"{what}, chart {i}"
    return len(specs)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_draws_every_point_inside_its_axes(name):
    page = PRESETS[name]["page"]
    at = open_app(None if page == "alignment" else f"pages/{page}.py", auto="false")
    at.selectbox(key=f"_preset_pick_{page}").set_value(name).run()
    at.button(key=f"_preset_load_{page}").click().run()
    assert _charts_clean(at, name) >= 1, f"{name} draws nothing from the shipped summaries"


@pytest.mark.parametrize("page", [None, "pages/information.py", "pages/theory.py"])
def test_every_default_view_draws_every_point_inside_its_axes(page):
    _charts_clean(open_app(page, auto="false"), page or "alignment")
