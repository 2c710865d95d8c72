"""Helpers shared by the tests that drive a real server (test_browser.py, test_load.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def app_command(port: int) -> list[str]:
    """``streamlit run app.py`` on ``port``, this machine only (for :func:`streamlit_server`)."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
            "--server.headless", "true", "--server.address", "127.0.0.1"]


def launch_chromium(playwright):
    """Headless Debian chromium through Playwright's client (``sync_playwright()`` value)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@contextmanager
def streamlit_server(command: Callable[[int], list[str]], tmp_path: Path
                     ) -> Iterator[tuple[subprocess.Popen, str]]:
    """Start ``command(port)`` (a Streamlit server on a free port) with its cache and data
    directories under ``tmp_path`` and its output in ``tmp_path/streamlit.log``; yield
    (process, base URL) once /_stcore/health answers; stop it afterwards."""
    port = free_port()
    env = dict(os.environ, NOISEALIGN_CACHE_DIR=str(tmp_path / "cache"),
               NOISEALIGN_DATA_DIR=str(tmp_path / "data"))
    log = open(tmp_path / "streamlit.log", "w")  # noqa: SIM115 (the process's log, open while it runs)
    proc = subprocess.Popen(command(port), cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(base + "/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() - t0 > 90:
                log.flush()
                pytest.fail("streamlit did not start:\n" + (tmp_path / "streamlit.log")
                            .read_text()[-3000:])
            time.sleep(0.3)
        yield proc, base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
