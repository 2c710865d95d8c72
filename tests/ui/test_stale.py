"""No blinking (issue 28, item 4): a view whose points are not computed yet keeps the
previous figure, dimmed and marked stale, instead of "No point computed yet"."""

from __future__ import annotations

import json

from noisealign.ui import stale
from tests.app.test_app import TINY_ALIGN, captions, chart_specs, no_exception, open_app, run_until


def test_dimmed_keeps_the_data_and_fades_every_trace():
    import plotly.graph_objects as go
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="a"))
    out = stale.dimmed(fig.to_json())
    assert list(out.data[0].x) == [1, 2] and out.data[0].opacity == stale.STALE_OPACITY
    assert fig.data[0].opacity is None  # the kept figure itself is untouched


def test_the_previous_figure_stays_dimmed_until_new_points_exist():
    at = open_app(**TINY_ALIGN)  # auto-run computes the two points
    run_until(at, lambda a: "2 of 2 points cached" in captions(a) and chart_specs(a),
              what="the tiny sweep")
    drawn = json.loads(chart_specs(at)[0])
    at.checkbox(key="auto").uncheck().run()
    at.number_input(key="K").set_value(3).run()  # new points, none computed
    no_exception(at)
    assert "0 of 2 points cached" in captions(at)
    assert stale.STALE_NOTE in captions(at)
    assert not [i for i in at.info if "No point computed yet" in i.value]
    kept = json.loads(chart_specs(at)[0])
    assert len(kept["data"]) == len(drawn["data"])
    assert all(t.get("opacity") == stale.STALE_OPACITY for t in kept["data"])
