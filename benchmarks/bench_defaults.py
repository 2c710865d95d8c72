"""Cold time of each page's default view in a real browser, and the curve values it shows.

    .venv/bin/python -m benchmarks.bench_defaults [--pages alignment,information,theory]

For each page: a fresh Streamlit server with an empty results cache, headless Chromium
(Playwright) opening the page's plain URL (its defaults), and the seconds until

- *first plot*: the plot and its "What to notice" line are on screen;
- *complete*: every point of the default view is computed and drawn ("N of N cached").

The server's start is not counted (a lecturer opens a running dashboard). Then the
cached summaries are printed as the curves the page draws (alignment: CKA per SNR
against n; information: Delta(h -> y_clean) and test error per condition against
width), so the phenomenon is checked in numbers, not claimed. The machine's load average
is printed with every number (the two cores are shared). Baseline for a ratio: the
theory page, whose default view trains nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# (page, URL path, text shown once every point of the default view is done)
PAGES = {"alignment": ("/", "18 of 18 points cached"),
         "information": ("/information", "21 of 21 runs cached"),
         "theory": ("/theory", None)}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def _server(port: int, cache: Path) -> subprocess.Popen:
    env = dict(os.environ, NOISEALIGN_CACHE_DIR=str(cache),
               NOISEALIGN_DATA_DIR=str(cache.parent / "data"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=open(cache.parent / "streamlit.log", "w"),  # noqa: SIM115 (the process's log, open while it runs)
        stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                        timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def _curves(page: str, cache_dir: Path) -> None:
    os.environ["NOISEALIGN_CACHE_DIR"] = str(cache_dir)
    from noisealign.engine.pipeline.spec import ExperimentSpec
    from noisealign.engine.store.cache import ResultCache
    from noisealign.ui import tables as data
    cache = ResultCache(cache_dir)
    rows = []
    for e in cache.entries():
        spec = ExperimentSpec.from_dict(e["spec"])
        s = e.get("summary") or cache.get_summary(spec)
        rows.append((spec, s))
    if page == "alignment":
        print("  CKA (test MSE) against n, one line per SNR:")
        for snr in sorted({sp.snr_db for sp, _ in rows}):
            pts = sorted((sp.n_train, data.align_stat(s, "cka")["mean"],
                          data.error_stat(s)["mean"]) for sp, s in rows if sp.snr_db == snr)
            print(f"    SNR {snr:g} dB: " + ", ".join(f"n={n}: {c:.3f} ({e:.3g})"
                                                    for n, c, e in pts))
    elif page == "information":
        print("  Delta(h -> y_clean) / test error against width, one line per p "
              "(untrained Delta in brackets):")
        for p in sorted({sp.label_noise for sp, _ in rows}):
            pts = sorted((sp.width, data.info_stat(s, "ii_h_to_y")[0],
                          data.error_stat(s)["mean"],
                          data.info_stat(s, "ii_h_to_y", init=True)[0])
                         for sp, s in rows if sp.label_noise == p)
            print(f"    p = {p:g}: " + ", ".join(f"w={w}: {i:.3f}/{e:.3f} [{u:.3f}]"
                                               for w, i, e, u in pts))


def measure(page: str) -> tuple[float, float]:
    from playwright.sync_api import expect, sync_playwright
    path, done = PAGES[page]
    tmp = Path(tempfile.mkdtemp(prefix="noisealign-defaults-"))
    cache = tmp / "cache"
    port = 8500 + (os.getpid() % 400)
    proc = _server(port, cache)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu"])
            pg = browser.new_page(viewport={"width": 1400, "height": 1400})
            t0 = time.monotonic()
            pg.goto(f"http://127.0.0.1:{port}{path}")
            # Auto-run pauses when the guard's estimate is over its budget (5 min): then
            # the user presses Run, and so does this benchmark (it says so).
            paused = pg.get_by_text("Auto-run paused")
            chart_or_pause = pg.locator('[data-testid="stPlotlyChart"]').first.or_(paused)
            expect(chart_or_pause.first).to_be_visible(timeout=600_000)
            if paused.count():
                print(f"{page}: auto-run paused by the guard's estimate: "
                      + paused.first.inner_text().splitlines()[-1][:160] + "; pressing Run")
                pg.get_by_role("button", name="Run", exact=True).click()
            chart = pg.locator('[data-testid="stPlotlyChart"]').first
            expect(chart.locator(".main-svg").first).to_be_visible(timeout=600_000)
            expect(pg.get_by_text("What to notice:").first).to_be_visible(timeout=600_000)
            first = time.monotonic() - t0
            if done:
                expect(pg.get_by_text(done)).to_be_visible(timeout=600_000)
            complete = time.monotonic() - t0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"{page}: first plot {first:.1f} s, complete {complete:.1f} s ({_load()})")
    _curves(page, cache)
    return first, complete


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default="alignment,information,theory")
    args = ap.parse_args()
    print(f"before: {_load()}")
    for page in args.pages.split(","):
        measure(page)
    print(f"after: {_load()}")


if __name__ == "__main__":
    main()
