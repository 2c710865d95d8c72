"""Presentation mode and every page switch together, in a real browser (issue 27, item 1).

With presentation mode on (``?present=true`` or the sidebar toggle), the Findings report's
"Open: ..." buttons crashed: ``st.switch_page`` clears the query parameters, and Streamlit
refuses to clear one bound to a widget (``present``), so the page showed "This app has
encountered an error". Here every Open button is pressed with presentation mode on and
off; the target page must show the preset loaded, no exception box, and presentation
mode exactly as it was. The presets selector (Load preset) and the sidebar's link to the
report are tried with presentation mode on too.
"""

from __future__ import annotations

import pytest

from noisealign.engine.presets.catalog import PRESETS
from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

pytestmark = pytest.mark.browser

ERROR_BOX = '[data-testid="stException"]'
CRASH_TEXT = "This app has encountered an error"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser("the presentation-mode browser test")
    tmp = tmp_path_factory.mktemp("present")
    with streamlit_server(app_command, tmp) as (_, base):
        yield base, tmp


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    require_browser("the presentation-mode browser test")
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def _no_error(page, where: str, log) -> None:
    assert page.locator(ERROR_BOX).count() == 0, (
        f"{where}: exception box: {page.locator(ERROR_BOX).first.inner_text()[:500]}\n"
        + log.read_text()[-2000:])
    assert page.get_by_text(CRASH_TEXT).count() == 0, f"{where}: app error page"


def _toggle(page):
    return page.locator('[data-testid="stSidebar"]').get_by_role(
        "switch", name="Presentation mode")


def _report_link(page) -> None:
    """Open the sidebar's verdicts box and follow its "Read the report" page link."""
    from playwright.sync_api import expect
    sidebar = page.locator('[data-testid="stSidebar"]')
    link = sidebar.get_by_role("link", name="Read the report")
    for _ in range(20):  # the box may be redrawn (closed) by a rerun in between
        if not link.is_visible():
            sidebar.get_by_text("Paper claims: our verdicts").click()
        try:
            expect(link).to_be_visible(timeout=3_000)
            link.click(timeout=3_000)
            return
        except Exception:  # noqa: BLE001 - stale or inert during a rerun: try again
            page.wait_for_timeout(1_000)
    link.click()


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presenting"])
def test_every_open_button_of_the_report_switches_without_an_exception(
        server, browser, present):
    from playwright.sync_api import expect
    base, tmp = server
    log = tmp / "streamlit.log"
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    query = "?present=true" if present else ""
    try:
        for name, preset in PRESETS.items():
            page.goto(f"{base}/report{query}")
            title = preset["title"].replace("->", "→")  # markdown draws -> as an arrow
            button = page.get_by_role("button", name=f"Open: {title}", exact=True)
            expect(button).to_be_visible(timeout=90_000)
            expect(_toggle(page)).to_be_checked(checked=present, timeout=30_000)
            button.click()
            sidebar = page.locator('[data-testid="stSidebar"]')
            expect(sidebar.get_by_text(f"Loaded {title}")).to_be_visible(timeout=90_000)
            expect(page.locator('[data-testid="stPlotlyChart"]').first
                   .locator(".main-svg").first).to_be_visible(timeout=90_000)
            _no_error(page, f"Open {name} (present={present})", log)
            # presentation mode survives the switch: the toggle and the link keep it
            expect(_toggle(page)).to_be_checked(checked=present, timeout=30_000)
            if present:
                page.wait_for_function(
                    "() => window.location.search.includes('present=true')", timeout=30_000)
            assert "Cannot clear query parameters" not in log.read_text()
    finally:
        ctx.close()


def test_presets_selector_and_report_link_in_presentation_mode(server, browser):
    """The sidebar toggle turned on by hand (not the URL), then the presets selector and
    the sidebar's "Read the report" link; then an Open button from there."""
    from playwright.sync_api import expect
    base, tmp = server
    log = tmp / "streamlit.log"
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        page.goto(f"{base}/?auto=false")
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Presets from the findings report")).to_be_visible(
            timeout=90_000)
        sidebar.get_by_text("Presentation mode").click()
        page.wait_for_function("() => window.location.search.includes('present=true')",
                               timeout=30_000)
        sidebar.get_by_role("button", name="Load preset").click()
        expect(sidebar.get_by_text("Loaded ", exact=False).first).to_be_visible(
            timeout=90_000)
        _no_error(page, "Load preset (presenting)", log)
        expect(_toggle(page)).to_be_checked(timeout=30_000)
        _report_link(page)
        name, preset = next((n, p) for n, p in PRESETS.items() if p["page"] == "information")
        title = preset["title"].replace("->", "→")
        button = page.get_by_role("button", name=f"Open: {title}", exact=True)
        expect(button).to_be_visible(timeout=90_000)
        _no_error(page, "report link (presenting)", log)
        expect(_toggle(page)).to_be_checked(timeout=30_000)
        button.click()
        expect(sidebar.get_by_text(f"Loaded {title}")).to_be_visible(timeout=90_000)
        _no_error(page, f"Open {name} after the link (presenting)", log)
        expect(_toggle(page)).to_be_checked(timeout=30_000)
        # and back to normal: the toggle off sticks across a switch too
        sidebar.get_by_text("Presentation mode").click()
        page.wait_for_function("() => !window.location.search.includes('present=')",
                               timeout=30_000)
        page.locator('[data-testid="stSidebarNav"]').get_by_role(
            "link", name="Findings report").click()  # the navigation's own link
        expect(page.get_by_role("button", name=f"Open: {title}", exact=True)).to_be_visible(
            timeout=90_000)
        expect(_toggle(page)).not_to_be_checked(timeout=30_000)
        _no_error(page, "report link (normal)", log)
    finally:
        ctx.close()
