"""The findings report's presets in the dashboard: loading one sets the page's controls
to the figure's settings (and so its URL), every preset builds a valid sweep, and the
report is reachable from every page."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import PRESETS
from noisealign.ui import report_links as presets
from tests.app.test_app import captions, charts, no_exception, open_app


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_a_valid_sweep_and_page_values(name):
    p = PRESETS[name]
    sweep = Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})})
    assert len(sweep.specs()) >= 2
    page, values, _notes = presets.preset_values(name)
    assert page == p["page"] and values
    with pytest.raises(ValueError, match="preset='nope' is invalid"):
        presets.preset_values("nope")


def _load(at: AppTest, name: str) -> AppTest:
    at.selectbox(key=f"_preset_pick_{PRESETS[name]['page']}").set_value(name).run()
    at.button(key=f"_preset_load_{PRESETS[name]['page']}").click().run()
    return no_exception(at)


def test_alignment_preset_sets_controls_and_url(monkeypatch):
    # Without the shipped summaries (noisealign.engine.presets.shipped): nothing to draw, nothing trained.
    monkeypatch.setenv("NOISEALIGN_PRECOMPUTED", "0")
    at = no_exception(open_app(auto="false"))
    _load(at, "mlp_n")
    spec = PRESETS["mlp_n"]["spec"]
    assert at.selectbox(key="dataset").value == "mlp-teacher"
    assert at.selectbox(key="x").value == "n_train"
    assert at.text_input(key="xs").value == ", ".join(str(n) for n in PRESETS["mlp_n"]["axes"]["n_train"])
    assert at.selectbox(key="series").value == "snr_db"
    assert at.text_input(key="ss").value == "10, 20"
    assert at.number_input(key="snr").value == spec["snr_db"]
    assert at.number_input(key="width").value == 16
    assert at.number_input(key="tol").value == pytest.approx(spec["loss_tol"])
    assert at.checkbox(key="auto").value is False  # nothing is trained by loading
    assert at.number_input(key="reps").value == PRESETS["mlp_n"]["replicates"]
    n_runs = len(PRESETS["mlp_n"]["axes"]["n_train"]) * 2 * PRESETS["mlp_n"]["replicates"]
    assert f"0 of {n_runs} runs (3 seeds per point) cached" in captions(at), captions(at)
    # The view is a link: the non-default controls are in the URL.
    url = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert url.get("ss") == "10, 20" and url.get("dataset") == "mlp-teacher", url
    assert "Loaded **ReLU MLP regression: alignment and test error vs n**" in "\n".join(
        c.value for c in at.sidebar.caption)
    assert charts(at) == 0


def test_alignment_preset_with_label_noise_and_a_missing_measure():
    at = no_exception(open_app(auto="false"))
    _load(at, "digits_label_noise")
    assert at.selectbox(key="dataset").value == "digits"
    assert at.selectbox(key="noise").value == "label"
    assert at.slider(key="p").value == pytest.approx(0.2)
    assert at.selectbox(key="x").value == "label_noise"
    _load(at, "alignment_vs_error")
    assert "Not represented here" in "\n".join(c.value for c in at.sidebar.caption)


def test_information_preset_sets_controls():
    at = no_exception(open_app("pages/information.py", auto="false"))
    _load(at, "random_labels")
    p = PRESETS["random_labels"]
    assert at.text_input(key="widths").value == ", ".join(str(w) for w in p["axes"]["width"])
    assert at.text_input(key="rates").value == "1"
    assert at.checkbox(key="random").value is True
    assert at.number_input(key="n").value == p["spec"]["n_train"]
    # The report's training protocol is represented: SGD with momentum, minibatches, cosine.
    assert at.selectbox(key="opt").value == "sgd"
    assert at.number_input(key="mom").value == pytest.approx(0.9)
    assert at.number_input(key="batch").value == 128
    assert at.selectbox(key="sched").value == "cosine"
    n_runs = len(p["axes"]["width"]) * p["replicates"]
    assert f"0 of {n_runs} runs cached" in captions(at), captions(at)
    assert "has no control" not in "\n".join(c.value for c in at.sidebar.caption)
    _load(at, "label_noise_width")
    assert at.text_input(key="rates").value == "0, 0.1, 0.2, 0.4"


def test_theory_preset_sets_controls_and_says_what_it_cannot_show():
    at = no_exception(open_app("pages/theory.py"))
    _load(at, "linear_n")
    assert at.slider(key="d").value == 50
    assert at.selectbox(key="opt").value == "sgd"
    assert len(at.text_input(key="sim_nd").value.split(",")) == 12
    side = "\n".join(c.value for c in at.sidebar.caption)
    assert "one SNR at a time" in side
    assert charts(at) == 1


@pytest.mark.parametrize("page", [None, "pages/runs.py"])
def test_findings_section_on_every_page(page):
    at = no_exception(open_app(page, auto="false"))
    from noisealign.ui.report_links import VERDICTS_LABEL
    exp = [e for e in at.sidebar.expander if e.label == VERDICTS_LABEL]
    assert exp
    # "Findings report" is the navigation's entry only: no sidebar element repeats it.
    labels = [getattr(e, "label", "") for e in at.sidebar.expander] + \
        [m.value for m in at.sidebar.markdown] + [c.value for c in at.sidebar.caption]
    assert not any("Findings report" in str(x) for x in labels)
    text = "\n".join(m.value for m in at.sidebar.markdown)
    assert "Alignment rises monotonically with SNR: **PARTLY**" in text
    assert "docs/findings.md" in "\n".join(c.value for c in at.sidebar.caption)


def test_report_page_renders_with_figures_and_opens_a_preset():
    at = no_exception(open_app("pages/report.py"))
    assert at.title[0].value == "Findings report"
    assert sum(type(e).__name__ == "Image" for e in at.main) >= 6  # the figures
    at.button(key="_report_open_mlp_n").click().run()
    no_exception(at)
    assert at.title[0].value == "Alignment explorer"
    assert at.text_input(key="ss").value == "10, 20"
