"""noisealign.engine.measures.core against independent references: dadapy's exact Information Imbalance,
a brute-force O(N^2 log N) implementation written here (full sort, explicit mid-ranks),
the large-N formula Delta(rho) of docs/science.md, and the textbook HSIC formulas."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from noisealign.engine.measures import core as measures
from noisealign.engine.measures import intrinsic_dim, ranks, spaces
from noisealign.engine.measures.core import (
    DegenerateRepresentationWarning,
    information_imbalance,
    information_imbalance_matrix,
    intrinsic_dimension,
    linear_cka,
    mutual_knn,
    mutual_knn_matrix,
)


# ----------------------------------------------------------------------- references
def _coords(x: np.ndarray) -> np.ndarray:
    """The points as float64 coordinates: integer labels -> one-hot, 1-D float -> (N, 1)."""
    x = np.asarray(x)
    if x.ndim == 1 and x.dtype.kind in "biu":
        _, inv = np.unique(x, return_inverse=True)
        return np.eye(inv.max() + 1)[inv]
    return x.reshape(len(x), -1).astype(np.float64)


def _sqdist(x: np.ndarray) -> np.ndarray:
    x = _coords(x)
    return ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)


def _weights(d_row: np.ndarray, k: int) -> np.ndarray:
    """k-NN weights of one row (self removed): ties for the k-th share the rest."""
    dk = np.sort(d_row)[k - 1]
    lt, eq = (d_row < dk).sum(), (d_row == dk).sum()
    return np.where(d_row < dk, 1.0, np.where(d_row == dk, (k - lt) / eq, 0.0))


def _explicit_mid_ranks(d_row: np.ndarray) -> np.ndarray:
    """Rank 1 = nearest; a run of equal values gets the mean of its positions."""
    order = np.argsort(d_row, kind="stable")
    ranks = np.empty(len(d_row))
    p = 0
    while p < len(order):
        q = p
        while q + 1 < len(order) and d_row[order[q + 1]] == d_row[order[p]]:
            q += 1
        ranks[order[p:q + 1]] = (p + 1 + q + 1) / 2.0
        p = q + 1
    return ranks


def brute_ii(a: np.ndarray, b: np.ndarray, k: int = 1) -> tuple[float, float]:
    da, db = _sqdist(a), _sqdist(b)
    n = len(da)

    def one(dn: np.ndarray, dr: np.ndarray) -> float:
        total = 0.0
        for i in range(n):
            others = np.arange(n) != i
            total += (_weights(dn[i, others], k) * _explicit_mid_ranks(dr[i, others])).sum()
        return 2.0 * total / (n * n * k)
    return one(da, db), one(db, da)


def brute_mknn(a: np.ndarray, b: np.ndarray, k: int) -> float:
    da, db = _sqdist(a), _sqdist(b)
    n = len(da)
    total = 0.0
    for i in range(n):
        others = np.arange(n) != i
        total += (_weights(da[i, others], k) * _weights(db[i, others], k)).sum()
    return total / (n * k)


def dadapy_exact_ii(a: np.ndarray, b: np.ndarray, k: int) -> tuple[float, float]:
    """dadapy 0.3.4, made exact: maxk = N - 1 (every rank known) and one subset of
    all N points (no random 2000-point subsets)."""
    pytest.importorskip("dadapy", reason="dadapy is not installed (only a test reference)")
    intrinsic_dim.import_dadapy()  # keeps numpy's print options
    from dadapy.metric_comparisons import MetricComparisons
    n = len(a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mc = MetricComparisons(coordinates=a, maxk=n - 1, n_jobs=1)
        ab, ba = mc.return_information_imbalace(b, k=k, subset_size=n)
    return float(ab[0]), float(ba[0])


def delta_rho(rho: float) -> float:
    """docs/science.md section 3: Delta(rho) = 2 E[Phi(B_i + r) - Phi(B_i - r)], r = |B_j - B_i|,
    by 2-D quadrature over (B_i, u = Z_j - Z_i): Var B_i = 1, Var u = 2, Cov = -s; the
    integrand is even under (b, u) -> (-b, -u), so twice the u > 0 half."""
    s = math.sqrt(1 - rho * rho)
    cov = np.array([[1.0, -s], [-s, 2.0]])
    ic, det = np.linalg.inv(cov), np.linalg.det(cov)

    def f(b: float, u: float) -> float:
        p = math.exp(-0.5 * (ic[0, 0] * b * b + 2 * ic[0, 1] * b * u + ic[1, 1] * u * u))
        p /= 2 * math.pi * math.sqrt(det)
        return (stats.norm.cdf(b + s * u) - stats.norm.cdf(b - s * u)) * p
    v, _ = integrate.dblquad(f, 0, 12, -10, 10, epsabs=1e-10)
    return 4.0 * v


def correlated(n: int, rho: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    return a, rho * a + math.sqrt(1 - rho * rho) * rng.normal(size=n)


# ------------------------------------------------------------------------ datasets
def _data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(zlib.crc32(kind.encode()))
    if kind == "continuous":
        a = rng.normal(size=(40, 4))
        return a, a[:, :2] + 0.5 * rng.normal(size=(40, 2))
    if kind == "integer-grid":  # many ties and many duplicate points
        return rng.integers(0, 3, size=(60, 2)), rng.integers(0, 4, size=(60, 3))
    if kind == "duplicates":  # continuous values, some points repeated exactly
        base = rng.normal(size=(25, 3))
        a = base[rng.integers(0, 25, size=50)]
        return a, a @ rng.normal(size=(3, 2)) + 0.3 * rng.normal(size=(50, 2))
    if kind == "labels-vs-continuous":
        y = rng.integers(0, 4, size=50)
        return y, np.eye(4)[y] + 0.8 * rng.normal(size=(50, 4))
    if kind == "labels-vs-labels":
        y = rng.integers(0, 3, size=45)
        z = np.where(rng.random(45) < 0.3, rng.integers(0, 3, size=45), y)
        return y, z
    if kind == "rounded-1d":  # 1-D float coordinates with ties (dyadic: exact arithmetic)
        a = np.round(rng.normal(size=50) * 4) / 4
        return a, np.round((a + rng.normal(size=50)) * 4) / 4
    raise AssertionError(kind)


KINDS = ["continuous", "integer-grid", "duplicates", "labels-vs-continuous",
         "labels-vs-labels", "rounded-1d"]


# ---------------------------------------------------------------- reference checks
@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_information_imbalance_equals_dadapy_exact(k: int, dtype: torch.dtype) -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(size=(300, 8))
    b = a[:, :3] @ rng.normal(size=(3, 5)) + 0.7 * rng.normal(size=(300, 5))
    ours = information_imbalance(a, b, k, dtype=dtype)
    ref = dadapy_exact_ii(a, b, k)
    assert ours == pytest.approx(ref, abs=1e-6)
    assert ours[0] < ours[1]  # a (8 dims) predicts b better than the converse


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("k", [1, 3])
def test_information_imbalance_equals_brute_force(kind: str, k: int) -> None:
    a, b = _data(kind)
    ref = brute_ii(a, b, k)
    assert information_imbalance(a, b, k) == pytest.approx(ref, abs=1e-12)
    assert information_imbalance(a, b, k, dtype=torch.float64, block_size=7) == \
        pytest.approx(ref, abs=1e-12)
    m = information_imbalance_matrix([a, b], k)
    assert (m[0, 1], m[1, 0]) == pytest.approx(ref, abs=1e-12)
    assert m[0, 0] == pytest.approx(brute_ii(a, a, k)[0], abs=1e-12)


@pytest.mark.parametrize("kind", ["integer-grid", "labels-vs-continuous", "duplicates"])
def test_sort_path_equals_counting_path(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows with tied neighbours go through either direct counting or a row sort."""
    a, b = _data(kind)
    counted = information_imbalance(a, b, 2)
    monkeypatch.setattr(ranks, "_MAX_COUNTED_NEIGHBOURS", 0)
    assert information_imbalance(a, b, 2) == pytest.approx(counted, abs=1e-12)
    assert counted == pytest.approx(brute_ii(a, b, 2), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(4, 18), da=st.integers(1, 3), db=st.integers(1, 6),
       k=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
@pytest.mark.filterwarnings("ignore::noisealign.engine.measures.spaces.DegenerateRepresentationWarning")
def test_brute_force_on_small_integer_data(n: int, da: int, db: int, k: int, seed: int) -> None:
    """Small integer coordinates: distances are exact, so ties and duplicates abound."""
    if n < k + 2:
        k = n - 2
    rng = np.random.default_rng(seed)
    a = rng.integers(-2, 3, size=(n, da))
    b = rng.integers(0, 2, size=(n, db))  # db > 4 uses the matrix-product distances
    assert information_imbalance(a, b, k, block_size=3) == pytest.approx(
        brute_ii(a, b, k), abs=1e-12)


def test_duplicates_get_exactly_equal_distances() -> None:
    """Duplicates of non-integer points tie exactly (a naive |a|^2+|b|^2-2ab would not)."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(30, 16)) * 10 + 100  # large offset: rounding-prone
    a = np.concatenate([base, base[:10], base[:5]])
    b = rng.normal(size=(45, 6))
    assert information_imbalance(a, b, 1) == pytest.approx(brute_ii(a, b, 1), abs=1e-12)
    # Point 0's duplicates (30, 40) are its nearest neighbours, tied exactly, and every
    # point is exactly as far from 0 as from 30 and 40. (Blocks hold squared distances
    # up to a constant per row.)
    s = spaces.Space(a, "A", torch.float32, None)
    d = s.block(0, 45)
    assert d[0, 30] == d[0, 40] == d[0].min() and d[0, 0] == math.inf
    assert int((d[0] > d[0, 30]).sum()) == 43
    assert d[1, 0] == d[1, 30] == d[1, 40] > d[1].min()


@pytest.mark.parametrize("rho, expected", [(0.9, 0.516), (0.99, 0.178)])
def test_delta_rho_quadrature_matches_science_md(rho: float, expected: float) -> None:
    assert delta_rho(rho) == pytest.approx(expected, abs=1e-3)


def test_correlated_gaussians_small_n() -> None:
    a, b = correlated(3000, 0.9, seed=1)
    assert information_imbalance(a, b) == pytest.approx((delta_rho(0.9),) * 2, abs=0.03)


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.9, 0.99])
def test_correlated_gaussians_match_delta_rho_at_n_20000(rho: float) -> None:
    a, b = correlated(20_000, rho, seed=11)
    expected = delta_rho(rho)
    ab, ba = information_imbalance(a, b)
    assert abs(ab - expected) < 0.01 and abs(ba - expected) < 0.01


# ----------------------------------------------------------------- properties of II
@pytest.mark.parametrize("k", [1, 4])
def test_self_imbalance_is_the_minimum(k: int) -> None:
    rng = np.random.default_rng(5)
    n = 120
    a = rng.normal(size=(n, 5))
    minimum = (k + 1) / n  # the k neighbours have ranks 1..k
    assert information_imbalance(a, a, k) == pytest.approx((minimum, minimum), abs=1e-12)
    others = [a[:, :2], a + 0.05 * rng.normal(size=a.shape), rng.normal(size=(n, 3)),
              rng.integers(0, 3, size=n), -a[:, ::-1]]
    for b in others:
        assert information_imbalance(a, b, k)[0] >= minimum - 1e-12


def test_unrelated_spaces_give_about_one() -> None:
    rng = np.random.default_rng(9)
    ab, ba = information_imbalance(rng.normal(size=(800, 3)), rng.normal(size=(800, 3)))
    assert ab == pytest.approx(1.0, abs=0.1) and ba == pytest.approx(1.0, abs=0.1)


def test_labels_against_a_space_that_clusters_them() -> None:
    """h separates the classes perfectly: each point's neighbours in h are its class, so
    both directions equal sum_c n_c^2 / N^2 (mid-rank c_i / 2 of a class of c_i points)."""
    rng = np.random.default_rng(9)
    y = rng.integers(0, 3, size=400)
    h = 10 * np.eye(3)[y] + rng.normal(size=(400, 3))
    expected = float((np.bincount(y) ** 2).sum()) / 400**2
    assert information_imbalance(h, y) == pytest.approx((expected, expected), abs=1e-12)


def test_accepts_torch_tensors_and_lists() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    ref = information_imbalance(a, b)
    assert information_imbalance(torch.from_numpy(a), torch.from_numpy(b)) == ref
    assert information_imbalance(a.tolist(), b.tolist()) == ref


def test_low_precision_float32_is_upgraded_for_close_neighbours() -> None:
    """A nearly rank-one representation (tiny neighbour distances, large norms): float32
    |a|^2 + |b|^2 - 2ab would scramble neighbours; the result must match float64."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(2000, 1))
    h = np.maximum(z @ rng.normal(size=(1, 32)) + 3.0, 0.0).astype(np.float32)
    assert information_imbalance(h, z) == pytest.approx(
        information_imbalance(h, z, dtype=torch.float64), abs=1e-9)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu() -> None:
    rng = np.random.default_rng(8)
    for a, b in [_data("integer-grid"), _data("labels-vs-continuous"),
                 (rng.normal(size=(500, 32)), rng.normal(size=(500, 8)))]:
        assert information_imbalance(a, b, 2, dtype=torch.float64, device="cuda") == \
            pytest.approx(information_imbalance(a, b, 2, dtype=torch.float64), abs=1e-12)


def test_torch_thread_setting_is_restored() -> None:
    """The rank passes run on one thread; the caller's setting must come back."""
    before = torch.get_num_threads()
    rng = np.random.default_rng(0)
    information_imbalance(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    mutual_knn(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    assert torch.get_num_threads() == before


# ---------------------------------------------------------------------- mutual k-NN
def test_mutual_knn_equals_standard_definition_without_ties() -> None:
    rng = np.random.default_rng(12)
    a = rng.normal(size=(80, 5))
    b = a + 0.5 * rng.normal(size=(80, 5))
    k = 10
    da, db = _sqdist(a), _sqdist(b)
    np.fill_diagonal(da, np.inf)
    np.fill_diagonal(db, np.inf)
    na, nb = np.argsort(da, 1)[:, :k], np.argsort(db, 1)[:, :k]
    standard = np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)])
    assert mutual_knn(a, b, k) == pytest.approx(standard, abs=1e-12)
    assert mutual_knn(a, a, k) == 1.0
    m = mutual_knn_matrix([a, b, a], k)
    assert m[0, 1] == m[1, 0] == pytest.approx(standard, abs=1e-12)
    assert m[0, 2] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["integer-grid", "labels-vs-continuous", "duplicates"])
