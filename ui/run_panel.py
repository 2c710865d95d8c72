"""The run panel of a sweep page: the Run button, how many points are cached or shipped,
Recompute, the auto-run start, the job's progress and the commands that reproduce it.

Apart from :mod:`noisealign.ui.page_support` because it draws with the modules built on
it (:mod:`~noisealign.ui.shipped_points`, :mod:`~noisealign.ui.settle`,
:mod:`~noisealign.ui.teach`); one definition, so the alignment explorer and the
information page start and show their sweeps the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from noisealign.engine.compute.jobs import Job

from . import page_support as common
from . import settle, teach
from . import shipped_points as shipped


def sweep_run_panel(page: str, fp: str, cache: Any, sweep: Any, auto: bool,
                    status: Callable[[list[dict]], str]) -> tuple[list[dict], Job | None]:
    """Draw the panel for ``sweep`` (fingerprint ``fp``) and start its job on Run, or by
    itself when ``auto`` and the settings have settled. ``status(rows)``: the caption next
    to Run. Returns the sweep's rows (:func:`~noisealign.ui.page_support.sweep_rows`) and
    the page's job."""
    job = common.current_job(page)
    rows = common.sweep_rows(cache, sweep, job)
    missing = [r for r in rows if r["summary"] is None]

    run_row = teach.control_row()  # wraps at 800 px
    clicked = run_row.button("Run", type="primary", icon=":material/play_arrow:",
                             key="run_btn", disabled=not missing)
    run_row.caption(status(rows))
    shipped.recompute_button(run_row, page, fp, rows, lambda m, sid: m.submit_sweep(sweep, sid))
    if missing and (clicked or (auto and not common.already_started(fp)
                                and settle.ready(page, fp)  # not from a half-made edit
                                and common.auto_run_ok(fp, [r["spec"] for r in missing]))):
        common.start_job(page, fp, lambda m, sid: m.submit_sweep(sweep, sid))
    job = common.job_panel(page)
    teach.reproduce(sweep.base, sweep.axes, sweep.replicates)
    return rows, job
