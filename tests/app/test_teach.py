"""Teaching mode: presentation styling, the page link, and the "Reproduce" box on the
alignment, information and theory pages (AppTest; the browser parts are in
tests/test_browser_teach.py)."""

from __future__ import annotations

import json
import shlex

import pandas as pd
import plotly.graph_objects as go
import pytest

from noisealign.engine.cli.commands import build_parser, spec_from_args, sweep_from_args
from noisealign.ui import plots
from noisealign.ui.teach import page_url
from tests.app.test_app import TINY_ALIGN, TINY_INFO, no_exception, open_app


def test_page_url_replaces_the_query_and_keeps_repeated_keys():
    assert page_url("http://host:8501/theory?old=1", {"d": "120", "snr": "20"}) \
        == "http://host:8501/theory?d=120&snr=20"
    assert page_url("http://h/", {"xs": "10, 24", "k": ["a", "b"]}) \
        == "http://h/?xs=10%2C+24&k=a&k=b"
    assert page_url("http://h/runs", {}) == "http://h/runs"
    assert page_url("http://h:8501", {"a": "1"}) == "http://h:8501/?a=1"  # the root page


def _sweep_fig() -> go.Figure:
    df = pd.DataFrame({"x": [10, 20, 40], "series": ["a"] * 3, "align_mean": [0.5, 0.6, 0.7],
                       "align_sem": [0.01] * 3, "error_mean": [1.0, 0.8, 0.5],
                       "error_sem": [0.1] * 3, "key": ["k1", "k2", "k3"]})
    return plots.sweep_figure(df, x="x", x_label="n", measure_label="CKA",
                              error_label="test MSE", threshold=20.0, series_label="s")


def test_presentation_style_enlarges_text_lines_and_markers_of_a_copy():
    fig = _sweep_fig()
    before = fig.to_json()
    big = plots.presentation_style(fig)
    assert fig.to_json() == before  # the page's own figure is untouched
    assert big.layout.font.size == plots.PRESENT_FONT
    assert big.layout.xaxis2.title.font.size == plots.PRESENT_TITLE_FONT
    assert big.layout.yaxis.tickfont.size == plots.PRESENT_TICK_FONT
    assert big.layout.legend.font.size == plots.PRESENT_FONT
    assert big.layout.height > fig.layout.height
    assert all(a.font.size == plots.PRESENT_FONT for a in big.layout.annotations)
    curves = [t for t in big.data if t.mode == "lines+markers"]
    assert curves and all(t.line.width >= 3 and t.marker.size >= 12 for t in curves)
    bands = [t for t in big.data if t.fill == "toself"]
    assert all(t.line.width == 0 for t in bands)  # the error bands stay borderless
    assert all(s.line.width >= 2.5 for s in big.layout.shapes)  # threshold lines
    # the data are the same
    def data(f):
        return [(t["x"], t["y"]) for t in json.loads(f.to_json())["data"]]
    assert data(big) == data(fig)


def _reproduce_codes(at) -> tuple[str, str]:
    box = [e for e in at.expander if e.label.startswith("Reproduce")]
    assert len(box) == 1, [e.label for e in at.expander]
    codes = [c.value for c in box[0].get("code")]
    cli = next(c for c in codes if c.startswith("noisealign"))
    py = next(c for c in codes if c.startswith("from engine"))
    return cli, py


def _cli_specs(cli: str) -> list[str]:
    line = cli.splitlines()[0]
    args = build_parser().parse_args(shlex.split(line)[1:])
    if args.command == "run":
        return [spec_from_args(args).content_hash()]
    return [s.content_hash() for s in sweep_from_args(args).specs()]


@pytest.mark.parametrize("page, params, mode", [
    (None, {**TINY_ALIGN, "auto": "false"}, "sweep"),
    (None, {**TINY_ALIGN, "auto": "false", "mode": "Single run"}, "run"),
    ("pages/information.py", {**TINY_INFO, "auto": "false", "reps": "2"}, "sweep"),
    ("pages/theory.py", {"d": "20", "sim_nd": "0.5, 2"}, "sweep"),
])
def test_reproduce_box_gives_the_pages_specs(page, params, mode):
    at = no_exception(open_app(page, **params))
    cli, py = _reproduce_codes(at)
    assert cli.startswith(f"noisealign {mode} ")
    if mode == "sweep":
        assert "--scheduler tcp://HOST:8786" in cli
    scope: dict = {"__name__": "snippet"}
    exec(py, scope)  # noqa: S102 (the test runs the snippet the app hands out)
    got = ([scope["spec"].content_hash()] if mode == "run"
           else [s.content_hash() for s in scope["sweep"].specs()])
    assert got == _cli_specs(cli)
    if page == "pages/information.py":
        assert "--replicates 2" in cli and len(got) == 2 * 2 * 2  # widths x rates x seeds


def test_reproduce_box_matches_the_alignment_sweep_on_screen():
    at = no_exception(open_app(**{**TINY_ALIGN, "auto": "false", "xs": "10, 24, 40"}))
    cli, _ = _reproduce_codes(at)
    assert "--axis n_train=10,24,40" in cli
    assert "--param d=8" in cli and "-K 2" in cli and "--max-epochs 40" in cli
    assert "0 of 3 points cached" in "\n".join(c.value for c in at.caption)


@pytest.mark.parametrize("flag", ["true", "1"])  # the toggle's own value, or by hand
def test_presentation_mode_keeps_the_essentials_and_enlarges_the_plot(flag):
    at = no_exception(open_app("pages/theory.py", present=flag))
    assert at.toggle(key="present").value is True
    labels = [e.label for e in at.expander]
    assert "What am I looking at?" not in labels
    assert not any(lbl.startswith("Reproduce") for lbl in labels)
    assert not at.get("download_button")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["font"]["size"] == plots.PRESENT_FONT
    # and off again: the help box and the downloads are back, the plot normal size
    at.toggle(key="present").set_value(False).run()
    no_exception(at)
    assert "What am I looking at?" in [e.label for e in at.expander]
    assert at.get("download_button")
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"].get("font", {}).get("size") != plots.PRESENT_FONT


def test_link_box_shows_the_pages_controls():
    at = no_exception(open_app("pages/theory.py", d="120", snr="20"))
    assert at.sidebar.get("popover")  # "Link to this view"
    url = at.sidebar.get("code")[0].value
    assert "d=120" in url and "snr=20" in url
