"""One mean +- SEM convention and one format each for bytes and seconds (issue 24.1).

The reference for the standard error is the textbook formula written out here
(sample variance with n - 1, over sqrt(n)); every site that shows or exports an error
bar is checked to give the same numbers as noisealign.engine.base.stats.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from noisealign.engine.base.stats import mean_sem, mean_std_sem
from noisealign.engine.base.units import format_bytes, format_clock, format_seconds
from noisealign.engine.compute import guard


def _reference(values: list[float]) -> tuple[float, float]:
    xs = [v for v in values if math.isfinite(v)]
    n = len(xs)
    mean = sum(xs) / n
    var = sum((x - mean) ** 2 for x in xs) / (n - 1)
    return mean, math.sqrt(var / n)


def test_mean_sem_is_the_sample_standard_error_over_finite_values() -> None:
    vals = [0.3, 0.5, math.nan, 0.9, math.inf, 0.2]
    mean, sem = mean_sem(vals)
    want = _reference(vals)
    assert mean == pytest.approx(want[0]) and sem == pytest.approx(want[1])
    s = mean_std_sem(np.array(vals).reshape(2, 3))
    assert s["n"] == 4 and s["std"] == pytest.approx(want[1] * 2)


@pytest.mark.parametrize("vals", [[], [math.nan], [0.4]])
def test_fewer_than_two_values_give_nan_not_zero(vals: list[float]) -> None:
    s = mean_std_sem(vals)
    assert math.isnan(s["std"]) and math.isnan(s["sem"])
    assert (math.isnan(s["mean"]) if not [v for v in vals if math.isfinite(v)]
            else s["mean"] == vals[0])


def test_every_site_uses_the_one_convention() -> None:
    from experiments import linear_theory
    from experiments.findings import collect
    from noisealign.engine.measures.summaries import pair_stats
    from noisealign.ui import infoview
    from noisealign.ui import tables as data
    vals = [0.1, 0.4, 0.35, 0.8]
    want = mean_sem(vals)
    m = np.array([[1, 0.1, 0.4], [0.1, 1, 0.35], [0.4, 0.35, 1]])
    st = pair_stats(m, symmetric=True)
    assert (st["mean"], st["sem"]) == pytest.approx(mean_sem([0.1, 0.4, 0.35]))
    assert infoview._mean_sem(vals) == collect._mean_sem(vals) == want
    assert data.info_stat({"information_content": {"trained": {"x": vals}}}, "x") == want
    assert linear_theory._mean_se([0.5]) == pytest.approx((0.5, math.nan), nan_ok=True)


def test_bytes_read_in_decimal_units_everywhere() -> None:
    from noisealign.ui import tables as data
    assert format_bytes(3.2e9) == "3.2 GB" and format_bytes(4.5e8) == "450 MB"
    assert format_bytes(12_000) == "12 kB" and format_bytes(512) == "512 B"
    assert guard.format_bytes is format_bytes and data.human_bytes is format_bytes
    assert format_bytes(2**30) == "1.1 GB"  # the cache's 1 GiB default, in the one unit


def test_seconds_read_the_same_in_estimates_and_job_panels() -> None:
    assert format_seconds(40) == "about 40 s" and format_seconds(0.2) == "under 1 s"
    assert format_seconds(624) == "about 10.4 min" and format_seconds(2700) == "about 45 min"
    assert format_seconds(12_600) == "about 3.5 h" and format_seconds(math.inf) == "?"
    assert guard.format_seconds is format_seconds
    from noisealign.ui import page_support as common
    assert common._fmt_seconds(40) == "about 40 s left"  # the job panel's time left
    assert format_clock(12) == "0:12" and format_clock(3723) == "1:02:03"
    assert format_clock(None) == "?" and format_clock(math.nan) == "?"
