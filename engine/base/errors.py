"""Exceptions shared across the pipeline, in a module that imports nothing heavy.

The job manager, the cache and the sweep driver catch :class:`Cancelled` without
loading torch; training raises it.
"""

from __future__ import annotations


class Cancelled(RuntimeError):
    """Raised when the cancellation flag is set; nothing partial is returned."""


class SchedulerUnreachable(ConnectionError):
    """A Dask scheduler address did not answer in time; the message names the address."""
