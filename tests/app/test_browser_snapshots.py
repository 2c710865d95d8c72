"""Alignment over training in a real browser (issue 14, item 2): `streamlit run app.py`
with headless Chromium opens a single run with snapshots from a shared link, finds the
over-training chart (measures and test error against epoch), scrubs the epoch slider and
sees the K x K matrix follow. Screenshot in test-artifacts/. Skips without
/usr/bin/chromium unless REQUIRE_BROWSER=1."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LINK = {"d": "8", "n": "16", "probe": "40", "width": "8", "K": "2", "epochs": "40",
        "mode": "Single run", "snaps": "4", "seed": "5"}

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path):
    require_browser("the over-training browser test")
    with streamlit_server(app_command, tmp_path) as (_, base):
        yield base


def test_single_run_with_snapshots_shows_the_over_training_chart(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    query = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in LINK.items())
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.goto(f"{server}/?{query}")
            # The run trains on its own (auto-run), then its view appears.
            expect(page.get_by_role("heading", name="Over training")).to_be_visible(
                timeout=120_000)
            charts = page.locator('[data-testid="stPlotlyChart"]')
            over = charts.filter(has_text="epoch (log scale)")
            expect(over).to_have_count(1, timeout=30_000)
            expect(over.locator(".main-svg").first).to_be_visible()
            for text in ("test MSE", "Δ(h → y clean)", "CKA"):
                expect(over.get_by_text(text).first).to_be_visible()
            # init ... end on the time axis
            expect(over.get_by_text("init", exact=True).first).to_be_visible()

            heat = charts.filter(has_text="CKA at epoch")
            expect(heat).to_have_count(1)
            expect(heat.get_by_text("(end)")).to_have_count(1)
            thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch") \
                .get_by_role("slider")
            expect(thumb).to_have_count(1)
            thumb.focus()
            thumb.press("Home")  # to initialisation
            expect(charts.filter(has_text="CKA at epoch init")).to_have_count(1, timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "browser_over_training.png"), full_page=True)
        finally:
            browser.close()
