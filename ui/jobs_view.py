"""The sidebar's job count and job list, live.

Every page shows, in the sidebar, how many jobs the server is running and queueing, and
lists this tab's jobs: what each is (a run or a sweep, its label), which page started
it, its progress, and its own Cancel button. So no job of this tab runs out of sight,
even when the page that started it shows something else (an invalid setting stops a
page before its job panel) or the tab moved to another page.

The list is an ``st.fragment`` redrawn every :data:`ACTIVE_POLL_SECONDS` while any job
is active, so the count is true within about a second of a job's end or a cancel (it
used to be computed on full page runs only, and said "1 running" for 30 s after a
cancel). Cancel buttons call :func:`noisealign.ui.page_support.cancel_job` as their ``on_click``, which
acts before any script code runs.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from noisealign.engine.base.validation import for_markdown
from noisealign.engine.compute.jobs import ACTIVE, DONE, FAILED, Job, JobView

from . import page_support as common

ACTIVE_POLL_SECONDS = 1.0
# While nothing runs, a slower poll still notices another tab's new job.
IDLE_POLL_SECONDS = 10.0
# Finished jobs of this tab still listed (newest first).
RECENT_FINISHED = 3

PAGE_TITLES = {"alignment": "Alignment explorer", "information": "Information content",
               "theory": "Linear theory"}


def count_line(stats: dict[str, int]) -> str:
    """ "Jobs: 1 running (1 stopping), 0 queued (2 workers)" from ``JobManager.stats``."""
    stopping = stats.get("stopping", 0)
    return (f"Jobs: {stats['running']} running"
            + (f" ({stopping} stopping)" if stopping else "")
            + f", {stats['queued']} queued ({stats['workers']} workers)")


def describe(v: JobView, page: str | None) -> str:
    """One line for a job: what it is, for which page, how far it is."""
    kind = "Sweep" if v.kind == "sweep" else "Run"
    where = PAGE_TITLES.get(page or "", page or "another page")
    if v.status == "running":
        state = f"{v.message}, {v.progress:.0%}"
    elif v.status == "queued":
        state = "waiting for a free worker"
    elif v.status == DONE:
        state = f"done in {v.elapsed:.1f} s"
    elif v.status == FAILED:
        state = f"failed: {v.error}"
    else:
        state = v.message
    text = f"{kind} · {where}: {v.label} · {state}"
    if v.n_sessions > 1:
        text += f" · shared with {v.n_sessions - 1} other tab(s)"
    return text


def tab_jobs(manager: Any, sid: str) -> tuple[list[Job], list[Job]]:
    """(active jobs, recently finished jobs) this tab follows, oldest active first."""
    mine = manager.jobs(sid)
    active = [j for j in mine if j.status in ACTIVE]
    finished = [j for j in reversed(mine) if j.status not in ACTIVE][:RECENT_FINISHED]
    return active, finished


def _job_list(polling_fast: bool) -> None:
    _, manager = common.services()
    sid = common.session_id()
    manager.touch(sid)
    stats = manager.stats()
    if not polling_fast and (stats["running"] or stats["queued"]):
        st.rerun()  # a job started elsewhere: poll every second from now on
    st.caption(count_line(stats))
    active, finished = tab_jobs(manager, sid)
    if not active and not finished:
        return
    pages = manager.slots(sid)
    with st.container(key="job_list"):
        st.caption("**This tab's jobs**")
        for job in active:
            v = job.view()
            st.progress(min(1.0, max(0.0, v.progress)),
                        text=for_markdown(describe(v, pages.get(v.id)), 300))
            st.button("Cancel", key=f"_cancel_job_{v.id}", icon=":material/stop:",
                      on_click=common.cancel_job, args=(v.id,), type="tertiary",
                      help=f"Stop this {v.kind} now (finished points stay in the cache)")
        for job in finished:
            st.caption(for_markdown(describe(job.view(), pages.get(job.id)), 300))


def sidebar() -> None:
    """The live job count and this tab's job list (call inside ``st.sidebar``)."""
    _, manager = common.services()
    stats = manager.stats()
    busy = bool(stats["running"] or stats["queued"])
    st.fragment(run_every=ACTIVE_POLL_SECONDS if busy else IDLE_POLL_SECONDS)(_job_list)(busy)
