"""Analytic linear theory (docs/science.md section 3): alignment and test error without training.

The model. Teacher ``x ~ N(0, I_d)``, ``y = beta . x + sigma * eps``, ``|beta| = 1``,
``SNR = 1 / sigma^2``. Every member ``m`` of the ensemble sees the same ``n`` inputs ``X``
(shape (n, d)) and its own noise ``eps_m``. A one-hidden-layer linear network trained by
gradient descent from a small initialisation ends at the minimum-norm least-squares
solution ``beta_m = pinv(X) y_m``; with weight decay, at a ridge solution (see below).
Writing ``beta_m = s + sigma * u_m``, the two members share the signal part
``s = pinv(X) X beta`` and have independent noise parts ``u_m`` with covariance
``G = pinv(X) pinv(X)^T``.

What is computed (all vectorised, broadcasting over n, d, snr, weight decay):

- ``rho = E[beta_a . beta_b] / E[|beta_a|^2] = S / (S + N1)`` with ``S = E|s|^2`` and
  ``N1 = sigma^2 E tr G`` (the formula of docs/science.md 3). Away from the threshold these
  are exact finite-d expectations: ``S = min(n, d) / d`` and
  ``E tr G = min(n, d) / (|n - d| - 1)`` (the mean of an inverse Wishart matrix).
- ``test_error = E|beta_m - beta|^2``: the engine's test error (MSE against CLEAN
  targets, so the irreducible ``sigma^2`` is NOT included), exact for ``|n - d| >= 2``:
  ``(1 - n/d) + sigma^2 n / (d - n - 1)`` below and ``sigma^2 d / (n - d - 1)`` above.
- ``cka``: the expected linear CKA of the two members' (rank-one) representations, i.e.
  ``E[cos^2(beta_a, beta_b)]`` on a large probe set. For ``d -> infinity`` at a fixed
  ``n / d`` it is ``rho^2`` (docs/science.md), available as ``finite_size=False``. At finite
  ``d`` the noise parts of two members are NOT isotropic: both are drawn from the same
  covariance ``G``, whose weight sits on the smallest singular directions of the shared
  ``X``. Their squared cosine is then about the inverse participation ratio
  ``h = tr G^2 / (tr G)^2`` instead of ``1 / d``, and near the threshold it approaches
  ``1/2`` (at ``n = d``) rather than 0. We use
  ``cka = (S^2 + v + 2 sigma^2 E[s.G s] + h N1^2) / ((S + N1)^2 + v)``
  (``v`` the variance of ``|s|^2`` over the teacher direction) with
  ``h = max(n, d) / (min(n, d) (|n - d| + 2))``. The ``+2`` is the typical ("quenched")
  value at the hard edge, checked against a Monte-Carlo of pinv solutions (the
  ratio of the expectations, ``|n - d| - 2``, overestimates it because of heavy tails).
- ``ii``: the large-N Information Imbalance (k = 1, both directions are equal) of the
  members' rank-one representations, ``Delta(sqrt(cka))`` (``Delta(rho)`` with
  ``finite_size=False``). ``Delta`` of two standard 1-D Gaussians with correlation
  ``rho`` has a closed form, derived in docs/linear_theory.md from the integral of
  docs/science.md 3: ``Delta(rho) = (2/pi) (arctan c + arctan 3c)``,
  ``c = sqrt((1 - rho^2) / (3 + rho^2))``.

Exact next to the threshold. Within ``|n - d| <= 48`` the ridgeless CKA (and with it
``ii``) adds a tabulated correction: the difference between a Monte-Carlo of the exact
minimum-norm fits over Gaussian designs (:mod:`engine.theory_exact`, 12000 designs per
point at d <= 80, 4000 above) and the closed form below, interpolated in ``n - d``,
``log d`` (clamped to 200; none below d = 10) and SNR in dB (clamped to -20..60); a
ridge fit gets it scaled by the noise energy the ridge keeps. The closed form puts
the CKA too low there at SNR >= 10 dB (d = 80, n = 82, 20 dB: 0.43 instead of 0.54);
pass ``exact_threshold=False`` for it alone. ``rho`` keeps the closed form (the ratio of
expectations it is defined by is infinite at ``|n - d| <= 1``).

The threshold neighbourhood of the closed form. At ``|n - d| <= 1`` the expected noise energy is infinite
(the smallest singular value of ``X`` is O(1/sqrt d) and ``E[1 / s_min^2]`` diverges), and
at ``|n - d| = 2, 3`` it is dominated by rare samples. We replace the gap ``|n - d| - 1``
by a smooth positive floor ``g = ((|n-d| - 1) + sqrt((|n-d| - 1)^2 + 4 b)) / 2`` with
``b = THRESHOLD_FLOOR``: ``g -> |n - d| - 1`` away from the threshold (0.4 % off at
``|n - d| = 10``) and ``g(0) ~ 0.3``, which puts the noise energy at ``n = d`` near its
typical (median) finite-d value of about ``3 d sigma^2`` rather than at infinity. Values at
``|n - d| <= 3`` are therefore typical values, not expectations (the expectation of the
test error there is infinite); the docs show them against simulation.

Weight decay. The engine's ``weight_decay`` ``w`` adds ``w * theta`` to the gradient of
every parameter of both layers, i.e. minimises ``L + (w/2)(|W|^2 + |a|^2)`` with
``L = mean((f - y)^2)``. For a given end-to-end map ``beta = W^T a`` the smallest
``|W|^2 + |a|^2`` is ``2 |beta|`` (balanced rank-one factors), so the global minimum solves
``min (1/n)|X beta - y|^2 + w |beta|`` -- a norm penalty, not a squared one. Its
stationarity condition is that of ridge regression ``min (1/n)|X beta - y|^2 + lam |beta|^2``
with ``lam = w / (2 |beta|)``, so the trained map IS a ridge solution, with a ``lam`` that
depends on its own norm. :func:`ridge_from_weight_decay` solves that self-consistency with
the deterministic equivalent of ``|beta|^2`` (exact as ``d -> infinity``; each member's
own norm fluctuates by O(1/sqrt d)). When ``w >= 2 |X^T y / n|`` the minimum is
``beta = 0`` (the network collapses; returned as ``rho = cka = 0``, ``ii = 1``,
``test_error = 1``). Pass ``ridge=lam`` to use a ridge parameter directly.

Ridge spectra. For ``lam > 0`` every quantity is a spectral functional of ``X^T X``, taken
from the Marchenko-Pastur law (deterministic equivalents, no Monte-Carlo) of the
``min(n, d)`` non-zero eigenvalues, with the aspect ratio shifted to
``1 - g / max(n, d)`` so that ``lam -> 0`` gives the exact ridgeless values above (the
uncorrected law gives ``|n - d|`` in place of ``|n - d| - 1``). Small ridges use the
algebraic Stieltjes transform and its derivatives; larger ones Gauss-Chebyshev quadrature
of the density, so that nothing cancels catastrophically.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base.errors import SpecError
from .pipeline.constraints import snr_ratio_to_db

# The exact-minus-closed-form correction next to n = d, written by engine/theory_exact.py
# (which builds it from this module's closed form; the table's reader lives here).
TABLE_PATH = Path(__file__).with_name("theory_threshold.json")

__all__ = [
    "THRESHOLD_FLOOR", "LinearTheory", "theory", "rho", "cka", "ii", "ii_of_rho",
    "test_error", "curves", "ridge_from_weight_decay", "collapse_weight_decay",
    "noise_variance", "threshold_correction",
]

# b of the smooth gap floor g = ((nu - 1) + sqrt((nu - 1)^2 + 4 b)) / 2, nu = |n - d|.
# g(0) = 0.30: the median of tr G at n = d is about 3 min(n, d) (Monte-Carlo, d = 30..400).
THRESHOLD_FLOOR = 0.39
# Shift of the inverse participation ratio h = max / (min (nu + IPR_SHIFT)) of the noise.
IPR_SHIFT = 2.0

_QUAD_NODES = 48
# Use the quadrature when the pole -lam of the integrand is at least this far from the
# spectrum's lower edge; below it the Stieltjes recursion is used (no cancellation there).
_QUAD_MIN_DISTANCE = 0.25


# ----------------------------------------------------------------------------- validation


def _as_array(name: str, value: Any, *, lo: float, lo_open: bool = False,
              allow_inf: bool = False, allowed: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(name, value, allowed) from None
    bad = np.isnan(a) | (a <= lo if lo_open else a < lo)
    if not allow_inf:
        bad |= np.isinf(a)
    else:
        bad |= a == -np.inf
    if np.any(bad):
        first = a[bad].flat[0] if a.ndim else float(a)
        raise SpecError(name, first, allowed)
    return a


def _inputs(n: Any, d: Any, snr: Any, weight_decay: Any, ridge: Any):
    n = _as_array("n", n, lo=1.0, allowed="a number of training points >= 1")
    d = _as_array("d", d, lo=1.0, allowed="an input dimension >= 1")
    snr = _as_array("snr", snr, lo=0.0, lo_open=True, allow_inf=True,
                    allowed="a signal-to-noise ratio > 0 (a ratio, not dB) or inf")
    wd = _as_array("weight_decay", weight_decay, lo=0.0, allowed="a number >= 0 (finite)")
    if ridge is not None:
        if np.any(wd != 0):
            raise ValueError(f"weight_decay={weight_decay!r} is invalid together with "
                             f"ridge={ridge!r}: allowed one of the two (weight_decay=0 "
                             "when ridge is given)")
        ridge = _as_array("ridge", ridge, lo=0.0, allowed="a ridge parameter >= 0 (finite)")
    return n, d, snr, wd, ridge


def noise_variance(snr: Any) -> np.ndarray:
    """sigma^2 = 1 / SNR (0 for SNR = inf): the label-noise variance of the linear teacher."""
    snr = _as_array("snr", snr, lo=0.0, lo_open=True, allow_inf=True,
                    allowed="a signal-to-noise ratio > 0 (a ratio, not dB) or inf")
    with np.errstate(divide="ignore"):
        return np.where(np.isinf(snr), 0.0, 1.0 / snr)


# ----------------------------------------------------------------------------- Delta(rho)


def ii_of_rho(rho: Any) -> np.ndarray:
    """Large-N Information Imbalance (k = 1) of two standard 1-D Gaussians, correlation rho.

    ``Delta(rho) = 2 E[Phi(B_i + r) - Phi(B_i - r)]`` (docs/science.md 3) in closed form:
    ``(2/pi) (arctan c + arctan 3c)`` with ``c = sqrt((1 - rho^2) / (3 + rho^2))``.
    ``Delta(0) = 1``, ``Delta(+-1) = 0``, ``Delta ~ (4/pi) sqrt(1 - rho^2)`` as
    ``|rho| -> 1``; it depends on ``rho^2`` only (same in both directions).
    rho: array of any shape, values in [-1, 1]. Returns float64 of the same shape.
    """
    r = _as_array("rho", rho, lo=-np.inf, allowed="a correlation in [-1, 1]")
    if np.any(np.abs(r) > 1 + 1e-9):
        first = r[np.abs(r) > 1 + 1e-9].flat[0]
        raise ValueError(f"rho={first!r} is invalid: allowed a correlation in [-1, 1]")
    r2 = np.minimum(r * r, 1.0)
    c = np.sqrt((1.0 - r2) / (3.0 + r2))
    return (2.0 / np.pi) * (np.arctan(c) + np.arctan(3.0 * c))


# ----------------------------------------------------------------------------- exact table


# Below this input dimension the table has no entries and the closed form is used.
TABLE_MIN_D = 10


@functools.lru_cache(maxsize=1)
def _threshold_table() -> dict[str, np.ndarray] | None:
    """The correction table of engine.theory_exact (None if its file is missing)."""
    try:
        raw = json.loads(TABLE_PATH.read_text())
    except (OSError, ValueError):
        return None
    corr = np.array(raw["correction"], dtype=float)
    return {"d": np.log(np.array(raw["d"], float)), "nu": np.array(raw["nu"], float),
            "snr_db": np.array(raw["snr_db"], float), "nu_zero": float(raw["nu_zero"]),
            "corr": np.nan_to_num(corr, nan=0.0)}


def _lin_index(grid: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left node index and weight of the right node for linear interpolation (clamped)."""
    x = np.clip(x, grid[0], grid[-1])
    i = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 2)
    w = (x - grid[i]) / (grid[i + 1] - grid[i])
    return i, w


