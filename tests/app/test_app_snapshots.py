"""Alignment over training in the dashboard (issue 14, item 2), through AppTest: a single
run with snapshots shows every measure against epoch with the test error, and a slider
scrubs the K x K matrix through the stored epochs, on every page that shows one run."""

from __future__ import annotations

import json

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache, default_cache_dir
from tests.app.test_app import TINY_ALIGN, captions, chart_specs, no_exception, open_app, run_until

SNAP = dict(TINY_ALIGN, mode="Single run", snaps="4")


def _titles(at) -> list[str]:
    out = []
    for spec in chart_specs(at):
        title = (json.loads(spec).get("layout") or {}).get("title") or {}
        out.append(title.get("text", "") if isinstance(title, dict) else str(title))
    return out


def _over_training(at) -> str | None:
    return next((s for s in chart_specs(at) if "epoch (log scale)" in s), None)


def test_single_run_shows_measures_over_training_and_the_slider_scrubs_the_matrix():
    at = open_app(**SNAP)
    run_until(at, lambda a: _over_training(a) is not None, what="the run with snapshots")
    fig = json.loads(_over_training(at))
    names = {t.get("name") for t in fig["data"]}
    assert {"CKA", "II score", "mutual k-NN", "Δ(h → y clean)", "Δ(y clean → h)",
            "test MSE"} <= names
    slider = at.select_slider(key="single_epoch")
    assert len(slider.options) == 6  # init, 4 snapshots, end
    assert slider.value == 5
    assert any(t.endswith("(end)") for t in _titles(at))
    before = _over_training(at)
    slider.set_value(0).run()
    no_exception(at)
    assert "CKA at epoch init" in _titles(at)
    assert _over_training(at) != before  # the marker moved
    at.select_slider(key="single_epoch").set_value(2).run()
    no_exception(at)
    snap_title = [t for t in _titles(at) if t.startswith("CKA at epoch")]
    assert snap_title and "init" not in snap_title[0] and "end" not in snap_title[0]
    # Another measure: its curve is the one shown, and the matrix follows.
    at.selectbox(key="measure").set_value("ii_score").run()
    no_exception(at)
    assert any(t.startswith("II score at epoch") for t in _titles(at))
    assert "Over training (CSV)" in [b.label for b in at.get("download_button")]
    assert "log-spaced snapshots" in captions(at)


def test_single_run_without_snapshots_says_how_to_get_them():
    at = open_app(**dict(TINY_ALIGN, mode="Single run"))
    run_until(at, lambda a: any(m.label.startswith("CKA") for m in a.metric),
              what="the run")
    assert "set **Snapshots** above 0" in captions(at) or "Snapshots" in captions(at)
    assert _over_training(at) is None
    assert not at.get("select_slider")


def test_runs_page_shows_a_run_over_training():
    cache = ResultCache(default_cache_dir())
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                          n_probe=20, width=4, ensemble_size=2, max_epochs=30, loss_tol=0.0,
                          snapshots=3)
    cache.put(spec, run_experiment(spec))
    at = no_exception(open_app("pages/runs.py"))
    assert _over_training(at) is not None
    slider = at.select_slider(key="runs_epoch")
    assert len(slider.options) == 5
    slider.set_value(1).run()
    no_exception(at)
    assert any(t.startswith("CKA at epoch") and "end" not in t for t in _titles(at))
    at.selectbox(key="runs_measure").set_value("mknn").run()
    no_exception(at)
    assert any(t.startswith("mutual k-NN at epoch") for t in _titles(at))
