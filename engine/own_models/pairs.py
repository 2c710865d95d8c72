"""Compare your own representations: every measure between every pair of arrays.

A user's activations -- several models, several layers, the same N inputs -- go in as a
dict of (N, D_i) arrays named ``model/layer`` (or plain names), optionally with ``labels``
(N class ids). :func:`compare` returns a *tidy* table, one row per (measure, a, b):

=================  =====================================================================
``ii``             Delta(a -> b), exact Information Imbalance (both orders are rows)
``ii_score``       1 - (Delta(a -> b) + Delta(b -> a)) / 2
``cka``            linear CKA (Kornblith et al. 2019)
``cka_debiased``   debiased linear CKA (unbiased HSIC)
``mknn``           mutual k-NN (Huh et al. 2024)
``cknna``          CKNNA: CKA over mutual k-NN pairs (Huh et al. 2024)
``id``             intrinsic dimension of a (TwoNN; b is empty)
``ii_labels``      Delta(a -> labels) (b is ``"labels"``; only with labels)
=================  =====================================================================

Every number comes from :mod:`noisealign.engine.measures.core`; this module only validates, loads,
arranges and writes. The II matrix, mutual k-NN and Delta(a -> labels) share one pass
over the distances (:func:`noisealign.engine.measures.core.alignment_matrices`). For N too large for the
exact O(N^2) measures, ``subsample=`` computes on random subsets and reports the mean
with its standard deviation and standard error. :class:`Limits` bounds the input. :func:`load_arrays` reads a ``.npz`` or a folder of ``.npy`` files
with ``allow_pickle=False`` and refuses bad input (sizes, dtypes, NaN/inf, mismatched N,
empty or too many arrays) with one ``ValueError`` each, naming the array and the allowed
range. :func:`make_example` writes the small synthetic file used by the README and tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Mapping, Sequence

import numpy as np

from noisealign.engine.measures.registry import COMPARE_MEASURES, REGISTRY, k_of
from noisealign.engine.measures.registry import labels as registry_labels
from noisealign.engine.base.stats import mean_std_sem
from noisealign.engine.base.validation import check_choice, check_k, show
from noisealign.engine.pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K

# Names, labels and directions: the measure registry's (noisealign.engine.measures.registry).
MEASURES = COMPARE_MEASURES
MEASURE_LABELS = registry_labels(MEASURES, "description")
#: measures where a larger value means more similar (for "best matching layer"); the
#: pair measures only (no direction for the intrinsic dimension, none against labels)
HIGHER_IS_CLOSER = {m: REGISTRY[m].higher_is_better for m in MEASURES
                    if REGISTRY[m].arity == 2}
KNN_METRICS = ("euclidean", "cosine")
RESERVED = ("labels", "groups")
#: how an N-D activation (N, C, H, W...) becomes (N, D): every value a feature, or the
#: mean / max over the axes after the second (one feature per channel)
POOLS = ("flatten", "mean", "max")


@dataclass(frozen=True)
class Limits:
    """Bounds on what :func:`load_arrays` and :func:`compare` accept.

    The exact Information Imbalance and mutual k-NN take O(N^2 D) time: ``max_points``
    keeps one comparison within minutes on a 2-core CPU. ``max_bytes`` bounds all
    arrays together *after* conversion to float64 (checked on the headers, before data
    is read); the resource guard's estimate of the measures' working memory
    (:func:`noisealign.engine.compute.guard.check_compare_memory`) is checked as well.
    """

    max_arrays: int = 32
    min_points: int = 4
    max_points: int = 20_000
    max_features: int = 65_536
    max_values: int = 2**27  # N x D per array (1 GiB as float64)
    max_total_values: int = 2**28  # all arrays together (2 GiB as float64)
    max_name: int = 100
    max_classes: int = 1000
    max_bytes: int = 2**31  # all arrays as float64 (8 bytes a value) together


LIMITS = Limits()


@dataclass
class Inputs:
    """What :func:`load_arrays` read: the arrays by name, and optional labels / groups."""

    arrays: dict[str, np.ndarray]
    labels: np.ndarray | None = None
    groups: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------- validation
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-/ :+=\[\]()]+$")


def _check_name(name: Any, limits: Limits) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"array name {show(name)} is invalid: allowed a non-empty string")
    if len(name) > limits.max_name or not _NAME_RE.match(name):
        raise ValueError(f"array name {show(name, 60)} is invalid: allowed up to "
                         f"{limits.max_name} letters, digits, spaces and _ . - / : + = [ ] ( )")
    return name


def _as_numpy(name: str, a: Any) -> np.ndarray:
    """``a`` as a numpy array: torch tensors (any device, with grad, bfloat16) too."""
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor, without importing torch
        t = a.detach().cpu()
        if str(t.dtype) in ("torch.bfloat16", "torch.float8_e4m3fn", "torch.float8_e5m2"):
            t = t.float()  # no numpy dtype: float32 holds them exactly
        try:
            return t.numpy()
        except (TypeError, RuntimeError) as e:
            raise ValueError(f"array {show(name, 60)} is a tensor of {show(str(t.dtype), 30)}"
                             f" ({show(str(e), 60)}): allowed real numbers") from None
    try:
        return np.asarray(a)
    except Exception as e:  # noqa: BLE001 -- ragged lists and the like
        raise ValueError(f"array {show(name, 60)} could not be read as an array "
                         f"({type(e).__name__}): allowed an (N, D) array of real "
                         "numbers") from None


def _features_of(shape: tuple[int, ...], pool: str) -> int:
    """D of an array of ``shape`` once made 2-D by ``pool``."""
    if len(shape) <= 2 or pool == "flatten":
        return math.prod(shape[1:])
    return shape[1]


def _check_shape(name: str, shape: tuple[int, ...], limits: Limits, pool: str) -> int:
    """Refuse an array by its shape alone (from a header: nothing is read); its D."""
    label = f"array {show(name, 60)}"
    if len(shape) < 2:
        raise ValueError(f"{label} has shape {tuple(shape)}: allowed a 2-D (N points, D "
                         "features) array, or N-D (N, ...) flattened or pooled per point")
    n, d = shape[0], _features_of(shape, pool)
    if n == 0 or d == 0:
        raise ValueError(f"{label} is empty (shape {tuple(shape)}): allowed N in "
                         f"[{limits.min_points}, {limits.max_points:,}] points and D in "
                         f"[1, {limits.max_features:,}] features")
    if not limits.min_points <= n <= limits.max_points:
        raise ValueError(f"{label} has N={n:,} points: allowed {limits.min_points} to "
                         f"{limits.max_points:,}")
    if d > limits.max_features or n * d > limits.max_values \
            or math.prod(shape) > limits.max_values * (1 if pool == "flatten" else 64):
        raise ValueError(f"{label} has shape {tuple(shape)} (D={d:,} features): allowed D "
                         f"<= {limits.max_features:,} features and N x D <= "
                         f"{limits.max_values:,} values")
    return d


def _check_array(name: str, a: Any, limits: Limits, pool: str = "flatten") -> np.ndarray:
    """One representation as a finite float array (N, D) within the limits.

    Every real dtype converts (bool, integers, float16, longdouble, big-endian...) to
    float64; float32 stays float32 (the measures compute in float64 either way)."""
    from noisealign.engine.own_models.arrays import dtype_message

    label = f"array {show(name, 60)}"
    a = _as_numpy(name, a)
    bad = dtype_message(name, a.dtype)
    if bad:
        raise ValueError(bad)
    _check_shape(name, tuple(a.shape), limits, pool)
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1) if pool == "flatten" else \
            a.reshape(a.shape[0], a.shape[1], -1)
    if a.dtype.kind == "f":
        bad_n = int(np.count_nonzero(~np.isfinite(a)))
        if bad_n:
            raise ValueError(f"{label} contains {bad_n:,} NaN or inf value(s): allowed "
                             "finite numbers only")
    keep = a.dtype == np.float32 and a.dtype.isnative
    a = a.astype(np.float32 if keep else np.float64, copy=False)
    if not keep and a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{label} has values beyond float64's range (about 1.8e308): "
                         "allowed finite float64 numbers")
    if a.ndim == 3:  # pooled over the axes after the channel
        a = a.mean(axis=2) if pool == "mean" else a.max(axis=2)
    return a


def _check_labels(labels: Any, n: int, limits: Limits, what: str = "labels") -> np.ndarray:
    y = _as_numpy(what, labels)
    if y.dtype.kind not in "biu":
        raise ValueError(f"{what} has dtype {show(str(y.dtype), 40)}: allowed integer "
                         "class ids (or bool)")
    if y.ndim != 1:
        raise ValueError(f"{what} has shape {tuple(y.shape)}: allowed a 1-D array of "
                         f"N={n:,} class ids")
    if len(y) != n:
        raise ValueError(f"{what} has {len(y):,} entries: allowed N={n:,}, the number of "
                         "points of every array")
    classes = len(np.unique(y))
    if not 2 <= classes <= min(limits.max_classes, n // 2):
        raise ValueError(f"{what} has {classes:,} distinct classes: allowed 2 to "
                         f"{min(limits.max_classes, n // 2):,} (at most N/2)")
    return y.astype(np.int64)


def validate(arrays: Mapping[str, Any], labels: Any = None, groups: Any = None, *,
             limits: Limits = LIMITS, pool: str = "flatten") -> Inputs:
    """Check ``arrays`` (and ``labels`` / ``groups``) as :func:`compare` needs them.

    Parameters
    ----------
    arrays : mapping of str to array_like
        The representations, each (N, D_i) over the same N inputs.
    labels : array_like, optional
        (N,) integer class ids.
    groups : array_like, optional
        (N,) integer group ids (kept with the inputs; no measure uses them yet).
    limits : Limits
        The bounds (:data:`LIMITS` by default).
    pool : {"flatten", "mean", "max"}
        How N-D arrays (N, C, H, W...) become (N, D): all values as features, or the
        mean / max over the axes after the second (see :data:`POOLS`).

    Returns
    -------
    Inputs
        The arrays as finite float arrays (N, D), labels as int64.

    Raises
    ------
    ValueError
        One message per problem, naming the array and what is allowed.
    """
    if not isinstance(arrays, Mapping):
        raise ValueError(f"arrays is a {type(arrays).__name__}: allowed a dict of "
                         "name -> (N, D) array")
    if not arrays:
        raise ValueError(f"no arrays given: allowed 1 to {limits.max_arrays} arrays "
                         "of shape (N, D)")
    if len(arrays) > limits.max_arrays:
        raise ValueError(f"{len(arrays)} arrays given: allowed at most {limits.max_arrays}")
    check_choice("pool", pool, POOLS)
    declared = {nm: tuple(int(x) for x in a.shape) for nm, a in arrays.items()
                if isinstance(nm, str) and nm not in RESERVED and isinstance(
                    getattr(a, "shape", None), (tuple, list)) or hasattr(a, "detach")}
    if len(declared) == len(arrays):  # all shaped: refuse by size before converting any
        check_declared(declared, limits, pool)
    out: dict[str, np.ndarray] = {}
    n0 = name0 = None
    for name, a in arrays.items():
        name = _check_name(name, limits)
        if name in RESERVED:
            raise ValueError(f"array name {name!r} is reserved: pass it as {name}=..., not "
                             "as a representation")
        a = _check_array(name, a, limits, pool)
        if n0 is None:
            n0, name0 = a.shape[0], name
        elif a.shape[0] != n0:
            raise ValueError(f"array {show(name, 60)} has N={a.shape[0]:,} points but "
                             f"{show(name0, 60)} has N={n0:,}: allowed the same N inputs "
                             "in every array")
        out[name] = a
    _check_total(sum(a.size for a in out.values()), len(out), limits)
    y = None if labels is None else _check_labels(labels, n0, limits)
    g = None
    if groups is not None:
        g = np.asarray(groups)
        if g.dtype.kind not in "biu" or g.ndim != 1 or len(g) != n0:
            raise ValueError(f"groups has dtype {show(str(g.dtype), 40)} and shape "
                             f"{tuple(g.shape)}: allowed a 1-D integer array of N={n0:,} "
                             "group ids")
    return Inputs(out, y, g)


# ---------------------------------------------------------------------------- loading
def _check_total(total: int, count: int, limits: Limits) -> None:
    """All arrays' values together within the value count and the float64 byte budget."""
    if total > limits.max_total_values or 8 * total > limits.max_bytes:
        raise ValueError(f"the {count} arrays hold {total:,} values together: allowed at "
                         f"most {min(limits.max_total_values, limits.max_bytes // 8):,} "
                         f"values ({min(8 * limits.max_total_values, limits.max_bytes):,} "
                         "bytes as float64)")


