"""Shared test fixtures: every test gets its own cache and data directories."""

import os

import pytest

# The two CPU cores go to the test processes; children inherit this. Under pytest-xdist
# (`make test` runs two workers) each worker gets 2 // workers threads, so two workers'
# torch/BLAS threads do not spin against each other. A value the caller set is kept; the
# marker tells a worker that the value it inherited is ours (the controller's), not the caller's.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if "OMP_NUM_THREADS" not in os.environ or os.environ.get("_NOISEALIGN_TEST_OMP") == "1":
    os.environ["OMP_NUM_THREADS"] = str(max(1, 2 // _WORKERS))
    os.environ["_NOISEALIGN_TEST_OMP"] = "1"


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