def threshold_correction(n: Any, d: Any, snr: Any) -> np.ndarray:
    """Exact-minus-closed-form CKA next to the threshold (0 far from it), interpolated
    from the table of :mod:`engine.theory_exact`; 0 at SNR = inf or without the table."""
    tab = _threshold_table()
    n, d, snr = np.broadcast_arrays(np.asarray(n, float), np.asarray(d, float),
                                    np.asarray(snr, float))
    if tab is None:
        return np.zeros(n.shape)
    small_d = d < TABLE_MIN_D  # not tabulated (and min(n, d) < 10: few directions)
    nu = n - d
    order = np.argsort(tab["nu"])
    nu_grid, corr = tab["nu"][order], tab["corr"][:, order, :]
    edge = nu_grid[-1]
    with np.errstate(divide="ignore"):
        db = np.where(np.isinf(snr), tab["snr_db"][-1], snr_ratio_to_db(snr))
    (i, wi), (j, wj), (k, wk) = (_lin_index(tab["d"], np.log(d)), _lin_index(nu_grid, nu),
                                 _lin_index(tab["snr_db"], db))
    val = np.zeros(n.shape)
    for di, dw in ((i, 1 - wi), (i + 1, wi)):
        for nj, nw in ((j, 1 - wj), (j + 1, wj)):
            for sk, sw in ((k, 1 - wk), (k + 1, wk)):
                val += dw * nw * sw * corr[di, nj, sk]
    # beyond the last tabulated |nu| the correction tapers linearly to 0 at nu_zero
    taper = np.clip((tab["nu_zero"] - np.abs(nu)) / (tab["nu_zero"] - edge), 0.0, 1.0)
    return np.where(np.isinf(snr) | small_d, 0.0, val * taper)


