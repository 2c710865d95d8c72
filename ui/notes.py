"""What a page's plot shows, in one line, and where this project's runs differ from the
papers' claims, next to the plot.

Two kinds of text:

- :func:`what_to_notice`: one line naming what the current view shows (written for the
  page's default view, with variants for its other axes);
- :func:`claim_notes`: for the claims a page is about, one or two sentences on what *our*
  runs found, read from the summary table of ``docs/findings.md``
  (:func:`noisealign.ui.report_links.verdicts`). The wording of each note was written for one verdict;
  when the report says something else (it was regenerated with another outcome), the
  note falls back to the verdict and its "in short" column, so a page never states an
  outcome the report no longer supports.

Plain Python (no streamlit): :func:`show` is the only function that draws.
"""

from __future__ import annotations

from typing import Any

from .report_links import REPORT_REL, verdicts

# The claims each page's plots are about (numbers of the report's summary table).
PAGE_CLAIMS: dict[str, tuple[int, ...]] = {
    "alignment": (1, 2, 3),
    "theory": (1, 2),
    "information": (4, 5, 6),
}

# (claim, verdict the text was written for) -> what our runs find. Sentences name our
# model so nobody reads them as the papers' numbers.
_NOTES: dict[tuple[int, str], str] = {
    (1, "PARTLY"): (
        "Alignment rising with SNR holds in 7 of our 8 settings (claim 1: partly): not "
        "for a ReLU MLP on regression, nor at initialisation scale 1, where a random part "
        "of the initial weights stays in every member."),
    (2, "HOLDS"): (
        "Our runs agree that alignment against n dips near the interpolation threshold "
        "(claim 2 holds)."),
    (3, "HOLDS"): (
        "Our runs agree that higher alignment does not mean lower test error (claim 3 "
        "holds)."),
    (4, "PARTLY"): (
        "The paper reports a double descent of Δ(h → y_clean) that follows the test "
        "error, and noisy labels more informative than clean ones below the threshold. "
        "Our runs (MNIST-1D, n = 4000) find it only partly (claim 4): with label noise the "
        "test error peaks near the width where the networks first fit their labels, but "
        "Δ(h → y_clean) has no peak, and networks trained on noisy labels are *less* "
        "informative about the clean classes than clean-label ones at every width."),
    (5, "DOES NOT HOLD"): (
        "The paper reports random-label representations worse than random features; our "
        "runs do not find that (claim 5): where the networks fit their random labels, "
        "their Δ(h → y_clean) is as low as or lower than the untrained network's."),
    (6, "PARTLY"): (
        "The paper reports Δ(penultimate → pre-softmax) decreasing with the "
        "cross-entropy in the over-parameterised regime; in our runs it falls together "
        "with the test cross-entropy at label noise 0.1, 0.2 and 0.4 but not at 0 (claim 6: "
        "partly)."),
}

# Shown next to the information plot whenever random labels are drawn: why their
# Delta(h -> y_clean) can match the clean networks' while their error is at chance.
RANDOM_LABELS_NOTE = (
    "Random labels: at large width these networks reach about the same Δ(h → y_clean) as "
    "clean-label ones while their test error stays at chance (1 − 1/classes). They learned "
    "nothing about the classes: the measure then tracks how much of the input geometry the "
    "hidden layer keeps (nearby inputs stay neighbours, and nearby digits share a class), "
    "which a wide network keeps whatever labels it fits.")


