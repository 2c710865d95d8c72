"""The finite-d theory next to the threshold against an exact min-norm Monte-Carlo.

The reference is independent of engine.theory_exact's bidiagonal sampler: dense Gaussian
designs, each one's exact min-norm fits of two members' noisy targets (batched float64
solves), and the squared cosine of the fits, averaged over draws with fixed seeds. The
theory is compared within 2 standard errors (the reference's and the table's own,
combined) at every |n - d| <= 4 for d in {20, 50, 80} and SNR 0, 10, 20 dB, where the
closed form alone was off by up to 0.17 (d = 50, n = 50, 20 dB: 0.345 against 0.51).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from noisealign.engine import theory
from noisealign.engine.theory import TABLE_PATH
from noisealign.engine.theory_exact import cka_min_norm

SNR = np.array([1.0, 10.0, 100.0])  # 0, 10, 20 dB


def reference(n: int, d: int, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and SE of cos^2 of two members' exact min-norm fits over dense Gaussian
    designs: ``beta = X^T (X X^T)^{-1} y`` (n < d) or ``(X^T X)^{-1} X^T y`` (n >= d),
    batched float64 solves (the pseudo-inverse, without its SVD)."""
    rng = np.random.default_rng([seed, n, d])
    vals = []
    for start in range(0, draws, 250):
        k = min(250, draws - start)
        X = rng.standard_normal((k, n, d))
        beta = rng.standard_normal((k, d))
        beta /= np.linalg.norm(beta, axis=1, keepdims=True)
        ys = np.stack([np.einsum("knd,kd->kn", X, beta), rng.standard_normal((k, n)),
                       rng.standard_normal((k, n))], -1)  # signal, noise a, noise b
        Xt = np.swapaxes(X, 1, 2)
        if n < d:
            fit = Xt @ np.linalg.solve(X @ Xt, ys)          # (k, d, 3)
        else:
            fit = np.linalg.solve(Xt @ X, Xt @ ys)
        s, ua, ub = fit[..., 0], fit[..., 1], fit[..., 2]   # signal part, two noise parts
        per = []
        for snr in SNR:
            sig = 1.0 / math.sqrt(snr)
            a, b = s + sig * ua, s + sig * ub
            per.append(np.sum(a * b, 1) ** 2 / (np.sum(a * a, 1) * np.sum(b * b, 1)))
        vals.append(np.array(per).T)
    v = np.concatenate(vals)
    return v.mean(0), v.std(0, ddof=1) / math.sqrt(len(v))


def _table_sem(n: int, d: int) -> np.ndarray:
    raw = json.loads(TABLE_PATH.read_text())
    i, j = raw["d"].index(d), raw["nu"].index(n - d)
    dbs = list(raw["snr_db"])
    return np.array([raw["sem"][i][j][dbs.index(db)] for db in (0.0, 10.0, 20.0)])


@pytest.mark.slow
def test_theory_cka_is_within_two_standard_errors_of_exact_min_norm_next_to_threshold():
    """81 comparisons (3 d x 9 n x 3 SNR). An exact theory lands beyond 2 SE at about
    4.6 % of them by chance (3.7 expected), so "every point within 2 SE" would fail an
    exact theory 98 % of the time. Checked instead, with fixed seeds: (a) at most 9 of 81
    beyond 2 SE (P = 0.3 % for an exact theory), (b) none beyond 4 SE (P = 0.5 %), (c) no
    bias: the mean z over the 81 is within +-0.5 (its noise is 0.11). The closed form
    alone fails (b) and (c) by far."""
    zs, closed_z = [], []
    for d, draws in ((20, 4000), (50, 2000), (80, 1500)):
        for nu in range(-4, 5):
            n = d + nu
            m, se = reference(n, d, draws, seed=7)
            se_all = np.hypot(se, _table_sem(n, d))
            zs += [(d, n, db, float(z)) for db, z in
                   zip((0, 10, 20), (theory.cka(n, d, SNR) - m) / se_all)]
            closed_z += list((theory.cka(n, d, SNR, exact_threshold=False) - m) / se)
    z = np.array([t[3] for t in zs])
    beyond2 = [(d, n, db, round(v, 1)) for d, n, db, v in zs if abs(v) > 2.0]
    assert len(beyond2) <= 9, beyond2
    assert np.all(np.abs(z) < 4.0), [t for t in zs if abs(t[3]) >= 4.0]
    assert abs(z.mean()) < 0.5, z.mean()
    # the test has teeth: the closed form alone is biased low by many standard errors
    cz = np.array(closed_z)
    assert np.sum(np.abs(cz) > 4.0) >= 20 and cz.mean() < -2.0


def test_bidiagonal_sampler_agrees_with_dense_designs():
    # engine.theory_exact's O(r) sampler against the pseudo-inverse reference, small d
    for n, d in ((10, 12), (12, 12), (15, 12)):
        m, se = cka_min_norm(n, d, SNR, designs=3000, seed=3)
        r, rse = reference(n, d, 3000, seed=4)
        assert np.all(np.abs(m - r) < 3.0 * np.hypot(se, rse)), (n, d, m, r)


def test_exact_threshold_is_continuous_and_vanishes_far_from_the_threshold():
    d = 50
    n = np.linspace(2, 400, 2000)
    c = theory.cka(n, d, 10.0)
    assert np.all(np.isfinite(c)) and np.all((0 <= c) & (c <= 1))
    assert np.max(np.abs(np.diff(c))) < 0.05  # no jump where the table ends
    far = np.array([150.0, 300.0])
    assert np.allclose(theory.cka(far, d, 10.0), theory.cka(far, d, 10.0,
                                                            exact_threshold=False))
    assert theory.threshold_correction(d, d, np.inf) == 0.0
    # a ridge fit gets the correction scaled by the noise energy it keeps: smaller for a
    # larger ridge, the ridgeless one as lam -> 0
    def corr(lam):
        return float(theory.cka(52, 50, 100.0, ridge=lam)
                     - theory.cka(52, 50, 100.0, ridge=lam, exact_threshold=False))
    full = float(theory.threshold_correction(52, 50, 100.0))
    assert full > 0.05 and 0 < corr(0.3) < corr(0.01) < full
    assert corr(1e-12) == pytest.approx(full, rel=1e-6)
    # II follows the corrected CKA (Delta(sqrt(cka)))
    assert theory.ii(52, 50, 100.0) == pytest.approx(
        float(theory.ii_of_rho(np.sqrt(theory.cka(52, 50, 100.0)))))


def test_the_dashboard_curve_carries_the_exact_values():
    ns = np.geomspace(2, 800, 500)
    out = theory.curves(80.0, 100.0, ns)
    assert np.array_equal(out["cka"], theory.cka(ns, 80.0, 100.0))
    assert np.array_equal(out["ii_score"], 1.0 - theory.ii(ns, 80.0, 100.0))
