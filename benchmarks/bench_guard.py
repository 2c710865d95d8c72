"""Cost of the resource guard (issue 8), as ratios against the run it guards.

1. The first ``check`` in a process: it calibrates the machine (a matmul, an elementwise
   pass and short runs of the real training loop), once per process and structure.
2. Later ``check`` calls (cached calibration): the model itself.
Baseline in the same run: ``run_experiment`` of the dashboard's default spec
(linear teacher, n 100, width 64, K 4, 500 epochs), median of the repeats.

    python -m benchmarks.bench_guard [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.compute.guard import check, clear_calibrations


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    spec = ExperimentSpec(device="cpu")
    run_experiment(spec.replace(max_epochs=5))  # warm-up, untimed

    runs, firsts, later = [], [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        run_experiment(spec)
        runs.append(time.perf_counter() - t)
        clear_calibrations()
        t = time.perf_counter()
        est = check(spec)
        firsts.append(time.perf_counter() - t)
        t = time.perf_counter()
        for _ in range(100):
            check(spec)
        later.append((time.perf_counter() - t) / 100)
    run_s = statistics.median(runs)
    first_s = statistics.median(firsts)
    later_s = statistics.median(later)
    print(f"default run (baseline)          {run_s:8.3f} s   1.00")
    print(f"first check (calibrates)        {first_s:8.3f} s   {first_s / run_s:.2f}")
    print(f"later check (cached)            {later_s * 1e3:8.3f} ms  {later_s / run_s:.5f}")
    # The estimate assumes every member trains all max_epochs (an upper bound); the
    # default run stops early at loss_tol. Compare like with like too:
    full = spec.replace(loss_tol=0.0)
    t = time.perf_counter()
    run_experiment(full)
    full_s = time.perf_counter() - t
    est_full = check(full)
    print(f"estimate, default run           {est.seconds:8.3f} s   (measured {run_s:.3f} s: "
          "it stopped early at loss_tol)")
    print(f"estimate, all 500 epochs        {est_full.seconds:8.3f} s   (measured "
          f"{full_s:.3f} s, {est_full.seconds / full_s:.2f}x)")


if __name__ == "__main__":
    main()
