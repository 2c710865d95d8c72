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

Every number comes from :mod:`noisealign.engine.measures.core`; this module only arranges
and writes. The II matrix, mutual k-NN and Delta(a -> labels) share one pass
over the distances (:func:`noisealign.engine.measures.core.alignment_matrices`). For N too large for the
exact O(N^2) measures, ``subsample=`` computes on random subsets and reports the mean
with its standard deviation and standard error. Validating and loading the input
(:class:`Limits`, :func:`validate`, :func:`load_arrays`) live in
:mod:`noisealign.engine.own_models.inputs` and are importable from here too.
:func:`make_example` writes the small synthetic file used by the README and tests.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.stats import mean_std_sem
from ..base.validation import check_choice, check_k, show
from ..measures.registry import COMPARE_MEASURES, REGISTRY, k_of
from ..measures.registry import labels as registry_labels
from ..pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K
from .inputs import (  # noqa: F401  (public here too)
    LIMITS,
    POOLS,
    RESERVED,
    Inputs,
    Limits,
    check_declared,
    load_arrays,
    validate,
)

# Names, labels and directions: the measure registry's (noisealign.engine.measures.registry).
MEASURES = COMPARE_MEASURES
MEASURE_LABELS = registry_labels(MEASURES, "description")
#: measures where a larger value means more similar (for "best matching layer"); the
#: pair measures only (no direction for the intrinsic dimension, none against labels)
HIGHER_IS_CLOSER = {m: REGISTRY[m].higher_is_better for m in MEASURES
                    if REGISTRY[m].arity == 2}
KNN_METRICS = ("euclidean", "cosine")


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
    return _compare_subsets(inputs, measures, k, knn_k, knn_metric, subsample, repeats,
                            seed, limits)


def _compare_subsets(inputs: Inputs, measures: Sequence[str] | None, k: int, knn_k: int,
                     knn_metric: str, subsample: int, repeats: int, seed: int,
                     limits: Limits) -> list[dict[str, Any]]:
    """:func:`compare` with ``subsample``: the mean, std and sem over random subsets."""
    n = next(iter(inputs.arrays.values())).shape[0]
    from ..base.validation import check_int
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
    from ..measures import core as ms

    names = list(inputs.arrays)
    xs = list(inputs.arrays.values())
    n = xs[0].shape[0]
    chosen = _check_measures(measures, inputs.labels is not None)
    k = check_k(k, n, "k")
    knn_k = check_k(knn_k, n, "knn_k")
    check_choice("knn_metric", knn_metric, KNN_METRICS)
    table = _Table(names, n, k, knn_k)
    m = len(names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ms.DegenerateRepresentationWarning)
        knn_xs = [_normalise_rows(x) for x in xs] if knn_metric == "cosine" else xs
        note = f"{knn_metric} neighbours"
        mk = to_labels = None
        ii_secs = 0.0
        if m > 1 and ({"ii", "ii_score"} & set(chosen)):
            mk, to_labels, ii_secs = _information_imbalance(table, xs, chosen, knn_metric,
                                                            inputs.labels)
        if m > 1 and ({"cka", "cka_debiased"} & set(chosen)):
            _cka(table, xs, chosen)
        if m > 1 and "mknn" in chosen:
            if mk is not None:  # computed with the II matrix: the seconds are shared
                table.pairs("mknn", mk, ii_secs, note + " (time shared with ii)")
            else:
                t = time.perf_counter()
                mk = ms.mutual_knn_matrix(knn_xs, knn_k, names=names, warn=False)
                table.pairs("mknn", mk, time.perf_counter() - t, note)
        if m > 1 and "cknna" in chosen:
            _cknna(table, knn_xs, knn_metric)
        if "id" in chosen:
            _intrinsic_dimensions(names, xs, table.add)
        if "ii_labels" in chosen and to_labels is not None:
            for i, name in enumerate(names):
                table.add("ii_labels", name, "labels", to_labels[i, 0], ii_secs,
                          "time shared with ii")
        elif "ii_labels" in chosen:
            for name, x in zip(names, xs):
                t = time.perf_counter()
                v = ms.information_imbalance_to(x, inputs.labels, k)
                table.add("ii_labels", name, "labels", v, time.perf_counter() - t)
    return table.rows


