"""Shared test fixtures: every test gets its own cache and data directories."""

import os

import pytest

# Keep the two CPU cores for the test process itself; children inherit this.
os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path, monkeypatch):
    """Never touch the user's real cache/ or data/ from a test."""
    monkeypatch.setenv("NOISEALIGN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("NOISEALIGN_DATA_DIR", str(tmp_path / "data"))
    # Auto-run starts at a page's first run, as the tests written before ui.settle expect
    # (tests/test_settle.py sets a real wait itself).
    monkeypatch.setenv("NOISEALIGN_SETTLE_SECONDS", "0")
    yield


# ----------------------------------------------------------------------------- browser notice
# A fresh clone without Chromium skips the browser tests (tests/_browser.py); the skip
# reasons sit in the middle of the -ra list, easy to miss among the passes (issue 27).
# So the very last line of the run says so, and how to run them.

BROWSER_NOTICE = ("{n} browser test(s) SKIPPED: /usr/bin/chromium not found. To run them: "
                  "sudo apt-get install chromium, then make test again (or .ci/run, which "
                  "installs it and fails instead of skipping: REQUIRE_BROWSER=1).")
_browser_skipped: set[str] = set()


def pytest_runtest_logreport(report):
    if report.skipped and "browser" in report.keywords:
        _browser_skipped.add(report.nodeid)


def pytest_unconfigure(config):
    # after the final "N passed, M skipped" line (pytest_sessionfinish writes it)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if _browser_skipped and reporter is not None:
        reporter.write_line(BROWSER_NOTICE.format(n=len(_browser_skipped)), yellow=True,
                            bold=True)
