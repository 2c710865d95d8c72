"""Ensemble summaries of an :class:`engine.Result`: alignment between members and
information content of each member (docs/science.md sections 1.5, 1.6 and 2).

- :func:`pairwise_matrix` -- the K x K matrix of one measure between members
- :func:`pair_stats` -- mean, std and standard error over the pairs of such a matrix
- :func:`information_content` -- per member Delta(h <-> y), Delta(pen <-> out), Delta(x <-> h)
- :func:`intrinsic_dimension` -- TwoNN and GRIDE of each member's layers
- :func:`summarise` -- all of it, JSON-able, for the results cache

Measures (``MEASURES``; ``MEASURE_LABELS`` gives human labels):

- ``"ii"``: Information Imbalance, ``M[a, b] = Delta(a -> b)`` (asymmetric; lower = a
  predicts b better; the diagonal is the self value (k + 1) / N)
- ``"ii_score"``: symmetric II alignment score ``1 - (Delta(a->b) + Delta(b->a)) / 2``
- ``"cka"`` / ``"cka_debiased"``: linear CKA, biased / debiased
- ``"mknn"``: mutual k-NN alignment (k = ``knn_k``)

Members that diverged (``result.diverged``), or whose representations are not finite,
get NaN rows and columns and NaN information content; statistics ignore NaN.
Distances for II and mutual k-NN are float32 (float64 where a space needs it, see
noisealign.engine.measures.core), CKA is float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..base.cancel import check_cancelled
from ..base.stats import mean_std_sem
from ..base.validation import check_k, max_k
from ..pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K  # the k defaults
from ..pipeline.result import Result
from .cka import cka_matrices
from .dimension import intrinsic_dimensions
from .passes import keeps_candidates, pair_sums
from .registry import REGISTRY, SUMMARY_MEASURES
from .registry import labels as registry_labels
from .spaces import as_spaces, one_thread

# The measures' names, labels and symmetry come from the registry (noisealign.engine.measures.registry).
MEASURES: tuple[str, ...] = SUMMARY_MEASURES
MEASURE_LABELS: dict[str, str] = registry_labels(MEASURES, "description")  # stored per summary
SYMMETRIC: dict[str, bool] = {m: REGISTRY[m].symmetric for m in MEASURES}
INFO_KEYS: tuple[str, ...] = ("ii_h_to_y", "ii_y_to_h", "ii_pen_to_out", "ii_out_to_pen",
                              "ii_x_to_h", "ii_h_to_x")
INFO_LABELS: dict[str, str] = {
    "ii_h_to_y": "Δ(h → y clean)", "ii_y_to_h": "Δ(y clean → h)",
    "ii_pen_to_out": "Δ(penultimate → output)", "ii_out_to_pen": "Δ(output → penultimate)",
    "ii_x_to_h": "Δ(x → h)", "ii_h_to_x": "Δ(h → x)",
}
_DTYPE = torch.float64  # CKA
# Neighbours and ranks: float32 (2x less memory traffic), upgraded per space to float64
# where float32 would scramble close neighbours (see noisealign.engine.measures.core).
_II_DTYPE = torch.float32
# Up to this many probe points the summaries run on one torch thread: the operations are
# small, and parallel regions stall when the CPU is shared (see measures.spaces.one_thread).
_ONE_THREAD_MAX_N = 4000


# ------------------------------------------------------------------------ validation
def _check_result(result: Any) -> Result:
    if not isinstance(result, Result):
        raise ValueError(f"result must be an engine.Result, got {type(result).__name__}")  # noqa: TRY004
    if not result.hidden or result.hidden[-1].ndim != 3 or result.output.ndim != 3:
        raise ValueError("result has no representations (it was stored with "
                         "representations=False): allowed a Result with its probe-set "
                         "activations")
    return result


def _check_layer(result: Result, layer: Any) -> int | str:
    depth = len(result.hidden)
    if layer == "output" and isinstance(layer, str):
        return layer
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
            or not -depth <= layer < depth:
        raise ValueError(f"layer={layer!r} is invalid: allowed a hidden-layer index in "
                         f"[{-depth}, {depth - 1}] (-1 = last hidden) or 'output'")
    return int(layer) % depth


def _check_measure(measure: Any) -> str:
    if measure not in MEASURES:
        raise ValueError(f"measure={measure!r} is invalid: allowed one of {MEASURES}")
    return measure


def _usable(result: Result, reps: np.ndarray, init: bool) -> np.ndarray:
    """Indices of members with finite representations (and, trained, not diverged)."""
    ok = np.isfinite(reps).reshape(len(reps), -1).all(1)
    if not init:
        ok &= ~np.asarray(result.diverged, dtype=bool)
    return np.flatnonzero(ok)


def _targets(result: Result) -> np.ndarray:
    """Clean probe targets: integer labels (one-hot space) or one float coordinate."""
    if result.spec.task == "classification":
        return np.asarray(result.y_probe).astype(np.int64)
    return np.asarray(result.y_probe, dtype=np.float64).reshape(len(result.y_probe), -1)


def _embed(sub: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    out = np.full((k, k), np.nan)
    out[np.ix_(idx, idx)] = sub
    return out


def _ii_knn(spaces_in: list[np.ndarray], names: list[str], ok: np.ndarray, nh: int, k: int,
            knn_k: int | None, need_ii: bool, need_knn: bool,
            keep: dict[int, int] | None = None,
            kept: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
            ) -> tuple[np.ndarray | None, np.ndarray | None, list[int]]:
    """II matrix over all spaces and mutual k-NN among the first ``nh`` (members);
    ``keep`` / ``kept``: neighbour candidates of those spaces for the intrinsic dimension
    (noisealign.engine.measures.passes.pair_sums), for the spaces that can keep them."""
    spaces = as_spaces(spaces_in, names, _II_DTYPE, None)
    if keep:
        keep = {i: c for i, c in keep.items() if keeps_candidates(spaces[i])}
    degenerate = [int(m) for m, s in zip(ok, spaces[:nh]) if s.degenerate]
    n = spaces[0].n
    kchk = check_k(k, n)
    if need_knn:
        check_k(knn_k, n, "knn_k")
    ii_sum, kn_sum = pair_sums(
        spaces, kchk if need_ii else None, knn_k if need_knn else None, None,
        knn_idx=list(range(nh)), keep=keep, kept=kept)
    ii = ii_sum * (2.0 / (n * n * kchk)) if ii_sum is not None else None
    kn: np.ndarray | None = None
    if kn_sum is not None:
        assert knn_k is not None  # kn_sum is only computed when a knn_k was passed on
        kn = kn_sum / (n * knn_k)
    return ii, kn, degenerate


# ------------------------------------------------------------------------ computation
def _analyse(result: Result, layer: int | str, **kw: Any) -> dict[str, Any]:
    """Pairwise matrices (K x K) for ``pairs`` and, if ``info``, information content,
    with every space's distances computed once per block of rows."""
    check_cancelled("the measures")
    with one_thread(result.x_probe.shape[0] <= _ONE_THREAD_MAX_N):
        return _analyse_inner(result, layer, **kw)