# ----------------------------------------------------------------------------- spectra


def _gap(nu: np.ndarray) -> np.ndarray:
    """Smooth positive version of nu - 1 (see the module docstring)."""
    x = nu - 1.0
    return 0.5 * (x + np.sqrt(x * x + 4.0 * THRESHOLD_FLOOR))


def _stieltjes_coeffs(q: np.ndarray, lam: np.ndarray, kmax: int) -> list[np.ndarray]:
    """R_k = E[(mu + lam)^-k], k = 0..kmax, for the Marchenko-Pastur law of ratio q < 1.

    mu has mean 1 and support [(1 - sqrt q)^2, (1 + sqrt q)^2]. The Stieltjes transform
    m(z) = E[1 / (mu - z)] solves q z m^2 - (1 - q - z) m + 1 = 0; R_k is the (k-1)-th
    Taylor coefficient of m at z = -lam, found order by order from that equation.
    """
    z0 = -lam
    b = 1.0 - q - z0
    disc = np.sqrt(b * b - 4.0 * q * z0)
    m = [2.0 / (b + disc)]          # the root with m > 0, written without cancellation
    slope = 2.0 * q * z0 * m[0] - b  # d/dm of the quadratic: -disc, never 0 for q < 1
    for k in range(1, kmax):
        inner = sum((m[i] * m[k - i] for i in range(1, k)), np.zeros_like(m[0]))
        prev = sum((m[i] * m[k - 1 - i] for i in range(k)), np.zeros_like(m[0]))
        m.append(-(q * z0 * inner + q * prev + m[k - 1]) / slope)
    return [np.ones_like(m[0])] + m


