"""Hostile URL query parameters on every dashboard page (hypothesis + AppTest).

A shared link can carry anything: random strings, huge or negative numbers, NaN, unicode,
empty values, repeated keys, unknown keys. Every page must render (its title, and its
content or an error message), never raise, and never write a file outside the cache
and data directories. Auto-run is forced off so that no example starts training.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from noisealign.engine.pipeline.datasets import DATASETS

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
EXAMPLES = int(os.environ.get("URL_PARAM_EXAMPLES", "30"))

DATASET_PARAMS = sorted({p for d in DATASETS.values() for p in d.params})
KEYS = {
    None: ["dataset", "noise", "snr", "p", "n", "probe", "arch", "width", "depth", "act", "K", "init",
           "shared", "opt", "lr", "epochs", "wd", "seed", "measure", "k", "knn", "mode", "x",
           "xs", "series", "ss", "open"] + DATASET_PARAMS,
    "pages/information.py": ["dataset", "n", "probe", "rates", "random", "features", "widths",
                             "arch", "depth", "act", "K", "seed", "epochs", "lr", "k", "loss",
                             "n_samples"] + DATASET_PARAMS,
    "pages/theory.py": ["d", "snr", "nd", "wd", "large_d", "logerr", "init", "sim_nd", "width",
                        "K", "epochs", "seed", "probe", "opt", "lr"],
    "pages/runs.py": ["q", "ds", "noise", "sort", "desc", "run", "tags", "group_by", "group",
                       "view", "runs_measure", "cmp_a", "cmp_b", "cmp_measure"],
    "pages/compare.py": ["src", "measures", "k", "knn_k", "knn_metric", "heat", "best_by"],
}

HOSTILE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "nan", "NaN", "-nan", "inf", "-inf", "1e308", "-1e308", "1e-320",
                     "0", "-0", "-1", "-999999999", "true", "false", "None", "null",
                     "Single run", "Sweep", "label", "digits", "mnist", "relu", "ii",
                     "n_train", "snr_db", "width", "label_noise", "../../etc/passwd",
                     "/tmp/x", "<script>alert(1)</script>", "%00", "\x00", "😀" * 20,
                     "1, 2, 3", "1,,2", "10, ten", "٣", "１２"]),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.integers(min_value=10**300, max_value=10**400).map(str),  # beyond any float
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=3000),
)


def params_for(page: str | None):
    key = st.one_of(st.sampled_from(KEYS[page]), st.text(min_size=1, max_size=12))
    value = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=2, max_size=3))  # list: repeated key
    return st.dictionaries(key, value, max_size=6)


@pytest.mark.parametrize("page", list(KEYS), ids=lambda p: p or "alignment")
def test_hostile_query_params_render_without_exception(page, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # a relative path written anywhere would land here
    counts = {"examples": 0, "with_error": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(params=params_for(page))
    def check(params):
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params.update(params)
        at.query_params["auto"] = "false"  # render only: no example trains
        if page is not None:
            at.switch_page(page)
        at.run()
        assert not at.exception, (params, [e.message for e in at.exception])
        assert at.title and at.title[0].value, params  # the page itself rendered
        # Content (a chart, a control, a table) or an error saying what is wrong.
        assert (at.error or at.get("plotly_chart") or at.number_input or at.slider
                or at.text_input or at.dataframe), params
        counts["examples"] += 1
        counts["with_error"] += bool(at.error)

    check()
    print(f"\n{page or 'alignment'}: {counts['examples']} URLs, "
          f"{counts['with_error']} shown with an error message")
    assert counts["examples"] >= min(EXAMPLES, 10)
    assert list(cwd.iterdir()) == []
    assert {p.name for p in tmp_path.iterdir()} <= {"cwd", "cache", "data"}
    # Nothing trained, so nothing was stored either.
    from noisealign.engine.store.cache import ResultCache, default_cache_dir
    assert ResultCache(default_cache_dir()).entries() == []