def claim_notes(page: str, rows: list[tuple[str, str, str]] | None = None,
                claims: tuple[int, ...] | None = None) -> list[str]:
    """What our runs find for the claims of ``page``, one note per claim whose verdict is
    not HOLDS (those are summarised in one sentence when the page has any).

    Parameters
    ----------
    page
        ``alignment``, ``information`` or ``theory``.
    rows
        The report's summary rows (default: :func:`noisealign.ui.report_links.verdicts`).
    claims
        The claims to cover (default: :data:`PAGE_CLAIMS` of ``page``).

    Returns
    -------
    Markdown sentences; empty when the report cannot be read.
    """
    rows = verdicts() if rows is None else rows
    wanted = PAGE_CLAIMS.get(page, ()) if claims is None else claims
    by_number: dict[int, tuple[str, str]] = {}
    for claim, verdict, short in rows:
        number = claim.split(".", 1)[0].strip()
        if number.isdigit():
            by_number[int(number)] = (verdict.strip(), short)
    notes = []
    for number in wanted:
        if number not in by_number:
            continue
        verdict, short = by_number[number]
        text = _NOTES.get((number, verdict))
        if verdict == "HOLDS" and text is not None:
            notes.append(text)
        elif text is not None:
            notes.append(f"**Our runs differ from the paper.** {text}")
        else:  # the report changed since the wording was written: quote it
            notes.append(f"Our runs, claim {number}: **{verdict.lower()}** ({short}).")
    return notes


def what_to_notice(page: str, **view: Any) -> str:
    """The "What to notice: ..." line for ``page``'s current view.

    Keyword arguments describe the view: alignment ``x`` (x axis) and ``series``;
    information ``random_labels`` (bool); theory ``x`` (``nd`` or ``snr_db``).
    """
    if page == "alignment":
        x, series = view.get("x"), view.get("series")
        if x == "n_train":
            text = ("alignment dips near the dashed interpolation threshold and rises again "
                    "as n grows past it, while the test error peaks there")
            if series == "snr_db":
                text += "; at every n, the curve of a higher SNR lies higher"
        elif x == "snr_db":
            text = "alignment rises with the SNR while the test error falls"
        elif x == "label_noise":
            text = "alignment and test error as the label-noise rate p grows"
        else:
            text = ("whether the alignment (top) and the test error (bottom) move together: "
                    "higher alignment need not mean lower error")
    elif page == "information":
        text = ("Δ(h → y_clean) falls with width for every condition; networks trained on "
                "noisy labels stay less informative about the clean classes (higher Δ) and "
                "have a higher test error than clean-label ones")
        if view.get("random_labels"):
            text += ("; random-label networks approach the clean Δ at large width while "
                     "their test error stays at chance")
    elif page == "theory":
        if view.get("x") == "snr_db":
            text = ("every alignment curve rises with the SNR while the test error falls; "
                    "the SNR does not move the threshold")
        else:
            text = ("the CKA and the II score dip, and Δ peaks, at n ≈ d (dashed line), "
                    "where the test error peaks; past it alignment recovers")
    else:
        raise ValueError(f"page={page!r} is invalid: allowed alignment, information, theory")
    return f"**What to notice:** {text}."


def show(page: str, *, where: Any = None, claims: tuple[int, ...] | None = None,
         extra: list[str] | None = None, notice: bool = True, text: str | None = None,
         **view: Any) -> None:
    """Draw the "What to notice" line (unless ``notice`` is False; ``text``, read from
    the drawn data, else :func:`what_to_notice`) and the notes on ``claims`` (default:
    those the view shows, :func:`view_claims`) plus ``extra`` sentences, under the plot."""
    import streamlit as st
    where = st if where is None else where
    if claims is None:
        claims = view_claims(page, x=view.get("x"), series=view.get("series"),
                             noise=view.get("noise"))
    if notice:
        where.markdown(text or what_to_notice(page, **view))
    notes = claim_notes(page, claims=claims) + list(extra or [])
    if notes:
        where.info("  \n".join(notes) + "  \n*This is our model, not the papers' numbers "
                   f"(the report: {REPORT_REL}).*", icon=":material/science:")


# ----------------------------------------------------------------------------- tied to the data
# Issue 28, item 6: a note says what the drawn curve does, read from the data drawn; a
# verdict box appears only under a view that shows its claim.

