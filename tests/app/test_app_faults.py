"""Faults under the dashboard's work: a worker process killed mid-run, the app killed in
the middle of a sweep and started again, and a job that fails inside training.

In each case the caller keeps working, no partial cache entry is left, and finished
work is kept.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from noisealign.engine import ExperimentSpec
from noisealign.engine.compute.jobs import DONE, FAILED, JobManager
from noisealign.engine.compute.sweep import Sweep, SweepError, run_sweep
from noisealign.engine.store.cache import ResultCache
from tests._fixtures import wait_until

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 8}, "n_train": 16, "n_probe": 40,
            "width": 8, "ensemble_size": 2, "max_epochs": 40}
# Trains until cancelled or killed: loss_tol 0 is never reached in a million epochs.
ENDLESS = dict(TINY, max_epochs=1_000_000, loss_tol=0.0)


def pool_workers() -> list[psutil.Process]:
    """This process's grandchildren: the process pool's workers (forked by the
    forkserver, which is a child of ours like the resource tracker)."""
    me = os.getpid()
    out = []
    for p in psutil.Process(me).children(recursive=True):
        try:
            if p.ppid() != me:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_killed_worker_fails_the_sweep_clearly_and_the_caller_keeps_working(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    sweep = Sweep(ExperimentSpec(**ENDLESS), {"n_train": [16, 24]})
    before = {p.pid for p in pool_workers()}
    outcome: dict = {}

    def consume() -> None:
        try:
            outcome["points"] = list(run_sweep(sweep, cache, executor="local", workers=1,
                                               max_sweep_seconds=math.inf))
        except BaseException as e:  # noqa: BLE001 - recorded for the assertions
            outcome["error"] = e

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    assert wait_until(lambda: any(p.pid not in before for p in pool_workers())), \
        "the sweep's worker process did not start"
    time.sleep(1.5)  # well into training (an endless run)
    victims = [p for p in pool_workers() if p.pid not in before]
    for p in victims:
        os.kill(p.pid, signal.SIGKILL)
    t.join(60)
    assert not t.is_alive(), "the sweep hung after its worker was killed"
    err = outcome.get("error")
    assert isinstance(err, SweepError), outcome
    msg = str(err)
    assert "n_train" in msg and "worker process" in msg and "died" in msg, msg
    # No partial entry: nothing was stored, and the points are not half-there.
    assert cache.entries() == []
    assert not any(cache.has(s) for s in sweep.specs())
    # The caller keeps working: a new sweep in the same process completes and is cached.
    ok = Sweep(ExperimentSpec(**TINY), {"n_train": [8, 16]})
    points = list(run_sweep(ok, cache, executor="local", workers=1))
    assert sorted(p.spec.n_train for p in points) == [8, 16]
    assert len(cache.entries()) == 2 and all(e["complete"] for e in cache.entries())


RESTART_SCRIPT = """
import time
from noisealign.engine import ExperimentSpec
from noisealign.engine.store.cache import ResultCache
from noisealign.engine.compute.jobs import JobManager
from noisealign.engine.compute.sweep import Sweep
m = JobManager(ResultCache({cache!r}), max_workers=1)
job = m.submit_sweep(Sweep(ExperimentSpec(**{base!r}), {{"n_train": {values!r}}}), "s")
seen = -1
while not job.done:
    n = len(job.points)
    if n != seen:
        print("points", n, flush=True)
        seen = n
    time.sleep(0.02)
print("finished", job.status, flush=True)
"""


def test_app_killed_mid_sweep_resumes_with_finished_points_kept(tmp_path):
    # Points take about a second each (1500 epochs), so the kill lands mid-sweep.
    base = dict(TINY, max_epochs=1500, loss_tol=0.0)
    values = [8, 16, 24, 32, 40]
    script = RESTART_SCRIPT.format(root=str(ROOT), cache=str(tmp_path / "cache"),
                                   base=base, values=values)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        t0 = time.monotonic()
        for line in proc.stdout:  # the "server" reports each finished point
            if line.strip() == "points 2":
                break
            assert time.monotonic() - t0 < 120, "the first sweep points took too long"
        else:
            pytest.fail("the process ended before 2 points: " + proc.stderr.read()[-2000:])
        proc.send_signal(signal.SIGKILL)  # a crash, not a clean shutdown
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()

    cache = ResultCache(tmp_path / "cache")
    kept = {e["spec"]["n_train"] for e in cache.entries()}
    assert len(kept) >= 2 and all(e["complete"] for e in cache.entries())
    assert len(kept) < len(values), "the kill came too late to test a resume"

    # Restart: a new manager on the same cache directory, the same sweep.
    m = JobManager(cache, max_workers=1)
    try:
        job = m.submit_sweep(Sweep(ExperimentSpec(**base), {"n_train": values}), "s2")
        assert job.wait(180) and job.status == DONE, job.error
        pts = job.points
        assert sorted(p.spec.n_train for p in pts) == values
        assert {p.spec.n_train for p in pts if p.from_cache} == kept  # finished: kept
        assert {p.spec.n_train for p in pts if not p.from_cache} == set(values) - kept
    finally:
        m.shutdown()
    entries = cache.entries()
    assert sorted(e["spec"]["n_train"] for e in entries) == values  # nothing lost or doubled
    assert all(e["complete"] for e in entries)


def test_manager_keeps_serving_after_a_failed_job(tmp_path):
    cache = ResultCache(tmp_path / "cache")
    m = JobManager(cache, max_workers=2)
    try:
        # MNIST's files are not in the (empty) data directory: the run fails inside
        # run_experiment, on every worker at once.
        bad = [m.submit_run(ExperimentSpec(dataset="mnist", n_train=10, n_probe=10,
                                           noise="label", width=4, seed=s), f"s{s}")
               for s in range(2)]
        for job in bad:
            assert job.wait(60) and job.status == FAILED
            assert "mnist" in job.error.lower() and "\n" not in job.error
        assert m.stats()["running"] == 0 and m.stats()["queued"] == 0
        # Both workers are still alive: two runs and a sweep complete afterwards.
        good = [m.submit_run(ExperimentSpec(**TINY, seed=s), "s0") for s in (1, 2)]
        sweep = m.submit_sweep(Sweep(ExperimentSpec(**TINY), {"n_train": [8, 12]}), "s1")
        for job in good + [sweep]:
            assert job.wait(120) and job.status == DONE, job.error
        assert len(cache.entries()) == 4  # the failed runs left nothing behind
    finally:
        m.shutdown()
