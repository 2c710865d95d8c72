"""Warm local workers: one process pool kept alive for a server's sweep jobs.

A sweep's points used to run one after another in the job's thread (one core), and a
process pool started per sweep pays a process start and the engine's imports (seconds)
before its first point. A :class:`WarmPool` is started once (by the dashboard, at its
first page) and shared by every job: its processes fork from a fork server that has
imported the engine already, are started at once (:meth:`WarmPool.warm`), and stay up
between jobs, so a point never waits for a process to start.

Its size is ``$NOISEALIGN_WORKERS`` (default: the machine's cores, :func:`default_workers`);
each worker trains on ``cores // workers`` torch threads (one on the project's 2-core
machine), so workers never fight over cores. What runs at once is further bounded by
the memory guard (:func:`noisealign.engine.compute.guard.concurrent_points`). Workers end with their driver, however it
dies (:func:`noisealign.engine.compute.executors._watch_driver`), and a pool whose worker died (killed, out of
memory) is replaced at the next use.

This module never imports streamlit.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator

ENV_VAR = "NOISEALIGN_WORKERS"
MAX_WORKERS = 256


def default_workers() -> int:
    """``$NOISEALIGN_WORKERS`` if it is an integer in [1, MAX_WORKERS], else the
    machine's cores (``os.cpu_count()``)."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if 1 <= n <= MAX_WORKERS:
            return n
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


@contextlib.contextmanager
def _plain_main() -> Iterator[None]:
    """While worker processes start, ``__main__`` is this module.

    multiprocessing makes each new process import the parent's ``__main__`` again (as
    ``__mp_main__``). Under ``streamlit run`` (and Streamlit's AppTest) ``__main__`` is
    the app's script, so every worker would run the whole dashboard page before its first
    point. Standing in for it, this module is what they import: nothing runs. Restored
    afterwards unless someone else (a Streamlit script run) replaced it meanwhile.
    """
    import sys
    import types
    real = sys.modules.get("__main__")
    stand_in = types.ModuleType("__main__")
    stand_in.__spec__ = importlib.util.find_spec(__name__)
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("__main__") is stand_in and real is not None:
            sys.modules["__main__"] = real


def _warm_task() -> int:
    """Runs in a worker: import what a point needs, so the first point pays nothing."""
    import noisealign.engine.pipeline.run  # noqa: F401 -- the fork server has it; spawn does not
    return os.getpid()


class WarmPool:
    """A process pool for sweep points, started once and kept warm.

    ``workers``: processes (default :func:`default_workers`); ``threads``: torch threads
    per worker (default ``cores // workers``). :meth:`executor` gives the live
    ``ProcessPoolExecutor`` (a new one if the last one broke); :func:`noisealign.engine.compute.sweep.
    run_sweep` takes the pool as ``pool=`` and leaves it running after the sweep.
    """

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        for name, v in (("workers", workers), ("threads", threads)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                                  or not 1 <= v <= MAX_WORKERS):
                raise ValueError(f"{name}={v!r} is invalid: allowed an integer in "
                                 f"[1, {MAX_WORKERS}] or None")
        self.workers = workers or default_workers()
        self.threads = threads or max(1, (os.cpu_count() or 1) // self.workers)
        self._lock = threading.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._warming: list[cf.Future] = []
        self._closed = False

    def executor(self) -> cf.ProcessPoolExecutor:
        """The running pool (started on first use, replaced if a worker died)."""
        from .executors import _init_worker, _mp_context, _process_start
        with self._lock:
            if self._closed:
                raise RuntimeError("the warm pool is closed")
            pool = self._pool
            if pool is None or getattr(pool, "_broken", False) or getattr(
                    pool, "_shutdown_thread", False):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                pid = os.getpid()
                pool = cf.ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=_mp_context(),
                    initializer=_init_worker,
                    initargs=(self.threads, (pid, _process_start(pid))))
                # The first submit starts every process (forkserver/spawn pools start
                # them all at once): here, with a plain __main__ (_plain_main).
                with _plain_main():
                    self._warming = [pool.submit(_warm_task) for _ in range(self.workers)]
                self._pool = pool
            return pool

    def warm(self, wait: bool = False) -> list[int]:
        """Start every worker now (not at the first point); with ``wait``, until they
        have imported the engine, returning their pids."""
        self.executor()
        if not wait:
            return []
        return sorted({f.result() for f in self._warming})

    def pids(self) -> list[int]:
        """The worker processes' ids (empty before they started)."""
        with self._lock:
            procs = getattr(self._pool, "_processes", None) or {}
            return sorted(procs)

    def close(self, wait: bool = True) -> None:
        """Stop the workers (queued points are dropped)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)

    def __repr__(self) -> str:
        return f"WarmPool(workers={self.workers}, threads={self.threads})"


_SHARED: WarmPool | None = None
_SHARED_LOCK = threading.Lock()


def shared_pool() -> WarmPool:
    """The process's one warm pool (:func:`default_workers` processes), started on the
    first call: every job manager of a server (one per cache directory) shares it, so
    the cores are divided once, not once per manager."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = WarmPool()
            _SHARED.warm()
        return _SHARED