def check_declared(shapes: Mapping[str, tuple[int, ...]], limits: Limits = LIMITS,
                   pool: str = "flatten", *, max_memory_bytes: float | None = None) -> int:
    """Refuse arrays by their shapes alone, before any data is read or converted.

    Each shape within the limits, the same N everywhere, all arrays together within
    ``limits.max_bytes`` as float64, and the resource guard's estimate of the measures'
    working memory within the memory limit and what the machine has available
    (:func:`noisealign.engine.compute.guard.check_compare_memory`). Returns N.
    """
    from noisealign.engine.compute.guard import check_compare_memory

    n0 = name0 = None
    dims = []
    for name, shape in shapes.items():
        d = _check_shape(name, tuple(shape), limits, pool)
        if n0 is None:
            n0, name0 = shape[0], name
        elif shape[0] != n0:
            raise ValueError(f"array {show(name, 60)} has N={shape[0]:,} points but "
                             f"{show(name0, 60)} has N={n0:,}: allowed the same N inputs "
                             "in every array")
        dims.append(d)
    _check_total(n0 * sum(dims), len(dims), limits)
    check_compare_memory(n0, dims, max_memory_bytes=max_memory_bytes)
    return n0


def _check_side_header(name: str, shape: tuple[int, ...], dtype: np.dtype, n: int) -> None:
    """``labels`` / ``groups`` by their header: 1-D integer (or bool), N entries."""
    if dtype.kind not in "biu" or len(shape) != 1 or shape[0] != n:
        raise ValueError(f"{name} has dtype {show(str(dtype), 40)} and shape {tuple(shape)}"
                         f": allowed a 1-D integer array of N={n:,} entries")


