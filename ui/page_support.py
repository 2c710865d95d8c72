"""Streamlit glue shared by the dashboard pages.

- :func:`services`: the result cache and the :class:`noisealign.engine.compute.jobs.JobManager`, one per
  cache directory per server process (``st.cache_resource``), so every tab shares them
  and identical requests from two tabs join one job.
- :func:`job_panel`: the progress bar / time left / Cancel button of a page's job,
  polled by an ``st.fragment(run_every=...)`` outside the script thread's training.
- :class:`ErrorSlots`: places a spec's ``ValueError`` next to the control it names.
- :func:`error`, :func:`warning`, :func:`info`: how every message that carries a value
  (an error, a job's note) is shown: escaped for markdown and cut to a bounded length
  (:func:`noisealign.engine.base.validation.for_markdown`), so a link's values cannot inject images,
  links or megabytes into the page.
"""

from __future__ import annotations

import logging
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import streamlit as st

from noisealign.engine.base.errors import SpecError
from noisealign.engine.base.units import format_seconds
from noisealign.engine.base.validation import for_markdown, show
from noisealign.engine.compute.jobs import ACTIVE, DONE, BusyError, Job, JobManager

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
# How long a Cancel click waits for its job to stop before the page is redrawn.
CANCEL_WAIT_SECONDS = 1.0
HEARTBEAT_SECONDS = 20.0
# A job nobody has polled for this long (its tabs were closed) is cancelled.
ABANDON_AFTER = 90.0


def _env_int(name: str, default: int, lo: int = 1) -> int:
    try:
        return max(lo, int(os.environ.get(name, default)))
    except ValueError:
        return default


def _seconds_estimate(spec: Any) -> float:
    """The guard's calibrated seconds for a spec (the jobs' time left, noisealign.engine.compute.time_left)."""
    from noisealign.engine.compute.guard import estimate
    return estimate(spec).total_seconds


@st.cache_resource(show_spinner=False)
def _services(cache_dir: str) -> tuple[Any, JobManager]:
    from noisealign.engine.store.cache import ResultCache
    try:  # the resource guard refuses runs over the memory/time limits, with the numbers
        from noisealign.engine.compute.guard import check as admit
        from noisealign.engine.compute.guard import check_sweep as admit_sweep
    except ImportError:  # pragma: no cover - an engine without the guard
        admit = admit_sweep = None
    from noisealign.engine.compute.workers import default_workers, shared_pool
    cache = ResultCache(cache_dir)
    # Warm worker processes for the sweeps (noisealign.engine.compute.workers): started now, while the
    # first page draws, so no point pays a process start; $NOISEALIGN_WORKERS of them
    # (default: the machine's cores), one set per server. $NOISEALIGN_POOL=0 trains in
    # the job's thread instead.
    pool = None
    if os.environ.get("NOISEALIGN_POOL", "1").strip() != "0":
        try:
            pool = shared_pool()
        except Exception:
            log.warning("no warm worker processes: sweeps train in the job's thread",
                        exc_info=True)
    manager = JobManager(cache, admit=admit, admit_sweep=admit_sweep,
                         max_workers=default_workers(), pool=pool,
                         max_queued=_env_int("NOISEALIGN_MAX_QUEUED", 8, 0),
                         per_session_limit=_env_int("NOISEALIGN_SESSION_JOBS", 4),
                         abandon_after=ABANDON_AFTER, estimate=_seconds_estimate)
    return cache, manager


def services() -> tuple[Any, JobManager]:
    """(ResultCache, JobManager) for the cache directory in use."""
    from noisealign.engine.store.cache import default_cache_dir
    return _services(str(default_cache_dir()))


@st.cache_resource(show_spinner=False, max_entries=4)
def _entries(cache_dir: str, stamp: tuple) -> list[dict]:
    return services()[0].entries()


def cache_entries() -> list[dict]:
    """``cache.entries()`` (newest first), memoised until the cache's files change: the
    theory and runs pages read it on every rerun. Treat the result as read-only."""
    cache, _ = services()
    stamp: list = [cache.volume()]
    for name in ("cache.db", "cache.db-wal"):
        try:
            stamp.append((cache.directory / "results" / name).stat().st_mtime_ns)
        except OSError:
            stamp.append(None)
    return _entries(str(cache.directory), tuple(stamp))


