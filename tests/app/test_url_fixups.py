"""Issue 13, case 11: URL parameters get the same fix-ups as the widgets.

A link naming only ``dataset=diabetes`` showed an n_probe error (the default probe size,
300, is above the 89 held-out points), and ``dataset=mnist1d`` kept target noise on a
classifier, because the fix-ups ran only when the dropdown changed. Auto-run is off:
nothing trains.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]


def _open(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({**params, "auto": "false"})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _errors(at: AppTest) -> list[str]:
    # As shown: the dashboard escapes markdown (a backslash before marks).
    return [re.sub(r"\\(.)", r"\1", e.value) for e in at.error]


def test_a_diabetes_link_uses_the_probe_points_it_has():
    at = _open({"dataset": "diabetes"})
    assert at.number_input(key="probe").value == 89
    assert not _errors(at), _errors(at)


@pytest.mark.parametrize("dataset", ["mnist1d", "digits"])
def test_a_classifier_link_gets_label_noise(dataset):
    at = _open({"dataset": dataset})
    assert at.selectbox(key="noise").value == "label"
    assert not _errors(at), _errors(at)


def test_values_the_link_names_itself_are_kept_and_a_contradiction_explained():
    # What a link states is not silently changed (tests/test_app.py has more cases).
    at = _open({"dataset": "mnist1d", "noise": "target"})
    assert at.selectbox(key="noise").value == "target"
    assert any("Noise kind: 'target' is invalid" in e for e in _errors(at)), _errors(at)
    at = _open({"dataset": "diabetes", "probe": "200"})
    assert any("Probe points N: 200 exceeds" in e for e in _errors(at)), _errors(at)


def test_the_dropdown_does_the_same():
    at = _open({})
    assert at.number_input(key="probe").value == 300
    at.selectbox(key="dataset").select("diabetes").run()
    assert at.number_input(key="probe").value == 89
    assert not _errors(at), _errors(at)
    at.selectbox(key="dataset").select("mnist1d").run()
    assert at.selectbox(key="noise").value == "label"
    assert not _errors(at), _errors(at)
