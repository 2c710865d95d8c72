"""How fast a Cancel stops a running job: ``python -m benchmarks.bench_cancel``.

What the dashboard's Cancel button does (``noisealign.ui.page_support.cancel_job``) is
``JobManager.release``; this measures, for a sweep whose points train for minutes, the
seconds from the release to (a) the job's status being ``cancelled`` and (b) its worker
being free again (a queued one-epoch run on the single worker starting), and checks
that no further point was computed. Printed per trial, with the median and the maximum
(recorded in docs/reliability.md; the issue's limit is 2 s).
"""

from __future__ import annotations

import statistics
import tempfile
import time

from noisealign.engine import ExperimentSpec
from noisealign.engine.compute.jobs import JobManager
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.store.cache import ResultCache

TRIALS = 5
BASE = {"dataset": "linear-teacher", "dataset_params": {"d": 8}, "n_train": 16, "n_probe": 40,
            "width": 8, "ensemble_size": 2, "loss_tol": 0.0}


def trial(manager: JobManager, cache: ResultCache, seed: int) -> tuple[float, float, int]:
    sweep = Sweep(ExperimentSpec(**BASE, seed=seed, max_epochs=10**6),
                  {"n_train": [10, 20, 30, 40]})
    job = manager.submit_sweep(sweep, "bench")
    while job.status != "running" or job.progress == 0:
        time.sleep(0.01)
    time.sleep(0.5)  # well into training
    t0 = time.perf_counter()
    manager.release(job, "bench")
    job.wait(60)
    stopped = time.perf_counter() - t0
    nxt = manager.submit_run(ExperimentSpec(**BASE, seed=seed, max_epochs=1), "bench")
    while nxt.status == "queued":
        time.sleep(0.005)
    free = time.perf_counter() - t0
    nxt.wait(60)
    computed = sum(cache.has(s) for s in sweep.specs())
    return stopped, free, computed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = ResultCache(tmp)
        manager = JobManager(cache, max_workers=1)
        rows = [trial(manager, cache, seed) for seed in range(TRIALS)]
        manager.shutdown()
    for i, (stopped, free, computed) in enumerate(rows):
        print(f"trial {i}: cancelled after {stopped * 1000:.0f} ms, worker free after "
              f"{free * 1000:.0f} ms, sweep points stored: {computed}")
    for name, k in (("cancelled", 0), ("worker free", 1)):
        values = [r[k] * 1000 for r in rows]
        print(f"{name}: median {statistics.median(values):.0f} ms, max {max(values):.0f} ms")


if __name__ == "__main__":
    main()
