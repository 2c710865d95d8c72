"""The discrete-space path of the exact Information Imbalance (issue 16): ranks in a label
vector or a space of few distinct points come from a per-class table instead of row
comparisons or sorts. It must give the values of the generic path (the table path turned
off) and of the brute-force reference of tests/test_measures.py, ties included, in both
directions and for the one-direction function; and the two-stage neighbour search must
find the values of a plain topk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from noisealign.engine.measures import core as measures
from noisealign.engine.measures import ranks, spaces
from noisealign.engine.measures.core import information_imbalance, information_imbalance_to
from tests.measures.test_measures import brute_ii


def _generic(a, b, k: int, monkeypatch: pytest.MonkeyPatch, **kw) -> tuple[float, float]:
    """The path used before the table existed: no space counts as discrete."""
    with monkeypatch.context() as m:
        m.setattr(spaces, "_DISCRETE_MAX_LEVELS", 0)
        return information_imbalance(a, b, k, **kw)


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(16)
    y = rng.integers(0, 5, size=70)
    h = rng.normal(size=(70, 6)) + 0.8 * np.eye(5)[y] @ rng.normal(size=(5, 6))
    small = rng.integers(0, 3, size=70)
    small[:2] = [0, 2]  # a class of one point (mid-rank table row with no other member)
    ones = np.r_[np.zeros(60, int), np.arange(1, 11)]  # ten classes of a single point
    grid = rng.integers(0, 3, size=(70, 2))  # 9 distinct points, direct distances
    cube = rng.integers(0, 2, size=(70, 6))  # <= 64 distinct points, matrix products
    return {
        "h-labels": (h, y),
        "labels-h": (y, h),
        "labels-labels": (y, small),
        "singleton-classes": (h, ones),
        "h-grid": (h, grid),
        "grid-cube": (grid, cube),
        "h-cube": (h.astype(np.float32), cube),
        "bool-labels": (h, y > 2),
    }


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("k", [1, 3, 30])
def test_table_path_equals_generic_path_and_brute_force(name: str, k: int,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = CASES[name]
    fast = information_imbalance(a, b, k)
    assert fast == pytest.approx(_generic(a, b, k, monkeypatch), rel=1e-13, abs=1e-15)
    assert fast == pytest.approx(brute_ii(a, b, k), rel=1e-12, abs=1e-14)
    assert information_imbalance_to(a, b, k) == pytest.approx(fast[0], rel=1e-13, abs=1e-15)
    assert information_imbalance_to(b, a, k) == pytest.approx(fast[1], rel=1e-13, abs=1e-15)
    # Blocks of a few rows and float64 give the same numbers.
    assert information_imbalance(a, b, k, block_size=5, dtype=torch.float64) == \
        pytest.approx(fast, rel=1e-13, abs=1e-15)


def test_the_table_path_is_taken_for_labels_and_few_points() -> None:
    y = np.arange(100) % 7
    assert spaces.Space(y, "y", torch.float32, None).discrete
    grid = np.stack([y % 2, y % 3], 1).astype(float)
    assert spaces.Space(grid, "g", torch.float32, None).discrete
    ids = np.arange(100)  # integer ids: 100 classes of one point each, not "few"
    assert not spaces.Space(ids, "ids", torch.float32, None).discrete
    h = np.random.default_rng(0).normal(size=(100, 3))
    assert not spaces.Space(h, "h", torch.float32, None).discrete


def test_rank_table_of_labels_is_the_textbook_mid_rank() -> None:
    """Labels: a point of the own class ties with the n_c - 1 others at distance 0
    (mid-rank n_c / 2); another class's point ties with the N - n_c others behind them."""
    y = np.array([0] * 5 + [1] * 3 + [2] * 2)
    t = spaces.Space(y, "y", torch.float32, None).rank_table().numpy()
    n, counts = 10, np.array([5, 3, 2])
    for u in range(3):
        for v in range(3):
            want = counts[u] / 2 if u == v else (counts[u] - 1) + (n - counts[u] + 1) / 2
            assert t[u, v] == want