def session_id() -> str:
    """A stable id for this browser tab (its Streamlit session)."""
    if "_sid" not in st.session_state:
        st.session_state["_sid"] = uuid.uuid4().hex
    return st.session_state["_sid"]


@st.cache_resource(show_spinner=False)
def device_label() -> str:
    """'cpu (...)' or 'cuda (GPU name)': where runs train by default."""
    from noisealign.engine.pipeline.run import device_name, resolve_device
    return device_name(resolve_device("auto"))


def spec_range(field: str, floor: float | None = None) -> tuple[Any, Any]:
    """``(lowest, highest)`` that :class:`engine.ExperimentSpec` accepts for ``field``:
    ints for an int field, floats for a float field (hence ``Any``).

    The one source of the bounds a page's controls show (the field's constraint,
    ``noisealign.engine.pipeline.constraints.FIELDS``), so a control never offers what the engine
    refuses, nor refuses what it accepts. A float field whose lowest value is excluded
    (``lr > 0``) starts at ``floor`` instead (default: the constraint's own floor).
    """
    from noisealign.engine.pipeline.constraints import interval
    rule = interval(field)
    if rule.kind is int:
        return int(rule.lo), int(rule.hi)
    lo = rule.lo
    if rule.lo_open:
        floor = rule.floor if floor is None else floor
        if floor is None or not floor > lo:
            raise ValueError(f"{field}: its lowest value {lo} is excluded: give a floor > {lo}")
        lo = floor
    return float(lo), float(rule.hi)


def link_int_note(key: str, label: str, lo: int, hi: int, default: int) -> None:
    """Say so when a link gives the bound integer control ``key`` a value outside
    [lo, hi] (or not an integer): Streamlit drops such a value and shows the default
    without a word (``?reps=1000`` became 1). Checked on the session's first run only,
    before the control is drawn."""
    if key in st.session_state or key not in st.query_params:
        return
    raw = st.query_params[key]
    try:
        value = float(raw)
        ok = value.is_integer() and lo <= value <= hi
    except (ValueError, OverflowError):
        ok = False
    if not ok:
        warning(f"{label} = {raw} in the link is invalid: allowed an integer in [{lo}, "
                f"{hi}] (the control shows the value used instead, default {default}).")


def replicates_input() -> int:
    """The sweep pages' Replicates control (URL key ``reps``): data seeds per point."""
    from noisealign.engine.compute.sweep import MAX_REPLICATES
    link_int_note("reps", "Replicates (data seeds)", 1, MAX_REPLICATES, 1)
    return int(st.number_input(
        "Replicates (data seeds)", 1, MAX_REPLICATES, 1, key="reps", bind="query-params",
        help="Sweeps: train every point with this many data seeds (each redraws the data, "
        "the noise and the initialisations). With 2 or more, the curves show the mean over "
        "seeds and the error bars the standard error across seeds; with 1 they show the "
        "error over members of one draw, which understates it."))


# ----------------------------------------------------------------------------- input


def architecture_control(container: Any, dataset: str) -> str:
    """The network architecture control (noisealign.engine.pipeline.spec.ARCHITECTURES); returns the one to use.

    Offered where the dataset allows more than one (a CNN needs images); otherwise shown
    disabled with a note, and the MLP is used whatever the control (or a link) says.
    """
    from noisealign.engine.pipeline.spec import ARCHITECTURES, architectures_for
    allowed = architectures_for(dataset)
    choices = tuple(ARCHITECTURES)
    chosen = container.selectbox(
        "Architecture", choices, key="arch", bind="query-params", disabled=len(allowed) < 2,
        help="; ".join(f"**{a}**: {ARCHITECTURES[a][0]}" for a in choices))
    if len(allowed) < 2:
        only = ", ".join(ARCHITECTURES["cnn"][1] or ())
        container.caption(f"A CNN needs an image or signal dataset ({only}); {dataset} trains MLPs.")
    return chosen if chosen in allowed else allowed[0]


