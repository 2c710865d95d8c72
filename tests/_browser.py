"""Helpers shared by the real-browser tests (test_browser.py, test_load.py)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def require_browser(purpose: str) -> None:
    """Skip without Debian's chromium, or fail when REQUIRE_BROWSER=1 (as in CI)."""
    if Path(CHROMIUM).exists():
        return
    msg = (f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) "
           f"to run {purpose}")
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(msg + " (REQUIRE_BROWSER=1)")
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
