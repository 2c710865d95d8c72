"""The claims, decided from the numbers: statistics helpers and one function per claim.

Each ``claimN(data)`` takes figure name -> its :class:`~experiments.findings.collect.Point`
list (from :func:`~experiments.findings.collect.collect`) and returns a dict with the
rows of its decision tables and an overall ``status`` ("holds", "partly", "does not
hold" or "not run" when its figures are missing). :func:`analyse` runs all six.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from experiments.findings.collect import Point, series_of

# Alignment measures on which every alignment verdict is decided (both must agree).
ALIGN_MEASURES = ("cka", "ii_score")
ALIGN_LABELS = {"cka": "linear CKA", "ii_score": "II score", "mknn": "mutual k-NN"}
# How far (in z units: difference / combined standard error) a change must be to count.
Z = 2.0
# "Near the threshold": within this factor of it (on the sample-size grid).
NEAR_FACTOR = 1.5


# ----------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class Verdict:
    """``status``: "holds", "partly" or "does not hold"; ``why``: the deciding numbers."""

    status: str
    why: str


def combine(verdicts: Sequence[Verdict]) -> str:
    st = [v.status for v in verdicts]
    if all(s == "holds" for s in st):
        return "holds"
    if all(s == "does not hold" for s in st):
        return "does not hold"
    return "partly"


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


def claim1(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Alignment vs SNR at fixed n, per setting and measure."""
    rows: list[dict[str, Any]] = []
    verdicts: list[Verdict] = []
    cases = [("linear_snr", "linear network", "n_train", False),
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
                verdicts.append(v)
                rows.append({"figure": fig, "setting": setting, "measure": ALIGN_LABELS[m],
                             "verdict": v.status, "why": v.why})
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run"}


# ----- claim 2


def threshold_n(p: Point) -> float:
    """Interpolation threshold in n for the figure's model: n = d for the linear model
    (docs/science.md 3), else P / outputs."""
    if p.spec.dataset == "linear-teacher":
        return float(p.spec.params["d"])
    return p.n_parameters / p.spec.n_outputs()


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
                             "measure": ALIGN_LABELS[m], "n_min": mn["x"], "threshold": thr,
                             "n_err_peak": err["x"], "verdict": v.status, "why": v.why})
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run"}


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
                                 "a": a, "b": b, "z_align": za, "z_err": ze, "count": len(ce)})
                else:
                    rows.append({"figure": fig, "series": s, "measure": ALIGN_LABELS[m],
                                 "a": None, "b": None, "count": 0})
    status = ("not run" if not rows else "holds" if all(found_any.values())
              else "partly" if any(found_any.values()) else "does not hold")
    return {"rows": rows, "status": status}


# ----- claims 4, 5, 6 (digits, width sweep)


def interpolation_width(pts: Sequence[Point]) -> float:
    """Smallest width at which every member fits its (noisy) training labels exactly."""
    for p in sorted(pts, key=lambda p: p.x):
        if p.train_error == 0.0:
            return p.x
    return math.nan


def nc_threshold_width(p: Point) -> float:
    """Width at which P = n * classes (docs/science.md 1.7) for a one-hidden-layer MLP."""
    d, c, n = p.spec.input_dim(), p.spec.n_outputs(), p.spec.n_train
    return (n * c - c) / (d + 1 + c)


