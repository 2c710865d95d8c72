"""Issue 29 item 10, the smaller findings: an option that does not apply exits 2;
``NOISEALIGN_AUTO_RUN_SECONDS=0`` does not crash the alignment page; a link's
out-of-range ``reps`` is said, not silently replaced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from noisealign.engine.compute.guard import auto_run_limit
from tests.app.test_app import no_exception, open_app

ROOT = Path(__file__).resolve().parents[2]


def test_pair_label_noise_on_a_regression_dataset_exits_2_naming_the_option(tmp_path):
    r = subprocess.run([sys.executable, "-m", "engine", "run", "--dataset", "linear-teacher",
                        "--label-noise-kind", "pair", "--cache-dir", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--label-noise-kind 'pair' is invalid" in lines[0], r.stderr


def test_auto_run_seconds_zero_means_no_auto_run(monkeypatch):
    monkeypatch.setenv("NOISEALIGN_AUTO_RUN_SECONDS", "0")
    monkeypatch.setenv("NOISEALIGN_PRECOMPUTED", "0")  # the default view ships: compute it here
    assert auto_run_limit() == 0.0
    # crashed: "allowed a positive number" uncaught
    at = no_exception(open_app("pages/information.py", auto="true"))
    assert any("Auto-run paused" in w.value.replace("\\", "") for w in at.warning)
    assert "_started" not in at.session_state or not at.session_state["_started"]
    monkeypatch.setenv("NOISEALIGN_AUTO_RUN_SECONDS", "soon")
    at = no_exception(open_app("pages/information.py", auto="true"))
    assert any("NOISEALIGN_AUTO_RUN_SECONDS" in e.value.replace("\\", "") for e in at.error)


@pytest.mark.parametrize("value", ["1000", "0", "2.5", "many"])
def test_a_links_replicates_out_of_range_is_said(value):
    at = no_exception(open_app("pages/information.py", auto="false", reps=value))
    notes = [w.value.replace("\\", "") for w in at.warning]
    assert any(f"Replicates (data seeds) = {value} in the link is invalid: allowed an "
               "integer in [1," in n for n in notes), notes
    if value in ("1000", "0", "many"):
        assert at.number_input(key="reps").value == 1
