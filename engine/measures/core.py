"""Measures of representational alignment and information content (docs/science.md section 2).

Pure functions of arrays (numpy arrays or torch tensors, on the CPU or a GPU):

- :func:`information_imbalance` -- exact Information Imbalance, both directions
- :func:`information_imbalance_to` -- one direction, Delta(A -> B) (fast when B is
  discrete, e.g. labels)
- :func:`information_imbalance_matrix` -- the same for every ordered pair of M spaces
- :func:`linear_cka` / :func:`linear_cka_matrix` -- linear CKA (Kornblith et al. 2019),
  biased or debiased
- :func:`mutual_knn` / :func:`mutual_knn_matrix` -- mutual k-NN alignment (Huh et al. 2024)
- :func:`cknna` -- CKNNA, CKA over mutual nearest neighbours (Huh et al. 2024)
- :func:`intrinsic_dimension` -- TwoNN / GRIDE (:mod:`noisealign.engine.measures.intrinsic_dim`, numpy;
  equal to dadapy's, which is only a test reference)

Spaces. A representation is a 2-D array (N points, features). A 1-D array of an
**integer or bool** dtype is a label vector and is treated as one-hot vectors: the distance
of two points is 0 (same label) or sqrt(2) (different labels), so ties dominate. A 1-D
array of a **float** dtype is one coordinate, i.e. shape (N, 1).

Ties. Ranks are mid-ranks (the expectation under random tie-breaking); when several
points tie for the k-th nearest neighbour, each tied candidate gets an equal share of the
remaining weight, so the neighbour weights of a point always sum to k. Mutual k-NN uses
the same weights: the overlap of two neighbour sets is the expected overlap under
independent random tie-breaking, sum_j w^A_ij w^B_ij.

Exactness of distances. Squared Euclidean distances are computed after subtracting the
coordinate-wise (lower) median, which is a data value (so integer data stay integers):
from coordinate differences for up to 4 features, otherwise as |a|^2 + |b|^2 - 2 a.b
(a matrix product, so it is fast). Exactly duplicated points are detected first
(``torch.unique``) and distances are taken between unique points, so duplicates get
*bit-identical* distances from every point and distance exactly 0 from each other; the
k-NN and rank computations therefore see their ties exactly. Distinct points whose true
distances tie are only seen as tied when the arithmetic is exact (e.g. small integer
coordinates or one-hot vectors); otherwise they differ by rounding, as in any
floating-point code. The matrix-product formula loses relative precision when
neighbours are much closer than the points' norms (a nearly rank-one representation
with many points): in float32 a space is checked on a sample of 128 points and computed
in float64 instead when its nearest-neighbour squared distances fall below 2^11 float32
epsilons of the squared norms. Use ``dtype=torch.float64`` for agreement with float64
references to the last rank.

Speed. Time O(N^2 (d_A + d_B)) (one matrix product per block of rows and space), plus
O(N^2 k) comparisons for the ranks; a row sort (O(N^2 log N)) only for rows whose k-th
neighbour ties with more than 24 candidates (label spaces). Memory O(block x N).
Discrete spaces (label vectors, or at most ~1,000 distinct points): a point's mid-rank in
another's row depends only on the two classes, so the ranks *in* such a space come from
a (U, U) table counted once per class (``_Space.rank_table``) and cost O(k) per row after
the neighbour search; Delta(h -> labels) then needs no label distances and no sort
(:func:`information_imbalance_to`). The other direction, Delta(labels -> h), has whole
classes as neighbours: their weights come from the same per-class counts, h's rows are
sorted once (values only) and each weighted point's mid-rank is found by binary search
(O(N^2 log N), but without argsort or dense weight rows).

Degenerate input. When all points of a space coincide, every distance ties: the measures
then take their random-tie-breaking values -- Information Imbalance 1 in both directions
(no information), mutual k-NN k/(N-1) (chance) -- linear CKA is undefined (NaN), the
intrinsic dimension is 0; a :class:`DegenerateRepresentationWarning` is issued.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from noisealign.engine.measures import intrinsic_dim
from noisealign.engine.base.cancel import check_cancelled

from noisealign.engine.base.validation import check_k

ArrayLike = Any  # numpy array, torch tensor, or nested sequence

# Bytes the (rows x N) float32-equivalent working arrays of one block may use together;
# the row block is sized from it (peak memory is a small multiple of this).
_BLOCK_BYTES = 2**27
# Floats per space in one sub-block of rows for the rank work (about 2 MB: L2/L3-sized).
_CHUNK_FLOATS = 2**19
# Up to this many A-neighbours per row (k plus ties) the ranks in B are found by direct
# comparisons (O(N) per neighbour, no sort); beyond it (e.g. label spaces, where a
# whole class ties) each block of rows is sorted once instead.
_MAX_COUNTED_NEIGHBOURS = 24
# A space with at most this many distinct points (and at most N/2) is *discrete*: the
# mid-rank of a point in another's row depends only on the two points' classes, so the
# ranks in it come from a (U, U) table built once (counting per class) instead of from
# comparisons or a sort of every row. 0 turns the table path off (the generic path).
_DISCRETE_MAX_LEVELS = 1024
# Up to this many features, distances are summed from coordinate differences (no
# cancellation); above it, |a|^2 + |b|^2 - 2 a.b with a matrix product.
_DIRECT_MAX_DIM = 4
# float32 is upgraded to float64 when nearest-neighbour squared distances are below this
# many float32 epsilons of the squared norms (relative rank errors would exceed ~1e-3).
_PRECISION_FACTOR = 2**11


class DegenerateRepresentationWarning(RuntimeWarning):
    """All points of a representation coincide: a measure took its tie value."""


# ----------------------------------------------------------------------------- spaces
class _Space:
    """A validated representation, ready to give blocks of squared distances.

    ``unique`` (Nu, D) holds the distinct points (median-centred) and ``inverse`` (N,)
    maps each point to its row there; for a label space ``unique`` is None and
    ``inverse`` holds class indices.
    """

    def __init__(self, data: ArrayLike, name: str, dtype: torch.dtype,
                 device: torch.device | str | None):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype={dtype!r} is invalid: allowed torch.float32 or torch.float64")
        t = _as_tensor(data, name)
        if device is None:
            device = t.device
        device = torch.device(device)
        if t.ndim not in (1, 2):
            raise ValueError(f"{name} has shape {tuple(t.shape)} ({t.ndim}-D): allowed a 2-D "
                             "array (N points, features) or a 1-D array (labels if integer, "
                             "one coordinate if float)")
        if t.shape[0] == 0 or (t.ndim == 2 and t.shape[1] == 0):
            raise ValueError(f"{name} is empty (shape {tuple(t.shape)}): allowed at least "
                             "one point with at least one feature")
        self.name = name
        self.n = int(t.shape[0])
        self.device = device
        self.dtype = dtype
        self.is_labels = t.ndim == 1 and (t.dtype == torch.bool or not (
            t.dtype.is_floating_point or t.dtype.is_complex))
        if t.dtype.is_complex:
            raise ValueError(f"{name} has complex dtype {t.dtype}: allowed real numbers")
        if self.is_labels:
            _, inverse = torch.unique(t.to(device=device, dtype=torch.int64), return_inverse=True)
            self.unique = None
            self.inverse = inverse
            self.n_unique = int(inverse.max()) + 1
            self.sq = None
            return
        if t.ndim == 1:
            t = t[:, None]
        bad = ~torch.isfinite(t.to(device=device))
        if bool(bad.any()):
            raise ValueError(f"{name} contains {int(bad.sum())} NaN or inf value(s): "
                             "allowed finite numbers only")
        # Few features: differences are cheap and exact-ish (no cancellation).
        self.direct = t.shape[1] <= _DIRECT_MAX_DIM
        self._prepare(t, dtype)
        if dtype == torch.float32 and not self.direct and self.n_unique > 1 \
                and self._loses_precision():
            # Nearest neighbours are so close, compared with the norms, that float32
            # rounding of |a|^2 + |b|^2 - 2 a.b would scramble their order.
            self._prepare(t, torch.float64)

    def _prepare(self, t: torch.Tensor, dtype: torch.dtype) -> None:
        self.dtype = dtype
        t = t.to(device=self.device, dtype=dtype)
        # The largest squared norm before centring: it bounds the rounding of the
        # distances (neighbour_candidates).
        self.max_sq = float((t * t).sum(1).max())
        # Centring reduces cancellation in |a|^2 + |b|^2 - 2 a.b. The lower median (of a
        # sample of rows, for speed) is a data value, so integer data stay integers.
        sample = t if self.n <= 2048 else t[torch.linspace(0, self.n - 1, 2048,
                                                           device=self.device).long()]
        t = t - torch.median(sample, dim=0).values
        unique, inverse = torch.unique(t, dim=0, return_inverse=True)
        self.n_unique = int(unique.shape[0])
        if self.n_unique == self.n:
            # No duplicates: keep the original order so no gather is needed per block.
            unique, inverse = t, None
        self.unique = unique.contiguous()
        self.inverse = inverse
        self.sq = (self.unique * self.unique).sum(1)
        if not bool(torch.isfinite(self.sq).all()):
            raise ValueError(f"{self.name} has values too large for {dtype} squared "
                             "distances: allowed |values| up to about 1e18 (float32) / "
                             "1e150 (float64); rescale the data")

    def _loses_precision(self) -> bool:
        """True when, on a sample of points, the nearest distinct neighbour's squared
        distance is below ~2^11 float32 epsilons of the squared norms involved."""
        nu = self.n_unique
        idx = torch.linspace(0, nu - 1, min(nu, 128), device=self.device).long().unique()
        d = self._unique_block(idx)
        d[torch.arange(len(idx), device=self.device), idx] = math.inf
        nn = d.min(1).values
        scale = self.sq[idx] + self.sq.median()
        ratio = (nn / scale.clamp(min=torch.finfo(self.dtype).tiny)).median()
        return bool(ratio < _PRECISION_FACTOR * torch.finfo(torch.float32).eps)

    def _unique_block(self, urow: torch.Tensor) -> torch.Tensor:
        """Squared distances (len(urow), Nu) from unique points ``urow`` to all of them."""
        x = self.unique[urow]
        if self.direct:
            d = torch.zeros(len(urow), self.unique.shape[0], dtype=self.dtype,
                            device=self.device)
            for c in range(self.unique.shape[1]):
                d.add_((x[:, c:c + 1] - self.unique[None, :, c]).square_())
            return d
        d = (x @ self.unique.T) * -2.0
        d += self.sq[None, :]
        d += self.sq[urow, None]
        return d.clamp_(min=0.0)

    @property
    def degenerate(self) -> bool:
        return self.n_unique == 1

    @property
    def discrete(self) -> bool:
        """True for a label vector or a space of few distinct points (at most
        ``_DISCRETE_MAX_LEVELS`` and at most N / 2): its ranks come from a table."""
        return self.inverse is not None and \
            self.n_unique <= min(_DISCRETE_MAX_LEVELS, self.n // 2)

    def level_table(self) -> torch.Tensor:
        """(Nu, Nu) distances between the distinct points, entry [u, v] being the value
        that :meth:`finish` puts in a row of a point u at the columns of the points v
        (the same arithmetic, so the same order and ties); [u, u] is a duplicate's."""
        nu = self.n_unique
        if self.is_labels:
            eye = torch.eye(nu, dtype=torch.bool, device=self.device)
            return (~eye).to(self.dtype) * 2.0
        urow = torch.arange(nu, device=self.device)
        if self.direct:
            d = self._unique_block(urow)
            d[urow, urow] = 0.0
            return d
        if self.device.type == "cpu":
            u = self.unique.numpy()
            raw = torch.from_numpy(u @ u.T)
        else:
            raw = self.unique @ self.unique.T
        d = torch.add(self.sq[None, :], raw, alpha=-2.0)
        d[urow, urow] = -self.sq
        return d

    def rank_table(self) -> torch.Tensor:
        """(Nu, Nu) float64: [u, v] is the mid-rank (nearest = 1, self excluded) of any
        point of class v in the row of any point of class u (v == u: another point of
        u's class). Built by counting the points per class below and at each distance
        level of row u -- O(Nu^2 log Nu) -- and cached."""
        cached = getattr(self, "_rank_table", None)
        if cached is not None:
            return cached
        nu = self.n_unique
        t = self.level_table()
        counts = torch.bincount(self.inverse, minlength=nu).double()
        others = counts.expand(nu, nu).clone()  # row u: the points other than u itself
        others.diagonal().sub_(1.0)
        order = torch.argsort(t, dim=1)
        s = t.gather(1, order).contiguous()
        cum = torch.zeros(nu, nu + 1, dtype=torch.float64, device=self.device)
        cum[:, 1:] = others.gather(1, order).cumsum(1)
        below = cum.gather(1, torch.searchsorted(s, t, side="left"))
        upto = cum.gather(1, torch.searchsorted(s, t, side="right"))
        self._level_counts = (below, upto - below)
        # below + (ties + 1) / 2, ties counting the point itself (as _counted_rank_sum)
        table = below + (upto - below + 1.0) * 0.5
        self._rank_table = table
        return table

    def weight_table(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(num, den), two (Nu, Nu) float64 tables: num[u, v] / den[u, v] is the k-NN
        weight (as :func:`_dense_weights`) of any point of class v in the row of a point
        of class u -- 1 at levels wholly before the k-th place, (k - below) / ties at
        the k-th place's level, else 0 -- kept as a fraction of integers so that sums
        can be divided once, exactly where the result is representable."""
        self.rank_table()
        below, ties = self._level_counts
        full = below + ties <= k
        zero = below >= k
        num = torch.where(zero, 0.0, torch.where(full, 1.0, k - below))
        den = torch.where(zero | full, 1.0, ties.clamp(min=1.0))
        return num, den

    def block(self, start: int, stop: int) -> torch.Tensor:
        """Squared distances (stop - start, N) from points start..stop-1 to all points,
        up to a constant per row (which changes no neighbour or rank).

        Self-distances are +inf, so a point is never its own neighbour and never counted
        when ranking the others.
        """
        return self.finish(self.raw(start, stop), start, 0, stop - start)

    def raw(self, start: int, stop: int) -> torch.Tensor | None:
        """The matrix-product part of :meth:`block`, the dot products x.u
        (stop - start, Nu), or None where there is none (labels, few features)."""
        if self.is_labels or self.direct:
            return None
        if self.device.type == "cpu":
            # numpy's BLAS (OpenBLAS) runs this product ~1.4x faster than torch's on the
            # AMD CPU measured (BENCHMARKS.md); the values are used the same way.
            u = self.unique.numpy()
            x = u[start:stop] if self.inverse is None else u[self.inverse[start:stop].numpy()]
            return torch.from_numpy(x @ u.T)
        urow = torch.arange(start, stop, device=self.device) if self.inverse is None \
            else self.inverse[start:stop]
        return self.unique[urow] @ self.unique.T

    def finish(self, raw: torch.Tensor | None, start: int, c0: int, c1: int) -> torch.Tensor:
        """Rows c0..c1-1 of ``raw`` (from :meth:`raw` with this ``start``) made into
        finished squared distances, as :meth:`block` returns them. Done a few rows at a
        time, these passes stay in the CPU cache."""
        a, b = start + c0, start + c1
        rows = torch.arange(a, b, device=self.device)
        here = torch.arange(b - a, device=self.device)
        if self.is_labels:
            lab = self.inverse[a:b]
            d = (lab[:, None] != self.inverse[None, :]).to(self.dtype) * 2.0
        else:
            urow = rows if self.inverse is None else self.inverse[a:b]
            if raw is None:
                d = self._unique_block(urow)
                zero = 0.0
            else:
                # |u_j|^2 - 2 x_i.u_j = d_ij - |x_i|^2: a row's constant does not change
                # its order, so |x_i|^2 is not added (one pass fewer). Rounding can
                # push a distinct point below a duplicate's exact value (it would tie
                # at 0 if clamped): either way a rounding-level error.
                d = torch.add(self.sq[None, :], raw[c0:c1], alpha=-2.0)
                zero = -self.sq[urow]
            # A point and its duplicates are at distance exactly 0.
            d[here, urow] = zero
            if self.inverse is not None:
                d = d[:, self.inverse]
        d[here, rows] = math.inf
        return d


def _as_tensor(data: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(data, torch.Tensor):
        return data.detach()
    try:
        arr = np.asarray(data)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {e}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {arr.dtype}: allowed real numbers (float) "
                         "or integer/bool labels")
    if arr.dtype.kind == "u" and arr.dtype.itemsize >= 2:
        arr = arr.astype(np.int64)  # torch lacks uint16..uint64 on older builds
    return torch.from_numpy(np.ascontiguousarray(arr))


def _spaces(reps: Sequence[ArrayLike], names: Sequence[str], dtype: torch.dtype,
            device: torch.device | str | None) -> list[_Space]:
    if device is None:
        device = next((r.device for r in reps if isinstance(r, torch.Tensor)), None)
    spaces = [_Space(r, nm, dtype, device) for r, nm in zip(reps, names)]
    ns = {s.n for s in spaces}
    if len(ns) > 1:
        shapes = ", ".join(f"{s.name}: N={s.n}" for s in spaces)
        raise ValueError(f"the representations have different numbers of points ({shapes}): "
                         "allowed the same N points in every space")
    return spaces


def _warn_degenerate(spaces: Sequence[_Space], what: str) -> None:
    for s in spaces:
        if s.degenerate:
            warnings.warn(f"all {s.n} points of {s.name} coincide: {what}",
                          DegenerateRepresentationWarning, stacklevel=3)


def _block_rows(n: int, m: int, block_size: int | None) -> int:
    if block_size is None:
        return max(16, min(n, _BLOCK_BYTES // (4 * n * max(1, m))))
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ValueError(f"block_size={block_size!r} is invalid: allowed None or an integer >= 1")
    return min(int(block_size), n)


# ------------------------------------------------------------------- rank primitives
@contextlib.contextmanager
def _one_thread(enabled: bool = True) -> Iterator[None]:
    """Run torch CPU work on one intra-op thread for a while (process-wide; restored).

    The rank passes are many small, memory-bound operations; with several OpenMP threads
    each is a parallel region whose barrier spins, and when the CPU is shared with other
    processes those spins cost more than the work (measured 15x slower on a loaded
    2-core machine). The matrix products outside such sections keep every thread.
    """
    prev = torch.get_num_threads()
    if not enabled or prev == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


# Products over at most this many features are memory-bound: smaller row blocks.
_SMALL_PRODUCT_DIM = 64
# Candidate search for the few nearest neighbours: rows are cut into chunks of this many
# columns, and the kk smallest values lie in the kk chunks with the smallest minima.
_SELECT_CHUNK = 64


def _smallest(d: torch.Tensor, kk: int) -> tuple[torch.Tensor, torch.Tensor]:
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


def _dense_weights(d: torch.Tensor, k: int) -> torch.Tensor:
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


def _mid_ranks(d: torch.Tensor) -> torch.Tensor:
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


def _rank_sum(dn: torch.Tensor, dr: torch.Tensor, k: int) -> float:
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
        w = _dense_weights(dn, k)
        return total + float((torch.gather(w, 1, perm) * mid).sum())
    vals, idx = torch.topk(dn, n_nb, dim=1, largest=False, sorted=True)
    share = ((k - lt).double() / eq.double())[:, None]
    vals, dkd = vals.double(), dk.double()
    w = torch.where(vals < dkd, 1.0, torch.where(vals == dkd, share, 0.0))
    return total + _counted_rank_sum(dr, idx, w)


class _ClassSupport:
    """For a discrete neighbour space: per class u, the columns whose points get a
    weight in the row of a point of class u, and those weights (``weight_table``)."""

    def __init__(self, space: _Space, k: int):
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
    srt = _sorted_rows(dr)
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
    """:func:`_rank_sum` when the rank space is discrete: the ranks are looked up in its
    :meth:`_Space.rank_table` (``rows``: the class of each row's point, ``classes``: of
    every point) instead of being counted or sorted in a distance block."""
    vals, idx = _smallest(dn, k + 1)
    tie = vals[:, k - 1] == vals[:, k]  # someone ties with the k-th neighbour
    total = 0.0
    plain = ~tie
    if bool(plain.any()):
        total += float(table[rows[plain][:, None], classes[idx[plain, :k]]].sum())
    if bool(tie.any()):
        w = _dense_weights(dn[tie], k)
        total += float((w * table[rows[tie]][:, classes]).sum())
    return total


# ------------------------------------------------------------------------- measures
def information_imbalance(A: ArrayLike, B: ArrayLike, k: int = 1, *,
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
    :func:`_one_thread`); the distance products use numpy's BLAS threads. Ranks in a
    discrete space (labels, few distinct points) come from its per-class table; for
    Delta(h -> labels) alone, :func:`information_imbalance_to` skips the costly
    Delta(labels -> h).
    """
    sa, sb = _spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    _warn_degenerate([sa, sb], "the Information Imbalance to and from it is 1 (ties)")
    return _ii_both(sa, sb, k, block_size, True, True)


def information_imbalance_to(A: ArrayLike, B: ArrayLike, k: int = 1, *,
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
    or at most ~1,000 distinct points; see :attr:`_Space.discrete`) its ranks come from
    a per-class table, so B's distances are never formed and the cost is that of A's
    neighbour search: Delta(h -> labels) is several times cheaper than both directions,
    whose Delta(labels -> h) needs a sort of h's rows (O(N^2 log N)).
    """
    sa, sb = _spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    _warn_degenerate([sa, sb], "the Information Imbalance to and from it is 1 (ties)")
    return _ii_both(sa, sb, k, block_size, True, False)[0]


def _ii_both(sa: _Space, sb: _Space, k: int, block_size: int | None, want_ab: bool,
             want_ba: bool) -> tuple[float, float]:
    """(Delta(A -> B), Delta(B -> A)) of two validated spaces; a direction not wanted
    is NaN. A discrete rank space uses its rank table (no distance block is formed for
    it unless its neighbours are needed)."""
    n = sa.n
    rows = _block_rows(n, 2, block_size)
    # The matrix products run on blocks of rows; the rank work on sub-blocks of about
    # 2 MB per space, which stay in the CPU cache (3-5x faster than whole blocks).
    sub = rows if sa.device.type == "cuda" else min(rows, max(8, _CHUNK_FLOATS // n))
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
        with _one_thread(sa.device.type == "cpu"):
            for c0 in range(0, stop - start, sub):
                c1 = min(stop - start, c0 + sub)
                da = sa.finish(ra, start, c0, c1) if need_a else None
                db = sb.finish(rb, start, c0, c1) if need_b else None
                a0, a1 = start + c0, start + c1
                if want_ab:
                    if table_b is not None:
                        ab += _table_rank_sum(da, k, table_b, sb.inverse[a0:a1], sb.inverse)
                    elif sup_a is not None:
                        ab += _support_rank_sum(db, sup_a, sa.inverse[a0:a1])
                    else:
                        ab += _rank_sum(da, db, k)
                if want_ba:
                    if table_a is not None:
                        ba += _table_rank_sum(db, k, table_a, sa.inverse[a0:a1], sa.inverse)
                    elif sup_b is not None:
                        ba += _support_rank_sum(da, sup_b, sb.inverse[a0:a1])
                    else:
                        ba += _rank_sum(db, da, k)
    scale = 2.0 / (n * n * k)
    return (ab * scale if want_ab else math.nan), (ba * scale if want_ba else math.nan)


def information_imbalance_matrix(reps: Sequence[ArrayLike], k: int = 1, *,
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
    spaces = _spaces(reps, names, dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    if warn:
        _warn_degenerate(spaces, "its Information Imbalances are 1 (ties)")
    total = _ii_matrix_sums(spaces, k, block_size)
    return total * (2.0 / (n * n * k))


def _sorted_rows(d: torch.Tensor) -> torch.Tensor:
    """Each row of ``d`` sorted ascending (values only)."""
    if d.device.type == "cpu":
        return torch.from_numpy(np.sort(d.numpy(), axis=1))
    return torch.sort(d, dim=1).values


def _ii_matrix_sums(spaces: Sequence[_Space], k: int, block_size: int | None) -> np.ndarray:
    """(M, M) sums of w^a r^b over all rows (see :func:`_matrix_sums`)."""
    return _matrix_sums(spaces, k, None, block_size)[0]


def _matrix_sums(spaces: Sequence[_Space], k: int | None, knn_k: int | None,
                 block_size: int | None, n_targets: int = 0
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """One pass over blocks of rows for both matrices: (M, M) sums of w^a r^b (II,
    neighbours of order ``k``) and of w^a w^b (mutual k-NN, order ``knn_k``); either may
    be None (not computed). Each space's distance block is formed once per sub-block.

    II: each space's k nearest neighbours and sorted rows once per sub-block, then for
    every other space the mid-ranks of those neighbours by binary search in its sorted
    rows (or from its rank table when discrete); rows whose k-th neighbour ties go
    through :func:`_rank_sum` (sorting when the tie is large). Much cheaper than sorting
    every row of every space into dense ranks, as :func:`_pair_sums` does.

    Mutual k-NN: each space's knn_k nearest neighbours once, then per pair the common
    indices of rows without a tie at the k-th place (knn_k^2 comparisons per row), and
    the dense weights of :func:`_overlap` for rows with one.

    The last ``n_targets`` spaces are only ranked in (Delta(a -> target)): their
    neighbours are never searched, their rows of the II sums stay 0 and they take no
    part in mutual k-NN (their rows and columns there are 0)."""
    n, m = spaces[0].n, len(spaces)
    rows = _block_rows(n, m, block_size)
    cpu = spaces[0].device.type == "cpu"
    sub = rows if not cpu else min(rows, max(8, _CHUNK_FLOATS // n))
    tables = [s.rank_table() if s.discrete else None for s in spaces] if k else None
    ii = np.zeros((m, m)) if k is not None else None
    kn = np.zeros((m, m)) if knn_k is not None else None
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        raws = [s.raw(start, stop) for s in spaces]
        with _one_thread(cpu):
            for c0 in range(0, stop - start, sub):
                c1 = min(stop - start, c0 + sub)
                ds = [s.finish(r, start, c0, c1) for s, r in zip(spaces, raws)]
                if ii is not None:
                    _ii_block(spaces, ds, tables, k, start + c0, start + c1, ii,
                              m - n_targets)
                if kn is not None:
                    _knn_block(ds[:m - n_targets], knn_k, kn)
    return ii, kn


def _ii_block(spaces: Sequence[_Space], ds: Sequence[torch.Tensor],
              tables: Sequence[torch.Tensor | None], k: int, a0: int, a1: int,
              total: np.ndarray, n_sources: int) -> None:
    """Add one sub-block's (rows a0..a1-1) II sums to ``total`` (see :func:`_matrix_sums`);
    neighbours from the first ``n_sources`` spaces only."""
    m = len(spaces)
    # Each continuous space's rows sorted once (values only: numpy's sort is ~14x faster
    # than torch's on the CPU); a neighbour's mid-rank is then two binary searches,
    # instead of two passes over the row for every pair.
    srt = [None if t is not None else _sorted_rows(d) for t, d in zip(tables, ds)]
    for a in range(n_sources):
        vals, idx = _smallest(ds[a], k + 1)
        tie = vals[:, k - 1] == vals[:, k]
        any_tie = bool(tie.any())
        plain = ~tie if any_tie else None
        nb = idx[:, :k] if plain is None else idx[plain, :k]
        for b in range(m):
            if tables[b] is not None:
                cls = spaces[b].inverse
                own = cls[a0:a1]
                if plain is not None:
                    own = own[plain]
                total[a, b] += float(tables[b][own[:, None], cls[nb]].sum())
            elif nb.shape[0]:
                dr, sr = (ds[b], srt[b]) if plain is None else (ds[b][plain], srt[b][plain])
                v = dr.gather(1, nb)
                below = torch.searchsorted(sr, v, side="left")
                upto = torch.searchsorted(sr, v, side="right")
                # below + (ties + 1) / 2, as _counted_rank_sum
                total[a, b] += float(below.sum()) + 0.5 * float(
                    (upto - below).sum() + below.numel())
            if any_tie:
                total[a, b] += _rank_sum(ds[a][tie], ds[b][tie], k)


def _knn_block(ds: Sequence[torch.Tensor], k: int, total: np.ndarray) -> None:
    """Add one sub-block's mutual k-NN sums to ``total`` (see :func:`_matrix_sums`)."""
    m = len(ds)
    nbs, ties = [], []
    for d in ds:
        vals, idx = _smallest(d, k + 1)
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
                        dense[c] = _dense_weights(ds[c], k)
                t += float((dense[a][tie] * dense[b][tie]).sum())
            total[a, b] += t
            if a != b:
                total[b, a] += t


def keeps_candidates(space: _Space) -> bool:
    """True when :func:`_pair_sums` can keep a space's neighbour candidates: continuous
    points without duplicates (whose rows hold every point, in order)."""
    return not space.is_labels and space.inverse is None and not space.degenerate


def _candidates_of(space: _Space, d: torch.Tensor, start: int, c: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``c`` nearest columns of rows start.. of ``space``'s distance block ``d`` and,
    per row, a lower bound on the true squared distance to every other column.

    ``d`` is :meth:`_Space.block`'s: d_ij - |x_i|^2 for product spaces, d_ij for spaces of
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
    dim = space.unique.shape[1]
    lower = vals[:, -1].double()
    if not space.direct:
        lower = lower + space.sq[rows].double()
    lower = lower - 2.0 * eps * (4.0 * dim * float(space.sq.max()) + 8.0 * space.max_sq)
    return cols, lower


def _pair_sums(spaces: Sequence[_Space], k: int | None, knn_k: int | None,
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
    for i, c in keep.items():
        kept[i] = (np.empty((n, min(c, n - 1)), np.int64), np.empty(n, np.float64))
    knn_idx = list(range(m)) if knn_idx is None else list(knn_idx)
    per_row = 2 * m * (k is not None) + len(knn_idx) * (knn_k is not None)
    rows = _block_rows(n, 2 * per_row, block_size)  # float64 working arrays
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
            kept[i][0][start:stop] = cols.cpu().numpy()
            kept[i][1][start:stop] = lower.cpu().numpy()
        if k is not None:
            w = _dense_weights(ds, k).reshape(m, -1)
            r = _mid_ranks(ds).reshape(m, -1)
            ii += (w @ r.T).cpu().numpy()
            del w, r
        if knn_k is not None:
            b = stop - start
            sel = ds.reshape(m, b, n)[knn_idx].reshape(-1, n)
            w = _dense_weights(sel, knn_k).reshape(len(knn_idx), -1)
            kn += (w @ w.T).cpu().numpy()
    if kn is not None:
        kn = (kn + kn.T) / 2  # exactly symmetric (the product's rounding may not be)
    return ii, kn


def mutual_knn(A: ArrayLike, B: ArrayLike, k: int = 10, *,
               dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None,
               block_size: int | None = None) -> float:
    """Mutual k-NN alignment (Huh et al. 2024): mean over points of the fraction of
    their k nearest neighbours (self excluded) shared by A and B.

    A, B: (N, d) representations or (N,) labels / coordinate. In [0, 1]; 1 when the
    neighbour sets agree; about k / (N - 1) for unrelated spaces. Ties for the k-th
    neighbour count fractionally (expected overlap under random tie-breaking).
    """
    sa, sb = _spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    n = sa.n
    rows = _block_rows(n, 2, block_size)
    sub = rows if sa.device.type == "cuda" else min(rows, max(8, _CHUNK_FLOATS // n))
    _warn_degenerate([sa, sb], "mutual k-NN with it is at chance, k/(N-1) (ties)")
    total = 0.0
    for start in range(0, n, rows):
        check_cancelled("the measures")
        stop = min(n, start + rows)
        ra, rb = sa.raw(start, stop), sb.raw(start, stop)
        with _one_thread(sa.device.type == "cpu"):
            for c0 in range(0, stop - start, sub):
                c1 = min(stop - start, c0 + sub)
                total += _overlap(sa.finish(ra, start, c0, c1), sb.finish(rb, start, c0, c1), k)
    return total / (n * k)


def _overlap(da: torch.Tensor, db: torch.Tensor, k: int) -> float:
    """sum_i sum_j w^A_ij w^B_ij over a block: shared k-NN, ties counted fractionally."""
    va, ia = torch.topk(da, k + 1, dim=1, largest=False, sorted=True)
    vb, ib = torch.topk(db, k + 1, dim=1, largest=False, sorted=True)
    tie = (va[:, k - 1] == va[:, k]) | (vb[:, k - 1] == vb[:, k])
    # Rows without ties at the k-th place: count common indices of the two k-NN sets.
    plain = ~tie
    total = float((ia[plain, :k, None] == ib[plain, None, :k]).sum())
    if bool(tie.any()):
        total += float((_dense_weights(da[tie], k) * _dense_weights(db[tie], k)).sum())
    return total


def mutual_knn_matrix(reps: Sequence[ArrayLike], k: int = 10, *,
                      dtype: torch.dtype = torch.float32,
                      device: torch.device | str | None = None,
                      block_size: int | None = None,
                      names: Sequence[str] | None = None,
                      warn: bool = True) -> np.ndarray:
    """Mutual k-NN between every pair of M representations: (M, M), symmetric."""
    m = len(reps)
    if m == 0:
        raise ValueError("reps is empty: allowed at least one representation")
    names = list(names) if names is not None else [f"reps[{i}]" for i in range(m)]
    spaces = _spaces(reps, names, dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    if warn:
        _warn_degenerate(spaces, "its mutual k-NN values are at chance (ties)")
    return _knn_matrix_sums(spaces, k, block_size) / (n * k)


def _knn_matrix_sums(spaces: Sequence[_Space], k: int, block_size: int | None) -> np.ndarray:
    """(M, M) sums of w^a w^b, symmetric (see :func:`_matrix_sums`)."""
    return _matrix_sums(spaces, None, k, block_size)[1]


def alignment_matrices(reps: Sequence[ArrayLike], k: int = 1, knn_k: int = 10, *,
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
    spaces = _spaces(list(reps) + list(targets),
                     names + [f"targets[{i}]" for i in range(t)], dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    knn_k = check_k(knn_k, n, "knn_k")
    if warn:
        _warn_degenerate(spaces, "its Information Imbalances are 1 and its mutual k-NN "
                         "values at chance (ties)")
    ii, kn = _matrix_sums(spaces, k, knn_k, block_size, n_targets=t)
    ii = ii * (2.0 / (n * n * k))
    return ii[:m, :m], kn[:m, :m] / (n * knn_k), ii[:m, m:]


def _features(X: ArrayLike, name: str, dtype: torch.dtype,
              device: torch.device | str | None) -> torch.Tensor:
    """(N, d) features of ``dtype`` (labels one-hot), validated like a :class:`_Space`."""
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype={dtype!r} is invalid: allowed torch.float32 or torch.float64")
    t = _as_tensor(X, name)
    if t.ndim not in (1, 2):
        raise ValueError(f"{name} has shape {tuple(t.shape)} ({t.ndim}-D): allowed a 2-D "
                         "array (N points, features) or a 1-D array (labels if integer, "
                         "one coordinate if float)")
    if t.shape[0] == 0 or (t.ndim == 2 and t.shape[1] == 0):
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}): allowed at least "
                         "one point with at least one feature")
    t = t.to(device=device if device is not None else t.device)
    if t.ndim == 1 and not t.dtype.is_floating_point:
        _, inverse = torch.unique(t.long(), return_inverse=True)
        return torch.nn.functional.one_hot(inverse).to(dtype)
    t = t.to(dtype)
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        raise ValueError(f"{name} contains {int(bad.sum())} NaN or inf value(s): "
                         "allowed finite numbers only")
    return t[:, None] if t.ndim == 1 else t


def linear_cka(A: ArrayLike, B: ArrayLike, debiased: bool = False, *,
               dtype: torch.dtype = torch.float64,
               device: torch.device | str | None = None) -> float:
    """Linear CKA of two representations of the same N points, in [0, 1].

    A: (N, dA), B: (N, dB) (1-D labels are one-hot, 1-D floats one coordinate).
    ``debiased=False``: Kornblith et al. (2019),
    ``HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))`` with centred linear Gram matrices.
    ``debiased=True``: the unbiased HSIC estimator (Song et al. 2012), as used for
    debiased CKA by Nguyen et al. (2021); needs N >= 4 and can be slightly negative.
    Invariant to rotations, isotropic scaling and translations of either space.
    Computed in feature space (O(N d^2)) or via Gram matrices (O(N^2 d)), whichever is
    cheaper; float64 by default. Undefined (NaN, with a warning) when a space has no
    variance.
    """
    if not isinstance(debiased, bool):
        raise ValueError(f"debiased={debiased!r} is invalid: allowed True or False")
    if device is None:
        device = next((r.device for r in (A, B) if isinstance(r, torch.Tensor)), None)
    x = _features(A, "A", dtype, device)
    y = _features(B, "B", dtype, x.device)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"the representations have different numbers of points (A: N={n}, "
                         f"B: N={y.shape[0]}): allowed the same N points in both")
    if n < 4 if debiased else n < 2:
        raise ValueError(f"N={n} points is too few for {'debiased' if debiased else 'linear'} "
                         f"CKA: allowed N >= {4 if debiased else 2}")
    x = x - x.mean(0)
    y = y - y.mean(0)
    hxy, hxx, hyy = (_hsic_unbiased if debiased else _hsic_biased)(x, y)
    denom = hxx * hyy
    if not denom > 0:
        which = [nm for nm, h in (("A", hxx), ("B", hyy)) if not h > 0]
        warnings.warn(f"{' and '.join(which)} has no variance (all points coincide): "
                      "linear CKA is undefined, returning NaN",
                      DegenerateRepresentationWarning, stacklevel=2)
        return float("nan")
    return float(hxy / math.sqrt(denom))


def _gram_traces(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    """tr(K L), tr(K K), tr(L L) for K = x x^T, L = y y^T, in the cheaper space."""
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    if n * n < dx * dy:
        kx, ky = x @ x.T, y @ y.T
        return float((kx * ky).sum()), float((kx * kx).sum()), float((ky * ky).sum())
    return (float((x.T @ y).square().sum()), float((x.T @ x).square().sum()),
            float((y.T @ y).square().sum()))


def _cross_trace(x: torch.Tensor, y: torch.Tensor) -> float:
    """tr(K L) for K = x x^T, L = y y^T, in the cheaper space (as :func:`_gram_traces`)."""
    n, dx, dy = x.shape[0], x.shape[1], y.shape[1]
    if n * n < dx * dy:
        return float(((x @ x.T) * (y @ y.T)).sum())
    return float((x.T @ y).square().sum())


def _hsic_biased(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    return _gram_traces(x, y)  # common 1/(N-1)^2 factors cancel in CKA


def _hsic_unbiased(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float, float]:
    """Unbiased HSIC (times n(n-3)) of linear kernels, without forming N x N matrices:
    tr(K~L~) + (1'K~1)(1'L~1)/((n-1)(n-2)) - 2/(n-2) 1'K~L~1, K~ = K with zero diagonal."""
    n = x.shape[0]
    t_xy, t_xx, t_yy = _gram_traces(x, y)
    dx, dy = (x * x).sum(1), (y * y).sum(1)  # Gram diagonals
    ux = x @ x.sum(0) - dx  # K~ 1
    uy = y @ y.sum(0) - dy

    def h(t: float, da: torch.Tensor, db: torch.Tensor, ua: torch.Tensor,
          ub: torch.Tensor) -> float:
        tr = t - float((da * db).sum())
        return (tr + float(ua.sum()) * float(ub.sum()) / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * float((ua * ub).sum()))
    return h(t_xy, dx, dy, ux, uy), h(t_xx, dx, dx, ux, ux), h(t_yy, dy, dy, uy, uy)


def linear_cka_matrix(reps: Sequence[ArrayLike], debiased: bool = False, *,
                      dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None,
                      names: Sequence[str] | None = None,
                      warn: bool = True) -> np.ndarray:
    """Linear CKA between every pair of M representations of the same N points:
    (M, M), symmetric, the diagonal 1 (NaN for a space without variance).

    Same values as :func:`linear_cka` pair by pair, computed from the M centred Gram
    matrices at once when they fit in memory (M N^2 <= 2^25 numbers), else pair by pair.
    """
    if not isinstance(debiased, bool):
        raise ValueError(f"debiased={debiased!r} is invalid: allowed True or False")
    m = len(reps)
    if m == 0:
        raise ValueError("reps is empty: allowed at least one representation")
    names = list(names) if names is not None else [f"reps[{i}]" for i in range(m)]
    if device is None:
        device = next((r.device for r in reps if isinstance(r, torch.Tensor)), None)
    xs = [_features(r, nm, dtype, device) for r, nm in zip(reps, names)]
    n = xs[0].shape[0]
    if any(x.shape[0] != n for x in xs):
        shapes = ", ".join(f"{nm}: N={x.shape[0]}" for nm, x in zip(names, xs))
        raise ValueError(f"the representations have different numbers of points ({shapes}): "
                         "allowed the same N points in every space")
    if n < (4 if debiased else 2):
        raise ValueError(f"N={n} points is too few for {'debiased' if debiased else 'linear'} "
                         f"CKA: allowed N >= {4 if debiased else 2}")
    out = _cka_matrices(xs, (debiased,))[0]
    bad = np.isnan(np.diag(out))
    if warn and bad.any():
        warnings.warn(f"{', '.join(names[i] for i in np.flatnonzero(bad))} has no variance "
                      "(all points coincide): its linear CKA is undefined (NaN)",
                      DegenerateRepresentationWarning, stacklevel=2)
    return out


def _cka_matrices(xs: Sequence[torch.Tensor], which: Sequence[bool]) -> list[np.ndarray]:
    """Linear CKA matrices (M, M) of validated features ``xs`` (M tensors (N, d)), one
    per entry of ``which`` (False = biased, True = debiased); NaN for no variance."""
    m, n = len(xs), xs[0].shape[0]
    xs = [x - x.mean(0) for x in xs]
    hs = []
    if m * n * n <= 2**25:
        grams = torch.stack([x @ x.T for x in xs])  # (M, N, N)
        flat = grams.reshape(m, -1)
        for debiased in which:
            if not debiased:
                hs.append((flat @ flat.T).cpu().numpy().astype(np.float64))
                continue
            g = grams.clone()
            g.diagonal(dim1=1, dim2=2).zero_()
            f = g.reshape(m, -1)
            sums = f.sum(1)
            u = g.sum(2)  # (M, N): K~ 1
            h = (f @ f.T + torch.outer(sums, sums) / ((n - 1) * (n - 2))
                 - 2.0 / (n - 2) * (u @ u.T))
            hs.append(h.cpu().numpy().astype(np.float64))
    else:
        # Pair by pair, each cross trace tr(K_a K_b) once for both variants, and the
        # per-space terms of the unbiased estimator (Gram diagonal, K~1) once per space.
        diag = [(x * x).sum(1) for x in xs]
        ones = [x @ x.sum(0) - d for x, d in zip(xs, diag)]
        hs = [np.zeros((m, m)) for _ in which]
        for a in range(m):
            for b in range(a, m):
                check_cancelled("linear CKA")
                t = _cross_trace(xs[a], xs[b])
                for h, debiased in zip(hs, which):
                    if debiased:
                        tr = t - float((diag[a] * diag[b]).sum())
                        v = (tr + float(ones[a].sum()) * float(ones[b].sum())
                             / ((n - 1) * (n - 2))
                             - 2.0 / (n - 2) * float((ones[a] * ones[b]).sum()))
                    else:
                        v = t
                    h[a, b] = h[b, a] = v
    out = []
    for h in hs:
        diag = np.diag(h).copy()
        diag[~(diag > 0)] = np.nan
        c = h / np.sqrt(np.outer(diag, diag))
        out.append((c + c.T) / 2)
    return out


# ------------------------------------------------------------------------------ CKNNA
def inner_product_knn(X: ArrayLike, k: int, *, include_self: bool = False,
                      name: str = "A", dtype: torch.dtype = torch.float64,
                      device: torch.device | str | None = None,
                      block_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest inner products x_i . x_j of each point, blockwise (memory
    O(block x N)), for :func:`cknna`.

    Parameters
    ----------
    X : array_like
        (N, d) features (1-D labels one-hot, 1-D floats one coordinate).
    k : int
        Neighbours per point, 1 <= k <= N - 2.
    include_self : bool
        Whether j = i may be chosen (platonic-rep's biased CKNNA keeps it).
    name, dtype, device, block_size
        The array's name in messages; arithmetic; device; rows per block.

    Returns
    -------
    (idx, val) : (N, k) int64 and (N, k) float tensors
        Columns and values, largest first; ties are broken arbitrarily (as
        ``torch.topk``), as in platonic-rep.
    """
    x = _features(X, name, dtype, device)
    n, dim = x.shape
    k = check_k(k, n)
    rows = _block_rows(n, 1, block_size)
    idx = torch.empty(n, k, dtype=torch.int64, device=x.device)
    val = torch.empty(n, k, dtype=x.dtype, device=x.device)
    # float64 asked: candidates from a float32 product (about 2x faster), their exact
    # values in float64, and a bound on the float32 error that proves no other point
    # can be among the k largest; rows where it cannot prove it are redone in float64.
    fast = x.dtype == torch.float64
    x32 = x.float() if fast else x
    norms = x.norm(dim=1)
    c = min(k + max(8, k), n - (0 if include_self else 1)) if fast else k
    # |fl32(x.y) - x.y| <= (dim + 2) u |x| |y| (inputs rounded, then summed); twice that
    bound = (dim + 4) * 2.0**-23 * norms * norms.max()
    if fast:  # the (rows, c, dim) gather for the exact values: at most ~32 MB
        rows = max(1, min(rows, 2**22 // (c * dim)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        here = torch.arange(stop - start, device=x.device)
        d = -(x32[start:stop] @ x32.T)  # smallest = largest inner product
        if not include_self:
            d[here, here + start] = math.inf
        v, i = _smallest(d, c)
        if fast:
            exact = torch.einsum("bd,bcd->bc", x[start:stop], x[i])
            top, pos = torch.topk(exact, k, dim=1)
            i = i.gather(1, pos)
            outside = -v[:, -1].double() + bound[start:stop]  # best value left out
            redo = ~(outside < top[:, -1]) if c < n - (0 if include_self else 1) else \
                torch.zeros(stop - start, dtype=torch.bool, device=x.device)
            if bool(redo.any()):
                r = here[redo] + start
                dd = x[r] @ x.T
                if not include_self:
                    dd[torch.arange(len(r), device=x.device), r] = -math.inf
                top_r, i_r = torch.topk(dd, k, dim=1)
                top[redo], i[redo] = top_r, i_r
            idx[start:stop], val[start:stop] = i, top
        else:
            idx[start:stop], val[start:stop] = i, -v
    return idx, val


def _masked_hsic(rows: torch.Tensor, cols: torch.Tensor, kv: torch.Tensor,
                 lv: torch.Tensor, n: int, unbiased: bool) -> float:
    """HSIC of the sparse matrices K~, L~ with entries kv, lv at (rows, cols) (each
    pair once), by platonic-rep's formulas for dense matrices without forming them:
    unbiased (Song et al. 2012) ``[tr(K~ L~) + 1'K~1 1'L~1 / ((n-1)(n-2))
    - 2/(n-2) 1'K~L~1] / (n(n-3))`` (diagonal entries dropped), biased
    ``tr(K H L H)`` with H = I - 11'/n. Here tr(K L) = sum_ij K_ij L_ji."""
    if unbiased:
        off = rows != cols
        rows, cols, kv, lv = rows[off], cols[off], kv[off], lv[off]
    key = rows * n + cols
    order = torch.argsort(key)
    key_sorted = key[order]
    tkey = cols * n + rows  # (j, i) for each (i, j)
    pos = torch.searchsorted(key_sorted, tkey).clamp_(max=max(len(key) - 1, 0))
    hit = key_sorted[pos] == tkey if len(key) else torch.zeros(0, dtype=torch.bool)
    tr = float((kv[hit] * lv[order[pos[hit]]]).sum())  # sum_ij K_ij L_ji
    k_rows = torch.zeros(n, dtype=kv.dtype).index_add_(0, rows, kv)  # K 1
    k_cols = torch.zeros(n, dtype=kv.dtype).index_add_(0, cols, kv)  # 1'K
    l_rows = torch.zeros(n, dtype=lv.dtype).index_add_(0, rows, lv)
    l_cols = torch.zeros(n, dtype=lv.dtype).index_add_(0, cols, lv)
    sk, sl = float(kv.sum()), float(lv.sum())
    if unbiased:
        return (tr + sk * sl / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * float((k_cols * l_rows).sum())) / (n * (n - 3))
    # tr(KHLH) = tr(KL) - (1/n) 1'KL1 - (1/n) 1'LK1 + (1/n^2) 1'K1 1'L1
    return (tr - float((k_cols * l_rows).sum()) / n - float((l_cols * k_rows).sum()) / n
            + sk * sl / (n * n))


def _cknna_term(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor],
                n: int, unbiased: bool) -> float:
    """HSIC(mask * K, mask * L), the mask being the pairs (i, j) with j among i's k
    nearest neighbours in both spaces (``a``, ``b``: (idx, val) of
    :func:`inner_product_knn`)."""
    ia, va = a
    ib, vb = b
    k = ia.shape[1]
    same = ia[:, :, None] == ib[:, None, :]  # (N, k, k)
    ri, pa, pb = torch.nonzero(same, as_tuple=True)
    rows = ri
    cols = ia[ri, pa]
    return _masked_hsic(rows, cols, va[ri, pa].double(), vb[ri, pb].double(), n, unbiased)


def cknna_from_knn(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor],
                   n: int, *, unbiased: bool = True,
                   self_terms: tuple[float, float] | None = None) -> float:
    """CKNNA from precomputed :func:`inner_product_knn` results (see :func:`cknna`);
    ``self_terms`` = (HSIC_A, HSIC_B) of each space with itself, when known."""
    kl = _cknna_term(a, b, n, unbiased)
    kk, ll = self_terms if self_terms is not None else (
        _cknna_term(a, a, n, unbiased), _cknna_term(b, b, n, unbiased))
    if not kk * ll > 0:
        return math.nan
    return kl / math.sqrt(kk * ll)


def cknna(A: ArrayLike, B: ArrayLike, k: int = 10, *, unbiased: bool = True,
          dtype: torch.dtype = torch.float64,
          device: torch.device | str | None = None) -> float:
    """CKNNA (Huh et al. 2024, platonic-rep): CKA restricted to mutual nearest
    neighbours.

    Parameters
    ----------
    A, B : array_like
        (N, dA), (N, dB) features of the same N points (1-D labels one-hot).
    k : int
        Neighbours per point, 1 <= k <= N - 2, by **inner product** (the largest
        x_i . x_j, as platonic-rep; L2-normalise the rows first for cosine neighbours).
    unbiased : bool
        True: self excluded from the neighbours and the unbiased HSIC estimator; False:
        self allowed and the biased HSIC, tr(K H L H).

    Returns
    -------
    float
        ``HSIC(M * K, M * L) / sqrt(HSIC(M_A * K, M_A * K) HSIC(M_B * L, M_B * L))``
        with K, L the linear Gram matrices, M_A / M_B the k-NN indicator matrices and
        M = M_A * M_B; NaN when a denominator term is not positive (platonic-rep adds
        1e-6 to the denominator instead).

    Notes
    -----
    Only the N k neighbour pairs enter, so after the blockwise neighbour search
    (O(N^2 d) time, O(block x N) memory) it costs O(N k^2); the formulas are those of
    platonic-rep's dense N x N code, rearranged (``tests/test_compare.py`` checks them
    against a dense version). Tied inner products are broken arbitrarily.
    """
    if not isinstance(unbiased, bool):
        raise ValueError(f"unbiased={unbiased!r} is invalid: allowed True or False")
    x = _features(A, "A", dtype, device)
    y = _features(B, "B", dtype, x.device)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"the representations have different numbers of points (A: N={n}, "
                         f"B: N={y.shape[0]}): allowed the same N points in both")
    if n < 4:
        raise ValueError(f"N={n} points is too few for CKNNA: allowed N >= 4")
    a = inner_product_knn(x, k, include_self=not unbiased, name="A", dtype=dtype)
    b = inner_product_knn(y, k, include_self=not unbiased, name="B", dtype=dtype)
    return cknna_from_knn(a, b, n, unbiased=unbiased)


# ---------------------------------------------------------------- intrinsic dimension
def _import_dadapy():
    """Import dadapy (a test and benchmark reference only: nothing a run needs imports
    it) without letting it change numpy's global print options."""
    opts = np.get_printoptions()
    try:
        import dadapy  # noqa: F401
        from dadapy import Data
    finally:
        np.set_printoptions(**opts)
    return Data


ID_METHODS = ("twonn", "gride")


def _id_space(A: ArrayLike) -> _Space:
    s = _Space(A, "A", torch.float64, "cpu")
    if s.is_labels:
        raise ValueError("A is a 1-D integer label vector: the intrinsic dimension needs "
                         "coordinates, allowed a 2-D (N, features) float array")
    return s


def _check_id_scale(scale: Any) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 2 \
            or scale & (scale - 1):
        raise ValueError(f"scale={scale!r} is invalid: allowed a power of 2 >= 2")
    return int(scale)


def intrinsic_dimension(A: ArrayLike, method: str = "twonn", *, scale: int = 16) -> float:
    """Intrinsic dimension of a representation A (N, d) (:mod:`noisealign.engine.measures.intrinsic_dim`,
    equal to dadapy's estimators).

    ``method="twonn"``: TwoNN (Facco et al. 2017), dadapy's default linear fit on the
    90% smallest ratios r2/r1. ``method="gride"``: GRIDE (Denti et al. 2022) from the
    ratios of the ``scale``-th to the (``scale``/2)-th neighbour distance (``scale`` a
    power of 2 >= 2; larger scales are more robust to noise). Exact duplicate points are
    removed first (their zero distances break both estimators). All points coinciding:
    0.0 with a warning.
    """
    if method not in ID_METHODS:
        raise ValueError(f"method={method!r} is invalid: allowed one of {ID_METHODS}")
    s = _id_space(A)
    if method == "gride":
        scale = _check_id_scale(scale)
    if s.degenerate:
        warnings.warn("all points of A coincide: intrinsic dimension 0",
                      DegenerateRepresentationWarning, stacklevel=2)
        return 0.0
    x = s.unique.cpu().numpy()
    nu = x.shape[0]
    need = 3 if method == "twonn" else int(scale) + 1
    if nu < need:
        raise ValueError(f"A has {nu} distinct points: allowed at least {need} for "
                         f"method={method!r}" + (f" with scale={scale}" if method == "gride" else ""))
    if method == "twonn":
        r = intrinsic_dim.neighbour_distances(x, 2)
        return intrinsic_dim.twonn(r[:, 0], r[:, 1])
    r = intrinsic_dim.neighbour_distances(x, scale)
    return intrinsic_dim.gride(r[:, scale // 2 - 1], r[:, scale - 1], scale // 2)


def intrinsic_dimensions(A: ArrayLike, *, scale: int = 16,
                         candidates: np.ndarray | None = None,
                         outside: np.ndarray | None = None) -> dict[str, Any]:
    """TwoNN and GRIDE intrinsic dimension of A (N, d) from one neighbour search
    (:func:`noisealign.engine.measures.intrinsic_dim.estimates`; equal to dadapy's to ~1e-9).

    Returns ``{"twonn": float, "gride": float, "gride_scale": int}``: the TwoNN estimate
    (as :func:`intrinsic_dimension` with ``method="twonn"``) and the GRIDE estimate at
    the largest neighbour order ``gride_scale <= scale`` (a power of 2) that the distinct
    points allow (as ``method="gride"`` at that scale). NaN where there are too few
    distinct points; 0.0 when all points coincide. ``candidates`` (N, c) int: columns
    known to hold each point's ``gride_scale`` nearest others (e.g. from the neighbour
    lists of an Information Imbalance pass, :func:`_pair_sums`) and ``outside`` (N,) a
    lower bound on each point's squared distance to the others (rows the candidates may
    not cover are searched in full); ignored when A has duplicate points.
    """
    scale = _check_id_scale(scale)
    s = _id_space(A)
    if s.degenerate:
        return {"twonn": 0.0, "gride": 0.0, "gride_scale": 0}
    if s.inverse is not None:  # duplicates: candidates index points, not distinct ones
        candidates = outside = None
    return intrinsic_dim.estimates(s.unique.cpu().numpy(), scale, candidates=candidates,
                                   outside=outside)