def load_arrays(source: str | os.PathLike | bytes | BinaryIO | Mapping[str, Any], *,
                limits: Limits = LIMITS, pool: str = "flatten") -> Inputs:
    """Read representations from a ``.npz``, a folder of ``.npy`` files, a
    ``.safetensors`` file, their bytes or a binary file object (an upload), or a dict of
    in-memory arrays / tensors.

    Parameters
    ----------
    source : path, bytes, binary file or mapping
        A ``.npz`` (``numpy.savez``; member names are the array names, e.g.
        ``"resnet/layer3"``), a folder of ``.npy`` files (names are the paths relative
        to the folder without ``.npy``, e.g. ``resnet/layer3.npy``), a ``.safetensors``
        file (tensor names), or a dict name -> numpy array / torch tensor. An array
        named ``labels`` holds the N class ids, ``groups`` optional group ids. PyTorch
        ``.pt`` / ``.pth`` files and other pickles are refused (never unpickled).
    limits : Limits
        The bounds.
    pool : {"flatten", "mean", "max"}
        N-D activations (N, C, H, W...): flattened per point, or pooled over the axes
        after the channel.

    Returns
    -------
    Inputs
        Validated as :func:`validate` does.

    Raises
    ------
    ValueError
        Unreadable file, pickles, a dtype that is not real numbers, two arrays under one
        name, or anything :func:`validate` refuses. Every header is checked -- points,
        features, the float64 byte budget and the guard's memory estimate -- before any
        array's data is read.
    """
    from noisealign.engine.own_models.arrays import scan

    check_choice("pool", pool, POOLS)
    if isinstance(source, Mapping):
        rest = {k: v for k, v in source.items() if k not in RESERVED}
        return validate(rest, source.get("labels"), source.get("groups"), limits=limits,
                        pool=pool)
    members = scan(source, max_arrays=limits.max_arrays, side=len(RESERVED))
    reps = {nm: m for nm, m in members.items() if nm not in RESERVED}
    if not reps:
        raise ValueError(f"no arrays given (only {', '.join(members)}): allowed 1 to "
                         f"{limits.max_arrays} arrays of shape (N, D)")
    if len(reps) > limits.max_arrays:
        raise ValueError(f"{len(reps)} arrays given: allowed at most {limits.max_arrays}")
    for nm in reps:
        _check_name(nm, limits)
    n = check_declared({nm: m.shape for nm, m in reps.items()}, limits, pool)
    for side in RESERVED:
        if side in members:
            _check_side_header(side, members[side].shape, members[side].dtype, n)
    # Only now is any data read: one array at a time, converted before the next is read.
    arrays = {nm: _check_array(nm, m.read(), limits, pool) for nm, m in reps.items()}
    side = {nm: members[nm].read() if nm in members else None for nm in RESERVED}
    return validate(arrays, side["labels"], side["groups"], limits=limits)


