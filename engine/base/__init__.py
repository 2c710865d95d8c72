"""What every layer of the engine needs and nothing heavy: exceptions (``errors``), the
cancellation flag of the running work (``cancel``), the parameter-checking helpers
(``validation``), where files live (``paths``), mean +- standard error (``stats``), how
bytes and durations read (``units``) and lazy package exports (``lazy``).

Nothing here imports torch or another engine subpackage (``stats`` needs numpy).
"""

from .lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "Cancelled": "errors", "SchedulerUnreachable": "errors",
    "cancel_scope": "cancel", "check_cancelled": "cancel",
    "checkout_root": "paths", "default_cache_root": "paths", "default_data_root": "paths",
})
