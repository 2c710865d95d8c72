"""Human labels for spec fields, sweep axes, page inputs and measures: one table.

The engine names things by their spec fields (``n_train``, ``snr_db``) and measure ids
(``ii_score``, ``cka``); those names stay in the API, the CLI, URLs, exports and the
controls' help texts. What a reader of the dashboard sees (a dropdown's options, an axis
title, an error message) goes through this module instead:

- :data:`FIELD_LABELS`: every :class:`engine.ExperimentSpec` field
  (``tests/test_labels.py`` fails for a new field without a label);
- :data:`INPUT_LABELS`: the pages' own inputs that messages name (``xs``, ``k``, ...);
- :data:`MEASURE_LABELS`: every alignment measure (``noisealign.engine.measures.summaries.MEASURES``) and the
  theory page's quantities, with :data:`LOWER_IS_BETTER` saying which read "lower = more
  aligned";
- :func:`label` (a name's label), :func:`axis_title` (with a unit or a direction), and
  :func:`message` (an engine ``ValueError`` text whose leading ``field=`` is replaced by
  the field's label).

Plain Python (no streamlit), so the tables are testable on their own.
"""

from __future__ import annotations

import re
from typing import Any

from noisealign.engine.measures.registry import REGISTRY, SUMMARY_MEASURES
from noisealign.engine.measures.registry import labels as registry_labels
from noisealign.engine.pipeline.constraints import FIELDS, K_FIELDS

# Every spec field -> how the dashboard names it (sentence case, units in parentheses): the
# label and unit of its constraint (noisealign.engine.pipeline.constraints.FIELDS).
FIELD_LABELS: dict[str, str] = {
    "dataset": "Dataset",
    "dataset_params": "Dataset parameters",
    **{name: rule.label + (f" ({rule.unit})" if rule.unit else "")
       for name, rule in FIELDS.items()},
}

# Inputs of the pages that are not spec fields, as their messages name them.
INPUT_LABELS: dict[str, str] = {
    "xs": "x values",
    "ss": "Series values",
    "series": "Series",
    "axis": "Sweep axis",
    "axes": "Sweep axes",
    "sweep": "Sweep",
    "replicates": "Replicates (data seeds)",
    "replicate": "Replicate (data seed)",
    **{name: rule.label for name, rule in K_FIELDS.items()},
    "widths": "Widths",
    "rates": "Label-noise rates p",
    "sim_nd": "n / d values to simulate",
    "sim_snr": "SNR values to simulate (dB)",
    "n_parameters": "Parameters P per network",
    "nd": "Samples per input dimension n / d",
    "d": "Input dimension d",
    "snr": "Signal-to-noise ratio (ratio)",
    "epoch": "Epoch",
    "measure": "Alignment measure",
}

# Alignment measures (noisealign.engine.measures.summaries.MEASURES) and the theory page's quantities.
MEASURE_LABELS: dict[str, str] = {
    **registry_labels(SUMMARY_MEASURES, "label"),  # noisealign.engine.measures.registry: one label a measure
    "rho": "Weight cosine ρ",
    "cka_large_d": "ρ² (linear CKA as d → ∞)",
    "ii_large_d": "Information Imbalance Δ(ρ) as d → ∞",
    "ii_score_large_d": "Information Imbalance score as d → ∞",
    "test_error": "Test error",
}
# Measures where a lower value means more aligned (or more informative): they get their
# own axis, never one shared with the "higher = more aligned" measures.
LOWER_IS_BETTER = frozenset({m for m in SUMMARY_MEASURES if REGISTRY[m].higher_is_better is False}
                            | {"ii_large_d", "test_error"})

# Short names of the sweep axes for sentences ("falls from 0.93 at p = 0 to ...").
SHORT_AXIS = {"n_train": "n", "snr_db": "SNR (dB)", "width": "width",
              "label_noise": "p", "init_scale": "init scale"}
