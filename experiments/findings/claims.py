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
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from engine import theory
from engine.registry import labels as registry_labels
from engine.spec import snr_db_to_ratio
from experiments.findings.collect import MNIST_FIGURE, Point, series_of

# Alignment measures on which every alignment verdict is decided (both must agree).
ALIGN_MEASURES = ("cka", "ii_score")
# The report's measures and their (short) labels: the registry's (engine.registry).
# Rows carry the name as "measure_id"; code compares that, never the label.
ALIGN_LABELS = registry_labels(("cka", "ii_score", "mknn"), "short")
# How far (in z units: difference / combined standard error) a change must be to count.
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
    deciding numbers."""

    status: str
    why: str


def combine(verdicts: Sequence[Verdict]) -> str:
    """One status for several verdicts: theirs when they all agree, else "partly"."""
    st = {v.status for v in verdicts}
    return st.pop() if len(st) == 1 else "partly"


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
    """(a - b) / combined standard error (inf-safe: a zero error counts as 1e-12)."""
    se = math.sqrt((a[1] if np.isfinite(a[1]) else 0.0) ** 2
                   + (b[1] if np.isfinite(b[1]) else 0.0) ** 2) or 1e-12
    return (a[0] - b[0]) / se


def monotone_increasing(values: Sequence[tuple[float, float]]) -> Verdict:
    """Does a sequence of (mean, sem) rise monotonically?

    Holds when no step falls by more than Z combined standard errors and the last value
    exceeds the first by more than Z; partly when the Spearman correlation with the
    index is > 0.5 but a step falls significantly (or the total rise is not
    significant); otherwise it does not hold.
    """
    drops = [i for i in range(len(values) - 1) if _z(values[i + 1], values[i]) < -Z]
    rise = _z(values[-1], values[0])
    rho = spearman(range(len(values)), [v[0] for v in values])
    why = (f"Spearman {rho:+.2f}; first {values[0][0]:.3f} -> last {values[-1][0]:.3f} "
           f"(z = {rise:.1f}); significant drops between neighbours: {len(drops)}")
    if not drops and rise > Z:
        return Verdict("holds", why)
    if not drops and abs(rise) <= Z:
        return Verdict("inconclusive", why + "; no change beyond the error bars")
    if rho > 0.5:
        return Verdict("partly", why)
    return Verdict("does not hold", why)


def interior_min(xs: Sequence[float], values: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Where the minimum is, and whether both ends are significantly above it."""
    i = int(np.nanargmin([v[0] for v in values]))
    left = max((_z(values[j], values[i]) for j in range(0, i)), default=-math.inf)
    right = max((_z(values[j], values[i]) for j in range(i + 1, len(values))), default=-math.inf)
    return {"i": i, "x": xs[i], "value": values[i][0], "z_left": left, "z_right": right,
            "non_monotone": left > Z and right > Z}


