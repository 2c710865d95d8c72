"""Exceptions shared across the pipeline, in a module that imports nothing heavy.

The job manager, the cache and the sweep driver catch :class:`Cancelled` without
loading torch; training raises it.
"""

from __future__ import annotations


class Cancelled(RuntimeError):
    """Raised when the cancellation flag is set; nothing partial is returned."""


class SchedulerUnreachable(ConnectionError):
    """A Dask scheduler address did not answer in time; the message names the address."""


class SpecError(ValueError):
    """A value a field does not allow, as data: ``field``, ``value`` and ``allowed``.

    Still a ``ValueError`` with the one-line message every caller printed before
    (``"n_train=1 is invalid: allowed an integer in [2, 10000000]"``), so nothing that
    catches ``ValueError`` changes; the dashboard places the message next to the control
    of ``field`` (``noisealign.ui.page_support.ErrorSlots``) without reading the text. ``param``: the
    dataset parameter, for ``field == "dataset_params"``.
    """

    def __init__(self, field: str, value: object, allowed: str, message: str | None = None,
                 *, param: str | None = None) -> None:
        self.field, self.value, self.allowed, self.param = field, value, allowed, param
        super().__init__(message if message is not None
                         else f"{field}={value!r} is invalid: allowed {allowed}")

    def __reduce__(self):  # type: ignore[override]  # keep the fields across processes
        return (type(self), (self.field, self.value, self.allowed, str(self)),
                {"param": self.param})
