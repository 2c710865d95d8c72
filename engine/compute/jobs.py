"""Background jobs: runs and sweeps trained outside the caller's thread.

A :class:`JobManager` owns a small thread pool. Training releases the GIL inside torch,
so a web server (or a notebook) stays responsive while networks train. The manager:

- **joins identical work**: a second request for a spec (or sweep) that is already queued
  or running gets the same :class:`Job` back instead of training it again (the cache's
  single flight backs this up across processes);
- **bounds the queue**: when ``max_queued`` jobs are waiting, or a session already holds
  ``per_session_limit`` active jobs, ``submit_*`` raises :class:`BusyError` at once
  instead of hanging;
- **frees workers**: cancelled jobs, and (with ``abandon_after``) jobs whose every
  watching session stopped sending heartbeats, stop at the next epoch through the
  engine's ``cancel`` callback; a cancelled job that was still queued never starts.

Users see :attr:`Job.error` as one line (``"ValueError: n_train=..."``), never a
traceback; the traceback goes to the ``noisealign.engine.compute.jobs`` logger for the operator.

This module never imports streamlit.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import math
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..base.errors import Cancelled
from ..pipeline.spec import ExperimentSpec
from .job import (  # noqa: F401 -- re-exported: the jobs' API
    ACTIVE,
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    MAX_LOSS_SAMPLES,
    QUEUED,
    RUNNING,
    Job,
    JobView,
)

log = logging.getLogger(__name__)


# Seconds the interpreter waits at exit for running jobs to stop (they stop at their next
# epoch, or at the next block of the measures). Daemon threads still inside torch when
# the interpreter tears down abort the process ("terminate called without an active
# exception", exit status 134); cancelled first, they return cleanly.
EXIT_JOIN_SECONDS = 5.0
_MANAGERS: weakref.WeakSet[JobManager] = weakref.WeakSet()


def _stop_all_at_exit() -> None:
    managers = list(_MANAGERS)
    for m in managers:
        try:
            m.shutdown(cancel=True, wait=False)
        except Exception:  # noqa: BLE001, S110 -- never fail the interpreter's exit
            pass
    deadline = time.monotonic() + EXIT_JOIN_SECONDS
    for m in managers:
        for t in m._threads:
            t.join(max(0.0, deadline - time.monotonic()))


atexit.register(_stop_all_at_exit)


class BusyError(RuntimeError):
    """The manager cannot take more work now; the message says why (starts "busy:")."""


def _user_error(e: BaseException) -> str:
    """One line for users: the exception type and message, no traceback."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    name = type(e).__name__
    return f"{name}: {text}" if text else name


