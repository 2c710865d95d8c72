"""The fields' constraints (noisealign.engine.pipeline.constraints) are the rules: bad inputs
are drawn from them, and every layer answers with one line naming the field and what is
allowed: the API (SpecError) here, the CLI (exit 2: tests/cli/test_cli_constraints.py) and
the pages (tests/app/test_app_labels.py).
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from noisealign.engine.base.errors import SpecError
from noisealign.engine.pipeline import constraints as rules
from noisealign.engine.pipeline.spec import (
    ADDED_FIELDS,
    CHOICES,
    FLOAT_BOUNDS,
    INT_BOUNDS,
    ExperimentSpec,
)

BAD = [(name, bad) for name, rule in rules.FIELDS.items() for bad in rule.bad_values()]


def allowed_names_range(rule: rules.Constraint, allowed: str) -> bool:
    """Whether ``allowed`` (SpecError.allowed) states the constraint's range or choices."""
    if isinstance(rule, rules.Interval):
        return str(rule.lo) in allowed and str(rule.hi) in allowed
    if isinstance(rule, rules.Options):
        return all(repr(c) in allowed for c in rule.choices)
    return "True or False" in allowed


@pytest.mark.parametrize("name,bad", BAD, ids=[f"{n}={b!r}" for n, b in BAD])
def test_every_bad_value_is_a_one_line_spec_error_naming_field_and_range(name, bad) -> None:
    with pytest.raises(SpecError) as info:
        ExperimentSpec(**{name: bad})
    e = info.value
    assert e.field == name
    text = str(e)
    assert "\n" not in text and text.startswith(f"{name}=") and "is invalid: allowed" in text
    assert allowed_names_range(rules.FIELDS[name], e.allowed), (text, e.allowed)


def test_the_spec_reads_its_defaults_and_tables_from_the_constraints() -> None:
    fields = {f.name: f.default for f in dataclasses.fields(ExperimentSpec)}
    assert set(fields) - {"dataset", "dataset_params"} == set(rules.FIELDS)
    for name, rule in rules.FIELDS.items():
        assert fields[name] == rule.default, name
    assert INT_BOUNDS == {n: (r.lo, r.hi) for n, r in rules.intervals(int).items()}
    assert set(FLOAT_BOUNDS) == set(rules.intervals(float))
    assert CHOICES["noise"] == rules.FIELDS["noise"].choices
    assert all(v == rules.default(k) for k, v in ADDED_FIELDS.items())
    # every default passes its own check
    for name, rule in rules.FIELDS.items():
        if rule.default is not None:
            assert rule.check(name, rule.default) == rule.default


def test_bounds_that_depend_on_the_dataset_come_from_the_same_place() -> None:
    with pytest.raises(SpecError) as info:
        ExperimentSpec(dataset="diabetes", n_probe=10**4)
    e = info.value
    lo = rules.interval("n_probe").lo
    assert e.field == "n_probe" and e.allowed.startswith(f"{lo} to ")
    assert "held-out points available in 'diabetes'" in str(e)


@pytest.mark.parametrize("name", list(rules.K_FIELDS))
@pytest.mark.parametrize("bad", [0, -1, 1.5, "3", True, 9])
def test_k_is_checked_against_n_minus_2(name, bad) -> None:
    with pytest.raises(SpecError) as info:
        rules.check_k(bad, 10, name)
    assert info.value.field == name and "\n" not in str(info.value)
    assert rules.check_k(rules.max_k(10), 10, name) == 8


def test_the_snr_unit_converts_both_ways_for_numbers_and_arrays() -> None:
    import numpy as np
    assert rules.snr_db_to_ratio(rules.default("snr_db")) == 10.0
    assert rules.snr_db_to_ratio(math.inf) == math.inf and rules.snr_ratio_to_db(0) == -math.inf
    db = np.array([-20.0, 0.0, 10.0, np.inf])
    assert np.allclose(rules.snr_ratio_to_db(rules.snr_db_to_ratio(db))[:3], db[:3])
    assert rules.snr_ratio_to_db(np.array([0.0]))[0] == -math.inf