_NODE_T = np.cos(np.pi * np.arange(1, _QUAD_NODES + 1) / (_QUAD_NODES + 1))
_NODE_W = (np.pi / (_QUAD_NODES + 1)) * np.sin(np.pi * np.arange(1, _QUAD_NODES + 1)
                                                / (_QUAD_NODES + 1)) ** 2


def _mp_moments(q: np.ndarray, lam: np.ndarray, pairs: list[tuple[int, int]]) -> dict:
    """E[mu^j / (mu + lam)^k] for each (j, k) in pairs (j >= 1), Marchenko-Pastur ratio q.

    q, lam: broadcastable arrays, 0 <= q < 1, lam >= 0. Returns {(j, k): array}.
    """
    q, lam = np.broadcast_arrays(np.asarray(q, float), np.asarray(lam, float))
    lower = (1.0 - np.sqrt(q)) ** 2
    use_quad = lam + lower >= _QUAD_MIN_DISTANCE
    out = {pk: np.empty(q.shape) for pk in pairs}
    # Recursion (small lam near a small lower edge): binomial expansion in R_k; the terms
    # lam^i R_k are all at most O(result) there, so nothing cancels.
    rec = ~use_quad
    if rec.any():
        qr, lr = q[rec], lam[rec]
        kmax = max(k for _, k in pairs)
        R = _stieltjes_coeffs(qr, lr, kmax)
        for j, k in pairs:
            # mu^j = ((mu + lam) - lam)^j
            acc = np.zeros_like(qr)
            for i in range(j + 1):
                if k - i < 0:
                    raise AssertionError("only j <= k is needed")
                acc += math.comb(j, i) * (-lr) ** (j - i) * R[k - i]
            out[(j, k)][rec] = acc
    # Gauss-Chebyshev (2nd kind) on the density sqrt((b - mu)(mu - a)) / (2 pi q mu):
    # E[F] = (2 / pi) sum_i w_i F(mu_i) / mu_i, well defined down to q = 0.
    if use_quad.any():
        qq, lq = q[use_quad][:, None], lam[use_quad][:, None]
        mu = 1.0 + qq + 2.0 * np.sqrt(qq) * _NODE_T[None, :]
        inv = 1.0 / (mu + lq)
        # integer powers by repeated products (np.power with a general exponent is slow)
        mu_pow, inv_pow = [np.ones_like(mu)], [np.ones_like(mu)]
        for _ in range(max(max(j for j, _ in pairs) - 1, max(k for _, k in pairs))):
            mu_pow.append(mu_pow[-1] * mu)
            inv_pow.append(inv_pow[-1] * inv)
        for j, k in pairs:
            # a plain weighted sum: a BLAS matrix-vector product wakes its thread pool,
            # which costs milliseconds on a busy machine
            f = mu_pow[j - 1] * inv_pow[k] * _NODE_W
            out[(j, k)][use_quad] = (2.0 / np.pi) * np.sum(f, axis=1)
    return out


