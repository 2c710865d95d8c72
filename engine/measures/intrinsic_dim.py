"""Intrinsic dimension, TwoNN and GRIDE, with numpy only (docs/science.md, section 2).

The two estimators exactly as the project used them through dadapy 0.3.4 (which stays
the reference in the tests and an optional extra, never a run-time need):

- :func:`twonn` -- TwoNN (Facco et al. 2017): the ratios mu = r2 / r1 of each point's
  second to first neighbour distance; dadapy's default "base" fit, a least-squares line
  through the origin of -log(1 - i / N) on the sorted log mu over the 90% smallest
  ratios. (dadapy fits it with ``scipy.optimize.curve_fit``; the line through the
  origin has the closed form sum(x y) / sum(x^2), equal to the last bits of the fit.)
- :func:`gride` -- GRIDE (Denti et al. 2022) at one scale: the ratios mu = r_{n2} /
  r_{n1} (n2 = 2 n1), dadapy's outlier filter (mu above 20 (q95 - q50) + q50 dropped,
  mu == 1 nudged up by 10 machine epsilons) and the maximum of the likelihood found by
  dadapy's bisection of its derivative on [0.001, 1000] to 1e-7.
- :func:`neighbour_distances` -- the sorted Euclidean distances of each point to its
  nearest other points (blocked, float64), optionally from given candidate columns
  (e.g. the neighbour lists an Information Imbalance pass has already found).
- :func:`estimates` -- both at once from one neighbour search: what the summaries use.

Points are assumed distinct (callers remove exact duplicates first: zero distances
break both estimators).
"""

from __future__ import annotations

import math

import numpy as np

TWONN_FRACTION = 0.9   # dadapy's mu_fraction: the largest 10% of ratios are left out
GRIDE_D0, GRIDE_D1 = 0.001, 1000.0   # dadapy's search interval for the dimension
GRIDE_EPS = 1e-7       # dadapy's bisection tolerance (and its regulariser, 2 eps)
_BLOCK_FLOATS = 2**22  # float64 entries of one block of squared distances (32 MB)
_MARGIN = 8            # extra candidate neighbours a blocked search keeps per row
_CHUNK_FLOATS = 2**17  # float64 coordinate differences formed at once (1 MB: L2-sized)


def twonn(r1: np.ndarray, r2: np.ndarray) -> float:
    """TwoNN estimate from each point's first and second neighbour distances.

    Parameters
    ----------
    r1, r2 : ndarray, shape (N,)
        Distance of every point to its nearest and second-nearest other point (> 0).

    Returns
    -------
    float
        The intrinsic dimension, as dadapy's ``Data.compute_id_2NN()[0]``.
    """
    mus = np.asarray(r2, dtype=np.float64) / np.asarray(r1, dtype=np.float64)
    n = mus.shape[0]
    n_eff = int(n * TWONN_FRACTION)
    x = np.sort(np.log(mus))[:n_eff]
    y = -np.log(1 - np.arange(1, n_eff + 1) / n)
    # Least squares of y = m x (no intercept): m = x.y / x.x.
    return float(np.dot(x, y) / np.dot(x, x))


def _filter_mus(mus: np.ndarray) -> np.ndarray:
    """dadapy's filter: ratios of exactly 1 nudged up, far outliers (overlapping points)
    dropped."""
    mus = mus.copy()
    mus[mus == 1] += 10 * np.finfo(np.float64).eps
    q3, q2 = np.percentile(mus, [95, 50])
    return mus[mus < 20 * (q3 - q2) + q2]


def _neg_dloglik(d: float, mus: np.ndarray, log_mus: np.ndarray, n1: int, n2: int,
                 n: int) -> float:
    """Negative derivative of GRIDE's log-likelihood in d (dadapy's _neg_dloglik_did)."""
    one_m_mus_d = 1.0 - mus ** (-d)
    one_m_mus_d[one_m_mus_d < 2 * GRIDE_EPS] = 2 * GRIDE_EPS  # small numbers regularised
    summation = np.sum(((1 - n2 + n1) / one_m_mus_d + n2 - 1.0) * log_mus)
    return summation - (n - 1) / d


def gride(r_n1: np.ndarray, r_n2: np.ndarray, n1: int) -> float:
    """GRIDE estimate at one scale from each point's n1-th and (2 n1)-th neighbour
    distances.

    Parameters
    ----------
    r_n1, r_n2 : ndarray, shape (N,)
        Distance of every point to its n1-th and 2 n1-th nearest other point (> 0).
    n1 : int
        The smaller neighbour order (>= 1).

    Returns
    -------
    float
        The maximum-likelihood dimension, as the last entry of dadapy's
        ``Data.return_id_scaling_gride(range_max=2 * n1)[0]``.
    """
    n2 = 2 * n1
    mus = _filter_mus(np.asarray(r_n2, dtype=np.float64) / np.asarray(r_n1, dtype=np.float64))
    log_mus = np.log(mus)
    n = len(mus)
    d0, d1 = GRIDE_D0, GRIDE_D1
    # Bisection on the sign of the derivative, against its value at the upper end (as
    # dadapy does, so the same interval is kept at every step).
    l1 = _neg_dloglik(d1, mus, log_mus, n1, n2, n)
    while abs(d0 - d1) > GRIDE_EPS:
        d2 = (d0 + d1) / 2.0
        l2 = _neg_dloglik(d2, mus, log_mus, n1, n2, n)
        if l2 * l1 > 0:
            d1 = d2
        else:
            d0 = d2
    return float((d0 + d1) / 2.0)


