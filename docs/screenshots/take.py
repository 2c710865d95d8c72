"""Regenerate the README's screenshots: `.venv/bin/python docs/screenshots/take.py`.

Starts the dashboard on a free local port with a fresh cache (in a temporary directory),
lets each page compute its default view in headless Chromium, and saves each page at a
1400 px wide window (``alignment.png``) and at 800 px (``alignment_800.png``, the same
view from the cache), plus one shot in presentation mode (``alignment_present.png``).
Takes a few minutes on a laptop CPU.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"

# (file, path and query, text that says the view is complete ("# ..." a heading), action
# before waiting)
SHOTS = [
    ("alignment.png", "/?series=snr_db&ss=0%2C+10%2C+20", "18 of 18 points cached", None),
    ("alignment_run.png", "/?mode=Single+run&measure=ii", "Δ(a→b), mean over pairs", None),
    ("information.png", "/information", "21 of 21 runs cached", None),
    ("theory.png", "/theory", "cached simulation(s)", "Simulate"),
    ("runs.png", "/runs", "runs shown", None),
    ("compare.png", "/compare", "# Best-matching layer", None),
    ("report.png", "/report", "# How to rerun", None),
]
WIDTHS = (1400, 800)  # the 800 px shots are named like alignment_800.png
# (file, path and query, text that says the view is complete): large fonts for a projector
PRESENT = ("alignment_present.png", "/?series=snr_db&ss=0%2C+10%2C+20&present=true",
           "18 of 18 points cached")


def shot_name(name: str, width: int) -> str:
    """``alignment.png`` at the widest window, ``alignment_800.png`` at the others."""
    return name if width == WIDTHS[0] else name.replace(".png", f"_{width}.png")


def main() -> int:
    from playwright.sync_api import expect, sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="noisealign-shots-")
    env = dict(os.environ, NOISEALIGN_CACHE_DIR=str(Path(tmp) / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.port", str(port), "--server.headless", "true"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking"])
            for width in WIDTHS:  # the first width computes, the others load the cache
                page = browser.new_page(viewport={"width": width, "height": 1500})
                for name, path, done, click in SHOTS:
                    t0 = time.monotonic()
                    page.goto(base + path)
                    if click and width == WIDTHS[0]:
                        page.get_by_role("button", name=click, exact=True).click(timeout=60_000)
                    # "# Title": a heading (its words may also be in a folded help box)
                    target = (page.get_by_role("heading", name=done[2:]) if done.startswith("# ")
                              else page.get_by_text(done))
                    expect(target.first).to_be_visible(timeout=600_000)
                    time.sleep(2.5)  # let the charts finish drawing
                    page.screenshot(path=str(OUT / shot_name(name, width)))
                    print(f"{shot_name(name, width)}: {time.monotonic() - t0:.1f} s")
                page.close()
            page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1500})
            name, path, done = PRESENT
            page.goto(base + path)
            expect(page.get_by_text(done).first).to_be_visible(timeout=600_000)
            time.sleep(2.5)
            page.screenshot(path=str(OUT / name))
            print(f"{name}: done")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
