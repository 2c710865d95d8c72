"""The Runs page through AppTest: names and tags, filtering by tag, grouping by sweep,
opening a run as its plots, comparing two runs. Runs are tiny and cached directly."""

from __future__ import annotations

import json

import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache, default_cache_dir
from tests.app.test_app import chart_specs, charts, errors, no_exception, open_app

BASE = {"dataset": "linear-teacher", "dataset_params": {"d": 4}, "n_train": 10, "n_probe": 20,
            "width": 4, "ensemble_size": 2, "max_epochs": 5}


@pytest.fixture
def cached():
    """Three cached runs: two of one sweep over n_train, one with another activation."""
    cache = ResultCache(default_cache_dir())
    specs = [ExperimentSpec(**BASE), ExperimentSpec(**{**BASE, "n_train": 12}),
             ExperimentSpec(**{**BASE, "activation": "tanh"})]
    for s in specs:
        cache.put(s, run_experiment(s))
    return cache, specs


def _table(at):
    return at.dataframe[0].value


def test_name_and_tags_are_saved_shown_and_filtered(cached):
    cache, _specs = cached
    at = no_exception(open_app("pages/runs.py"))
    key = cache.key(ExperimentSpec.from_dict(cache.entries()[0]["spec"]))  # the run opened
    at.text_input(key="label_name").set_value("baseline *run*")
    at.text_input(key="label_tags").set_value("lecture, noise")
    at.button(key="label_save").click().run()
    no_exception(at)
    assert cache.label(key) == {"name": "baseline *run*", "tags": ["lecture", "noise"]}
    # Shown in the table (plain text) and as the opened run's heading (escaped markdown).
    row = _table(at).set_index("name").loc["baseline *run*"]
    assert row["tags"] == "lecture, noise"
    assert at.subheader[0].value == r"baseline \*run\*"
    # Filter by tag: only the tagged run is left.
    assert at.multiselect(key="tags").options == ["lecture", "noise"]
    at.multiselect(key="tags").set_value(["noise"]).run()
    no_exception(at)
    assert list(_table(at)["name"]) == ["baseline *run*"]
    assert "1 of 3 runs shown" in "\n".join(c.value for c in at.caption)
    # And by name through the text filter.
    at.multiselect(key="tags").set_value([]).run()
    at.text_input(key="q").set_value("BASELINE").run()
    assert len(_table(at)) == 1
    # Deleting the run from the page deletes its name and tags.
    at.checkbox(key="confirm_delete").check().run()
    at.button(key="delete_one").click().run()
    no_exception(at)
    assert cache.labels() == {} and len(cache.entries()) == 2


def test_invalid_tags_are_explained_and_not_stored(cached):
    cache, _ = cached
    at = no_exception(open_app("pages/runs.py"))
    at.text_input(key="label_tags").set_value("ok, " + "t" * 40)
    at.button(key="label_save").click().run()
    no_exception(at)
    assert "Tag: " in errors(at) and "allowed 1 to 32 printable characters" in errors(at)
    assert cache.labels() == {}


def test_group_by_sweep_groups_and_filters(cached):
    _cache, _specs = cached
    at = no_exception(open_app("pages/runs.py", group_by="sweep"))
    table = _table(at)
    assert sorted(table["group_size"]) == [1, 2, 2]
    pair = table[table["group_size"] == 2]
    assert len(set(pair["group"])) == 1 and set(pair["varies"]) == {"n_train"}
    at.selectbox(key="group").set_value(pair["group"].iloc[0]).run()
    no_exception(at)
    assert sorted(_table(at)["n_train"]) == [10, 12]
    at.selectbox(key="group_by").set_value("dataset").run()
    no_exception(at)
    assert list(_table(at)["group_size"]) == [3, 3, 3]


def test_opening_a_run_shows_its_plots_not_json(cached):
    at = no_exception(open_app("pages/runs.py"))
    assert charts(at) >= 2  # the K x K matrix and the members' errors (and ID per layer)
    specs = chart_specs(at)
    assert "Linear CKA" in specs[0] or "linear CKA" in specs[0]
    assert any(m.label.startswith("CKA") for m in at.metric)
    spec_box = next(e for e in at.expander if e.label == "Spec and summary (JSON)")
    assert spec_box.proto.expanded is False and spec_box.get("json")
    before = specs[0]
    at.selectbox(key="runs_measure").set_value("ii").run()
    no_exception(at)
    assert chart_specs(at)[0] != before and any(m.label.startswith("Δ(a→b)") for m in at.metric)


def test_compare_shows_the_differences_and_two_matrices_on_one_scale(cached):
    cache, specs = cached
    at = no_exception(open_app("pages/runs.py", view="Compare two runs"))
    opts = at.selectbox(key="cmp_a").options
    a = next(o for o in opts if "n=10" in o and cache.key(specs[0])[:8] in o)
    b = next(o for o in opts if cache.key(specs[2])[:8] in o)
    at.selectbox(key="cmp_a").set_value(a)
    at.selectbox(key="cmp_b").set_value(b).run()
    no_exception(at)
    frame = at.dataframe[1].value
    spec_rows = frame[frame["kind"] == "spec"]
    assert list(spec_rows["field"]) == ["activation"]
    assert list(spec_rows[["run A", "run B"]].iloc[0]) == ["relu", "tanh"]
    assert {"test_error", "cka", "ii_score", "mknn", "ii_h_to_y", "N", "k"} <= set(frame["field"])
    figs = [json.loads(s) for s in chart_specs(at)]
    assert len(figs) == 2
    scales = [(f["data"][0]["zmin"], f["data"][0]["zmax"]) for f in figs]
    assert scales[0] == scales[1] and scales[0][0] < scales[0][1]
    assert [f["layout"]["title"]["text"] for f in figs] == ["Run A: CKA", "Run B: CKA"]


@pytest.mark.parametrize("params", [
    {"view": "Compare two runs", "cmp_a": "<b>x</b> (zzzzzzzz)", "cmp_b": "", "cmp_measure": "nope"},
    {"group_by": "width", "group": "../../etc", "tags": ["<script>", "x" * 500]},
    {"group_by": "sweep", "group": "sweep 000000", "run": "![p](http://example.com) (aaaaaaaa)"},
    {"view": "nonsense", "runs_measure": "nan", "sort": "group_size"},
])
def test_hostile_links_to_the_runs_page_render(cached, params):
    at = no_exception(open_app("pages/runs.py", **params))
    assert at.title[0].value == "Runs" and at.dataframe
