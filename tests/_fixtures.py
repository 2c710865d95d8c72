"""Helpers shared by many test files (one definition each), imported by the tests that use
them; tests/conftest.py holds the fixtures every test gets."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(cond: Callable[[], object], timeout: float = 60.0, step: float = 0.02) -> bool:
    """Poll ``cond()`` every ``step`` seconds until it is true (True) or ``timeout`` seconds
    have passed (False). Generous by default: the machine running the tests is shared."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(step)
    return False
