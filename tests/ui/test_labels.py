"""ui/labels.py (one table of human labels) and ui/plots.py's log-axis ticks and
threshold arithmetic: plain Python, no Streamlit server."""

from __future__ import annotations

import math

import pytest

from noisealign.engine.base.validation import for_markdown
from noisealign.engine.pipeline.spec import SPEC_FIELDS, ExperimentSpec
from noisealign.ui import labels, plots


def test_every_spec_field_has_a_label():
    # A new spec field without a label fails here (and would show as a raw id).
    missing = [f for f in SPEC_FIELDS if f not in labels.FIELD_LABELS]
    assert not missing, f"add labels for {missing} to ui/labels.py FIELD_LABELS"
    for f in SPEC_FIELDS:
        text = labels.label(f)
        assert text != f and text[0].isupper() and "_" not in text, (f, text)


def test_every_measure_has_a_label_and_a_direction():
    from noisealign.engine.measures.summaries import MEASURES
    from noisealign.ui.tables import MEASURE_LABELS as PAGE_MEASURES
    for m in tuple(MEASURES) + tuple(PAGE_MEASURES):
        assert m in labels.MEASURE_LABELS, m
        assert "_" not in labels.label(m)
    assert labels.label("ii_score") == "Information Imbalance score"
    assert labels.label("cka") == "Linear CKA"
    assert "lower = more aligned" in labels.axis_title("ii", direction=True)
    assert "higher = more aligned" in labels.axis_title("cka", direction=True)
    assert labels.axis_title("cka") == "Linear CKA"


def test_every_sweep_axis_and_page_input_has_a_label():
    from noisealign.engine.compute.sweep import PARAM_PREFIX, REPLICATE
    assert PARAM_PREFIX == labels.PARAM_PREFIX
    for name in ("n_train", "snr_db", "width", "label_noise", "init_scale", REPLICATE,
                 "xs", "ss", "k", "knn_k", "widths", "rates", "sim_nd", "sim_snr"):
        assert labels.label(name) != name, name
    assert labels.label("n_train") == "Training samples n"
    assert labels.label("snr_db") == "Signal-to-noise ratio, SNR (dB)"
    assert labels.label("dataset_params.d") == "Dataset parameter d"
    assert labels.label("no_such_thing") == "no_such_thing"  # a fallback, never raises
    assert labels.format_option("none") == "none"
    assert labels.point_label("n_train=50, snr_db=10") == \
        "Training samples n = 50, Signal-to-noise ratio, SNR (dB) = 10"
    assert labels.point_label("none") == "none"


@pytest.mark.parametrize("make, want", [
    (lambda: ExperimentSpec(snr_db=-100), ("Signal-to-noise ratio, SNR (dB): -100.0 is invalid: "
     "allowed a number in [-40.0, 80.0] or inf")),
    (lambda: ExperimentSpec(dataset="diabetes", noise="label"), "Noise kind: 'label' is invalid"),
    (lambda: ExperimentSpec(dataset="diabetes", n_train=100_000), ("Training samples n: 100000 "
     "exceeds the")),
    (lambda: ExperimentSpec(dataset_params={"d": 0}), "Dataset parameter d: 0 is invalid"),
])
def test_engine_messages_name_the_field_by_its_label(make, want):
    with pytest.raises(ValueError) as e:
        make()
    raw = str(e.value)
    assert "=" in raw.split(" ")[0]  # the engine's own text is unchanged (API, CLI)
    assert labels.message(raw).startswith(want), labels.message(raw)


def test_page_messages_and_untouched_messages():
    from noisealign.ui.page_support import number_list
    with pytest.raises(ValueError) as e:
        number_list("", "ss")
    assert labels.message(str(e.value)).startswith("Series values: '' is invalid: allowed")
    assert labels.message("axis 'snr_db' has no effect with noise='none'") == \
        "Sweep axis Signal-to-noise ratio, SNR (dB) has no effect with noise kind 'none'"
    # Spec fields inside a message are named by their labels too; other words stay.
    assert labels.message("the run needs n_train=50 and foo=1") == \
        "the run needs training samples n 50 and foo=1"
    # Not a field: unchanged; a hostile value is still escaped when shown.
    assert labels.message("The job failed: boom") == "The job failed: boom"
    shown = for_markdown(labels.message("xs='![p](http://x)' is invalid"))
    assert shown.startswith("x values\\: ") and "\\!\\[p\\]" in shown