def drop_infinite_query_params() -> None:
    """Remove URL query values that read as an infinite number ("inf", "1e400").

    Streamlit seeds a bound integer ``number_input`` with ``int(float(value))``, which
    raises ``OverflowError`` (uncaught, the page crashes) for these; other junk it
    ignores. Dropped values fall back to the control's default, like any invalid value.
    """
    try:  # the values bound controls are seeded from (a Streamlit internal)
        from streamlit.runtime.state.session_state_proxy import get_session_state
        with get_session_state().query_params() as state:
            initial = state._initial_query_params
            for key, values in list(initial.items()):
                kept = [v for v in values if not _is_infinite(v)]
                if len(kept) != len(values):
                    if kept:
                        initial[key] = kept
                    else:
                        del initial[key]
    except (ImportError, AttributeError, TypeError):  # pragma: no cover - other versions
        pass
    qp = st.query_params  # and the URL the browser shows
    for key in list(qp.keys()):
        values = qp.get_all(key)
        kept = [v for v in values if not _is_infinite(v)]
        if len(kept) != len(values):
            if kept:
                qp[key] = kept
            else:
                del qp[key]


def _is_infinite(text: str) -> bool:
    try:
        return math.isinf(float(text))
    except (ValueError, TypeError, OverflowError):
        return False


def number_list(text: str, name: str, *, integer: bool = False, lo: float = -math.inf,
                hi: float = math.inf, max_items: int = 24) -> list[float] | list[int]:
    """Parse "20, 35, 50" into numbers; ``ValueError`` naming ``name`` otherwise.

    Duplicates are dropped and the order is kept.
    """
    kind = "integers" if integer else "numbers"
    allowed = f"comma-separated {kind} in [{lo:g}, {hi:g}], at most {max_items}"
    parts = [p.strip() for p in re.split(r"[,;\s]+", str(text).strip()) if p.strip()]
    if not parts:
        raise SpecError(name, text, allowed, f"{name}={show(text)} is invalid: allowed {allowed}")
    out: list[Any] = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise SpecError(name, text, allowed, f"{name}={show(text)} is invalid "
                            f"({show(p, 40)} is not a number): allowed {allowed}") from None
        if math.isnan(v) or not lo <= v <= hi or (integer and not v.is_integer()):
            raise SpecError(name, text, allowed,
                            f"{name}={show(text)} is invalid ({show(p, 40)}): allowed {allowed}")
        v = int(v) if integer else v
        if v not in out:
            out.append(v)
    if len(out) > max_items:
        raise SpecError(name, text, allowed,
                        f"{name}={show(text)} is invalid ({len(out)} values): allowed {allowed}")
    return out


def error(message: Any, *, where: Any = None, icon: str = ":material/error:") -> None:
    """An error box showing ``message`` as text (escaped, bounded), in ``where`` (a
    placeholder or column) or at this point of the page."""
    (where if where is not None else st).error(for_markdown(message), icon=icon)


def warning(message: Any, *, where: Any = None, icon: str = ":material/warning:") -> None:
    """A warning box showing ``message`` as text (see :func:`error`)."""
    (where if where is not None else st).warning(for_markdown(message), icon=icon)


def info(message: Any, *, where: Any = None, icon: str = ":material/info:") -> None:
    """An info box showing ``message`` as text (see :func:`error`)."""
    (where if where is not None else st).info(for_markdown(message), icon=icon)


class ErrorSlots:
    """Placeholders after each group of controls; :meth:`show` puts an error in the slot
    of its field: a :class:`noisealign.engine.base.errors.SpecError` says which (``err.field``, and
    ``err.param`` for a dataset parameter); anything else goes to the fallback slot."""

    def __init__(self) -> None:
        self._slots: dict[str, Any] = {}
        self._fallback: Any = None

    def add(self, *fields: str) -> None:
        """A slot right here, for these spec fields (or names of other inputs)."""
        slot = st.empty()
        for f in fields:
            self._slots[f] = slot

    def fallback(self) -> None:
        self._fallback = st.empty()

    def field_of(self, err: BaseException) -> str | None:
        """The slot name of ``err``: its field (a dataset parameter's own slot when the
        page has one, else ``dataset_params``), None for an error without a field."""
        if not isinstance(err, SpecError):
            return None
        if err.field == "dataset_params" and err.param is not None:
            return err.param if err.param in self._slots else "dataset_params"
        return err.field

    def show(self, err: BaseException) -> None:
        """The message in its field's slot, the field named by its label
        (``ui.labels.message``: "Series values: '' is invalid", not "ss=''")."""
        from .labels import message as labelled
        field = self.field_of(err)
        slot = self._slots.get(field or "", self._fallback)
        error(labelled(str(err)), where=slot)