PARAM_PREFIX = "dataset_params."  # as noisealign.engine.compute.sweep.PARAM_PREFIX (axes over dataset parameters)
_ALL: dict[str, str] = {**INPUT_LABELS, **MEASURE_LABELS, **FIELD_LABELS}


def label(name: str) -> str:
    """The human label of a spec field, page input or measure; ``name`` itself (as a
    fallback that never raises) when it has none. A dataset parameter as a sweep axis
    names it ("dataset_params.d" -> "Dataset parameter d")."""
    name = str(name)
    if name.startswith(PARAM_PREFIX) and len(name) > len(PARAM_PREFIX):
        return f"Dataset parameter {name[len(PARAM_PREFIX):]}"
    return _ALL.get(name, name)


def format_option(name: Any) -> str:
    """``format_func`` for a selectbox whose options are field or measure names
    ("none" reads as "none")."""
    return "none" if name == "none" else label(name)


def axis_title(name: str, *, direction: bool = False) -> str:
    """An axis title for ``name``; with ``direction``, measures say which way is better
    ("Information Imbalance Δ(a→b) (lower = more aligned)")."""
    text = label(name)
    if direction and name in MEASURE_LABELS and name != "test_error":
        text += " (lower = more aligned)" if name in LOWER_IS_BETTER else \
            " (higher = more aligned)"
    return text


# "name=..." or "dataset_params['d']=..." (optionally "axis 'name' ...") at the start.
_LEADING = re.compile(r"""\s*(?:dataset_params\[(['"])(?P<param>\w+)\1\]|(?P<field>\w+))=""")
_AXIS = re.compile(r"""\s*axis (['"])(?P<axis>\w+)\1""")


# "noise='none'" or "n_train=50" further on in a message (a spec field's name only).
_INTERIOR = re.compile(r"""\b(?P<field>[a-z_]+)=(?P<value>'[^']*'|"[^"]*"|[\w.+-]+)""")


def _interior(text: str) -> str:
    """Spec fields named inside a message ("... with noise='none'") by their labels
    ("... with noise kind 'none'")."""
    def repl(m: re.Match) -> str:
        name = m.group("field")
        if name not in FIELD_LABELS:
            return m.group(0)
        lbl = FIELD_LABELS[name]
        return f"{lbl[0].lower()}{lbl[1:]} {m.group('value')}"
    return _INTERIOR.sub(repl, text)


def message(text: Any) -> str:
    """An engine or page ``ValueError`` message for a reader of the dashboard: a leading
    ``field=value`` becomes ``Label: value`` (``"ss='' is invalid: ..."`` ->
    ``"Series values: '' is invalid: ..."``), ``dataset_params['d']=0`` becomes
    ``Dataset parameter d: 0``, a leading ``axis 'snr_db'`` names the axis by its label,
    and a spec field further on (``with noise='none'``) is named by its label
    (``with noise kind 'none'``). Anything else is returned unchanged. Plain text: escape
    it for markdown when showing it (:func:`noisealign.engine.base.validation.for_markdown`,
    ``noisealign.ui.page_support.error``).
    """
    text = str(text)
    m = _LEADING.match(text)
    if m and m.group("param"):
        return f"Dataset parameter {m.group('param')}: {_interior(text[m.end():])}"
    if m and m.group("field") in _ALL:
        return f"{label(m.group('field'))}: {_interior(text[m.end():])}"
    m = _AXIS.match(text)
    if m and m.group("axis") in _ALL:
        return f"Sweep axis {label(m.group('axis'))}{_interior(text[m.end():])}"
    return _interior(text)


def point_label(text: str) -> str:
    """A sweep point's id ("n_train=50, snr_db=10") as labels ("Training samples n = 50,
    Signal-to-noise ratio, SNR (dB) = 10"); anything else ("none") unchanged."""
    parts = []
    for part in str(text).split(", "):
        name, sep, value = part.partition("=")
        if not sep or label(name) == name:
            return str(text)
        parts.append(f"{label(name)} = {value}")
    return ", ".join(parts)
