"""Values that a callback sets on another widget, kept against the browser's stale copy.

An ``on_change`` callback that sets another widget (choosing a Series fills in its
values) changes the value on the server only; the browser learns it when the run that
follows draws that widget. A request the browser sent in between (a second click, the
job panel's once-a-second poll) still carries the widget's *old* value, and Streamlit
takes it as the user's edit: the server's value falls back to the old one while the box
shows the new one. Seen in the alignment explorer (issue 17): type x values, press
Enter, choose a Series within a second, and the page said "Series values: '' is
invalid" while the box read "0, 10, 20"; the page then stopped before its job panel,
so the sweep ran on out of sight.

:func:`set_value` (in the callback) sets the value and remembers the one it replaced;
:func:`keep` (the target widget's ``on_change``) puts the set value back when a request
reports exactly the replaced value within :data:`PIN_SECONDS`. Any other edit is the
user's and ends the guard.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import streamlit as st

# How long after a set a report of the replaced value counts as stale. Stale requests
# are those sent before the browser drew the new value, processed after the run that
# set it (up to tens of seconds on a busy machine).
PIN_SECONDS = 60.0
_PINS = "_widget_pins"


def pin(state: MutableMapping[str, Any], key: str, value: Any, *,
        now: float | None = None) -> None:
    """Set ``state[key] = value`` and remember the value it replaced (pure: testable
    with a dict)."""
    old = state.get(key)
    state[key] = value
    pins = state.setdefault(_PINS, {})
    if old != value:
        pins[key] = (value, old, time.monotonic() if now is None else now)
    else:
        pins.pop(key, None)


def restore(state: MutableMapping[str, Any], key: str, *, now: float | None = None) -> bool:
    """After ``state[key]`` changed by a request: put the pinned value back if the
    request reported the replaced (stale) value in time; True if it did."""
    pins = state.get(_PINS) or {}
    entry = pins.pop(key, None)
    if entry is None:
        return False
    value, stale, at = entry
    now = time.monotonic() if now is None else now
    if state.get(key) == stale and now - at <= PIN_SECONDS:
        state[key] = value
        pins[key] = entry  # another stale request may follow
        return True
    return False


def set_value(key: str, value: Any) -> None:
    """For an ``on_change`` callback: set widget ``key`` to ``value`` (see module doc)."""
    pin(st.session_state, key, value)


def keep(key: str) -> None:
    """``on_change`` of widget ``key``: undo a stale report of the value it had before a
    :func:`set_value`."""
    restore(st.session_state, key)
