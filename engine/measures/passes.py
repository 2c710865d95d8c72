"""Neighbour passes: every space's distances formed once per block of rows, for several measures.

:func:`matrix_sums` (the Information Imbalance and mutual k-NN matrices, and
:func:`alignment_matrices`, both in one pass) and :func:`pair_sums` (the summaries'
batched pass, which can also keep each space's neighbour lists for the intrinsic
dimension). Separate from the measures' own modules because each pass serves several
of them; ``matrix_sums`` and ``pair_sums`` are internal names (used by
:mod:`~noisealign.engine.measures.information`, :mod:`~noisealign.engine.measures.knn`
and :mod:`~noisealign.engine.measures.summaries`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from ..base.cancel import check_cancelled
from ..base.validation import check_k
from ..pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K  # the k defaults: one definition
from .ranks import (
    dense_weights,
    mid_ranks,
    rank_sum,
    smallest,
    sorted_rows,
)
from .spaces import (
    CHUNK_FLOATS,
    ArrayLike,
    Space,
    as_spaces,
    block_rows,
    one_thread,
    warn_degenerate,
)


def matrix_sums(spaces: Sequence[Space], k: int | None, knn_k: int | None,
                 block_size: int | None, n_targets: int = 0
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One pass over blocks of rows for both matrices: (M, M) sums of w^a r^b (II,
    neighbours of order ``k``) and of w^a w^b (mutual k-NN, order ``knn_k``); either may
    be None (not computed). Each space's distance block is formed once per sub-block.

    II: each space's k nearest neighbours and sorted rows once per sub-block, then for
    every other space the mid-ranks of those neighbours by binary search in its sorted
    rows (or from its rank table when discrete); rows whose k-th neighbour ties go
    through :func:`rank_sum` (sorting when the tie is large). Much cheaper than sorting
    every row of every space into dense ranks, as :func:`pair_sums` does.

    Mutual k-NN: each space's knn_k nearest neighbours once, then per pair the common
    indices of rows without a tie at the k-th place (knn_k^2 comparisons per row), and
    the dense weights of :func:`_overlap` for rows with one.

    The last ``n_targets`` spaces are only ranked in (Delta(a -> target)): their
    neighbours are never searched, their rows of the II sums stay 0 and they take no
    part in mutual k-NN (their rows and columns there are 0)."""
    n, m = spaces[0].n, len(spaces)
    rows = block_rows(n, m, block_size)
    cpu = spaces[0].device.type == "cpu"
    sub = rows if not cpu else min(rows, max(8, CHUNK_FLOATS // n))
    tables: list[torch.Tensor | None] = [s.rank_table() if s.discrete else None
                                         for s in spaces] if k else []
    ii = np.zeros((m, m)) if k is not None else None
    kn = np.zeros((m, m)) if knn_k is not None else None
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        raws = [s.raw(start, stop) for s in spaces]
        with one_thread(cpu):
            for c0 in range(0, stop - start, sub):
                c1 = min(stop - start, c0 + sub)
                ds = [s.finish(r, start, c0, c1) for s, r in zip(spaces, raws)]
                if ii is not None:
                    assert k is not None  # ii is only computed with a k
                    _ii_block(spaces, ds, tables, k, start + c0, start + c1, ii,
                              m - n_targets)
                if kn is not None:
                    assert knn_k is not None  # kn is only computed with a knn_k
                    _knn_block(ds[:m - n_targets], knn_k, kn)
    return ii, kn


def _ii_block(spaces: Sequence[Space], ds: Sequence[torch.Tensor],
              tables: Sequence[torch.Tensor | None], k: int, a0: int, a1: int,
              total: np.ndarray, n_sources: int) -> None:
    """Add one sub-block's (rows a0..a1-1) II sums to ``total`` (see :func:`matrix_sums`);
    neighbours from the first ``n_sources`` spaces only."""
    m = len(spaces)
    # Each continuous space's rows sorted once (values only: numpy's sort is ~14x faster
    # than torch's on the CPU); a neighbour's mid-rank is then two binary searches,
    # instead of two passes over the row for every pair.
    srt = [None if t is not None else sorted_rows(d) for t, d in zip(tables, ds)]
    for a in range(n_sources):
        vals, idx = smallest(ds[a], k + 1)
        tie = vals[:, k - 1] == vals[:, k]
        any_tie = bool(tie.any())
        plain = ~tie if any_tie else None
        nb = idx[:, :k] if plain is None else idx[plain, :k]
        for b in range(m):
            table = tables[b]
            if table is not None:
                cls = spaces[b].inverse
                assert cls is not None  # a discrete space's classes
                own = cls[a0:a1]
                if plain is not None:
                    own = own[plain]
                total[a, b] += float(table[own[:, None], cls[nb]].sum())
            elif nb.shape[0]:
                srt_b = srt[b]
                assert srt_b is not None  # sorted wherever there is no table
                dr, sr = (ds[b], srt_b) if plain is None else (ds[b][plain], srt_b[plain])
                v = dr.gather(1, nb)
                below = torch.searchsorted(sr, v, side="left")
                upto = torch.searchsorted(sr, v, side="right")
                # below + (ties + 1) / 2, as _counted_rank_sum
                total[a, b] += float(below.sum()) + 0.5 * float(
                    (upto - below).sum() + below.numel())
            if any_tie:
                total[a, b] += rank_sum(ds[a][tie], ds[b][tie], k)


def _knn_block(ds: Sequence[torch.Tensor], k: int, total: np.ndarray) -> None:
    """Add one sub-block's mutual k-NN sums to ``total`` (see :func:`matrix_sums`)."""
    m = len(ds)
    nbs, ties = [], []
    for d in ds:
        vals, idx = smallest(d, k + 1)
        nbs.append(idx[:, :k])
        ties.append(vals[:, k - 1] == vals[:, k])
    dense: dict[int, torch.Tensor] = {}
    for a in range(m):
        for b in range(a, m):
            tie = ties[a] | ties[b]
            plain = ~tie
            t = float((nbs[a][plain, :, None] == nbs[b][plain, None, :]).sum())
            if bool(tie.any()):
                for c in (a, b):
                    if c not in dense:
                        dense[c] = dense_weights(ds[c], k)
                t += float((dense[a][tie] * dense[b][tie]).sum())
            total[a, b] += t
            if a != b:
                total[b, a] += t


def keeps_candidates(space: Space) -> bool:
    """True when :func:`pair_sums` can keep a space's neighbour candidates: continuous
    points without duplicates (whose rows hold every point, in order)."""
    return not space.is_labels and space.inverse is None and not space.degenerate


def _candidates_of(space: Space, d: torch.Tensor, start: int, c: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``c`` nearest columns of rows start.. of ``space``'s distance block ``d`` and,
    per row, a lower bound on the true squared distance to every other column.

    ``d`` is :meth:`Space.block`'s: d_ij - |x_i|^2 for product spaces, d_ij for spaces of
    few features. Against the exact squared distances of the points as given, its
    rounding is at most about 4 D eps U^2 (the products and squared norms, U^2 the
    largest centred squared norm) plus 8 eps M (the centring, M the largest squared norm
    before it); twice that sum is taken off the c-th value, so no point outside the
    candidates is nearer than the bound."""
    n = d.shape[1]
    rows = torch.arange(start, start + d.shape[0], device=d.device)
    if c >= n - 1:  # every other point is a candidate
        cols = torch.topk(d, n - 1, dim=1, largest=False, sorted=True).indices
        return cols, torch.full((d.shape[0],), math.inf, dtype=torch.float64)
    vals, cols = torch.topk(d, c, dim=1, largest=False, sorted=True)
    eps = torch.finfo(space.dtype).eps
    # only spaces that keeps_candidates() admits reach here: coordinates, not labels
    assert space.unique is not None and space.sq is not None
    dim = space.unique.shape[1]
    lower = vals[:, -1].double()
    if not space.direct:
        lower = lower + space.sq[rows].double()
    lower = lower - 2.0 * eps * (4.0 * dim * float(space.sq.max()) + 8.0 * space.max_sq)
    return cols, lower


def pair_sums(spaces: Sequence[Space], k: int | None, knn_k: int | None,
               block_size: int | None,
               knn_idx: Sequence[int] | None = None,
               keep: dict[int, int] | None = None,
               kept: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
               ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One pass over blocks of rows: (M, M) sums of w^a r^b (II, neighbours of order k)
    and of w^a w^b (mutual k-NN, order knn_k, among spaces ``knn_idx``, default all).

    ``keep`` {space index: c}: for those spaces (each :func:`keeps_candidates`) the c
    nearest columns of every row and a per-row lower bound on the squared distance to
    any other point (:func:`_candidates_of`) are put in ``kept`` (N, c) int64 and (N,)
    float64 arrays: the neighbour lists the intrinsic dimension reuses."""
    n, m = spaces[0].n, len(spaces)
    keep = dict(keep or {})
    if keep and kept is None:
        raise ValueError("keep needs a kept dict to fill")
    store = kept if kept is not None else {}
    for i, c in keep.items():
        store[i] = (np.empty((n, min(c, n - 1)), np.int64), np.empty(n, np.float64))
    knn_idx = list(range(m)) if knn_idx is None else list(knn_idx)
    per_row = 2 * m * (k is not None) + len(knn_idx) * (knn_k is not None)
    rows = block_rows(n, 2 * per_row, block_size)  # float64 working arrays
    ii = np.zeros((m, m)) if k is not None else None
    kn = np.zeros((len(knn_idx),) * 2) if knn_k is not None else None
    # Spaces upgraded to float64 for precision keep it; otherwise work in float32.
    dtype = torch.float64 if any(s.dtype == torch.float64 for s in spaces) else torch.float32
    for start in range(0, n, rows):
        check_cancelled("the measures")  # a block is at most ~1 s of work
        stop = min(n, start + rows)
        # All spaces' blocks in one (M * rows, N) tensor: the rank work is batched, a few
        # large operations instead of many small ones.
        ds = torch.cat([s.block(start, stop).to(dtype) for s in spaces])
        for i, c in keep.items():
            b = stop - start
            cols, lower = _candidates_of(spaces[i], ds[i * b:(i + 1) * b], start, c)
            store[i][0][start:stop] = cols.cpu().numpy()
            store[i][1][start:stop] = lower.cpu().numpy()
        if k is not None:
            w = dense_weights(ds, k).reshape(m, -1)
            r = mid_ranks(ds).reshape(m, -1)
            ii += (w @ r.T).cpu().numpy()
            del w, r
        if knn_k is not None:
            b = stop - start
            sel = ds.reshape(m, b, n)[knn_idx].reshape(-1, n)
            w = dense_weights(sel, knn_k).reshape(len(knn_idx), -1)
            kn += (w @ w.T).cpu().numpy()
    if kn is not None:
        kn = (kn + kn.T) / 2  # exactly symmetric (the product's rounding may not be)
    return ii, kn


def alignment_matrices(reps: Sequence[ArrayLike], k: int = DEFAULT_K, knn_k: int = DEFAULT_KNN_K, *,
                       dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None,
                       block_size: int | None = None,
                       names: Sequence[str] | None = None,
                       warn: bool = True, targets: Sequence[ArrayLike] = ()
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`information_imbalance_matrix` and :func:`mutual_knn_matrix` in one pass,
    and Delta(rep -> target) for extra ``targets`` (e.g. labels).

    Parameters
    ----------
    reps : sequence of array_like
        M representations of the same N points.
    k, knn_k : int
        Neighbours of the Information Imbalance and of mutual k-NN (1 to N - 2).
    dtype, device, block_size, names, warn
        As in :func:`information_imbalance_matrix`.
    targets : sequence of array_like
        T further spaces (labels, say) only ranked in: their own neighbours are never
        searched, so a label target costs no sort (its ranks come from its table).

    Returns
    -------
    (ii, mknn, to_targets) : (M, M), (M, M) and (M, T) float64 arrays
        The values of the two functions and ``to_targets[a, t] = Delta(reps[a] ->
        targets[t])`` (= :func:`information_imbalance_to`); each space's distances are
        formed once for all of them.
    """
    m = len(reps)
    if m == 0:
        raise ValueError("reps is empty: allowed at least one representation")
    names = list(names) if names is not None else [f"reps[{i}]" for i in range(m)]
    t = len(targets)
    spaces = as_spaces(list(reps) + list(targets),
                     names + [f"targets[{i}]" for i in range(t)], dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    knn_k = check_k(knn_k, n, "knn_k")
    if warn:
        warn_degenerate(spaces, "its Information Imbalances are 1 and its mutual k-NN "
                         "values at chance (ties)")
    ii, kn = matrix_sums(spaces, k, knn_k, block_size, n_targets=t)
    assert ii is not None and kn is not None  # both asked for
    ii = ii * (2.0 / (n * n * k))
    return ii[:m, :m], kn[:m, :m] / (n * knn_k), ii[:m, m:]
