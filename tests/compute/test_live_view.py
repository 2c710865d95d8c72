"""Issue 30 item 5, engine side: a run's job records each member's training loss while
it trains (noisealign.engine.compute.jobs.Job.losses), bounded in length, for the page's live view."""

from __future__ import annotations

import time

from noisealign.engine import ExperimentSpec
from noisealign.engine.compute.jobs import CANCELLED, MAX_LOSS_SAMPLES, Job, JobManager
from noisealign.engine.store.cache import ResultCache

ENDLESS = dict(dataset="linear-teacher", dataset_params={"d": 6}, n_train=12, n_probe=30,
               width=6, ensemble_size=3, max_epochs=1_000_000, loss_tol=0.0)


def test_a_running_job_shows_each_members_loss_so_far(tmp_path):
    m = JobManager(ResultCache(tmp_path / "c"))
    try:
        job = m.submit_run(ExperimentSpec(**ENDLESS), "s1")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 120 and len(job.losses) < 2:
            time.sleep(0.05)
        rows = job.losses
        assert job.status == "running" and len(rows) >= 2
        epochs = [e for e, _ in rows]
        assert epochs == sorted(epochs) and epochs[-1] > epochs[0]
        assert all(len(r) == 3 and all(v >= 0 for v in r) for _, r in rows)
        assert rows[-1][1] != rows[0][1]  # the losses move as it trains
        job.cancel()
        assert job.wait(60) and job.status == CANCELLED
    finally:
        m.shutdown(cancel=True, wait=True)


def test_the_loss_history_is_bounded_and_keeps_the_latest():
    job = Job("run", "k", "label")
    for e in range(5 * MAX_LOSS_SAMPLES):
        job.record_losses(e, [float(e), 1.0])
    rows = job.losses
    assert len(rows) <= MAX_LOSS_SAMPLES
    assert rows[-1][0] == 5 * MAX_LOSS_SAMPLES - 1
    assert [e for e, _ in rows] == sorted(e for e, _ in rows)
