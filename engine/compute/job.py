"""One background job: a :class:`Job` (a run or a sweep), its status, progress and time left,
and :class:`JobView`, the consistent snapshot a page displays.

Apart from :mod:`noisealign.engine.compute.jobs`, whose :class:`JobManager` queues, joins
and executes them: a job is the thread-safe record both sides share (the manager's
worker writes it, pages read it), and reading one should not mean reading the queue.
The manager's module re-exports these names.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from ..pipeline.spec import ExperimentSpec

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)

MAX_LOSS_SAMPLES = 2000  # loss samples a run's job keeps for its live view


@dataclass(frozen=True)
class JobView:
    """A consistent snapshot of a job, for display.

    ``progress`` is a fraction in [0, 1]; ``eta`` the estimated seconds left (NaN when
    unknown); ``n_points`` / ``n_total`` count sweep points (1 / 1 for a run).
    """

    id: str
    kind: str
    label: str
    status: str
    progress: float
    message: str
    elapsed: float
    eta: float
    n_points: int
    n_total: int
    error: str | None
    n_sessions: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


class Job:
    """One run or sweep. Thread-safe; read it through :meth:`view` or the properties.

    ``result`` is the :class:`engine.Result` of a finished run; ``points`` the
    :class:`noisealign.engine.compute.sweep.SweepPoint` list of a sweep, growing while it runs (partial
    results). ``spec`` / ``sweep`` say what it computes.
    """

    def __init__(self, kind: str, key: str, label: str, *, spec: ExperimentSpec | None = None,
                 sweep: Any = None, n_total: int = 1, manager: Any = None) -> None:
        self.id = uuid.uuid4().hex[:12]
        self.kind = kind
        self.key = key
        self.label = label
        self.spec = spec
        self.sweep = sweep
        self.n_total = n_total
        self.created = time.time()
        # the JobManager (compute/jobs.py) that owns it; typed loosely, since that module
        # imports this one
        self._manager = manager
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._status = QUEUED
        self._progress = 0.0
        self._message = "queued"
        self._started: float | None = None
        self._ended: float | None = None
        # Progress and time when training began (after cached sweep points): the time
        # left is extrapolated from the rate since then.
        self._p0 = 0.0
        self._t0: float | None = None
        self._error: str | None = None
        self._result: Any = None
        self._points: list[Any] = []
        self._time_left: Any = None  # noisealign.engine.compute.time_left.TimeLeft, when the guard estimated it
        self._abandoned = False
        self._losses: list[tuple[int, list[float]]] = []  # (epoch, loss per member)
        self.sessions: set[str] = set()

    # ------------------------------------------------------------------ reading
    @property
    def status(self) -> str:
        return self._status

    @property
    def progress(self) -> float:
        return self._progress

    @property
    def message(self) -> str:
        return self._message

    @property
    def error(self) -> str | None:
        return self._error

    @property
    def result(self) -> Any:
        return self._result

    @property
    def points(self) -> list[Any]:
        """Sweep points finished so far (a copy)."""
        with self._lock:
            return list(self._points)

    @property
    def losses(self) -> list[tuple[int, list[float]]]:
        """The training loss of each member so far, as (epoch, [loss per member]) in
        epoch order: a live view of a run while it trains (a copy; at most
        ``MAX_LOSS_SAMPLES``, thinned evenly when longer)."""
        with self._lock:
            return list(self._losses)

    def record_losses(self, epoch: int, losses: Any) -> None:
        """Append the members' training losses at ``epoch`` (the run's progress
        callback, about twice a second)."""
        row = [float(v) for v in losses]
        with self._lock:
            self._losses.append((int(epoch), row))
            if len(self._losses) > MAX_LOSS_SAMPLES:  # keep every other one, the last too
                self._losses = self._losses[-1::-2][::-1]

    @property
    def elapsed(self) -> float:
        """Seconds since the job started running (0 while queued)."""
        if self._started is None:
            return 0.0
        return (self._ended or time.monotonic()) - self._started

    @property
    def eta(self) -> float:
        """Estimated seconds left; NaN when unknown, 0 once finished."""
        if self._status in FINISHED:
            return 0.0
        p, t0 = self._progress, self._t0
        if self._status == RUNNING and t0 is not None and self._time_left is not None:
            # The guard's per-point estimates corrected by the measured speed (noisealign.engine.compute.time_left).
            return self._time_left.seconds_left(time.monotonic() - t0)
        if self._status == RUNNING and t0 is not None and p > self._p0:
            spent = time.monotonic() - t0
            if spent > 0.5:  # too early, the rate is noise
                return spent * (1.0 - p) / (p - self._p0)
        return math.nan

    @property
    def done(self) -> bool:
        return self._status in FINISHED

    def view(self) -> JobView:
        with self._lock:
            return JobView(id=self.id, kind=self.kind, label=self.label, status=self._status,
                           progress=self._progress, message=self._message,
                           elapsed=self.elapsed, eta=self.eta,
                           n_points=len(self._points) if self.kind == "sweep" else int(
                               self._status == DONE),
                           n_total=self.n_total, error=self._error,
                           n_sessions=len(self.sessions))

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job finishes (any way); True if it did within ``timeout``."""
        return self._finished.wait(timeout)

    # ------------------------------------------------------------------ control
    def cancel(self) -> None:
        """Stop the job for everyone: a queued job never starts, a running one stops at
        its next epoch (its finished sweep points stay in the cache)."""
        self._cancel.set()
        with self._lock:
            if self._status == QUEUED:
                self._finish(CANCELLED, "cancelled before it started")

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    # ------------------------------------------------------------------ lifecycle
    # Called by the manager's worker thread, the only writer of a job's state. Each
    # method takes the job's lock, so a reader's view() is always consistent.
    def start(self) -> bool:
        """Mark a queued job running; False if it was cancelled while queued."""
        with self._lock:
            if self._status != QUEUED:
                return False
            self._status = RUNNING
            self._message = "starting"
            self._started = time.monotonic()
            return True

    def begin_training(self) -> None:
        """Cached work is done and training starts: the time left is extrapolated from
        the progress made after this moment."""
        with self._lock:
            self._p0, self._t0 = self._progress, time.monotonic()

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        """Record progress (a fraction in [0, 1], never going back) and a status line."""
        with self._lock:
            if progress is not None:
                self._progress = max(self._progress, min(1.0, float(progress)))
            if message is not None:
                self._message = message

    def plan(self, estimates: dict[str, float]) -> None:
        """The guard's seconds for each point still to train (key -> seconds, in
        training order): the time left then blends them with the measured progress."""
        from .time_left import TimeLeft
        self._time_left = TimeLeft(estimates) if estimates else None

    def within_point(self, fraction: float) -> None:
        """The current point's epoch fraction (for the time left)."""
        if self._time_left is not None:
            self._time_left.within(fraction)

    def add_point(self, point: Any) -> None:
        """Append a finished sweep point (partial results are visible at once)."""
        if self._time_left is not None:
            self._time_left.finished(point.key)
        with self._lock:
            self._points.append(point)
            n = len(self._points)
            self._progress = max(self._progress, n / max(1, self.n_total))
            self._message = f"{n} of {self.n_total} points"

    def set_result(self, result: Any) -> None:
        with self._lock:
            self._result = result

    def abandon(self) -> None:
        """Stop because no session watches the job any more (the message says so)."""
        self._cancel.set()
        with self._lock:
            self._abandoned = True
            if self._status == QUEUED:
                self._finish(CANCELLED, "abandoned: no session is watching it")
            elif self._status == RUNNING:
                self._message = "abandoned: no session is watching it"

    def finish(self, status: str, message: str | None = None, error: str | None = None) -> None:
        """End the job (a no-op if it already ended). ``CANCELLED`` says whether it was
        cancelled or abandoned unless ``message`` is given."""
        if status not in FINISHED:
            raise ValueError(f"status={status!r} is invalid: allowed one of {FINISHED}")
        if message is None:
            message = {DONE: "done", FAILED: "failed"}.get(status) or (
                "abandoned: no session is watching it" if self._abandoned else "cancelled")
        with self._lock:
            self._finish(status, message, error)

    def _finish(self, status: str, message: str, error: str | None = None) -> None:
        # caller holds self._lock
        if self._status in FINISHED:
            return
        self._status = status
        self._message = message
        self._error = error
        self._ended = time.monotonic()
        if status == DONE:
            self._progress = 1.0
        self._finished.set()

    def __repr__(self) -> str:
        return f"Job({self.kind} {self.id} {self._status} {self._progress:.0%} {self.label!r})"
