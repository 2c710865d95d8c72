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

from noisealign.ui.report_links import REPORT_REL, verdicts

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
         extra: list[str] | None = None, notice: bool = True, **view: Any) -> None:
    """Draw the "What to notice" line (unless ``notice`` is False) and the notes on
    ``claims`` (default: the page's) plus ``extra`` sentences, under the page's plot."""
    import streamlit as st
    where = st if where is None else where
    if notice:
        where.markdown(what_to_notice(page, **view))
    notes = claim_notes(page, claims=claims) + list(extra or [])
    if notes:
        where.info("  \n".join(notes) + "  \n*This is our model, not the papers' numbers "
                   f"(the report: {REPORT_REL}).*", icon=":material/science:")