# The claims each view shows: claim 1 is about the SNR, claim 2 about the dip against n,
# claim 3 about alignment against test error (every alignment view draws both).
def view_claims(page: str, *, x: str | None = None, series: str | None = None,
                noise: str | None = None) -> tuple[int, ...]:
    """The report's claims the current view of ``page`` can show (so its verdict box
    belongs under it): no SNR claim under a label-noise view, no dip-against-n claim
    where n is not the x axis, none on the theory page (its curves are our model's
    theory, not our runs)."""
    if page == "theory":
        return ()
    if page != "alignment":
        return PAGE_CLAIMS.get(page, ())
    claims = []
    if "snr_db" in (x, series) and noise in (None, "target", "input"):
        claims.append(1)
    if x == "n_train":
        claims.append(2)
    claims.append(3)
    return tuple(claims)


def _fmt(v: float) -> str:
    return f"{v:.2f}" if abs(v) < 10 else f"{v:,.0f}"


def _xfmt(v: float) -> str:
    return f"{v:g}" if abs(v) < 1e4 else f"{v:,.0f}"


def sweep_notice(frame: Any, *, x: str, x_name: str, measure: str,
                 threshold: float | None = None, series_name: str | None = None
                 ) -> str | None:
    """"What to notice" for an alignment sweep, read from ``frame`` (the plotted table of
    :func:`ui.runview.sweep_frame`: ``x``, ``series``, ``align_mean``, ``error_mean``):
    how the first curve's alignment and test error change from its first to its last
    point, where it has an inner minimum (near the threshold, when it is), and which
    series lies highest. None when fewer than two points are drawn."""
    import numpy as np
    parts = []
    groups = list(frame.groupby("series", sort=False)) if len(frame) else []
    for i, (name, g) in enumerate(groups[:1]):
        g = g.sort_values("x")
        g = g[np.isfinite(g["align_mean"].to_numpy(float))]
        if len(g) < 2:
            return None
        xs, a = g["x"].to_numpy(float), g["align_mean"].to_numpy(float)
        e = g["error_mean"].to_numpy(float)
        where = f" ({_series(series_name, name)})" if len(groups) > 1 else ""
        verb = "rises" if a[-1] > a[0] else "falls" if a[-1] < a[0] else "stays"
        text = (f"{measure}{where} {verb} from {_fmt(a[0])} at {x_name} = {_xfmt(xs[0])} "
                f"to {_fmt(a[-1])} at {_xfmt(xs[-1])}")
        j = int(np.argmin(a))
        if 0 < j < len(a) - 1:
            near = (threshold is not None and threshold > 0 and xs[j] > 0
                    and 0.5 <= xs[j] / threshold <= 2)
            text += (f", lowest ({_fmt(a[j])}) at {x_name} = {_xfmt(xs[j])}"
                     + (" near the dashed interpolation threshold" if near else ""))
        parts.append(text)
        ok = np.isfinite(e)
        if ok.sum() >= 2:
            e0, e1 = e[ok][0], e[ok][-1]
            everb = "rises" if e1 > e0 else "falls" if e1 < e0 else "stays"
            parts.append(f"the test error {everb} from {e0:.3g} to {e1:.3g}")
    if len(groups) > 1:
        means = {name: float(np.nanmean(g["align_mean"].to_numpy(float)))
                 for name, g in groups}
        best = max(means, key=means.get)
        parts.append(f"on average the curve of {_series(series_name, best)} lies highest")
    return "**What to notice:** " + "; ".join(parts) + "." if parts else None


def _series(series_name: str | None, value: Any) -> str:
    try:
        value = f"{float(value):g}"
    except (TypeError, ValueError):
        value = str(value)
    return f"{series_name} = {value}" if series_name else value


def _local_extrema(xs, ys, *, near: float, span: float = 0.5):
    """(kind, x, y) of the inner local extrema of ``ys`` within a factor ``1 ± span`` of
    ``near``, nearest first."""
    out = []
    for i in range(1, len(ys) - 1):
        if not (near * (1 - span) <= xs[i] <= near * (1 + span)):
            continue
        if ys[i] > ys[i - 1] and ys[i] >= ys[i + 1]:
            out.append(("max", xs[i], ys[i]))
        elif ys[i] < ys[i - 1] and ys[i] <= ys[i + 1]:
            out.append(("min", xs[i], ys[i]))
    return sorted(out, key=lambda t: abs(t[1] - near))


