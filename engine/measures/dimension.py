"""The intrinsic dimension of a representation: validated as a space, duplicates removed.

:func:`intrinsic_dimension` and :func:`intrinsic_dimensions` check A as every measure
does (:class:`~noisealign.engine.measures.spaces.Space`, float64) and hand its distinct
points to the numpy estimators of :mod:`noisealign.engine.measures.intrinsic_dim`.
Separate from those because this part needs torch and the estimators do not.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from . import intrinsic_dim
from .spaces import ArrayLike, DegenerateRepresentationWarning, Space

ID_METHODS = ("twonn", "gride")


def _id_space(A: ArrayLike) -> Space:
    s = Space(A, "A", torch.float64, "cpu")
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
    assert s.unique is not None  # _id_space rejected labels, so coordinates are set
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
    lists of an Information Imbalance pass, :func:`pair_sums`) and ``outside`` (N,) a
    lower bound on each point's squared distance to the others (rows the candidates may
    not cover are searched in full); ignored when A has duplicate points.
    """
    scale = _check_id_scale(scale)
    s = _id_space(A)
    if s.degenerate:
        return {"twonn": 0.0, "gride": 0.0, "gride_scale": 0}
    if s.inverse is not None:  # duplicates: candidates index points, not distinct ones
        candidates = outside = None
    assert s.unique is not None  # _id_space rejected labels, so coordinates are set
    return intrinsic_dim.estimates(s.unique.cpu().numpy(), scale, candidates=candidates,
                                   outside=outside)
