"""Errors as structure (issue 24.5, first part): SpecError carries field, value, allowed.

Every check that names a field raises noisealign.engine.base.errors.SpecError, still a ValueError with
the same one-line message; noisealign.ui.page_support.ErrorSlots places a message by ``err.field`` (and
``err.param`` for a dataset parameter), never by parsing its text.
"""

from __future__ import annotations

import pickle

import pytest

from noisealign.engine.base.errors import SpecError
from noisealign.engine.base.validation import check_k
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import ExperimentSpec

BAD = [
    ({"n_train": 1}, "n_train", 1, "n_train=1 is invalid: allowed an integer in [2, 10000000]"),
    ({"dataset": "digits", "n_train": 10**6}, "n_train", 10**6, "exceeds the"),
    ({"snr_db": "loud"}, "snr_db", "loud", "snr_db='loud' is invalid"),
    ({"noise": "label"}, "noise", "label", "for a regression task"),
    ({"architecture": "cnn"}, "architecture", "cnn", "is invalid for dataset"),
    ({"dataset_params": {"d": 0}}, "dataset_params", 0, "dataset_params['d']=0 is invalid"),
]


@pytest.mark.parametrize("fields,field,value,text", BAD)
def test_spec_checks_raise_spec_errors_naming_the_field(fields, field, value, text) -> None:
    with pytest.raises(SpecError) as info:
        ExperimentSpec(**fields)
    err = info.value
    assert isinstance(err, ValueError) and text in str(err) and "\n" not in str(err)
    assert err.field == field and err.value == value and err.allowed in str(err)
    if field == "dataset_params":
        assert err.param == "d"
    back = pickle.loads(pickle.dumps(err))  # crosses process boundaries intact (sweeps)
    assert (back.field, back.value, back.allowed, back.param, str(back)) == \
        (err.field, err.value, err.allowed, err.param, str(err))


def test_neighbour_and_sweep_errors_name_their_slot() -> None:
    with pytest.raises(SpecError) as info:
        check_k(9, 10, "knn_k")
    assert info.value.field == "knn_k" and str(info.value) == \
        "knn_k=9 is invalid for N=10 points: allowed 1 to N - 2 = 8"
    with pytest.raises(SpecError) as info:
        Sweep(ExperimentSpec(noise="target"), {"label_noise": [0.0, 0.5]})
    assert info.value.field == "axis" and info.value.value == "label_noise"
    with pytest.raises(SpecError) as info:
        Sweep(ExperimentSpec(dataset="digits"), {"n_train": [100, 10**6]})
    assert info.value.field == "sweep" and str(info.value).startswith("sweep point n_train=")


def test_error_slots_place_by_field_not_by_text() -> None:
    from noisealign.ui.page_support import ErrorSlots
    slots = ErrorSlots()
    slots._slots = {"n_train": "a", "dataset_params": "b", "d": "c"}
    assert slots.field_of(SpecError("n_train", 1, "2 to 9")) == "n_train"
    assert slots.field_of(SpecError("dataset_params", 0, "1 to 9", param="d")) == "d"
    assert slots.field_of(SpecError("dataset_params", 0, "x", param="teacher_width")) == \
        "dataset_params"
    # a plain ValueError whose text starts like a field goes to the fallback slot
    assert slots.field_of(ValueError("n_train=1 is invalid: allowed 2 to 9")) is None
