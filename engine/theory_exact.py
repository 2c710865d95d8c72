"""The finite-d linear theory next to the threshold n = d, from a Monte-Carlo of the exact
minimum-norm fits over Gaussian designs, and the table :mod:`engine.theory` draws from.

Why. The closed forms of :mod:`engine.theory` replace the noise's heavy-tailed
inverse-Wishart moments by smooth typical values; within about 20 points of n = d they put
the expected CKA of two members too low at SNR >= 10 dB (d = 80, n = 82, 20 dB: 0.43
against 0.54). No closed form of ``E[cos^2(beta_a, beta_b)]`` is known to us there (it is
the mean of a ratio), so it is computed numerically, once, and stored.

How (exact, not an approximation). Two members fit ``y_m = X beta + sigma eps_m`` by the
minimum-norm least-squares solution ``beta_m = pinv(X) y_m``. Write the Golub-Kahan
bidiagonalisation ``X = U B V^T`` (of ``X^T`` when n < d). For Gaussian ``X`` the r x r
bidiagonal ``B`` (r = min(n, d)) has independent entries, ``chi_{max(n,d) - i}`` on the
diagonal and ``chi_{r - 1 - i}`` next to it (Dumitriu and Edelman 2002), and ``U``, ``V``
are independent of the rotation-invariant ``beta`` and ``eps``. So in V's basis
``beta_m = c + sigma B^{-1} g_m`` with ``c`` the first r coordinates of a uniform unit
vector of R^d and ``g_m`` standard normal in R^r, and ``cos^2(beta_a, beta_b)`` is
invariant under that rotation: each draw costs O(r) (a bidiagonal solve) instead of the
O(n d^2) of a pseudo-inverse. Given a draw, every SNR is a ratio of quadratics in sigma,
so one set of draws serves the whole SNR grid.

The table (``theory_threshold.json``, written by ``python -m engine.theory_exact``):
``CKA_exact - CKA_closed_form`` at a grid of ``nu = n - d``, d and SNR (dB), with the
standard error of each entry; :func:`engine.theory.theory` adds it (interpolated) to the
closed form for the ridgeless fit. The test (tests/test_theory_exact.py) checks the
result against an independent pseudo-inverse Monte-Carlo at |n - d| <= 4.
"""

from __future__ import annotations

import json
import math
import sys
import time
from typing import Any, Sequence

import numpy as np

from .pipeline.constraints import snr_db_to_ratio
from .theory import TABLE_PATH

# The grid of the table. nu = n - d; beyond NU_MAX the correction is tapered to 0 at
# NU_ZERO (it is below 0.005 at |nu| = 32 at every tabulated d and SNR).
TABLE_D = (10, 20, 30, 50, 80, 120, 200)
TABLE_NU = tuple(range(-12, 13)) + (-32, -24, -20, -16, 16, 20, 24, 32)
TABLE_SNR_DB = (-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0)
NU_ZERO = 48.0
# Draws: designs x noise pairs per design (within-design draws are cheap but correlated).
TABLE_DESIGNS = 12000
TABLE_PAIRS = 4
TABLE_SEED = 20261208


def min_norm_draws(n: int, d: int, designs: int, pairs: int, seed: int) -> dict[str, np.ndarray]:
    """The six inner products of (c, u_a, u_b) per draw, shape (designs, pairs) each.

    ``beta_m = c + sigma u_m`` in the bidiagonal basis (module docstring): returns
    ``cc = c.c``, ``ca = c.u_a``, ``cb = c.u_b``, ``ab = u_a.u_b``, ``aa = u_a.u_a``,
    ``bb = u_b.u_b``. n, d >= 1 integers.
    """
    if n < 1 or d < 1:
        raise ValueError(f"n={n}, d={d} is invalid: allowed integers >= 1")
    rng = np.random.default_rng([seed, n, d])
    r, big = min(n, d), max(n, d)
    a = np.sqrt(rng.chisquare(big - np.arange(r), size=(designs, r)))
    b = (np.sqrt(rng.chisquare(r - 1 - np.arange(r - 1), size=(designs, r - 1)))
         if r > 1 else np.zeros((designs, 0)))
    # c: the first r coordinates of a uniform unit vector of R^d: a uniform direction of
    # R^r times sqrt(Beta(r/2, (d - r)/2)).
    w = rng.standard_normal((designs, pairs, r))
    w /= np.linalg.norm(w, axis=-1, keepdims=True)
    if r < d:
        w *= np.sqrt(rng.beta(r / 2.0, (d - r) / 2.0, size=(designs, pairs, 1)))
    g = rng.standard_normal((2, designs, pairs, r))
    # u = B^{-1} g, B upper bidiagonal (diagonal a, superdiagonal b): back substitution.
    u = np.empty_like(g)
    u[..., r - 1] = g[..., r - 1] / a[None, :, None, r - 1]
    for i in range(r - 2, -1, -1):
        u[..., i] = (g[..., i] - b[None, :, None, i] * u[..., i + 1]) / a[None, :, None, i]
    ua, ub = u
    dot = lambda p, q: np.einsum("kmr,kmr->km", p, q)  # noqa: E731
    return {"cc": dot(w, w), "ca": dot(w, ua), "cb": dot(w, ub), "ab": dot(ua, ub),
            "aa": dot(ua, ua), "bb": dot(ub, ub)}


