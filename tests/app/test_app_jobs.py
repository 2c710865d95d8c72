"""Jobs a user can see and stop (issue 17), through Streamlit's AppTest: a value a
callback set survives a stale report from the browser, a running job stays in sight when
the settings turn invalid, and the sidebar lists this tab's jobs with a Cancel each.

The real browser race and the click timings are in tests/test_browser_jobs.py.
"""

from __future__ import annotations

import pytest

from noisealign.ui import widget_sync
from tests.app.test_app import TINY_ALIGN, captions, errors, no_exception, open_app, run_until

# Trains for minutes (a loss tolerance of 0 is never reached), within the guard's limits.
SLOW = dict(TINY_ALIGN, epochs="200000", tol="0", xs="10, 24, 30")


@pytest.fixture
def slow_ok(monkeypatch):
    # Auto-run and Run start this slow sweep only with a larger budget and the guard's
    # documented rates (a loaded machine's calibration would refuse it).
    monkeypatch.setenv("NOISEALIGN_AUTO_RUN_SECONDS", "1e9")
    monkeypatch.setenv("NOISEALIGN_GUARD_CALIBRATE", "0")


def _manager():
    from noisealign.ui.page_support import (
        services,  # the manager the app holds for this test's cache
    )
    return services()[1]


def _stop_all():
    for job in _manager().jobs(active_only=True):
        job.cancel()
        job.wait(30)


# ----------------------------------------------------------------------------- widget_sync


def test_pin_undoes_only_a_stale_report_of_the_replaced_value():
    state: dict = {"ss": ""}
    widget_sync.pin(state, "ss", "0, 10, 20", now=0.0)
    state["ss"] = ""  # a request sent before the browser drew the new value
    assert widget_sync.restore(state, "ss", now=1.0) and state["ss"] == "0, 10, 20"
    state["ss"] = ""  # and another one
    assert widget_sync.restore(state, "ss", now=2.0) and state["ss"] == "0, 10, 20"
    state["ss"] = "5, 15"  # the user's own edit stays, and ends the guard
    assert not widget_sync.restore(state, "ss", now=3.0) and state["ss"] == "5, 15"
    state["ss"] = ""
    assert not widget_sync.restore(state, "ss", now=4.0) and state["ss"] == ""
    # Too late to be stale: kept as typed.
    widget_sync.pin(state, "ss", "1, 2", now=0.0)
    state["ss"] = ""
    assert not widget_sync.restore(state, "ss", now=widget_sync.PIN_SECONDS + 1)


def test_series_values_survive_a_stale_report_from_the_browser():
    at = no_exception(open_app(auto="false", **TINY_ALIGN))
    at.selectbox(key="series").set_value("snr_db").run()
    assert at.text_input(key="ss").value == "0, 10, 20"
    # The browser's poll, sent before it drew the Series values, still reports the box
    # as it was (empty, disabled): the page keeps the values it set.
    at.text_input(key="ss").set_value("").run()
    no_exception(at)
    assert at.text_input(key="ss").value == "0, 10, 20"
    assert "is invalid" not in errors(at)
    assert "6 points cached" in captions(at) or "of 6 points" in captions(at)
    # An edit of the user's own is taken as typed.
    at.text_input(key="ss").set_value("5, 15").run()
    assert at.text_input(key="ss").value == "5, 15"
    assert "of 4 points" in captions(at)


# ----------------------------------------------------------------------------- jobs


def test_running_sweep_stays_in_sight_with_invalid_settings_and_cancels_from_the_list(slow_ok):
    at = no_exception(open_app(auto="false", **SLOW))
    at.button(key="run_btn").click().run()
    run_until(at, lambda a: len(_manager().jobs(active_only=True)) == 1
              and "This tab's jobs" in captions(a), timeout=60, what="the sweep to start")
    try:
        job = _manager().jobs(active_only=True)[0]
        assert any(b.key == f"_cancel_job_{job.id}" for b in at.sidebar.button)
        assert "Sweep · Alignment explorer" in captions(at) or any(
            "Sweep · Alignment explorer" in str(p.proto.text) for p in at.get("progress"))
        # Invalid x values stop the page before its plot; the job's panel and Cancel stay.
        at.text_input(key="xs").set_value("10, abc").run()
        no_exception(at)
        assert "x values" in errors(at)
        assert any(b.key == "_cancel_alignment" for b in at.button)
        # The sidebar's own Cancel stops it, and the count follows.
        next(b for b in at.sidebar.button if b.key == f"_cancel_job_{job.id}").click().run()
        no_exception(at)
        assert job.wait(30) and job.status == "cancelled"
        run_until(at, lambda a: "Jobs: 0 running" in captions(a), timeout=60,
                  what="the sidebar count to read 0 running")
        assert not any(b.key == "_cancel_alignment" for b in at.button)
        assert _manager().jobs(at.session_state["_sid"], active_only=True) == []
    finally:
        _stop_all()
