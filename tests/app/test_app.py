"""The dashboard through Streamlit's AppTest: every page renders, reacts to its controls,
runs a tiny job to the end, and explains invalid settings instead of raising."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache, default_cache_dir

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")

# A sweep that trains in about a second per point on a busy 2-core CPU.
TINY_ALIGN = {"d": "8", "n": "16", "probe": "40", "width": "8", "K": "2", "epochs": "40",
              "xs": "10, 24", "series": "none"}
TINY_INFO = {"dataset": "gaussian-mixture", "d": "4", "n": "20", "probe": "40",
             "widths": "2, 8", "rates": "0", "random": "true", "features": "true",
             "epochs": "40", "K": "2"}


def open_app(page: str | None = None, **params: str) -> AppTest:
    """The app through its router (``app.py``) at ``page`` (default: the alignment page)
    with URL query ``params``, as a first visit to that link would open it.

    The pages' URL paths are their file names, so AppTest finds them before a first run.
    """
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    if page is not None:
        at.switch_page(page)
    return at.run()


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.message for e in at.exception]
    return at


def run_until(at: AppTest, cond, timeout: float = 120.0, what: str = "") -> AppTest:
    """Rerun (as the page's polling fragment would) until ``cond(at)`` holds."""
    t0 = time.monotonic()
    while True:
        no_exception(at)
        if cond(at):
            return at
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}; errors: "
                                 f"{[e.value for e in at.error]}; captions: "
                                 f"{[c.value for c in at.caption][:8]}")
        time.sleep(0.3)
        at.run()


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def errors(at: AppTest) -> str:
    """The error boxes' text as the user reads it (messages are markdown-escaped)."""
    return "\n".join(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", e.value) for e in at.error)


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def chart_specs(at: AppTest) -> list[str]:
    """The Plotly figures on the page, as the JSON the browser receives."""
    return [c.proto.spec for c in at.get("plotly_chart")]


# ----------------------------------------------------------------------------- render


@pytest.mark.parametrize("page", [None, "pages/information.py", "pages/theory.py",
                                  "pages/runs.py"])
def test_every_page_renders_with_defaults(page):
    at = no_exception(open_app(page, auto="false"))
    assert at.title and at.title[0].value
    assert any(e.label == "What am I looking at?" for e in at.expander)  # help text
    assert "Device:" in "\n".join(c.value for c in at.sidebar.caption)
    assert not at.error


def test_theory_needs_no_training_and_follows_its_sliders():
    at = no_exception(open_app("pages/theory.py"))
    assert charts(at) == 1
    assert "our model" in captions(at)
    before = {m.label: m.value for m in at.metric}
    fig_before = chart_specs(at)
    at.slider(key="snr").set_value(30).run()
    after = {m.label: m.value for m in at.metric}
    assert after != before and chart_specs(at) != fig_before
    assert float(after["SNR (ratio)"]) == pytest.approx(1000, rel=1e-3)
    # Nothing was trained: the cache is still empty.
    assert ResultCache(default_cache_dir()).entries() == []


def test_theory_invalid_simulation_values_are_explained():
    at = no_exception(open_app("pages/theory.py", sim_nd="0.5, lots"))
    assert "n / d values to simulate: '0.5, lots' is invalid" in errors(at)
    assert charts(at) == 1  # the theory itself still shows
    assert at.button(key="simulate").disabled


def test_theory_simulation_is_drawn_over_the_curves():
    at = open_app("pages/theory.py", d="10", sim_nd="1, 3", width="4", K="2", epochs="30",
                  probe="50")
    assert "No cached simulation" in captions(at)
    at.button(key="simulate").click().run()
    run_until(at, lambda a: "2 cached simulation(s)" in captions(a), what="the simulation")
    assert "Simulations (CSV)" in [b.label for b in at.get("download_button")]


# ----------------------------------------------------------------------------- alignment


def test_alignment_controls_change_the_view():
    at = no_exception(open_app(auto="false"))
    # The default: 6 values of n, one curve per SNR (3 values).
    assert "0 of 18 points cached" in captions(at)
    at.text_input(key="xs").set_value("20, 40, 60").run()
    assert "0 of 9 points cached" in captions(at)
    text = captions(at)
    at.selectbox(key="act").set_value("relu").run()
    assert captions(at) != text and "P / (n·outputs)" in captions(at)


def test_alignment_tiny_sweep_completes_with_chart_and_downloads():
    at = open_app(**TINY_ALIGN)  # auto-run is on by default
    run_until(at, lambda a: "2 of 2 points cached" in captions(a) and charts(a) == 1,
              what="the sweep to finish")
    assert "interpolation threshold" in captions(at)
    fig_cka = chart_specs(at)
    at.selectbox(key="measure").set_value("ii_score").run()  # from the stored summaries
    assert "2 of 2 points cached" in captions(at) and chart_specs(at) != fig_cka
    labels = [b.label for b in at.get("download_button")]
    assert "Plotted data (CSV)" in labels and "Spec (JSON)" in labels
    # Opening a point shows its K x K heatmap and members.
    opts = at.selectbox(key="open").options
    assert len(opts) == 3  # none + 2 points
    at.selectbox(key="open").set_value(opts[1]).run()
    no_exception(at)
    assert charts(at) == 4  # sweep, K x K heatmap, members, intrinsic dimension per layer
    assert any(m.label.startswith("II score") for m in at.metric)
    id_chart = chart_specs(at)[3]
    assert "Intrinsic dimension per layer" in id_chart and "TwoNN" in id_chart
    assert "GRIDE (order 16)" in id_chart and "untrained" in id_chart


def test_alignment_single_run_and_measure_change():
    at = open_app(mode="Single run", **TINY_ALIGN)
    run_until(at, lambda a: any(m.label.startswith("CKA") for m in a.metric),
              what="the run to finish")
    at.selectbox(key="measure").set_value("ii").run()
    no_exception(at)
    m = {x.label: x.value for x in at.metric}
    assert any(k.startswith("Δ(a→b)") for k in m)
    # Another k: recomputed from the stored representations, not from the summary.
    at.number_input(key="k").set_value(3).run()
    no_exception(at)
    m3 = {x.label: x.value for x in at.metric}
    assert m3 != m


@pytest.mark.parametrize("params, message", [
    # Messages name the field by its label (ui/labels.py), not by its spec name.
    ({"dataset": "digits", "noise": "target"}, "Noise kind: 'target' is invalid"),
    ({"dataset": "digits", "noise": "label", "probe": "500"}, "Probe points N: 500 exceeds"),
    ({"noise": "label"}, "Noise kind: 'label' is invalid"),
    ({"xs": "10, ten"}, "x values: '10, ten' is invalid"),
    ({"x": "label_noise", "xs": "0, 0.1"},
     "Sweep axis Label-noise rate p has no effect"),
])
def test_alignment_invalid_combination_is_explained(params, message):
    at = no_exception(open_app(auto="false", **params))
    assert message in errors(at)
    assert charts(at) == 0


def test_alignment_refuses_a_run_over_the_resource_limits():
    at = no_exception(open_app(mode="Single run", d="4096", n="100000", width="16384",
                               K="64"))
    assert "over the limit" in errors(at)
    from noisealign.ui.page_support import services
    assert services()[1].jobs() == []  # nothing was queued


# ----------------------------------------------------------------------------- information


def test_information_tiny_sweep_completes():
    at = open_app("pages/information.py", **TINY_INFO)
    run_until(at, lambda a: "4 of 4 runs cached" in captions(a) and charts(a) == 3,
              what="the information sweep")
    before = chart_specs(at)
    assert "TwoNN" in before[2] and "random features (untrained)" in before[2]
    assert "Intrinsic dimension (CSV)" in [b.label for b in at.get("download_button")]
    at.radio(key="loss").set_value("test loss").run()
    no_exception(at)
    after = chart_specs(at)
    assert len(after) == 3 and after[0] == before[0] and after[1] != before[1]


def test_information_invalid_settings_are_explained():
    at = no_exception(open_app("pages/information.py", auto="false", widths="4, -2"))
    assert "Widths: '4, -2' is invalid" in errors(at)
    # A spec-level combination: 100 generated MNIST-1D samples leave 80 for training.
    at = no_exception(open_app("pages/information.py", auto="false", dataset="mnist1d",
                               n_samples="100"))
    assert "Training samples n: 100 exceeds the 80 training points" in errors(at)


# ----------------------------------------------------------------------------- jobs


def test_second_tab_joins_the_running_job_and_cancel_frees_it(monkeypatch):
    # Auto-run starts this slow run without a click only with a larger budget.
    monkeypatch.setenv("NOISEALIGN_AUTO_RUN_SECONDS", "1e9")
    # and the guard's documented rates: a loaded machine's calibration would refuse it
    monkeypatch.setenv("NOISEALIGN_GUARD_CALIBRATE", "0")
    slow = dict(TINY_ALIGN, mode="Single run", n="40", epochs="200000")
    a = open_app(**slow)
    b = open_app(**slow)
    run_until(b, lambda t: "shared with 1 other tab" in "\n".join(
        p.value.get("text", "") if isinstance(p.value, dict) else str(p.proto.text)
        for p in t.get("progress")), timeout=30, what="the second tab to join")
    from noisealign.ui.page_support import services  # the same manager the app holds
    manager = services()[1]
    active = manager.jobs(active_only=True)
    assert len(active) == 1 and active[0].view().n_sessions == 2
    for tab in (a, b):
        tab.button(key="_cancel_alignment").click().run()
        no_exception(tab)
    assert active[0].wait(30) and active[0].status == "cancelled"


# ----------------------------------------------------------------------------- runs


def test_runs_page_lists_filters_and_deletes():
    cache = ResultCache(default_cache_dir())
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                          n_probe=20, width=4, ensemble_size=2, max_epochs=5)
    cache.put(spec, run_experiment(spec))
    at = no_exception(open_app("pages/runs.py"))
    assert at.metric[0].value == "1"
    assert len(at.dataframe[0].value) == 1
    at.text_input(key="q").set_value("digits").run()
    assert "0 of 1 runs shown" in captions(at)
    at.text_input(key="q").set_value("").run()
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete_one").click().run()
    no_exception(at)
    assert cache.entries() == []


