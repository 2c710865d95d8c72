"""Issue 29 item 4: text from users and URLs renders as text in Streamlit's *own*
frontend (real Chromium), not only in another markdown renderer.

Before the fix the round-two escaping held in markdown-it but not in the browser:
``?xs=![p](http://127.0.0.1:8690/px.png) [click here](https://example.invalid/login)``
put two live ``<a>`` in the error box (GFM autolinks the text after its escapes are
resolved), and a run named with a URL showed a live link in the Runs page heading.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache
from tests._browser import (
    app_command,
    launch_chromium,
    require_browser,
    streamlit_server,
)

pytestmark = pytest.mark.browser
PAYLOAD = ("![p](http://127.0.0.1:8690/px.png) [click here](https://example.invalid/login)"
           " www.example.invalid mail@example.invalid HTTPS://E.INVALID/x")
RUN_NAME = "see https://example.invalid/run and www.example.invalid or me@example.invalid"
HOSTILE = ("example.invalid", "127.0.0.1:8690", "mailto:")


def _live(page, scope: str) -> list[str]:
    """hrefs / srcs inside ``scope`` that point at anything the hostile text named."""
    return page.eval_on_selector_all(
        f"{scope} a, {scope} img",
        "els => els.map(e => e.getAttribute('href') || e.getAttribute('src') || '')"
    )


def test_user_text_renders_no_link_or_image_in_chromium(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    require_browser("the markup browser test")
    cache = ResultCache(tmp_path / "cache")
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                          n_probe=20, width=4, ensemble_size=2, max_epochs=5)
    cache.put(spec, run_experiment(spec))
    cache.set_label(cache.key(spec), name=RUN_NAME)
    with streamlit_server(app_command, tmp_path) as (_, base), sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{base}/?auto=false&xs={quote(PAYLOAD)}")
            box = page.locator('[data-testid="stAlertContentError"]').first
            expect(box).to_contain_text("px.png", timeout=90_000)
            text = box.inner_text().replace("\u2060", "")
            assert "[click here](https://example.invalid/logi" in text, text
            links = _live(page, '[data-testid="stAlertContentError"]')
            assert not [h for h in links if any(x in h for x in HOSTILE)], links

            page.goto(f"{base}/runs")
            heading = page.get_by_role("heading", name="see https")
            expect(heading).to_be_visible(timeout=90_000)
            assert heading.inner_text().replace("\u2060", "").startswith(RUN_NAME)
            links = _live(page, '[data-testid="stMain"]')
            assert not [h for h in links if any(x in h for x in HOSTILE)], links
            # Nothing is fetched from outside (the favicon was, from a font host).
            icon = page.eval_on_selector("link[rel*='icon']", "e => e.href")
            assert icon.startswith(base), icon
            outside = [u for u in requested if not u.startswith((base, "data:", "blob:"))]
            assert not outside, outside
        finally:
            browser.close()
