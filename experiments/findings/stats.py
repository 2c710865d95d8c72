"""Small-sample tests for the report's verdicts (three data seeds per grid point).

With R = 3 seeds a standard error has 2 degrees of freedom, so a difference divided by
its combined standard error is far from normal: "z > 2" rejects a true null about 12-18 %
of the time, not 4.6 %. Every verdict of :mod:`experiments.findings.claims` therefore
uses one of these, at the level :data:`ALPHA` (two-sided):

- :func:`welch`: Welch's t for two independent means given as (mean, sem) with their
  seed counts, with the Welch-Satterthwaite degrees of freedom
  (``scipy.stats.ttest_ind(equal_var=False)`` on the raw values gives the same);
- :func:`paired`: the paired t across seeds that share their draw (``ttest_rel``);
- :func:`spearman_perm`: Spearman's rho with its permutation p-value, exact over all
  ``n!`` orderings for ``n <= EXACT_MAX`` points (so "rho = +1 over 3 points" gets its
  honest p = 1/3, two-sided), a seeded Monte-Carlo beyond;
- :func:`seeds_to_resolve`: how many seeds a difference would need to pass at
  :data:`ALPHA` if its effect stayed at the measured size.

Each returns a :class:`Test`, which the report prints as "t = 3.1 (df 3.8), p = 0.04".
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

# Two-sided level of every test in the report.
ALPHA = 0.05
# Up to this many points a permutation test enumerates every ordering (8! = 40320).
EXACT_MAX = 8
# Monte-Carlo permutations beyond EXACT_MAX (seeded: the p-value is reproducible).
MC_PERMUTATIONS = 20000
# The largest seed count seeds_to_resolve looks at.
MAX_SEEDS = 100


@dataclass(frozen=True)
class Test:
    """One test's outcome. ``name``: "Welch t", "paired t" or "Spearman (permutation)";
    ``stat``: t or rho; ``df``: degrees of freedom (NaN for a permutation test, which
    reports its number of points in ``n``); ``p``: two-sided p-value; ``estimate``: the
    difference (a - b) or rho; ``n``: seeds per side (t tests) or points (Spearman)."""

    name: str
    stat: float
    df: float
    p: float
    estimate: float
    n: int

    @property
    def significant(self) -> bool:
        return bool(np.isfinite(self.p) and self.p < ALPHA)

    def above(self) -> bool:
        """a significantly above b (or rho significantly positive)."""
        return self.significant and self.stat > 0

    def below(self) -> bool:
        return self.significant and self.stat < 0

    def text(self) -> str:
        """'Welch t = 3.10 (df 3.8), p = 0.041'."""
        if not np.isfinite(self.stat):
            return f"{self.name}: not computable"
        sym = "rho" if self.name.startswith("Spearman") else "t"
        df = f" (df {self.df:.1f})" if np.isfinite(self.df) else f" ({self.n} points)"
        return f"{self.name} {sym} = {self.stat:+.2f}{df}, p = {fmt_p(self.p)}"


NAN_TEST = Test("Welch t", math.nan, math.nan, math.nan, math.nan, 0)


def fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"


def welch(a: tuple[float, float], na: int, b: tuple[float, float], nb: int) -> Test:
    """Welch's t test of mean a = mean b from (mean, sem) pairs and their seed counts.

    ``t = (a - b) / sqrt(sem_a^2 + sem_b^2)``, ``df = (sem_a^2 + sem_b^2)^2 /
    (sem_a^4 / (na - 1) + sem_b^4 / (nb - 1))`` (Welch-Satterthwaite), two-sided p from
    Student's t. A NaN sem (one seed) or fewer than 2 seeds gives a NaN test; two zero
    sems give t = +-inf (p = 0) for different means and NaN for equal ones.
    """
    (ma, sa), (mb, sb) = a, b
    if na < 2 or nb < 2 or not all(np.isfinite([ma, sa, mb, sb])):
        return Test("Welch t", math.nan, math.nan, math.nan, ma - mb, min(na, nb))
    va, vb = sa * sa, sb * sb
    se2 = va + vb
    if se2 == 0.0:
        if ma == mb:
            return Test("Welch t", math.nan, math.nan, math.nan, 0.0, min(na, nb))
        return Test("Welch t", math.copysign(math.inf, ma - mb), float(na + nb - 2), 0.0,
                    ma - mb, min(na, nb))
    t = (ma - mb) / math.sqrt(se2)
    df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1))
    p = float(2.0 * _st.t.sf(abs(t), df))
    return Test("Welch t", float(t), float(df), p, ma - mb, min(na, nb))


def paired(a: Sequence[float], b: Sequence[float]) -> Test:
    """Paired t test across seeds: a[i] and b[i] come from the same seed (same draw).

    ``t = mean(a - b) / (std(a - b, ddof=1) / sqrt(R))``, ``df = R - 1``; pairs with a
    non-finite value are dropped. Fewer than 2 pairs give a NaN test.
    """
    diff = np.asarray(a, float) - np.asarray(b, float)
    diff = diff[np.isfinite(diff)]
    r = int(diff.size)
    if r < 2:
        return Test("paired t", math.nan, math.nan, math.nan,
                    float(diff.mean()) if r else math.nan, r)
    m, s = float(diff.mean()), float(diff.std(ddof=1))
    if s == 0.0:
        if m == 0.0:
            return Test("paired t", math.nan, math.nan, math.nan, 0.0, r)
        return Test("paired t", math.copysign(math.inf, m), float(r - 1), 0.0, m, r)
    t = m / (s / math.sqrt(r))
    return Test("paired t", t, float(r - 1), float(2.0 * _st.t.sf(abs(t), r - 1)), m, r)


def _ranks(v: np.ndarray) -> np.ndarray:
    return _st.rankdata(v)  # mid-ranks for ties, as Spearman's rho uses


def _rho(rx: np.ndarray, ry: np.ndarray) -> float:
    cx, cy = rx - rx.mean(), ry - ry.mean()
    den = math.sqrt(float(cx @ cx) * float(cy @ cy))
    return float(cx @ cy / den) if den > 0 else math.nan


def spearman_perm(x: Sequence[float], y: Sequence[float], *, seed: int = 0) -> Test:
    """Spearman's rho of (x, y) with its two-sided permutation p-value.

    The null: y's values are exchangeable over the x positions. ``p = P(|rho_perm| >=
    |rho|)`` over all ``n!`` orderings of y for ``n <= EXACT_MAX`` (exact), else over
    :data:`MC_PERMUTATIONS` seeded random ones (``(k + 1) / (M + 1)``, never 0). Pairs
    with a non-finite value are dropped; fewer than 3 points or a constant side give NaN.
    The smallest p it can give at n points is ``2 / n!`` without ties (1/3 at 3 points,
    1/12 at 4, 1/60 at 5): a monotone trend needs at least 5 points to reach 0.05.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = int(x.size)
    if n < 3:
        return Test("Spearman (permutation)", math.nan, math.nan, math.nan, math.nan, n)
    rx, ry = _ranks(x), _ranks(y)
    rho = _rho(rx, ry)
    if not np.isfinite(rho):
        return Test("Spearman (permutation)", math.nan, math.nan, math.nan, math.nan, n)
    cx = rx - rx.mean()
    den = math.sqrt(float(cx @ cx) * float(((ry - ry.mean()) ** 2).sum()))
    tol = 1e-12  # ties in |rho| count as "at least as extreme"
    if n <= EXACT_MAX:
        perms = np.array(list(itertools.permutations(range(n))))
        vals = (ry[perms] - ry.mean()) @ cx / den
        p = float(np.mean(np.abs(vals) >= abs(rho) - tol))
    else:
        rng = np.random.default_rng(seed)
        perms = np.argsort(rng.random((MC_PERMUTATIONS, n)), axis=1)
        vals = (ry[perms] - ry.mean()) @ cx / den
        k = int(np.sum(np.abs(vals) >= abs(rho) - tol))
        p = (k + 1) / (MC_PERMUTATIONS + 1)
    return Test("Spearman (permutation)", rho, math.nan, p, rho, n)


