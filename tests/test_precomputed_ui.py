"""The dashboard with shipped summaries (engine.precomputed): points the user's cache
lacks are drawn from the shipped file, counted as precomputed, never auto-run, and
Recompute trains them into the cache; and the preset selector names what is loaded."""

from __future__ import annotations

import json

from engine import precomputed
from engine.cache import ResultCache
from tests.test_app import TINY_ALIGN, captions, charts, no_exception, open_app, run_until


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
