"""The report's small-sample tests (experiments.findings.stats) against scipy.stats and
on synthetic data with known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as st

from experiments.findings.stats import (
    ALPHA,
    critical_t,
    min_points_for_trend,
    paired,
    seeds_to_resolve,
    spearman_perm,
    welch,
)


def _ms(v):
    v = np.asarray(v, float)
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size))


@pytest.mark.parametrize("seed", range(6))
def test_welch_from_mean_and_sem_equals_scipy_ttest_ind_unequal_var(seed):
    rng = np.random.default_rng(seed)
    na, nb = [(3, 3), (3, 5), (2, 7), (10, 4), (3, 3), (50, 60)][seed]
    a = rng.normal(0.3, rng.uniform(0.1, 2), na)
    b = rng.normal(0.0, rng.uniform(0.1, 2), nb)
    got = welch(_ms(a), na, _ms(b), nb)
    ref = st.ttest_ind(a, b, equal_var=False)
    assert got.stat == pytest.approx(ref.statistic, rel=1e-12)
    assert got.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert got.df == pytest.approx(ref.df, rel=1e-12)
    assert got.estimate == pytest.approx(a.mean() - b.mean())


@pytest.mark.parametrize("seed", range(4))
def test_paired_equals_scipy_ttest_rel(seed):
    rng = np.random.default_rng(100 + seed)
    r = [3, 4, 8, 30][seed]
    base = rng.normal(0, 1, r)
    a, b = base + rng.normal(0.2, 0.3, r), base + rng.normal(0, 0.3, r)
    got, ref = paired(a, b), st.ttest_rel(a, b)
    assert got.stat == pytest.approx(ref.statistic, rel=1e-12)
    assert got.p == pytest.approx(ref.pvalue, rel=1e-10)
    assert got.df == r - 1


def test_degenerate_inputs_give_nan_or_certain_tests():
    assert math.isnan(welch((1.0, math.nan), 1, (0.0, 0.1), 3).p)  # one seed: no error bar
    assert welch((1.0, 0.0), 3, (0.0, 0.0), 3).p == 0.0  # exact, different
    assert math.isnan(welch((1.0, 0.0), 3, (1.0, 0.0), 3).p)
    assert math.isnan(paired([1.0], [0.0]).p)
    assert paired([1.0, 2.0], [0.0, 1.0]).p == 0.0  # the same shift in every seed


def test_spearman_perm_exact_equals_a_brute_force_permutation_distribution():
    rng = np.random.default_rng(7)
    for n in (3, 4, 5, 6):
        x, y = rng.normal(size=n), rng.normal(size=n)
        rho = st.spearmanr(x, y).statistic
        dist = [st.spearmanr(x, y[list(p)]).statistic
                for p in itertools.permutations(range(n))]
        want = np.mean(np.abs(dist) >= abs(rho) - 1e-12)
        got = spearman_perm(x, y)
        assert got.stat == pytest.approx(rho)
        assert got.p == pytest.approx(want)
        assert got.n == n and math.isnan(got.df)


def test_spearman_perm_equals_scipy_permutation_test():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=5), rng.normal(size=5) + np.arange(5) * 0.3
    # vectorized=False: spearmanr of 2-D batches would be a correlation matrix
    ref = st.permutation_test((x, y), lambda a, b: st.spearmanr(a, b).statistic,
                              permutation_type="pairings", n_resamples=math.inf,
                              alternative="two-sided", vectorized=False)
    assert spearman_perm(x, y).p == pytest.approx(ref.pvalue)


def test_a_perfect_order_has_its_honest_p_value():
    # The audit's point: rho = +1 over 3 widths has p = 1/3 two-sided (1/6 each side).
    assert spearman_perm([1, 2, 3], [0.1, 0.2, 0.3]).p == pytest.approx(1 / 3)
    assert spearman_perm([1, 2, 3, 4], [4, 3, 2, 1]).p == pytest.approx(2 / 24)
    assert spearman_perm(range(5), range(5)).p == pytest.approx(2 / 120)
    assert min_points_for_trend() == 5
    # Ties: mid-ranks, and the tie-preserving permutation distribution.
    t = spearman_perm([1, 2, 3, 4], [1, 1, 2, 3])
    assert t.stat == pytest.approx(st.spearmanr([1, 2, 3, 4], [1, 1, 2, 3]).statistic)


def test_monte_carlo_permutations_beyond_the_exact_limit_are_seeded_and_close():
    rng = np.random.default_rng(11)
    x = np.arange(12.0)
    y = x * 0.1 + rng.normal(size=12)
    a, b = spearman_perm(x, y), spearman_perm(x, y)
    assert a.p == b.p  # reproducible
    # the large-sample t approximation of Spearman's test as an independent reference
    assert a.p == pytest.approx(st.spearmanr(x, y).pvalue, abs=0.03)


def test_type_one_error_of_welch_with_three_seeds_is_the_stated_level():
    # Under the null (same mean), Welch at ALPHA rejects about ALPHA of the time with
    # 3 seeds a side; the z > 2 rule of earlier editions rejects far more often.
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20000, 3))
    b = rng.normal(size=(20000, 3)) * 1.5
    ma, sa = a.mean(1), a.std(1, ddof=1) / math.sqrt(3)
    mb, sb = b.mean(1), b.std(1, ddof=1) / math.sqrt(3)
    rej = np.mean([welch((ma[i], sa[i]), 3, (mb[i], sb[i]), 3).significant
                   for i in range(20000)])
    z_rule = np.mean(np.abs(ma - mb) / np.hypot(sa, sb) > 2.0)
    assert rej < ALPHA + 0.01  # Welch is slightly conservative here
    assert z_rule > 0.10


def test_a_real_difference_is_found_with_known_power():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(2000):
        a, b = rng.normal(3.0, 1, 3), rng.normal(0.0, 1, 3)
        hits += welch(_ms(a), 3, _ms(b), 3).above()
    # effect 3 sigma at 3 seeds a side: Welch's power lies between that of a t test with
    # df 2 and of the pooled t test (df 4), both from scipy's noncentral t
    ncp = 3.0 / math.sqrt(2 / 3)
    low = st.nct.sf(critical_t(2.0), 2.0, ncp)
    high = st.nct.sf(critical_t(4.0), 4.0, ncp)
    assert low - 0.03 < hits / 2000 < high + 0.03, (low, hits / 2000, high)


def test_critical_values_and_seeds_to_resolve():
    assert critical_t(2.0) == pytest.approx(4.303, abs=1e-3)
    assert critical_t(4.0) == pytest.approx(2.776, abs=1e-3)
    # t = 2.5 at df 4 (3 seeds each) is not significant; 5 seeds a side would pass.
    t = welch((0.25, 0.0707), 3, (0.0, 0.0707), 3)
    assert not t.significant
    need = seeds_to_resolve(t, 3)
    assert need is not None and need > 3
    # check the projection: at `need` seeds the same effect and spread pass, at need-1 not
    def at(r):
        sem = 0.0707 * math.sqrt(3 / r)
        return welch((0.25, sem), r, (0.0, sem), r)
    assert at(need).significant and not at(need - 1).significant
    assert seeds_to_resolve(welch((0.0, 0.1), 3, (0.0, 0.1), 3), 3) is None