@dataclass(frozen=True)
class LinearTheory:
    """Theory values at broadcast points (every field has the broadcast shape).

    n, d, snr, weight_decay: the inputs; ridge: the ridge parameter lam used (inf where
    the network collapses to zero); rho, cka, ii (= Delta, both directions), test_error
    (MSE vs clean targets, no irreducible sigma^2), bias and variance (test_error =
    bias + variance), cka_large_d = rho^2 and ii_large_d = Delta(rho) (d -> infinity).
    """

    n: np.ndarray
    d: np.ndarray
    snr: np.ndarray
    weight_decay: np.ndarray
    ridge: np.ndarray
    rho: np.ndarray
    cka: np.ndarray
    ii: np.ndarray
    cka_large_d: np.ndarray
    ii_large_d: np.ndarray
    test_error: np.ndarray
    bias: np.ndarray
    variance: np.ndarray


def _parts(n, d, s2, lam):
    """Spectral parts at ridge lam (finite, >= 0): dict of S, v, X1, N1, h, bias."""
    r = np.minimum(n, d)
    big = np.maximum(n, d)
    nu = np.abs(n - d)
    g = _gap(nu)
    q = np.clip(1.0 - g / big, 0.0, None)
    qh = np.clip(1.0 - (nu + IPR_SHIFT) / big, 0.0, None)
    lam_s = n * lam / big  # ridge in units of the eigenvalues of (small Gram) / max(n, d)
    mom = _mp_moments(q, lam_s, [(2, 2), (4, 4), (1, 2), (3, 4)])
    momh = _mp_moments(qh, lam_s, [(1, 2), (2, 4)])
    S = (r / d) * mom[(2, 2)]
    S4 = (r / d) * mom[(4, 4)]
    v = 2.0 * np.maximum(S4 - S * S, 0.0) / (d + 2.0)
    N1 = s2 * (r / big) * mom[(1, 2)]
    X1 = s2 * (r / (d * big)) * mom[(3, 4)]
    h = momh[(2, 4)] / (r * momh[(1, 2)] ** 2)
    # |s - beta|^2: 1 for the d - r directions X never sees, lam^2/(l + lam)^2 for the rest
    # (written as 1 - E[mu (mu + 2 lam) / (mu + lam)^2] so that the 1/mu of the density
    # cancels): 1 - S - 2 lam_s E[mu / (mu + lam)^2] per seen direction.
    bias = (d - r) / d + (r / d) * np.maximum(1.0 - mom[(2, 2)] - 2.0 * lam_s * mom[(1, 2)], 0.0)
    return dict(S=S, v=v, X1=X1, N1=N1, h=h, bias=bias)


