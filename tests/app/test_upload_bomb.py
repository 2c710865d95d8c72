"""Issue 29, item 1-2: a small crafted file declaring gigabytes is refused from its
headers before any data is read -- in the API, the CLI and the real Compare page -- and
the server's memory stays at its baseline.

The bomb is the attack's file: a zip of two deflated all-zero bool arrays of shape
(20000, 6710), about 261 KB on disk, 268 MB unpacked, 2.1 GB as float64. Before the fix
the page's server went from 598 MB to 7.5 GB and kept 4.8 GB after the tab closed.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from noisealign.engine.own_models.pairs import load_arrays

ROOT = Path(__file__).resolve().parents[2]


def write_bomb(path: Path, shape: tuple[int, int], dtype: str = "|b1",
               names: tuple[str, ...] = ("a", "b")) -> Path:
    """A .npz whose members are all-zero arrays of ``shape``, deflated, written in
    chunks (never the whole array in memory)."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros((1, 1), dtype=dtype))
    header["shape"] = shape
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    chunk = bytes(1 << 22)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in names:
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array_header_1_0(f, header)
                left = nbytes
                while left:
                    f.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    return write_bomb(tmp_path_factory.mktemp("bomb") / "bomb.npz", (20000, 6710))


@pytest.fixture(scope="module")
def tall(tmp_path_factory) -> Path:
    """The attack's second file: one float64 array of shape (2^27, 1), 1 GB unpacked."""
    return write_bomb(tmp_path_factory.mktemp("tall") / "tall.npz", (2**27, 1), "<f8",
                      names=("a",))


def _refused_cheaply(source, match: str) -> str:
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as e:
            load_arrays(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6, f"{peak / 1e6:.0f} MB allocated while refusing"
    return str(e.value)


def test_the_bomb_is_small_and_refused_from_its_headers(bomb) -> None:
    assert bomb.stat().st_size < 400_000  # the attack's file was 261 KB
    msg = _refused_cheaply(bomb, r"the 2 arrays hold 268,400,000 values together|"
                                 r"comparing 2 arrays of N=20,000 points .* needs about")
    assert "\n" not in msg
    # and from its bytes, as an upload arrives
    _refused_cheaply(bomb.read_bytes(), "arrays hold|needs about")


def test_points_are_refused_before_the_data_is_unpacked(tall) -> None:
    assert tall.stat().st_size < 3_000_000
    _refused_cheaply(tall, "array 'a' has N=134,217,728 points: allowed 4 to 20,000")


def test_the_cli_refuses_the_bomb_in_one_line(bomb) -> None:
    r = subprocess.run([sys.executable, "-m", "engine", "compare", str(bomb)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and "allowed" in lines[0] or "needs about" in lines[0]


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


@pytest.mark.browser
def test_the_page_refuses_the_bomb_and_keeps_its_memory(bomb, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests._browser import (
        app_command,
        launch_chromium,
        require_browser,
        streamlit_server,
    )

    require_browser("the upload bomb browser test")
    with streamlit_server(app_command, tmp_path) as (proc, base), sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/compare?src=upload")
            expect(page.get_by_text("Upload a .npz of arrays named")).to_be_visible(
                timeout=90_000)
            time.sleep(1.0)
            base_rss, base_peak = _rss_kb(proc.pid), _rss_kb(proc.pid, "VmHWM")
            page.locator('input[type="file"]').set_input_files(str(bomb))
            box = page.locator('[data-testid="stAlertContentError"]')
            expect(box).to_contain_text("268,400,000 values together", timeout=60_000)
            expect(page.get_by_text("Traceback")).to_have_count(0)
            peak = _rss_kb(proc.pid, "VmHWM")
            page.close()
            time.sleep(1.0)
            after = _rss_kb(proc.pid)
        finally:
            browser.close()
    print(f"server RSS: {base_rss / 1e3:.0f} MB before, peak {peak / 1e3:.0f} MB "
          f"(peak before {base_peak / 1e3:.0f} MB), {after / 1e3:.0f} MB after")
    assert peak - base_peak < 200_000 and after - base_rss < 200_000
