"""Information Imbalance (Glielmo et al. 2022): exact, both directions, and the matrix of M spaces.

:func:`information_imbalance`, :func:`information_imbalance_to` (one direction, fast
towards a discrete space such as labels) and :func:`information_imbalance_matrix`,
with the discrete-space paths they alone use (a rank table, or weights by class with
ranks by binary search). What is exact, ties and cost: the opening docstring of
:mod:`noisealign.engine.measures.core`. Its own module: one family of measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..base.cancel import check_cancelled
from ..base.validation import check_k
from ..pipeline.constraints import DEFAULT_K  # the k defaults: one definition
from .passes import matrix_sums
from .ranks import dense_weights, rank_sum, smallest, sorted_rows
from .spaces import (
    CHUNK_FLOATS,
    ArrayLike,
    Space,
    as_spaces,
    block_rows,
    one_thread,
    warn_degenerate,
)

# Products over at most this many features are memory-bound: smaller row blocks.
_SMALL_PRODUCT_DIM = 64


class _ClassSupport:
    """For a discrete neighbour space: per class u, the columns whose points get a
    weight in the row of a point of class u, and those weights (``weight_table``)."""

    def __init__(self, space: Space, k: int):
        self.num, self.den = space.weight_table(k)
        self.classes = space.inverse
        self.cache: dict[int, tuple[torch.Tensor, list]] = {}
        self.cached = 0

    def get(self, u: int) -> tuple[torch.Tensor, list[tuple[int, int, float, float]]]:
        """(cols, groups): the weighted columns of a u-row, ordered by weight, and per
        weight (start, stop, num, den): the slice of ``cols`` with weight num / den."""
        hit = self.cache.get(u)
        if hit is not None:
            return hit
        classes_w = torch.nonzero(self.num[u] > 0, as_tuple=True)[0].tolist()
        parts: dict[tuple[float, float], list[torch.Tensor]] = {}
        for v in classes_w:
            key = (float(self.num[u, v]), float(self.den[u, v]))
            parts.setdefault(key, []).append(torch.nonzero(self.classes == v,
                                                           as_tuple=True)[0])
        cols_list, groups, pos = [], [], 0
        for (num, den), idx in parts.items():
            c = torch.cat(idx)
            cols_list.append(c)
            groups.append((pos, pos + len(c), num, den))
            pos += len(c)
        cols = torch.cat(cols_list) if cols_list else torch.zeros(0, dtype=torch.int64)
        out = (cols, groups)
        if self.cached + len(cols) <= 2**24:  # keep up to ~128 MB of columns
            self.cache[u] = out
            self.cached += len(cols)
        return out


def _support_rank_sum(dr: torch.Tensor, support: _ClassSupport, rows: torch.Tensor) -> float:
    """sum_i sum_j w_ij r_ij over a block when the neighbours come from a discrete space
    (weights by class, ``support``) and the ranks from continuous distances ``dr``:
    each row of ``dr`` sorted once (values only), then each weighted point's mid-rank by
    two binary searches -- no argsort, no dense weights. ``rows``: the class of each
    row's point in the neighbour space."""
    srt = sorted_rows(dr)
    total = 0.0
    for u in torch.unique(rows).tolist():
        sel = torch.nonzero(rows == u, as_tuple=True)[0]
        cols, groups = support.get(u)
        if not len(cols):
            continue
        v = dr[sel][:, cols]  # (rows of u, weighted points)
        sr = srt[sel]
        below = torch.searchsorted(sr, v, side="left")
        upto = torch.searchsorted(sr, v, side="right")
        r = below.double() + (upto - below + 1).double() * 0.5
        r = r.masked_fill_(v == math.inf, 0.0)  # the point itself (weight of its class)
        for a, b, num, den in groups:  # sum the ranks of a weight, then weigh once
            total += float(r[:, a:b].sum()) * num / den
    return total


