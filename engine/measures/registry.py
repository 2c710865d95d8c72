"""The measures, as data: one :class:`Measure` per measure, read everywhere.

Summaries (:mod:`noisealign.engine.measures.summaries`: ``MEASURES``, ``MEASURE_LABELS``, ``SYMMETRIC``),
the array comparison (:mod:`noisealign.engine.own_models.pairs`: ``MEASURES``, ``MEASURE_LABELS``,
``HIGHER_IS_CLOSER``, the ``k`` of each row), the dashboard's labels (:mod:`noisealign.ui.tables`,
:mod:`ui.labels`) and the findings report (:mod:`experiments.findings.claims`) derive
their tables from :data:`REGISTRY`, so a measure's label, direction, symmetry and
neighbour count are written once, here. Code compares measure *names* (the keys), never
display labels.

The functions are referenced by their name in :mod:`noisealign.engine.measures.core` (resolved at call
time): that module's internals are free to change, and importing this one stays cheap
(no torch).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K  # the k defaults: one definition

#: which argument of a measure's neighbour count it takes
K_ARGS = ("k", "knn_k")


@dataclass(frozen=True)
class Measure:
    """One measure of a representation pair (or of one representation).

    Attributes
    ----------
    name : str
        The key everywhere: summaries' ``measures`` dict, compare rows, URLs, exports.
    label : str
        Title case, for axis titles, legends and selectors ("Linear CKA").
    description : str
        The label with its formula, as stored in each summary's ``measures[m]["label"]``
        (kept verbatim: stored summaries carry it) and shown in captions and help.
    short : str
        Compact, for metrics and dense legends ("CKA").
    higher_is_better : bool
        Whether a larger value means more similar (more aligned); False for the
        Information Imbalance and Delta(a -> labels), where lower is more informative.
        None for a measure of one representation (the intrinsic dimension).
    symmetric : bool
        Whether ``m(a, b) == m(b, a)``: a summary counts each pair once, an asymmetric
        measure both directions.
    k : str or None
        Which neighbour count it takes: ``"k"`` (the Information Imbalance's), ``"knn_k"``
        (mutual k-NN's and CKNNA's) or None.
    function : str
        The :mod:`noisealign.engine.measures.core` function that computes it for one pair (or one
        representation, ``arity == 1``; against labels, ``arity == "labels"``).
    kwargs : mapping
        Fixed keyword arguments of ``function`` (``debiased=True``).
    arity : int or str
        2 (a pair), 1 (one representation) or ``"labels"`` (a representation and labels).
    in_summaries : bool
        Computed for every run's summary (:mod:`noisealign.engine.measures.summaries`), else only by
        :func:`noisealign.engine.own_models.pairs`.
    """

    name: str
    label: str
    description: str
    short: str
    higher_is_better: bool | None
    symmetric: bool
    k: str | None
    function: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    arity: int | str = 2
    in_summaries: bool = True

    def resolve(self) -> Callable[..., Any]:
        """The function of :mod:`noisealign.engine.measures.core` (imported now: it imports torch)."""
        if self.name == "ii_score":
            return _ii_score
        from . import core as measures
        return getattr(measures, self.function)

    def compute(self, a: Any, b: Any = None, *, k: int = DEFAULT_K, knn_k: int = DEFAULT_KNN_K) -> float:
        """The measure of ``a`` and ``b`` (``b``: labels for arity "labels", unused for
        arity 1), with the neighbour count it takes (``k`` or ``knn_k``)."""
        fn = self.resolve()
        kw = dict(self.kwargs)
        if self.k is not None:
            kw["k"] = k if self.k == "k" else knn_k
        if self.arity == 1:
            return float(fn(a, **kw))
        value = fn(a, b, **kw)
        if self.name == "ii":  # information_imbalance gives both directions
            value = value[0]
        return float(value)


def _ii_score(a: Any, b: Any, k: int = DEFAULT_K) -> float:
    """``1 - (Delta(a -> b) + Delta(b -> a)) / 2``: the symmetric II alignment score."""
    from . import core as measures
    ab, ba = measures.information_imbalance(a, b, k)
    return 1.0 - (ab + ba) / 2.0


_ALL = (
    Measure("ii", "Information Imbalance Δ(a→b)", "Information Imbalance Δ(a→b)", "Δ(a→b)",
            higher_is_better=False, symmetric=False, k="k", function="information_imbalance"),
    Measure("ii_score", "Information Imbalance score",
            "II alignment score 1 − (Δ(a→b) + Δ(b→a))/2", "II score",
            higher_is_better=True, symmetric=True, k="k", function="information_imbalance"),
    Measure("cka", "Linear CKA", "Linear CKA", "CKA",
            higher_is_better=True, symmetric=True, k=None, function="linear_cka"),
    Measure("cka_debiased", "Debiased linear CKA", "Linear CKA (debiased)", "CKA (debiased)",
            higher_is_better=True, symmetric=True, k=None, function="linear_cka",
            kwargs={"debiased": True}),
    Measure("mknn", "Mutual k-NN", "Mutual k-NN", "mutual k-NN",
            higher_is_better=True, symmetric=True, k="knn_k", function="mutual_knn"),
    # CKNNA is symmetric by definition, but its estimator on one-sided k-NN masks moves by
    # a few per cent between the orders (noisealign.engine.measures.core.cknna); noisealign.engine.own_models.pairs reports
    # the order of its arrays (a before b) for both rows.
    Measure("cknna", "CKNNA", "CKNNA", "CKNNA",
            higher_is_better=True, symmetric=True, k="knn_k", function="cknna",
            in_summaries=False),
    Measure("id", "Intrinsic dimension (TwoNN)", "Intrinsic dimension (TwoNN)", "ID",
            higher_is_better=None, symmetric=True, k=None, function="intrinsic_dimension",
            arity=1, in_summaries=False),
    Measure("ii_labels", "Δ(a→labels)", "Δ(a→labels)", "Δ(a→labels)",
            higher_is_better=False, symmetric=False, k="k",
            function="information_imbalance_to", arity="labels", in_summaries=False),
)

#: name -> Measure, in the order the summaries and the comparison list them
REGISTRY: dict[str, Measure] = {m.name: m for m in _ALL}
#: the measures of every run's summary (noisealign.engine.measures.summaries.MEASURES)
SUMMARY_MEASURES: tuple[str, ...] = tuple(m.name for m in _ALL if m.in_summaries)
#: every measure of noisealign.engine.own_models.pairs
COMPARE_MEASURES: tuple[str, ...] = tuple(REGISTRY)


def measure(name: str) -> Measure:
    """The :class:`Measure` called ``name``; ValueError naming the allowed names."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"measure={name!r} is invalid: allowed "
                         + ", ".join(repr(m) for m in REGISTRY)) from None


def labels(names: tuple[str, ...] = COMPARE_MEASURES, kind: str = "label") -> dict[str, str]:
    """``{name: label}`` for ``names``; ``kind``: "label", "description" or "short"."""
    return {m: getattr(REGISTRY[m], kind) for m in names}


def k_of(name: str, k: int | None, knn_k: int | None) -> int | None:
    """The neighbour count measure ``name`` was computed with (None: it takes none)."""
    which = REGISTRY[name].k
    return None if which is None else k if which == "k" else knn_k
