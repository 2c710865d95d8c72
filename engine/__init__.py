"""noisealign engine: how noise, sample size and width shape what networks learn inside.

Read the modules in the order data flows:

    spec -> datasets -> noise -> model -> train -> experiment (Result)
         -> measures -> summaries        theory (no training)
    compare: every measure between a user's own arrays (no training)
    cache, sweep and export wrap that pipeline from outside; jobs and guard serve the
    dashboard; cli is the command line (``noisealign --help``).

This package never imports streamlit; it is usable from scripts, notebooks and the
command line. Importing it is instant: the public names below load their module (and
torch, for anything that trains or measures) on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

# Bump whenever a change would change results: it is part of every cache key.
__version__ = "0.3.0"

# public name -> the module that defines it (loaded on first access)
_PUBLIC = {
    "ExperimentSpec": "engine.spec",
    "snr_db_to_ratio": "engine.spec",
    "snr_ratio_to_db": "engine.spec",
    "Result": "engine.result",
    "Cancelled": "engine.errors",
    "run_experiment": "engine.experiment",
    "compare": "engine.compare",
    "load_arrays": "engine.compare",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def _register_lazily(name: str) -> None:
    """Put submodule ``name`` in ``sys.modules`` now, executed on first attribute access.

    ``engine.compare`` is a function (the public name) and a module of the same name.
    Importing a submodule the ordinary way sets the package attribute to the module
    (after the module ran), which would shadow the function for every later ``from
    engine import compare``. A module already in ``sys.modules`` is not set on the
    package again, so ``from engine.compare import load_arrays`` and
    ``importlib.import_module("engine.compare")`` get the module while the package
    attribute stays the function (:func:`__getattr__`). Nothing is loaded here: importing
    engine stays instant (no numpy).
    """
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


if "engine.compare" not in sys.modules:
    _register_lazily("engine.compare")


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'engine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
