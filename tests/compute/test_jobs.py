"""noisealign.engine.compute.jobs: background runs and sweeps, joining, bounded queue, cancel, abandon."""

from __future__ import annotations

import time

import pytest

from noisealign.engine import ExperimentSpec
from noisealign.engine.compute.jobs import CANCELLED, DONE, FAILED, BusyError, JobManager
from noisealign.engine.store.cache import ResultCache
from tests._fixtures import wait_until

TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 8}, "n_train": 16, "n_probe": 40,
            "width": 8, "ensemble_size": 2, "max_epochs": 40}
# Trains until cancelled: loss_tol 0 is never reached in a million epochs.
ENDLESS = dict(TINY, max_epochs=1_000_000, loss_tol=0.0)


@pytest.fixture
def cache(tmp_path):
    return ResultCache(tmp_path / "cache")


@pytest.fixture
def make_manager(cache):
    made = []

    def make(**kw):
        m = JobManager(cache, **kw)
        made.append(m)
        return m
    yield make
    for m in made:  # never leave an endless job behind
        m.shutdown(cancel=True, wait=True)


def test_run_completes_and_is_cached(make_manager, cache):
    m = make_manager()
    spec = ExperimentSpec(**TINY)
    job = m.submit_run(spec, "s1")
    assert job.wait(60)
    v = job.view()
    assert v.status == DONE and v.progress == 1.0 and v.eta == 0.0 and v.error is None
    assert job.result.test_error.shape == (2,)
    assert cache.has(spec)
    # A second request for the same spec is served from the cache.
    again = m.submit_run(spec, "s1")
    assert again is not job and again.wait(30) and again.status == DONE
    assert again.result.spec == spec


def test_identical_requests_join_one_job(make_manager):
    m = make_manager(max_workers=1)
    blocker = m.submit_run(ExperimentSpec(**ENDLESS), "s0")
    spec = ExperimentSpec(**TINY, seed=1)
    a = m.submit_run(spec, "tab-a")
    b = m.submit_run(spec, "tab-b")
    assert a is b
    assert a.view().n_sessions == 2
    assert [j.key for j in m.jobs()].count(a.key) == 1
    blocker.cancel()
    assert a.wait(60) and a.status == DONE


def test_queue_is_bounded_and_busy_is_immediate(make_manager):
    m = make_manager(max_workers=1, max_queued=1)
    running = m.submit_run(ExperimentSpec(**ENDLESS), "s1")
    assert wait_until(lambda: running.status == "running")
    queued = m.submit_run(ExperimentSpec(**ENDLESS, seed=2), "s2")
    assert queued.status == "queued"
    # Immediate: the one worker runs an endless job, so a submit that waited for a free
    # slot would never return (pytest-timeout would fail the test), instead of raising.
    with pytest.raises(BusyError, match=r"busy: 1 jobs queued, try again shortly"):
        m.submit_run(ExperimentSpec(**TINY, seed=3), "s3")
    # Cancelling frees the worker: the queued job never starts, new work runs.
    queued.cancel()
    assert queued.status == CANCELLED
    running.cancel()
    assert running.wait(30) and running.status == CANCELLED
    after = m.submit_run(ExperimentSpec(**TINY, seed=3), "s3")
    assert after.wait(60) and after.status == DONE


def test_per_session_limit(make_manager):
    m = make_manager(max_workers=1, per_session_limit=1)
    first = m.submit_run(ExperimentSpec(**ENDLESS), "greedy")
    with pytest.raises(BusyError, match="this session already has 1 jobs"):
        m.submit_run(ExperimentSpec(**TINY), "greedy")
    other = m.submit_run(ExperimentSpec(**TINY), "polite")  # another session is fine
    first.cancel()
    assert other.wait(60) and other.status == DONE


def test_cancel_running_job_stores_nothing(make_manager, cache):
    m = make_manager()
    spec = ExperimentSpec(**ENDLESS)
    job = m.submit_run(spec, "s1")
    assert wait_until(lambda: job.progress > 0 or job.status == "running")
    job.cancel()
    assert job.wait(30)
    assert job.status == CANCELLED and job.result is None
    assert not cache.has(spec)


def test_release_cancels_only_when_nobody_watches(make_manager):
    m = make_manager()
    job = m.submit_run(ExperimentSpec(**ENDLESS), "a")
    assert m.submit_run(ExperimentSpec(**ENDLESS), "b") is job
    assert m.release(job, "a") is False
    time.sleep(0.2)
    assert job.status == "running"
    assert m.release(job, "b") is True
    assert job.wait(30) and job.status == CANCELLED


