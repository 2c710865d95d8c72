"""Links carry every setting at every moment (issue 28, item 2), in a real browser.

The issue's repro at 1280x720: digits, x axis width, x values ``16, 64, 256``, series
none, activation relu, n 500 (and more controls: K, the seed in the Training box, the
measure, shared init), each edit made as soon as the page takes it, without waiting
for the run it starts. Then the address bar, opened in a new tab, must show every
control as it was, and the same sweep: the same cache keys of its points (read from the
page's "Reproduce" Python box). Before ui.url_state the URL lost ``act=relu`` (a run
overtaken by the edit sent its older query string) and a link opened a linear network.
"""

from __future__ import annotations

import re

import pytest

from tests._browser import app_command, launch_chromium, require_browser, streamlit_server

pytestmark = pytest.mark.browser
WAIT = 60_000

# Every control of the page as the reader sees it: {label: shown value}.
_CONTROLS_JS = """() => {
  const out = {};
  const label = w => (w.querySelector('[data-testid="stWidgetLabel"]') || {}).textContent;
  for (const w of document.querySelectorAll('[data-testid="stSelectbox"]')) {
    const l = label(w); if (!l) continue;
    const box = w.querySelector('input[role="combobox"]');
    out[l.trim()] = box ? box.value : null;
  }
  for (const w of document.querySelectorAll('[data-testid="stNumberInput"], [data-testid="stTextInput"]')) {
    const l = label(w); const i = w.querySelector('input');
    if (l && i) out[l.trim()] = i.value;
  }
  for (const w of document.querySelectorAll('[data-testid="stCheckbox"]')) {
    const i = w.querySelector('input');
    if (i) out[w.innerText.trim()] = i.checked;
  }
  for (const w of document.querySelectorAll('[data-testid="stRadio"]')) {
    const i = w.querySelector('input:checked');
    out['radio ' + (label(w) || '').trim()] = i ? i.parentNode.innerText.trim() : null;
  }
  for (const s of document.querySelectorAll('[role="slider"]'))
    out['slider ' + s.getAttribute('aria-label')] = s.getAttribute('aria-valuenow');
  return out;
}"""


@pytest.fixture
def server(tmp_path):
    require_browser("the shared-link browser test")
    with streamlit_server(app_command, tmp_path) as (_, base):
        yield base


def _retry(action) -> None:
    """``action()``, again when Streamlit replaced the element under it mid-action (a
    rerun redraws the sidebar); the edit itself is made as fast as the page allows."""
    from playwright.sync_api import Error
    for attempt in range(4):
        try:
            return action()
        except Error:
            if attempt == 3:
                raise


def _pick(page, name: str, option: str) -> None:
    def act():
        box = page.get_by_role("combobox", name=name)
        box.click()
        page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
        if box.input_value(timeout=10_000) != option:
            raise AssertionError(f"{name} shows {box.input_value()!r}, not {option!r}")
    _retry(act)


def _type(page, role: str, name: str, value: str) -> None:
    def act():
        box = page.get_by_role(role, name=name, exact=True)
        box.fill(value)
        box.press("Enter")
    _retry(act)


def _settled(page) -> str:
    """The address once it has stopped changing for 3 s (runs in flight may rewrite it)."""
    last, same = page.url, 0
    for _ in range(120):
        page.wait_for_timeout(500)
        same = same + 1 if page.url == last else 0
        last = page.url
        if same >= 6:
            return last
    raise AssertionError(f"the URL never settled: {last}")


def _controls(page) -> dict:
    from playwright.sync_api import expect
    expect(page.get_by_text("points cached").first).to_be_visible(timeout=WAIT)
    page.get_by_text("Training", exact=True).click()  # the expander with the seed
    expect(page.get_by_role("spinbutton", name="Seed", exact=True)).to_be_visible(timeout=WAIT)
    page.wait_for_timeout(1000)
    return page.evaluate(_CONTROLS_JS)


def _cache_keys(page) -> list[str]:
    """The cache keys of the sweep the page shows, from its "Reproduce" Python code."""
    from noisealign.engine import ExperimentSpec
    from noisealign.engine.compute.sweep import Sweep
    from noisealign.engine.store.cache import spec_key
    page.get_by_text("Reproduce this view from the command line or Python").click()
    page.get_by_role("tab", name="Python").click()
    code = page.locator('[data-testid="stCode"]').filter(has_text="ExperimentSpec(").first
    text = code.inner_text(timeout=WAIT)
    base = re.search(r"^base = (ExperimentSpec\(.*?\))$", text, re.MULTILINE | re.DOTALL).group(1)
    axes = re.search(r"^sweep = Sweep\(base, (\{.*?\})", text, re.MULTILINE | re.DOTALL).group(1)
    names = {"ExperimentSpec": ExperimentSpec, "inf": float("inf")}
    sweep = Sweep(eval(base, names), eval(axes, names))  # our own page's code
    return [spec_key(s) for s in sweep.specs()]


def test_every_edit_is_in_the_link_and_the_link_reopens_the_same_view(server):
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 720})
            page = ctx.new_page()
            page.goto(f"{server}/?auto=false")
            expect(page.get_by_text("points cached").first).to_be_visible(timeout=WAIT)
            _pick(page, "Dataset", "digits")
            _pick(page, "x axis", "Hidden width")
            _type(page, "textbox", "x values", "16, 64, 256")
            _pick(page, "Series", "none")
            _pick(page, "Activation", "relu")
            _type(page, "spinbutton", "Samples n", "500")
            _type(page, "spinbutton", "Ensemble size K", "3")
            _pick(page, "Alignment measure", "Mutual k-NN")
            page.get_by_text("Shared init", exact=True).click()
            page.get_by_text("Training", exact=True).click()
            _type(page, "spinbutton", "Seed", "5")
            url = _settled(page)
            want = _controls(page)
            shown = {k: want.get(k) for k in ("Activation", "Samples n", "Ensemble size K",
                                              "Seed", "Shared init", "Dataset", "x values",
                                              "Series")}
            assert shown == {"Activation": "relu", "Samples n": "500", "Ensemble size K": "3",
                             "Seed": "5", "Shared init": True, "Dataset": "digits",
                             "x values": "16, 64, 256", "Series": "none"}, shown
            url = _settled(page)
            query = url.split("?", 1)[1]
            for part in ("act=relu", "n=500", "K=3", "seed=5", "x=width", "series=none",
                         "dataset=digits", "shared=true", "measure=mknn"):
                assert part in query.split("&"), (part, url)
            keys = _cache_keys(page)

            fresh = ctx.new_page()  # the copied link, in a new tab
            fresh.goto(url)
            got = _controls(fresh)
            assert got == want, {k: (want.get(k), got.get(k)) for k in {*want, *got}
                                 if want.get(k) != got.get(k)}
            assert _cache_keys(fresh) == keys
            assert len(keys) == 3
        finally:
            browser.close()
