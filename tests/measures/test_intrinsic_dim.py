"""noisealign.engine.measures.intrinsic_dim (TwoNN, GRIDE with numpy) against dadapy 0.3.4 called directly,
where it is installed, and against analytic values that need no dadapy."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from noisealign.engine.measures import intrinsic_dim
from noisealign.engine.measures.core import intrinsic_dimension, intrinsic_dimensions

ROOT = Path(__file__).resolve().parents[2]
HAVE_DADAPY = importlib.util.find_spec("dadapy") is not None
needs_dadapy = pytest.mark.skipif(
    not HAVE_DADAPY, reason="dadapy is not installed: it is only the reference the package's "
    "TwoNN/GRIDE are checked against (pip install 'noisealign[id]')")


def _dadapy(x: np.ndarray, order: int) -> tuple[float, float]:
    """TwoNN and GRIDE at ``order`` from dadapy on its own coordinates path, the calls
    the project made before noisealign.engine.measures.intrinsic_dim."""
    data_cls = intrinsic_dim.import_dadapy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = data_cls(coordinates=x, maxk=2, n_jobs=1)
        d.compute_distances(maxk=2, n_jobs=1)
        twonn = float(d.compute_id_2NN()[0])
        ids, _, _ = data_cls(coordinates=x, n_jobs=1).return_id_scaling_gride(range_max=order)
    return twonn, float(np.atleast_1d(ids)[-1])


# Test data: curved and flat manifolds, a noisy high-dimensional cloud, small N (GRIDE at
# a lower order), a heavy-tailed cloud whose ratios the outlier filter trims.
def _cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    t = rng.uniform(0, 3 * np.pi, size=600)
    swiss = np.c_[t * np.cos(t), rng.uniform(0, 10, 600), t * np.sin(t)]
    plane = rng.uniform(size=(400, 3)) @ rng.normal(size=(3, 40))
    cloud = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 256)) + 0.05 * rng.normal(
        size=(300, 256))
    small = rng.normal(size=(12, 4))
    heavy = rng.standard_t(1.5, size=(500, 5))
    return [("swiss", swiss), ("plane", plane), ("cloud", cloud), ("small", small),
            ("heavy", heavy)]


@needs_dadapy
@pytest.mark.parametrize("name,x", _cases(), ids=[c[0] for c in _cases()])
def test_twonn_and_gride_equal_dadapy_called_directly(name: str, x: np.ndarray) -> None:
    est = intrinsic_dimensions(x, scale=16)
    top = est["gride_scale"]
    assert top == (16 if len(x) > 16 else 8)
    twonn, gride = _dadapy(x, top)
    assert est["twonn"] == pytest.approx(twonn, rel=1e-6, abs=0)
    assert est["gride"] == pytest.approx(gride, rel=1e-6, abs=0)
    # The single-method entry points give the same numbers.
    assert intrinsic_dimension(x) == pytest.approx(twonn, rel=1e-6, abs=0)
    assert intrinsic_dimension(x, "gride", scale=top) == pytest.approx(gride, rel=1e-6, abs=0)


@needs_dadapy
@pytest.mark.parametrize("order", [2, 4, 8, 32])
def test_gride_at_every_order_equals_dadapy(order: int) -> None:
    x = np.random.default_rng(3).normal(size=(500, 6))
    _, gride = _dadapy(x, order)
    assert intrinsic_dimension(x, "gride", scale=order) == pytest.approx(gride, rel=1e-6, abs=0)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_uniform_cube_gives_its_dimension(d: int) -> None:
    # Points uniform in [0, 1]^d, embedded by a random rotation in 30 dimensions: both
    # estimators are consistent for a locally uniform density, ID -> d as N grows
    # (boundary effects bias them low by a few per cent at this N).
    rng = np.random.default_rng(d)
    q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
    x = rng.uniform(size=(3000, d)) @ q[:d]
    est = intrinsic_dimensions(x, scale=16)
    assert est["twonn"] == pytest.approx(d, rel=0.12)
    assert est["gride"] == pytest.approx(d, rel=0.12)


def test_twonn_of_exact_pareto_ratios_is_the_closed_form_fit() -> None:
    # Ratios mu_i at the exact quantiles of Pareto(d): -log(1 - i/N) = d log mu_i, so the
    # line through the origin has slope d exactly.
    n, d = 1000, 4.0
    i = np.arange(1, n + 1)
    mu = np.exp(-np.log(1 - (i - 0.5) / n) / d)
    assert intrinsic_dim.twonn(np.ones(n), mu) == pytest.approx(d, rel=0.01)


def test_gride_maximises_its_likelihood() -> None:
    # The returned d is where GRIDE's log-likelihood derivative changes sign (to the
    # bisection's 1e-7), computed here from the likelihood itself.
    rng = np.random.default_rng(0)
    r1 = rng.uniform(1, 2, size=2000)
    r2 = r1 * (1 + rng.pareto(3.0, size=2000))
    d = intrinsic_dim.gride(r1, r2, 4)

    def loglik(dim: float) -> float:
        mus = intrinsic_dim._filter_mus(r2 / r1)
        n1, n2 = 4, 8
        return ((len(mus) - 1) * math.log(dim) + np.sum((n2 - n1 - 1) * np.log(mus**dim - 1))
                - np.sum(((n2 - 1) * dim + 1) * np.log(mus)))
    assert loglik(d) >= loglik(d * (1 + 1e-4)) and loglik(d) >= loglik(d * (1 - 1e-4))


def test_neighbour_distances_equal_brute_force_and_given_candidates() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 7))
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(full, np.inf)
    ref = np.sort(full, axis=1)[:, :10]
    np.testing.assert_allclose(intrinsic_dim.neighbour_distances(x, 10), ref, rtol=1e-12)
    # Candidates that include the point itself and a few extra columns: the same.
    cand = np.argsort(full, axis=1)[:, :13]
    cand[:, -1] = np.arange(200)
    np.testing.assert_allclose(intrinsic_dim.neighbour_distances(x, 10, candidates=cand),
                               ref, rtol=1e-12)
    with pytest.raises(ValueError, match="kmax"):
        intrinsic_dim.neighbour_distances(x, 200)


def test_intrinsic_dimension_needs_no_dadapy_and_imports_no_jax() -> None:
    # With `import dadapy` made to fail, the estimates are still computed, and neither
    # dadapy nor jax is loaded by them.
    code = ("import sys; sys.modules['dadapy'] = None\n"
            "import numpy as np\n"
            "from noisealign.engine.measures.core import intrinsic_dimensions\n"
            "e = intrinsic_dimensions(np.random.default_rng(0).normal(size=(300, 3)))\n"
            "assert 2.0 < e['twonn'] < 4.0 and 2.0 < e['gride'] < 4.0, e\n"
            "assert 'jax' not in sys.modules, 'jax imported'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]


def test_candidates_that_may_miss_a_neighbour_are_searched_in_full() -> None:
    # Wrong candidates (the farthest points) with a bound that does not vouch for them:
    # those rows are searched again and the distances equal brute force; with a bound
    # that (wrongly) vouches for them the candidates are trusted (so the bound decides).
    rng = np.random.default_rng(2)
    x = rng.normal(size=(150, 5))
    full = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    np.fill_diagonal(full, np.inf)
    ref = np.sort(full, axis=1)[:, :8]
    wrong = np.argsort(-np.where(np.isinf(full), -1, full), axis=1)[:, :12]
    got = intrinsic_dim.neighbour_distances(x, 8, candidates=wrong,
                                            outside=np.full(150, -np.inf))
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    trusted = intrinsic_dim.neighbour_distances(x, 8, candidates=wrong,
                                                outside=np.full(150, np.inf))
    assert (trusted > ref).all()


def test_ii_pass_candidates_cover_the_neighbours_even_with_a_large_offset() -> None:
    # float32 II distances of points far from the origin (norms 1e3 x the spacing): the
    # kept candidates plus their bound still give the exact float64 neighbour distances.
    import torch

    from noisealign.engine.measures import passes
    from noisealign.engine.measures.spaces import as_spaces
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(400, 20)) + 300.0).astype(np.float32)
    spaces = as_spaces([x], ["x"], torch.float32, None)
    kept: dict = {}
    passes.pair_sums(spaces, 1, None, None, keep={0: 24}, kept=kept)
    cols, outside = kept[0]
    x64 = x.astype(np.float64)
    full = np.sqrt(((x64[:, None] - x64[None]) ** 2).sum(-1))
    np.fill_diagonal(full, np.inf)
    ref = np.sort(full, axis=1)[:, :16]
    got = intrinsic_dim.neighbour_distances(x64, 16, candidates=cols, outside=outside)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert intrinsic_dimensions(x, candidates=cols, outside=outside) == intrinsic_dimensions(x)
