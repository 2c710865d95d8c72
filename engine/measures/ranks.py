"""Rank primitives: neighbours, neighbour weights and mid-ranks of blocks of distances.

The few-nearest search (:func:`smallest`), the k-NN weights with ties shared
(:func:`dense_weights`), mid-ranks (:func:`mid_ranks`) and the rank sums of the
Information Imbalance (:func:`rank_sum`), on (rows, N) blocks from
:meth:`~noisealign.engine.measures.spaces.Space.block`. Shared by the Information
Imbalance, mutual k-NN and the one-pass matrices (:mod:`~noisealign.engine.measures.passes`);
an internal module.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Up to this many A-neighbours per row (k plus ties) the ranks in B are found by direct
# comparisons (O(N) per neighbour, no sort); beyond it (e.g. label spaces, where a
# whole class ties) each block of rows is sorted once instead.
_MAX_COUNTED_NEIGHBOURS = 24
# Candidate search for the few nearest neighbours: rows are cut into chunks of this many
# columns, and the kk smallest values lie in the kk chunks with the smallest minima.
_SELECT_CHUNK = 64


def smallest(d: torch.Tensor, kk: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``kk`` smallest values per row and their columns, ascending: the values of
    ``torch.topk(d, kk, largest=False, sorted=True)`` exactly (columns may differ only
    among equal values), found in two stages for long rows.

    Each of the kk smallest values lies in a chunk whose minimum is no larger, so among
    the kk chunks with the smallest minima (a reduction ~8x cheaper than topk over the
    row) there are kk values at least as small as the row's kk smallest: the same
    values. Ties are settled by the callers on the full row.
    """
    b, n = d.shape
    c = _SELECT_CHUNK
    whole = n // c
    if whole < 16 * kk or d.device.type != "cpu":
        return torch.topk(d, kk, dim=1, largest=False, sorted=True)
    mins = d[:, :whole * c].reshape(b, whole, c).amin(2)
    if whole * c < n:  # the tail as one more (shorter) chunk
        mins = torch.cat([mins, d[:, whole * c:].amin(1, keepdim=True)], 1)
    chunks = torch.topk(mins, kk, dim=1, largest=False, sorted=False).indices  # (b, kk)
    cols = (chunks[:, :, None] * c + torch.arange(c, device=d.device)).reshape(b, -1)
    cols = cols.clamp_(max=n - 1)  # the tail chunk's missing columns repeat column n-1
    cand = d.gather(1, cols)
    if whole * c < n:  # a repeated column must not count twice
        over = (chunks[:, :, None] * c + torch.arange(c, device=d.device)).reshape(b, -1) >= n
        cand = cand.masked_fill(over, math.inf)
    vals, pos = torch.topk(cand, kk, dim=1, largest=False, sorted=True)
    return vals, cols.gather(1, pos)


def _count(mask: torch.Tensor) -> torch.Tensor:
    """Per-row number of True entries (count_nonzero is much faster than sum on CPU)."""
    return torch.count_nonzero(mask, dim=1)


