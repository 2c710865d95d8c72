"""Dashboard responsiveness: how long the first screen of each page takes, cold (nothing
cached: the default view is trained) and warm (served from the cache), through
Streamlit's AppTest in this process (no browser, no network).

    .venv/bin/python -m benchmarks.bench_dashboard

The baseline of the ratios is the warm render of the same page in the same run: the
ratio says how much waiting the cache saves a returning visitor.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["NOISEALIGN_CACHE_DIR"] = tempfile.mkdtemp(prefix="noisealign-bench-")

from streamlit.testing.v1 import AppTest  # noqa: E402 (after the cache directory is set)

PAGES = [("alignment (default sweep, 6 n x 3 SNR = 18 points)", None, "18 of 18 points cached"),
         ("information (default sweep, 21 runs)", "pages/information.py", "21 of 21 runs cached"),
         ("theory (600-point curves, no training)", "pages/theory.py", None),
         ("runs (table of the cache)", "pages/runs.py", None)]


def render(page: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    if page:
        at.switch_page(page)
    return at.run()


def complete(at: AppTest, done: str | None) -> bool:
    return done is None or any(done in c.value for c in at.caption)


def main() -> None:
    import torch
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}")
    rows = []
    for name, page, done in PAGES:
        t0 = time.perf_counter()
        at = render(page)  # the page's first screen; auto-run starts the training
        first = time.perf_counter() - t0
        while not complete(at, done):
            time.sleep(0.2)
            at.run()
        cold = time.perf_counter() - t0
        warm = []
        for _ in range(5):
            t0 = time.perf_counter()
            at = render(page)
            assert complete(at, done), name
            warm.append(time.perf_counter() - t0)
        w = statistics.median(warm)
        rows.append((name, first, cold, w))
    print("| page | first screen drawn (s) | complete, cold (s) | complete, warm (s) | cold / warm |")
    print("|---|---|---|---|---|")
    for name, first, cold, w in rows:
        print(f"| {name} | {first:.2f} | {cold:.1f} | {w:.2f} | {cold / w:.0f}x |")


if __name__ == "__main__":
    main()
