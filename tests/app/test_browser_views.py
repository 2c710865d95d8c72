"""Issue 30 item 4: on a fresh install (an empty results cache) every page's default view
draws its first figure at once, from the summaries shipped with the app
(engine/precomputed/presets.json, ``"views"``), and no job starts.

Real server, real Chromium. The time from opening each page to its figure is printed
(BENCHMARKS.md records it), never asserted: a shared machine's load decides it.
"""

from __future__ import annotations

import re
import time

import pytest

from noisealign.engine.store.cache import ResultCache
from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

pytestmark = pytest.mark.browser

PAGES = {"alignment": "/", "information": "/information", "theory": "/theory"}


def _open_each_page(page, base: str, times: dict[str, float]) -> None:
    """Open every page's default view in ``page`` (a tab); seconds to each figure."""
    from playwright.sync_api import expect
    for name, url in PAGES.items():
        t0 = time.monotonic()
        page.goto(f"{base}{url}")  # the defaults, Auto-run on
        if name == "theory":  # its curves are always drawn: wait for the shipped
            # simulations on them
            expect(page.get_by_text("drawn from the precomputed summaries")
                   ).to_be_visible(timeout=120_000)
        else:
            expect(page.get_by_text("precomputed (shipped with the app)")
                   ).to_be_visible(timeout=120_000)
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=120_000)
        times[name] = time.monotonic() - t0
        # Nothing to train, so Auto-run starts nothing: no "N to compute", no job
        # panel with its Cancel button.
        expect(page.get_by_text(re.compile(r"\d+ to compute"))).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("Cancel"))).to_have_count(0)


def test_every_default_view_is_drawn_from_the_shipped_file_with_no_job(tmp_path):
    from playwright.sync_api import sync_playwright
    require_browser("the default views browser test")
    took: dict[str, dict[str, float]] = {"cold server": {}, "new session": {}}
    with streamlit_server(app_command, tmp_path) as (_, base):
        with sync_playwright() as p:
            browser = launch_chromium(p)
            try:
                for times in took.values():  # a new tab (a new session) each round
                    _open_each_page(browser.new_page(viewport={"width": 1400,
                                                               "height": 1000}),
                                    base, times)
            finally:
                browser.close()
        assert ResultCache(tmp_path / "cache").entries() == [], "a job trained something"
    print("\nseconds from opening each page to its figure (empty cache):",
          {r: {k: round(v, 1) for k, v in t.items()} for r, t in took.items()})
