"""noisealign engine: how noise, sample size and width shape what networks learn inside.

Read the modules in the order data flows:

    spec -> datasets -> noise -> model -> train -> experiment (Result)
         -> measures -> summaries        theory (no training)
    cache and sweep wrap that pipeline from outside.

This package never imports streamlit; it is usable from scripts, notebooks and the
command line (``python -m engine --help``).
"""

# Bump whenever a change would change results: it is part of every cache key.
__version__ = "0.2.0"

from engine.spec import ExperimentSpec, snr_db_to_ratio, snr_ratio_to_db  # noqa: E402
from engine.result import Result  # noqa: E402
from engine.train import Cancelled  # noqa: E402
from engine.experiment import run_experiment  # noqa: E402

__all__ = ["ExperimentSpec", "Result", "Cancelled", "run_experiment", "snr_db_to_ratio",
           "snr_ratio_to_db", "__version__"]
