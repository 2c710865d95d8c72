"""The analytic linear theory (engine/theory.py), checked against

- the integral that defines Delta(rho) (quadrature and Monte-Carlo) and the exact
  Information Imbalance of sampled Gaussians,
- our own numpy Monte-Carlo of minimum-norm (pinv) and ridge solutions, independent of
  the engine,
- the engine's own training, in a reduced version of experiments.linear_theory.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from noisealign.engine import theory as T

# ----------------------------------------------------------------------------- Delta(rho)


def _delta_by_quadrature(rho: float, nb: int = 400, nt: int = 200) -> float:
    """docs/science.md 3's integral, 2 E[Phi(B_i + r) - Phi(B_i - r)], by Gauss-Legendre.

    With b = B_i ~ N(0, 1) and B_j | B_i = rho^2 b + sqrt(1 - rho^4) t, t ~ N(0, 1):
    r = |-(1 - rho^2) b + sqrt(1 - rho^4) t|; the t-integral is split at the kink r = 0.
    """
    a, c = 1 - rho ** 2, math.sqrt(1 - rho ** 4)
    xb, wb = np.polynomial.legendre.leggauss(nb)
    b, wb = 9 * xb, 9 * wb
    xt, wt = np.polynomial.legendre.leggauss(nt)
    t0 = a * b / c
    total = 0.0
    for sign in (-1, 1):
        t = t0[:, None] + sign * 5 * (xt[None, :] + 1)
        r = np.abs(-a * b[:, None] + c * t)
        f = np.exp(-(b[:, None] ** 2 + t ** 2) / 2) / (2 * np.pi) * (
            ndtr(b[:, None] + r) - ndtr(b[:, None] - r))
        total += 2 * np.sum(wb[:, None] * 5 * wt[None, :] * f)
    return total


def test_delta_known_values_and_limits():
    assert float(T.ii_of_rho(0.0)) == pytest.approx(1.0, abs=1e-12)
    assert float(T.ii_of_rho(1.0)) == 0.0
    assert float(T.ii_of_rho(0.9)) == pytest.approx(0.516, abs=1e-3)
    assert float(T.ii_of_rho(0.99)) == pytest.approx(0.178, abs=1e-3)
    # (4/pi) sqrt(1 - rho^2) as rho -> 1
    for rho in (0.999, 0.99999):
        ratio = float(T.ii_of_rho(rho)) / (4 / np.pi * math.sqrt(1 - rho ** 2))
        assert ratio == pytest.approx(1.0, abs=5 * (1 - rho ** 2))
    # depends on rho^2 only, decreasing in |rho|, vectorised
    r = np.linspace(-1, 1, 201)
    v = T.ii_of_rho(r)
    assert v.shape == r.shape
    np.testing.assert_allclose(v, v[::-1], atol=1e-15)
    assert np.all(np.diff(v[100:]) < 0)


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6, 0.9, 0.99, 0.999])
def test_delta_matches_quadrature_of_the_defining_integral(rho):
    assert float(T.ii_of_rho(rho)) == pytest.approx(_delta_by_quadrature(rho), abs=1e-9)


def test_delta_matches_monte_carlo_of_the_defining_integral():
    rng = np.random.default_rng(0)
    m = 400_000
    for rho in (0.2, 0.7, 0.95):
        s = math.sqrt(1 - rho ** 2)
        a, zi, zj = rng.standard_normal((3, m))
        bi, bj = rho * a + s * zi, rho * a + s * zj
        r = np.abs(bj - bi)
        v = 2 * (ndtr(bi + r) - ndtr(bi - r))
        se = v.std() / math.sqrt(m)
        assert abs(v.mean() - float(T.ii_of_rho(rho))) < max(1e-3, 4 * se)


def test_delta_matches_the_exact_information_imbalance_of_gaussian_samples():
    """The large-N limit is what noisealign.engine.measures.core computes at N = 2000 (k = 1)."""
    from noisealign.engine.measures import core as measures
    rng = np.random.default_rng(1)
    for rho in (0.5, 0.9):
        vals = []
        for _ in range(3):
            a = rng.standard_normal(2000)
            b = rho * a + math.sqrt(1 - rho ** 2) * rng.standard_normal(2000)
            vals.extend(measures.information_imbalance(a[:, None], b[:, None], k=1))
        assert np.mean(vals) == pytest.approx(float(T.ii_of_rho(rho)), abs=0.02)


def test_ii_of_rho_rejects_values_outside_minus_one_one():
    with pytest.raises(ValueError, match="rho"):
        T.ii_of_rho(1.5)
    with pytest.raises(ValueError, match="rho"):
        T.ii_of_rho([0.1, np.nan])


# ----------------------------------------------------------------------------- ridgeless


def _science_rho(n, d, snr):
    return 1 / (1 + d / ((abs(d - n) - 1) * snr))


def _science_error(n, d, snr):
    s2 = 1 / snr
    return (1 - n / d) + s2 * n / (d - n - 1) if n < d else s2 * d / (n - d - 1)


@pytest.mark.parametrize("d", [20, 100, 1000])
@pytest.mark.parametrize("snr", [0.5, 1.0, 10.0])
def test_ridgeless_reproduces_the_science_formulas_away_from_the_threshold(d, snr):
    ns = [n for n in (1, 2, d // 4, d // 2, d - 10, d - 30, d + 10, d + 30, 2 * d, 5 * d)
          if n >= 1 and abs(n - d) >= 10]
    for n in ns:
        t = T.theory(n, d, snr)
        tol = 5e-3 if abs(n - d) >= 10 else 0
        tol = 1e-3 if abs(n - d) >= 30 else tol
        assert float(t.rho) == pytest.approx(_science_rho(n, d, snr), rel=tol)
        assert float(t.test_error) == pytest.approx(_science_error(n, d, snr), rel=tol)
        assert float(t.cka_large_d) == pytest.approx(float(t.rho) ** 2)
        assert float(t.ii_large_d) == pytest.approx(float(T.ii_of_rho(t.rho)))


def _pinv_ensemble(rng, n, d, snr, members, reps, lam=0.0):
    """Our own simulation: members' solutions on shared X, own noise. Returns arrays.

    Per repetition: mean over pairs of cos and cos^2 and Delta(cos), and the mean over
    members of |beta_m - beta|^2, and of beta_a . beta_b and |beta_a|^2 (for rho as the
    ratio of expectations).
    """
    iu = np.triu_indices(members, 1)
    out = {k: [] for k in ("cos2", "delta", "err", "dot", "sq")}
    for _ in range(reps):
        x = rng.standard_normal((n, d))
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        y = x @ beta + rng.standard_normal((members, n)) / math.sqrt(snr)
        if lam == 0:
            b = y @ np.linalg.pinv(x).T
        else:
            b = np.linalg.solve(x.T @ x + n * lam * np.eye(d), x.T @ y.T).T
        g = b @ b.T
        nrm = np.sqrt(np.diag(g))
        cos = (g / np.outer(nrm, nrm))[iu]
        out["cos2"].append(np.mean(cos ** 2))
        out["delta"].append(np.mean(T.ii_of_rho(np.clip(cos, -1, 1))))
        out["err"].append(np.mean(np.sum((b - beta) ** 2, axis=1)))
        out["dot"].append(np.mean(g[iu]))
        out["sq"].append(np.mean(np.diag(g)))
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("snr", [1.0, 10.0])
def test_theory_matches_a_monte_carlo_of_min_norm_solutions(snr):
    rng = np.random.default_rng(7)
    d = 60
    for n in (20, 45, 80, 150):
        mc = _pinv_ensemble(rng, n, d, snr, members=4, reps=150)
        t = T.theory(n, d, snr)
        assert float(t.rho) == pytest.approx(mc["dot"].mean() / mc["sq"].mean(), abs=0.03)
        assert float(t.test_error) == pytest.approx(mc["err"].mean(), rel=0.08)
        assert float(t.cka) == pytest.approx(mc["cos2"].mean(), abs=0.035)
        assert float(t.ii) == pytest.approx(mc["delta"].mean(), abs=0.03)


def test_finite_size_correction_is_needed_near_the_threshold():
    """At d = 60, n = 50, SNR 1 the members' noise parts share the weak directions of X:
    E[cos^2] is several times rho^2; the finite-d cka tracks it, rho^2 does not."""
    rng = np.random.default_rng(3)
    mc = _pinv_ensemble(rng, 50, 60, 1.0, members=4, reps=200)
    t = T.theory(50, 60, 1.0)
    assert mc["cos2"].mean() > 3 * float(t.cka_large_d)
    assert abs(float(t.cka) - mc["cos2"].mean()) < 0.03
    assert abs(float(t.cka_large_d) - mc["cos2"].mean()) > 0.05


# ----------------------------------------------------------------------------- threshold


@pytest.mark.parametrize("d", [1, 10, 100, 2000])
@pytest.mark.parametrize("snr", [0.1, 1.0, 10.0, math.inf])
def test_threshold_neighbourhood_is_finite_and_smooth(d, snr):
    n = np.linspace(max(1.0, d - 4), d + 4, 801)
    with np.errstate(all="raise"):
        t = T.theory(n, d, snr)
    for name in ("rho", "cka", "ii", "test_error", "cka_large_d", "ii_large_d"):
        v = getattr(t, name)
        assert np.all(np.isfinite(v)), name
    assert np.all((t.cka >= 0) & (t.cka <= 1) & (t.ii >= 0) & (t.ii <= 1))
    assert np.all(t.test_error >= 0)
    # continuous: no jumps between neighbours 0.01 apart
    assert np.max(np.abs(np.diff(t.cka))) < 0.02
    assert np.max(np.abs(np.diff(t.rho))) < 0.02
    if math.isfinite(snr):
        assert np.max(np.abs(np.diff(np.log(t.test_error)))) < 0.05
        # the test-error peak and the rho minimum sit at the threshold
        assert abs(n[np.argmax(t.test_error)] - d) <= 1.0
        assert abs(n[np.argmin(t.rho)] - d) <= 1.0
    # integers right at the threshold are finite too
    ti = T.theory(np.array([d - 1, d, d + 1], float).clip(1), d, snr)
    assert np.all(np.isfinite(ti.test_error)) and np.all(np.isfinite(ti.cka))


def test_threshold_values_are_near_the_typical_finite_d_values():
    """At n = d the expectation of the test error is infinite; the theory gives a typical
    value. cos^2 there is about 1/2 (noise of both members along the weakest direction)."""
    rng = np.random.default_rng(11)
    mc = _pinv_ensemble(rng, 60, 60, 1.0, members=4, reps=120)
    t = T.theory(60, 60, 1.0)
    assert float(t.cka) == pytest.approx(mc["cos2"].mean(), abs=0.08)
    med = np.median(mc["err"])
    assert med / 3 < float(t.test_error) < 3 * med


# ----------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("kwargs, name", [
    ({"n": 0, "d": 10, "snr": 1}, "n"),
    ({"n": 0.5, "d": 10, "snr": 1}, "n"),
    ({"n": [5, np.nan], "d": 10, "snr": 1}, "n"),
    ({"n": 5, "d": 0, "snr": 1}, "d"),
    ({"n": 5, "d": np.inf, "snr": 1}, "d"),
    ({"n": 5, "d": 10, "snr": 0}, "snr"),
    ({"n": 5, "d": 10, "snr": -3}, "snr"),
    ({"n": 5, "d": 10, "snr": np.nan}, "snr"),
    ({"n": 5, "d": 10, "snr": "loud"}, "snr"),
    ({"n": 5, "d": 10, "snr": 1, "weight_decay": -0.1}, "weight_decay"),
    ({"n": 5, "d": 10, "snr": 1, "weight_decay": np.inf}, "weight_decay"),
    ({"n": 5, "d": 10, "snr": 1, "ridge": -1.0}, "ridge"),
    ({"n": 5, "d": 10, "snr": 1, "weight_decay": 0.1, "ridge": 0.1}, "weight_decay"),
])
def test_invalid_inputs_name_the_argument(kwargs, name):
    for fn in (T.rho, T.cka, T.ii, T.test_error):
        with pytest.raises(ValueError, match=rf"^{name}=.*allowed"):
            fn(**kwargs)


def test_curves_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_values"):
        T.curves(100, 10, [])
    with pytest.raises(ValueError, match="^d="):
        T.curves([100, 200], 10, [10, 20])
    with pytest.raises(ValueError, match="^n="):
        T.curves(100, 10, [0, 10])


def test_noise_free_members_agree_exactly():
    n = np.array([1, 50, 99, 100, 101, 300])
    t = T.theory(n, 100, math.inf)
    np.testing.assert_allclose(t.rho, 1.0)
    np.testing.assert_allclose(t.cka, 1.0)
    np.testing.assert_allclose(t.ii, 0.0, atol=1e-12)
    np.testing.assert_allclose(t.test_error, np.maximum(0, 1 - n / 100), atol=1e-12)


def test_arrays_broadcast():
    n = np.array([[20.0], [80.0], [150.0]])
    snr = np.array([1.0, 10.0])
    out = T.rho(n, 100, snr)
    assert out.shape == (3, 2)
    assert out[1, 0] == pytest.approx(float(T.rho(80, 100, 1.0)))
    assert T.test_error(n, 100, snr, ridge=np.array([0.0, 0.1])).shape == (3, 2)
    assert np.ndim(T.cka(50, 100, 10)) == 0


def test_alignment_rises_with_snr_and_dips_at_the_threshold():
    n = np.linspace(5, 300, 300)
    low, high = T.curves(100, 1.0, n), T.curves(100, 10.0, n)
    assert np.all(high["rho"] > low["rho"])
    # CKA and II are blind to the sign of cos: within a few points of n = d the noise of
    # both members lies along the same weakest direction of X, and more noise means MORE
    # collinear members (a finite-d effect, also in the Monte-Carlo; see the docs)
    away = np.abs(n - 100) > 5
    assert np.all(high["cka"][away] > low["cka"][away])
    assert np.all(high["ii"][away] < low["ii"][away])
    assert float(T.cka(100, 100, 1.0)) > float(T.cka(100, 100, 10.0))
    assert abs(n[np.argmin(low["rho"])] - 100) < 2
    assert abs(n[np.argmax(low["test_error"])] - 100) < 2


def test_curves_contract():
    n = np.linspace(1, 300, 500)
    c = T.curves(100, 10.0, n)
    for key in ("n", "rho", "cka", "ii", "ii_score", "test_error"):
        assert c[key].shape == (500,) and np.all(np.isfinite(c[key])), key
    np.testing.assert_allclose(c["ii_score"], 1 - c["ii"])
    np.testing.assert_allclose(c["n"], n)
    np.testing.assert_allclose(c["cka_large_d"], c["rho"] ** 2)
    np.testing.assert_allclose(c["test_error"], c["bias"] + c["variance"])


# ----------------------------------------------------------------------------- ridge


@pytest.mark.parametrize("d", [30, 100])
@pytest.mark.parametrize("snr", [1.0, 10.0])
def test_ridge_reduces_to_ridgeless_as_lambda_goes_to_zero(d, snr):
    n = np.concatenate([np.arange(1, 3 * d, 7), np.arange(d - 3, d + 4)]).astype(float)
    t0 = T.theory(n, d, snr)
    prev = None
    for lam in (1e-2, 1e-4, 1e-6, 1e-9, 1e-12):
        t = T.theory(n, d, snr, ridge=lam)
        gap = max(np.max(np.abs(t.rho - t0.rho)), np.max(np.abs(t.cka - t0.cka)),
                  np.max(np.abs(t.test_error / t0.test_error - 1)))
        if prev is not None:
            assert gap <= prev + 1e-12  # closer as lam decreases
        prev = gap
    assert prev < 1e-5
    # and through the weight-decay mapping
    tw = T.theory(n, d, snr, 1e-12)
    np.testing.assert_allclose(tw.test_error, t0.test_error, rtol=1e-5)


def test_ridge_matches_a_monte_carlo_of_ridge_solutions():
    rng = np.random.default_rng(5)
    d = 60
    for lam in (0.01, 0.3):
        for n in (30, 60, 120):
            mc = _pinv_ensemble(rng, n, d, 10.0, members=4, reps=80, lam=lam)
            t = T.theory(n, d, 10.0, ridge=lam)
            assert float(t.test_error) == pytest.approx(mc["err"].mean(), rel=0.08)
            assert float(t.rho) == pytest.approx(mc["dot"].mean() / mc["sq"].mean(), abs=0.03)
            assert float(t.cka) == pytest.approx(mc["cos2"].mean(), abs=0.035)


def test_ridge_tames_the_threshold_peak_and_raises_alignment():
    lam = np.array([0.0, 0.01, 0.1, 1.0])
    err = T.test_error(100, 100, 10.0, ridge=lam)
    assert err[0] > 30 * err[2] and err[1] > err[2] < err[3]  # optimum near sigma^2 = 0.1
    assert np.all(np.diff(T.rho(100, 100, 10.0, ridge=lam)) > 0)  # shrinkage aligns


def test_weight_decay_maps_to_a_self_consistent_ridge():
    n = np.array([20.0, 90.0, 100.0, 110.0, 300.0])
    for wd in (0.01, 0.1, 1.0):
        lam = T.ridge_from_weight_decay(n, 100, 10.0, wd)
        assert np.all(np.isfinite(lam)) and np.all(lam > 0)
        t = T.theory(n, 100, 10.0, ridge=lam)
        norm2 = T._norm2(n, 100.0, 0.1, lam)  # deterministic equivalent of |beta_lam|^2
        np.testing.assert_allclose(2 * lam * np.sqrt(norm2), wd, rtol=1e-8)
        t_wd = T.theory(n, 100, 10.0, wd)
        np.testing.assert_allclose(t_wd.rho, t.rho)
        np.testing.assert_allclose(t_wd.ridge, lam)
    lams = [float(T.ridge_from_weight_decay(50, 100, 10.0, w)) for w in (0.01, 0.1, 1.0)]
    assert lams[0] < lams[1] < lams[2]


def test_weight_decay_mapping_matches_the_global_minimum_of_the_norm_penalty():
    """min (1/n)|X b - y|^2 + wd |b| (the weight-decayed two-layer net at its minimum) is a
    ridge solution with lam = wd / (2|b|); its lam agrees with the theory's mapping."""
    rng = np.random.default_rng(2)
    d, n, snr, wd = 200, 300, 10.0, 0.2
    lams = []
    for _ in range(5):
        x = rng.standard_normal((n, d))
        beta = rng.standard_normal(d)
        beta /= np.linalg.norm(beta)
        y = x @ beta + rng.standard_normal(n) / math.sqrt(snr)
        lam = 0.05
        for _ in range(200):  # fixed point of lam = wd / (2 |b_lam|)
            b = np.linalg.solve(x.T @ x + n * lam * np.eye(d), x.T @ y)
            lam = 0.5 * lam + 0.5 * wd / (2 * np.linalg.norm(b))
        # it is a stationary point of the norm-penalised loss
        grad = 2 / n * x.T @ (x @ b - y) + wd * b / np.linalg.norm(b)
        assert np.linalg.norm(grad) < 1e-8
        lams.append(lam)
    assert np.mean(lams) == pytest.approx(float(T.ridge_from_weight_decay(n, d, snr, wd)),
                                          rel=0.03)


