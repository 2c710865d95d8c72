"""Running the pipeline at scale, from outside it:

- ``sweep``: :func:`run_sweep` (serial, process pool, Dask); ``grid``: :class:`Sweep`
  grids and their points; ``executors``: the processes that compute them.
- ``workers``: warm local worker processes kept for a server's sweep jobs.
- ``jobs``: the dashboard's background jobs (:class:`JobManager`); ``job``: one :class:`Job`.
- ``guard``: the resource guard, memory and time of a run estimated before it starts;
  ``calibration``: the rates it divides by; ``machine``: the memory this machine has.
- ``time_left``: a running job's time left, the guard's estimate corrected by progress.
- ``export``: sweep results as a table, CSV or strict JSON.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "Sweep": "grid", "SweepPoint": "grid", "SweepError": "grid", "run_sweep": "sweep",
    "JobManager": "jobs", "WarmPool": "workers", "ResourceLimitError": "guard", "estimate": "guard",
    "TimeLeft": "time_left", "sweep_table": "export",
})
