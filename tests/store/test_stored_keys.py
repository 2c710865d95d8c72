"""Every cache key stays the same: literal keys recorded before issue 24's refactor.

The specs cover the default, a CNN, label noise (pair kind), input noise, a preset (the
linear network of the theory page) and a label-noise sweep with two replicates. A change
to the spec's canonical JSON, its validation (a reset level, a filled default) or the
engine version shows up here as a changed string, which would orphan every stored result
and every shipped summary.
"""

from __future__ import annotations

import pytest

from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import PRESETS
from noisealign.engine.store.cache import spec_key

STORED = {
    "default": ({}, "50129331eaa661fc26d41212d7a3cf0e39df5c3d024c608eea071257f5ffe1aa"),
    "cnn": ({"dataset": "digits", "architecture": "cnn", "width": 8, "n_train": 200},
            "4ba3d1f682f8f579d94a538a43c4eb0e04ab76134f056c2d5391f008cb1d8d03"),
    "label": ({"dataset": "digits", "noise": "label", "label_noise": 0.2,
               "label_noise_kind": "pair"},
              "994317e95411230c1c41ef829c1a38e256351ebdfc0b4ff6be8ec2e2600b70fc"),
    "input": ({"dataset": "digits", "noise": "input", "snr_db": 5.0, "width": 32},
              "8bfc8860f4ff14ac07a9305ca0790fc1995051f5634042f63e6db234c5d8594b"),
    "linear preset": (PRESETS["linear_n"]["spec"],
                      "8e6b854ad292dfc842033cc53b185be695da7f06ad88d3c03470bc9cb7978197"),
}
SWEEP_KEYS = [
    "0e2bf94588e4b0a0d504db7b1f682e8455af102d82087d50a52e29fb1c79183c",
    "a1c67385afc0fa8dd7932ccdcb424b739a6c0a5504b20fc7aab97e9d94fb18d6",
    "6fd929a7c230025be68f31a600348fe89a006b6735c1a4a550dda9d3a236aa98",
    "e7672f6a05881eb9403b7acf881ff369b5f518dadd74a60d2eb115251926bdb6",
]


@pytest.mark.parametrize("name", list(STORED))
def test_stored_spec_keys_unchanged(name: str) -> None:
    fields, key = STORED[name]
    assert spec_key(ExperimentSpec(**fields)) == key


def test_stored_sweep_keys_unchanged() -> None:
    sweep = Sweep(ExperimentSpec(dataset="digits", noise="label"), {"label_noise": [0.0, 0.5]},
                  replicates=2)
    assert [spec_key(s) for s in sweep.specs()] == SWEEP_KEYS