def collapse_weight_decay(n: Any, d: Any, snr: Any) -> np.ndarray:
    """Weight decay at and above which the trained network is the zero function.

    ``2 |X^T y / n|`` with its expectation ``(n + d) / n + sigma^2 d / n`` (Marchenko-
    Pastur): below it the origin is a saddle the network escapes, above it the minimum.
    """
    n, d, snr, _, _ = _inputs(n, d, snr, 0.0, None)
    s2 = noise_variance(snr)
    return 2.0 * np.sqrt((n + d) / n + s2 * d / n)


def _norm2(n, d, s2, lam):
    """Deterministic equivalent of |beta_lam|^2 = S + N1 (only what the solver needs)."""
    r = np.minimum(n, d)
    big = np.maximum(n, d)
    q = np.clip(1.0 - _gap(np.abs(n - d)) / big, 0.0, None)
    mom = _mp_moments(q, n * lam / big, [(2, 2), (1, 2)])
    return (r / d) * mom[(2, 2)] + s2 * (r / big) * mom[(1, 2)]


def _solve_ridge(n, d, s2, wd):
    """lam with 2 lam |beta_lam| = wd; inf where the network collapses.

    f(x) = x + log 2 + log|beta_lam| - log wd (x = log lam) increases from -inf to
    log(wmax / wd); a vectorised Illinois (regula falsi) iteration in x finds the root.
    """
    shape = np.broadcast(n, d, s2, wd).shape
    n, d, s2, wd = (np.broadcast_to(np.asarray(a, float), shape) for a in (n, d, s2, wd))
    lam = np.zeros(shape)
    active = wd > 0
    if not active.any():
        return lam
    wmax = 2.0 * np.sqrt((n + d) / n + s2 * d / n)
    collapsed = active & (wd >= wmax * (1 - 1e-9))
    solve = active & ~collapsed
    lam[collapsed] = np.inf
    if not solve.any():
        return lam
    nn, dd, ss, ww = n[solve], d[solve], s2[solve], wd[solve]

    def f(x):
        return x + math.log(2.0) + 0.5 * np.log(_norm2(nn, dd, ss, np.exp(x))) - np.log(ww)

    # |beta_lam| <= |beta_0| gives a lower bound; step the upper end up until f > 0.
    lo = np.log(ww / (2.0 * np.sqrt(_norm2(nn, dd, ss, np.zeros_like(ww)))))
    flo = f(lo)
    hi = lo + 4.0
    fhi = f(hi)
    for _ in range(40):
        up = fhi <= 0
        if not up.any():
            break
        lo, flo = np.where(up, hi, lo), np.where(up, fhi, flo)
        hi = np.where(up, hi + 4.0, hi)
        fhi = np.where(up, f(hi), fhi)
    side = np.zeros(ww.shape)
    for _ in range(60):
        x = hi - fhi * (hi - lo) / (fhi - flo)
        x = np.where(np.isfinite(x), x, 0.5 * (lo + hi))
        fx = f(x)
        pos = fx > 0
        # Illinois: halve the stale end's value when the same end is kept twice.
        flo = np.where(pos & (side == 1), 0.5 * flo, flo)
        fhi = np.where(~pos & (side == -1), 0.5 * fhi, fhi)
        hi, fhi = np.where(pos, x, hi), np.where(pos, fx, fhi)
        lo, flo = np.where(pos, lo, x), np.where(pos, flo, fx)
        side = np.where(pos, 1, -1)
        if np.all(np.abs(fx) < 1e-12) or np.all(hi - lo < 1e-12):
            break
    lam[solve] = np.exp(np.where(np.abs(fhi) < np.abs(flo), hi, lo))
    return lam