def interior_max(xs: Sequence[float], values: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """Where the (global) maximum is, and how far both sides fall below it."""
    neg = [(-v[0], v[1]) for v in values]
    r = interior_min(xs, neg)
    r["value"] = -r["value"]
    return r


def local_peak(xs: Sequence[float], values: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """The interior local peak of a double descent: a point significantly above some point
    on its left AND some point on its right (z > Z on both sides). Among such points the
    highest is returned (``peak`` True); without one, the candidate closest to qualifying
    (largest smaller-side z) is returned with ``peak`` False."""
    cands = []
    for i in range(1, len(values) - 1):
        zl = max(_z(values[i], values[j]) for j in range(i))
        zr = max(_z(values[i], values[j]) for j in range(i + 1, len(values)))
        cands.append({"i": i, "x": xs[i], "value": values[i][0], "z_left": zl, "z_right": zr,
                      "peak": zl > Z and zr > Z})
    if not cands:
        return {"i": None, "x": math.nan, "value": math.nan, "z_left": -math.inf,
                "z_right": -math.inf, "peak": False}
    peaks = [c for c in cands if c["peak"]]
    if peaks:
        return max(peaks, key=lambda c: c["value"])
    return max(cands, key=lambda c: min(c["z_left"], c["z_right"]))


def error_peak(xs: Sequence[float], values: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """The test-error peak of a double descent: the most significant interior local
    peak, or the global maximum when there is none (e.g. an error that only falls)."""
    pk = local_peak(xs, values)
    return pk if pk["peak"] else interior_max(xs, values)


def near(x: float, target: float, factor: float = NEAR_FACTOR) -> bool:
    return target / factor <= x <= target * factor


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


def claim1(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Alignment vs SNR at fixed n, per setting and measure, including n within 3 points
    of the linear threshold n = d, where the finite-d theory predicts an inversion."""
    rows: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
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
                v = monotone_increasing([p.align[m] for p in pts])
                row = {"figure": fig, "setting": setting, "measure": ALIGN_LABELS[m],
                       "measure_id": m, "verdict": v.status, "why": v.why, "series": s}
                if fig == "linear_snr_threshold":
                    th = theory_trend(int(s), int(pts[0].spec.params["d"]), [p.x for p in pts], m)
                    row["theory"] = th
                    row["why"] += ("; the finite-d theory " + (
                        "falls as SNR rises between " + ", ".join(
                            f"{a:g} and {b:g} dB" for a, b in th["where"])
                        if th["inverts"] else "rises monotonically") + " here")
                verdicts.append(Verdict(v.status, row["why"]))
                rows.append(row)
    robust = robustness_line(
        rows, "Second initialisation scale (ReLU MLP, init scale 1.0 instead of 0.1)",
        lambda r: r["figure"] == "mlp_snr" and r["series"] == 1.0)
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run",
            "robustness": robust}


# ----- claim 2


def threshold_n(p: Point) -> float:
    """Interpolation threshold in n for the figure's model: the dashboard's
    (:meth:`engine.spec.ExperimentSpec.interpolation_threshold`), n = d (+1 with a bias)
    for the linear model (docs/science.md 3), else P / outputs."""
    n = p.spec.interpolation_threshold("n_train")
    assert n is not None  # the n_train axis always moves the threshold
    return n


def claim2(data: dict[str, list[Point]]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    for fig, label in (("linear_n", "linear network"), ("mlp_n", "ReLU MLP (regression)")):
        if fig not in data:
            continue
        for s, pts in series_of(data[fig]).items():
            xs = [p.x for p in pts]
            thr = threshold_n(pts[0])
            err = error_peak(xs, [p.test_error for p in pts])
            for m in ALIGN_MEASURES:
                mn = interior_min(xs, [p.align[m] for p in pts])
                is_near = near(mn["x"], thr)
                why = (f"minimum {mn['value']:.3f} at n = {mn['x']:g} (threshold n = {thr:g}, "
                       f"test-error peak at n = {err['x']:g}); ends above the minimum by "
                       f"z = {mn['z_left']:.1f} (left) and {mn['z_right']:.1f} (right)")
                if mn["non_monotone"] and is_near:
                    v = Verdict("holds", why)
                elif mn["non_monotone"]:
                    v = Verdict("partly", why + f"; minimum not within x{NEAR_FACTOR} of the "
                                "threshold")
                else:
                    v = Verdict("does not hold", why)
                verdicts.append(v)
                rows.append({"figure": fig, "setting": f"{label}, SNR = {s:g} dB",
                             "measure": ALIGN_LABELS[m], "measure_id": m, "n_min": mn["x"],
                             "threshold": thr,
                             "n_err_peak": err["x"], "verdict": v.status, "why": v.why,
                             "series": s})
    robust = robustness_line(rows, "Second SNR (20 dB instead of 10 dB)",
                             lambda r: r["series"] == 20.0)
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run",
            "robustness": robust}


# ----- claim 3


def counterexamples(pts: Sequence[Point], measure: str) -> list[tuple[Point, Point, float, float]]:
    """Pairs (a, b) of one sweep with alignment(a) significantly above alignment(b)
    (z > Z) and test error(a) significantly above test error(b) (z > Z and at least 10 %
    higher); each with the two z values, best (largest error ratio) first."""
    found = []
    for a in pts:
        for b in pts:
            za = _z(a.align[measure], b.align[measure])
            ze = _z(a.test_error, b.test_error)
            if za > Z and ze > Z and a.test_error[0] > 1.1 * b.test_error[0]:
                found.append((a, b, za, ze))
    found.sort(key=lambda t: t[0].test_error[0] / max(t[1].test_error[0], 1e-12), reverse=True)
    return found


def claim3(data: dict[str, list[Point]]) -> dict[str, Any]:
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
                    a, b, za, ze = ce[0]
                    rows.append({"figure": fig, "series": s, "measure": ALIGN_LABELS[m],
                                 "measure_id": m, "a": a, "b": b, "z_align": za, "z_err": ze,
                                 "count": len(ce)})
                else:
                    rows.append({"figure": fig, "series": s, "measure": ALIGN_LABELS[m],
                                 "measure_id": m, "a": None, "b": None, "count": 0})
    status = ("not run" if not rows else "holds" if all(found_any.values())
              else "partly" if any(found_any.values()) else "does not hold")
    per_fig = {f: any(r["count"] for r in rows if r["figure"] == f)
               for f in ("linear_n", "alignment_vs_error")}
    robust = ("Second model: counterexamples found in the linear network: "
              f"{'yes' if per_fig['linear_n'] else 'no'}; in the ReLU MLP: "
              f"{'yes' if per_fig['alignment_vs_error'] else 'no'}")
    return {"rows": rows, "status": status, "robustness": robust}


# ----- claims 4, 5, 6 (MNIST-1D, width sweep by label noise)

WIDTH_FIGURE = "label_noise_width"
ROBUST_FIGURE = "label_noise_width_adam"


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
    """Per noisy label rate and width: Delta(h -> y_clean) clean minus noisy (z > 0: the
    noisy-label network is MORE informative), with both thresholds and the flags."""
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
            out.append({
                "rate": s, "width": p.x, "P": p.n_parameters, "clean": c.info["ii_h_to_y"],
                "noisy": p.info["ii_h_to_y"],
                "z": _z(c.info["ii_h_to_y"], p.info["ii_h_to_y"]),
                "below_nc": p.x < w_nc, "below_n": p.x < w_n,
                "fitted": p.fitted, "moved": p.moved, "clean_moved": c.moved,
                "judged": not (stayed(p) or stayed(c)),
                "test_error": p.test_error, "clean_test_error": c.test_error})
    return out


def _compare_verdict(rows: Sequence[dict[str, Any]]) -> Verdict:
    """Noisy more informative below P = n*classes, equally informative above: counted
    over the rows that can be judged (both networks moved away from initialisation)."""
    judged = [r for r in rows if r["judged"]]
    under = [r for r in judged if r["below_nc"]]
    over = [r for r in judged if not r["below_nc"]]
    more = sum(r["z"] > Z for r in under)
    less = sum(r["z"] < -Z for r in under)
    equal = sum(abs(r["z"]) <= Z for r in over)
    under_n = [r for r in judged if r["below_n"]]
    more_n = sum(r["z"] > Z for r in under_n)
    skipped = len(rows) - len(judged)
    why = (f"below P = n*classes: noisy labels significantly MORE informative at {more} of "
           f"{len(under)} (rate, width) cases, significantly LESS at {less}; above it: "
           f"equally informative (|z| <= {Z:g}) at {equal} of {len(over)}; below P = n: "
           f"more informative at {more_n} of {len(under_n)}; {skipped} cases not judged "
           f"(a network there stayed at its initialisation, CKA to it > {STAYED_CKA:g})")
    if not judged:
        return Verdict("inconclusive", why)
    ok_under = bool(under) and more == len(under)
    ok_over = bool(over) and equal == len(over)
    if ok_under and ok_over:
        return Verdict("holds", why)
    if all(abs(r["z"]) <= Z for r in judged):
        # "Equal above the threshold" alone is no evidence when nothing differs anywhere.
        return Verdict("inconclusive", why + "; no difference beyond the error bars")
    if more or (over and equal == len(over) and not less):
        return Verdict("partly", why)
    return Verdict("does not hold", why)


def claim4(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Double descent of test error and Delta(h -> y) in width; noisy vs clean labels.

    The double descent is looked for per label-noise rate (a significant interior peak
    of each curve, across seeds). Noisy vs clean is split at P = n * classes (the
    threshold docs/science.md uses for classifiers), with P = n and the interpolation
    width of the noisy-label networks reported too; a (rate, width) case is judged only
    where both networks left their initialisation.
    """
    if WIDTH_FIGURE not in data:
        return {"rows": [], "status": "not run"}
    rows, verdicts, peaks, cmp_rows = _width_sweep(data[WIDTH_FIGURE])
    robust = "Second optimiser (Adam instead of SGD with momentum): not run"
    if ROBUST_FIGURE in data:
        rv = _compare_verdict(_noisy_vs_clean(series_of(data[ROBUST_FIGURE])))
        robust = f"Second optimiser (Adam instead of SGD with momentum), noisy vs clean: " \
                 f"{rv.status} ({rv.why})"
    # The real MNIST, where its files are present: the same decisions on a second dataset.
    mnist: dict[str, Any] = {"status": "not run", "rows": []}
    if MNIST_FIGURE in data:
        m_rows, m_verdicts, _, m_cmp = _width_sweep(data[MNIST_FIGURE])
        status = combine(m_verdicts) if m_verdicts else "not run"
        mnist = {"status": status, "rows": m_rows, "compare": m_cmp}
        robust += f"; second dataset (real MNIST): {status}"
    p0 = data[WIDTH_FIGURE][0]
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run",
            "peaks": peaks, "compare": cmp_rows, "robustness": robust, "mnist": mnist,
            "w_nc": nc_threshold_width(p0), "w_n": n_threshold_width(p0)}


def _width_sweep(points: Sequence[Point]) -> tuple[list[dict[str, Any]], list["Verdict"],
                                                   dict[Any, dict], list[dict[str, Any]]]:
    """Claim 4's decisions on one width sweep by label noise: (rows, verdicts, peaks per
    rate, noisy-vs-clean rows)."""
    groups = series_of(points)
    rows: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    peaks: dict[Any, dict] = {}
    for s, pts in groups.items():
        xs = [p.x for p in pts]
        err = local_peak(xs, [p.test_error for p in pts])
        ii = local_peak(xs, [p.info["ii_h_to_y"] for p in pts])
        w_int = interpolation_width(pts)
        peaks[s] = {"err": err, "ii": ii, "w_interp": w_int}
        same_place = err["peak"] and ii["peak"] and near(ii["x"], err["x"], 2.0)
        why = (f"label noise {s:g}: test error {'has' if err['peak'] else 'has no'} "
               f"significant interior peak (best candidate {err['value']:.3f} at width "
               f"{err['x']:g}, z = {err['z_left']:.1f} over a narrower / {err['z_right']:.1f} "
               f"over a wider network); Delta(h->y) {'has' if ii['peak'] else 'has no'} one "
               f"(best candidate {ii['value']:.3f} at width {ii['x']:g}, z = "
               f"{ii['z_left']:.1f} / {ii['z_right']:.1f}); the networks fit their training "
               f"labels from width {w_int:g}")
        if err["peak"] and same_place:
            v = Verdict("holds", why + "; both peak at about the same width")
        elif not err["peak"] and not ii["peak"]:
            # Without label noise no peak is the expected shape; with it, the claim fails.
            v = Verdict("holds" if s == 0.0 else "does not hold",
                        why + "; neither has a double descent")
        elif err["peak"] or ii["peak"]:
            v = Verdict("partly", why)
        else:
            v = Verdict("does not hold", why)
        verdicts.append(v)
        rows.append({"series": s, "verdict": v.status, "why": v.why})
    cmp_rows = _noisy_vs_clean(groups)
    if cmp_rows:
        v = _compare_verdict(cmp_rows)
        verdicts.append(v)
        rows.append({"series": "noisy vs clean", "verdict": v.status, "why": v.why})
    return rows, verdicts, peaks, cmp_rows


def _random_vs_features(pts: Sequence[Point]) -> tuple[list[dict[str, Any]], Verdict]:
    rows = []
    for p in sorted(pts, key=lambda p: p.x):
        tr, init = p.info["ii_h_to_y"], p.info_init["ii_h_to_y"]
        rows.append({"width": p.x, "P": p.n_parameters, "trained": tr, "init": init,
                     "z": _z(tr, init),  # > 0: trained on random labels is worse
                     "train_error": p.train_error, "test_error": p.test_error[0],
                     "fitted": p.fitted, "moved": p.moved})
    fitted = [r for r in rows if r["fitted"]]
    worse = sum(r["z"] > Z for r in fitted)
    better = sum(r["z"] < -Z for r in fitted)
    worse_all = sum(r["z"] > Z for r in rows)
    why = (f"among the {len(fitted)} of {len(rows)} widths whose networks fit their random "
           f"labels: Delta(h->y_clean) significantly higher (less informative) than the "
           f"untrained network's at {worse}, significantly lower at {better}; over all "
           f"widths (fitted or not): higher at {worse_all}")
    if not fitted:
        return rows, Verdict("inconclusive", why + "; no width fits its random labels, so "
                             "'learned from random labels' is not reached")
    if worse == len(fitted):
        return rows, Verdict("holds", why)
    if worse:
        return rows, Verdict("partly", why)
    if better:
        return rows, Verdict("does not hold", why)
    return rows, Verdict("inconclusive", why + "; within the error bars")


def claim5(data: dict[str, list[Point]]) -> dict[str, Any]:
    if "random_labels" not in data:
        return {"rows": [], "status": "not run"}
    rows, v = _random_vs_features(data["random_labels"])
    robust = "Second optimiser (Adam): not run"
    if ROBUST_FIGURE in data:
        rnd = series_of(data[ROBUST_FIGURE]).get(1.0)
        if rnd:
            _, rv = _random_vs_features(rnd)
            robust = f"Second optimiser (Adam instead of SGD with momentum): {rv.status} ({rv.why})"
    return {"rows": rows, "status": v.status, "why": v.why, "robustness": robust}


def _pen_out_trend(groups: dict[Any, list[Point]]) -> dict[str, Any]:
    """Spearman of Delta(pen -> out) with the test cross-entropy over the fitted widths,
    per label-noise rate (random labels left out), and whether its spread clears the
    floor (2/N, the smallest value Delta takes with k = 1) and the error bars."""
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
        rho = spearman(xs, ys)
        per.append({"s": s, "rho": rho, "k": len(over), "w": w_int, "spread": spread,
                    "floor": floor, "resolved": resolved})
        pooled_x += xs
        pooled_y += ys
        for p in pts:
            rows.append({"series": s, "width": p.x, "P": p.n_parameters,
                         "over": bool(np.isfinite(w_int) and p.x >= w_int),
                         "test_ce": p.test_loss, "train_ce": p.train_loss,
                         "ii_pen_to_out": p.info["ii_pen_to_out"],
                         "ii_pen_to_out_init": p.info_init["ii_pen_to_out"],
                         "fitted": p.fitted})
    return {"per": per, "pooled": spearman(pooled_x, pooled_y), "rows": rows}


def _pen_out_verdict(t: dict[str, Any]) -> Verdict:
    per = t["per"]
    parts = "; ".join(
        f"label noise {q['s']:g}: Spearman {q['rho']:+.2f} over the {q['k']} fitted widths "
        f">= {q['w']:g} (spread {q['spread']:.4f}, floor 2/N = {q['floor']:.4f}"
        f"{'' if q['resolved'] else ', NOT resolved'})" for q in per)
    resolved = [q for q in per if q["resolved"]]
    a_ok = [q["s"] for q in resolved if np.isfinite(q["rho"]) and q["rho"] >= 0.7]
    b_ok = [q["s"] for q in resolved if np.isfinite(q["rho"]) and q["rho"] <= -0.7]
    fmt = lambda ss: ", ".join(f"{v:g}" for v in ss) or "none"  # noqa: E731
    why = (f"Spearman rank correlation of Delta(pen->out) with the test cross-entropy "
           f"across widths in the overparameterised regime: {parts}; pooled: "
           f"{t['pooled']:+.2f}. Reading A (fall together) holds at label noise: "
           f"{fmt(a_ok)}; reading B (literal, opposite) at: {fmt(b_ok)}")
    if not resolved:
        return Verdict("inconclusive", why + "; no label-noise level has a trend beyond the "
                       "floor and the error bars")
    if len(a_ok) == len(per) or len(b_ok) == len(per):
        return Verdict("holds", why)
    if a_ok or b_ok:
        return Verdict("partly", why)
    return Verdict("does not hold", why)


def claim6(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Delta(pen -> out) against the test cross-entropy across widths, in the
    overparameterised regime (widths from which every network fits its training labels).

    The claim's wording allows two readings, both checked on the same numbers:
    (A) "falls together with the loss": a POSITIVE rank correlation (lower test loss,
    lower Delta); (B) the literal "X decreases with Y": X falls as Y rises, a NEGATIVE
    one. A reading holds for a label-noise level when |Spearman| >= 0.7 with its sign and
    the values spread beyond the floor 2/N and twice the largest across-seed error.
    """
    if "pen_to_out" not in data:
        return {"rows": [], "status": "not run"}
    t = _pen_out_trend(series_of(data["pen_to_out"]))
    v = _pen_out_verdict(t)
    robust = "Second optimiser (Adam): not run"
    if ROBUST_FIGURE in data:
        rv = _pen_out_verdict(_pen_out_trend(series_of(data[ROBUST_FIGURE])))
        robust = f"Second optimiser (Adam instead of SGD with momentum): {rv.status} ({rv.why})"
    per = [(q["s"], q["rho"], q["k"], q["w"]) for q in t["per"]]
    return {"rows": t["rows"], "status": v.status, "why": v.why, "pooled": t["pooled"],
            "per": per, "per_detail": t["per"], "robustness": robust,
            "reading_a": [q["s"] for q in t["per"] if q["resolved"] and q["rho"] >= 0.7],
            "reading_b": [q["s"] for q in t["per"] if q["resolved"] and q["rho"] <= -0.7]}


# ----------------------------------------------------------------------------- all claims


def analyse(data: dict[str, list[Point]]) -> dict[str, dict]:
    c3 = claim3(data)
    return {"1": claim1(data), "2": claim2(data), "3": c3, "4": claim4(data),
            "5": claim5(data), "6": claim6(data)}