def claim4(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Double descent of test error and Delta(h -> y) in width; noisy vs clean labels.

    Regimes are split at the interpolation width of the noisy-label networks (the
    smallest width at which every member fits its noisy training labels), where the
    test-error peak of a double descent sits; the docs/science.md threshold P = n * classes
    is reported as well.
    """
    if "digits_width" not in data:
        return {"rows": [], "status": "not run"}
    groups = series_of(data["digits_width"])
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
               f"{ii['z_left']:.1f} / {ii['z_right']:.1f}); every member fits its training "
               f"labels from width {w_int:g}")
        if err["peak"] and same_place:
            v = Verdict("holds", why + "; both peak at about the same width")
        elif err["peak"] == ii["peak"] and not err["peak"]:
            v = Verdict("holds" if s == 0.0 else "does not hold",
                        why + "; neither has a double descent")
        elif err["peak"] or ii["peak"]:
            v = Verdict("partly", why)
        else:
            v = Verdict("does not hold", why)
        verdicts.append(v)
        rows.append({"series": s, "verdict": v.status, "why": v.why})
    # noisy vs clean
    cmp_rows = []
    keys = list(groups)
    if 0.0 in groups and len(keys) > 1:
        noisy_s = [k for k in keys if k != 0.0][0]
        clean = {p.x: p for p in groups[0.0]}
        thr = nc_threshold_width(groups[0.0][0])
        w_int = peaks[noisy_s]["w_interp"]
        for p in groups[noisy_s]:
            c = clean.get(p.x)
            if c is None:
                continue
            z = _z(c.info["ii_h_to_y"], p.info["ii_h_to_y"])  # > 0: noisy lower = more informative
            cmp_rows.append({"width": p.x, "P": p.n_parameters, "clean": c.info["ii_h_to_y"],
                             "noisy": p.info["ii_h_to_y"], "z_clean_minus_noisy": z,
                             "regime": "under" if not p.x >= w_int else "over",
                             "above_nc": p.x > thr})
        under = [r for r in cmp_rows if r["regime"] == "under"]
        over = [r for r in cmp_rows if r["regime"] == "over"]
        above = [r for r in cmp_rows if r["above_nc"]]
        n_more = sum(r["z_clean_minus_noisy"] > Z for r in under)
        n_less = sum(r["z_clean_minus_noisy"] < -Z for r in under)
        n_equal = sum(abs(r["z_clean_minus_noisy"]) <= Z for r in over)
        n_equal_nc = sum(abs(r["z_clean_minus_noisy"]) <= Z for r in above)
        why = (f"below width {w_int:g} (where the noisy-label networks first fit their labels): "
               f"noisy labels significantly MORE informative at {n_more} of {len(under)} "
               f"widths, significantly LESS at {n_less}; from width {w_int:g} on: equally "
               f"informative (|z| <= {Z:g}) at {n_equal} of {len(over)} widths; above "
               f"P = n*classes (width > {thr:.0f}): equal at {n_equal_nc} of {len(above)}")
        ok_under = bool(under) and n_more == len(under)
        ok_over = bool(over) and n_equal == len(over)
        if ok_under and ok_over:
            v = Verdict("holds", why)
        elif n_more or n_equal:
            v = Verdict("partly", why)
        else:
            v = Verdict("does not hold", why)
        verdicts.append(v)
        rows.append({"series": "noisy vs clean", "verdict": v.status, "why": v.why})
    return {"rows": rows, "status": combine(verdicts) if verdicts else "not run",
            "peaks": peaks, "compare": cmp_rows}


def claim5(data: dict[str, list[Point]]) -> dict[str, Any]:
    if "random_labels" not in data:
        return {"rows": [], "status": "not run"}
    rows = []
    worse = 0
    better = 0
    for p in sorted(data["random_labels"], key=lambda p: p.x):
        tr, init = p.info["ii_h_to_y"], p.info_init["ii_h_to_y"]
        z = _z(tr, init)  # > 0: trained on random labels predicts the true class worse
        worse += z > Z
        better += z < -Z
        rows.append({"width": p.x, "P": p.n_parameters, "trained": tr, "init": init, "z": z,
                     "train_error": p.train_error, "test_error": p.test_error[0]})
    n = len(rows)
    why = (f"Delta(h->y_clean) after training on random labels is significantly higher "
           f"(less informative) than the untrained network's at {worse} of {n} widths, "
           f"significantly lower at {better}")
    status = "holds" if worse == n else "does not hold" if worse == 0 else "partly"
    return {"rows": rows, "status": status, "why": why}


def claim6(data: dict[str, list[Point]]) -> dict[str, Any]:
    """Delta(pen -> out) against the test cross-entropy across widths, in the
    overparameterised regime (widths at which every member fits its training labels).

    The claim's wording allows two readings, both checked on the same numbers:
    (A) "falls together with the loss": a POSITIVE rank correlation (lower test loss,
    lower Delta); (B) the literal "X decreases with Y": X falls as Y rises, a NEGATIVE
    one. A reading holds for a label-noise level when |Spearman| >= 0.7 with its sign.
    """
    if "pen_to_out" not in data:
        return {"rows": [], "status": "not run"}
    groups = series_of(data["pen_to_out"])
    rows, per = [], []
    pooled_x, pooled_y = [], []
    for s, pts in groups.items():
        w_int = interpolation_width(pts)
        over = [p for p in pts if np.isfinite(w_int) and p.x >= w_int]
        xs = [p.test_loss[0] for p in over]
        ys = [p.info["ii_pen_to_out"][0] for p in over]
        rho = spearman(xs, ys)
        per.append((s, rho, len(over), w_int))
        pooled_x += xs
        pooled_y += ys
        for p in pts:
            rows.append({"series": s, "width": p.x, "P": p.n_parameters,
                         "over": bool(np.isfinite(w_int) and p.x >= w_int),
                         "test_ce": p.test_loss, "train_ce": p.train_loss,
                         "ii_pen_to_out": p.info["ii_pen_to_out"],
                         "ii_pen_to_out_init": p.info_init["ii_pen_to_out"]})
    pooled = spearman(pooled_x, pooled_y)
    parts = "; ".join(f"label noise {s:g}: Spearman {r:+.2f} over the {k} widths >= {w:g}"
                      for s, r, k, w in per)
    a_ok = [s for s, r, _, _ in per if np.isfinite(r) and r >= 0.7]
    b_ok = [s for s, r, _, _ in per if np.isfinite(r) and r <= -0.7]
    fmt = lambda ss: ", ".join(f"{v:g}" for v in ss) or "none"  # noqa: E731
    why = (f"Spearman rank correlation of Delta(pen->out) with the test cross-entropy "
           f"across widths in the overparameterised regime: {parts}; both label-noise "
           f"levels pooled: {pooled:+.2f}. Reading A (fall together) holds at label noise: "
           f"{fmt(a_ok)}; reading B (literal, opposite) at: {fmt(b_ok)}")
    if len(a_ok) == len(per) or len(b_ok) == len(per):
        status = "holds"
    elif a_ok or b_ok:
        status = "partly"
    else:
        status = "does not hold"
    return {"rows": rows, "status": status, "why": why, "pooled": pooled, "per": per,
            "reading_a": a_ok, "reading_b": b_ok}


# ----------------------------------------------------------------------------- all claims


def analyse(data: dict[str, list[Point]]) -> dict[str, dict]:
    c3 = claim3(data)
    return {"1": claim1(data), "2": claim2(data), "3": c3, "4": claim4(data),
            "5": claim5(data), "6": claim6(data)}
