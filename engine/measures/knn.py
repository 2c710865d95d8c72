"""Mutual k-nearest neighbours (Huh et al. 2024): one pair, and the matrix of M spaces.

The fraction of each point's k nearest neighbours two spaces share, ties counted
fractionally (the expected overlap under random tie-breaking). Its own module: one
family of measures (the neighbour search is :mod:`~noisealign.engine.measures.ranks`').
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..base.cancel import check_cancelled
from ..base.validation import check_k
from ..pipeline.constraints import DEFAULT_KNN_K  # the k defaults: one definition
from .passes import matrix_sums
from .ranks import dense_weights
from .spaces import (
    CHUNK_FLOATS,
    ArrayLike,
    Space,
    as_spaces,
    block_rows,
    one_thread,
    warn_degenerate,
)


def mutual_knn(A: ArrayLike, B: ArrayLike, k: int = DEFAULT_KNN_K, *,
               dtype: torch.dtype = torch.float32,
               device: torch.device | str | None = None,
               block_size: int | None = None) -> float:
    """Mutual k-NN alignment (Huh et al. 2024): mean over points of the fraction of
    their k nearest neighbours (self excluded) shared by A and B.

    A, B: (N, d) representations or (N,) labels / coordinate. In [0, 1]; 1 when the
    neighbour sets agree; about k / (N - 1) for unrelated spaces. Ties for the k-th
    neighbour count fractionally (expected overlap under random tie-breaking).
    """
    sa, sb = as_spaces([A, B], ["A", "B"], dtype, device)
    k = check_k(k, sa.n)
    n = sa.n
    rows = block_rows(n, 2, block_size)
    sub = rows if sa.device.type == "cuda" else min(rows, max(8, CHUNK_FLOATS // n))
    warn_degenerate([sa, sb], "mutual k-NN with it is at chance, k/(N-1) (ties)")
    total = 0.0
    for start in range(0, n, rows):
        check_cancelled("the measures")
        stop = min(n, start + rows)
        ra, rb = sa.raw(start, stop), sb.raw(start, stop)
        with one_thread(sa.device.type == "cpu"):
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
        total += float((dense_weights(da[tie], k) * dense_weights(db[tie], k)).sum())
    return total


def mutual_knn_matrix(reps: Sequence[ArrayLike], k: int = DEFAULT_KNN_K, *,
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
    spaces = as_spaces(reps, names, dtype, device)
    n = spaces[0].n
    k = check_k(k, n)
    if warn:
        warn_degenerate(spaces, "its mutual k-NN values are at chance (ties)")
    return _knn_matrix_sums(spaces, k, block_size) / (n * k)


def _knn_matrix_sums(spaces: Sequence[Space], k: int, block_size: int | None) -> np.ndarray:
    """(M, M) sums of w^a w^b, symmetric (see :func:`matrix_sums`)."""
    kn = matrix_sums(spaces, None, k, block_size)[1]
    assert kn is not None  # a knn_k was given, so the mutual k-NN sums are computed
    return kn
