"""Mean and standard error: one convention for every error bar and table.

``std`` is the sample standard deviation (``ddof=1``) and ``sem = std / sqrt(n)`` over
the finite values; with fewer than two finite values both are NaN (one value says
nothing about the spread: an error bar of 0 would claim certainty). Summaries (over
member pairs), exports and the dashboard (over data seeds), the array comparison (over
subsets) and the findings report all use it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def mean_std_sem(values: Any) -> dict[str, float]:
    """``{"mean", "std", "sem", "n"}`` of the finite values of ``values`` (any shape).

    Parameters
    ----------
    values : array_like
        Numbers; NaN and infinities are left out.

    Returns
    -------
    dict
        ``mean`` (NaN without finite values), ``std`` (``ddof=1``), ``sem``
        (``std / sqrt(n)``; both NaN for n < 2) and ``n``, the finite values counted.
    """
    a = np.asarray(values, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    n = int(a.size)
    mean = float(a.mean()) if n else math.nan
    std = float(a.std(ddof=1)) if n >= 2 else math.nan
    return {"mean": mean, "std": std, "sem": std / math.sqrt(n) if n >= 2 else math.nan,
            "n": n}


def mean_sem(values: Any) -> tuple[float, float]:
    """``(mean, sem)`` of the finite values (:func:`mean_std_sem`'s convention)."""
    s = mean_std_sem(values)
    return s["mean"], s["sem"]