# Why the finite-d CKA of the linear model has a bump at n = d: shown as a caption next
# to the plot (plain words; docs/linear_theory.md has the algebra).
CKA_BUMP_CAPTION = (
    "Why the finite-d CKA (red) has a bump at n = d: there each member just fits its own "
    "noisy targets exactly, and its weights grow large along the few input directions "
    "the shared training inputs barely cover. Both members' noise is blown up along the "
    "*same* directions, so their hidden layers point alike and CKA reads them as similar, "
    "while the directions the teacher cares about disagree (ρ, blue, is near its lowest). "
    "The bump is agreement in noise, not in what was learned; it shrinks as d grows "
    "(ρ², shown with \"Also show ρ² and the d → ∞ curves\", has no bump).")


def theory_notice(curves: dict, x: str = "nd") -> str:
    """"What to notice" for the theory page, read from the curves drawn (``curves`` as
    :func:`ui.theory_plots.theory_figure` takes them): on the n/d axis, what the finite-d CKA,
    Δ and the test error do near n = d; on the SNR axis, their direction."""
    import numpy as np
    cka, ii, err = (np.asarray(curves[k], float) for k in ("cka", "ii", "test_error"))
    if x == "snr_db":
        xs = np.asarray(curves["snr_db"], float)
        def verb(v):
            return "rises" if v[-1] > v[0] else "falls"
        return (f"**What to notice:** from {xs[0]:g} to {xs[-1]:g} dB the finite-d CKA "
                f"{verb(cka)} ({_fmt(cka[0])} → {_fmt(cka[-1])}), Δ {verb(ii)} "
                f"({_fmt(ii[0])} → {_fmt(ii[-1])}) and the test error {verb(err)}; the SNR "
                "does not move the threshold.")
    xs = np.asarray(curves["n"], float) / float(curves["d"])
    parts = []
    ext = _local_extrema(xs, cka, near=1.0)
    if ext and ext[0][0] == "max":
        lows = [t for t in _local_extrema(xs, cka, near=1.0, span=0.9) if t[0] == "min"]
        text = f"the finite-d CKA has a local maximum ({_fmt(ext[0][2])}) at n/d ≈ {ext[0][1]:.2g}"
        if lows:
            text += (", between dips to " + " and ".join(
                f"{_fmt(t[2])} at n/d ≈ {t[1]:.2g}" for t in sorted(lows, key=lambda t: t[1])))
        parts.append(text)
    elif ext:
        parts.append(f"the finite-d CKA dips to {_fmt(ext[0][2])} at n/d ≈ {ext[0][1]:.2g}")
    iext = _local_extrema(xs, ii, near=1.0)
    if iext:
        kind = "a notch (local minimum)" if iext[0][0] == "min" else "a peak"
        parts.append(f"Δ has {kind} of {_fmt(iext[0][2])} at n/d ≈ {iext[0][1]:.2g}")
    k = int(np.argmax(err))
    parts.append(f"the test error peaks at n/d ≈ {xs[k]:.2g}")
    if xs[-1] > 1.5:
        parts.append(f"past it the CKA recovers to {_fmt(cka[-1])} at n/d = {xs[-1]:.2g}")
    return "**What to notice:** " + "; ".join(parts) + "."


def delta_scale_note(values: Any) -> str | None:
    """A caption for a plot of Information Imbalance values when some drawn value is
    above 1, the scale's "no information" end (issue 28, item 7); None otherwise."""
    import numpy as np
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if not len(v) or v.max() <= 1.0:
        return None
    return (f"Δ above 1 (here up to {v.max():.2f}): 1 is what neighbours picked at random "
            "give on average, so every value near or above 1 means no information; above "
            "it, the nearest neighbours in one representation are a little *farther* than "
            "random ones in the other (sample noise, or ties between equal labels).")