# ------------------------------------------------------------------------- the table
def split_name(name: str) -> tuple[str, str]:
    """``"model/layer"`` -> ``("model", "layer")`` (at the last ``/``); a plain name is
    its own model with layer ``""``."""
    if "/" in name.strip("/"):
        model, layer = name.strip("/").rsplit("/", 1)
        return model, layer
    return name, ""


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero, as torch's F.normalize)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def compare(arrays: Mapping[str, Any], labels: Any = None, *,
            measures: Sequence[str] | None = None, k: int = DEFAULT_K, knn_k: int = DEFAULT_KNN_K,
            knn_metric: str = "euclidean", groups: Any = None,
            subsample: int | None = None, repeats: int = 5, seed: int = 0,
            limits: Limits = LIMITS) -> list[dict[str, Any]]:
    """Every requested measure between every pair of arrays, as a tidy table.

    Parameters
    ----------
    arrays : mapping of str to array_like
        M representations (N, D_i) of the same N inputs; names ``model/layer`` group
        the heatmaps and "best matching layer" of the dashboard.
    labels : array_like, optional
        (N,) integer class ids: adds ``ii_labels``, Delta(a -> labels), per array.
    measures : sequence of str, optional
        A subset of :data:`MEASURES` (default: all; ``ii_labels`` only with labels).
    k : int
        Neighbours of the Information Imbalance, 1 <= k <= N - 2 (default 1).
    knn_k : int
        Neighbours of mutual k-NN and CKNNA, 1 <= knn_k <= N - 2 (default 10).
    knn_metric : {"euclidean", "cosine"}
        Neighbours of mutual k-NN: Euclidean distance (this project's convention), or
        cosine similarity, i.e. rows L2-normalised first, as platonic-rep normalises
        features and ranks them by inner product. CKNNA always takes inner-product
        neighbours (its definition), of the normalised rows under "cosine".
    groups : array_like, optional
        Validated and carried along; unused by the measures.
    subsample : int, optional
        Compute on ``repeats`` random subsets of this many points (the same subset for
        every array and the labels) instead of all N, and report the mean with its
        standard deviation and standard error over the subsets: for N too large for the
        exact O(N^2) measures. 4 <= subsample <= N.
    repeats : int
        Number of subsets, 2 to 100 (only with ``subsample``).
    seed : int
        Seed of the subsets.
    limits : Limits
        Input bounds (checked on the full arrays).

    Returns
    -------
    list of dict
        One row per (measure, a, b): keys ``measure``, ``a``, ``b`` (``""`` for per-array
        measures, ``"labels"`` for ``ii_labels``), ``model_a``, ``layer_a``,
        ``model_b``, ``layer_b``, ``value`` (float; NaN where undefined), ``k`` (the
        neighbour count used, or None), ``n`` (points), ``seconds`` (time of that
        measure over all pairs) and ``note``. Pairwise measures have a row for both
        orders (a, b) and (b, a); the symmetric ones repeat their value. With
        ``subsample``: ``value`` is the mean over the subsets, and ``std``, ``sem`` and
        ``repeats`` are added (``n`` is the subset size, ``seconds`` the total).

    Raises
    ------
    ValueError
        Bad input or parameters (see :func:`validate`).
    """
    inputs = validate(arrays, labels, groups, limits=limits)
    if subsample is None:
        return _compare(inputs, measures, k, knn_k, knn_metric)
    n = next(iter(inputs.arrays.values())).shape[0]
    from noisealign.engine.base.validation import check_int
    subsample = check_int("subsample", subsample, limits.min_points, n)
    repeats = check_int("repeats", repeats, 2, 100)
    seed = check_int("seed", seed, 0, 2**31 - 1)
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(repeats):
        idx = np.sort(rng.choice(n, subsample, replace=False))
        sub = Inputs({nm: a[idx] for nm, a in inputs.arrays.items()},
                     None if inputs.labels is None else inputs.labels[idx])
        if sub.labels is not None and len(np.unique(sub.labels)) < 2:
            raise ValueError(f"subsample={subsample} is invalid: a subset of the points holds "
                             "a single class; allowed a larger subsample")
        runs.append(_compare(sub, measures, k, knn_k, knn_metric))
    out = []
    for i, row in enumerate(runs[0]):
        s = mean_std_sem([r[i]["value"] for r in runs])
        out.append(dict(row, value=s["mean"], std=s["std"], sem=s["sem"], repeats=repeats,
                        seconds=round(sum(r[i]["seconds"] for r in runs), 4),
                        note=(row["note"] + "; " if row["note"] else "")
                        + f"mean of {repeats} subsets of {subsample} points"))
    return out


