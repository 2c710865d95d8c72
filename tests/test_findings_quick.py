"""The findings report's quick mode reproduces the qualitative shape at small scale.

Runs the two linear-network figures of ``python -m experiments.findings --quick`` (claims
1 and 2: alignment rises with SNR; alignment vs n has its minimum near n = d, where the test
error peaks) through a real sweep and results cache, and checks the report machinery on
those numbers. The cache and data directories are the test's own (conftest.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.cache import ResultCache
from engine.presets import MEASURE_HELP, PAGES, PRESETS
from engine.spec import ExperimentSpec
from engine.sweep import Sweep
from experiments.findings.claims import (analyse, claim1, claim2, interior_min, local_peak,
                                         monotone_increasing, spearman)
from experiments.findings.collect import RunLog, collect, preset, series_of, sweep_of
from experiments.findings.figures import make_figures
from experiments.findings.report import _badge, run_record, write_report


@pytest.fixture(scope="module")
def linear_data(tmp_path_factory):
    """The quick linear figures, computed once for this module (about 30 s on an idle
    2-core machine). One torch thread: these networks are tiny, and on a busy machine
    two spinning threads per matmul are much slower than one."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cache = ResultCache(tmp_path_factory.mktemp("findings-cache"))
        log = RunLog()
        data = collect(["linear_snr", "linear_n"], quick=True, cache=cache,
                       executor="serial", log=log, echo=None)
    finally:
        torch.set_num_threads(threads)
    return cache, data, log


# ----------------------------------------------------------------------------- presets


def test_every_preset_is_a_valid_sweep_for_the_dashboard():
    for name, p in PRESETS.items():
        assert set(p) == {"title", "claim", "page", "spec", "axes", "series", "measure"}, name
        assert p["page"] in PAGES
        assert p["measure"] in MEASURE_HELP
        assert len(p["axes"]) == 1 and (p["series"] is None or len(p["series"]) == 1)
        sweep = Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})})
        n_series = len(next(iter(p["series"].values()))) if p["series"] else 1
        assert len(sweep) == len(next(iter(p["axes"].values()))) * n_series
        # The quick version is a valid, smaller sweep of the same experiment family.
        q = sweep_of(preset(name, quick=True))
        assert len(q) <= len(sweep)
        assert q.base.dataset == sweep.base.dataset


def test_unknown_figure_is_rejected_with_the_allowed_names():
    with pytest.raises(ValueError, match="figure='nope'.*linear_n"):
        preset("nope")


# ----------------------------------------------------------------------------- claim 1


@pytest.mark.slow
def test_linear_alignment_rises_monotonically_with_snr(linear_data):
    _, data, _ = linear_data
    c1 = claim1(data)
    linear_rows = [r for r in c1["rows"] if r["figure"] == "linear_snr"]
    assert len(linear_rows) == 4  # two sample sizes x two measures
    assert all(r["verdict"] == "holds" for r in linear_rows), linear_rows
    for n, pts in series_of(data["linear_snr"]).items():
        cka = [p.align["cka"][0] for p in pts]
        assert cka[-1] > 0.95 and cka[0] < 0.4, (n, cka)  # 30 dB: nearly identical members
        err = [p.test_error[0] for p in pts]
        assert err[-1] < err[0]


# ----------------------------------------------------------------------------- claim 2


@pytest.mark.slow
def test_linear_alignment_is_lowest_near_n_equals_d_where_test_error_peaks(linear_data):
    _, data, _ = linear_data
    pts = data["linear_n"]
    d = pts[0].spec.params["d"]
    ns = [p.x for p in pts]
    for m in ("cka", "ii_score"):
        a = [p.align[m][0] for p in pts]
        n_min = ns[int(np.argmin(a))]
        assert d / 1.5 <= n_min <= d * 1.5, (m, n_min, a)
        # Non-monotone: both ends are clearly above the minimum.
        assert a[0] > min(a) + 0.1 and a[-1] > min(a) + 0.1, (m, a)
    err = [p.test_error[0] for p in pts]
    assert ns[int(np.argmax(err))] == d
    c2 = claim2(data)
    assert [r["n_err_peak"] for r in c2["rows"]] == [d, d]
    assert any(r["verdict"] == "holds" for r in c2["rows"])


# ----------------------------------------------------------------------------- machinery


@pytest.mark.slow
def test_rerun_resumes_from_the_cache_without_computing(linear_data):
    cache, data, first = linear_data
    assert first.computed > 0
    log = RunLog()
    again = collect(["linear_n"], quick=True, cache=cache, executor="serial", log=log,
                    echo=None)
    assert log.computed == 0 and log.cached == len(again["linear_n"])
    assert [p.align["cka"] for p in again["linear_n"]] == [p.align["cka"] for p in data["linear_n"]]


@pytest.mark.slow
def test_report_and_figures_are_written_with_verdicts(linear_data, tmp_path):
    _, data, log = linear_data
    claims = analyse(data)
    assert claims["4"]["status"] == "not run"  # the width sweep was not part of this data
    figs = make_figures(data, claims, tmp_path / "figures")
    names = {p.name for p in figs}
    assert {"findings_1_snr.png", "findings_2_n.png",
            "findings_3_alignment_vs_error.png"} <= names
    for p in figs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 10_000
    info = run_record(tmp_path, log, None, True, (0.0, 0.0, 0.0))
    report = write_report(data, claims, tmp_path, True, {**info, "notes": []})
    text = report.read_text()
    assert "not the papers' numbers" in text
    assert "## Claim 1" in text and "## Claim 2" in text
    assert f"**Verdict: {_badge(claims['1']['status'])}.**" in text
    assert "figures/findings_2_n.png" in text


def test_monotone_and_minimum_helpers_decide_on_significance():
    rising = [(0.1, 0.01), (0.3, 0.01), (0.5, 0.01)]
    assert monotone_increasing(rising).status == "holds"
    dip = [(0.1, 0.01), (0.5, 0.01), (0.3, 0.01), (0.7, 0.01)]
    assert monotone_increasing(dip).status == "partly"
    noisy_flat = [(0.5, 0.2), (0.45, 0.2), (0.5, 0.2)]
    assert monotone_increasing(noisy_flat).status != "holds"
    v = [(0.8, 0.01), (0.3, 0.01), (0.6, 0.01)]
    mn = interior_min([1, 2, 3], v)
    assert mn["x"] == 2 and mn["non_monotone"]
    pk = local_peak([1, 2, 3, 4], [(0.5, 0.01), (0.3, 0.01), (0.45, 0.01), (0.2, 0.01)])
    assert pk["peak"] and pk["x"] == 3
    mono = local_peak([1, 2, 3], [(0.5, 0.01), (0.4, 0.01), (0.3, 0.01)])
    assert not mono["peak"]
    assert math.isclose(spearman([1, 2, 3], [3, 2, 1]), -1.0)
