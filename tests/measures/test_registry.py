"""One measure registry (issue 24.1, noisealign.engine.measures.registry), read by every table of measures.

The registry's per-pair functions (noisealign.engine.measures.core, by name) are checked against
noisealign.engine.own_models.pairs's rows, which come from the fused matrix passes (one distance pass for
II and mutual k-NN, the CKA matrices): two code paths, the same numbers. The tables the
summaries, the comparison, the dashboard and the report keep are checked to be the
registry's, and each direction flag against what the measure does on a copy versus
noise.
"""

from __future__ import annotations

import importlib
import inspect
import math

import numpy as np
import pytest

from experiments.findings import claims
from noisealign.engine import compare as compare_fn
from noisealign.engine.measures import registry, summaries
from noisealign.engine.measures.registry import REGISTRY, SUMMARY_MEASURES, k_of, measure
from noisealign.ui import labels
from noisealign.ui import tables as data

compare_module = importlib.import_module("noisealign.engine.own_models.pairs")


@pytest.fixture(scope="module")
def arrays() -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(60, 5))
    xs = {"m/a": base, "m/b": base @ rng.normal(size=(5, 4)) + 0.3 * rng.normal(size=(60, 4)),
          "m/c": rng.normal(size=(60, 3))}
    return xs, rng.integers(0, 3, size=60)


def test_registry_functions_match_the_comparison_rows(arrays) -> None:
    xs, y = arrays
    k, knn_k = 2, 5
    names = [m for m in registry.COMPARE_MEASURES if m != "id"]  # id: dadapy optional
    rows = compare_fn(xs, y, measures=names, k=k, knn_k=knn_k)
    seen = set()
    order = list(xs)
    for r in rows:
        m = measure(r["measure"])
        a, b = r["a"], r["b"]
        if m.symmetric and order.index(a) > order.index(b):
            a, b = b, a  # one value per pair, computed in the arrays' order
        want = m.compute(xs[a], y if m.arity == "labels" else xs[b], k=k, knn_k=knn_k)
        assert r["value"] == pytest.approx(want, rel=1e-6, abs=1e-9), r
        assert r["k"] == k_of(m.name, k, knn_k)
        seen.add(m.name)
    assert seen == set(names)


def test_symmetry_and_direction_flags_describe_the_measures(arrays) -> None:
    xs, _ = arrays
    a, noise = xs["m/a"], xs["m/c"]
    copy = a * 2.0 + 1.0  # the same representation, scaled and shifted
    for m in (REGISTRY[n] for n in SUMMARY_MEASURES + ("cknna",)):
        close, far = m.compute(a, copy, k=1, knn_k=5), m.compute(a, noise, k=1, knn_k=5)
        assert (close > far) == m.higher_is_better, m.name
        if m.name == "cknna":
            continue  # symmetric by definition, its estimator not quite (noisealign.engine.measures.registry)
        there, back = m.compute(a, xs["m/b"], k=1, knn_k=5), m.compute(xs["m/b"], a, k=1,
                                                                       knn_k=5)
        assert math.isclose(there, back, rel_tol=1e-9) == m.symmetric, m.name


def test_every_table_of_measures_is_the_registrys() -> None:
    assert summaries.MEASURES == SUMMARY_MEASURES
    assert compare_module.MEASURES == registry.COMPARE_MEASURES
    for m in SUMMARY_MEASURES:
        r = REGISTRY[m]
        assert summaries.MEASURE_LABELS[m] == data.MEASURE_LABELS[m] == r.description
        assert summaries.SYMMETRIC[m] == r.symmetric
        assert labels.MEASURE_LABELS[m] == r.label and data.MEASURE_SHORT[m] == r.short
        assert (m in labels.LOWER_IS_BETTER) == (r.higher_is_better is False)
    for m, higher in compare_module.HIGHER_IS_CLOSER.items():
        assert higher == REGISTRY[m].higher_is_better
        assert compare_module.MEASURE_LABELS[m] == REGISTRY[m].description
    for m, text in claims.ALIGN_LABELS.items():
        assert text == REGISTRY[m].short


def test_unknown_measure_names_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="measure='CKA' is invalid: allowed 'ii', 'ii_score'"):
        measure("CKA")


def test_engine_compare_is_the_function_and_the_module_imports_by_name() -> None:
    # No module class swapped in sys.modules (issue 24.6): the package attribute is the
    # function, the module is importable under its own name, in either import order.
    from noisealign import engine
    assert inspect.isfunction(compare_fn) and compare_fn is compare_module.compare
    assert engine.compare is compare_fn
    assert type(compare_module).__name__ in ("module", "_LazyModule")
    from noisealign.engine.own_models.pairs import load_arrays
    assert load_arrays is engine.load_arrays
