"""The Compare page through Streamlit's AppTest: the bundled example renders with every
view, the controls (and the URL) change what is computed, and invalid settings are
explained next to the page instead of raising. Uploads are driven in a real browser
(tests/test_browser_compare.py): AppTest cannot fill a file uploader."""

from __future__ import annotations

import pandas as pd

from tests.app.test_app import captions, chart_specs, charts, errors, no_exception, open_app

PAGE = "pages/compare.py"


def _table(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "measure" in d.value.columns)


def test_example_renders_every_view():
    at = no_exception(open_app(PAGE))
    assert at.title[0].value == "Compare representations"
    assert any(e.label == "What am I looking at?" for e in at.expander)
    assert "7 arrays, N = 600 points, 6 classes" in captions(at)
    # measure heatmap, ID and Delta(a -> labels) per model x layer, the II plane
    assert charts(at) == 4
    table = _table(at)
    assert set(table["measure"]) == {"ii", "ii_score", "cka", "cka_debiased", "mknn", "cknna",
                                     "id", "ii_labels"}
    assert len(table) == 6 * 42 + 2 * 7
    assert [b.label for b in at.get("download_button")] == ["Table (CSV)", "Table (JSON)"]
    best = next(d.value for d in at.dataframe if "best_layer_b" in d.value.columns)
    assert len(best) == 3 * 2 + 3 * 2 + 1 * 2  # every layer of a model, each other model
    assert not at.error


def test_controls_change_the_computation():
    at = no_exception(open_app(PAGE))
    before = _table(at)
    mknn = before[before.measure == "mknn"].value.to_numpy()
    at.radio(key="knn_metric").set_value("cosine").run()
    after = no_exception(at) and _table(at)
    assert (after[after.measure == "mknn"].value.to_numpy() != mknn).any()
    assert set(after[after.measure == "mknn"].note) == {"cosine neighbours"}
    spec = chart_specs(at)[0]
    at.selectbox(key="heat").set_value("cka").run()
    assert chart_specs(no_exception(at))[0] != spec
    at.multiselect(key="measures").set_value(["cka"]).run()
    no_exception(at)
    assert set(_table(at).measure) == {"cka"} and charts(at) == 1


def test_settings_come_from_the_url():
    at = no_exception(open_app(PAGE, knn_metric="cosine", k="3", heat="mknn"))
    assert at.radio(key="knn_metric").value == "cosine"
    assert at.selectbox(key="heat").value == "mknn"
    assert set(_table(at).query("measure == 'ii'").k) == {3}


def test_invalid_k_is_explained():
    at = no_exception(open_app(PAGE, k="700"))
    assert "k=700 is invalid for N=600 points: allowed 1 to N - 2 = 598" in errors(at)
    assert charts(at) == 0


def test_upload_without_a_file_says_what_to_do():
    at = no_exception(open_app(PAGE, src="upload"))
    assert any("Upload a `.npz`" in i.value for i in at.info)
    assert charts(at) == 0