def _kth(d: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k-th smallest value per row (b, 1), and per row the counts strictly below / equal."""
    dk = torch.topk(d, k, dim=1, largest=False, sorted=True).values[:, k - 1:k]
    return dk, _count(d < dk), _count(d == dk)


def dense_weights(d: torch.Tensor, k: int) -> torch.Tensor:
    """Neighbour weights (b, N): 1 inside the k-NN, an equal share of the rest for the
    points tying for the k-th place, 0 elsewhere. Each row sums to k. float64, so
    shares like 1/3 add up to k as exactly as possible."""
    vals, idx = torch.topk(d, k + 1, dim=1, largest=False, sorted=True)
    w = torch.zeros(d.shape, dtype=torch.float64, device=d.device)
    w.scatter_(1, idx[:, :k], 1.0)
    tie = vals[:, k - 1] == vals[:, k]  # someone ties with the k-th neighbour
    if bool(tie.any()):
        dt = d[tie]
        dk, lt, eq = _kth(dt, k)
        share = ((k - lt).double() / eq.double())[:, None]
        w[tie] = torch.where(dt < dk, 1.0, torch.where(dt == dk, share, 0.0)).double()
    return w


def _sorted_mid_ranks(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(perm, mid): ``perm`` (b, N) sorts each row ascending and ``mid`` (b, N) float64
    holds the mid-rank (nearest = 1) of each sorted position; self (+inf) comes last."""
    if d.device.type == "cpu":
        # numpy's (SIMD) argsort is several times faster than torch.sort on the CPU.
        perm = torch.from_numpy(np.argsort(d.numpy(), axis=1))
        s = torch.gather(d, 1, perm)
    else:
        s, perm = torch.sort(d, dim=1)
    n = d.shape[1]
    ar = torch.arange(n, device=d.device)
    mid = (ar + 1).double().expand(d.shape[0], n)
    new = s[:, 1:] != s[:, :-1]
    tied = ~new.all(1)
    if not bool(tied.any()):
        return perm, mid
    # Rows with ties: a tie group spans sorted positions start..end, mid-rank
    # (start + end) / 2 + 1.
    new = new[tied]
    first = torch.ones(new.shape[0], n, dtype=torch.bool, device=d.device)
    first[:, 1:] = new
    last = torch.ones_like(first)
    last[:, :-1] = new
    start = torch.cummax(torch.where(first, ar, 0), dim=1).values
    end = torch.cummin(torch.where(last, ar, n).flip(1), dim=1).values.flip(1)
    mid = mid.clone()
    mid[tied] = (start + end).double() * 0.5 + 1.0
    return perm, mid


def mid_ranks(d: torch.Tensor) -> torch.Tensor:
    """Mid-ranks (b, N) float64 of every point in its row, in the original order."""
    perm, mid = _sorted_mid_ranks(d)
    return torch.empty_like(mid).scatter_(1, perm, mid)


def _counted_rank_sum(dr: torch.Tensor, idx: torch.Tensor, w: torch.Tensor | None) -> float:
    """sum over rows and columns c of w[:, c] * (mid-rank in ``dr`` of point idx[:, c]),
    by two comparisons of each row with the neighbour's distance (O(N), no sort)."""
    total = 0.0
    for c in range(idx.shape[1]):
        v = dr.gather(1, idx[:, c:c + 1])
        below = _count(dr < v)
        ties = _count(dr == v)  # includes the point itself
        if w is None:
            total += float(below.sum()) + 0.5 * float(ties.sum() + ties.shape[0])
        else:
            total += float((w[:, c] * (below.double() + (ties.double() + 1.0) * 0.5)).sum())
    return total


def rank_sum(dn: torch.Tensor, dr: torch.Tensor, k: int) -> float:
    """sum_i sum_j w^n_ij r^r_ij over a block: neighbours from ``dn``, ranks from ``dr``."""
    vals, idx = torch.topk(dn, k + 1, dim=1, largest=False, sorted=True)
    tie = vals[:, k - 1] == vals[:, k]  # someone ties with the k-th neighbour
    if not bool(tie.any()):  # the common case for continuous data
        return _counted_rank_sum(dr, idx[:, :k], None)
    total = 0.0
    if not bool(tie.all()):
        keep = ~tie
        total += _counted_rank_sum(dr[keep], idx[keep, :k], None)
        dn, dr = dn[tie], dr[tie]
    dk, lt, eq = _kth(dn, k)
    n_nb = int((lt + eq).max())
    if n_nb > _MAX_COUNTED_NEIGHBOURS:
        # Many tied neighbours (e.g. a label space): sort each row once instead.
        perm, mid = _sorted_mid_ranks(dr)
        w = dense_weights(dn, k)
        return total + float((torch.gather(w, 1, perm) * mid).sum())
    vals, idx = torch.topk(dn, n_nb, dim=1, largest=False, sorted=True)
    share = ((k - lt).double() / eq.double())[:, None]
    vals, dkd = vals.double(), dk.double()
    w = torch.where(vals < dkd, 1.0, torch.where(vals == dkd, share, 0.0))
    return total + _counted_rank_sum(dr, idx, w)


def sorted_rows(d: torch.Tensor) -> torch.Tensor:
    """Each row of ``d`` sorted ascending (values only)."""
    if d.device.type == "cpu":
        return torch.from_numpy(np.sort(d.numpy(), axis=1))
    return torch.sort(d, dim=1).values