def _exact_sq(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared distances from points ``rows`` (b,) to their candidates ``cols`` (b, c),
    from coordinate differences (no cancellation), a few rows at a time so that the
    (rows, c, D) differences stay in the CPU cache."""
    b, c = cols.shape
    out = np.empty((b, c))
    step = max(1, _CHUNK_FLOATS // max(1, c * x.shape[1]))
    for a in range(0, b, step):
        diff = x[cols[a:a + step]] - x[rows[a:a + step]][:, None, :]
        out[a:a + step] = np.einsum("bcd,bcd->bc", diff, diff)
    return out


def neighbour_distances(x: np.ndarray, kmax: int, *, candidates: np.ndarray | None = None,
                        outside: np.ndarray | None = None) -> np.ndarray:
    """Sorted distances (N, kmax) from each point to its kmax nearest other points.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Distinct points (float64).
    kmax : int
        Neighbours per point, 1 <= kmax <= N - 1.
    candidates : ndarray of int, shape (N, c), optional
        Columns that hold each point's kmax nearest others (c >= kmax; the point itself
        may be among them and is skipped). Given, only those distances are computed.
    outside : ndarray, shape (N,), optional
        With ``candidates``: a lower bound on each point's squared distance to every
        point that is not among its candidates. Rows whose kmax-th candidate is not
        nearer than that bound (the candidates may miss a neighbour) are searched in full.

    Returns
    -------
    ndarray, shape (N, kmax)
        Column j - 1 holds the distance to the j-th nearest other point, from
        coordinate differences in float64.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    n = x.shape[0]
    if not 1 <= kmax <= n - 1:
        raise ValueError(f"kmax={kmax} is invalid: allowed 1 to N - 1 = {n - 1}")
    rows = np.arange(n)
    if candidates is None:
        candidates, outside = _candidates(x, kmax, rows), None
    cols = np.asarray(candidates, dtype=np.int64)
    if cols.shape[0] != n or cols.ndim != 2 or cols.shape[1] < kmax:
        raise ValueError(f"candidates has shape {cols.shape}: allowed (N={n}, c >= {kmax})")
    d2 = _exact_sq(x, rows, cols)
    d2[cols == rows[:, None]] = np.inf  # the point itself, where it is a candidate
    d2.sort(axis=1)
    if outside is not None:
        unsure = np.flatnonzero(~(d2[:, kmax - 1] < np.asarray(outside, dtype=np.float64)))
        if len(unsure):
            full = _candidates(x, kmax, unsure)
            e2 = _exact_sq(x, unsure, full)
            e2[full == unsure[:, None]] = np.inf
            e2.sort(axis=1)
            d2 = d2[:, :kmax].copy()
            d2[unsure] = e2[:, :kmax]
    return np.sqrt(d2[:, :kmax])


def _candidates(x: np.ndarray, kmax: int, rows: np.ndarray) -> np.ndarray:
    """(len(rows), c) columns holding the kmax nearest others of points ``rows``: the
    c = kmax + 1 + margin smallest of |u|^2 - 2 x.u (a matrix product per block of
    rows; the point itself is among them), so that rounding of that formula cannot push
    a true neighbour out."""
    n = x.shape[0]
    c = min(n, kmax + 1 + _MARGIN)
    sq = np.einsum("ij,ij->i", x, x)
    step = max(1, min(len(rows), _BLOCK_FLOATS // max(1, n)))
    out = np.empty((len(rows), c), dtype=np.int64)
    for a in range(0, len(rows), step):
        r = rows[a:a + step]
        d = sq[None, :] - 2.0 * (x[r] @ x.T)
        d[np.arange(len(r)), r] = -np.inf  # self first
        if c < n:
            out[a:a + len(r)] = np.argpartition(d, c - 1, axis=1)[:, :c]
        else:
            out[a:a + len(r)] = np.arange(n)[None, :]
    return out


def estimates(x: np.ndarray, scale: int, *, candidates: np.ndarray | None = None,
              outside: np.ndarray | None = None) -> dict[str, float | int]:
    """TwoNN and GRIDE (at the largest power-of-2 order up to ``scale`` that the points
    allow) from one neighbour search.

    Parameters
    ----------
    x : ndarray, shape (N, D)
        Distinct points, N >= 3.
    scale : int
        GRIDE's largest neighbour order, a power of 2 >= 2.
    candidates, outside : ndarray, optional
        As in :func:`neighbour_distances` (with at least ``gride_scale`` columns besides
        the point itself).

    Returns
    -------
    dict
        ``{"twonn": float, "gride": float, "gride_scale": int}``; GRIDE at order
        ``gride_scale`` (its ratio r_{scale} / r_{scale/2}); NaN and 0 when N < 3.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if n < 3:
        return {"twonn": math.nan, "gride": math.nan, "gride_scale": 0}
    top = 1 << int(math.log2(min(int(scale), n - 1)))
    r = neighbour_distances(x, max(2, top), candidates=candidates, outside=outside)
    return {"twonn": twonn(r[:, 0], r[:, 1]),
            "gride": gride(r[:, top // 2 - 1], r[:, top - 1], top // 2),
            "gride_scale": top}


def import_dadapy():
    """Import dadapy (a test and benchmark reference only: nothing a run needs imports
    it) without letting it change numpy's global print options."""
    opts = np.get_printoptions()
    try:
        import dadapy  # noqa: F401
        from dadapy import Data
    finally:
        np.set_printoptions(**opts)
    return Data
