"""The arrays :func:`noisealign.engine.own_models.pairs.compare` takes: validated and loaded.

:class:`Limits` bounds the input. :func:`validate` checks in-memory arrays (and optional
``labels`` / ``groups``); :func:`load_arrays` reads a ``.npz``, a folder of ``.npy`` files
or a ``.safetensors`` file (header-first, through :mod:`noisealign.engine.own_models.arrays`)
with ``allow_pickle=False`` and refuses bad input (sizes, dtypes, NaN/inf, mismatched N,
empty or too many arrays) with one ``ValueError`` each, naming the array and the allowed
range. Separate from :mod:`noisealign.engine.own_models.pairs` so that the measures' table
reads apart from the checks on what goes into it.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import numpy as np

from ..base.validation import check_choice, show

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
    from .arrays import dtype_message

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
        raise ValueError(f"arrays is a {type(arrays).__name__}: allowed a dict of "  # noqa: TRY004
                         "name -> (N, D) array")
    if not arrays:
        raise ValueError(f"no arrays given: allowed 1 to {limits.max_arrays} arrays "
                         "of shape (N, D)")
    if len(arrays) > limits.max_arrays:
        raise ValueError(f"{len(arrays)} arrays given: allowed at most {limits.max_arrays}")
    check_choice("pool", pool, POOLS)
    declared = {nm: tuple(int(x) for x in a.shape) for nm, a in arrays.items()
                if isinstance(nm, str) and nm not in RESERVED
                and isinstance(getattr(a, "shape", None), (tuple, list))}
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
    assert n0 is not None  # arrays is not empty (refused above)
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
    from ..compute.guard import check_compare_memory

    if not shapes:
        raise ValueError(f"no arrays given: allowed 1 to {limits.max_arrays} arrays "
                         "of shape (N, D)")
    n0: int | None = None
    name0 = None
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
    assert n0 is not None  # shapes is not empty (refused above)
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
    from .arrays import scan

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
    sides = {nm: members[nm].read() if nm in members else None for nm in RESERVED}
    return validate(arrays, sides["labels"], sides["groups"], limits=limits)
