"""Time left of a job: the resource guard's per-point estimates corrected by the measured
progress.

A sweep's points differ in cost (a width-2048 point trains far longer than a width-32
one), so the time left is not the elapsed time times the points left. :class:`TimeLeft`
counts work in the guard's calibrated seconds (:func:`engine.guard.estimate`, one number
per point still to train): the work done is the estimates of the finished points plus
the current point's estimate times its epoch fraction. The measured speed is elapsed
seconds per estimated second, and the time left is the work left times a blended speed:

    speed = (elapsed + PRIOR_WEIGHT * work_total) / (work_done + PRIOR_WEIGHT * work_total)

At the start this is 1 (the guard's estimate as is); as work is done it moves to the
measured speed, so a guard that is off by a constant factor (members stopping early at
their loss tolerance, a busy CPU) is corrected after the first points. Plain Python.
"""

from __future__ import annotations

import math
import threading
from typing import Mapping

# The guard's estimate counts as this fraction of the total work's worth of evidence:
# after that much estimated work is done, measurement and estimate weigh the same.
PRIOR_WEIGHT = 0.15


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
        self._fraction = 0.0   # of the current point (its epochs)
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
                self._fraction = 0.0

    def within(self, fraction: float) -> None:
        """The current point's progress (epoch / max_epochs)."""
        with self._lock:
            self._fraction = min(1.0, max(0.0, float(fraction)))

    def work_done(self) -> float:
        """Estimated seconds of work done so far."""
        with self._lock:
            current = self._est[self._pending[0]] if self._pending else 0.0
            return min(self._total, self._done + self._fraction * current)

    def seconds_left(self, elapsed: float) -> float:
        """Seconds left after ``elapsed`` seconds of training; NaN without estimates."""
        if self._total <= 0:
            return math.nan
        done = self.work_done()
        prior = PRIOR_WEIGHT * self._total
        speed = (max(0.0, elapsed) + prior) / (done + prior)
        return max(0.0, (self._total - done) * speed)
