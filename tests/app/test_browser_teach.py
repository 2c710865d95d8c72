"""Teaching mode in a real browser (headless Chromium through Playwright): the pages at
an 800 px wide window (controls readable, charts drawn without the legend on an axis
title or tick labels on each other), the copy-link button (the clipboard gets the
address bar) and the link box, and presentation mode. Screenshots at 800 and 1400 px go
to test-artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._browser import app_command, launch_chromium, require_browser, streamlit_server
from tests.app.test_browser import TINY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
TINY_INFO = {"dataset": "gaussian-mixture", "d": "4", "n": "20", "probe": "40",
             "widths": "2, 8, 32", "rates": "0", "epochs": "40", "K": "2"}
SWEEP_CONTROLS = ("x axis", "x values", "Series", "Series values", "Auto-run")

pytestmark = pytest.mark.browser


def _query(params: dict) -> str:
    from urllib.parse import urlencode
    return urlencode(params)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    require_browser("the teaching-mode browser test")
    tmp = tmp_path_factory.mktemp("teach")
    with streamlit_server(app_command, tmp) as (_, base):
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    require_browser("the teaching-mode browser test")
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


# Everything a reader would call "cut off" or "on top of each other", measured in the
# page: [] when the view is clean.
_CLIPPED_JS = """(names) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const out = [];
  for (const name of names) {
    const label = Array.from(main.querySelectorAll('[data-testid="stWidgetLabel"]'))
      .find(l => l.textContent.trim() === name);
    if (!label) { out.push(`no label ${name}`); continue; }
    // the label and every box inside it that holds its text: none may clip it
    for (const e of [label, ...label.querySelectorAll('*')]) {
      if (!e.textContent.trim()) continue;
      const r = e.getBoundingClientRect();
      if (e.scrollWidth > e.clientWidth + 1 || r.right > window.innerWidth)
        out.push(`label ${name} cut (${e.tagName}: ${e.scrollWidth} > ${e.clientWidth})`);
    }
    const input = main.querySelector(`input[aria-label="${name}"]`);
    if (input && input.scrollWidth > input.clientWidth + 1)
      out.push(`value of ${name} cut: "${input.value}" ${input.scrollWidth} > ${input.clientWidth}`);
  }
  for (const b of main.querySelectorAll('button[kind^="primary"], button[kind^="secondary"]')) {
    if (b.offsetParent && b.scrollWidth > b.clientWidth + 1)
      out.push(`button "${b.textContent.trim()}" cut`);
  }
  return out;
}"""

_CHART_JS = """(chart) => {
  const rect = e => e.getBoundingClientRect();
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
                        a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const out = [];
  const traces = chart.querySelectorAll('.scatterlayer .trace, .heatmaplayer image');
  if (!traces.length) out.push('no trace drawn');
  const titles = Array.from(chart.querySelectorAll('text'))
    .filter(t => /^[xy]\\d*title$/.test(t.getAttribute('class') || ''));
  for (const legend of chart.querySelectorAll('g.legend')) {
    const l = rect(legend.querySelector('.bg') || legend);
    for (const t of titles)
      if (hit(l, rect(t))) out.push(`legend covers the axis title "${t.textContent}"`);
  }
  // tick labels of one axis (class xtick, x2tick, ytick...) must not overlap
  const byAxis = new Map();
  for (const t of chart.querySelectorAll('g[class$="tick"] > text')) {
    const cls = t.parentNode.getAttribute('class');
    if (!/^[xy]\\d*tick$/.test(cls)) continue;
    if (!byAxis.has(cls)) byAxis.set(cls, []);
    byAxis.get(cls).push(t);
  }
  for (const [cls, ticks] of byAxis)
    for (let i = 0; i < ticks.length; i++)
      for (let j = i + 1; j < ticks.length; j++)
        if (hit(rect(ticks[i]), rect(ticks[j])))
          out.push(`${cls} labels "${ticks[i].textContent}" and "${ticks[j].textContent}" overlap`);
  if (!byAxis.size) out.push('no tick labels');
  return out;
}"""


def _clipped(page, names: list[str]) -> list[str]:
    """What is cut off among the controls ``names`` (``_CLIPPED_JS``), once they are all
    on the page: Streamlit swaps elements in for a moment after a rerun."""
    for _ in range(60):
        problems = page.evaluate(_CLIPPED_JS, names)
        if not any(p.startswith("no label") for p in problems):
            return problems
        page.wait_for_timeout(500)
    return problems


def _open(browser, width: int, **context):
    ctx = browser.new_context(viewport={"width": width, "height": 1000}, **context)
    return ctx, ctx.new_page()


def _check_charts(page, name: str, width: int) -> None:
    from playwright.sync_api import expect
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.first.locator(".main-svg").first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(1500)  # Plotly's last layout pass
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        problems = chart.evaluate(_CHART_JS)
        assert problems == [], f"{name} at {width} px, chart {i}: {problems}"
        box = chart.bounding_box()
        assert box and box["x"] + box["width"] <= width + 1, f"{name} chart {i} wider than the window"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"teach_{name}_{width}.png"))
    charts.first.screenshot(path=str(ARTIFACTS / f"teach_{name}_{width}_chart.png"))


@pytest.mark.parametrize("width", [800, 1400])
def test_alignment_sweep_controls_are_readable_and_the_chart_is_clean(server, browser, width):
    from playwright.sync_api import expect
    params = {**TINY, "series": "snr_db", "ss": "0, 20"}  # 4 points, auto-run off
    ctx, page = _open(browser, width)
    try:
        page.goto(f"{server}/?{_query(params)}")
        expect(page.get_by_text("points cached").first).to_be_visible(timeout=60_000)
        assert _clipped(page, list(SWEEP_CONTROLS)) == []
        if width == 800:  # narrow: the row wraps, so x axis and Series sit on two lines
            x = page.get_by_role("combobox", name="x axis").bounding_box()
            s = page.get_by_role("combobox", name="Series", exact=True).bounding_box()
            assert s["y"] > x["y"] + 10
        run = page.get_by_role("button", name="Run", exact=True)
        if run.is_enabled():
            run.click()
        expect(page.get_by_text("4 of 4 points cached")).to_be_visible(timeout=120_000)
        assert _clipped(page, list(SWEEP_CONTROLS)) == []
        _check_charts(page, "alignment", width)
    finally:
        ctx.close()


def test_information_and_theory_at_800px(server, browser):
    from playwright.sync_api import expect
    ctx, page = _open(browser, 800)
    try:
        page.goto(f"{server}/information?{_query(TINY_INFO)}")
        expect(page.get_by_text("6 of 6 runs cached")).to_be_visible(timeout=180_000)
        assert _clipped(page, ["Auto-run"]) == []
        _check_charts(page, "information", 800)
        page.goto(f"{server}/theory")
        expect(page.get_by_text("Linear theory").first).to_be_visible(timeout=60_000)
        expect(page.get_by_role("button", name="Simulate")).to_be_visible(timeout=60_000)
        assert _clipped(page, []) == []  # the buttons (Simulate)
        for label in ("SNR (ratio)", "Test error at n = 2d", "ρ at n = 2d"):
            metric = page.get_by_test_id("stMetricLabel").filter(has_text=label)
            assert metric.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), label
        _check_charts(page, "theory", 800)
    finally:
        ctx.close()


def test_copy_link_puts_the_address_in_the_clipboard_and_the_box_shows_it(server, browser):
    from playwright.sync_api import expect
    ctx, page = _open(browser, 800)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    try:
        page.goto(f"{server}/theory?d=120&snr=20")
        expect(page.get_by_role("slider", name="Input dimension d")).to_have_value(
            "120", timeout=60_000)
        # change a control: the link follows it
        page.get_by_text("Log scale for the test error").click()
        page.wait_for_function("() => window.location.href.includes('logerr=false')",
                               timeout=30_000)
        button = page.frame_locator('iframe[srcdoc*="Copy link"]').locator("#copy")
        button.click()
        state = page.frame_locator('iframe[srcdoc*="Copy link"]').locator("#state")
        expect(state).to_have_text("Copied.", timeout=10_000)
        href = page.evaluate("window.location.href")
        assert page.evaluate("navigator.clipboard.readText()") == href
        page.get_by_text("Link to this view").click()
        code = page.locator('[data-testid="stCode"]').filter(has_text=server)
        expect(code).to_have_text(href, timeout=30_000)
    finally:
        ctx.close()


def test_presentation_mode_from_a_bookmark(server, browser):
    from playwright.sync_api import expect
    ctx, page = _open(browser, 1400)
    try:
        page.goto(f"{server}/theory?present=true")
        expect(page.get_by_role("switch", name="Presentation mode")).to_be_checked(
            timeout=60_000)
        chart = page.locator('[data-testid="stPlotlyChart"]').first
        expect(chart.locator(".main-svg").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("What am I looking at?")).to_have_count(0)
        expect(page.get_by_role("button", name="Curves (CSV)")).to_have_count(0)
        expect(page.get_by_text("Link to this view")).to_be_visible()  # the link stays
        size = chart.locator('g[class$="tick"] > text').first.evaluate(
            "t => parseFloat(getComputedStyle(t).fontSize)")
        assert size >= 18
        assert chart.evaluate(_CHART_JS) == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "teach_theory_present_1400.png"))
        page.get_by_text("Presentation mode", exact=True).click()
        expect(page.get_by_text("What am I looking at?")).to_be_visible(timeout=30_000)
        # the alignment page: its expert Training options are hidden, the rest stays
        page.goto(f"{server}/?{_query(TINY)}")
        expect(page.get_by_text("points cached").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Training", exact=True)).to_be_visible()
        page.get_by_text("Presentation mode", exact=True).click()
        expect(page.get_by_text("Training", exact=True)).to_be_hidden(timeout=30_000)
        expect(page.get_by_role("spinbutton", name="Samples n")).to_be_visible()
        page.wait_for_function("() => window.location.href.includes('present=true')",
                               timeout=30_000)
        expect(page.locator('[data-testid="stSidebar"]').get_by_text(
            "Findings report").first).to_be_visible()
    finally:
        ctx.close()