# ----------------------------------------------------------------------------- log ticks


@pytest.mark.parametrize("v, text", [(0.001, "0.001"), (0.02, "0.02"), (20, "20"),
                                     (19210, "19,210"), (1e-5, "10⁻⁵"), (2e-5, "2×10⁻⁵"),
                                     (1e7, "10⁷"), (0.5, "0.5"), (123456.7, "123,457")])
def test_tick_text_is_plain_numbers(v, text):
    assert plots.tick_text(v) == text


def test_log_ticks_have_no_minor_labels_or_si_prefixes():
    few = plots.log_ticks([20, 35, 50, 70, 100, 200])
    assert few["tickvals"] == [20, 35, 50, 70, 100, 200]  # a sweep's own x values
    assert few["minor"]["ticks"] == "" and not few["minor"]["showgrid"]
    many = plots.log_ticks([1.2e-4 * 1.3 ** i for i in range(40)])  # 1e-4 .. 3: 1-3
    assert many["ticktext"] == ["10⁻⁴", "3×10⁻⁴", "0.001", "0.003", "0.01", "0.03", "0.1",
                                "0.3", "1", "3"]
    close = plots.log_ticks([10, 12, 20, 50, 100])  # 10 and 12 would overlap: 1-2-5
    assert close["tickvals"] == [10.0, 20.0, 50.0, 100.0]
    assert plots.log_ticks([1, 2, 5, 10, 20, 50, 100, 200, 500])["tickvals"] == \
        [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0]  # nine: 1-2-5 as well
    assert plots.nice_log_ticks(1e-6, 1e6) == [1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6]
    assert plots.log_ticks([0, -1, float("nan")]) == {}


def test_figures_use_clean_log_axes():
    import pandas as pd
    df = pd.DataFrame({"x": [1e-3, 1e-2, 1e-1, 1.0], "series": "a", "align_mean": 0.5,
                       "align_sem": 0.01, "error_mean": 0.1, "error_sem": 0.01, "key": "k"})
    fig = plots.sweep_figure(df, x="init_scale", x_label="Initialisation scale",
                             measure_label="CKA", error_label="MSE")
    assert fig.layout.xaxis2.type == "log"
    assert list(fig.layout.xaxis2.ticktext) == ["0.001", "0.01", "0.1", "1"]


# ----------------------------------------------------------------------------- threshold


def test_one_definition_of_p_over_n_outputs():
    # The tester's case: a linear run at n = 50, d = 50 with a bias showed
    # P/(n·outputs) = 66.58 while the header and the line put the threshold at n = 51.
    spec = ExperimentSpec(dataset_params={"d": 50}, n_train=50, width=64, activation="linear")
    # the raw weight count is not the threshold's P (issue 24: one definition, the spec's)
    assert spec.n_parameters() / spec.fitted_values() == pytest.approx(66.58)
    assert spec.interpolation_ratio() == plots.interpolation_ratio(spec) == pytest.approx(51 / 50)
    thr = plots.interpolation_threshold(spec, "n_train")
    assert thr == 51
    # at the threshold the ratio is 1, whatever the architecture
    for s in (spec, spec.replace(activation="relu"),
              ExperimentSpec(dataset="digits", architecture="mlp", width=8, n_train=60)):
        n_star = plots.interpolation_threshold(s, "n_train")
        at = s.replace(n_train=2) if n_star < 2 else s
        ratio = plots.effective_parameters(at) / (n_star * at.n_outputs())
        assert math.isclose(ratio, 1.0), (s, ratio)
    assert plots.effective_parameters(spec.replace(activation="relu")) == \
        spec.replace(activation="relu").n_parameters()
