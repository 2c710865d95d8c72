"""The dashboard with shipped summaries (noisealign.engine.presets.shipped): points the user's cache
lacks are drawn from the shipped file, counted as precomputed, never auto-run, and
Recompute trains them into the cache; and the preset selector names what is loaded."""

from __future__ import annotations

import json

from noisealign.engine.presets import shipped as precomputed
from noisealign.engine.store.cache import ResultCache
from tests.app.test_app import TINY_ALIGN, captions, charts, no_exception, open_app, run_until


def _ship(cache_dir, out) -> int:
    """Write every entry of ``cache_dir`` as a shipped-summaries file; its size."""
    entries = ResultCache(cache_dir).entries()
    out.write_text(json.dumps({"format": precomputed.FORMAT, "engine_version": "test",
                               "commit": "", "presets": {},
                               "summaries": {e["key"]: precomputed.slim(e["summary"])
                                             for e in entries}}))
    return len(entries)


def test_shipped_points_are_drawn_marked_not_auto_run_and_recomputed(tmp_path, monkeypatch):
    first = tmp_path / "first"
    monkeypatch.setenv("NOISEALIGN_CACHE_DIR", str(first))
    monkeypatch.setenv(precomputed.ENV_VAR, str(tmp_path / "none.json"))
    at = open_app(**TINY_ALIGN)  # auto-run computes the two points into the first cache
    run_until(at, lambda a: "2 of 2 points cached" in captions(a) and charts(a),
              what="the tiny sweep")
    assert _ship(first, tmp_path / "shipped.json") == 2

    # A fresh install: an empty cache, the shipped file holds the points.
    monkeypatch.setenv("NOISEALIGN_CACHE_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv(precomputed.ENV_VAR, str(tmp_path / "shipped.json"))
    at = no_exception(open_app(**TINY_ALIGN))  # auto-run is on
    assert "0 of 2 points cached, 2 precomputed (shipped with the app)" in captions(at)
    assert charts(at) >= 1, "the shipped points are drawn at once"
    assert "precomputed summaries shipped with the app" in captions(at)
    assert not at.get("progress"), "auto-run must not compute precomputed points"
    assert ResultCache(tmp_path / "fresh").entries() == []
    assert at.button(key="run_btn").disabled

    at.button(key="_recompute_alignment").click().run()
    run_until(at, lambda a: "2 of 2 points cached" in captions(a), what="the recompute")
    assert len(ResultCache(tmp_path / "fresh").entries()) == 2
    assert "precomputed" not in captions(at)


# ----------------------------------------------------------------------------- preset selector


def _sidebar(at) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def test_edited_controls_compares_values_not_types():
    from noisealign.ui.report_links import edited_controls
    loaded = {"n": 100, "snr": 10.0, "nd": (0.1, 2.0), "xs": "10, 20", "open": "none"}
    assert edited_controls(loaded, {"n": 100.0, "snr": 10, "nd": [0.1, 2.0], "xs": "10, 20",
                                    "open": "n_train=10"}) == []
    assert edited_controls(loaded, {"n": 101, "xs": "10, 30"}) == ["n", "xs"]
    assert edited_controls(loaded, {}) == []  # controls not on the page are not counted


def test_selector_names_only_the_preset_the_controls_show(monkeypatch):
    monkeypatch.setenv(precomputed.ENV_VAR, "0")
    at = no_exception(open_app(auto="false"))
    assert "No preset loaded" in _sidebar(at)
    at.selectbox(key="_preset_pick_alignment").set_value("mlp_n").run()
    at.button(key="_preset_load_alignment").click().run()
    no_exception(at)
    assert "Loaded **ReLU MLP regression: alignment and test error vs n**" in _sidebar(at)
    # Picking another figure without loading it: the view still shows mlp_n, and says so.
    at.selectbox(key="_preset_pick_alignment").set_value("mlp_snr").run()
    assert "Loaded" not in _sidebar(at)
    assert "Showing **ReLU MLP regression: alignment and test error vs n**" in _sidebar(at)
    # Editing a control after loading: no preset is claimed any more.
    at.selectbox(key="_preset_pick_alignment").set_value("mlp_n").run()
    assert "Loaded **" in _sidebar(at)
    at.number_input(key="width").set_value(17).run()
    no_exception(at)
    assert "Loaded" not in _sidebar(at) and "Controls edited since loading" in _sidebar(at)
    assert "Hidden width" in _sidebar(at) or "Width" in _sidebar(at)
    # Loading again restores it; the menu follows the loaded preset.
    at.button(key="_preset_load_alignment").click().run()
    assert "Loaded **ReLU MLP" in _sidebar(at)


def test_report_open_button_sets_the_menu_to_the_loaded_preset(monkeypatch):
    monkeypatch.setenv(precomputed.ENV_VAR, "0")
    at = no_exception(open_app("pages/report.py"))
    at.button(key="_report_open_mlp_snr").click().run()
    no_exception(at)
    assert at.selectbox(key="_preset_pick_alignment").value == "mlp_snr"
    assert "Loaded **ReLU MLP regression: alignment vs SNR**" in _sidebar(at)