def _table_rank_sum(dn: torch.Tensor, k: int, table: torch.Tensor, rows: torch.Tensor,
                    classes: torch.Tensor) -> float:
    """:func:`rank_sum` when the rank space is discrete: the ranks are looked up in its
    :meth:`Space.rank_table` (``rows``: the class of each row's point, ``classes``: of
    every point) instead of being counted or sorted in a distance block."""
    vals, idx = smallest(dn, k + 1)
    tie = vals[:, k - 1] == vals[:, k]  # someone ties with the k-th neighbour
    total = 0.0
    plain = ~tie
    if bool(plain.any()):
        total += float(table[rows[plain][:, None], classes[idx[plain, :k]]].sum())
    if bool(tie.any()):
        w = dense_weights(dn[tie], k)
        total += float((w * table[rows[tie]][:, classes]).sum())
    return total


def information_imbalance(A: ArrayLike, B: ArrayLike, k: int = DEFAULT_K, *,
                          dtype: torch.dtype = torch.float32,
                          device: torch.device | str | None = None,
                          block_size: int | None = None) -> tuple[float, float]:
    """Exact Information Imbalance in both directions, (Delta(A -> B), Delta(B -> A)).

    ``Delta(A -> B) = 2 / (N^2 k) * sum_i sum_{j in NN_k^A(i)} r^B_ij`` over all N points
    (no maxk truncation, no subsets), with mid-ranks for ties and an equal share of the
    remaining weight for points tying as the k-th neighbour (see the module docstring).

    A: (N, dA) representation, (N,) integer labels or (N,) float coordinate; B likewise.
    Computed in blocks of ``block_size`` rows (default: about 128 MB of working arrays),
    memory O(block_size x N); time O(N^2 (dA + dB)). Without ties the minimum, reached
    for B = A, is (k + 1) / N; 1 means no information. On the CPU the neighbour and rank
    passes run with one torch thread (process-wide while they run, then restored; see
    :func:`one_thread`); the distance products use numpy's BLAS threads. Ranks in a
    discrete space (labels, few distinct points) come from its per-class table; for
    Delta(h -> labels) alone, :func:`information_imbalance_to` skips the costly
    Delta(labels -> h).
    """
    sa, sb = as_spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    warn_degenerate([sa, sb], "the Information Imbalance to and from it is 1 (ties)")
    return _ii_both(sa, sb, k, block_size, True, True)


def information_imbalance_to(A: ArrayLike, B: ArrayLike, k: int = DEFAULT_K, *,
                             dtype: torch.dtype = torch.float32,
                             device: torch.device | str | None = None,
                             block_size: int | None = None) -> float:
    """Exact Information Imbalance in one direction, Delta(A -> B).

    Parameters
    ----------
    A, B : array_like
        As in :func:`information_imbalance`: (N, d) representations, (N,) integer
        labels or (N,) float coordinates, the same N points.
    k : int
        Neighbours in A, 1 <= k <= N - 2.
    dtype, device, block_size
        As in :func:`information_imbalance`.

    Returns
    -------
    float
        ``information_imbalance(A, B, k)[0]``, to the last bits of the sum.

    Notes
    -----
    Only A's neighbours and B's ranks are needed. When B is discrete (a label vector,
    or at most ~1,000 distinct points; see :attr:`Space.discrete`) its ranks come from
    a per-class table, so B's distances are never formed and the cost is that of A's
    neighbour search: Delta(h -> labels) is several times cheaper than both directions,
    whose Delta(labels -> h) needs a sort of h's rows (O(N^2 log N)).
    """
    sa, sb = as_spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    warn_degenerate([sa, sb], "the Information Imbalance to and from it is 1 (ties)")
    return _ii_both(sa, sb, k, block_size, True, False)[0]