def _id_candidates(n: int) -> int:
    """Neighbour candidates per point the II pass keeps for the intrinsic dimension:
    GRIDE's largest order plus a margin for float32 rounding of the distances."""
    top = 1 << int(math.log2(max(2, min(ID_SCALE, n - 1))))
    return min(n - 1, top + _ID_MARGIN)


def _spaces_of(result: Result, layer: int | str, init: bool, info: bool, info_y_only: bool
               ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[str],
                          list[int] | None, list[int] | None]:
    """(h, ok, spaces, names, pen_idx, out_idx): the layer's representations, the usable
    members, the spaces of the pass (members first, then what the information content
    needs) with their names, and where the penultimate and output spaces are."""
    h = result.layer(layer, init=init)
    ok = _usable(result, h, init)
    spaces_in: list[np.ndarray] = [h[m] for m in ok]
    names = [f"member {m}" for m in ok]
    pen_idx: list[int] | None = None
    out_idx: list[int] | None = None
    if info and info_y_only:
        spaces_in += [_targets(result)]
        names += ["y (clean probe targets)"]
    elif info:
        pen = result.layer(-1, init=init)
        outl = result.layer("output", init=init)
        # A member is usable only if all its layers involved are finite.
        fine = _usable(result, pen, init)
        fine = np.intersect1d(fine, _usable(result, outl, init))
        ok = np.intersect1d(ok, fine)
        spaces_in = [h[m] for m in ok]
        names = [f"member {m}" for m in ok]
        nh = len(ok)
        if layer == len(result.hidden) - 1:
            pen_idx = list(range(nh))  # h is the penultimate layer
        else:
            pen_idx = list(range(len(spaces_in), len(spaces_in) + nh))
            spaces_in += [pen[m] for m in ok]
            names += [f"member {m} (penultimate)" for m in ok]
        if layer == "output":
            out_idx = list(range(nh))
        else:
            out_idx = list(range(len(spaces_in), len(spaces_in) + nh))
            spaces_in += [outl[m] for m in ok]
            names += [f"member {m} (output)" for m in ok]
        spaces_in += [_targets(result), np.asarray(result.x_probe, dtype=np.float64)]
        names += ["y (clean probe targets)", "x (clean probe inputs)"]
    return h, ok, spaces_in, names, pen_idx, out_idx


