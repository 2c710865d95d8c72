"""Issue 17's first "Done when": every findings preset, opened with an empty results cache,
draws its figure within 10 s of loading it (from the summaries shipped with the app,
engine/precomputed/presets.json).

One browser session: each page is visited once first (imports, untimed), then for each
preset the report page's **Open** button is clicked (it loads the preset and switches to
its page) and the clock runs from that click until the preset's figure is drawn. The
10 s limit is the issue's requirement; the waits themselves are generous so that a miss
reports the time it took.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from noisealign.engine.presets.catalog import PRESETS
from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

pytestmark = pytest.mark.browser

LIMIT_S = 10.0  # issue 17: "finds its figure drawn within 10 s of loading it"
PAGE_URL = {"alignment": "/", "information": "/information", "theory": "/theory"}


@pytest.fixture
def server(tmp_path):
    require_browser("the presets browser test")
    with streamlit_server(app_command, tmp_path) as (_, base):
        assert not (tmp_path / "cache" / "results").exists() or not any(
            (tmp_path / "cache" / "results").iterdir()), "the results cache must start empty"
        yield base


def test_every_preset_draws_its_figure_within_10_s_of_loading(server):
    from playwright.sync_api import expect, sync_playwright

    took: dict[str, float] = {}
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, url in PAGE_URL.items():  # warm up: imports, untimed
                page.goto(f"{server}{url}?auto=false")
                expect(page.locator('[data-testid="stSidebar"]')
                       .get_by_text("Presets from the findings report")).to_be_visible(
                    timeout=120_000)
            # $PRESETS_ONLY (comma-separated names) runs a subset while developing.
            only = [n for n in os.environ.get("PRESETS_ONLY", "").split(",") if n]
            for name, preset in PRESETS.items():
                if only and name not in only:
                    continue
                page.goto(f"{server}/report")
                # Streamlit draws labels as markdown, which shows "->" as an arrow.
                title = preset["title"].replace("->", "→")
                button = page.get_by_role("button", name=f"Open: {title}", exact=True)
                expect(button).to_be_visible(timeout=60_000)
                t0 = time.monotonic()
                button.click()
                sidebar = page.locator('[data-testid="stSidebar"]')
                expect(sidebar.get_by_text(f"Loaded {title}")).to_be_visible(
                    timeout=60_000)
                chart = page.locator('[data-testid="stPlotlyChart"]').first
                if preset["page"] == "theory":  # the curves are always drawn: wait for
                    # the preset's (precomputed) simulations on them
                    expect(page.get_by_text("drawn from the precomputed summaries")
                           ).to_be_visible(timeout=60_000)
                else:
                    expect(page.get_by_text("precomputed (shipped with the app)")
                           ).to_be_visible(timeout=60_000)
                expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
                took[name] = time.monotonic() - t0
                # Nothing left to train ("3 to compute" in the status line; the page's
                # help text may use the words too).
                expect(page.get_by_text(re.compile(r"\d+ to compute"))).to_have_count(0)
        finally:
            browser.close()
    print("seconds from Open to the figure:", {k: round(v, 1) for k, v in took.items()})
    slow = {k: round(v, 1) for k, v in took.items() if v > LIMIT_S}
    assert not slow, f"presets drawn later than {LIMIT_S:g} s after loading: {slow}"
