"""noisealign.engine.compute.workers: the dashboard's warm worker processes (issue 30 item 2).

A sweep job on a :class:`WarmPool` trains its points on the pool's processes (real
forkserver processes, a real diskcache in a temp dir): the same summaries as the serial
job, the same processes for the next sweep (no process start per sweep), progress while
points train, a cancel that stops a running point and leaves the pool usable, and at most
what the memory guard allows in flight at once.
"""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from noisealign.engine import ExperimentSpec
from noisealign.engine.compute.guard import concurrent_points
from noisealign.engine.compute.jobs import CANCELLED, DONE, JobManager
from noisealign.engine.compute.sweep import Sweep, run_sweep
from noisealign.engine.compute.workers import ENV_VAR, WarmPool, default_workers
from noisealign.engine.store.cache import ResultCache

TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 6}, "n_train": 12, "n_probe": 30,
            "width": 6, "ensemble_size": 2, "max_epochs": 30, "activation": "linear"}
ENDLESS = dict(TINY, max_epochs=1_000_000, loss_tol=0.0)


@pytest.fixture(scope="module")
def pool():
    p = WarmPool(2, threads=1)
    p.warm(wait=True)
    yield p
    p.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_default_workers_reads_the_environment(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "3")
    assert default_workers() == 3
    for bad in ("0", "-1", "lots", "100000"):
        monkeypatch.setenv(ENV_VAR, bad)
        assert default_workers() == (os.cpu_count() or 1)
    monkeypatch.delenv(ENV_VAR)
    assert default_workers() == (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="workers=0 is invalid"):
        WarmPool(0)


def test_pool_points_equal_serial_ones_and_the_processes_stay_warm(pool, tmp_path):
    sweep = Sweep(ExperimentSpec(**TINY), {"n_train": [8, 12, 16]})
    serial = {p.key: p.summary for p in run_sweep(sweep, ResultCache(tmp_path / "s"),
                                                  executor="serial")}
    pids = pool.pids()
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    warm_cache = ResultCache(tmp_path / "w")
    seen: list[tuple[int, list[float]]] = []
    points = list(run_sweep(sweep, warm_cache, executor="local", pool=pool,
                            running_progress=lambda d, f: seen.append((d, f))))
    assert {p.key for p in points} == set(serial)
    for p in points:
        assert not p.from_cache and warm_cache.has(p.spec)
        a, b = p.summary["measures"]["cka"], serial[p.key]["measures"]["cka"]
        assert a["mean"] == pytest.approx(b["mean"], abs=1e-9)
    assert seen and seen[-1][0] <= 3
    # The same processes run the next sweep: nothing was started or stopped.
    again = Sweep(ExperimentSpec(**dict(TINY, seed=5)), {"n_train": [8, 12]})
    assert len(list(run_sweep(again, warm_cache, executor="local", pool=pool))) == 2
    assert pool.pids() == pids and all(_alive(p) for p in pids)


def test_a_job_on_the_pool_reports_progress_and_cancel_stops_its_point(pool, tmp_path):
    cache = ResultCache(tmp_path / "c")
    m = JobManager(cache, pool=pool)
    try:
        endless = Sweep(ExperimentSpec(**ENDLESS), {"seed": [1, 2]})
        job = m.submit_sweep(endless, "s1")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and "training" not in job.view().message:
            time.sleep(0.1)
        assert "2 training" in job.view().message or "1 training" in job.view().message
        p0 = job.view().progress
        time.sleep(1.5)
        assert job.view().progress >= p0  # epochs advance within the points
        job.cancel()
        assert job.wait(120) and job.status == CANCELLED
        assert cache.entries() == []
        # The pool is still warm and usable.
        short = Sweep(ExperimentSpec(**TINY), {"seed": [1, 2]})
        job = m.submit_sweep(short, "s1")
        assert job.wait(120) and job.status == DONE, job.view()
        assert len(job.points) == 2 and all(cache.has(s) for s in short.specs())
    finally:
        m.shutdown(cancel=True, wait=True)


def test_concurrent_points_fit_the_memory_guard():
    spec = ExperimentSpec(**TINY)
    from noisealign.engine.compute.guard import estimate
    need = estimate(spec).memory_bytes
    assert concurrent_points([spec], 8, max_memory_bytes=need * 100) == 8
    assert concurrent_points([spec], 8, max_memory_bytes=need * 3.5) == 3
    assert concurrent_points([spec], 8, max_memory_bytes=need * 0.5) == 1
    big = dataclasses.replace(spec, width=512)
    assert concurrent_points([spec, big], 8, max_memory_bytes=estimate(big).memory_bytes
                             * 2.2) == 2
