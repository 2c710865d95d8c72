"""The pages' controls read the fields' constraints: a value above a field's bound, drawn
from its constraint and given by a link, is kept and explained next to its control in one
line naming the allowed range (and nothing is computed)."""

from __future__ import annotations

import pytest

from noisealign.engine.pipeline import constraints as rules
from tests.app.test_app import chart_specs, errors, no_exception, open_app
from tests.pipeline.test_constraints import allowed_names_range

# spec field -> the alignment page's URL key for its control
CONTROLS = {"snr_db": "snr", "width": "width", "ensemble_size": "K"}


@pytest.mark.parametrize("name", list(CONTROLS))
def test_a_value_beyond_the_constraint_is_explained_next_to_its_control(name) -> None:
    rule = rules.interval(name)
    bad = rule.bad_values()[1]  # above the upper bound
    at = no_exception(open_app(auto="false", x="n_train", series="none",
                               **{CONTROLS[name]: str(bad)}))
    lines = [e for e in errors(at).splitlines() if "is invalid: allowed" in e]
    assert len(lines) == 1, errors(at)  # one message, on one line
    assert allowed_names_range(rule, lines[0]), lines[0]
    assert not chart_specs(at)
    assert at.number_input(key=CONTROLS[name]).value == bad  # kept, not reset


def test_the_theory_pages_snr_slider_spans_the_tabulated_theory_within_the_spec() -> None:
    from noisealign.engine.theory_exact import TABLE_SNR_DB
    lo, hi = rules.interval("snr_db").lo, rules.interval("snr_db").hi
    at = no_exception(open_app("pages/theory.py"))
    slider = at.slider(key="snr")
    assert (slider.min, slider.max) == (max(lo, TABLE_SNR_DB[0]), min(hi, TABLE_SNR_DB[-1]))
    assert slider.value == rules.default("snr_db")
