"""Issue 13, case 11: URL parameters get the same fix-ups as the widgets.

A link naming only ``dataset=diabetes`` showed an n_probe error (the default probe size,
300, is above the 89 held-out points), and ``dataset=mnist1d`` kept target noise on a
classifier, because the fix-ups ran only when the dropdown changed. Auto-run is off:
nothing trains.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def _open(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params.update({**params, "auto": "false"})
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_a_diabetes_link_uses_the_probe_points_it_has():
    at = _open({"dataset": "diabetes"})
    assert at.number_input(key="probe").value == 89
    assert not _errors(at), _errors(at)


@pytest.mark.parametrize("params", [{"dataset": "mnist1d"},
                                    {"dataset": "mnist1d", "noise": "target"}])
def test_a_classifier_link_gets_label_noise(params):
    at = _open(params)
    assert at.selectbox(key="noise").value == "label"
    assert not _errors(at), _errors(at)


def test_a_regression_link_with_label_noise_gets_target_noise():
    at = _open({"dataset": "diabetes", "noise": "label"})
    assert at.selectbox(key="noise").value == "target"
    assert not _errors(at), _errors(at)


def test_the_dropdown_does_the_same():
    at = _open({})
    assert at.number_input(key="probe").value == 300
    at.selectbox(key="dataset").select("diabetes").run()
    assert at.number_input(key="probe").value == 89
    assert not _errors(at), _errors(at)
    at.selectbox(key="dataset").select("mnist1d").run()
    assert at.selectbox(key="noise").value == "label"
    assert not _errors(at), _errors(at)