def _compare(inputs: Inputs, measures: Sequence[str] | None, k: int, knn_k: int,
             knn_metric: str) -> list[dict[str, Any]]:
    """:func:`compare` on validated inputs (all points)."""
    from noisealign.engine.measures import core as ms

    names = list(inputs.arrays)
    xs = list(inputs.arrays.values())
    n = xs[0].shape[0]
    chosen = _check_measures(measures, inputs.labels is not None)
    k = check_k(k, n, "k")
    knn_k = check_k(knn_k, n, "knn_k")
    check_choice("knn_metric", knn_metric, KNN_METRICS)
    rows: list[dict[str, Any]] = []

    def add(measure: str, a: str, b: str, value: float, secs: float, note: str = "") -> None:
        kk = k_of(measure, k, knn_k)  # the neighbour count it takes (noisealign.engine.measures.registry)
        ma, la = split_name(a)
        mb, lb = split_name(b) if b and b != "labels" else (b, "")
        rows.append({"measure": measure, "a": a, "b": b, "model_a": ma, "layer_a": la,
                     "model_b": mb, "layer_b": lb, "value": float(value), "k": kk, "n": n,
                     "seconds": round(secs, 4), "note": note})

    def pairs(measure: str, mat: np.ndarray, secs: float, note: str = "") -> None:
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                if i != j:
                    add(measure, a, b, mat[i, j], secs, note)

    m = len(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.DegenerateRepresentationWarning)
        knn_xs = [_normalise_rows(x) for x in xs] if knn_metric == "cosine" else xs
        note = f"{knn_metric} neighbours"
        mk = to_labels = None
        if m > 1 and ({"ii", "ii_score"} & set(chosen)):
            t = time.perf_counter()
            both = "mknn" in chosen and knn_metric == "euclidean"
            with_labels = "ii_labels" in chosen
            if both or with_labels:  # one pass over the distances for all of them
                ii, mk, to_labels = ms.alignment_matrices(
                    xs, k, knn_k, names=names, warn=False,
                    targets=[inputs.labels] if with_labels else ())
                mk = mk if both else None
            else:
                ii = ms.information_imbalance_matrix(xs, k, names=names, warn=False)
            ii_secs = secs = time.perf_counter() - t
            if "ii" in chosen:
                pairs("ii", ii, secs)
            if "ii_score" in chosen:
                pairs("ii_score", 1.0 - (ii + ii.T) / 2.0, secs)
        if m > 1 and ({"cka", "cka_debiased"} & set(chosen)):
            import torch
            t = time.perf_counter()
            feats = [ms._features(x, nm, torch.float64, None) for x, nm in zip(xs, names)]
            which = [d for d, key in ((False, "cka"), (True, "cka_debiased")) if key in chosen]
            mats = ms._cka_matrices(feats, which)
            secs = time.perf_counter() - t
            for debiased, mat in zip(which, mats):
                pairs("cka_debiased" if debiased else "cka", mat, secs)
            del feats
        if m > 1 and "mknn" in chosen:
            if mk is not None:  # computed with the II matrix: the seconds are shared
                pairs("mknn", mk, ii_secs, note + " (time shared with ii)")
            else:
                t = time.perf_counter()
                mk = ms.mutual_knn_matrix(knn_xs, knn_k, names=names, warn=False)
                pairs("mknn", mk, time.perf_counter() - t, note)
        if m > 1 and "cknna" in chosen:
            t = time.perf_counter()
            knn = [ms.inner_product_knn(x, knn_k, name=nm) for x, nm in zip(knn_xs, names)]
            selfs = [ms._cknna_term(a, a, n, True) for a in knn]
            mat = np.full((m, m), np.nan)
            for i in range(m):
                for j in range(i + 1, m):
                    mat[i, j] = mat[j, i] = ms.cknna_from_knn(
                        knn[i], knn[j], n, self_terms=(selfs[i], selfs[j]))
            pairs("cknna", mat, time.perf_counter() - t,
                  "inner-product neighbours" + (" of normalised rows"
                                                if knn_metric == "cosine" else ""))
        if "id" in chosen:
            _intrinsic_dimensions(names, xs, add)
        if "ii_labels" in chosen and to_labels is not None:
            for i, name in enumerate(names):
                add("ii_labels", name, "labels", to_labels[i, 0], ii_secs,
                    "time shared with ii")
        elif "ii_labels" in chosen:
            for name, x in zip(names, xs):
                t = time.perf_counter()
                v = ms.information_imbalance_to(x, inputs.labels, k)
                add("ii_labels", name, "labels", v, time.perf_counter() - t)
    return rows


