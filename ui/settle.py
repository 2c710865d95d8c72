"""Auto-run starts only from settled controls (issue 28, item 3).

A compound edit passes through intermediate states: choosing digits, then the x axis,
then the x values is three reruns, and auto-run started a real 18-point sweep on the
first, for a view nobody asked for (the sidebar then listed it as "another page"'s
job). Auto-run now waits until the controls' fingerprint (the work they describe) has
stayed the same for :func:`settle_seconds` (``$NOISEALIGN_SETTLE_SECONDS``, default 1.5
s): every edit within that time restarts the wait, so only the state the user stops at
is computed. **Run** starts at once, whatever the wait.

While it waits the page shows one line ("Auto-run starts in a moment...") and a small
fragment reruns the page once the wait is over (a fragment's timer, since nothing else
would rerun an idle page).
"""

from __future__ import annotations

import os
import time
from collections.abc import MutableMapping

import streamlit as st

DEFAULT_SETTLE_SECONDS = 1.5
_KEY = "_settle"
WAITING_NOTE = "Auto-run starts in a moment, once the settings stop changing."


def settle_seconds() -> float:
    """How long the controls must stay unchanged before auto-run starts (0 to 30 s)."""
    try:
        value = float(os.environ.get("NOISEALIGN_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS))
    except ValueError:
        return DEFAULT_SETTLE_SECONDS
    return min(30.0, max(0.0, value))


def remaining(memo: MutableMapping, page: str, fingerprint: str, now: float,
              wait: float) -> float:
    """Seconds still to wait before ``fingerprint`` counts as settled on ``page`` (0 when
    it does). A fingerprint other than the last one seen there restarts the wait (pure:
    testable with a dict and a clock)."""
    seen = memo.get(page)
    if seen is None or seen[0] != fingerprint:
        memo[page] = (fingerprint, now)
        return wait
    return max(0.0, wait - (now - seen[1]))


def ready(page: str, fingerprint: str) -> bool:
    """Whether auto-run may start ``fingerprint``'s work on ``page`` now. If not, say so
    and rerun the page when the wait is over (see module doc)."""
    wait = settle_seconds()
    left = remaining(st.session_state.setdefault(_KEY, {}), page, fingerprint,
                     time.monotonic(), wait)
    if left <= 0:
        return True

    def _tick() -> None:
        memo = st.session_state.get(_KEY, {})
        if memo.get(page, (None,))[0] != fingerprint:
            return  # the page moved on: its own run decides
        if remaining(memo, page, fingerprint, time.monotonic(), wait) <= 0:
            st.rerun(scope="app")
        st.caption(WAITING_NOTE)

    # Ticks a little after the wait ends; a newer edit replaces this fragment.
    st.fragment(run_every=max(0.25, left + 0.1))(_tick)()
    return False