def test_abandoned_job_frees_its_worker(make_manager):
    m = make_manager(max_workers=1, abandon_after=0.5)
    job = m.submit_run(ExperimentSpec(**ENDLESS), "gone")
    assert job.wait(30), "a job nobody polls must stop by itself"
    assert job.status == CANCELLED and "abandoned" in job.message
    # A watched job (heartbeats) is not abandoned.
    watched = m.submit_run(ExperimentSpec(**ENDLESS, seed=5), "here")
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5:
        m.touch("here")
        time.sleep(0.1)
    assert watched.status == "running", "a watched job must keep running"
    watched.cancel()
    assert watched.wait(30) and watched.status == CANCELLED


def test_failure_is_one_line_without_traceback(make_manager):
    m = make_manager()
    # MNIST needs its files in the data directory, which the test fixture leaves empty.
    job = m.submit_run(ExperimentSpec(dataset="mnist", n_train=10, n_probe=10,
                                      noise="label", width=4), "s1")
    assert job.wait(30)
    assert job.status == FAILED
    assert job.error and "\n" not in job.error and "Traceback" not in job.error
    assert "mnist" in job.error.lower()


def test_sweep_points_arrive_and_identical_sweep_joins(make_manager, cache):
    from noisealign.engine.compute import sweep as sweep_mod
    m = make_manager(max_workers=1)
    sweep = sweep_mod.Sweep(ExperimentSpec(**TINY), {"n_train": [8, 16, 24]})
    job = m.submit_sweep(sweep, "s1")
    assert m.submit_sweep(sweep_mod.Sweep(ExperimentSpec(**TINY), {"n_train": [8, 16, 24]}),
                          "s2") is job or job.done
    assert job.wait(120) and job.status == DONE, job.error
    pts = job.points
    assert sorted(p.spec.n_train for p in pts) == [8, 16, 24]
    assert all(cache.has(p.spec) for p in pts)
    again = m.submit_sweep(sweep, "s1")
    assert again.wait(30) and all(p.from_cache for p in again.points)


def test_bad_arguments_name_the_field(cache):
    with pytest.raises(ValueError, match="max_workers=0"):
        JobManager(cache, max_workers=0)
    with pytest.raises(ValueError, match="abandon_after"):
        JobManager(cache, abandon_after=-1)
    m = JobManager(cache)
    try:
        with pytest.raises(ValueError, match="session_id"):
            m.submit_run(ExperimentSpec(**TINY), "")
        with pytest.raises(ValueError, match="spec must be an ExperimentSpec"):
            m.submit_run({"dataset": "digits"}, "s")
    finally:
        m.shutdown()


def test_progress_and_time_left_while_running(make_manager):
    m = make_manager()
    job = m.submit_run(ExperimentSpec(**dict(TINY, max_epochs=20_000, loss_tol=0.0)), "s1")
    assert wait_until(lambda: job.view().progress > 0.0 and job.view().eta > 0, timeout=30)
    v = job.view()
    assert v.status == "running" and 0 < v.progress < 1
    assert 0 < v.eta < 1e6 and "epoch" in v.message
    job.cancel()
    assert job.wait(30)


def test_admit_refuses_before_anything_is_queued(make_manager, cache):
    def admit(spec):
        if spec.width > 16:
            raise ValueError(f"width={spec.width} is over the limit of 16")
    m = make_manager(admit=admit)
    with pytest.raises(ValueError, match="width=32 is over the limit"):
        m.submit_run(ExperimentSpec(**dict(TINY, width=32)), "s1")
    from noisealign.engine.compute import sweep as sweep_mod
    sweep = sweep_mod.Sweep(ExperimentSpec(**TINY), {"width": [8, 64]})
    with pytest.raises(ValueError, match=r"sweep point width=64: width=64 is over"):
        m.submit_sweep(sweep, "s1")
    assert m.jobs() == []
    ok = m.submit_run(ExperimentSpec(**TINY), "s1")  # within the limit
    assert ok.wait(60) and ok.status == DONE
    # A cached spec costs nothing: it is not asked about again.
    m.admit = lambda spec: (_ for _ in ()).throw(ValueError("no more training"))
    again = m.submit_run(ExperimentSpec(**TINY), "s1")
    assert again.wait(30) and again.status == DONE