def _analyse_inner(result: Result, layer: int | str, *, k: int, knn_k: int | None,
                   init: bool, pairs: tuple[str, ...], info: bool,
                   info_y_only: bool = False, id_lists: bool = False) -> dict[str, Any]:
    """``info_y_only``: of the information content only Delta(h <-> y) (the others NaN),
    without the spaces the others need (penultimate, output, x): half the spaces.
    ``id_lists``: also keep each member layer's neighbour candidates from the same pass,
    as ``out["id_candidates"]`` {(ID layer name, member): (cols, outside)}."""
    kk = result.ensemble_size
    h, ok, spaces_in, names, pen_idx, out_idx = _spaces_of(result, layer, init, info,
                                                           info_y_only)
    out: dict[str, Any] = {}
    nh = len(ok)
    degenerate: list[int] = []
    need_ii = info or "ii" in pairs or "ii_score" in pairs
    need_knn = "mknn" in pairs
    ii = kn = None
    # The member spaces' ID layer names (the intrinsic dimension's "hidden i" / "output").
    id_of: dict[int, tuple[str, int]] = {}
    if id_lists and spaces_in:
        for idx_list, lay in ((list(range(nh)), layer), (pen_idx, len(result.hidden) - 1),
                              (out_idx, "output")):
            name = "output" if lay == "output" else f"hidden {int(lay) % len(result.hidden) + 1}"
            for j, i in enumerate(idx_list or []):
                id_of[i] = (name, int(ok[j]))
    keep = {i: _id_candidates(len(result.x_probe)) for i in id_of}
    kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if spaces_in and (need_ii or need_knn):
        ii, kn, degenerate = _ii_knn(spaces_in, names, ok, nh, k, knn_k, need_ii, need_knn,
                                     keep=keep, kept=kept)
    if id_lists:
        out["id_candidates"] = {id_of[i]: v for i, v in kept.items()}
    out["degenerate_members"] = degenerate
    if nh:
        if "ii" in pairs:
            assert ii is not None  # need_ii
            out["ii"] = _embed(ii[:nh, :nh], ok, kk)
        if "ii_score" in pairs:
            assert ii is not None  # need_ii
            sub = ii[:nh, :nh]
            out["ii_score"] = _embed(1.0 - (sub + sub.T) / 2.0, ok, kk)
        if "mknn" in pairs:
            assert kn is not None  # need_knn
            out["mknn"] = _embed(kn, ok, kk)
        cka = [(name, deb) for name, deb in (("cka", False), ("cka_debiased", True))
               if name in pairs]
        if cka:
            feats = [torch.as_tensor(h[m], dtype=_DTYPE) for m in ok]
            subs = cka_matrices(feats, [deb for _, deb in cka])
            for (name, _), sub in zip(cka, subs):
                out[name] = _embed(sub, ok, kk)
    else:
        for name in pairs:
            out[name] = np.full((kk, kk), np.nan)
    if info:
        out["info"] = _information(ii, ok, kk, len(spaces_in), info_y_only, pen_idx, out_idx)
    return out


def _information(ii: np.ndarray | None, ok: np.ndarray, kk: int, n_spaces: int,
                 info_y_only: bool, pen_idx: list[int] | None, out_idx: list[int] | None
                 ) -> dict[str, np.ndarray]:
    """The information content of each member (NaN for the others) from the II matrix of
    the pass over :func:`_spaces_of`'s ``n_spaces`` spaces."""
    nh = len(ok)
    res = {key: np.full(kk, np.nan) for key in INFO_KEYS}
    if nh and info_y_only:
        assert ii is not None  # computed whenever there are members
        iy, hi = n_spaces - 1, np.arange(nh)
        res["ii_h_to_y"][ok] = ii[hi, iy]
        res["ii_y_to_h"][ok] = ii[iy, hi]
    elif nh:
        assert ii is not None  # computed whenever there are members
        iy, ix = n_spaces - 2, n_spaces - 1
        hi = np.arange(nh)
        pairs_of: dict[str, tuple[Any, Any]] = {
            "ii_h_to_y": (hi, iy), "ii_y_to_h": (iy, hi),
            "ii_pen_to_out": (pen_idx, out_idx), "ii_out_to_pen": (out_idx, pen_idx),
            "ii_x_to_h": (ix, hi), "ii_h_to_x": (hi, ix)}
        for key, (a, b) in pairs_of.items():
            res[key][ok] = ii[a, b]
    return res