def _check_measures(measures: Sequence[str] | None, has_labels: bool) -> list[str]:
    if measures is None:
        return [m for m in MEASURES if has_labels or m != "ii_labels"]
    if isinstance(measures, str):
        measures = [measures]
    chosen = []
    for m in measures:
        check_choice("measures", m, MEASURES)
        if m == "ii_labels" and not has_labels:
            raise ValueError("measures='ii_labels' is invalid without labels: allowed only "
                             "when labels (N class ids) are given")
        if m not in chosen:
            chosen.append(m)
    if not chosen:
        raise ValueError("measures is empty: allowed one or more of " + ", ".join(MEASURES))
    return chosen


def _intrinsic_dimensions(names: Sequence[str], xs: Sequence[np.ndarray], add) -> None:
    """TwoNN of each array (noisealign.engine.measures.intrinsic_dim: numpy, no dadapy needed)."""
    from noisealign.engine.measures import core as ms
    for name, x in zip(names, xs):
        t = time.perf_counter()
        try:
            v, note = ms.intrinsic_dimension(x), ""
        except ValueError as e:  # too few distinct points
            v, note = math.nan, f"undefined: {show(str(e), 120)}"
        add("id", name, "", v, time.perf_counter() - t, note)


# ------------------------------------------------------------------------ summaries
def matrix(rows: Sequence[Mapping[str, Any]], measure: str
           ) -> tuple[list[str], np.ndarray]:
    """(names, (M, M) matrix) of a pairwise measure from :func:`compare`'s rows; the
    diagonal is NaN (not computed)."""
    names: list[str] = []
    for r in rows:
        for nm in (r["a"], r["b"]):
            if r["measure"] == measure and nm not in names:
                names.append(nm)
    pos = {nm: i for i, nm in enumerate(names)}
    out = np.full((len(names), len(names)), np.nan)
    for r in rows:
        if r["measure"] == measure:
            out[pos[r["a"]], pos[r["b"]]] = r["value"]
    return names, out