def test_mutual_knn_with_ties_is_expected_overlap(kind: str) -> None:
    a, b = _data(kind)
    assert mutual_knn(a, b, 3) == pytest.approx(brute_mknn(a, b, 3), abs=1e-12)


# ------------------------------------------------------------------------------ CKA
def _textbook_hsic(k: np.ndarray, l: np.ndarray) -> float:
    n = len(k)
    h = np.eye(n) - np.ones((n, n)) / n
    return float(np.trace(k @ h @ l @ h)) / (n - 1) ** 2


def _textbook_unbiased_hsic(k: np.ndarray, l: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, with explicit N x N matrices."""
    n = len(k)
    kt, lt = k.copy(), l.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    one = np.ones(n)
    return float(np.trace(kt @ lt) + (one @ kt @ one) * (one @ lt @ one) / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * (one @ kt @ lt @ one)) / (n * (n - 3))


@pytest.mark.parametrize("n, dx, dy", [(200, 5, 7), (30, 50, 40)])  # feature / Gram path
def test_linear_cka_equals_textbook_hsic(n: int, dx: int, dy: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, dx)) + 2.0
    y = x[:, :3] @ rng.normal(size=(3, dy)) + rng.normal(size=(n, dy))
    kx, ky = x @ x.T, y @ y.T
    biased = _textbook_hsic(kx, ky) / math.sqrt(_textbook_hsic(kx, kx) * _textbook_hsic(ky, ky))
    unbiased = _textbook_unbiased_hsic(kx, ky) / math.sqrt(
        _textbook_unbiased_hsic(kx, kx) * _textbook_unbiased_hsic(ky, ky))
    assert linear_cka(x, y) == pytest.approx(biased, abs=1e-10)
    assert linear_cka(x, y, debiased=True) == pytest.approx(unbiased, abs=1e-10)
    assert 0 < unbiased < biased < 1


def test_linear_cka_matrix_equals_pairwise() -> None:
    rng = np.random.default_rng(6)
    xs = [rng.normal(size=(60, 7)) for _ in range(3)]
    xs.append(xs[0] @ rng.normal(size=(7, 4)) + 0.1 * rng.normal(size=(60, 4)))
    for debiased in (False, True):
        m = measures.linear_cka_matrix(xs, debiased)
        ref = np.array([[linear_cka(a, b, debiased) for b in xs] for a in xs])
        assert m == pytest.approx(ref, abs=1e-12) and np.array_equal(m, m.T)


def test_linear_cka_of_rotated_scaled_translated_copy_is_one() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 12))
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    y = 3.7 * x @ q + 5.0
    assert linear_cka(x, y) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, y, debiased=True) == pytest.approx(1.0, abs=1e-12)
    assert linear_cka(x, rng.normal(size=(150, 12))) < 0.2


def test_linear_cka_of_rank_one_representations_is_rho_squared() -> None:
    """docs/science.md section 3: CKA of two rank-one representations is rho^2."""
    a, b = correlated(20_000, 0.8, seed=3)
    rng = np.random.default_rng(0)
    ra, rb = np.outer(a, rng.normal(size=6)), np.outer(b, rng.normal(size=4))
    assert linear_cka(ra, rb) == pytest.approx(0.64, abs=0.02)


# ---------------------------------------------------------------- intrinsic dimension
def test_intrinsic_dimension_of_a_plane() -> None:
    rng = np.random.default_rng(0)
    plane = rng.uniform(size=(1000, 2)) @ rng.normal(size=(2, 10))
    with_dups = np.concatenate([plane, plane[:100]])  # duplicates must not break it
    assert intrinsic_dimension(with_dups) == pytest.approx(2.0, abs=0.3)
    assert intrinsic_dimension(plane, "gride") == pytest.approx(2.0, abs=0.3)


def test_dadapy_import_leaves_numpy_print_options_alone() -> None:
    # dadapy is only the tests' reference now (noisealign.engine.measures.intrinsic_dim computes the ID), but
    # importing it must still leave numpy's print options alone.
    pytest.importorskip("dadapy", reason="dadapy is not installed (only a test reference)")
    code = ("import numpy as np; from noisealign.engine.measures.intrinsic_dim import import_dadapy as f; f(); "
            "assert np.get_printoptions()['precision'] == 8, np.get_printoptions()")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=Path(__file__).resolve().parents[2])


# ------------------------------------------------------------------- degenerate input
def test_all_points_coinciding_give_documented_values_with_a_warning() -> None:
    rng = np.random.default_rng(0)
    z, a = np.zeros((40, 3)), rng.normal(size=(40, 3))
    with pytest.warns(DegenerateRepresentationWarning, match="coincide"):
        assert information_imbalance(z, a) == (1.0, 1.0)
    with pytest.warns(DegenerateRepresentationWarning):
        assert information_imbalance(a, np.full(40, 2)) == pytest.approx((1.0, 1.0))
    with pytest.warns(DegenerateRepresentationWarning):
        assert mutual_knn(z, a, 5) == pytest.approx(5 / 39)
    with pytest.warns(DegenerateRepresentationWarning):
        assert math.isnan(linear_cka(z, a))
    with pytest.warns(DegenerateRepresentationWarning):
        assert intrinsic_dimension(z) == 0.0


# ------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("a, b, kw, match", [
    (np.zeros((10, 2)), np.zeros((11, 2)), {}, "different numbers of points"),
    (np.ones((3, 2)), np.ones((3, 2)), {"k": 2}, "k=2 is invalid for N=3 points"),
    (np.array([[0.0, np.nan]] * 5), np.ones((5, 1)), {}, "A contains 5 NaN or inf"),
    (np.ones((5, 1)), np.array([[np.inf]] * 5), {}, "B contains 5 NaN or inf"),
    (np.zeros((0, 3)), np.zeros((0, 3)), {}, "A is empty"),
    (np.zeros((5, 0)), np.zeros((5, 2)), {}, "A is empty"),
    (np.zeros((5, 2, 2)), np.zeros((5, 2)), {}, "A has shape \\(5, 2, 2\\)"),
    (np.array(["a"] * 5), np.zeros((5, 2)), {}, "A has dtype"),
    (np.zeros((5, 2)), np.zeros((5, 2)), {"k": 0}, "k=0 is invalid"),
    (np.zeros((5, 2)), np.zeros((5, 2)), {"k": 1.5}, "k=1.5 is invalid"),
    (np.zeros((5, 2)), np.zeros((5, 2)), {"block_size": 0}, "block_size=0 is invalid"),
    (np.zeros((5, 2)), np.zeros((5, 2)), {"dtype": torch.float16}, "dtype="),
])
def test_bad_input_raises_value_error_naming_it(a, b, kw, match) -> None:
    with pytest.raises(ValueError, match=match):
        information_imbalance(a, b, **kw)


def test_bad_input_for_the_other_measures() -> None:
    x = np.random.default_rng(0).normal(size=(8, 3))
    with pytest.raises(ValueError, match="k=10 is invalid for N=8 points"):
        mutual_knn(x, x)
    with pytest.raises(ValueError, match="different numbers of points"):
        linear_cka(x, x[:5])
    with pytest.raises(ValueError, match="too few for debiased"):
        linear_cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ValueError, match="NaN"):
        linear_cka(np.full((8, 2), np.nan), x)
    with pytest.raises(ValueError, match="method='pca' is invalid"):
        intrinsic_dimension(x, "pca")
    with pytest.raises(ValueError, match="label vector"):
        intrinsic_dimension(np.arange(8))
    with pytest.raises(ValueError, match="scale=3 is invalid"):
        intrinsic_dimension(x, "gride", scale=3)
    with pytest.raises(ValueError, match="reps is empty"):
        information_imbalance_matrix([])