def build(make: Callable[[], Any], slots: ErrorSlots) -> Any:
    """Call ``make()``; a ``ValueError`` is shown next to its control, and None returned."""
    try:
        return make()
    except ValueError as e:
        slots.show(e)
        return None


# ----------------------------------------------------------------------------- jobs


def current_job(page: str) -> Job | None:
    _, manager = services()
    return manager.slot(session_id(), page)[0]


def start_job(page: str, fingerprint: str, submit: Callable[[JobManager, str], Job]) -> Job | None:
    """Submit this page's job (a run or sweep), replacing the page's previous one.

    The previous job is released (cancelled unless another tab watches it). A full
    queue shows a "busy" warning instead of blocking.
    """
    _, manager = services()
    sid = session_id()
    old, old_fingerprint = manager.slot(sid, page)
    if old is not None and old.status in ACTIVE and old_fingerprint == fingerprint:
        return old
    try:
        job = submit(manager, sid)
    except BusyError as e:
        warning(e, icon=":material/hourglass_top:")
        return None
    except ValueError as e:
        error(e)
        return None
    # Recorded in the job manager, which releases the page's previous job in the same
    # step: any st.session_state access may end this run for a newer rerun, and a job
    # recorded only there was lost, running on out of sight (issue 17).
    manager.assign(sid, page, job, fingerprint)
    st.session_state.setdefault("_started", set()).add(fingerprint)
    return job


VIEW_SPECS = "_view_specs"  # session-state key: the specs the page's figure draws


def record_view(specs: list) -> None:
    """Remember the specs whose summaries this run of the page draws (its view).

    ``python -m experiments.precompute`` opens each page with its default controls and
    reads them, so the default views' summaries can ship with the app
    (:func:`experiments.precompute.view_specs`): one definition of a page's defaults,
    the page's own controls."""
    st.session_state[VIEW_SPECS] = list(specs)


def sweep_rows(cache: Any, sweep: Any, job: Job | None) -> list[dict]:
    """One row per sweep point: spec, axis values, cache key, summary and its source.

    The summary comes from the cache, or from the page's running sweep job for a point
    it has finished but not yet stored, or else from the summaries shipped with the app
    (:mod:`noisealign.engine.presets.shipped`, the findings presets); None when the point is still to
    compute. ``source`` says which: "cache", "job", "precomputed" or None.
    """
    from noisealign.engine.presets import shipped as precomputed
    record_view(sweep.specs())
    job_points = {p.key: p for p in job.points} if job is not None and job.kind == "sweep" else {}
    rows = []
    for spec, values in zip(sweep.specs(), sweep.points()):
        key = cache.key(spec)
        summary, source = cache.get_summary(spec), "cache"
        if summary is None and key in job_points:
            summary, source = job_points[key].summary, "job"
        if summary is None:
            summary, source = precomputed.summary(key), "precomputed"
        rows.append({"spec": spec, "values": values, "key": key, "summary": summary,
                     "source": source if summary is not None else None})
    return rows


