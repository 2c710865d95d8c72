"""The cancellation flag of the work running in this thread, for code deep in a call.

:func:`engine.run_experiment` polls its ``cancel`` callback every epoch; the steps
around training (data generation, the measures of a summary) take no callback, yet can
run for minutes on a large probe set. The job manager, the sweep workers and
``run_experiment`` itself open a :func:`cancel_scope` with their callback; long loops
(the measures' blocks of rows, the intrinsic dimension per member) call
:func:`check_cancelled`, which raises :class:`noisealign.engine.base.errors.Cancelled` once the
callback says so. Outside any scope it does nothing. Polls are rate-limited (at most
every 0.1 s per scope) so a tight loop does not pay for them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Callable, Iterator

from .errors import Cancelled

_LOCAL = threading.local()
_MIN_INTERVAL = 0.1


class _Scope:
    __slots__ = ("cancel", "last", "fired")

    def __init__(self, cancel: Callable[[], bool]) -> None:
        self.cancel = cancel
        self.last = 0.0
        self.fired = False


@contextlib.contextmanager
def cancel_scope(cancel: Callable[[], bool] | None) -> Iterator[None]:
    """Make ``cancel`` the flag :func:`check_cancelled` polls in this thread (nested
    scopes stack; ``None`` adds nothing)."""
    if cancel is None:
        yield
        return
    stack = getattr(_LOCAL, "stack", None)
    if stack is None:
        stack = _LOCAL.stack = []
    stack.append(_Scope(cancel))
    try:
        yield
    finally:
        stack.pop()


def check_cancelled(what: str = "") -> None:
    """Raise :class:`Cancelled` if a scope of this thread has been cancelled."""
    stack = getattr(_LOCAL, "stack", None)
    if not stack:
        return
    now = time.monotonic()
    for scope in stack:
        if scope.fired:
            raise Cancelled(f"cancelled{' during ' + what if what else ''}")
        if now - scope.last < _MIN_INTERVAL:
            continue
        scope.last = now
        if scope.cancel():
            scope.fired = True
            raise Cancelled(f"cancelled{' during ' + what if what else ''}")