def ridge_from_weight_decay(n: Any, d: Any, snr: Any, weight_decay: Any) -> np.ndarray:
    """The ridge parameter lam of the end-to-end map that the engine's weight decay gives.

    Solves ``lam = weight_decay / (2 |beta_lam|)`` with the deterministic equivalent of
    ``|beta_lam|^2``; ``inf`` where the network collapses (see
    :func:`collapse_weight_decay`); 0 for no weight decay. Convention:
    ``beta_lam = argmin (1/n)|X beta - y|^2 + lam |beta|^2``.
    """
    n, d, snr, wd, _ = _inputs(n, d, snr, weight_decay, None)
    return _solve_ridge(n, d, noise_variance(snr), wd)


def theory(n: Any, d: Any, snr: Any, weight_decay: Any = 0.0, *,
           ridge: Any = None, exact_threshold: bool = True) -> LinearTheory:
    """All theory values at the broadcast points (see :class:`LinearTheory`).

    n: training points (>= 1; non-integers interpolate smoothly), d: input dimension
    (>= 1), snr: ratio 1/sigma^2 (> 0, or inf for no noise), weight_decay: the engine's
    weight decay (>= 0), or ``ridge``: the ridge parameter lam directly.
    ``exact_threshold``: add the tabulated exact min-norm correction to the ridgeless CKA
    next to n = d (module docstring); False gives the closed form alone.
    """
    n, d, snr, wd, ridge = _inputs(n, d, snr, weight_decay, ridge)
    s2 = noise_variance(snr)
    shape = np.broadcast(n, d, snr, wd, 0.0 if ridge is None else ridge).shape
    n, d, s2, snr, wd = (np.broadcast_to(a, shape) for a in (n, d, s2, snr, wd))
    lam = (_solve_ridge(n, d, s2, wd) if ridge is None
           else np.broadcast_to(ridge, shape).astype(float))
    collapsed = np.isinf(lam)
    p = _parts(n, d, s2, np.where(collapsed, 0.0, lam))
    S, N1 = p["S"], p["N1"]
    rho_ = S / (S + N1)
    cka_ = (S * S + p["v"] + 2.0 * p["X1"] + p["h"] * N1 * N1) / ((S + N1) ** 2 + p["v"])
    if exact_threshold:
        # The correction is the ridgeless fit's. A ridge damps the weakest directions the
        # heavy tails come from; the correction is scaled by the noise energy the ridge
        # keeps, N1(lam) / N1(0), so it fades with lam and lam -> 0 is continuous (a
        # heuristic for lam > 0: not tabulated against ridge Monte-Carlo).
        keep = np.ones(np.shape(cka_))
        if np.any(lam > 0):
            n0 = _parts(n, d, s2, np.zeros(np.shape(lam)))["N1"]
            with np.errstate(invalid="ignore", divide="ignore"):
                keep = np.where(n0 > 0, N1 / n0, 1.0)
        cka_ = cka_ + np.where(collapsed, 0.0, keep * threshold_correction(n, d, snr))
    cka_ = np.clip(cka_, 0.0, 1.0)
    err = p["bias"] + N1
    rho_ = np.where(collapsed, 0.0, rho_)
    cka_ = np.where(collapsed, 0.0, cka_)
    err = np.where(collapsed, 1.0, err)
    bias = np.where(collapsed, 1.0, p["bias"])
    var = np.where(collapsed, 0.0, N1)
    return LinearTheory(
        n=np.array(n, float), d=np.array(d, float), snr=np.array(snr, float),
        weight_decay=np.array(wd, float), ridge=np.array(lam, float),
        rho=rho_, cka=cka_, ii=ii_of_rho(np.sqrt(cka_)), cka_large_d=rho_ ** 2,
        ii_large_d=ii_of_rho(rho_), test_error=err, bias=bias, variance=var)


# ----------------------------------------------------------------------------- public API


