"""End to end in a real browser: `streamlit run app.py` on a free local port, driven by
headless Chromium (Debian's `chromium`) through Playwright's Python client.

Opens the alignment page from a shared link (URL query parameters for a tiny sweep),
runs it, waits for the chart, checks that the URL follows the controls, and saves a
screenshot in test-artifacts/. Without /usr/bin/chromium it skips, unless
REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TINY = {"d": "8", "n": "16", "probe": "40", "width": "8", "K": "2", "epochs": "40",
        "xs": "10, 24", "series": "none", "seed": "3", "auto": "false"}

pytestmark = pytest.mark.browser


def _require_browser() -> None:
    require_browser("the end-to-end browser test")



@pytest.fixture
def server(tmp_path):
    _require_browser()
    with streamlit_server(app_command, tmp_path) as (_, base):
        yield base


def test_shared_link_runs_a_sweep_and_the_url_follows_the_controls(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    query = "&".join(f"{k}={v.replace(', ', '%2C+')}" for k, v in TINY.items())
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            # A first visit straight to a page's link (not to "/"): it must still get the
            # app's navigation, and the link's settings.
            page.goto(f"{server}/theory?d=120&snr=20")
            expect(page.get_by_text("Linear theory").first).to_be_visible(timeout=60_000)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav).to_contain_text("Alignment explorer", timeout=30_000)
            expect(nav).to_contain_text("Information content")
            expect(page.get_by_role("slider", name="Input dimension d")).to_have_value(
                "120", timeout=60_000)  # the deep link renders its widgets after the title
            # One "Findings report" in the sidebar (the navigation's entry), once the page
            # and its sidebar are drawn (issue 17).
            expect(page.get_by_text("What to notice:")).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stSidebar"]').get_by_text(
                "Findings report", exact=True)).to_have_count(1)
            expect(page.get_by_text("Page not found")).to_have_count(0)

            # The alignment explorer is the app's root page: its links start with "/?".
            page.goto(f"{server}/?{query}")
            expect(page.get_by_text("0 of 2 points cached")).to_be_visible(timeout=60_000)
            expect(page.get_by_role("spinbutton", name="Ensemble size K")).to_have_value("2")
            expect(page.get_by_role("spinbutton", name="Samples n")).to_have_value("16")
            page.get_by_text("Training", exact=True).click()  # the expander with the seed
            expect(page.get_by_role("spinbutton", name="Seed", exact=True)).to_have_value("3")
            params = parse_qs(urlparse(page.evaluate("window.location.href")).query)
            for key, value in TINY.items():
                assert params.get(key) == [value], (key, page.url)

            page.get_by_role("button", name="Run", exact=True).click()
            expect(page.get_by_text("2 of 2 points cached")).to_be_visible(timeout=120_000)
            chart = page.locator('[data-testid="stPlotlyChart"]').first
            expect(chart).to_be_visible(timeout=30_000)
            expect(chart.locator(".main-svg").first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Dashed line: interpolation threshold at")).to_be_visible()
            expect(chart.get_by_text("interpolation threshold")).to_have_count(1)  # on the plot

            # Clicking a point opens its run, and the URL says which.
            points = chart.locator(".scatterlayer .trace .points path")
            points.nth(1).click(force=True)
            expect(page.get_by_text("CKA, mean over pairs")).to_be_visible(timeout=30_000)
            page.wait_for_function("window.location.search.includes('open=n_train')",
                                   timeout=30_000)

            # Changing a control changes the URL: a copied link reproduces the view.
            page.get_by_role("spinbutton", name="Ensemble size K").fill("3")
            page.get_by_role("spinbutton", name="Ensemble size K").press("Enter")
            page.wait_for_function("/[?&]K=3(&|$)/.test(window.location.search)",
                                   timeout=30_000)
            expect(page.get_by_text("0 of 2 points cached")).to_be_visible(timeout=30_000)
            params = parse_qs(urlparse(page.evaluate("window.location.href")).query)
            assert params["K"] == ["3"] and params["seed"] == ["3"]
            assert params["xs"] == ["10, 24"]

            # Back to K = 2: the cached points come back at once, without a run.
            page.get_by_role("spinbutton", name="Ensemble size K").fill("2")
            page.get_by_role("spinbutton", name="Ensemble size K").press("Enter")
            expect(page.get_by_text("2 of 2 points cached")).to_be_visible(timeout=30_000)
            expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "browser_alignment.png"), full_page=True)
        finally:
            browser.close()
