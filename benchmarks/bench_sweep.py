"""Sweep scale-out and cached-result loading (issue 5).

1. A 12-point sweep (snr_db in {0, 10, 20} x seed in {0..3}; linear-teacher d = 50,
   n = 200, width 128, K = 4, 4000 full-batch Adam epochs, about 3 s per point on one
   thread) with the local process-pool executor: 2 workers against 1 worker, both with
   one torch thread per worker, each arm into its own empty cache, same run. The wall
   time includes the pool's start-up and the driver writing every result to the cache
   (the forkserver is warmed up first, untimed, so neither arm pays for it).
2. Loading a cached result for plotting: ``get_summary`` (no arrays) and ``get`` (the
   full Result with representations), median and 90th percentile over repeated loads,
   for a typical entry (K = 4, N = 500 probe points, width 64) and a large one
   (K = 4, N = 2000, width 1024, two hidden layers).

    python -m benchmarks.bench_sweep [--repeats 2] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.compute.sweep import Sweep, run_sweep
from noisealign.engine.store.cache import ResultCache


def small_summary(r):  # module level: picklable, so workers summarise
    return r.summary()


def sweep_arm(sweep: Sweep, workers: int) -> tuple[float, list[float]]:
    with tempfile.TemporaryDirectory() as d:
        cache = ResultCache(d, summarise=small_summary)
        t = time.perf_counter()
        points = list(run_sweep(sweep, cache, executor="local", workers=workers,
                                threads_per_worker=1))
        wall = time.perf_counter() - t
        assert len(points) == len(sweep) and not any(p.from_cache for p in points)
        assert len(cache.entries()) == len(sweep)
    return wall, [p.seconds for p in points]


def load_times(spec: ExperimentSpec, reps: int) -> dict:
    result = run_experiment(spec)
    with tempfile.TemporaryDirectory() as d:
        cache = ResultCache(d, summarise=small_summary)
        cache.put(spec, result)
        entry = cache.entries()[0]
        out = {"bytes": entry["bytes"], "reps": entry["has_representations"]}
        fresh = ResultCache(d, summarise=small_summary)  # as a new dashboard session would
        for name, fn in (("summary", fresh.get_summary), ("full", fresh.get)):
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                got = fn(spec)
                times.append(time.perf_counter() - t)
                assert got is not None
            times.sort()
            out[name] = (statistics.median(times), times[int(0.9 * (len(times) - 1))])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2, help="times each sweep arm is run")
    ap.add_argument("--quick", action="store_true", help="200 epochs per point (smoke test)")
    args = ap.parse_args()

    epochs = 200 if args.quick else 4000
    base = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 50}, n_train=200,
                          n_probe=200, width=128, ensemble_size=4, noise="target",
                          max_epochs=epochs, loss_tol=0.0, device="cpu")
    sweep = Sweep(base, {"snr_db": [0, 10, 20], "seed": [0, 1, 2, 3]})
    print(f"cores: {os.cpu_count()}  load average before: {os.getloadavg()}")

    warm = Sweep(ExperimentSpec(dataset_params={"d": 5}, n_train=10, n_probe=10, width=4,
                                max_epochs=5, device="cpu"), {"seed": [0, 1]})
    sweep_arm(warm, 2)  # start the forkserver (imports torch once), untimed

    walls: dict[int, list[float]] = {1: [], 2: []}
    per_point: dict[int, list[float]] = {1: [], 2: []}
    for rep in range(args.repeats):
        for workers in (1, 2) if rep % 2 == 0 else (2, 1):  # alternate the order
            wall, secs = sweep_arm(sweep, workers)
            walls[workers].append(wall)
            per_point[workers] += secs
            print(f"  repeat {rep}: {workers} worker(s): {wall:6.2f} s "
                  f"(median point {statistics.median(secs):.2f} s)", flush=True)
    ratios = [a / b for a, b in zip(walls[1], walls[2])]
    print(f"\n12-point sweep, local executor, 1 torch thread per worker, {epochs} epochs/point")
    print("| workers | wall (s), each repeat | median seconds per point |")
    print("|---|---|---|")
    for w in (1, 2):
        print(f"| {w} | {', '.join(f'{x:.2f}' for x in walls[w])} | "
              f"{statistics.median(per_point[w]):.2f} |")
    print(f"speed-up 2 vs 1 worker, per repeat: {', '.join(f'{r:.2f}x' for r in ratios)}; "
          f"best {max(ratios):.2f}x, median {statistics.median(ratios):.2f}x")

    print("\nLoading a cached result (fresh ResultCache on an existing cache)")
    print("| entry | stored bytes | representations | get_summary median / p90 (ms) "
          "| get median / p90 (ms) |")
    print("|---|---|---|---|---|")
    cases = {
        "typical: K=4, N=500, width 64": ExperimentSpec(
            dataset_params={"d": 100}, n_train=100, n_probe=500, width=64, ensemble_size=4,
            max_epochs=1, device="cpu"),
        "large: K=4, N=2000, width 1024, depth 2": ExperimentSpec(
            dataset_params={"d": 100}, n_train=100, n_probe=2000, width=1024, depth=2,
            ensemble_size=4, max_epochs=1, device="cpu"),
    }
    for name, spec in cases.items():
        t = load_times(spec, reps=30)
        print(f"| {name} | {t['bytes'] / 2**20:.1f} MiB | {'yes' if t['reps'] else 'no'} | "
              f"{t['summary'][0] * 1e3:.2f} / {t['summary'][1] * 1e3:.2f} | "
              f"{t['full'][0] * 1e3:.1f} / {t['full'][1] * 1e3:.1f} |")
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
