"""The Compare page's menus name the measures (issue 28, item 7: not `ii`, `mknn`,
`cknna`), while its links keep the ids they always held."""

from __future__ import annotations

from noisealign.engine.own_models.pairs import MEASURE_LABELS, MEASURES
from tests.app.test_app import no_exception, open_app

PAGE = "pages/compare.py"


def test_measure_menus_show_names_and_links_keep_ids():
    at = no_exception(open_app(PAGE))
    chosen = at.multiselect(key="measures")
    assert list(chosen.options) == [MEASURE_LABELS[m] for m in MEASURES]
    heat = at.selectbox(key="heat")
    assert "mutual k-NN" in heat.options and "mknn" not in heat.options
    assert "CKNNA" in heat.options and "Information Imbalance Δ(a→b)" in heat.options
    assert "heat" not in at.query_params and "measures" not in at.query_params  # defaults
    heat.set_value("mknn").run()
    at.multiselect(key="measures").set_value(["cka", "mknn"]).run()
    no_exception(at)
    assert at.query_params["heat"] in ("mknn", ["mknn"])
    assert at.query_params["measures"] == ["cka", "mknn"]
    # A link with ids (as every earlier link has) opens the same view.
    link = open_app(PAGE, heat="cka", measures=["cka", "mknn"])
    no_exception(link)
    assert link.selectbox(key="heat").value == "cka"
    assert link.multiselect(key="measures").value == ["cka", "mknn"]
