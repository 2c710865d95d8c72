"""Auto-run starts only from settled controls (issue 28, item 3): edits that pass
through intermediate states start no job; the state the user stops at starts one, once;
Run starts at once."""

from __future__ import annotations

import pytest

from noisealign.ui import settle
from tests.app.test_app import TINY_ALIGN, captions, no_exception, open_app, run_until


def test_remaining_restarts_the_wait_on_every_change():
    memo: dict = {}
    assert settle.remaining(memo, "p", "a", now=0.0, wait=2.0) == 2.0
    assert settle.remaining(memo, "p", "a", now=1.5, wait=2.0) == 0.5
    assert settle.remaining(memo, "p", "b", now=1.9, wait=2.0) == 2.0  # an edit: again
    assert settle.remaining(memo, "p", "b", now=3.0, wait=2.0) == pytest.approx(0.9)
    assert settle.remaining(memo, "p", "b", now=3.9, wait=2.0) == 0.0
    assert settle.remaining(memo, "q", "b", now=3.9, wait=2.0) == 2.0  # per page


def test_settle_seconds_from_the_environment(monkeypatch):
    monkeypatch.delenv("NOISEALIGN_SETTLE_SECONDS", raising=False)
    assert settle.settle_seconds() == settle.DEFAULT_SETTLE_SECONDS
    for given, want in (("0", 0.0), ("4", 4.0), ("1e9", 30.0), ("-1", 0.0),
                        ("soon", settle.DEFAULT_SETTLE_SECONDS)):
        monkeypatch.setenv("NOISEALIGN_SETTLE_SECONDS", given)
        assert settle.settle_seconds() == want


def _started(at) -> set:
    return set(at.session_state["_started"]) if "_started" in at.session_state else set()


def test_a_compound_edit_starts_only_its_final_state(monkeypatch):
    # A wait far longer than the AppTest runs between the edits take on a busy machine.
    monkeypatch.setenv("NOISEALIGN_SETTLE_SECONDS", "30")
    at = no_exception(open_app(**TINY_ALIGN))  # auto-run on
    assert settle.WAITING_NOTE in captions(at)
    at.text_input(key="xs").set_value("10, 20").run()
    at.number_input(key="K").set_value(3).run()
    at.number_input(key="seed").set_value(2).run()
    no_exception(at)
    assert _started(at) == set(), "an intermediate state started a job"
    assert not at.get("progress")
    # The state the edits stopped at starts, once, when the wait is over.
    run_until(at, lambda a: len(_started(a)) == 1, timeout=180, what="the settled sweep")
    run_until(at, lambda a: "2 of 2 points cached" in captions(a), timeout=180,
              what="the sweep to finish")
    assert len(_started(at)) == 1
    assert at.text_input(key="xs").value == "10, 20" and at.number_input(key="K").value == 3


def test_run_starts_at_once_during_the_wait(monkeypatch):
    monkeypatch.setenv("NOISEALIGN_SETTLE_SECONDS", "30")
    at = no_exception(open_app(**TINY_ALIGN))
    assert _started(at) == set()
    at.button(key="run_btn").click().run()
    no_exception(at)
    assert len(_started(at)) == 1
