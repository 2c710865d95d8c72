"""The time left of a job (noisealign.engine.compute.time_left): the guard's per-point estimates, corrected by
the measured speed as work is done."""

from __future__ import annotations

import math

import pytest

from noisealign.engine.compute.time_left import PRIOR_WEIGHT, SPEED_PRIOR, TimeLeft


def test_starts_from_the_guards_estimate():
    t = TimeLeft({"a": 10.0, "b": 30.0})
    assert t.total == 40.0
    assert t.seconds_left(0.0) == pytest.approx(40.0)


def test_unequal_points_count_by_their_estimate():
    t = TimeLeft({"small": 10.0, "big": 90.0})
    t.within(1.0)
    t.finished("small")
    # On schedule (10 s for the 10 s point): the big point is still ahead, 90 s.
    assert t.seconds_left(10.0) == pytest.approx(90.0)


def test_learns_that_points_stop_early():
    t = TimeLeft({k: 10.0 for k in "abcdefghij"})
    for k in "abcde":
        t.within(0.5)  # each member reached its loss tolerance at half the epochs
        t.finished(k)
    prior, fast = PRIOR_WEIGHT * 100, SPEED_PRIOR * 100
    left = t.seconds_left(25.0)  # the epochs ran at the guard's speed
    assert left == pytest.approx(50 * (25 + prior) / (50 + prior) * (25 + fast) / (25 + fast))
    assert 25.0 < left < 50.0  # between the measured (25 s) and the guard's (50 s)


def test_learns_the_machines_speed():
    t = TimeLeft({k: 10.0 for k in "abcdefghij"})
    for k in "abcde":
        t.within(1.0)
        t.finished(k)
    prior = SPEED_PRIOR * 100
    left = t.seconds_left(100.0)  # twice as slow as the guard said (a busy CPU)
    assert left == pytest.approx(50 * (100 + prior) / (50 + prior))
    assert 50.0 < left < 100.0


def test_epoch_fraction_of_the_current_point_counts():
    t = TimeLeft({"a": 20.0, "b": 20.0})
    t.within(0.5)
    assert t.work_done() == pytest.approx(10.0)
    assert t.seconds_left(10.0) == pytest.approx(30.0)  # on schedule: 10 + 20 s left
    t.finished("a")
    assert t.work_done() == pytest.approx(10.0)  # a ran half its epochs; b starts at 0
    t.finished("unknown")  # a cached point is no work
    assert t.work_done() == pytest.approx(10.0)


def test_without_estimates_it_does_not_know():
    assert math.isnan(TimeLeft({}).seconds_left(5.0))
    assert math.isnan(TimeLeft({"a": float("nan")}).seconds_left(5.0))


def test_a_job_uses_the_estimates(tmp_path):
    from noisealign.engine.compute.jobs import JobManager
    from noisealign.engine.compute.sweep import Sweep
    from noisealign.engine.pipeline.spec import ExperimentSpec
    from noisealign.engine.store.cache import ResultCache
    base = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 6}, n_train=12,
                          n_probe=30, width=6, activation="linear", ensemble_size=2,
                          max_epochs=150, loss_tol=0.0, seed=0)
    cache = ResultCache(tmp_path / "c")
    seen = []
    manager = JobManager(cache, estimate=lambda s: seen.append(s) or 5.0)
    try:
        job = manager.submit_sweep(Sweep(base, {"n_train": [8, 12]}), "s")
        etas = []
        while not job.wait(0.05):
            etas.append(job.eta)
        assert job.status == "done", job.error
        assert len(seen) == 2 and job._time_left is not None
        assert job._time_left.total == 10.0
        finite = [e for e in etas if math.isfinite(e)]
        assert finite and all(0 <= e <= 10.0 * 50 for e in finite)
        assert job.eta == 0.0
    finally:
        manager.shutdown()
