"""Replicates cost what their training costs: a sweep with R = 3 seeds against R = 1.

    python -m benchmarks.bench_replicates [--repeats 2]

A 4-point sweep (n_train in {50, 100, 200, 400}, mnist1d, width 64, K = 4, 150 epochs)
through the serial executor into a fresh cache each time, so every run trains; the
ratio R = 3 / R = 1 of the median wall time. Floor (issue): at most 3.1x, i.e. no hidden
per-seed overhead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_replicates")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    from noisealign.engine import ExperimentSpec
    from noisealign.engine.compute.sweep import Sweep, run_sweep
    from noisealign.engine.store.cache import ResultCache

    load0 = os.getloadavg()[0]
    base = ExperimentSpec(dataset="mnist1d", n_probe=300, width=64, ensemble_size=4,
                          max_epochs=150, loss_tol=0.0, activation="relu", device="cpu")
    axes = {"n_train": [50, 100, 200, 400]}  # 4 grid points
    with tempfile.TemporaryDirectory() as d:  # warm-up: the dataset pool, torch kernels
        list(run_sweep(Sweep(base, {"n_train": [50]}), ResultCache(d), executor="serial"))
    times: dict[int, list[float]] = {1: [], 3: []}
    for _ in range(args.repeats):
        for reps in (1, 3):  # alternated, so a change in load hits both arms
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter()
                points = list(run_sweep(Sweep(base, axes, replicates=reps), ResultCache(d),
                                        executor="serial"))
                times[reps].append(time.perf_counter() - t)
                assert len(points) == 4 * reps and not any(p.from_cache for p in points)
    one, three = statistics.median(times[1]), statistics.median(times[3])
    print(f"load average before / after: {load0:.1f} / {os.getloadavg()[0]:.1f}")
    print("| replicates | runs | median s |\n|---|---|---|")
    print(f"| 1 | 4 | {one:.1f} |")
    print(f"| 3 | 12 | {three:.1f} |")
    print(f"| ratio | | {three / one:.2f}x |")


if __name__ == "__main__":
    main()