def auto_run_ok(fingerprint: str, specs: list) -> bool:
    """Whether Auto-run may start this work without a click: the summed estimate of
    ``specs`` (the points still to compute) within the auto-run budget
    (:func:`noisealign.engine.compute.guard.auto_run_limit`, ``$NOISEALIGN_AUTO_RUN_SECONDS``, 5 min).

    Otherwise Auto-run is paused for it and a warning says what it would cost; **Run**
    still starts it (within the guard's limits). A shared link therefore never queues
    hours of work on its own. The estimate is computed once per fingerprint.
    """
    from noisealign.engine.compute.guard import auto_run_limit, estimate_sweep
    memo = st.session_state.setdefault("_auto_estimates", {})
    if fingerprint not in memo:
        try:
            memo[fingerprint] = estimate_sweep(specs).seconds
        except Exception:  # noqa: BLE001 -- the job manager's guard will say why
            memo[fingerprint] = 0.0
    try:
        limit = auto_run_limit()
    except ValueError as e:  # a bad NOISEALIGN_AUTO_RUN_SECONDS: said, and nothing starts
        error(e)
        return False
    seconds = memo[fingerprint]
    if seconds <= limit:
        return True
    what = "run" if len(specs) == 1 else f"{len(specs)} points to compute"
    st.warning(f"Auto-run paused: the {what} would take {format_seconds(seconds)}, more "
               f"than the auto-run budget of {format_seconds(limit).removeprefix('about ')}."
               " Press **Run** to start it anyway (the resource limits still apply).",
               icon=":material/pause_circle:")
    refusal = memo.get(("refusal", fingerprint), "")
    if ("refusal", fingerprint) not in memo:  # over the hard limits too? Say so now.
        from noisealign.engine.compute.guard import check, check_sweep
        try:
            check(specs[0]) if len(specs) == 1 else check_sweep(specs)
        except ValueError as e:
            refusal = str(e)
        except Exception:  # noqa: BLE001, S110 -- Run will report it
            pass
        memo[("refusal", fingerprint)] = refusal
    if refusal:
        error(refusal)
    return False


def already_started(fingerprint: str) -> bool:
    """Whether this tab has started this work before (auto-run starts it only once)."""
    return fingerprint in st.session_state.get("_started", set())


def _fmt_seconds(s: float) -> str:
    """Time left of a job, as noisealign.engine.base.units formats every duration."""
    if not math.isfinite(s):
        return "estimating time left"
    return f"{format_seconds(max(s, 1.0))} left"


def _render_job(page: str) -> None:
    _, manager = services()
    manager.touch(session_id())
    job = current_job(page)
    if job is None:
        return
    v = job.view()
    # Redraw the page when the job has news. Inline (in the page's full run) compare
    # with what this run is drawing; in the fragment's own reruns, with what the last
    # *completed* full run drew. The full run a poll asks for can end without
    # completing after job_panel noted the job as done and before the results were
    # drawn (seen under load when the next poll request arrived during it: the session
    # got only fragment runs from then on); comparing with _seen_ would then leave the
    # page on "waiting..." for good (tests/test_load.py found it).
    drawn = st.session_state.get(f"_drawn_{page}" if _in_fragment_rerun() else f"_seen_{page}")
    if drawn != (v.id, v.n_points, v.status):
        st.rerun()  # new points or a new state: redraw the page with them
    if v.active:
        label = (f"{v.label}: {v.message} · {_fmt_seconds(v.eta)}"
                 if v.status == "running" else f"{v.label}: waiting for a free worker")
        label = for_markdown(label)  # progress text is markdown too
        if v.n_sessions > 1:
            label += f" · shared with {v.n_sessions - 1} other tab(s)"
        st.progress(min(1.0, max(0.0, v.progress)), text=label)
        if v.kind == "run":
            live_losses(job)
    elif v.status == DONE:
        st.caption(f"{v.label}: done in {v.elapsed:.1f} s.")
    elif v.status == "failed":
        error(f"The job failed: {v.error}")
    else:
        info(f"{v.label}: {v.message}. Finished points are kept in the cache; "
             "press Run to resume.")


def live_losses(job: Job) -> None:
    """The training loss of each member of a running run, redrawn with the job panel's
    fragment every second (issue 30 item 5): the run is watched as it trains."""
    rows = job.losses
    if not rows:
        return
    import pandas as pd
    frame = pd.DataFrame([r for _, r in rows], index=[e for e, _ in rows],
                         columns=[f"member {m + 1}" for m in range(len(rows[0][1]))])
    frame.index.name = "epoch"
    st.caption("Training loss per member, live (log scale in the run view once done).")
    st.line_chart(frame, height=220, x_label="epoch", y_label="training loss")


