"""Issue 29 items 5 and 6: destructive actions act on the runs they were drawn for; run
links name a run by its key. Two AppTest sessions (two tabs) on one real cache.

Before the fix: tab A opened run X and ticked "Yes, delete this run"; another tab deleted
X; tab A's click then deleted the newest run, never shown in tab A (the click's rerun fell
back to the first row with the tick kept). A link naming a run by its label opened
another run silently after a rename; ``?run=(43b2a5b2)`` (a key suffix) likewise.
"""

from __future__ import annotations

import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache, default_cache_dir
from noisealign.ui import tables as data
from tests.app.test_app import no_exception, open_app

BASE = {"dataset": "linear-teacher", "dataset_params": {"d": 4}, "n_train": 10, "n_probe": 20,
            "width": 4, "ensemble_size": 2, "max_epochs": 5}


@pytest.fixture
def cache():
    cache = ResultCache(default_cache_dir())
    for n in (10, 12, 14):
        s = ExperimentSpec(**{**BASE, "n_train": n})
        cache.put(s, run_experiment(s))
    return cache


def _keys(cache) -> list[str]:
    return [e["key"] for e in cache.entries()]  # newest first, as the page lists them


def _texts(at) -> str:
    """The warnings and infos as the reader sees them (markdown escapes removed)."""
    return "\n".join([w.value for w in at.warning] + [i.value for i in at.info]
                     ).replace("\\", "")


def test_delete_this_run_deletes_only_the_run_it_was_drawn_for(cache):
    newest, x, other = _keys(cache)
    tab_a = no_exception(open_app("pages/runs.py", run=x))
    assert tab_a.selectbox(key="run").value == x
    tab_a.checkbox(key="confirm_delete").check().run()
    # Meanwhile another visitor deletes X from another tab.
    tab_b = no_exception(open_app("pages/runs.py", run=x))
    tab_b.checkbox(key="confirm_delete").check().run()
    tab_b.button(key="delete_one").click().run()
    assert sorted(_keys(cache)) == sorted([newest, other])
    tab_a.button(key="delete_one").click().run()
    no_exception(tab_a)
    assert sorted(_keys(cache)) == sorted([newest, other])  # nothing else went
    assert "had been deleted elsewhere meanwhile" in _texts(tab_a)
    # The tick does not carry over to the run shown now.
    assert tab_a.checkbox(key="confirm_delete").value is False


def test_delete_all_shown_deletes_only_the_runs_drawn(cache):
    keys = _keys(cache)
    tab_a = no_exception(open_app("pages/runs.py"))
    tab_a.checkbox(key="confirm_delete_all").check().run()
    # Meanwhile: one shown run is deleted elsewhere, a new run arrives.
    cache.delete(keys[0])
    s = ExperimentSpec(**{**BASE, "n_train": 16})
    cache.put(s, run_experiment(s))
    tab_a.button(key="delete_all").click().run()
    no_exception(tab_a)
    assert _keys(cache) == [cache.key(s)]  # the new run, never shown, survives
    assert "Deleted 2 run(s). 1 of the 3 runs shown had been deleted" in _texts(tab_a)


def test_a_tick_given_on_one_run_does_not_delete_another(cache):
    newest, x, _ = _keys(cache)
    at = no_exception(open_app("pages/runs.py", run=x))
    at.checkbox(key="confirm_delete").check().run()
    at.selectbox(key="run").set_value(newest).run()
    assert at.checkbox(key="confirm_delete").value is False
    assert at.button(key="delete_one").disabled


def test_links_name_runs_by_key_and_stale_links_say_so(cache):
    newest, x, _ = _keys(cache)
    at = no_exception(open_app("pages/runs.py", run=x))
    assert at.selectbox(key="run").value == x and not at.warning
    assert at.query_params["run"] == x  # the page's own link names the key
    cache.set_label(x, name="renamed")
    at = no_exception(open_app("pages/runs.py", run=x))
    assert at.selectbox(key="run").value == x and at.subheader[0].value == "renamed"
    row = data.runs_table(cache.entries(), cache.labels()).set_index("key").loc[x]
    stale = [data.run_label(dict(row, key=x, name="")), f"({x[:8]})", "0" * 64]
    for link in stale:
        at = no_exception(open_app("pages/runs.py", run=link))
        assert at.selectbox(key="run").value == newest
        assert "named by the link is not in the cache" in _texts(at), link
    cache.delete(x)
    at = no_exception(open_app("pages/runs.py", run=x))
    assert "named by the link is not in the cache" in _texts(at)
    assert len(_keys(cache)) == 2
