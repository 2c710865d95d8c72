"""``make test`` ends with one clear line when browser tests were skipped (issue 27, item
4): a run of a skipped browser test under this project's conftest, in a subprocess."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).resolve().parents[1] / "conftest.py").read_text(encoding="utf-8")


def _run(pytester, body: str):
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    browser: drives a real headless Chromium\n")
    pytester.makepyfile(test_x=body)
    return pytester.runpytest_subprocess("-ra")


def test_the_last_line_says_browser_tests_were_skipped_and_how_to_run_them(pytester):
    result = _run(pytester, """
import pytest
pytestmark = pytest.mark.browser

@pytest.fixture
def server():
    pytest.skip("/usr/bin/chromium not found")

def test_a(server):
    pass

def test_b(server):
    pass
""")
    lines = [line for line in result.outlines if line.strip()]
    assert "2 skipped" in lines[-2]
    assert lines[-1].startswith("2 browser test(s) SKIPPED")
    assert "apt-get install chromium" in lines[-1] and ".ci/run" in lines[-1]


def test_no_line_when_nothing_was_skipped_or_only_other_tests(pytester):
    result = _run(pytester, """
import pytest

def test_plain():
    pytest.skip("not a browser test")

@pytest.mark.browser
def test_browser_ran():
    pass
""")
    assert "browser test(s) SKIPPED" not in result.stdout.str()