def _plotted(values) -> list[float]:
    """A Plotly array as the browser gets it: a list, or base64 typed-array data."""
    import base64

    import numpy as np
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def test_alignment_replicates_draw_means_with_errors_across_seeds():
    import json
    import math

    at = open_app(reps="2", **TINY_ALIGN)
    run_until(at, lambda a: "4 of 4 runs (2 seeds per point) cached" in captions(a)
              and charts(a) == 1, what="the replicated sweep")
    assert "error bars: standard error across seeds" in captions(at)
    from noisealign.ui.page_support import services
    entries = services()[0].entries()
    assert len(entries) == 4 and len({e["spec"]["seed"] for e in entries}) == 2
    by_x: dict = {}
    for e in entries:
        by_x.setdefault(e["spec"]["n_train"], []).append(e["summary"]["measures"]["cka"]["mean"])
    fig = json.loads(chart_specs(at)[0])
    line = next(t for t in fig["data"] if t.get("mode") == "lines+markers")
    xs, ys = _plotted(line["x"]), _plotted(line["y"])
    assert sorted(xs) == sorted(by_x)
    for x, y in zip(xs, ys):
        assert y == pytest.approx(sum(by_x[x]) / 2)  # the mean over the two seeds
    band = next(t for t in fig["data"] if t.get("fill") == "toself")
    upper = _plotted(band["y"])[:len(xs)]
    for x, y, top in zip(xs, ys, upper):
        a, b = by_x[x]
        assert top - y == pytest.approx(abs(a - b) / 2)  # std(ddof=1)/sqrt(2) of two seeds
        assert math.isfinite(top)