def rho(n: Any, d: Any, snr: Any, weight_decay: Any = 0.0, *, ridge: Any = None) -> np.ndarray:
    """cos(beta_a, beta_b) of two members: ``E[beta_a . beta_b] / E|beta_a|^2``.

    Ridgeless and away from the threshold: ``1 / (1 + d / ((d - n - 1) SNR))`` below and
    ``1 / (1 + d / ((n - d - 1) SNR))`` above (docs/science.md 3). Arrays broadcast.
    """
    return theory(n, d, snr, weight_decay, ridge=ridge).rho


def cka(n: Any, d: Any, snr: Any, weight_decay: Any = 0.0, *, ridge: Any = None,
        finite_size: bool = True, exact_threshold: bool = True) -> np.ndarray:
    """Expected linear CKA of two members' hidden layers (rank-one representations).

    ``finite_size=False``: ``rho^2``, the d -> infinity limit. ``True`` (default): with the
    finite-d correction for the shared anisotropy of the members' noise (module docstring);
    it matters near the threshold (e.g. d = 100, n = 90: 0.09 vs rho^2 = 0.007 at SNR 1).
    ``exact_threshold``: see :func:`theory`.
    """
    t = theory(n, d, snr, weight_decay, ridge=ridge, exact_threshold=exact_threshold)
    return t.cka if finite_size else t.cka_large_d


def ii(n: Any, d: Any, snr: Any, weight_decay: Any = 0.0, *, ridge: Any = None,
       finite_size: bool = True, exact_threshold: bool = True) -> np.ndarray:
    """Large-N Information Imbalance (k = 1, either direction) of two members' hidden layers.

    ``Delta(sqrt(cka))``; with ``finite_size=False`` ``Delta(rho)`` (d -> infinity).
    """
    t = theory(n, d, snr, weight_decay, ridge=ridge, exact_threshold=exact_threshold)
    return t.ii if finite_size else t.ii_large_d


def test_error(n: Any, d: Any, snr: Any, weight_decay: Any = 0.0, *,
               ridge: Any = None) -> np.ndarray:
    """Expected test MSE of one member against clean targets, ``E|beta_m - beta|^2``.

    Same units as the engine's ``linear-teacher`` test error; it does NOT include the
    irreducible noise ``sigma^2`` (add ``1 / snr`` for the error against noisy targets).
    """
    return theory(n, d, snr, weight_decay, ridge=ridge).test_error


def curves(d: Any, snr: Any, n_values: Any, weight_decay: Any = 0.0, *,
           ridge: Any = None) -> dict[str, np.ndarray]:
    """Theory curves against n for the dashboard (a 500-point curve takes about a ms).

    d, snr, weight_decay (or ridge): scalars; n_values: 1-D array of n (>= 1).
    Returns 1-D float arrays of len(n_values): ``n``, ``rho``, ``cka``, ``ii``,
    ``ii_score`` (= 1 - ii, the symmetric 0..1 score of docs/science.md 2), ``test_error``,
    and ``cka_large_d``, ``ii_large_d``, ``ii_score_large_d`` (d -> infinity), ``bias``,
    ``variance``, ``ridge``.
    """
    for name, v in (("d", d), ("snr", snr), ("weight_decay", weight_decay)):
        if np.ndim(v) != 0:
            raise SpecError(name, v, "a scalar")
    if ridge is not None and np.ndim(ridge) != 0:
        raise SpecError("ridge", ridge, "a scalar")
    nv = np.asarray(n_values, dtype=float) if not isinstance(n_values, np.ndarray) else n_values
    if nv.ndim != 1 or nv.size == 0:
        raise ValueError(f"n_values of shape {np.shape(n_values)} is invalid: allowed a "
                         "non-empty 1-D array of n >= 1")
    t = theory(nv, d, snr, weight_decay, ridge=ridge)
    return {
        "n": t.n, "rho": t.rho, "cka": t.cka, "ii": t.ii, "ii_score": 1.0 - t.ii,
        "test_error": t.test_error, "cka_large_d": t.cka_large_d,
        "ii_large_d": t.ii_large_d, "ii_score_large_d": 1.0 - t.ii_large_d,
        "bias": t.bias, "variance": t.variance, "ridge": t.ridge,
    }
