"""Issue 29 item 10: the Runs page says why it shows nothing when the results cache
cannot be opened (it showed "Cached runs 0" and no message). AppTest runs in this
process, which may read any directory as root: the cache is made unopenable by a path
that is a file, the same failure (``ResultCache.unavailable``) as an unreadable folder,
whose own case the CLI test (tests/cli/test_unreadable_cache.py) covers in a child."""

from __future__ import annotations

import os
import sys

import pytest

from noisealign.engine.store.cache import default_cache_dir
from tests.app.test_app import errors, no_exception, open_app


def test_runs_page_says_why_an_unopenable_cache_shows_no_runs():
    d = default_cache_dir()  # the test's own (tests/conftest.py)
    d.parent.mkdir(parents=True, exist_ok=True)
    d.write_text("not a folder")
    at = no_exception(open_app("pages/runs.py"))
    text = errors(at)
    assert f"The results cache in {d} cannot be read (" in text, text
    assert "no runs can be shown" in text and "kept" in text


@pytest.mark.skipif(sys.platform != "linux" or os.geteuid() == 0,
                    reason="root reads a mode-0000 folder")
def test_runs_page_says_why_an_unreadable_folder_shows_no_runs():
    d = default_cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0)
    try:
        at = no_exception(open_app("pages/runs.py"))
        assert "Permission denied" in errors(at)
    finally:
        os.chmod(d, 0o700)


def test_runs_page_of_a_readable_empty_cache_shows_no_error():
    at = no_exception(open_app("pages/runs.py"))
    assert "cannot be read" not in errors(at)