class JobManager:
    """Runs :class:`Job`s for many sessions on ``max_workers`` threads.

    ``cache`` is an :class:`noisealign.engine.store.cache.ResultCache` (anything with ``key``,
    ``get_or_compute``); runs go through ``cache.get_or_compute`` and sweeps through
    :func:`noisealign.engine.compute.sweep.run_sweep` with the serial executor inside the job's thread, so
    every finished point is cached as soon as it is done.

    ``max_queued``: jobs allowed to wait for a worker (beyond those running).
    ``per_session_limit``: active jobs one session may hold (submitted or joined).
    ``abandon_after``: seconds without a heartbeat (:meth:`touch`, or a submit) from every
    session watching a job, after which the job is cancelled; ``None`` never abandons.
    ``keep_finished``: finished jobs remembered for :meth:`get` (oldest forgotten first).
    ``admit``: called with every spec that would be trained (not those already cached)
    before a job is queued; it refuses a spec by raising ``ValueError`` (e.g.
    :func:`noisealign.engine.compute.guard.check`, whose message states the estimate and the limit).
    ``admit_sweep``: called with every sweep (and the cache) before it is queued, after
    ``admit`` passed each point; it refuses by raising ``ValueError`` (e.g.
    :func:`noisealign.engine.compute.guard.check_sweep`: the missing points' summed estimate against the
    per-sweep limit).
    ``estimate``: seconds a spec will take (e.g. ``noisealign.engine.compute.guard.estimate(spec).
    total_seconds``); with it, a job's time left blends these estimates with its
    measured progress (:mod:`noisealign.engine.compute.time_left`), else it extrapolates the progress alone.
    ``pool``: an :class:`noisealign.engine.compute.workers.WarmPool`; with it a sweep's missing points train
    on its warm worker processes (every core busy, no process start per point; what runs
    at once bounded by the memory guard), else one after another in the job's thread.
    """

    def __init__(self, cache: Any, *, max_workers: int = 1, max_queued: int = 8,
                 per_session_limit: int = 4, abandon_after: float | None = None,
                 keep_finished: int = 64,
                 admit: Callable[[ExperimentSpec], Any] | None = None,
                 admit_sweep: Callable[[Any, Any], Any] | None = None,
                 estimate: Callable[[ExperimentSpec], float] | None = None,
                 pool: Any = None) -> None:
        for name, value, lo in (("max_workers", max_workers, 1), ("max_queued", max_queued, 0),
                                ("per_session_limit", per_session_limit, 1),
                                ("keep_finished", keep_finished, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"{name}={value!r} is invalid: allowed an integer >= {lo}")
        if abandon_after is not None and not (isinstance(abandon_after, (int, float))
                                              and abandon_after > 0):
            raise ValueError(f"abandon_after={abandon_after!r} is invalid: allowed a positive "
                             "number of seconds or None")
        if admit is not None and not callable(admit):
            raise ValueError(f"admit={admit!r} is invalid: allowed a callable spec -> None "
                             "that raises ValueError to refuse, or None")
        if admit_sweep is not None and not callable(admit_sweep):
            raise ValueError(f"admit_sweep={admit_sweep!r} is invalid: allowed a callable "
                             "(sweep, cache) -> None that raises ValueError to refuse, or None")
        self.cache = cache
        self.admit = admit
        self.admit_sweep = admit_sweep
        self.estimate = estimate
        self.pool = pool
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.per_session_limit = per_session_limit
        self.abandon_after = abandon_after
        self.keep_finished = keep_finished
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}        # id -> job, insertion ordered
        self._active: dict[str, Job] = {}      # dedupe key -> queued/running job
        self._seen: dict[str, float] = {}      # session -> last heartbeat (monotonic)
        # (session, slot) -> (job id, fingerprint): the job a session shows in one of its
        # places (a dashboard page). Kept here, not in the UI's session state, so that
        # recording a new job and releasing the one it replaces is one step that a UI
        # rerun cannot cut in half (a cut left the old job running, out of sight).
        self._slots: dict[tuple[str, str], tuple[str, str]] = {}
        # Daemon threads (not a ThreadPoolExecutor, whose threads the interpreter joins
        # at exit): stopping the server must not wait for a long run to finish. A run
        # cut short at exit stores nothing (cache entries are written in one transaction).
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._threads = [threading.Thread(target=self._worker, daemon=True,
                                          name=f"noisealign-job-{i}")
                         for i in range(max_workers)]
        self._closed = False
        for t in self._threads:
            t.start()
        _MANAGERS.add(self)  # cancelled and joined briefly at interpreter exit

    # ------------------------------------------------------------------ submitting
    def submit_run(self, spec: ExperimentSpec, session_id: str) -> Job:
        """Train ``spec`` (or fetch it from the cache) in the background.

        Joins the active job for the same spec if there is one. Raises
        :class:`BusyError` when the queue or the session's quota is full.
        """
        if not isinstance(spec, ExperimentSpec):
            raise ValueError(  # noqa: TRY004 -- the engine's argument errors are ValueErrors
                f"spec must be an ExperimentSpec, got {type(spec).__name__}")
        self._admit([(spec, None)])
        key = "run:" + self.cache.key(spec)
        label = (f"{spec.dataset} n={spec.n_train} width={spec.width} K={spec.ensemble_size}")
        return self._submit(key, lambda: Job("run", key, label, spec=spec, n_total=1,
                                             manager=self), session_id)

    def submit_sweep(self, sweep: Any, session_id: str) -> Job:
        """Run every point of ``sweep`` (an :class:`noisealign.engine.compute.sweep.Sweep`) in one job;
        cached points come back at once, missing ones are trained one after another.
        ``job.points`` grows as they finish."""
        specs = list(sweep.specs())
        if not specs:
            raise ValueError("sweep has no points: give each axis at least one value")
        self._admit(list(zip(specs, sweep.points())))
        if self.admit_sweep is not None:
            self.admit_sweep(sweep, self.cache)
        axes = sorted(getattr(sweep, "axes", {}) or {})
        digest = hashlib.sha256(json.dumps(
            [axes, [self.cache.key(s) for s in specs]]).encode()).hexdigest()[:32]
        key = "sweep:" + digest
        label = f"sweep over {', '.join(axes) or 'points'} ({len(specs)} points)"
        return self._submit(key, lambda: Job("sweep", key, label, sweep=sweep,
                                             n_total=len(specs), manager=self), session_id)

    def _admit(self, items: list[tuple[ExperimentSpec, dict | None]]) -> None:
        """Ask ``admit`` about every spec that would be trained; cached ones cost nothing."""
        if self.admit is None:
            return
        for spec, values in items:
            if self.cache.has(spec):
                continue
            try:
                self.admit(spec)
            except ValueError as e:
                if values is None:
                    raise
                where = ", ".join(f"{k}={v!r}" for k, v in values.items())
                raise ValueError(f"sweep point {where}: {e}") from e

    def _submit(self, key: str, make: Callable[[], Job], session_id: str) -> Job:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session_id={session_id!r} is invalid: allowed a non-empty string")
        with self._lock:
            if self._closed:
                raise BusyError("busy: the job manager is shutting down")
            self._seen[session_id] = time.monotonic()
            job = self._active.get(key)
            if job is not None and job.status in ACTIVE and not job.cancel_requested:
                if session_id not in job.sessions:
                    self._check_quota(session_id)
                    job.sessions.add(session_id)
                return job
            self._check_quota(session_id)
            queued = sum(1 for j in self._active.values() if j.status == QUEUED)
            running = sum(1 for j in self._active.values() if j.status == RUNNING)
            # A job waits only if every worker is busy; only waiting jobs count as queued.
            if running + queued >= self.max_workers and queued >= self.max_queued:
                raise BusyError(f"busy: {queued} jobs queued, try again shortly")
            job = make()
            job.sessions.add(session_id)
            self._active[key] = job
            self._jobs[job.id] = job
            self._forget_old()
            self._queue.put(job)
            return job

    # ------------------------------------------------------------------ slots
    def assign(self, session_id: str, slot: str, job: Job, fingerprint: str = "") -> None:
        """Make ``job`` the one job of ``session_id``'s ``slot`` (say, a page), and release
        the job the slot held before (cancelled unless another session watches it)."""
        with self._lock:
            old_id, _ = self._slots.get((session_id, slot), (None, ""))
            self._slots[(session_id, slot)] = (job.id, fingerprint)
        if old_id is not None and old_id != job.id:
            old = self.get(old_id)
            if old is not None and old.status in ACTIVE:
                self.release(old, session_id)

    def slot(self, session_id: str, slot: str) -> tuple[Job | None, str]:
        """(job, fingerprint) of ``session_id``'s ``slot``; (None, "") when it holds none
        (or its job was released or forgotten)."""
        with self._lock:
            job_id, fingerprint = self._slots.get((session_id, slot), (None, ""))
            job = self._jobs.get(job_id) if job_id else None
        return (job, fingerprint) if job is not None else (None, "")

    def slots(self, session_id: str) -> dict[str, str]:
        """job id -> slot name, for the slots of ``session_id``."""
        with self._lock:
            return {job_id: slot for (sid, slot), (job_id, _) in self._slots.items()
                    if sid == session_id}

    def _check_quota(self, session_id: str) -> None:
        mine = sum(1 for j in self._active.values()
                   if session_id in j.sessions and j.status in ACTIVE)
        if mine >= self.per_session_limit:
            raise BusyError(f"busy: this session already has {mine} jobs running or queued "
                            f"(limit {self.per_session_limit}); wait for one or cancel it")

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.done]
        for j in finished[:max(0, len(finished) - self.keep_finished)]:
            del self._jobs[j.id]
        for where, (job_id, _) in list(self._slots.items()):
            if job_id not in self._jobs:
                del self._slots[where]

    # ------------------------------------------------------------------ sessions
    def touch(self, session_id: str) -> None:
        """Heartbeat: ``session_id`` is still watching its jobs."""
        with self._lock:
            self._seen[session_id] = time.monotonic()

    def release(self, job: Job | str, session_id: str) -> bool:
        """``session_id`` stops watching ``job``; the job is cancelled when nobody else
        watches it. Returns True if the job was cancelled."""
        found = self.get(job) if isinstance(job, str) else job
        if found is None:
            return False
        with self._lock:
            found.sessions.discard(session_id)
            for where, (job_id, _) in list(self._slots.items()):
                if where[0] == session_id and job_id == found.id:
                    del self._slots[where]  # a released job is no longer the slot's
            if found.sessions or found.done:
                return False
        found.cancel()
        return True

    def _abandoned(self, job: Job) -> bool:
        if self.abandon_after is None:
            return False
        now = time.monotonic()
        with self._lock:
            return all(now - self._seen.get(s, -math.inf) > self.abandon_after
                       for s in job.sessions)

    # ------------------------------------------------------------------ lookup
    def get(self, job_id: str | None) -> Job | None:
        if not job_id:
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, session_id: str | None = None, *, active_only: bool = False) -> list[Job]:
        with self._lock:
            out = list(self._jobs.values())
        if session_id is not None:
            out = [j for j in out if session_id in j.sessions]
        if active_only:
            out = [j for j in out if j.status in ACTIVE]
        return out

    def stats(self) -> dict[str, int]:
        """Counts of queued and running jobs, and the worker count. ``stopping`` counts
        the running jobs that were cancelled and have not yet stopped (they still hold a
        worker; they are among ``running``)."""
        with self._lock:
            active = list(self._active.values())
        running = [j for j in active if j.status == RUNNING]
        return {"queued": sum(j.status == QUEUED for j in active),
                "running": len(running),
                "stopping": sum(j.cancel_requested for j in running),
                "workers": self.max_workers}

    def shutdown(self, *, cancel: bool = True, wait: bool = True) -> None:
        """Stop taking work; with ``cancel`` stop the running jobs too."""
        with self._lock:
            self._closed = True
            jobs = list(self._active.values())
        if cancel:
            for j in jobs:
                j.cancel()
        for _ in self._threads:
            self._queue.put(None)  # after the queued jobs: each worker stops on one
        if wait:
            for t in self._threads:
                t.join()

    def _worker(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._execute(job)

    # ------------------------------------------------------------------ execution
    def _execute(self, job: Job) -> None:
        try:
            if self._abandoned(job):
                job.abandon()
            if not job.start():
                return  # cancelled or abandoned while queued

            def cancel() -> bool:
                if job.cancel_requested:
                    return True
                if self._abandoned(job):
                    job.abandon()
                    return True
                return False

            # The scope lets the steps without a cancel callback (data generation, the
            # summary's measures in the cache's put) stop within a second too.
            from ..base.cancel import cancel_scope
            with cancel_scope(cancel):
                if job.kind == "run":
                    self._execute_run(job, cancel)
                else:
                    self._execute_sweep(job, cancel)
            job.finish(CANCELLED if job.cancel_requested else DONE)
        except Cancelled:
            job.finish(CANCELLED)
        except Exception as e:
            log.exception("job %s (%s) failed", job.id, job.label)
            job.finish(FAILED, error=_user_error(e))
        finally:
            with self._lock:
                key = job.key
                if self._active.get(key) is job:
                    del self._active[key]
            # Defensive (a no-op when it ended above): never leave a waiter hanging.
            job.finish(FAILED, error="the job ended without a result")

    def _plan(self, job: Job, specs: list[ExperimentSpec]) -> None:
        """Give ``job`` the guard's estimates of its points still to train."""
        if self.estimate is None:
            return
        try:
            job.plan({self.cache.key(s): float(self.estimate(s)) for s in specs
                      if not self.cache.has(s)})
        except Exception:
            log.warning("no time estimate for job %s", job.id, exc_info=True)

    def _execute_run(self, job: Job, cancel: Callable[[], bool]) -> None:
        def progress(epoch: int, max_epochs: int, *rest: Any) -> None:
            if rest:  # the members' training losses (noisealign.engine.pipeline.train's progress)
                job.record_losses(epoch, rest[0])
            job.within_point(epoch / max(1, max_epochs))
            job.report(epoch / max(1, max_epochs), f"epoch {epoch} of at most {max_epochs}")

        job.report(message="looking in the cache")
        assert job.spec is not None  # a run job always carries its spec (submit_run)
        self._plan(job, [job.spec])
        job.begin_training()
        job.set_result(self.cache.get_or_compute(job.spec, progress=progress, cancel=cancel))

    def _execute_sweep(self, job: Job, cancel: Callable[[], bool]) -> None:
        # The sweep module's serial executor, in this thread: cached points come first
        # and at once; each missing point is trained under the cache's lock, so a point
        # that another job (or process) is training is waited for, not trained twice.
        from .sweep import run_sweep

        total = job.n_total
        started = {"training": False}
        self._plan(job, list(job.sweep.specs()))

        def epoch_progress(done: int, epoch: int, max_epochs: int) -> None:
            if not started["training"]:
                started["training"] = True
                job.begin_training()
            job.within_point(epoch / max(1, max_epochs))
            job.report((done + epoch / max(1, max_epochs)) / total,
                       f"point {done + 1} of {total}, epoch {epoch}")

        def running_progress(done: int, fractions: list[float]) -> None:
            if fractions and not started["training"]:
                started["training"] = True
                job.begin_training()
            if fractions:
                job.within_point(max(fractions))
            job.report((done + sum(fractions)) / total,
                       f"{done} of {total} points, {len(fractions)} training")

        # The sweep guard ran when the job was admitted (admit_sweep), with the numbers.
        if self.pool is not None:
            points = run_sweep(job.sweep, self.cache, executor="local", pool=self.pool,
                               cancel=cancel, running_progress=running_progress,
                               max_sweep_seconds=math.inf)
        else:
            points = run_sweep(job.sweep, self.cache, executor="serial", cancel=cancel,
                               epoch_progress=epoch_progress, max_sweep_seconds=math.inf)
        for point in points:
            job.add_point(point)
