"""One interpolation threshold (issue 24): the spec's, read by the dashboard and the report.

The dashboard draws its dashed line at ``ui.plots.interpolation_threshold`` and the
findings report (claims, figures, its tables) at ``experiments.findings.claims``'
``threshold_n`` / ``nc_threshold_width``; both must place it at the same n (and width)
for the same spec. The references here are independent: integer widths on either side of
the threshold counted with ``n_parameters``, and the closed forms of docs/science.md.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from experiments.findings import claims
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import PRESETS
from noisealign.ui import plots

SPECS = {
    "linear, bias": ExperimentSpec(dataset_params={"d": 50}, n_train=50, width=64,
                                   activation="linear"),
    "linear, no bias": ExperimentSpec(dataset_params={"d": 50}, n_train=50, width=64,
                                      activation="linear", bias=False),
    "linear preset": ExperimentSpec(**PRESETS["linear_n"]["spec"]),
    "relu, depth 2": ExperimentSpec(width=16, depth=2, n_train=300),
    "digits classifier": ExperimentSpec(dataset="digits", width=8, n_train=60),
    "cnn": ExperimentSpec(dataset="digits", architecture="cnn", width=4, n_train=200),
    "mnist1d preset": ExperimentSpec(**PRESETS["label_noise_width"]["spec"]),
}


@pytest.mark.parametrize("name", list(SPECS))
def test_dashboard_and_report_place_the_threshold_at_the_same_n(name: str) -> None:
    spec = SPECS[name]
    point = SimpleNamespace(spec=spec, n_parameters=spec.n_parameters())
    dashboard = plots.interpolation_threshold(spec, "n_train")
    assert dashboard == claims.threshold_n(point)
    # and that n is where the ratio the run view and the report's tables show is 1
    at = spec.replace(n_train=max(2, math.ceil(dashboard)))
    assert at.interpolation_ratio() == pytest.approx(dashboard / at.n_train)


def test_linear_network_counts_one_affine_map_with_its_bias() -> None:
    d = 50
    with_bias, no_bias = SPECS["linear, bias"], SPECS["linear, no bias"]
    outputs = with_bias.n_outputs()
    assert with_bias.effective_parameters() == (d + 1) * outputs
    assert no_bias.effective_parameters() == d * outputs
    assert with_bias.interpolation_threshold("n_train") == d + 1
    assert no_bias.interpolation_threshold("n_train") == d
    # wider or deeper, the same map: the threshold does not move
    assert with_bias.replace(width=512, depth=3).interpolation_threshold("n_train") == d + 1
    assert with_bias.interpolation_threshold("width") is None
    assert with_bias.interpolation_threshold("n_parameters") is None
    # a nonlinear network counts every stored parameter, bias included
    relu = with_bias.replace(activation="relu")
    assert relu.effective_parameters() == relu.n_parameters()
    assert relu.replace(bias=False).n_parameters() == relu.n_parameters() - (64 + outputs)


@pytest.mark.parametrize("name", ["relu, depth 2", "digits classifier", "cnn",
                                  "mnist1d preset"])
def test_width_threshold_brackets_the_integer_widths(name: str) -> None:
    spec = SPECS[name]
    w = spec.interpolation_threshold("width")
    assert w is not None and w > 0
    target = spec.fitted_values()
    below, above = math.floor(w), math.ceil(w)
    if below >= 1:
        assert spec.replace(width=below).n_parameters() <= target
    assert spec.replace(width=above).n_parameters() >= target
    assert spec.interpolation_threshold("n_parameters") == target


def test_report_widths_match_the_closed_forms_of_a_one_hidden_layer_mlp() -> None:
    spec = SPECS["mnist1d preset"]
    d, c, n = spec.input_dim(), spec.n_outputs(), spec.n_train
    point = SimpleNamespace(spec=spec)
    # P = (d + 1) w + (w + 1) c, solved for P = n c and P = n (docs/science.md 1.7)
    assert claims.nc_threshold_width(point) == pytest.approx((n * c - c) / (d + 1 + c))
    assert claims.n_threshold_width(point) == pytest.approx((n - c) / (d + 1 + c))
    assert spec.interpolation_threshold("width") == claims.nc_threshold_width(point)


def test_threshold_out_of_reach_and_other_axes() -> None:
    spec = SPECS["digits classifier"]
    assert spec.interpolation_threshold("snr_db") is None
    assert spec.interpolation_threshold("label_noise") is None
    # even a network of width -> 0 has its output biases: fewer targets are out of reach
    assert spec.width_for_parameters(spec.n_outputs()) is None