def best_matches(rows: Sequence[Mapping[str, Any]], measure: str) -> list[dict[str, Any]]:
    """For each pair of models (A, B) and each layer of A, the layer of B closest to it
    by ``measure`` (largest similarity; smallest Delta(a -> b) for ``ii``)."""
    if measure not in HIGHER_IS_CLOSER:
        raise ValueError(f"measure={show(measure)} is invalid: allowed one of "
                         + ", ".join(HIGHER_IS_CLOSER))
    higher = HIGHER_IS_CLOSER[measure]
    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        if r["measure"] != measure or r["model_a"] == r["model_b"]:
            continue
        v = r["value"]
        if not math.isfinite(v):
            continue
        key = (r["model_a"], r["layer_a"], r["model_b"])
        cur = best.get(key)
        if cur is None or (v > cur["value"] if higher else v < cur["value"]):
            best[key] = {"model_a": r["model_a"], "layer_a": r["layer_a"],
                         "model_b": r["model_b"], "best_layer_b": r["layer_b"],
                         "b": r["b"], "a": r["a"], "measure": measure, "value": v}
    return list(best.values())


def ii_plane(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One point per unordered pair: Delta(a -> b) and Delta(b -> a), the axes of the
    information-imbalance plane (below the diagonal: a predicts b better than b
    predicts a)."""
    ii = {(r["a"], r["b"]): r["value"] for r in rows if r["measure"] == "ii"}
    out, seen = [], set()
    for (a, b), v in ii.items():
        if (b, a) in seen or (b, a) not in ii:
            continue
        seen.add((a, b))
        out.append({"a": a, "b": b, "ii_ab": v, "ii_ba": ii[(b, a)]})
    return out


# -------------------------------------------------------------------------- writers
COLUMNS = ("measure", "a", "b", "model_a", "layer_a", "model_b", "layer_b", "value", "std",
           "sem", "repeats", "k", "n", "seconds", "note")


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """The table as CSV text (NaN written as empty)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), restval="", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({c: ("" if isinstance(r.get(c), float) and math.isnan(r[c]) else r.get(c))
                    for c in COLUMNS})
    return buf.getvalue()