def test_process_exits_without_waiting_for_a_running_job(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    script = f"""
import time
from noisealign.engine import ExperimentSpec
from noisealign.engine.store.cache import ResultCache
from noisealign.engine.compute.jobs import JobManager
m = JobManager(ResultCache({str(tmp_path / 'cache')!r}))
job = m.submit_run(ExperimentSpec(**{ENDLESS!r}), "s")
while job.status != "running":
    time.sleep(0.05)
print("running", flush=True)
"""
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2],
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "running" in out.stdout
    assert time.monotonic() - t0 < 30  # an endless job did not hold the exit


def test_cancel_stops_a_sweeps_pending_points_and_frees_the_worker(make_manager, cache):
    # Issue 17: a sweep went on from 17/21 to 21/21 after Cancel. The first point trains
    # 2 epochs, the others until cancelled: after the cancel no further point is
    # computed or stored, the counts go back to zero and the single worker takes the
    # next job.
    from noisealign.engine.compute.sweep import Sweep

    m = make_manager(max_workers=1)
    sweep = Sweep(ExperimentSpec(**ENDLESS), {"max_epochs": [2, 10**6, 10**6 - 1, 10**6 - 2]})
    job = m.submit_sweep(sweep, "s1")
    assert wait_until(lambda: job.status == "running" and len(job.points) == 1
                      and job.progress > 0.25)
    assert m.stats()["running"] == 1
    m.release(job, "s1")  # what the Cancel button does
    assert job.wait(30) and job.status == CANCELLED
    assert len(job.points) == 1
    assert [cache.has(s) for s in sweep.specs()] == [True, False, False, False]
    assert wait_until(lambda: m.stats()["running"] == 0 and m.stats()["stopping"] == 0)
    nxt = m.submit_run(ExperimentSpec(**TINY), "s1")
    assert nxt.wait(60) and nxt.status == DONE
    time.sleep(0.5)  # nothing of the cancelled sweep comes back later
    assert len(job.points) == 1 and not any(cache.has(s) for s in sweep.specs()[1:])


def test_stats_count_cancelled_running_jobs_as_stopping(make_manager):
    m = make_manager(max_workers=1)
    job = m.submit_run(ExperimentSpec(**ENDLESS), "s1")
    assert wait_until(lambda: job.status == "running")
    assert m.stats() == {"queued": 0, "running": 1, "stopping": 0, "workers": 1}
    job._cancel.set()  # the flag alone, as between a click and the next epoch
    stats = m.stats()
    assert stats["stopping"] == stats["running"]  # 1 and 1, or 0 and 0 if already done
    assert job.wait(30) and m.stats()["stopping"] == 0


def test_a_slot_holds_one_job_and_assigning_a_new_one_releases_the_old(make_manager):
    # A page's job is recorded in the manager (noisealign.ui.page_support.start_job): replacing it releases
    # the previous job in the same call, so no job runs on that nothing shows.
    m = make_manager(max_workers=2)
    first = m.submit_run(ExperimentSpec(**ENDLESS), "tab")
    m.assign("tab", "alignment", first, "fp1")
    assert m.slot("tab", "alignment") == (first, "fp1")
    assert m.slot("tab", "theory") == (None, "") and m.slot("other", "alignment") == (None, "")
    second = m.submit_run(ExperimentSpec(**dict(ENDLESS, seed=1)), "tab")
    m.assign("tab", "alignment", second, "fp2")
    assert first.wait(30) and first.status == CANCELLED  # released: nobody else watched it
    assert m.slot("tab", "alignment") == (second, "fp2")
    assert m.slots("tab") == {second.id: "alignment"}
    # Assigning the same job again releases nothing.
    m.assign("tab", "alignment", second, "fp2")
    assert second.status in ("queued", "running") and not second.cancel_requested
    # Released (a Cancel): the slot is empty, and the job stops.
    assert m.release(second, "tab") is True
    assert m.slot("tab", "alignment") == (None, "") and m.slots("tab") == {}
    assert second.wait(30) and second.status == CANCELLED


def test_a_slot_does_not_release_a_job_another_session_still_watches(make_manager):
    m = make_manager()
    shared = m.submit_run(ExperimentSpec(**ENDLESS), "a")
    assert m.submit_run(ExperimentSpec(**ENDLESS), "b") is shared
    m.assign("a", "alignment", shared)
    m.assign("a", "alignment", m.submit_run(ExperimentSpec(**TINY), "a"))
    time.sleep(0.2)
    assert shared.status == "running" and shared.sessions == {"b"}
    m.release(shared, "b")
    assert shared.wait(30) and shared.status == CANCELLED
