"""Points drawn from the summaries shipped with the app (:mod:`noisealign.engine.presets.shipped`).

A sweep row (:func:`noisealign.ui.page_support.sweep_rows`) whose summary came from the shipped file has
``source == "precomputed"``. Pages say how many of their points are such, and offer
**Recompute**, which trains them for real into the user's cache (the cache wins from
then on). Auto-run never starts them: they are not missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from . import page_support as common


def counts(rows: Sequence[dict]) -> dict[str, int]:
    """{"cached", "precomputed", "job", "missing", "total"} over sweep rows."""
    out = {"cache": 0, "precomputed": 0, "job": 0, "missing": 0}
    for r in rows:
        out[r.get("source") or "missing"] += 1
    return {"cached": out["cache"], "precomputed": out["precomputed"], "job": out["job"],
            "missing": out["missing"], "total": len(rows)}


def status_text(rows: Sequence[dict], unit: str = "points") -> str:
    """"14 of 26 points cached, 12 precomputed (shipped with the app); 0 to compute"."""
    c = counts(rows)
    text = f"{c['cached'] + c['job']} of {c['total']} {unit} cached"
    if c["precomputed"]:
        text += f", {c['precomputed']} precomputed (shipped with the app)"
    if c["missing"]:
        text += f"; {c['missing']} to compute"
    return text


def recompute_button(container: Any, page: str, fingerprint: str, rows: Sequence[dict],
                     submit: Callable[[Any, str], Any]) -> None:
    """A **Recompute** button when some rows are precomputed: it starts the page's job
    (``submit(manager, session_id)``, the same sweep as Run), which trains every point
    the user's cache lacks, the precomputed ones included."""
    n = counts(rows)["precomputed"]
    if not n:
        return
    if container.button(f"Recompute {n} precomputed", key=f"_recompute_{page}",
                        icon=":material/refresh:",
                        help="These points come from the summaries shipped with the app "
                        "(the findings report's runs). Recompute trains them on this "
                        "machine and stores them in your cache, which is used from then on."):
        common.start_job(page, fingerprint, submit)


def badge(rows: Sequence[dict], action: str = "**Recompute**") -> None:
    """A caption under a plot that shows precomputed points."""
    n = counts(rows)["precomputed"]
    if n:
        st.caption(f":material/inventory_2: {n} point(s) drawn from the precomputed "
                   "summaries shipped with the app (the findings report's runs, same "
                   f"settings); {action} trains them here.")


def merge(rows: list[dict], specs: Sequence[Any]) -> list[dict]:
    """``rows`` plus a precomputed row for each of ``specs`` that they lack and the
    shipped file holds (the theory page's simulations: its rows come from the cache's
    entries, which the shipped summaries are not among)."""
    from noisealign.engine.presets import shipped as precomputed
    common.record_view(specs)
    have = {r["key"] for r in rows}
    out = list(rows)
    for spec in specs:
        key = precomputed.cache_key(spec)
        summary = None if key in have else precomputed.summary(key)
        if summary is not None:
            out.append({"key": key, "spec": spec, "summary": summary,
                        "source": "precomputed"})
            have.add(key)
    return out
