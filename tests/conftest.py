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
