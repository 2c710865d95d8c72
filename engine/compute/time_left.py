"""Time left of a job: the resource guard's per-point estimates corrected by the measured
progress.

A sweep's points differ in cost (a width-2048 point trains far longer than a width-32
one), so the time left is not the elapsed time times the points left. :class:`TimeLeft`
counts work in the guard's calibrated seconds (:func:`noisealign.engine.compute.guard.estimate`, one number
per point still to train, each assuming every member trains all ``max_epochs``), and
corrects them with two measured factors, each starting from the guard (1) and moving to
the measurement as work is done (priors worth ``SPEED_PRIOR`` and ``PRIOR_WEIGHT`` of
the total work):

- **speed**: elapsed seconds per estimated second of the epochs actually run (the
  guard's calibration against this machine now, a busy CPU included);
- **stopping**: the fraction of ``max_epochs`` finished points actually ran (members stop
  at their loss tolerance; the guard's estimate is an upper bound).

    time left = speed * (stopping * work of the points left - work run on the current one)

Plain Python, thread-safe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping

# The guard's estimate counts as this fraction of the total work's worth of evidence:
# after that much estimated work is done, measurement and estimate weigh the same.
# Epochs run at a steady rate, so the speed is measured well after a few of them (a
# small prior); whether points stop early is only seen when they finish (a larger one).
SPEED_PRIOR = 0.01
PRIOR_WEIGHT = 0.05


class TimeLeft:
    """Estimated seconds left of a job.

    ``estimates``: point key -> the guard's seconds for the points to train, in the
    order they will be trained (cached points are not in it: they cost nothing).
    """

    def __init__(self, estimates: Mapping[str, float]) -> None:
        self._est = {k: max(0.0, float(v)) for k, v in estimates.items()
                     if v is not None and math.isfinite(float(v))}
        self._pending = [k for k in estimates if k in self._est]
        self._total = sum(self._est.values())
        self._done = 0.0       # estimated seconds of the finished points
        self._ran = 0.0        # ... of the epochs they actually ran
        self._fraction = 0.0   # of the current point (epoch / max_epochs)
        self._lock = threading.Lock()

    @property
    def total(self) -> float:
        """The guard's estimate of the whole job (seconds)."""
        return self._total

    def finished(self, key: str) -> None:
        """A point is done (trained, or found in the cache after all)."""
        with self._lock:
            if key in self._pending:
                self._pending.remove(key)
                self._done += self._est[key]
                self._ran += self._est[key] * self._fraction
                self._fraction = 0.0

    def within(self, fraction: float) -> None:
        """The current point's progress (epoch / max_epochs)."""
        with self._lock:
            self._fraction = min(1.0, max(0.0, float(fraction)))

    def work_done(self) -> float:
        """Estimated seconds of the epochs run so far (finished points and the current
        one)."""
        with self._lock:
            return self._ran + self._current() * self._fraction

    def _current(self) -> float:
        return self._est[self._pending[0]] if self._pending else 0.0

    def seconds_left(self, elapsed: float) -> float:
        """Seconds left after ``elapsed`` seconds of training; NaN without estimates."""
        if self._total <= 0:
            return math.nan
        with self._lock:
            prior = PRIOR_WEIGHT * self._total
            current = self._current()
            ran = self._ran + current * self._fraction
            fast = SPEED_PRIOR * self._total
            speed = (max(0.0, elapsed) + fast) / (ran + fast)
            stopping = (self._ran + prior) / (self._done + prior)
            rest = self._total - self._done - current
            on_current = max(0.0, stopping * current - current * self._fraction)
            return max(0.0, speed * (on_current + stopping * rest))
