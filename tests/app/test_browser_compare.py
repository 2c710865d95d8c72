"""The Compare page in a real browser: `streamlit run app.py` on a free port, headless
Chromium (Debian's `chromium`) through Playwright. The bundled example renders its
views; a user's .npz upload is compared; a bad upload is explained in one message; an
upload above the page's exact limit is computed on subsets.
Without /usr/bin/chromium it skips, unless REQUIRE_BROWSER=1 (CI), where it fails."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from noisealign.engine.own_models.pairs import make_example
from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path):
    require_browser("the Compare page browser test")
    with streamlit_server(app_command, tmp_path) as (_, base):
        yield base


def test_example_and_an_upload_in_the_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    good = make_example(tmp_path / "mine.npz", n=150, seed=4)
    bad = tmp_path / "bad.npz"
    rng = np.random.default_rng(0)
    np.savez(bad, **{"net/l1": rng.normal(size=(50, 3)), "net/l2": rng.normal(size=(40, 3))})
    big = tmp_path / "big.npz"  # N above the page's exact limit: computed on subsets
    z = rng.normal(size=(6000, 3))
    np.savez(big, **{"net/l1": z, "net/l2": z + 0.1 * rng.normal(size=z.shape)},
             labels=(z[:, 0] > 0).astype(int))
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(f"{server}/compare")
            expect(page.get_by_role("heading", name="Compare representations")).to_be_visible(
                timeout=90_000)
            expect(page.get_by_text("7 arrays, N = 600 points, 6 classes")).to_be_visible(
                timeout=90_000)
            charts = page.locator('[data-testid="stPlotlyChart"]')
            expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=30_000)
            expect(charts).to_have_count(4, timeout=30_000)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav).to_contain_text("Compare representations")

            # The user's own file, through the uploader.
            page.goto(f"{server}/compare?src=upload")
            expect(page.get_by_text("Upload a .npz of arrays named")).to_be_visible(
                timeout=60_000)
            page.locator('input[type="file"]').set_input_files(str(good))
            expect(page.get_by_text("7 arrays, N = 150 points, 6 classes")).to_be_visible(
                timeout=90_000)
            expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "browser_compare.png"), full_page=True)

            # A bad file: one clear message, no traceback.
            page.locator('input[type="file"]').set_input_files(str(bad))
            expect(page.get_by_text("has N=40 points but")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Traceback")).to_have_count(0)
            expect(charts).to_have_count(0)

            # N = 6,000 > 5,000: random subsets, means with errors.
            page.locator('input[type="file"]').set_input_files(str(big))
            expect(page.get_by_text("Computed on 3 random subsets of 2,000 points")).to_be_visible(
                timeout=90_000)
            expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=30_000)
        finally:
            browser.close()