def test_alignment_pair_label_noise_reaches_the_run():
    at = open_app(mode="Single run", dataset="gaussian-mixture", d="4", n="30", probe="40",
                  width="8", K="2", epochs="40", noise="label", p="0.4", pkind="pair")
    run_until(at, lambda a: any(m.label.startswith("CKA") for m in a.metric),
              what="the pair-noise run")
    assert at.radio(key="pkind").value == "pair"
    from noisealign.ui.page_support import services
    (entry,) = services()[0].entries()
    assert entry["spec"]["label_noise_kind"] == "pair" and entry["spec"]["label_noise"] == 0.4


def test_alignment_training_protocol_controls_reach_the_run():
    at = open_app(mode="Single run", batch="8", sched="cosine", clip="0.5", **TINY_ALIGN)
    run_until(at, lambda a: any(m.label.startswith("CKA") for m in a.metric),
              what="the minibatch run")
    from noisealign.ui.page_support import services
    (entry,) = services()[0].entries()
    spec = entry["spec"]
    assert (spec["batch_size"], spec["lr_schedule"], spec["grad_clip"]) == (8, "cosine", 0.5)


def test_information_replicates_average_over_seeds():
    import json

    at = open_app("pages/information.py", reps="2", **{**TINY_INFO, "widths": "8"})
    run_until(at, lambda a: "4 of 4 runs cached" in captions(a) and charts(a) >= 1,
              what="the replicated information sweep")
    assert "Mean over 2 data seeds" in captions(at)
    from noisealign.ui.page_support import services
    entries = services()[0].entries()
    clean = [e["summary"]["information_content"]["trained"]["ii_h_to_y_mean"]
             for e in entries if e["spec"]["label_noise"] == 0.0]
    assert len(clean) == 2
    fig = json.loads(chart_specs(at)[0])
    trace = next(t for t in fig["data"] if t.get("name") == "clean labels"
                 and t.get("mode") == "lines+markers")
    from tests.app.test_app import _plotted
    assert _plotted(trace["y"]) == [pytest.approx(sum(clean) / 2)]
