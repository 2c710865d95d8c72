"""The claims, decided from the numbers: statistics helpers and one function per claim.

Each ``claimN(data)`` takes figure name -> its :class:`~experiments.findings.collect.Point`
list (from :func:`~experiments.findings.collect.collect`) and returns a dict with the
rows of its decision tables, an overall ``status`` ("holds", "partly", "does not hold",
"inconclusive" when the effect is within the error bars or the measure's floor, or "not
run" when its figures are missing) and a ``robustness`` line: the verdict under a second
optimiser, initialisation scale or SNR. Every (mean, sem) compared here carries the
standard error ACROSS data seeds (:class:`~experiments.findings.collect.Point`).
:func:`analyse` runs all six.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from experiments.findings.collect import MNIST_FIGURE, Point, series_of
from experiments.findings.stats import (
    ALPHA,
    Test,
    min_points_for_trend,
    paired,
    seeds_to_resolve,
    spearman_perm,
    welch,
)
from noisealign.engine import theory
from noisealign.engine.measures.registry import labels as registry_labels
from noisealign.engine.pipeline.spec import snr_db_to_ratio

# Alignment measures on which every alignment verdict is decided (both must agree).
ALIGN_MEASURES = ("cka", "ii_score")
# The report's measures and their (short) labels: the registry's (noisealign.engine.measures.registry).
# Rows carry the name as "measure_id"; code compares that, never the label.
ALIGN_LABELS = registry_labels(("cka", "ii_score", "mknn"), "short")
# The earlier editions' rule (a change counted beyond Z combined standard errors). It
# treated 3-seed standard errors as normal; no verdict uses it now: every difference is a
# Welch or paired t test and every trend a permutation test, two-sided at
# experiments.findings.stats.ALPHA. Kept for code that imports it.
Z = 2.0
# "Near the threshold": within this factor of it (on the sample-size grid).
NEAR_FACTOR = 1.5
# A network whose trained last hidden layer has linear CKA above this with its own
# untrained one has not moved away from its initialisation: its information content is
# that of random features, and comparisons of training labels cannot be judged there.
STAYED_CKA = 0.95


# ----------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Verdict:
    """``status``: "holds", "partly", "does not hold" or "inconclusive"; ``why``: the
    deciding numbers; ``test``: the deciding test (its statistic, df and p-value go into
    the report's verdict table); ``seeds``: the seeds per point it had; ``needed``: seeds
    per point that would resolve an unresolved difference at its measured size (None:
    resolved, or not reachable by more seeds)."""

    status: str
    why: str
    test: Test | None = None
    seeds: int = 0
    needed: int | None = None


def combine(verdicts: Sequence[Verdict]) -> str:
    """One status for several verdicts: theirs when they all agree, else "partly".

    Kept for callers outside the report; the report itself uses :func:`overall`, which
    says which part is which."""
    st = {v.status for v in verdicts}
    return st.pop() if len(st) == 1 else "partly"


def overall(parts: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """A claim's status from its parts ``(label, status)``, and the line that names them.

    All parts agree: their status. Otherwise "partly" when some hold, else the
    weakest of "inconclusive" / "does not hold" present; the line lists every status
    with its parts ("holds: A; does not hold: B, C"), so a PARTLY never hides which part
    failed."""
    if not parts:
        return "not run", ""
    by: dict[str, list[str]] = {}
    for label, st in parts:
        by.setdefault(st, []).append(label)
    order = ("holds", "partly", "inconclusive", "does not hold")
    line = "; ".join(f"{st}: {', '.join(by[st])}" for st in order if st in by)
    line += "".join(f"; {st}: {', '.join(v)}" for st, v in by.items() if st not in order)
    if len(by) == 1:
        return next(iter(by)), line
    if "holds" in by or "partly" in by:
        return "partly", line
    return ("inconclusive" if "inconclusive" in by else "does not hold"), line


def robustness_line(rows: Sequence[dict[str, Any]], label: str,
                    keep: Any) -> str:
    """"<label>: holds for CKA, partly for II score, ..." over the rows ``keep`` selects."""
    picked = [r for r in rows if keep(r)]
    if not picked:
        return f"{label}: not run"
    return f"{label}: " + "; ".join(
        f"{r['verdict']} ({r['setting'] if 'setting' in r else r.get('series', '')}"
        f"{', ' + r['measure'] if 'measure' in r else ''})" for r in picked)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return math.nan
    return float(spearmanr(x[keep], y[keep]).statistic)


def _z(a: tuple[float, float], b: tuple[float, float]) -> float:
    """(a - b) / combined standard error (inf-safe: a zero error counts as 1e-12).

    Reported beside the tests for continuity with the earlier editions; no verdict
    uses it (see :mod:`experiments.findings.stats`)."""
    se = math.sqrt((a[1] if np.isfinite(a[1]) else 0.0) ** 2
                   + (b[1] if np.isfinite(b[1]) else 0.0) ** 2) or 1e-12
    return (a[0] - b[0]) / se


def _t(a: tuple[float, float], b: tuple[float, float], seeds: int) -> Test:
    """Welch's t of a - b, both means over ``seeds`` seeds."""
    return welch(a, seeds, b, seeds)


def _weakest(tests: Sequence[Test]) -> Test | None:
    """The test with the largest p (the one a verdict that needs all of them rests on)."""
    ok = [t for t in tests if np.isfinite(t.p)]
    return max(ok, key=lambda t: t.p) if ok else (tests[0] if tests else None)


def _strongest(tests: Sequence[Test]) -> Test | None:
    ok = [t for t in tests if np.isfinite(t.p)]
    return min(ok, key=lambda t: t.p) if ok else (tests[0] if tests else None)


def _needed(test: Test | None, seeds: int) -> int | None:
    if test is None or test.significant:
        return None
    return seeds_to_resolve(test, seeds)


def monotone_increasing(values: Sequence[tuple[float, float]], seeds: int = 3) -> Verdict:
    """Does a sequence of (mean, sem) over ``seeds`` seeds rise monotonically?

    Holds when no step between neighbours falls significantly (Welch, two-sided at
    ALPHA) and the last value is significantly above the first; inconclusive when
    nothing changes significantly; partly when the last is significantly above the first
    but some step falls significantly (the falling steps are named); otherwise it does
    not hold. The Spearman permutation test of the means against their order is
    reported beside (with 5 points its exact p can reach 2/120).
    """
    steps = [_t(values[i + 1], values[i], seeds) for i in range(len(values) - 1)]
    drops = [i for i, t in enumerate(steps) if t.below()]
    rise = _t(values[-1], values[0], seeds)
    trend = spearman_perm(range(len(values)), [v[0] for v in values])
    why = (f"first {values[0][0]:.3f} -> last {values[-1][0]:.3f} ({rise.text()}); "
           f"significant drops between neighbours: {len(drops)}"
           + (f" (steps {', '.join(str(i + 1) for i in drops)})" if drops else "")
           + f"; trend: {trend.text()}")
    if not drops and rise.above():
        return Verdict("holds", why, rise, seeds)
    if not drops and not rise.significant:
        return Verdict("inconclusive", why + "; no change beyond the error bars", rise, seeds,
                       _needed(rise, seeds))
    if drops and rise.above():
        return Verdict("partly", why + "; rises overall but not at every step",
                       _strongest([steps[i] for i in drops]), seeds)
    return Verdict("does not hold", why,
                   _strongest([steps[i] for i in drops]) if drops else rise, seeds)


def interior_min(xs: Sequence[float], values: Sequence[tuple[float, float]],
                 seeds: int = 3) -> dict[str, Any]:
    """Where the minimum is, whether both ends are significantly above it, and the set of
    grid points within the noise of it.

    ``left``/``right``: the most significant Welch test of a point on that side against
    the minimum; ``non_monotone``: both significantly above. ``plateau``: the grid
    points NOT significantly above the minimum (the minimum itself included): an
    interval for its location that three seeds can support. ``z_left``/``z_right`` are
    the t statistics of ``left``/``right``.
    """
    i = int(np.nanargmin([v[0] for v in values]))
    tl = [_t(values[j], values[i], seeds) for j in range(i)]
    tr = [_t(values[j], values[i], seeds) for j in range(i + 1, len(values))]
    left, right = _strongest(tl), _strongest(tr)
    plateau = [xs[j] for j in range(len(values))
               if j == i or not _t(values[j], values[i], seeds).above()]
    return {"i": i, "x": xs[i], "value": values[i][0],
            "z_left": left.stat if left else -math.inf,
            "z_right": right.stat if right else -math.inf, "left": left, "right": right,
            "non_monotone": bool(left and right and left.above() and right.above()),
            "plateau": plateau}


def interior_max(xs: Sequence[float], values: Sequence[tuple[float, float]],
                 seeds: int = 3) -> dict[str, Any]:
    """Where the (global) maximum is, and how far both sides fall below it."""
    neg = [(-v[0], v[1]) for v in values]
    r = interior_min(xs, neg, seeds)
    r["value"] = -r["value"]
    return r


def local_peak(xs: Sequence[float], values: Sequence[tuple[float, float]],
               seeds: int = 3) -> dict[str, Any]:
    """The interior local peak of a double descent: a point significantly above some point
    on its left AND some point on its right (Welch, ALPHA). Among such points the highest
    is returned (``peak`` True); without one, the candidate closest to qualifying (the
    smallest p of its weaker side) is returned with ``peak`` False. ``weaker``: the
    weaker side's test (the one the peak rests on); ``z_left``/``z_right``: the two
    sides' t statistics."""
    cands = []
    for i in range(1, len(values) - 1):
        tl = _strongest([_t(values[i], values[j], seeds) for j in range(i)])
        tr = _strongest([_t(values[i], values[j], seeds) for j in range(i + 1, len(values))])
        pk = tl.above() and tr.above()
        weaker = max((tl, tr), key=lambda t: (t.p if np.isfinite(t.p) else 2.0)
                     if t.stat > 0 else 3.0)
        cands.append({"i": i, "x": xs[i], "value": values[i][0], "z_left": tl.stat,
                      "z_right": tr.stat, "left": tl, "right": tr, "weaker": weaker,
                      "peak": pk})
    if not cands:
        return {"i": None, "x": math.nan, "value": math.nan, "z_left": -math.inf,
                "z_right": -math.inf, "peak": False, "weaker": None}
    peaks = [c for c in cands if c["peak"]]
    if peaks:
        return max(peaks, key=lambda c: c["value"])

    def closeness(c):  # a side that falls (t <= 0) is farther than any rising one
        w = c["weaker"]
        return (w.stat <= 0, w.p if np.isfinite(w.p) else 2.0)
    return min(cands, key=closeness)


def error_peak(xs: Sequence[float], values: Sequence[tuple[float, float]],
               seeds: int = 3) -> dict[str, Any]:
    """The test-error peak of a double descent: the most significant interior local
    peak, or the global maximum when there is none (e.g. an error that only falls)."""
    pk = local_peak(xs, values, seeds)
    return pk if pk["peak"] else interior_max(xs, values, seeds)


def near(x: float, target: float, factor: float = NEAR_FACTOR) -> bool:
    return target / factor <= x <= target * factor


def _seeds(pts: Sequence[Point]) -> int:
    return min(p.seeds for p in pts) if pts else 0


# ----- claim 1


def theory_trend(n: int, d: int, snr_db: Sequence[float], measure: str = "cka") -> dict[str, Any]:
    """The finite-d linear theory along an SNR grid: its values, and whether it rises
    monotonically ("rises"), falls somewhere as SNR rises ("inverts", with where)."""
    r = np.array([snr_db_to_ratio(float(v)) for v in snr_db])
    vals = (theory.cka(n, d, r) if measure == "cka"
            else 1.0 - theory.ii(n, d, r))  # II score = 1 - Delta in the large-N theory
    vals = np.asarray(vals, dtype=float)
    falls = [i for i in range(len(vals) - 1) if vals[i + 1] < vals[i] - 1e-9]
    return {"values": vals.tolist(), "inverts": bool(falls),
            "where": [(float(snr_db[i]), float(snr_db[i + 1])) for i in falls]}


def _row(part: str, v: Verdict, **extra: Any) -> dict[str, Any]:
    """One line of a claim's decision table: its part, verdict and deciding test."""
    return {"part": part, "verdict": v.status, "why": v.why, "test": v.test,
            "seeds": v.seeds, "needed": v.needed, **extra}


def claim1(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Alignment vs SNR at fixed n, per setting and measure, including n within 3 points
    of the linear threshold n = d, where the finite-d theory predicts an inversion.
    Each (setting, measure) is a part of its own."""
    rows: list[dict[str, Any]] = []
    cases = [("linear_snr", "linear network", "n_train", False),
             ("linear_snr_threshold", "linear network next to n = d", "n_train", False),
             ("mlp_snr", "ReLU MLP (regression)", "init_scale", False),
             ("digits_label_noise", "digits classifier", None, True)]
    for fig, label, sname, reverse in cases:
        if fig not in data:
            continue
        for s, pts in series_of(data[fig]).items():
            # "SNR" increases to the right; for label noise it is the noise rate decreasing.
            pts = pts[::-1] if reverse else pts
            setting = label + (f", {sname} = {s}" if sname else "")
            for m in ALIGN_MEASURES:
                v = monotone_increasing([p.align[m] for p in pts], _seeds(pts))
                row = _row(f"{setting}, {ALIGN_LABELS[m]}", v, figure=fig, setting=setting,
                           measure=ALIGN_LABELS[m], measure_id=m, series=s)
                if fig == "linear_snr_threshold":
                    th = theory_trend(int(s), int(pts[0].spec.params["d"]), [p.x for p in pts], m)
                    row["theory"] = th
                    row["why"] += ("; the finite-d theory " + (
                        "falls as SNR rises between " + ", ".join(
                            f"{a:g} and {b:g} dB" for a, b in th["where"])
                        if th["inverts"] else "rises monotonically") + " here")
                rows.append(row)
    robust = robustness_line(
        rows, "Second initialisation scale (ReLU MLP, init scale 1.0 instead of 0.1)",
        lambda r: r["figure"] == "mlp_snr" and r["series"] == 1.0)
    status, parts = overall([(r["part"], r["verdict"]) for r in rows])
    return {"rows": rows, "status": status, "parts": parts, "robustness": robust}


# ----- claim 2


def threshold_n(p: Point) -> float:
    """Interpolation threshold in n for the figure's model: the dashboard's
    (:meth:`noisealign.engine.pipeline.spec.ExperimentSpec.interpolation_threshold`), n = d (+1 with a bias)
    for the linear model (docs/science.md 3), else P / outputs."""
    n = p.spec.interpolation_threshold("n_train")
    assert n is not None  # the n_train axis always moves the threshold
    return n


# The claim-2 figures: (figure, label). The tanh MLP is the audit's setting (issue 26):
# mlp-teacher d = 10, width 8, threshold n = 97, where the minimum's location moved with
# the seed set.
CLAIM2_FIGURES = (("linear_n", "linear network"), ("mlp_n", "ReLU MLP (regression)"),
                  ("mlp_n_tanh", "tanh MLP (regression)"))


def side(interval: tuple[float, float], target: float, factor: float = NEAR_FACTOR) -> str:
    """Where an interval [lo, hi] lies against a target: "left of", "right of", "at or
    right of" (lo within the factor window, hi beyond it), "at or left of", "at" (inside
    the window) or "around" (reaching past it on both sides)."""
    lo, hi = interval
    a, b = target / factor, target * factor
    if hi < a:
        return "left of"
    if lo > b:
        return "right of"
    if lo >= a and hi <= b:
        return "at"
    if lo >= a:
        return "at or right of"
    if hi <= b:
        return "at or left of"
    return "around"


def _argmin_per_seed(xs: Sequence[float], pts: Sequence[Point], key: str) -> list[float]:
    """Each seed's own argmin of the curve (needs Point.per_seed)."""
    vals = [p.per_seed.get(key) for p in pts]
    if any(v is None for v in vals) or not vals:
        return []
    arr = np.array(vals, float)  # (points, seeds)
    return [float(xs[int(np.nanargmin(arr[:, r]))]) for r in range(arr.shape[1])
            if np.isfinite(arr[:, r]).any()]


def _location_verdict(xs: Sequence[float], values: Sequence[tuple[float, float]],
                      mn: dict[str, Any], thr: float, seeds: int) -> Verdict:
    """Is the minimum near the threshold (within NEAR_FACTOR)? Decided on the plateau
    (the grid points within the noise of the minimum): all inside the window: holds;
    none inside: does not hold; some: inconclusive (the minimum's location is not
    resolved by these seeds)."""
    i = mn["i"]
    inside = [j for j in range(len(xs)) if near(xs[j], thr)]
    outside = [j for j in range(len(xs)) if not near(xs[j], thr)]
    plat = set(mn["plateau"])
    lo, hi = min(plat), max(plat)
    def test(j):
        return _t(values[j], values[i], seeds)
    if plat <= {xs[j] for j in inside}:
        t = _weakest([test(j) for j in outside if j != i])
        return Verdict("holds", f"every grid point outside x{NEAR_FACTOR:g} of the threshold "
                       f"is significantly above the minimum (weakest: {t.text() if t else 'none'})",
                       t, seeds)
    if not plat & {xs[j] for j in inside}:
        t = _weakest([test(j) for j in inside if j != i])
        return Verdict("does not hold", f"every grid point within x{NEAR_FACTOR:g} of the "
                       f"threshold is significantly above the minimum (weakest: "
                       f"{t.text() if t else 'none'}); the minimum is {side((lo, hi), thr)} "
                       "the threshold", t, seeds)
    wrong = [j for j in outside if xs[j] in plat and j != i] or [
        j for j in inside if xs[j] in plat and j != i]
    t = _weakest([test(j) for j in wrong]) if wrong else None
    return Verdict("inconclusive", f"grid points from n = {lo:g} to {hi:g} are within the noise "
                   f"of the minimum, inside and outside x{NEAR_FACTOR:g} of the threshold "
                   f"({t.text() if t else ''})", t, seeds, _needed(t, seeds))


def claim2(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Alignment vs n: non-monotone (both ends significantly above the minimum), and the
    minimum near the threshold: two parts per (setting, measure). The location is
    reported as an interval (the grid points within the noise of the minimum), with each
    seed's own argmin, against the threshold and the test-error peak."""
    rows: list[dict[str, Any]] = []
    for fig, label in CLAIM2_FIGURES:
        if fig not in data:
            continue
        for s, pts in series_of(data[fig]).items():
            xs = [p.x for p in pts]
            r = _seeds(pts)
            thr = threshold_n(pts[0])
            err = error_peak(xs, [p.test_error for p in pts], r)
            setting = f"{label}, SNR = {s:g} dB"
            for m in ALIGN_MEASURES:
                vals = [p.align[m] for p in pts]
                mn = interior_min(xs, vals, r)
                plat = (min(mn["plateau"]), max(mn["plateau"]))
                per_seed = _argmin_per_seed(xs, pts, f"align:{m}")
                where = (f"minimum {mn['value']:.3f} at n = {mn['x']:g}; within its noise: "
                         f"n = {plat[0]:g} to {plat[1]:g}"
                         + (f"; each seed's argmin: {', '.join(f'{v:g}' for v in per_seed)}"
                            if per_seed else "")
                         + f" (threshold n = {thr:g}, test-error peak at n = {err['x']:g}): "
                         f"the minimum is {side(plat, thr)} the threshold and "
                         f"{side(plat, err['x'], 1.0 + 1e-9)} the test-error peak")
                lt, rt = mn["left"], mn["right"]
                why_nm = (f"left end above the minimum: {lt.text() if lt else 'no point'}; "
                          f"right end: {rt.text() if rt else 'no point'}")
                if mn["non_monotone"]:
                    v_nm = Verdict("holds", why_nm, _weakest([lt, rt]), r)
                elif lt is None or rt is None:
                    v_nm = Verdict("does not hold", why_nm + "; the minimum is at an end",
                                   lt or rt, r)
                else:  # both sides at or above the minimum, one or both within the noise
                    weak = _weakest([lt, rt])
                    v_nm = Verdict("inconclusive", why_nm + "; not both ends significantly "
                                   "above the minimum", weak, r, _needed(weak, r))
                v_loc = _location_verdict(xs, vals, mn, thr, r)
                common = {"figure": fig, "setting": setting, "measure": ALIGN_LABELS[m], "measure_id": m,
                              "series": s,
                              "n_min": mn["x"], "threshold": thr, "n_err_peak": err["x"],
                              "plateau": plat, "argmin_seeds": per_seed}
                rows.append(_row(f"{setting}, {ALIGN_LABELS[m]}: non-monotone", v_nm,
                                 aspect="non-monotone", **common))
                rows[-1]["why"] = why_nm + "; " + where
                rows.append(_row(f"{setting}, {ALIGN_LABELS[m]}: minimum near the threshold",
                                 v_loc, aspect="location", **common))
                rows[-1]["why"] = v_loc.why + "; " + where
    robust = robustness_line(rows, "Second SNR (20 dB instead of 10 dB)",
                             lambda r: r["series"] == 20.0)
    status, parts = overall([(r["part"], r["verdict"]) for r in rows])
    return {"rows": rows, "status": status, "parts": parts, "robustness": robust}


# ----- claim 3


def counterexamples(pts: Sequence[Point], measure: str) -> list[tuple[Point, Point, Test, Test]]:
    """Pairs (a, b) of one sweep with alignment(a) significantly above alignment(b) and
    test error(a) significantly above test error(b) (Welch, ALPHA, and at least 10 %
    higher); each with the two tests, best (largest error ratio) first."""
    found = []
    r = _seeds(pts)
    for a in pts:
        for b in pts:
            if a is b:
                continue
            ta = _t(a.align[measure], b.align[measure], r)
            te = _t(a.test_error, b.test_error, r)
            if ta.above() and te.above() and a.test_error[0] > 1.1 * b.test_error[0]:
                found.append((a, b, ta, te))
    found.sort(key=lambda t: t[0].test_error[0] / max(t[1].test_error[0], 1e-12), reverse=True)
    return found


def claim3(data: dict[str, list[Point]]) -> dict[str, Any]:
    """One part per alignment measure: a counterexample pair exists in some sweep."""
    rows: list[dict[str, Any]] = []
    found_any = {m: False for m in ALIGN_MEASURES}
    for fig in ("linear_n", "alignment_vs_error"):
        if fig not in data:
            continue
        for s, pts in series_of(data[fig]).items():
            for m in ALIGN_MEASURES:
                ce = counterexamples(pts, m)
                if ce:
                    found_any[m] = True
                    a, b, ta, te = ce[0]
                    rows.append({"figure": fig, "series": s, "measure": ALIGN_LABELS[m],
                                 "measure_id": m, "a": a, "b": b, "z_align": ta.stat, "z_err": te.stat,
                                 "test": _weakest([ta, te]), "test_align": ta,
                                 "test_err": te, "count": len(ce), "seeds": _seeds(pts)})
                else:
                    rows.append({"figure": fig, "series": s, "measure": ALIGN_LABELS[m],
                                 "measure_id": m, "a": None, "b": None, "count": 0, "test": None,
                                 "seeds": _seeds(pts)})
    parts = [(ALIGN_LABELS[m], "holds" if found_any[m] else "does not hold")
             for m in ALIGN_MEASURES if any(r["measure_id"] == m for r in rows)]
    status, line = overall(parts)
    status = "not run" if not rows else status
    per_fig = {f: any(r["count"] for r in rows if r["figure"] == f)
               for f in ("linear_n", "alignment_vs_error")}
    robust = ("Second model: counterexamples found in the linear network: "
              f"{'yes' if per_fig['linear_n'] else 'no'}; in the ReLU MLP: "
              f"{'yes' if per_fig['alignment_vs_error'] else 'no'}")
    return {"rows": rows, "status": status, "parts": line, "robustness": robust}


# ----- claims 4, 5, 6 (MNIST-1D, width sweep by label noise)

WIDTH_FIGURE = "label_noise_width"
ROBUST_FIGURE = "label_noise_width_adam"
# Claim 5 with width and n scaled together at fixed P / (n x classes) (issue 26).
SCALING_FIGURE = "random_labels_scaling"


def interpolation_width(pts: Sequence[Point]) -> float:
    """Smallest width from which every wider network fits its (noisy) training labels
    (:attr:`Point.fitted`); NaN if the widest does not."""
    w = math.nan
    for p in sorted(pts, key=lambda p: p.x, reverse=True):
        if not p.fitted:
            break
        w = p.x
    return w


def nc_threshold_width(p: Point) -> float:
    """Width at which P = n * classes (docs/science.md 1.7): the dashboard's
    interpolation threshold on the width axis (NaN where no width reaches it)."""
    w = p.spec.interpolation_threshold("width")
    return math.nan if w is None else w


def n_threshold_width(p: Point) -> float:
    """Width at which P = n (the other threshold in use; NaN where no width reaches it)."""
    w = p.spec.width_for_parameters(p.spec.n_train)
    return math.nan if w is None else w


def stayed(p: Point) -> bool:
    """Whether the trained hidden layer is still (up to rotation and scale) its
    initialisation: CKA(trained, untrained) above STAYED_CKA."""
    return bool(p.moved[0] > STAYED_CKA)


def _noisy_vs_clean(groups: dict[Any, list[Point]]) -> list[dict[str, Any]]:
    """Per noisy label rate and width: Delta(h -> y_clean) clean minus noisy (t > 0: the
    noisy-label network is MORE informative), Welch across seeds, with both thresholds
    and the flags. (Seeds of different label-noise rates share their replicate seed but
    not their label noise draw, so the test is Welch's, not paired.)"""
    out = []
    if 0.0 not in groups:
        return out
    clean = {p.x: p for p in groups[0.0]}
    p0 = groups[0.0][0]
    w_nc, w_n = nc_threshold_width(p0), n_threshold_width(p0)
    for s, pts in groups.items():
        if s in (0.0, 1.0):
            continue
        for p in pts:
            c = clean.get(p.x)
            if c is None:
                continue
            t = welch(c.info["ii_h_to_y"], c.seeds, p.info["ii_h_to_y"], p.seeds)
            out.append({
                "rate": s, "width": p.x, "P": p.n_parameters, "clean": c.info["ii_h_to_y"],
                "noisy": p.info["ii_h_to_y"], "z": t.stat, "test": t,
                "below_nc": p.x < w_nc, "below_n": p.x < w_n,
                "fitted": p.fitted, "moved": p.moved, "clean_moved": c.moved,
                "judged": not (stayed(p) or stayed(c)),
                "test_error": p.test_error, "clean_test_error": c.test_error})
    return out


def _compare_below(rows: Sequence[dict[str, Any]]) -> Verdict:
    """Part 4b: noisy labels significantly MORE informative at every judged (rate, width)
    below P = n x classes."""
    judged = [r for r in rows if r["judged"] and r["below_nc"]]
    seeds = min((r["test"].n for r in judged), default=0)
    more = [r for r in judged if r["test"].above()]
    less = [r for r in judged if r["test"].below()]
    skipped = sum(1 for r in rows if r["below_nc"] and not r["judged"])
    why = (f"below P = n*classes: noisy labels significantly MORE informative at {len(more)} "
           f"of {len(judged)} judged (rate, width) cases, significantly LESS at {len(less)}, "
           f"within the noise at {len(judged) - len(more) - len(less)}; {skipped} not judged "
           f"(a network stayed at its initialisation, CKA to it > {STAYED_CKA:g})")
    if not judged:
        return Verdict("inconclusive", why, None, seeds)
    tests = [r["test"] for r in judged]
    if len(more) == len(judged):
        t = _weakest(tests)
        return Verdict("holds", why + f"; weakest: {t.text()}", t, seeds)
    if not more and not less:
        t = _strongest(tests)
        return Verdict("inconclusive", why + "; no difference beyond the error bars", t,
                       seeds, _needed(t, seeds))
    if len(less) >= len(more):
        t = _strongest([r["test"] for r in less]) if less else _strongest(tests)
        return Verdict("does not hold", why + f"; strongest reversal: {t.text()}", t, seeds)
    t = _weakest([r["test"] for r in more])
    return Verdict("partly", why, t, seeds)


def _compare_above(rows: Sequence[dict[str, Any]]) -> Verdict:
    """Part 4c: noisy and clean labels equally informative (no significant difference)
    at every judged (rate, width) from P = n x classes on. Absence of a difference at 3
    seeds is weak evidence; the smallest p is shown."""
    judged = [r for r in rows if r["judged"] and not r["below_nc"]]
    seeds = min((r["test"].n for r in judged), default=0)
    diff = [r for r in judged if r["test"].significant]
    why = (f"from P = n*classes on: no significant difference at {len(judged) - len(diff)} of "
           f"{len(judged)} judged cases")
    if not judged:
        return Verdict("inconclusive", why + "; none judged", None, seeds)
    t = _strongest([r["test"] for r in judged])
    if not diff:
        return Verdict("holds", why + f"; smallest p: {t.text()}", t, seeds)
    return Verdict("does not hold", why + f"; strongest difference: {t.text()}", t, seeds)


def _compare_verdict(rows: Sequence[dict[str, Any]]) -> Verdict:
    """Both comparison parts together (kept for callers of earlier editions): holds when
    both hold, else the overall status of the two, with their lines in ``why``."""
    b, a = _compare_below(rows), _compare_above(rows)
    judged = [r for r in rows if r["judged"]]
    if judged and all(not r["test"].significant for r in judged):
        return Verdict("inconclusive", f"{b.why}; {a.why}; no difference beyond the error "
                       "bars", b.test, b.seeds, b.needed)
    st, line = overall([("below", b.status), ("above", a.status)])
    skipped = len(rows) - len(judged)
    return Verdict(st, f"{b.why}; {a.why}; {skipped} cases not judged ({line})", b.test,
                   b.seeds)


def claim4(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Claim 4 on its own subject, Delta(h -> y): (4a) an interior peak in width at each
    noisy rate, one line per rate, with the test-error peak reported beside (not part of
    the verdict); (4b) noisy labels more informative below P = n x classes; (4c) equally
    informative above it. A (rate, width) comparison is judged only where both networks
    left their initialisation.
    """
    if WIDTH_FIGURE not in data:
        return {"rows": [], "status": "not run"}
    rows, _, peaks, cmp_rows = _width_sweep(data[WIDTH_FIGURE])
    robust = "Second optimiser (Adam instead of SGD with momentum): not run"
    if ROBUST_FIGURE in data:
        rv = _compare_below(_noisy_vs_clean(series_of(data[ROBUST_FIGURE])))
        robust = f"Second optimiser (Adam instead of SGD with momentum), noisy vs clean " \
                 f"below the threshold: {rv.status} ({rv.why})"
    # The real MNIST, where its files are present: the same decisions on a second dataset.
    mnist: dict[str, Any] = {"status": "not run", "rows": []}
    if MNIST_FIGURE in data:
        m_rows, _, _, m_cmp = _width_sweep(data[MNIST_FIGURE])
        status, line = overall([(r["part"], r["verdict"]) for r in m_rows
                                if r["verdict"] != "control"])
        mnist = {"status": status, "rows": m_rows, "compare": m_cmp, "parts": line}
        robust += f"; second dataset (real MNIST): {status}"
    p0 = data[WIDTH_FIGURE][0]
    status, line = overall([(r["part"], r["verdict"]) for r in rows
                            if r["verdict"] != "control"])
    return {"rows": rows, "status": status, "parts": line, "peaks": peaks,
            "compare": cmp_rows, "robustness": robust, "mnist": mnist,
            "w_nc": nc_threshold_width(p0), "w_n": n_threshold_width(p0)}


def _width_sweep(points: Sequence[Point]) -> tuple[list[dict[str, Any]], list[Verdict],
                                                   dict[Any, dict], list[dict[str, Any]]]:
    """Claim 4's decisions on one width sweep by label noise: (rows, verdicts, peaks per
    rate, noisy-vs-clean rows). The clean rate is a control (verdict "control": a peak is
    not expected there and it decides nothing)."""
    groups = series_of(points)
    rows: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    peaks: dict[Any, dict] = {}
    for s, pts in groups.items():
        if s == 1.0:
            continue  # random labels: claim 5
        xs = [p.x for p in pts]
        r = _seeds(pts)
        err = local_peak(xs, [p.test_error for p in pts], r)
        ii = local_peak(xs, [p.info["ii_h_to_y"] for p in pts], r)
        w_int = interpolation_width(pts)
        peaks[s] = {"err": err, "ii": ii, "w_interp": w_int}
        wk = ii["weaker"]
        why = (f"label noise {s:g}: Delta(h->y) {'has' if ii['peak'] else 'has no'} "
               f"significant interior peak (best candidate {ii['value']:.3f} at width "
               f"{ii['x']:g}; its weaker side: {wk.text() if wk else 'none'}). Beside it, "
               f"not part of the verdict: the test error {'has' if err['peak'] else 'has no'} "
               f"one (best candidate {err['value']:.3f} at width {err['x']:g}, weaker side "
               f"{err['weaker'].text() if err['weaker'] else 'none'}); the networks fit their "
               f"training labels from width {w_int:g}")
        if s == 0.0:
            v = Verdict("control", why + "; clean labels: no peak expected", wk, r)
        elif ii["peak"]:
            v = Verdict("holds", why, wk, r)
        else:
            v = Verdict("does not hold" if wk is None or wk.stat <= 0 else "inconclusive",
                        why, wk, r, _needed(wk, r))
        verdicts.append(v)
        rows.append(_row(f"4a Delta(h->y) peaks in width, label noise {s:g}", v, series=s,
                         err_peak=err["x"], err_peak_sig=err["peak"]))
    cmp_rows = _noisy_vs_clean(groups)
    if cmp_rows:
        for label, v in (("4b noisy labels more informative below P = n*classes",
                          _compare_below(cmp_rows)),
                         ("4c equally informative from P = n*classes on",
                          _compare_above(cmp_rows))):
            verdicts.append(v)
            rows.append(_row(label, v, series="noisy vs clean"))
    return rows, verdicts, peaks, cmp_rows


def _random_vs_features(pts: Sequence[Point]) -> tuple[list[dict[str, Any]], Verdict]:
    """Random-label networks against the same networks untrained: Delta(h -> y_clean)
    trained minus untrained per width, a paired t across seeds (trained and untrained are
    the same network of the same seed); Welch where per-seed values are missing."""
    rows = []
    for p in sorted(pts, key=lambda p: p.x):
        tr, init = p.info["ii_h_to_y"], p.info_init["ii_h_to_y"]
        a, b = p.per_seed.get("info:ii_h_to_y"), p.per_seed.get("info_init:ii_h_to_y")
        t = paired(a, b) if a is not None and b is not None else welch(tr, p.seeds, init,
                                                                       p.seeds)
        rows.append({"width": p.x, "n_train": p.spec.n_train, "s": p.s, "P": p.n_parameters,
                     "trained": tr, "init": init, "z": t.stat,  # > 0: trained is worse
                     "test": t, "train_error": p.train_error, "test_error": p.test_error[0],
                     "fitted": p.fitted, "moved": p.moved, "seeds": p.seeds})
    fitted = [r for r in rows if r["fitted"]]
    worse = [r for r in fitted if r["test"].above()]
    better = [r for r in fitted if r["test"].below()]
    worse_all = sum(r["test"].above() for r in rows)
    seeds = min((r["seeds"] for r in rows), default=0)
    why = (f"among the {len(fitted)} of {len(rows)} points whose networks fit their random "
           f"labels: Delta(h->y_clean) significantly higher (less informative) than the "
           f"untrained network's at {len(worse)}, significantly lower at {len(better)}; over "
           f"all points (fitted or not): higher at {worse_all}")
    if not fitted:
        return rows, Verdict("inconclusive", why + "; no point fits its random labels, so "
                             "'learned from random labels' is not reached", None, seeds)
    tests = [r["test"] for r in fitted]
    if len(worse) == len(fitted):
        t = _weakest(tests)
        return rows, Verdict("holds", why + f"; weakest: {t.text()}", t, seeds)
    if worse:
        return rows, Verdict("partly", why, _weakest([r["test"] for r in worse]), seeds)
    if better:
        t = _strongest([r["test"] for r in better])
        return rows, Verdict("does not hold", why + f"; strongest: {t.text()}", t, seeds)
    t = _strongest(tests)
    return rows, Verdict("inconclusive", why + "; within the error bars", t, seeds,
                         _needed(t, seeds))


def scaling_ratio(p: Point) -> float:
    """P / (n x classes) of a point (the claim-5 scaling series' fixed ratio)."""
    return p.n_parameters / (p.spec.n_train * p.spec.n_outputs())


def claim5(data: dict[str, list[Point]]) -> dict[str, Any]:
    """(5a) at n = 4000 across widths; (5b) the proportional-scaling series: width and n
    scaled together at fixed P / (n x classes), one line per ratio."""
    if "random_labels" not in data and SCALING_FIGURE not in data:
        return {"rows": [], "status": "not run"}
    rows: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    if "random_labels" in data:
        rows, v = _random_vs_features(data["random_labels"])
        parts.append(_row("5a across widths at one n", v))
    scaling: dict[Any, list[dict[str, Any]]] = {}
    if SCALING_FIGURE in data:
        for ratio, pts in series_of(data[SCALING_FIGURE]).items():
            srows, sv = _random_vs_features(pts)
            scaling[ratio] = srows
            parts.append(_row(f"5b width and n scaled together, P/(n*classes) = {ratio:g}",
                              sv, series=ratio))
    robust = "Second optimiser (Adam): not run"
    if ROBUST_FIGURE in data:
        rnd = series_of(data[ROBUST_FIGURE]).get(1.0)
        if rnd:
            _, rv = _random_vs_features(rnd)
            robust = f"Second optimiser (Adam instead of SGD with momentum): {rv.status} ({rv.why})"
    status, line = overall([(q["part"], q["verdict"]) for q in parts])
    first = parts[0] if parts else {}
    return {"rows": rows, "status": status, "parts": line, "part_rows": parts,
            "why": first.get("why", ""), "scaling": scaling, "robustness": robust}


def _pen_out_trend(groups: dict[Any, list[Point]]) -> dict[str, Any]:
    """Spearman of Delta(pen -> out) with the test cross-entropy over the fitted widths,
    per label-noise rate (random labels left out), with its exact permutation test, and
    whether its spread clears the floor (2/N, the smallest value Delta takes with k = 1)
    and the error bars."""
    per, pooled_x, pooled_y, rows = [], [], [], []
    for s, pts in groups.items():
        if s == 1.0:
            continue
        w_int = interpolation_width(pts)
        over = [p for p in pts if np.isfinite(w_int) and p.x >= w_int]
        xs = [p.test_loss[0] for p in over]
        ys = [p.info["ii_pen_to_out"][0] for p in over]
        sems = [p.info["ii_pen_to_out"][1] for p in over]
        floor = 2.0 / pts[0].n_probe
        spread = (max(ys) - min(ys)) if ys else 0.0
        resolved = bool(len(ys) >= 3 and spread > max(floor, 2 * float(np.nanmax(sems)
                                                                       if sems else 0.0)))
        test = spearman_perm(xs, ys)
        per.append({"s": s, "rho": test.stat, "k": len(over), "w": w_int, "spread": spread,
                    "floor": floor, "resolved": resolved, "test": test,
                    "seeds": _seeds(pts)})
        pooled_x += xs
        pooled_y += ys
        for p in pts:
            rows.append({"series": s, "width": p.x, "P": p.n_parameters,
                         "over": bool(np.isfinite(w_int) and p.x >= w_int),
                         "test_ce": p.test_loss, "train_ce": p.train_loss,
                         "ii_pen_to_out": p.info["ii_pen_to_out"],
                         "ii_pen_to_out_init": p.info_init["ii_pen_to_out"],
                         "fitted": p.fitted})
    pooled = spearman_perm(pooled_x, pooled_y)
    return {"per": per, "pooled": pooled.stat, "pooled_test": pooled, "rows": rows}


def _pen_out_level(q: dict[str, Any]) -> Verdict:
    """One label-noise level of claim 6: the permutation test of Spearman's rho decides
    (two-sided at ALPHA: a significant positive rho is reading A, a negative one reading
    B); a spread under the floor or the error bars is inconclusive whatever rho is."""
    t: Test = q["test"]
    need = min_points_for_trend()
    why = (f"label noise {q['s']:g}: {t.text()} over the {q['k']} fitted widths >= {q['w']:g} "
           f"(spread {q['spread']:.4f}, floor 2/N = {q['floor']:.4f}"
           f"{'' if q['resolved'] else ', NOT resolved'})")
    if not q["resolved"]:
        return Verdict("inconclusive", why + "; the spread is within the floor or the error "
                       "bars", t, q["seeds"])
    if t.significant:
        reading = "reading A (fall together)" if t.stat > 0 else "reading B (literal, opposite)"
        return Verdict("holds", why + f"; {reading}", t, q["seeds"])
    extra = (f"; {q['k']} points cannot reach p < {ALPHA:g} (the smallest exact two-sided p "
             f"at {q['k']} points is {2 / math.factorial(max(q['k'], 1)):.2g}): at least "
             f"{need} fitted widths are needed" if q["k"] < need else "")
    return Verdict("inconclusive", why + "; no significant rank correlation" + extra, t,
                   q["seeds"])


def _pen_out_verdict(t: dict[str, Any]) -> Verdict:
    """Claim 6 over the levels: holds when every level holds with the same reading,
    inconclusive when none does, otherwise the overall status naming the levels."""
    per = t["per"]
    vs = [_pen_out_level(q) for q in per]
    why = "; ".join(v.why for v in vs) + f"; pooled: {t['pooled_test'].text()}"
    if not vs:
        return Verdict("inconclusive", "no level", None, 0)
    signs = {np.sign(v.test.stat) for v in vs if v.status == "holds"}
    st, line = overall([(f"label noise {q['s']:g}", v.status) for q, v in zip(per, vs)])
    if st == "holds" and len(signs) > 1:
        st = "does not hold"  # every level significant, but in opposite directions
    return Verdict(st, why + f" ({line})", _weakest([v.test for v in vs if v.test]),
                   min(v.seeds for v in vs))


def claim6(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Delta(pen -> out) against the test cross-entropy across widths, in the
    overparameterised regime (widths from which every network fits its training labels):
    one line per label-noise level, each decided by its own exact permutation test of
    Spearman's rho (two-sided at ALPHA).

    The claim's wording allows two readings: (A) "falls together with the loss": a
    POSITIVE rank correlation; (B) the literal "X decreases with Y": a NEGATIVE one. The
    two-sided test covers both at the one level ALPHA (no doubled chance).
    """
    if "pen_to_out" not in data:
        return {"rows": [], "status": "not run"}
    t = _pen_out_trend(series_of(data["pen_to_out"]))
    v = _pen_out_verdict(t)
    parts = [_row(f"label noise {q['s']:g}", _pen_out_level(q), series=q["s"])
             for q in t["per"]]
    robust = "Second optimiser (Adam): not run"
    if ROBUST_FIGURE in data:
        rv = _pen_out_verdict(_pen_out_trend(series_of(data[ROBUST_FIGURE])))
        robust = f"Second optimiser (Adam instead of SGD with momentum): {rv.status} ({rv.why})"
    per = [(q["s"], q["rho"], q["k"], q["w"]) for q in t["per"]]
    def sig(q, sgn):
        return bool(q["resolved"] and q["test"].significant
                                  and np.sign(q["test"].stat) == sgn)
    return {"rows": t["rows"], "status": v.status, "why": v.why, "pooled": t["pooled"],
            "per": per, "per_detail": t["per"], "robustness": robust, "part_rows": parts,
            "parts": overall([(q["part"], q["verdict"]) for q in parts])[1],
            "reading_a": [q["s"] for q in t["per"] if sig(q, 1)],
            "reading_b": [q["s"] for q in t["per"] if sig(q, -1)]}


# ----------------------------------------------------------------------------- all claims


def analyse(data: dict[str, list[Point]]) -> dict[str, dict]:
    c3 = claim3(data)
    return {"1": claim1(data), "2": claim2(data), "3": c3, "4": claim4(data),
            "5": claim5(data), "6": claim6(data)}


def verdict_rows(claims: dict[str, dict]) -> list[dict[str, Any]]:
    """Every claim's parts as rows of the report's verdict table: claim, part, verdict,
    test, statistic, df, p, seeds, seeds that would resolve it."""
    out: list[dict[str, Any]] = []
    for key, c in claims.items():
        if key == "3":
            for r in c.get("rows", []):
                out.append({"claim": key, "part": f"{r['measure']}, {r['figure']}, "
                            f"{r['series']:g} dB", "verdict": "counterexample" if r["a"]
                            is not None else "none found", "test": r.get("test"),
                            "seeds": r.get("seeds", 0), "needed": None})
            continue
        rows = c.get("part_rows") if key in ("5", "6") else c.get("rows", [])
        for r in rows or []:
            if "part" not in r:
                continue
            out.append({"claim": key, "part": r["part"], "verdict": r["verdict"],
                        "test": r.get("test"), "seeds": r.get("seeds", 0),
                        "needed": r.get("needed")})
    return out
