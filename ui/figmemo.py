"""Memoised figures: a page redrawn with the same data reuses its Plotly figure.

Building a figure of a preset-sized sweep (84 runs: a few dozen traces) takes Plotly
0.2-0.5 s of validation on a busy 2-core machine, on every rerun of the page (a revisit,
each poll of a running job, any widget change). ``st.cache_data`` keeps the figure per
(plot function, data, arguments); a hit unpickles it in about a tenth of that time
(``benchmarks/bench_dashboard.py --revisit``).
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import pandas as pd
import streamlit as st

from ui import plots


@st.cache_data(show_spinner=False, max_entries=64)
def _figure(name: str, frame: pd.DataFrame, kwargs: tuple) -> bytes:
    # Pickled here and unpickled by every caller (a hit and a miss alike), so the same
    # data always gives the same figure JSON (an unpickled figure orders its keys
    # differently from a freshly built one, and the page would redraw it).
    return pickle.dumps(getattr(plots, name)(frame, **dict(kwargs)))


def figure(name: str, frame: pd.DataFrame, **kwargs: Any) -> Any:
    """``ui.plots.<name>(frame, **kwargs)``, memoised on the frame's contents and the
    arguments (plain values: numbers, strings, None). A fresh copy each call.
    ``NOISEALIGN_FIGURE_MEMO=0`` builds every time (the benchmark's baseline)."""
    if os.environ.get("NOISEALIGN_FIGURE_MEMO") == "0":
        return getattr(plots, name)(frame, **kwargs)
    return pickle.loads(_figure(name, frame, tuple(sorted(kwargs.items()))))