class _Table:
    """The rows :func:`_compare` builds: one per (measure, a, b), over ``names``."""

    def __init__(self, names: list[str], n: int, k: int, knn_k: int) -> None:
        self.names, self.n, self.k, self.knn_k = names, n, k, knn_k
        self.rows: list[dict[str, Any]] = []

    def add(self, measure: str, a: str, b: str, value: float, secs: float,
            note: str = "") -> None:
        kk = k_of(measure, self.k, self.knn_k)  # the neighbour count it takes (noisealign.engine.measures.registry)
        ma, la = split_name(a)
        mb, lb = split_name(b) if b and b != "labels" else (b, "")
        self.rows.append({"measure": measure, "a": a, "b": b, "model_a": ma, "layer_a": la,
                          "model_b": mb, "layer_b": lb, "value": float(value), "k": kk,
                          "n": self.n, "seconds": round(secs, 4), "note": note})

    def pairs(self, measure: str, mat: np.ndarray, secs: float, note: str = "") -> None:
        for i, a in enumerate(self.names):
            for j, b in enumerate(self.names):
                if i != j:
                    self.add(measure, a, b, mat[i, j], secs, note)


def _information_imbalance(table: _Table, xs: list[np.ndarray], chosen: list[str],
                           knn_metric: str, labels: np.ndarray | None
                           ) -> tuple[np.ndarray | None, np.ndarray | None, float]:
    """The ``ii`` / ``ii_score`` rows; (mutual k-NN, Delta(a -> labels), seconds) where
    the same pass over the distances gave them (else None)."""
    from ..measures import core as ms

    mk = to_labels = None
    t = time.perf_counter()
    both = "mknn" in chosen and knn_metric == "euclidean"
    with_labels = "ii_labels" in chosen
    if both or with_labels:  # one pass over the distances for all of them
        ii, mk, to_labels = ms.alignment_matrices(
            xs, table.k, table.knn_k, names=table.names, warn=False,
            targets=[labels] if with_labels else ())
        mk = mk if both else None
    else:
        ii = ms.information_imbalance_matrix(xs, table.k, names=table.names, warn=False)
    secs = time.perf_counter() - t
    if "ii" in chosen:
        table.pairs("ii", ii, secs)
    if "ii_score" in chosen:
        table.pairs("ii_score", 1.0 - (ii + ii.T) / 2.0, secs)
    return mk, to_labels, secs


def _cka(table: _Table, xs: list[np.ndarray], chosen: list[str]) -> None:
    """The ``cka`` / ``cka_debiased`` rows (one pass over the features for both)."""
    import torch

    from ..measures import cka, spaces

    t = time.perf_counter()
    feats = [spaces.features(x, nm, torch.float64, None) for x, nm in zip(xs, table.names)]
    which = [d for d, key in ((False, "cka"), (True, "cka_debiased")) if key in chosen]
    mats = cka.cka_matrices(feats, which)
    secs = time.perf_counter() - t
    for debiased, mat in zip(which, mats):
        table.pairs("cka_debiased" if debiased else "cka", mat, secs)
    del feats


def _cknna(table: _Table, knn_xs: list[np.ndarray], knn_metric: str) -> None:
    """The ``cknna`` rows, from each array's inner-product neighbours."""
    from ..measures import cka
    from ..measures import core as ms

    n, knn_k, m = table.n, table.knn_k, len(table.names)
    t = time.perf_counter()
    knn = [ms.inner_product_knn(x, knn_k, name=nm) for x, nm in zip(knn_xs, table.names)]
    selfs = [cka.cknna_term(a, a, n, True) for a in knn]
    mat = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(i + 1, m):
            mat[i, j] = mat[j, i] = ms.cknna_from_knn(
                knn[i], knn[j], n, self_terms=(selfs[i], selfs[j]))
    table.pairs("cknna", mat, time.perf_counter() - t,
                "inner-product neighbours" + (" of normalised rows"
                                              if knn_metric == "cosine" else ""))


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


def _intrinsic_dimensions(names: Sequence[str], xs: Sequence[np.ndarray],
                          add: Callable[..., None]) -> None:
    """TwoNN of each array (noisealign.engine.measures.intrinsic_dim: numpy, no dadapy needed)."""
    from ..measures import core as ms
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
    from ..compute.export import json_safe
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
    assert ex.labels is not None  # example_arrays always draws class labels
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, labels=ex.labels, **ex.arrays)
    return path

