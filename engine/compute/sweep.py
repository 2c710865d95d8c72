"""Sweeps: a base spec and one or two axes, computed in parallel, only what is missing.

A :class:`Sweep` builds and validates every spec of its grid up front, so a bad axis
fails before anything runs. :func:`run_sweep` yields a :class:`SweepPoint` per grid point
as it finishes: cached points first (instantly), then computed ones in the order they
complete. Executors:

- ``"local"`` (default): a process pool on this machine, one worker per core, each
  worker's torch limited to ``cores // workers`` threads so they do not fight;
- ``"dask"``: Dask distributed, a ``LocalCluster`` started here or an existing scheduler
  (``scheduler="tcp://host:8786"``, or a ``distributed.Client``); the ``engine``
  package must be importable on the workers;
- ``"serial"``: in this process, one point at a time (debugging, tiny sweeps).

Workers return serialised results (``Result.to_bytes``: JSON and ``.npz`` bytes) and
their summary (computed in the worker); only the driver writes the cache (a SQLite
cache must never be shared over a network file system). Before a point is submitted
the driver takes its computation lock without waiting: a point that another session or
sweep is computing right now is not computed twice but loaded once it is stored.

Cancellation reaches running points too: local workers poll a flag file, Dask workers a
``distributed.Event`` (at most once a second), and stop at their next epoch. Workers
also stop when their driver dies by any signal: local ones watch the driver's process,
Dask ones a lease the driver renews on the scheduler every second (``LEASE_SECONDS``).

This module is the driver: :func:`run_sweep` checks its arguments, yields the cached
points, then hands the missing ones to an executor. The grid itself is in
:mod:`noisealign.engine.compute.grid`, the executors' processes in
:mod:`noisealign.engine.compute.executors`; their public names are importable from here too.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..store.cache import ResultCache, default_summarise, json_default
from .executors import (
    LEASE_BEAT_SECONDS,
    LEASE_SECONDS,
    RUNNING_PROGRESS_SECONDS,
    SCHEDULER_CONNECT_SECONDS,
    WATCH_SECONDS,
    _compute_point,
    _Driver,
    _picklable,
    _run_dask,
    _run_local,
)
from .grid import (
    MAX_AXES,
    MAX_POINTS,
    MAX_REPLICATES,
    PARAM_PREFIX,
    REPLICATE,
    Sweep,
    SweepError,
    SweepPoint,
    SweepProgress,
    parse_shard,
    replicate_seed,
    shard_indices,
)

__all__ = [
    "EXECUTORS", "LEASE_BEAT_SECONDS", "LEASE_SECONDS", "MAX_AXES", "MAX_POINTS",
    "MAX_REPLICATES", "PARAM_PREFIX", "REPLICATE", "RUNNING_PROGRESS_SECONDS",
    "SCHEDULER_CONNECT_SECONDS", "WATCH_SECONDS", "Sweep", "SweepError", "SweepPoint",
    "SweepProgress", "parse_shard", "replicate_seed", "run_sweep", "shard_indices",
]

EXECUTORS = ("local", "serial", "dask")


def run_sweep(sweep: Sweep, cache: ResultCache, *, executor: str = "local",
              workers: int | None = None, scheduler: Any = None,
              progress: Callable[[SweepProgress], None] | None = None,
              cancel: Callable[[], bool] | None = None,
              threads_per_worker: int | None = None,
              epoch_progress: Callable[[int, int, int], None] | None = None,
              max_sweep_seconds: float | None = None,
              pool: Any = None,
              running_progress: Callable[[int, list[float]], None] | None = None,
              shard: tuple[int, int] | None = None
              ) -> Iterator[SweepPoint]:
    """Compute a sweep, yielding each point as it finishes (cached points first).

    ``shard=(i, n)``: only the i-th of n disjoint slices of the grid (points whose
    index in ``sweep.specs()`` is i modulo n, 0 <= i < n): n array tasks on one shared
    cache compute every point once, and the whole sweep run afterwards loads them all
    (:func:`shard_indices`).

    ``workers``: processes (local; default one per core) or Dask workers of a new
    ``LocalCluster`` (default one per core); ignored for an existing scheduler.
    ``threads_per_worker``: torch threads per point (default ``cores // workers``;
    1 on an existing scheduler). ``progress(SweepProgress)`` is called at the start and
    after every point. ``cancel()`` is polled about every 0.1 s: when it returns True
    nothing more is submitted, pending points are cancelled, running ones stop at their
    next epoch, and the iterator ends. Closing the iterator early does the same.
    ``epoch_progress(done, epoch, max_epochs)`` (serial executor only, where training
    runs in the caller's process) is called every epoch of the point being trained, with
    ``done`` the points finished before it: a job can show progress within a point.
    A failed point raises :class:`SweepError` after the others are stopped.

    ``pool`` (local executor only): an :class:`noisealign.engine.compute.workers.WarmPool` whose processes
    run the points and stay up after the sweep (no process start per sweep); at most
    :func:`noisealign.engine.compute.guard.concurrent_points` points are in flight, so what runs at once
    fits the memory guard. ``running_progress(done, fractions)`` (local executor) is
    called about once a second with the points finished and the epoch fraction of each
    point being trained.

    The sweep guard: the summed estimate of the missing points
    (:func:`noisealign.engine.compute.guard.check_sweep`) must stay within ``max_sweep_seconds`` (default
    ``$NOISEALIGN_MAX_SWEEP_SECONDS``, else 4 h), else :class:`noisealign.engine.compute.guard.
    ResourceLimitError` (a ``ValueError`` stating the estimate and the limit) is raised
    here, before anything runs; ``max_sweep_seconds=math.inf`` skips the check.

    Arguments are checked when this is called, before anything runs. As with any
    process pool, a script that runs a local sweep must guard its entry point with
    ``if __name__ == "__main__":`` (worker processes import the main module).
    """
    if not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be a Sweep, got {type(sweep).__name__}")  # noqa: TRY004
    if not isinstance(cache, ResultCache):
        raise ValueError(  # noqa: TRY004 -- as every argument error here
            f"cache must be a ResultCache, got {type(cache).__name__}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is invalid: allowed one of "
                         + ", ".join(repr(e) for e in EXECUTORS))
    cores = os.cpu_count() or 1
    for name, v in (("workers", workers), ("threads_per_worker", threads_per_worker)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096):
            raise ValueError(f"{name}={v!r} is invalid: allowed an integer in [1, 4096] or None")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler={scheduler!r} is only used with executor='dask', not "
                         f"{executor!r}")
    if pool is not None and executor != "local":
        raise ValueError(f"pool is only used with executor='local', not {executor!r}")
    if running_progress is not None and executor != "local":
        raise ValueError("running_progress is only used with executor='local', not "
                         f"{executor!r}")
    if epoch_progress is not None and executor != "serial":
        raise ValueError("epoch_progress is only used with executor='serial' (other "
                         f"executors train in other processes), not {executor!r}")
    indices = shard_indices(len(sweep), shard)
    if max_sweep_seconds is None or max_sweep_seconds != math.inf:
        from .guard import check_sweep
        check_sweep(sweep, cache, max_sweep_seconds=max_sweep_seconds)
    return _sweep_points(sweep, cache, executor, workers, scheduler, progress, cancel,
                         threads_per_worker, cores, epoch_progress, pool, running_progress,
                         indices)


class _Run:
    """What the driver of one sweep keeps: the specs and points, the cache, how many
    points are done (and computed, since when), and the ``progress`` reports."""

    def __init__(self, sweep: Sweep, cache: ResultCache,
                 progress: Callable[[SweepProgress], None] | None, total: int) -> None:
        self.specs, self.points = sweep.specs(), sweep.points()
        self.cache, self.progress, self.total = cache, progress, total
        self.t0 = time.perf_counter()
        self.done = 0
        self.computed = 0
        self.t_compute: float | None = None

    def report(self) -> None:
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.t0
        remaining = None
        if self.computed and self.t_compute is not None:
            rate = (time.perf_counter() - self.t_compute) / self.computed
            remaining = rate * (self.total - self.done)
        elif self.done == self.total:
            remaining = 0.0
        self.progress(SweepProgress(self.done, self.total, elapsed, remaining))

    def cached(self, i: int) -> SweepPoint | None:
        t = time.perf_counter()
        spec, cache = self.specs[i], self.cache
        summary = cache.get_summary(spec) if cache.has(spec) else None
        if summary is None:
            return None
        self.done += 1
        self.report()
        return SweepPoint(spec, self.points[i], summary, True, time.perf_counter() - t,
                          cache.key(spec))

    def finish(self, i: int, payload: tuple) -> SweepPoint:
        meta, npz, summary, seconds = payload
        spec, cache = self.specs[i], self.cache
        if summary is None:
            from ..pipeline.result import Result
            summary = cache.summary_of(Result.from_bytes(meta, npz))
        else:
            summary = json.loads(json.dumps(summary, default=json_default))
        cache.put_serialised(spec, meta, npz, summary)
        self.done += 1
        self.computed += 1
        self.report()
        return SweepPoint(spec, self.points[i], summary, False, seconds, cache.key(spec))

    def failed(self, i: int, e: BaseException) -> SweepError:
        points = self.points
        if isinstance(e, BrokenProcessPool):
            # The pool's own message ("terminated abruptly") says neither why nor what next.
            return SweepError(f"sweep point {points[i]} failed: its worker process died "
                              "(killed, or out of memory); the points finished before it "
                              "are cached: run the sweep again to resume")
        return SweepError(f"sweep point {points[i]} failed: {type(e).__name__}: {e}")


def _sweep_points(sweep: Sweep, cache: ResultCache, executor: str, workers: int | None,
                  scheduler: Any, progress: Callable[[SweepProgress], None] | None,
                  cancel: Callable[[], bool] | None, threads_per_worker: int | None,
                  cores: int, epoch_progress: Callable[[int, int, int], None] | None = None,
                  pool: Any = None,
                  running_progress: Callable[[int, list[float]], None] | None = None,
                  indices: Sequence[int] | None = None) -> Iterator[SweepPoint]:
    indices = range(len(sweep)) if indices is None else indices
    run = _Run(sweep, cache, progress, len(indices))
    run.report()
    todo = yield from _cached_points(run, indices, cancel)
    if not todo:
        return
    run.t_compute = time.perf_counter()
    summarise = cache.summarise
    if summarise is default_summarise or _picklable(summarise):
        remote_summarise: Callable | None = summarise
    else:
        remote_summarise = None  # a lambda, say: the driver summarises instead
    # Workers send representations when the cache keeps them, or when the driver must
    # summarise (summaries need them); put_serialised drops what the cache does not keep.
    reps = cache.store_representations or remote_summarise is None
    if executor == "serial":
        yield from _run_serial(run, todo, reps, cancel, epoch_progress)
        return
    drive = _Driver(run.specs, todo, cache, cancel, run.cached, run.finish, run.failed)
    if executor == "local":
        n_workers = pool.workers if pool is not None else (workers or cores)
        threads = threads_per_worker or max(1, cores // n_workers)
        on_running = None
        if running_progress is not None:
            def on_running(fractions: list[float]) -> None:
                running_progress(run.done, fractions)
        yield from _run_local(drive, reps, remote_summarise, n_workers, threads, pool,
                              on_running)
    else:
        yield from _run_dask(drive, reps, remote_summarise, workers, scheduler,
                             threads_per_worker, cores)


def _cached_points(run: _Run, indices: Sequence[int],
                   cancel: Callable[[], bool] | None
                   ) -> Generator[SweepPoint, None, list[int] | None]:
    """Yield the points the cache has; return the indices still to compute (None when
    cancelled: nothing more runs)."""
    todo: list[int] = []
    for i in indices:
        if cancel is not None and cancel():
            return None
        point = run.cached(i)
        if point is None:
            todo.append(i)
        else:
            yield point
    return todo


def _run_serial(run: _Run, todo: list[int], reps: bool, cancel: Callable[[], bool] | None,
                epoch_progress: Callable[[int, int, int], None] | None
                ) -> Iterator[SweepPoint]:
    """The serial executor: every missing point in this process, one at a time."""
    from ..base.errors import Cancelled
    specs, cache = run.specs, run.cache
    for i in todo:
        if cancel is not None and cancel():
            return
        try:
            # Waits while another process or thread computes the same spec.
            with cache.lock(specs[i], cancel=cancel):
                point = run.cached(i)
                if point is None:  # in this process: any summarise will do
                    on_epoch = None
                    if epoch_progress is not None:
                        def on_epoch(epoch: int, max_epochs: int, *_: Any,
                                     _done: int = run.done) -> None:
                            epoch_progress(_done, epoch, max_epochs)
                    point = run.finish(i, _compute_point(specs[i].to_json(), reps,
                                                         cache.summarise, cancel, on_epoch))
        except Cancelled:
            return
        except Exception as e:
            raise run.failed(i, e) from e
        yield point