def test_large_weight_decay_collapses_the_network():
    wmax = float(T.collapse_weight_decay(50, 100, 10.0))
    t = T.theory(50, 100, 10.0, np.array([0.5 * wmax, 1.01 * wmax, 5 * wmax]))
    assert np.isfinite(t.ridge[0]) and np.all(np.isinf(t.ridge[1:]))
    np.testing.assert_allclose(t.rho[1:], 0.0)
    np.testing.assert_allclose(t.ii[1:], 1.0)
    np.testing.assert_allclose(t.test_error[1:], 1.0)


# ----------------------------------------------------------------------------- the engine


def test_engine_training_agrees_with_theory_reduced():
    """Reduced version of experiments.linear_theory: d = 30, n = 15 and 60 (|n - d| > 5),
    SNR 1 and 10, K = 8 members, 6 data seeds, 500 probe points. Same tolerances as the
    full check (II 0.05, CKA 0.05, test error 15 %), on the mean over seeds: one seed's
    mean varies by up to 0.08 in CKA and 20 % in test error at d = 30 (the members share
    one X), so a single seed would not be a fair test of the theory."""
    from experiments import linear_theory as lt
    recs = []
    for snr in (1.0, 10.0):
        for n in (15, 60):
            for seed in range(6):
                r = lt.run_point(30, n, snr, seed, n_probe=500)
                r["group"] = "main"
                recs.append(r)
                # training reached the minimum-norm solution, and the hidden layer is
                # rank one: its II equals that of the 1-D projections beta_m . x
                assert r["gd_vs_ref"] < 5e-3
                assert r["rank_one_residual"] < 1e-3
                assert abs(0.5 * (r["ii_ab"] + r["ii_ba"]) - r["ii_output"]) < 0.01
    rows = lt.aggregate(recs)
    assert len(rows) == 4
    for row in rows:
        assert row["ok_ii"] and row["ok_cka"] and row["ok_test_error"], row


def test_engine_weight_decay_is_a_ridge_and_large_init_is_not_rank_one():
    from experiments import linear_theory as lt
    # weight decay: the trained net is the ridge solution with lam = wd / (2 |beta|),
    # and that lam is the one the theory predicts
    r = lt.run_point(30, 60, 10.0, 0, n_probe=500, weight_decay=0.1)
    assert r["gd_vs_own_ridge"] < 5e-3
    assert r["lam_net"] == pytest.approx(r["lam_theory"], rel=0.1)
    # a large init: the hidden layer keeps a random copy of the input (not rank one), so
    # the measured II of the hidden layer departs from the rank-one theory
    big = lt.run_point(30, 15, 10.0, 0, n_probe=500, init_scale=1.0)
    assert big["rank_one_residual"] > 0.3
    assert abs(0.5 * (big["ii_ab"] + big["ii_ba"]) - float(T.ii(15, 30, 10.0))) > 0.2