def _in_fragment_rerun() -> bool:
    """Whether this script run is a fragment's own rerun, not the page's full run."""
    try:  # a Streamlit internal; without it, behave as before (compare with _seen_)
        from streamlit.runtime.scriptrunner import get_script_run_ctx
    except ImportError:  # pragma: no cover
        return False
    return bool(getattr(get_script_run_ctx(), "fragment_ids_this_run", None))


def mark_page_drawn() -> None:
    """The page's full run has ended (normally, by ``st.stop()`` or by an error, not
    by being cut short for a rerun): what it drew of each job is now on screen."""
    for key in [k for k in st.session_state if str(k).startswith("_seen_")]:
        st.session_state["_drawn_" + key[len("_seen_"):]] = st.session_state[key]


def cancel_job(job_id: str) -> None:
    """``on_click`` of every Cancel button (the page's panel, the sidebar's job list).

    A callback runs when the click's request arrives, before the script (and a run in
    progress is cut short for it), so the job's cancel flag is set at once whatever the
    page draws next; the job stops at its next epoch or block of the measures. This tab
    stops following the job (another tab that shares it keeps it running).
    """
    _, manager = services()
    job = manager.get(job_id)
    if job is None:
        return
    stopped = manager.release(job, session_id())
    if stopped:
        # A running job stops at its next epoch (milliseconds for small networks): a
        # short wait lets the run that follows the click draw it stopped, and the
        # sidebar's count with it.
        job.wait(CANCEL_WAIT_SECONDS)
    st.session_state["_cancel_note"] = (
        "Cancelled." if stopped else "Stopped following it; another tab still needs this job.")


def cancel_note() -> None:
    """The toast of a Cancel click (callbacks leave it for the run that follows)."""
    note = st.session_state.pop("_cancel_note", None)
    if note:
        st.toast(note, icon=":material/stop:")


def job_panel(page: str) -> Job | None:
    """Show the page's job status; while it is active, poll it every second and rerun
    the page whenever new results arrive. Returns the job (or None).

    The progress is redrawn every second by a fragment; the Cancel button beside it is
    not (it is drawn by the page's run, with a fixed key), so a click never lands on an
    element that is being replaced.
    """
    cancel_note()
    job = current_job(page)
    if job is None:
        return None
    v = job.view()
    st.session_state[f"_seen_{page}"] = (v.id, v.n_points, v.status)
    frag = st.fragment(run_every=POLL_SECONDS if v.active else None)(_render_job)
    if not v.active:
        frag(page)
        return job
    progress, stop = st.columns([5, 1], vertical_alignment="center")
    with progress:
        frag(page)
    stop.button("Cancel", key=f"_cancel_{page}", icon=":material/stop:",
                on_click=cancel_job, args=(v.id,), help="Stop this job now (its finished "
                "points stay in the cache).")
    return job


def _beat() -> None:
    services()[1].touch(session_id())


def heartbeat() -> None:
    """Keep this tab's jobs alive while it is open, whichever page it shows: a fragment
    that touches the session every ``HEARTBEAT_SECONDS`` while it has active jobs."""
    _, manager = services()
    sid = session_id()
    manager.touch(sid)
    active = bool(manager.jobs(sid, active_only=True))
    st.fragment(run_every=HEARTBEAT_SECONDS if active else None)(_beat)()


# ----------------------------------------------------------------------------- misc


def help_box(text: str) -> None:
    from . import teach
    if teach.presenting():  # a projected page keeps the essentials
        return
    with st.expander("What am I looking at?", icon=":material/help:"):
        st.markdown(text)


def downloads(items: Iterable[tuple[str, bytes | str, str, str]], key: str) -> None:
    """Download buttons side by side: (label, data, file name, mime); none in
    presentation mode."""
    from . import teach
    items = list(items)
    if teach.presenting() or not items:
        return
    row = st.container(horizontal=True, wrap=True)  # wraps on a narrow screen
    for i, (label, data, name, mime) in enumerate(items):
        row.download_button(label, data, file_name=name, mime=mime, key=f"{key}_{i}",
                            icon=":material/download:", on_click="ignore")