def cka_from_draws(s: dict[str, np.ndarray], snr: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Mean of cos^2(beta_a, beta_b) and its standard error (across designs) per SNR
    (ratios; inf allowed) from :func:`min_norm_draws`."""
    means, sems = [], []
    for v in np.atleast_1d(np.asarray(snr, float)):
        sig = 0.0 if np.isinf(v) else 1.0 / math.sqrt(v)
        ab = s["cc"] + sig * (s["ca"] + s["cb"]) + sig * sig * s["ab"]
        aa = s["cc"] + 2 * sig * s["ca"] + sig * sig * s["aa"]
        bb = s["cc"] + 2 * sig * s["cb"] + sig * sig * s["bb"]
        c2 = ab * ab / (aa * bb)
        per = c2.mean(axis=1)
        means.append(per.mean())
        sems.append(per.std(ddof=1) / math.sqrt(per.size))
    return np.array(means), np.array(sems)


def cka_min_norm(n: int, d: int, snr: Sequence[float], designs: int = 4000, pairs: int = 4,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """E[cos^2(beta_a, beta_b)] of two ridgeless min-norm members, by Monte-Carlo over
    Gaussian designs (exact in distribution; module docstring), with standard errors."""
    return cka_from_draws(min_norm_draws(int(n), int(d), designs, pairs, seed), snr)


def build_table(designs: int = TABLE_DESIGNS, pairs: int = TABLE_PAIRS,
                echo: Any = print) -> dict[str, Any]:
    """The correction table: CKA (Monte-Carlo) minus the closed form, with its SE."""
    from . import theory
    snr = snr_db_to_ratio(np.array(TABLE_SNR_DB))
    corr = np.zeros((len(TABLE_D), len(TABLE_NU), len(snr)))
    sem = np.zeros_like(corr)
    t0 = time.perf_counter()
    for i, d in enumerate(TABLE_D):
        for j, nu in enumerate(TABLE_NU):
            n = d + nu
            if n < 2:
                corr[i, j] = np.nan
                sem[i, j] = np.nan
                continue
            # the larger d are far from the test's d (20, 50, 80) and cost r per draw
            k = designs if d <= 80 else designs // 3
            m, se = cka_min_norm(n, d, snr, k, pairs, TABLE_SEED)
            closed = theory.cka(n, d, snr, exact_threshold=False)
            corr[i, j], sem[i, j] = m - closed, se
        if echo:
            echo(f"d = {d}: done, {time.perf_counter() - t0:.0f} s")
    return {"d": list(TABLE_D), "nu": list(TABLE_NU), "snr_db": list(TABLE_SNR_DB),
            "nu_zero": NU_ZERO, "designs": designs, "pairs": pairs, "seed": TABLE_SEED,
            "correction": np.round(corr, 5).tolist(), "sem": np.round(sem, 5).tolist()}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m engine.theory_exact [designs]``: rewrite the table (minutes)."""
    args = list(sys.argv[1:] if argv is None else argv)
    designs = int(args[0]) if args else TABLE_DESIGNS
    tab = build_table(designs)
    text = json.dumps(tab, separators=(",", ":")).replace("NaN", "null")
    TABLE_PATH.write_text(text + "\n")
    print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
