"""The findings report's quick mode reproduces the qualitative shape at small scale.

Runs the two linear-network figures of ``python -m experiments.findings --quick`` (claims
1 and 2: alignment rises with SNR; alignment vs n has its minimum near n = d, where the test
error peaks) through a real sweep and results cache, and checks the report machinery on
those numbers. The cache and data directories are the test's own (conftest.py).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from experiments.findings.claims import (
    _compare_above,
    _compare_below,
    _compare_verdict,
    _location_verdict,
    _noisy_vs_clean,
    _pen_out_trend,
    _pen_out_verdict,
    _random_vs_features,
    analyse,
    claim1,
    claim2,
    claim4,
    interior_min,
    local_peak,
    monotone_increasing,
    overall,
    side,
    spearman,
    theory_trend,
    verdict_rows,
)
from experiments.findings.collect import (
    Point,
    RunLog,
    collect,
    preset,
    scaled_sweeps,
    scaling_table,
    series_of,
    sweep_of,
)
from experiments.findings.figures import make_figures
from experiments.findings.report import _badge, run_record, write_report
from noisealign.engine import theory
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import MEASURE_HELP, PAGES, PRESETS
from noisealign.engine.store.cache import ResultCache


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
        assert set(p) == {"title", "claim", "page", "spec", "axes", "series", "measure",
                          "replicates"}, name
        assert p["replicates"] >= 3  # every verdict has error bars across data seeds
        assert p["page"] in PAGES
        assert p["measure"] in MEASURE_HELP
        assert len(p["axes"]) == 1 and (p["series"] is None or len(p["series"]) == 1)
        sweep = Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})},
                      replicates=p["replicates"])
        n_series = len(next(iter(p["series"].values()))) if p["series"] else 1
        assert len(sweep) == len(next(iter(p["axes"].values()))) * n_series * p["replicates"]
        assert sweep_of(p).specs() == sweep.specs()
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
    # --quick has 2 seeds: Welch's df is about 1 (critical t 12.7), so a clear rise may
    # still be unresolved; it must never read as a fall.
    assert all(r["verdict"] in ("holds", "inconclusive") for r in linear_rows), \
        [(r["part"], r["verdict"], r["why"]) for r in linear_rows]
    assert all(r["test"].df < 3 and r["test"].estimate > 0 for r in linear_rows)
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
    assert [r["n_err_peak"] for r in c2["rows"]] == [d] * 4  # 2 measures x 2 parts
    # 2 seeds (--quick): the parts may be unresolved, never refuted; the minimum's
    # interval contains the threshold and each seed's own argmin is near it
    for r in c2["rows"]:
        assert r["verdict"] in ("holds", "inconclusive"), (r["part"], r["why"])
        assert r["plateau"][0] <= d * 1.5 and r["plateau"][1] >= d / 1.5, (r["part"],
                                                                             r["plateau"])
        assert len(r["argmin_seeds"]) == 2
        assert all(d / 1.5 <= x <= d * 1.5 for x in r["argmin_seeds"]), r["argmin_seeds"]


# ----------------------------------------------------------------------------- machinery


@pytest.mark.slow
def test_rerun_resumes_from_the_cache_without_computing(linear_data):
    cache, data, first = linear_data
    assert first.computed > 0
    log = RunLog()
    again = collect(["linear_n"], quick=True, cache=cache, executor="serial", log=log,
                    echo=None)
    assert log.computed == 0 and log.cached == sum(p.seeds for p in again["linear_n"])
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


@pytest.mark.slow
def test_points_carry_error_bars_across_data_seeds(linear_data):
    cache, data, _ = linear_data
    pts = data["linear_n"]
    assert all(p.seeds == 2 for p in pts)  # --quick: two seeds per point
    p = next(p for p in pts if p.x == pts[0].spec.params["d"])
    # The across-seed error is the spread of the seeds' own pair means.
    seeds = sorted({s.seed for s in sweep_of(preset("linear_n", quick=True)).specs()})
    specs = [dataclasses.replace(p.spec, seed=s) for s in seeds]
    means = [cache.get_summary(s)["measures"]["cka"]["mean"] for s in specs]
    assert p.align["cka"][0] == pytest.approx(np.mean(means))
    assert p.align["cka"][1] == pytest.approx(np.std(means, ddof=1) / math.sqrt(2))
    assert np.isfinite(p.moved[0]) and 0.0 <= p.moved[0] <= 1.0 + 1e-9


def _pt(x, s, ii, ii_sem=0.005, init=(0.5, 0.005), moved=(0.5, 0.01), train_error=0.0,
        n_train=4000, per_seed=None):
    spec = ExperimentSpec(dataset="mnist1d", dataset_params={"n_samples": 10000},
                          n_train=n_train, n_probe=2000, width=int(x), label_noise=s,
                          noise="label")
    z2 = (0.0, 0.0)
    return Point(x=float(x), s=s, spec=spec, seeds=3, align={"cka": z2}, align_pair_sem={},
                 align_init={}, info={"ii_h_to_y": (ii, ii_sem), "ii_pen_to_out": z2},
                 info_init={"ii_h_to_y": init, "ii_pen_to_out": z2}, test_error=(0.5, 0.01),
                 train_loss=0.0, test_loss=(1.0, 0.1), train_error=train_error, moved=moved,
                 epochs_max_fraction=0.0, n_parameters=51 * int(x) + 10, n_probe=2000,
                 from_cache=True, seconds=0.0, per_seed=per_seed or {})


def test_noisy_vs_clean_is_judged_only_where_networks_left_their_initialisation():
    # Below P = n*C (width 784): noisy labels more informative at 64, equal at 2048.
    clean = [_pt(64, 0.0, 0.40), _pt(2048, 0.0, 0.30)]
    noisy = [_pt(64, 0.2, 0.30), _pt(2048, 0.2, 0.30)]
    rows = _noisy_vs_clean({0.0: clean, 0.2: noisy})
    assert [r["below_nc"] for r in rows] == [True, False] and all(r["judged"] for r in rows)
    assert rows[0]["test"].df == pytest.approx(4.0)  # Welch, 3 seeds a side, equal sems
    assert _compare_below(rows).status == "holds" and _compare_above(rows).status == "holds"
    assert _compare_verdict(rows).status == "holds"
    # The same numbers where the wide networks never moved: that case is not judged.
    stuck = [_pt(64, 0.2, 0.30), _pt(2048, 0.2, 0.30, moved=(0.99, 0.001))]
    rows = _noisy_vs_clean({0.0: clean, 0.2: stuck})
    assert [r["judged"] for r in rows] == [True, False]
    assert "1 cases not judged" in _compare_verdict(rows).why
    # Noisy LESS informative below the threshold: the claim does not hold.
    worse = [_pt(64, 0.2, 0.50), _pt(2048, 0.2, 0.40)]
    assert _compare_below(_noisy_vs_clean({0.0: clean, 0.2: worse})).status == "does not hold"
    # Differences within the error bars everywhere: inconclusive.
    same = [_pt(64, 0.2, 0.401, ii_sem=0.05), _pt(2048, 0.2, 0.31, ii_sem=0.05)]
    assert _compare_verdict(_noisy_vs_clean({0.0: clean, 0.2: same})).status == "inconclusive"
    # A difference of 2.5 combined errors counted under the z > 2 rule; Welch at df 4
    # (critical 2.78) does not count it, and says how many seeds would.
    se = 0.01 / math.sqrt(2)
    edge = [_pt(64, 0.2, 0.40 - 2.5 * 0.01, ii_sem=se), _pt(2048, 0.2, 0.30)]
    clean_e = [_pt(64, 0.0, 0.40, ii_sem=se), _pt(2048, 0.0, 0.30)]
    v = _compare_below(_noisy_vs_clean({0.0: clean_e, 0.2: edge}))
    assert v.status == "inconclusive" and v.needed is not None and v.needed > 3


def test_claim4_is_decided_on_information_content_with_the_error_peak_beside():
    # Test error peaks at width 128 at label noise 0.2; Delta(h->y) has no interior peak.
    def pt(w, s, ii, err):
        return dataclasses.replace(_pt(w, s, ii), test_error=(err, 0.005))
    widths = (32, 128, 512, 2048)
    data = {"label_noise_width": [pt(w, 0.0, 0.40 - 0.02 * i, 0.3 - 0.02 * i)
                                  for i, w in enumerate(widths)]
            + [pt(w, 0.2, 0.35 - 0.02 * i, [0.3, 0.5, 0.35, 0.3][i])
               for i, w in enumerate(widths)]}
    c4 = claim4(data)
    part = {r["part"]: r for r in c4["rows"]}
    a = part["4a Delta(h->y) peaks in width, label noise 0.2"]
    assert a["verdict"] == "does not hold"  # the error peak does not make it PARTLY
    assert a["err_peak"] == 128 and a["err_peak_sig"]
    assert part["4a Delta(h->y) peaks in width, label noise 0"]["verdict"] == "control"
    assert "4a Delta(h->y) peaks in width, label noise 0.2" in c4["parts"]
    # every part appears in the verdict table with its test
    rows = [r for r in verdict_rows({"4": c4}) if r["claim"] == "4"]
    assert {r["part"] for r in rows} == set(part)
    assert all(r["test"] is None or np.isfinite(r["test"].p) for r in rows)


def test_overall_names_which_part_holds_and_which_does_not():
    st, line = overall([("A", "holds"), ("B", "does not hold"), ("C", "holds")])
    assert st == "partly" and line == "holds: A, C; does not hold: B"
    assert overall([("A", "inconclusive"), ("B", "does not hold")])[0] == "inconclusive"
    assert overall([("A", "holds")]) == ("holds", "holds: A")


def test_random_labels_verdict_counts_only_networks_that_fit_them():
    fit_worse = [_pt(w, 1.0, 0.6, init=(0.5, 0.005)) for w in (256, 2048)]
    assert _random_vs_features(fit_worse)[1].status == "holds"
    unfit = [_pt(w, 1.0, 0.6, train_error=0.5) for w in (256, 2048)]
    rows, v = _random_vs_features(unfit)
    assert v.status == "inconclusive" and not any(r["fitted"] for r in rows)
    within = [_pt(w, 1.0, 0.505, ii_sem=0.01) for w in (256, 2048)]
    assert _random_vs_features(within)[1].status == "inconclusive"
    # With per-seed values the comparison is paired: a consistent small shift in every
    # seed passes although the seeds' spread hides it from a Welch test.
    ps = {"info:ii_h_to_y": (0.51, 0.61, 0.41), "info_init:ii_h_to_y": (0.50, 0.60, 0.40)}
    shifted = [_pt(w, 1.0, 0.51, ii_sem=0.058, init=(0.5, 0.058), per_seed=ps)
               for w in (256, 2048)]
    rows, v = _random_vs_features(shifted)
    assert rows[0]["test"].name == "paired t" and rows[0]["test"].df == 2
    assert v.status == "holds"


def test_pen_to_out_trend_is_a_permutation_test_three_widths_cannot_pass():
    def pts(values, widths=(1024, 2048, 4096)):
        out = []
        for w, (ce, v) in zip(widths, values):
            p = _pt(w, 0.0, 0.3)
            out.append(dataclasses.replace(p, test_loss=(ce, 0.01),
                                           info={**p.info, "ii_pen_to_out": (v, 1e-5)}))
        return out
    # A perfect order over 3 widths: rho = +1, exact two-sided p = 1/3: inconclusive.
    three = _pen_out_trend({0.0: pts([(1.0, 0.05), (0.8, 0.03), (0.6, 0.01)])})
    assert three["per"][0]["test"].p == pytest.approx(1 / 3)
    v = _pen_out_verdict(three)
    assert v.status == "inconclusive" and "at least 5 fitted widths" in v.why
    five = _pen_out_trend({0.0: pts([(1.0, 0.05), (0.9, 0.04), (0.8, 0.03), (0.7, 0.02),
                                     (0.6, 0.01)], (256, 512, 1024, 2048, 4096))})
    assert _pen_out_verdict(five).status == "holds"  # p = 2/120
    tiny = _pen_out_trend({0.0: pts([(1.0, 0.0012), (0.8, 0.0011), (0.6, 0.0010)])})
    assert not tiny["per"][0]["resolved"]  # a spread of 0.0002 is under 2/N = 0.001
    assert _pen_out_verdict(tiny).status == "inconclusive"


def test_theory_predicts_the_snr_inversion_next_to_the_threshold_only():
    grid = [-10.0, 0.0, 10.0, 30.0]
    assert not theory_trend(100, 50, grid)["inverts"]  # far above n = d: rises
    at = theory_trend(50, 50, grid)
    assert at["values"] == pytest.approx(
        [float(theory.cka(50, 50, 10 ** (v / 10))) for v in grid])


def test_monotone_and_minimum_helpers_decide_on_significance():
    rising = [(0.1, 0.01), (0.3, 0.01), (0.5, 0.01)]
    v = monotone_increasing(rising)
    assert v.status == "holds" and v.test.name == "Welch t" and v.test.df == pytest.approx(4)
    dip = [(0.1, 0.01), (0.5, 0.01), (0.3, 0.01), (0.7, 0.01)]
    assert monotone_increasing(dip).status == "partly"
    noisy_flat = [(0.5, 0.2), (0.45, 0.2), (0.5, 0.2)]
    assert monotone_increasing(noisy_flat).status == "inconclusive"
    # z = 2.5: counted by the old z > 2 rule, not by Welch at df 4
    edge = [(0.0, 0.01), (0.025 * math.sqrt(2), 0.01)]
    assert monotone_increasing(edge).status == "inconclusive"
    v = [(0.8, 0.01), (0.3, 0.01), (0.6, 0.01)]
    mn = interior_min([1, 2, 3], v)
    assert mn["x"] == 2 and mn["non_monotone"] and mn["plateau"] == [2]
    pk = local_peak([1, 2, 3, 4], [(0.5, 0.01), (0.3, 0.01), (0.45, 0.01), (0.2, 0.01)])
    assert pk["peak"] and pk["x"] == 3
    mono = local_peak([1, 2, 3], [(0.5, 0.01), (0.4, 0.01), (0.3, 0.01)])
    assert not mono["peak"]
    assert math.isclose(spearman([1, 2, 3], [3, 2, 1]), -1.0)


def test_claim2_location_is_an_interval_within_the_noise_of_the_minimum():
    # A flat trough from n = 120 to 250 (the audit's tanh case): threshold 97; the
    # location is not resolved (inconclusive) but the minimum is at or right of it.
    xs = [30, 60, 97, 120, 150, 250, 400, 800]
    vals = [(0.9, 0.01), (0.7, 0.01), (0.5, 0.02), (0.40, 0.03), (0.41, 0.03),
            (0.39, 0.03), (0.6, 0.01), (0.8, 0.01)]
    mn = interior_min(xs, vals)
    assert mn["non_monotone"] and min(mn["plateau"]) == 120 and max(mn["plateau"]) == 250
    assert side((120, 250), 97) == "at or right of"
    assert side((120, 140), 97) == "at" and side((200, 250), 97) == "right of"
    v = _location_verdict(xs, vals, mn, 97.0, 3)
    assert v.status == "inconclusive" and v.test is not None
    sharp = [(0.9, 0.01), (0.7, 0.01), (0.3, 0.01), (0.6, 0.01), (0.7, 0.01), (0.75, 0.01),
             (0.8, 0.01), (0.85, 0.01)]
    assert _location_verdict(xs, sharp, interior_min(xs, sharp), 97.0, 3).status == "holds"
    far = list(reversed(sharp))
    assert _location_verdict(xs, far, interior_min(xs, far), 97.0, 3).status == "does not hold"


def test_the_report_only_figures_are_valid_sweeps():
    q = preset("mlp_n_tanh")
    sw = sweep_of(q)
    assert sw.base.activation == "tanh" and sw.base.width == 8
    assert sw.base.params["d"] == 10
    table = scaling_table()
    assert len([r for r in table if r < 1]) >= 3 and len([r for r in table if r > 1]) >= 3
    for ratio, pairs in table.items():
        for n, w in pairs:
            spec = dataclasses.replace(ExperimentSpec(**preset("random_labels_scaling")["spec"]),
                                       n_train=n, width=w)
            P = (spec.input_dim() + 1) * w + (w + 1) * spec.n_outputs()
            assert P / (n * spec.n_outputs()) == pytest.approx(ratio, rel=0.1), (ratio, n, w)
    assert len(scaled_sweeps(preset("random_labels_scaling", quick=True))) == 4


def test_report_writes_every_claim_part_from_synthetic_width_sweeps(tmp_path):
    """Claims 4-6 (and 5b) through analyse, the figures and the markdown, on synthetic
    points: the sections the quick linear data cannot reach."""
    rng = np.random.default_rng(0)
    widths = (32, 128, 512, 2048)

    def pt(w, s, ii, n_train=4000, ratio=None):
        p = _pt(w, s, ii, n_train=n_train,
                per_seed={"info:ii_h_to_y": tuple(ii + rng.normal(0, 0.01, 3)),
                          "info_init:ii_h_to_y": tuple(0.5 + rng.normal(0, 0.01, 3))})
        p = dataclasses.replace(p, test_loss=(1.0 - 0.1 * np.log2(w) / 11, 0.01),
                                info={**p.info, "ii_pen_to_out": (0.1 + 0.01 * np.log2(w),
                                                                  0.001)})
        return p if ratio is None else dataclasses.replace(p, x=float(n_train), s=ratio)
    width = [pt(w, s, 0.4 - 0.02 * i + 0.1 * s) for s in (0.0, 0.2) for i, w in
             enumerate(widths)]
    data = {"label_noise_width": width, "pen_to_out": width,
            "random_labels": [pt(w, 1.0, 0.6) for w in widths],
            "random_labels_scaling": [pt(64, 1.0, 0.55, n_train=n, ratio=r)
                                      for r in (0.5, 2.0) for n in (250, 500, 1000)]}
    claims = analyse(data)
    assert claims["5"]["part_rows"][0]["part"] == "5a across widths at one n"
    assert {q["part"] for q in claims["5"]["part_rows"][1:]} == {
        "5b width and n scaled together, P/(n*classes) = 0.5",
        "5b width and n scaled together, P/(n*classes) = 2"}
    assert [q["part"] for q in claims["6"]["part_rows"]] == ["label noise 0", "label noise 0.2"]
    figs = {p.name for p in make_figures(data, claims, tmp_path / "figures")}
    assert {"findings_4_width.png", "findings_5b_scaling.png"} <= figs
    info = run_record(tmp_path, RunLog(), None, True, (0.0, 0.0, 0.0))
    text = write_report(data, claims, tmp_path, True, {**info, "notes": []}).read_text()
    assert "## Verdict table" in text
    for part in ("4b noisy labels more informative below P = n*classes",
                 "5b width and n scaled together, P/(n*classes) = 2", "label noise 0.2"):
        assert part in text
    assert "Spearman (permutation)" in text and "paired t" in text and "Welch t" in text