def min_points_for_trend(alpha: float = ALPHA) -> int:
    """Fewest points at which a perfect rank order can reach a two-sided p < alpha
    (2 / n! < alpha): 5 at 0.05."""
    n = 3
    while 2.0 / math.factorial(n) >= alpha:
        n += 1
    return n


def seeds_to_resolve(test: Test, seeds: int, alpha: float = ALPHA) -> int | None:
    """Seeds per point at which a t test with this effect would pass at ``alpha``.

    Assumes the effect and the per-seed spread stay as measured: the standard error falls
    as 1/sqrt(R), so t grows as sqrt(R / seeds), and the degrees of freedom grow as
    (R - 1) / (seeds - 1). Returns ``seeds`` when it passes already, None when the
    effect is 0 / not computable or needs more than :data:`MAX_SEEDS`.
    """
    if not np.isfinite(test.stat) or test.stat == 0 or seeds < 2 or not np.isfinite(test.df):
        return None
    if test.significant:
        return seeds
    for r in range(seeds + 1, MAX_SEEDS + 1):
        t = abs(test.stat) * math.sqrt(r / seeds)
        df = test.df * (r - 1) / (seeds - 1)
        if 2.0 * _st.t.sf(t, df) < alpha:
            return r
    return None


def critical_t(df: float, alpha: float = ALPHA) -> float:
    """Two-sided critical value of Student's t (4.30 at df 2, 2.78 at df 4)."""
    return float(_st.t.ppf(1.0 - alpha / 2.0, df))
