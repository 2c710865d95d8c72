"""Spaces: a representation validated and ready to give blocks of squared distances.

Every measure starts here: :class:`Space` (the distinct points, median-centred, their
squared norms, the class table of a discrete space), the same checks of N across
spaces (:func:`as_spaces`), the features CKA and CKNNA take (:func:`features`), the row
blocks' size and the one-thread sections of the rank passes. How ties, exactness and
the float32 -> float64 upgrade work is in :mod:`noisealign.engine.measures.core`'s
opening docstring. Separate from the measures because they all share it; an internal
module (its names are public to the other measure modules, not to users).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

ArrayLike = Any  # numpy array, torch tensor, or nested sequence

# Bytes the (rows x N) float32-equivalent working arrays of one block may use together;
# the row block is sized from it (peak memory is a small multiple of this).
_BLOCK_BYTES = 2**27
# Floats per space in one sub-block of rows for the rank work (about 2 MB: L2/L3-sized).
CHUNK_FLOATS = 2**19
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
class Space:
    """A validated representation, ready to give blocks of squared distances.

    ``unique`` (Nu, D) holds the distinct points (median-centred) and ``inverse`` (N,)
    maps each point to its row there; for a label space ``unique`` is None and
    ``inverse`` holds class indices.
    """

    unique: torch.Tensor | None  # None for labels
    sq: torch.Tensor | None  # squared norms of ``unique``; None for labels

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
        assert self.sq is not None  # coordinates, not labels
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
        assert self.unique is not None and self.sq is not None  # coordinates, not labels
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
        assert self.unique is not None and self.sq is not None  # coordinates, not labels
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
        weight (as :func:`dense_weights`) of any point of class v in the row of a point
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
        assert self.unique is not None and self.sq is not None  # coordinates, not labels
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
            assert self.sq is not None  # coordinates, not labels
            urow = rows if self.inverse is None else self.inverse[a:b]
            zero: float | torch.Tensor
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
    except Exception as e:  # noqa: BLE001 (ragged lists and the like)
        raise ValueError(f"{name} could not be read as an array: {e}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {arr.dtype}: allowed real numbers (float) "
                         "or integer/bool labels")
    if arr.dtype.kind == "u" and arr.dtype.itemsize >= 2:
        arr = arr.astype(np.int64)  # torch lacks uint16..uint64 on older builds
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_spaces(reps: Sequence[ArrayLike], names: Sequence[str], dtype: torch.dtype,
            device: torch.device | str | None) -> list[Space]:
    if device is None:
        device = next((r.device for r in reps if isinstance(r, torch.Tensor)), None)
    spaces = [Space(r, nm, dtype, device) for r, nm in zip(reps, names)]
    ns = {s.n for s in spaces}
    if len(ns) > 1:
        shapes = ", ".join(f"{s.name}: N={s.n}" for s in spaces)
        raise ValueError(f"the representations have different numbers of points ({shapes}): "
                         "allowed the same N points in every space")
    return spaces


def warn_degenerate(spaces: Sequence[Space], what: str) -> None:
    for s in spaces:
        if s.degenerate:
            warnings.warn(f"all {s.n} points of {s.name} coincide: {what}",
                          DegenerateRepresentationWarning, stacklevel=3)


def block_rows(n: int, m: int, block_size: int | None) -> int:
    if block_size is None:
        return max(16, min(n, _BLOCK_BYTES // (4 * n * max(1, m))))
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ValueError(f"block_size={block_size!r} is invalid: allowed None or an integer >= 1")
    return min(int(block_size), n)


@contextlib.contextmanager
def one_thread(enabled: bool = True) -> Iterator[None]:
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


def features(X: ArrayLike, name: str, dtype: torch.dtype,
              device: torch.device | str | None) -> torch.Tensor:
    """(N, d) features of ``dtype`` (labels one-hot), validated like a :class:`Space`."""
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
