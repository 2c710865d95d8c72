"""Issue 30 item 5: a single run's training loss per member is drawn while it trains.

Real server, real Chromium: the alignment page in single-run mode with a run that never
converges (loss tolerance 0, 200,000 epochs), Run clicked; the live loss chart appears
while the job is still running (its Cancel button still shown), and the time from the
click to the first curve is printed (BENCHMARKS.md), never asserted.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest

from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

pytestmark = pytest.mark.browser

ENDLESS = {"mode": "Single run", "d": "8", "n": "16", "probe": "40", "width": "8",
           "K": "3", "epochs": "200000", "tol": "0", "seed": "11", "auto": "false"}
WAIT = 120_000  # ms: generous, the machine is shared


@pytest.fixture
def server(tmp_path, monkeypatch):
    require_browser("the live view browser test")
    monkeypatch.setenv("NOISEALIGN_GUARD_CALIBRATE", "0")  # the documented rates
    with streamlit_server(app_command, tmp_path) as (_, base):
        yield base


def test_the_loss_curves_appear_while_the_run_trains(server):
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{server}/?{urllib.parse.urlencode(ENDLESS)}")
            run = page.get_by_role("button", name="Run", exact=True)
            expect(run).to_be_enabled(timeout=WAIT)
            t0 = time.monotonic()
            run.click()
            expect(page.get_by_text("Training loss per member, live")).to_be_visible(
                timeout=WAIT)
            chart = page.locator('[data-testid="stVegaLiteChart"], '
                                 '[data-testid="stArrowVegaLiteChart"]').first
            expect(chart).to_be_visible(timeout=WAIT)
            first = time.monotonic() - t0
            cancel = page.get_by_test_id("stMainBlockContainer").get_by_role(
                "button", name="Cancel")
            expect(cancel).to_be_visible()  # still training
            cancel.click()
            expect(page.get_by_text("Training loss per member, live")).to_have_count(
                0, timeout=WAIT)
        finally:
            browser.close()
    print(f"\nfirst live loss curve {first:.1f} s after Run")
