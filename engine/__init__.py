"""noisealign.engine: how noise, sample size and width shape what networks learn inside.

The subpackages, in the order data flows (docs/architecture.md has the module map):

    base -> pipeline (spec -> datasets -> noise -> model -> train -> run -> Result)
         -> measures (core, intrinsic_dim, registry, summaries)    theory (no training)
    store (the results cache) and compute (sweeps, workers, jobs, guard) wrap the
    pipeline from outside; presets are the findings' figures; own_models holds compare,
    capture and train_ensemble for a user's own arrays and architectures; cli is the
    command line (``noisealign --help``), which the library never imports.

This package never imports streamlit; it is usable from scripts, notebooks and the
command line. Importing it is instant: the public names below load their module (and
torch, for anything that trains or measures) on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

# Bump whenever a change would change results: it is part of every cache key.
__version__ = "0.3.0"

# public name -> the module that defines it (loaded on first access)
_PUBLIC = {
    "ExperimentSpec": "noisealign.engine.pipeline.spec",
    "snr_db_to_ratio": "noisealign.engine.pipeline.spec",
    "snr_ratio_to_db": "noisealign.engine.pipeline.spec",
    "Result": "noisealign.engine.pipeline.result",
    "Cancelled": "noisealign.engine.base.errors",
    "run_experiment": "noisealign.engine.pipeline.run",
    "compare": "noisealign.engine.own_models.pairs",
    "load_arrays": "noisealign.engine.own_models.pairs",
    "capture": "noisealign.engine.own_models.activations",
    "train_ensemble": "noisealign.engine.own_models.architectures",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