def to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """The table as strict JSON (a list of objects; NaN as null)."""
    from noisealign.engine.compute.export import json_safe
    return json.dumps(json_safe([dict(r) for r in rows]), indent=1, allow_nan=False) + "\n"


def write_table(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write ``.csv`` or ``.json`` by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ValueError(f"--out {show(str(path), 120)} is invalid: allowed a .csv or "
                         ".json file name")
    path.write_text(to_csv(rows) if suffix == ".csv" else to_json(rows))
    return path


# -------------------------------------------------------------------------- example
def example_arrays(n: int = 600, seed: int = 0) -> Inputs:
    """A small synthetic set: two "models" of three layers each over the same ``n``
    inputs from 6 classes, plus an unrelated ``random`` array.

    Each model maps a shared 8-dimensional latent (class mean + noise) through random
    ReLU layers of widths 64, 32, 16, its own weights and noise: layers of one model are
    close, the two models are alike at matching depths, ``random`` predicts nothing.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 6, size=n)
    means = rng.normal(size=(6, 8)) * 1.5
    z = means[labels] + rng.normal(size=(n, 8))
    arrays: dict[str, np.ndarray] = {}
    for model in ("mlp_a", "mlp_b"):
        h = z
        for depth, width in enumerate((64, 32, 16), start=1):
            w = rng.normal(size=(h.shape[1], width)) / math.sqrt(h.shape[1])
            h = np.maximum(h @ w + 0.3 * rng.normal(size=(n, width)), 0.0)
            arrays[f"{model}/layer{depth}"] = h.astype(np.float32)
    arrays["random"] = rng.normal(size=(n, 16)).astype(np.float32)
    return Inputs(arrays, labels.astype(np.int64))


def make_example(path: str | os.PathLike, n: int = 600, seed: int = 0) -> Path:
    """Write :func:`example_arrays` to ``path`` (.npz, with ``labels``)."""
    ex = example_arrays(n, seed)
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, labels=ex.labels, **ex.arrays)
    return path

