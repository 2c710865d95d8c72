"""Views that say what they show: each page's default draws its "What to notice" line and,
where this project's runs differ from a paper's claim, a note next to the plot; error
axes never zoom into noise around chance; the sidebar names the findings report once."""

from __future__ import annotations

import json

import pytest

from noisealign.ui import notes, plots
from noisealign.ui.report_links import verdicts
from tests.app.test_app import TINY_INFO, chart_specs, no_exception, open_app, run_until

# The explorer's default axes (x: n, one curve per SNR) on a tiny model: 2 x 2 points.
TINY_DEFAULT_AXES = {"d": "8", "n": "16", "probe": "40", "width": "8", "K": "2",
                     "epochs": "40", "xs": "10, 24", "ss": "0, 20"}


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.main.markdown)


def _alerts(at) -> str:
    return "\n".join(a.value for a in at.info)


# ----------------------------------------------------------------------------- pure


def test_error_axis_spans_zero_to_chance():
    # Random labels: errors 0.89-0.93 around chance 0.9 must not fill the axis.
    lo, hi = plots.error_axis_range([0.89, 0.93, 0.91], [0.01, 0.01, 0.01], chance=0.9)
    assert lo <= 0.0 and hi >= 0.94
    assert hi - lo >= 0.9  # the noise is a few percent of the axis, not all of it
    # Values above chance stay visible; no chance level: 0 to the largest value.
    assert plots.error_axis_range([0.2, 0.97], chance=0.9)[1] >= 0.97
    lo, hi = plots.error_axis_range([0.3, 0.5])
    assert lo <= 0.0 and 0.5 <= hi < 0.6
    assert plots.error_axis_range([float("nan")], chance=0.9) is None


def test_claim_notes_follow_the_report():
    rows = verdicts()
    assert rows, "docs/findings.md has a summary table"
    by = {int(c.split(".")[0]): v for c, v, _ in rows}
    info = "\n".join(notes.claim_notes("information"))
    if by.get(4) == "PARTLY":
        assert "Our runs differ from the paper" in info and "has no peak" in info
    if by.get(5) == "DOES NOT HOLD":
        assert "our runs do not find that" in info
    # A verdict the wording was not written for is quoted from the report, not restated.
    changed = [(c, "HOLDS" if v != "HOLDS" else "PARTLY", s) for c, v, s in rows]
    text = "\n".join(notes.claim_notes("information", rows=changed))
    assert "Our runs differ" not in text and "claim 4:" in text
    assert notes.claim_notes("alignment", rows=[]) == []


def test_what_to_notice_names_the_default_views():
    assert "higher SNR" in notes.what_to_notice("alignment", x="n_train", series="snr_db")
    assert "rises with the SNR" in notes.what_to_notice("alignment", x="snr_db")
    assert "chance" in notes.what_to_notice("information", random_labels=True)
    assert "n ≈ d" in notes.what_to_notice("theory", x="nd")
    with pytest.raises(ValueError, match="page="):
        notes.what_to_notice("runs")


# ----------------------------------------------------------------------------- pages


def test_alignment_default_axes_say_what_to_notice():
    at = open_app(**TINY_DEFAULT_AXES)  # default x axis and series, auto-run on
    assert at.selectbox(key="x").value == "n_train"
    assert at.selectbox(key="series").value == "snr_db"
    run_until(at, lambda a: "4 of 4 points cached" in "\n".join(c.value for c in a.caption)
              and chart_specs(a), what="the default axes' sweep")
    # Read from the drawn curves (issue 28: ui.notes.sweep_notice), not a fixed sentence.
    assert "What to notice:" in _markdown(at) and "of SNR (dB) = " in _markdown(at)
    assert "claim 1" in _alerts(at)  # PARTLY in the report: said next to the plot
    # SNR on the x axis: the series moves to n (never "series = x axis").
    at.selectbox(key="x").set_value("snr_db").run()
    no_exception(at)
    assert at.selectbox(key="series").value == "n_train"
    assert not [e.value for e in at.error]


def test_information_default_says_what_to_notice_and_explains_random_labels():
    at = open_app("pages/information.py", **TINY_INFO)  # random labels shown
    # Widths 2 and 8 x clean and random labels: wait for all four runs.
    run_until(at, lambda a: "4 of 4 runs cached" in "\n".join(c.value for c in a.caption)
              and chart_specs(a) and "What to notice:" in _markdown(a),
              what="the information sweep")
    alerts = _alerts(at)
    assert "Our runs differ from the paper" in alerts
    assert "input geometry" in alerts and "chance" in alerts
    layout = json.loads(chart_specs(at)[0])["layout"]
    lo, hi = layout["yaxis2"]["range"]  # the error panel: 0 to at least chance (1/2 here)
    assert lo <= 0.0 and hi >= 0.5
    # The help text states the paper's claims and what our runs find.
    assert "What our runs find" in "\n".join(m.value for m in at.markdown)


def test_theory_default_says_what_to_notice():
    at = no_exception(open_app("pages/theory.py"))
    # Read from the drawn curves; no verdict on our runs under the theory (issue 28).
    assert "What to notice:" in _markdown(at) and "n/d ≈ 1" in _markdown(at)
    assert "claim 1" not in _alerts(at)


@pytest.mark.parametrize("page", [None, "pages/information.py", "pages/theory.py"])
def test_one_findings_report_entry_in_the_sidebar(page):
    from noisealign.ui.report_links import VERDICTS_LABEL
    at = no_exception(open_app(page, auto="false"))
    sidebar = [e.label for e in at.sidebar.expander] + [m.value for m in at.sidebar.markdown] \
        + [c.value for c in at.sidebar.caption] + [s.label for s in at.sidebar.selectbox]
    assert not any("Findings report" in str(x) for x in sidebar)  # the navigation has it
    assert VERDICTS_LABEL in [e.label for e in at.sidebar.expander]  # verdicts reachable


def test_the_default_series_follows_the_noise_kind():
    # An SNR has no effect on label noise: a classifier's default curves are per rate p.
    at = no_exception(open_app(auto="false", dataset="digits"))
    assert at.selectbox(key="series").value == "label_noise"
    assert at.text_input(key="ss").value == "0, 0.2, 0.4"
    assert not [e.value for e in at.error]
    at = no_exception(open_app(auto="false"))
    assert at.selectbox(key="series").value == "snr_db"
    at.selectbox(key="dataset").select("digits").run()  # noise becomes label noise
    no_exception(at)
    assert at.selectbox(key="series").value == "label_noise"
    assert not [e.value for e in at.error]
