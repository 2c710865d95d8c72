"""The epochs at which training records curves and probe-set snapshots (torch-free).

Curves are recorded at :func:`log_epochs`; with ``spec.snapshots = S`` the probe
representations are also kept at :func:`snapshot_epochs`, S of those epochs spread
log-uniformly strictly between initialisation (epoch 0) and the last epoch, so every
snapshot has its test error on the curve and none duplicates the representations at
initialisation or at the end, which a result stores anyway.
"""

from __future__ import annotations

import numpy as np


def log_epochs(max_epochs: int, points: int = 60) -> np.ndarray:
    """Epochs at which curves are recorded: 0 and about log-spaced up to max_epochs."""
    e = np.unique(np.round(np.geomspace(1, max_epochs, points)).astype(int))
    return np.concatenate([[0], e])


def _inner_epochs(max_epochs: int) -> np.ndarray:
    e = log_epochs(max_epochs)
    return e[(e > 0) & (e < max_epochs)]


def max_snapshots(max_epochs: int) -> int:
    """How many distinct snapshot epochs ``max_epochs`` allows (recorded epochs strictly
    between 0 and ``max_epochs``)."""
    return len(_inner_epochs(max_epochs))


def snapshot_epochs(max_epochs: int, snapshots: int) -> np.ndarray:
    """``snapshots`` recorded epochs (at most :func:`max_snapshots`), increasing, each
    the one nearest (in log epoch) to its point of a log-uniform grid from 1 to
    ``max_epochs``, excluding both ends."""
    cand = _inner_epochs(max_epochs)
    s = min(int(snapshots), len(cand))
    if s <= 0:
        return np.zeros(0, dtype=np.int64)
    targets = np.log(np.geomspace(1, max_epochs, s + 2)[1:-1])
    logc = np.log(cand)
    chosen, lo = [], 0
    for i, t in enumerate(targets):
        hi = len(cand) - (s - i)  # leave one candidate for each target still to place
        j = lo + int(np.argmin(np.abs(logc[lo:hi + 1] - t)))
        chosen.append(int(cand[j]))
        lo = j + 1
    return np.asarray(chosen, dtype=np.int64)