@settings(max_examples=30, deadline=None)
@given(n=st.integers(5, 40), classes=st.integers(1, 6), da=st.integers(1, 6),
       k=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
@pytest.mark.filterwarnings("ignore::noisealign.engine.measures.spaces.DegenerateRepresentationWarning")
def test_labels_against_small_integer_data_equal_brute_force(n: int, classes: int, da: int,
                                                             k: int, seed: int) -> None:
    """Tied neighbours on both sides (integer coordinates, repeated labels)."""
    k = min(k, n - 2)
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    a = rng.integers(-1, 2, size=(n, da))
    ref = brute_ii(a, y, k)
    assert information_imbalance(a, y, k, block_size=4) == pytest.approx(ref, abs=1e-12)
    assert information_imbalance_to(a, y, k) == pytest.approx(ref[0], abs=1e-12)
    assert information_imbalance_to(y, a, k) == pytest.approx(ref[1], abs=1e-12)


@pytest.mark.parametrize("n", [64 * 100, 64 * 100 + 37])  # with and without a tail chunk
@pytest.mark.parametrize("kk", [2, 5])
def test_two_stage_neighbour_search_equals_topk(n: int, kk: int) -> None:
    assert n // ranks._SELECT_CHUNK >= 16 * kk  # long enough for the two stages
    rng = np.random.default_rng(n + kk)
    d = torch.from_numpy(rng.normal(size=(30, n)).astype(np.float32))
    d[:5] = torch.from_numpy(rng.integers(0, 4, size=(5, n)).astype(np.float32))  # ties
    d[5, -3:] = -10.0  # the smallest values in the tail chunk
    d[6, :] = 1.0
    d[6, 7] = -1.0
    vals, idx = ranks.smallest(d, kk)
    ref = torch.topk(d, kk, dim=1, largest=False, sorted=True).values
    assert torch.equal(vals, ref)
    assert torch.equal(d.gather(1, idx), vals)  # the columns hold those values
    assert bool((idx < n).all())
    # columns are distinct within a row
    assert all(len(set(r.tolist())) == kk for r in idx)


def test_one_direction_at_moderate_n_equals_both_directions() -> None:
    """Long rows (the two-stage search and the small-block path): N = 3,000."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 10, size=3000)
    h = (rng.normal(size=(3000, 32)) + 0.5 * y[:, None]).astype(np.float32)
    both = information_imbalance(h, y, 2)
    assert information_imbalance_to(h, y, 2) == pytest.approx(both[0], rel=1e-13)
    assert 0.0 < both[0] < 1.0


def test_one_direction_validates_like_both() -> None:
    with pytest.raises(ValueError, match="different numbers of points"):
        information_imbalance_to(np.zeros((10, 2)), np.zeros(11, int))
    with pytest.raises(ValueError, match="k=9 is invalid for N=10 points"):
        information_imbalance_to(np.zeros((10, 2)), np.zeros(10, int), 9)
    with pytest.raises(ValueError, match="B contains 1 NaN"):
        information_imbalance_to(np.zeros((10, 2)), np.r_[np.zeros(9), np.nan])


# ----------------------------------------------- matrices: shared neighbours, sorted rows
MATRIX_KINDS = ["continuous", "integer-grid", "duplicates", "labels-vs-continuous",
                "labels-vs-labels", "rounded-1d"]


@pytest.mark.parametrize("kind", MATRIX_KINDS)
@pytest.mark.parametrize("k", [1, 3, 10])
def test_matrices_equal_the_pairwise_measures(kind: str, k: int) -> None:
    """information_imbalance_matrix (binary search in sorted rows, rank tables) and
    mutual_knn_matrix (shared neighbour indices) against the pairwise functions."""
    from tests.measures.test_measures import _data
    a, b = _data(kind)
    third = np.asarray(a)[::-1].copy()
    reps = [a, b, third]
    ii = measures.information_imbalance_matrix(reps, k)
    ii5 = measures.information_imbalance_matrix(reps, k, block_size=5)
    kn = measures.mutual_knn_matrix(reps, k)
    for i in range(3):
        for j in range(3):
            want = information_imbalance(reps[i], reps[j], k)[0]
            assert ii[i, j] == pytest.approx(want, abs=1e-12), (i, j)
            assert ii5[i, j] == pytest.approx(want, abs=1e-12), (i, j)
            assert kn[i, j] == pytest.approx(measures.mutual_knn(reps[i], reps[j], k),
                                             abs=1e-12), (i, j)
    assert (ii[0, 1], ii[1, 0]) == pytest.approx(brute_ii(a, b, k), abs=1e-12)


def test_cka_matrix_pair_by_pair_branch_equals_linear_cka() -> None:
    """M N^2 > 2^25: the matrix is built pair by pair from cross traces."""
    rng = np.random.default_rng(5)
    n = 3400
    z = rng.normal(size=(n, 4))
    reps = [z @ rng.normal(size=(4, 6)) + rng.normal(size=(n, 6)) for _ in range(3)]
    assert 3 * n * n > 2**25
    for debiased in (False, True):
        mat = measures.linear_cka_matrix(reps, debiased)
        for i in range(3):
            for j in range(3):
                assert mat[i, j] == pytest.approx(
                    measures.linear_cka(reps[i], reps[j], debiased), abs=1e-10)


def test_alignment_matrices_one_pass_equals_the_separate_functions() -> None:
    rng = np.random.default_rng(12)
    y = rng.integers(0, 4, size=90)
    reps = [rng.normal(size=(90, 5)) + y[:, None], rng.normal(size=(90, 3)),
            rng.integers(0, 3, size=(90, 2))]
    ii, kn, to = measures.alignment_matrices(reps, 2, 6, targets=[y, y % 2], block_size=7)
    assert ii == pytest.approx(measures.information_imbalance_matrix(reps, 2), abs=1e-12)
    assert kn == pytest.approx(measures.mutual_knn_matrix(reps, 6), abs=1e-12)
    assert to.shape == (3, 2)
    for a in range(3):
        assert to[a, 0] == pytest.approx(information_imbalance_to(reps[a], y, 2), abs=1e-12)
        assert to[a, 1] == pytest.approx(brute_ii(reps[a], y % 2, 2)[0], abs=1e-12)
