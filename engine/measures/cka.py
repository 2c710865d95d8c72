"""Linear CKA (Kornblith et al. 2019, biased or debiased) and CKNNA (Huh et al. 2024).

Kernel alignment of the linear Gram matrices: :func:`linear_cka`, :func:`linear_cka_matrix`
(and :func:`cka_matrices`, the summaries' and compare's path for validated features),
and CKNNA, CKA restricted to mutual nearest neighbours by inner product
(:func:`inner_product_knn`, :func:`cknna_from_knn`, :func:`cknna`; :func:`cknna_term`
is one HSIC term, reused by compare). Its own module: the kernel family of measures,
which needs features, not distances.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

from ..base.cancel import check_cancelled
from ..base.validation import check_k
from ..pipeline.constraints import DEFAULT_KNN_K  # the k defaults: one definition
from .ranks import smallest
from .spaces import (
    ArrayLike,
    DegenerateRepresentationWarning,
    block_rows,
    features,
)


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
        raise ValueError(f"debiased={debiased!r} is invalid: allowed True or False")  # noqa: TRY004
    if device is None:
        device = next((r.device for r in (A, B) if isinstance(r, torch.Tensor)), None)
    x = features(A, "A", dtype, device)
    y = features(B, "B", dtype, x.device)
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
        raise ValueError(f"debiased={debiased!r} is invalid: allowed True or False")  # noqa: TRY004
    m = len(reps)
    if m == 0:
        raise ValueError("reps is empty: allowed at least one representation")
    names = list(names) if names is not None else [f"reps[{i}]" for i in range(m)]
    if device is None:
        device = next((r.device for r in reps if isinstance(r, torch.Tensor)), None)
    xs = [features(r, nm, dtype, device) for r, nm in zip(reps, names)]
    n = xs[0].shape[0]
    if any(x.shape[0] != n for x in xs):
        shapes = ", ".join(f"{nm}: N={x.shape[0]}" for nm, x in zip(names, xs))
        raise ValueError(f"the representations have different numbers of points ({shapes}): "
                         "allowed the same N points in every space")
    if n < (4 if debiased else 2):
        raise ValueError(f"N={n} points is too few for {'debiased' if debiased else 'linear'} "
                         f"CKA: allowed N >= {4 if debiased else 2}")
    out = cka_matrices(xs, (debiased,))[0]
    bad = np.isnan(np.diag(out))
    if warn and bad.any():
        warnings.warn(f"{', '.join(names[i] for i in np.flatnonzero(bad))} has no variance "
                      "(all points coincide): its linear CKA is undefined (NaN)",
                      DegenerateRepresentationWarning, stacklevel=2)
    return out


def cka_matrices(xs: Sequence[torch.Tensor], which: Sequence[bool]) -> list[np.ndarray]:
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
            hu = (f @ f.T + torch.outer(sums, sums) / ((n - 1) * (n - 2))
                  - 2.0 / (n - 2) * (u @ u.T))
            hs.append(hu.cpu().numpy().astype(np.float64))
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
        dg = np.diag(h).copy()
        dg[~(dg > 0)] = np.nan
        c = h / np.sqrt(np.outer(dg, dg))
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
    x = features(X, name, dtype, device)
    n, dim = x.shape
    k = check_k(k, n)
    rows = block_rows(n, 1, block_size)
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
        v, i = smallest(d, c)
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


def cknna_term(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor],
                n: int, unbiased: bool) -> float:
    """HSIC(mask * K, mask * L), the mask being the pairs (i, j) with j among i's k
    nearest neighbours in both spaces (``a``, ``b``: (idx, val) of
    :func:`inner_product_knn`)."""
    ia, va = a
    ib, vb = b
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
    kl = cknna_term(a, b, n, unbiased)
    kk, ll = self_terms if self_terms is not None else (
        cknna_term(a, a, n, unbiased), cknna_term(b, b, n, unbiased))
    if not kk * ll > 0:
        return math.nan
    return kl / math.sqrt(kk * ll)


def cknna(A: ArrayLike, B: ArrayLike, k: int = DEFAULT_KNN_K, *, unbiased: bool = True,
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
        raise ValueError(f"unbiased={unbiased!r} is invalid: allowed True or False")  # noqa: TRY004
    x = features(A, "A", dtype, device)
    y = features(B, "B", dtype, x.device)
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"the representations have different numbers of points (A: N={n}, "
                         f"B: N={y.shape[0]}): allowed the same N points in both")
    if n < 4:
        raise ValueError(f"N={n} points is too few for CKNNA: allowed N >= 4")
    a = inner_product_knn(x, k, include_self=not unbiased, name="A", dtype=dtype)
    b = inner_product_knn(y, k, include_self=not unbiased, name="B", dtype=dtype)
    return cknna_from_knn(a, b, n, unbiased=unbiased)