def _ii_both(sa: Space, sb: Space, k: int, block_size: int | None, want_ab: bool,
             want_ba: bool) -> tuple[float, float]:
    """(Delta(A -> B), Delta(B -> A)) of two validated spaces; a direction not wanted
    is NaN. A discrete rank space uses its rank table (no distance block is formed for
    it unless its neighbours are needed)."""
    n = sa.n
    rows = block_rows(n, 2, block_size)
    # The matrix products run on blocks of rows; the rank work on sub-blocks of about
    # 2 MB per space, which stay in the CPU cache (3-5x faster than whole blocks).
    sub = rows if sa.device.type == "cuda" else min(rows, max(8, CHUNK_FLOATS // n))
    table_b = sb.rank_table() if want_ab and sb.discrete else None
    table_a = sa.rank_table() if want_ba and sa.discrete else None
    # Discrete neighbours, continuous ranks: weights by class, ranks by binary search.
    sup_a = _ClassSupport(sa, k) if want_ab and sa.discrete and table_b is None else None
    sup_b = _ClassSupport(sb, k) if want_ba and sb.discrete and table_a is None else None
    need_a = (want_ab and sup_a is None) or (want_ba and table_a is None)
    need_b = (want_ba and sup_b is None) or (want_ab and table_b is None)
    if block_size is None and sa.device.type == "cpu" and all(
            s.unique is None or s.unique.shape[1] <= _SMALL_PRODUCT_DIM
            for s, need in ((sa, need_a), (sb, need_b)) if need):
        # Few features: the product is memory-bound, so blocks of a few sub-blocks,
        # whose products stay in the CPU cache until used, are faster (~1.5-2x).
        rows = min(rows, 4 * sub)
    ab = ba = 0.0
    for start in range(0, n, rows):
        check_cancelled("the measures")
        stop = min(n, start + rows)
        ra = sa.raw(start, stop) if need_a else None
        rb = sb.raw(start, stop) if need_b else None
        with one_thread(sa.device.type == "cpu"):
            for c0 in range(0, stop - start, sub):
                c1 = min(stop - start, c0 + sub)
                da = sa.finish(ra, start, c0, c1) if need_a else None
                db = sb.finish(rb, start, c0, c1) if need_b else None
                a0, a1 = start + c0, start + c1
                if want_ab:
                    if table_b is not None:
                        assert da is not None  # need_a: A's neighbours
                        ab += _table_rank_sum(da, k, table_b, sb.inverse[a0:a1], sb.inverse)
                    elif sup_a is not None:
                        assert db is not None  # need_b: ranks in B
                        ab += _support_rank_sum(db, sup_a, sa.inverse[a0:a1])
                    else:
                        # no table_b and no sup_a: need_a and need_b both hold
                        assert da is not None and db is not None
                        ab += rank_sum(da, db, k)
                if want_ba:
                    if table_a is not None:
                        assert db is not None  # need_b: B's neighbours
                        ba += _table_rank_sum(db, k, table_a, sa.inverse[a0:a1], sa.inverse)
                    elif sup_b is not None:
                        assert da is not None  # need_a: ranks in A
                        ba += _support_rank_sum(da, sup_b, sb.inverse[a0:a1])
                    else:
                        # no table_a and no sup_b: need_a and need_b both hold
                        assert da is not None and db is not None
                        ba += rank_sum(db, da, k)
    scale = 2.0 / (n * n * k)
    return (ab * scale if want_ab else math.nan), (ba * scale if want_ba else math.nan)


def information_imbalance_matrix(reps: Sequence[ArrayLike], k: int = DEFAULT_K, *,
                                 dtype: torch.dtype = torch.float32,
                                 device: torch.device | str | None = None,
                                 block_size: int | None = None,
                                 names: Sequence[str] | None = None,
                                 warn: bool = True) -> np.ndarray:
    """Information Imbalance between every ordered pair of M representations.

    reps: M arrays of N points each (as in :func:`information_imbalance`).
    Returns (M, M) float64 with ``M[a, b] = Delta(reps[a] -> reps[b])``; the diagonal is
    each space's self value ((k + 1) / N without ties). Every space's distances, weights
    and ranks are computed once per block of rows, so this is much cheaper than
    M^2 calls of :func:`information_imbalance`; values are identical.
    """
    m = len(reps)
    if m == 0:
        raise ValueError("reps is empty: allowed at least one representation")
    names = list(names) if names is not None else [f"reps[{i}]" for i in range(m)]
    spaces = as_spaces(reps, names, dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    if warn:
        warn_degenerate(spaces, "its Information Imbalances are 1 (ties)")
    total = _ii_matrix_sums(spaces, k, block_size)
    return total * (2.0 / (n * n * k))


def _ii_matrix_sums(spaces: Sequence[Space], k: int, block_size: int | None) -> np.ndarray:
    """(M, M) sums of w^a r^b over all rows (see :func:`matrix_sums`)."""
    ii = matrix_sums(spaces, k, None, block_size)[0]
    assert ii is not None  # a k was given, so the II sums are computed
    return ii