# ------------------------------------------------------------------------- public API
def pairwise_matrix(result: Result, measure: str, *, layer: int | str = -1, k: int = DEFAULT_K,
                    knn_k: int = DEFAULT_KNN_K, init: bool = False) -> np.ndarray:
    """(K, K) float64 matrix of ``measure`` between the members' representations of
    ``layer`` (hidden index, -1 = last hidden, or "output") on the probe set.

    "ii": ``M[a, b] = Delta(a -> b)`` with k neighbours; "ii_score", "cka",
    "cka_debiased", "mknn" (``knn_k`` neighbours) are symmetric. The diagonal holds each
    member's value with itself. ``init=True`` uses the untrained members (random
    features). Diverged members give NaN rows and columns.
    """
    _check_measure(measure)
    result = _check_result(result)
    layer = _check_layer(result, layer)
    return _analyse(result, layer, k=k, knn_k=knn_k, init=bool(init), pairs=(measure,),
                    info=False)[measure]


def pair_stats(matrix: np.ndarray, *, symmetric: bool | None = None) -> dict[str, float]:
    """Mean, std (ddof=1), standard error and number of the off-diagonal pairs of a
    (K, K) matrix, ignoring NaN.

    ``symmetric=None`` decides from the matrix: an exactly symmetric matrix counts each
    pair once (upper triangle), an asymmetric one (e.g. "ii") both directions. std and
    sem are NaN with fewer than two values. The pairs share members, so the standard
    error is nominal (it treats them as independent).
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix has shape {m.shape}: allowed a square (K, K) matrix")
    if symmetric is None:
        symmetric = bool(np.array_equal(m, m.T, equal_nan=True))
    kk = m.shape[0]
    if symmetric:
        vals = m[np.triu_indices(kk, 1)]
    else:
        vals = m[~np.eye(kk, dtype=bool)]
    vals = vals[np.isfinite(vals)]
    return _stats(vals)


def _stats(vals: np.ndarray) -> dict[str, float]:
    s = mean_std_sem(vals)  # noisealign.engine.base.stats: ddof=1, NaN for fewer than 2 values
    return {"mean": s["mean"], "std": s["std"], "sem": s["sem"], "n_pairs": s["n"]}


def information_content(result: Result, *, layer: int | str = -1, k: int = DEFAULT_K,
                        init: bool = False) -> dict[str, np.ndarray]:
    """Per member (K,) Information Imbalances with the clean probe data:

    - ``ii_h_to_y`` / ``ii_y_to_h``: h = ``layer`` vs y = clean probe labels (one-hot
      space) for classification or clean targets for regression
    - ``ii_pen_to_out`` / ``ii_out_to_pen``: last hidden layer vs output layer
      (pre-softmax for classification)
    - ``ii_x_to_h`` / ``ii_h_to_x``: clean probe inputs vs h

    ``init=True``: the same for the untrained members (random features). NaN for
    diverged members.
    """
    result = _check_result(result)
    layer = _check_layer(result, layer)
    return _analyse(result, layer, k=k, knn_k=None, init=bool(init), pairs=(),
                    info=True)["info"]


ID_SCALE = 16  # GRIDE's largest neighbour order: robust to noise at small N
_ID_MARGIN = 8  # candidates kept beyond ID_SCALE from the II pass (float32 rounding)


def intrinsic_dimension(result: Result, *, init: bool = False) -> dict[str, Any]:
    """Intrinsic dimension (docs/science.md, section 2) of every member's every layer.

    Returns ``{"layers": [...], "twonn": [[K] per layer], "gride": [[K] per layer],
    "gride_scale": int, "twonn_mean"/"twonn_sem"/"gride_mean"/"gride_sem": [per layer]}``
    where layers are the hidden layers ("hidden 1" ... ) and "output"; TwoNN and GRIDE
    (at neighbour order up to ``ID_SCALE``) come from
    :func:`noisealign.engine.measures.dimension.intrinsic_dimensions` (numpy, equal to dadapy's estimators);
    the standard error is over members. NaN for diverged members.
    """
    result = _check_result(result)
    with one_thread(result.x_probe.shape[0] <= _ONE_THREAD_MAX_N):
        return _intrinsic_dimension(result, init)


def _intrinsic_dimension(result: Result, init: bool,
                         candidates: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]]
                         | None = None) -> dict[str, Any]:
    """``candidates``: neighbour lists an II pass kept ({(layer name, member): (cols,
    outside)}, :func:`_analyse_inner`); the other layers and members are searched."""
    candidates = candidates or {}
    layers = [f"hidden {i + 1}" for i in range(len(result.hidden))] + ["output"]
    kk = result.ensemble_size
    out: dict[str, Any] = {"layers": layers, "twonn": [], "gride": [], "gride_scale": 0}
    for i, name in enumerate(layers):
        reps = result.layer("output" if name == "output" else i, init=init)
        ok = _usable(result, reps, init)
        tw, gr = np.full(kk, np.nan), np.full(kk, np.nan)
        for m in ok:
            check_cancelled("the intrinsic dimension")
            cols, outside = candidates.get((name, int(m)), (None, None))
            est = intrinsic_dimensions(reps[m], scale=ID_SCALE, candidates=cols,
                                                outside=outside)
            tw[m], gr[m] = est["twonn"], est["gride"]
            out["gride_scale"] = max(out["gride_scale"], est["gride_scale"])
        out["twonn"].append(_floats(tw))
        out["gride"].append(_floats(gr))
    for method in ("twonn", "gride"):
        stats = [_stats(np.asarray(v)) for v in out[method]]
        out[method + "_mean"] = [st["mean"] for st in stats]
        out[method + "_sem"] = [st["sem"] for st in stats]
    return out


def _floats(a: np.ndarray) -> list:
    return np.asarray(a, dtype=np.float64).tolist()


def summarise(result: Result, *, layer: int | str = -1, k: int = DEFAULT_K,
              knn_k: int | None = None) -> dict[str, Any]:
    """Everything the dashboard shows about one run, as plain JSON-able values
    (floats, lists; NaN where undefined):

    - ``measures[m]``: pair stats (mean, std, sem, n_pairs) and ``matrix`` (K x K) of
      each measure between the trained members; ``measures_init[m]``: pair stats of the
      untrained members (random features)
    - ``information_content["trained" | "init"]``: per member lists (INFO_KEYS) and
      their means (``<key>_mean``)
    - ``test_error``, ``train_loss``: mean, std, sem over non-diverged members
    - ``N``, ``k``, ``knn_k`` (``knn_k=None``: 10, or N - 2 when the probe set is smaller),
      ``layer`` (hidden index counted from 0, or "output"), ``K``, ``n_ok``,
      ``n_parameters``, ``task``, ``stopped`` (members per stop reason:
      ``Result.stop_reason``), ``degenerate_members`` / ``degenerate_members_init``
      (members whose representation has all points coinciding: their II is 1)
    - ``intrinsic_dimension["trained" | "init"]``: TwoNN and GRIDE per layer and member
      (:func:`intrinsic_dimension`)

    - ``over_training`` (only for a spec with ``snapshots`` > 0 and stored snapshot
      representations): :func:`over_training` on the same layer and k

    About 8 kB of JSON for K = 8; CPU time about 0.3 s per K = 8, N = 500, width 256
    (see BENCHMARKS.md), plus about 0.2 s per snapshot at that size.
    """
    result = _check_result(result)
    layer = _check_layer(result, layer)
    n = int(result.x_probe.shape[0])
    check_k(k, n)
    # knn_k=None: the usual 10 neighbours, or all that max_k allows on a tiny probe set
    # (recorded in the summary); an explicit knn_k is checked like k.
    knn_used = min(DEFAULT_KNN_K, max_k(n)) if knn_k is None else check_k(knn_k, n, "knn_k")
    # The II pass keeps each member layer's nearest neighbours: the intrinsic dimension
    # then needs no search of its own for those layers.
    trained = _analyse(result, layer, k=k, knn_k=knn_used, init=False, pairs=MEASURES,
                       info=True, id_lists=True)
    untrained = _analyse(result, layer, k=k, knn_k=knn_used, init=True, pairs=MEASURES,
                         info=True, id_lists=True)
    out: dict[str, Any] = {
        "N": n, "k": int(k), "knn_k": knn_used, "layer": layer,
        "K": result.ensemble_size, "n_ok": len(result.ok_members),
        "n_parameters": int(result.n_parameters), "task": result.spec.task,
        "stopped": {r: int((result.stop_reason == r).sum())
                    for r in ("loss_tol", "max_epochs", "diverged")},
        "degenerate_members": trained["degenerate_members"],
        "degenerate_members_init": untrained["degenerate_members"],
        "measures": {}, "measures_init": {}, "information_content": {},
    }
    for m in MEASURES:
        out["measures"][m] = {"label": MEASURE_LABELS[m],
                              **pair_stats(trained[m], symmetric=SYMMETRIC[m]),
                              "matrix": _floats(trained[m])}
        out["measures_init"][m] = pair_stats(untrained[m], symmetric=SYMMETRIC[m])
    with one_thread(n <= _ONE_THREAD_MAX_N):
        out["intrinsic_dimension"] = {
            "trained": _intrinsic_dimension(result, False, trained.pop("id_candidates")),
            "init": _intrinsic_dimension(result, True, untrained.pop("id_candidates"))}
    for name, part in (("trained", trained), ("init", untrained)):
        info = part["info"]
        block: dict[str, Any] = {}
        for key in INFO_KEYS:
            block[key] = _floats(info[key])
            block[key + "_mean"] = _stats(info[key])["mean"]
        out["information_content"][name] = block
    ok = ~np.asarray(result.diverged, dtype=bool)
    for key in ("test_error", "train_loss"):
        s = _stats(np.asarray(getattr(result, key), dtype=np.float64)[ok])
        out[key] = {"mean": s["mean"], "std": s["std"], "sem": s["sem"]}
    if result.spec.snapshots and result.has_snapshot_representations:
        out["over_training"] = _over_training(result, layer, k, knn_used,
                                              {0: untrained, -1: trained})
    return out


# Per-epoch series of the over-training block: the pair measures, then information content.
OVER_TRAINING_MEASURES: tuple[str, ...] = MEASURES
OVER_TRAINING_INFO: tuple[str, ...] = ("ii_h_to_y", "ii_y_to_h")


def over_training(result: Result, *, layer: int | str = -1, k: int = DEFAULT_K,
                  knn_k: int | None = None) -> dict[str, Any]:
    """Every measure at every stored epoch (:meth:`engine.Result.over_training`:
    initialisation, the ``spec.snapshots`` snapshots, the end), as JSON-able lists:

    ``{"epochs": [...], "layer", "k", "knn_k",
    "<measure>": {"mean": [...], "sem": [...], "std": [...]}`` for each of MEASURES
    (pair statistics as :func:`pair_stats`; "ii" over both directions of every pair),
    ``"ii_h_to_y"``, ``"ii_y_to_h"``: mean and standard error over members of
    Delta(h -> y clean) and Delta(y clean -> h), and ``"test_error"``: mean and standard
    error over non-diverged members at each epoch ``}``. Each epoch's values equal
    :func:`summarise` / :func:`pairwise_matrix` on that epoch's representations.
    """
    result = _check_result(result)
    layer = _check_layer(result, layer)
    n = int(result.x_probe.shape[0])
    check_k(k, n)
    knn_used = min(DEFAULT_KNN_K, max_k(n)) if knn_k is None else check_k(knn_k, n, "knn_k")
    return _over_training(result, layer, k, knn_used, {})


def _over_training(result: Result, layer: int | str, k: int, knn_k: int,
                   known: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``known``: analyses already computed, by position (0 = init, -1 = end)."""
    runs = result.over_training()
    out: dict[str, Any] = {"epochs": [r.end_epoch for r in runs], "layer": layer, "k": int(k),
                           "knn_k": int(knn_k)}
    series: dict[str, dict[str, list]] = {
        name: {"mean": [], "sem": [], "std": []}
        for name in (*OVER_TRAINING_MEASURES, *OVER_TRAINING_INFO, "test_error")}
    for i, r in enumerate(runs):
        part = known.get(i if i < len(runs) - 1 else -1)
        if part is None:
            part = _analyse(r, layer, k=k, knn_k=knn_k, init=False, pairs=MEASURES, info=True,
                            info_y_only=True)
        stats = {m: pair_stats(part[m], symmetric=SYMMETRIC[m]) for m in OVER_TRAINING_MEASURES}
        stats.update({key: _stats(part["info"][key]) for key in OVER_TRAINING_INFO})
        stats["test_error"] = _stats(np.asarray(r.test_error, np.float64)[~r.diverged])
        for name, st in stats.items():
            for field in ("mean", "sem", "std"):
                series[name][field].append(st[field])
    out.update(series)
    return out
