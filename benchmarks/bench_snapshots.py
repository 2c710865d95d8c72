"""What snapshots over training cost (issue 14, floor: N = 10 at most 10% over none).

    python -m benchmarks.bench_snapshots [--repeats 5] [--snapshots 10] [--quick]
                                         [--threads 1]

For each configuration, :func:`engine.run_experiment` with ``snapshots = 0`` and with
``snapshots = N`` run alternately in this process (the order flips every repeat, so a
change in the machine's load hits both); the table gives the median wall time of each,
the median of the paired wall-time ratios and of the paired CPU-time ratios (this
process's CPU time), the ratio of the fastest run of each (the least disturbed), and
the share of the training time spent keeping the snapshots, timed inside the same run
(``Result.timings["snapshots"]``: the copies are all that snapshots add to training, the
forward pass on the probe set is made for the curves anyway), which a shared machine's
load cannot skew between two runs. Then, for the same runs: storing the result in a
results cache (serialise + write), and the summaries: :func:`noisealign.engine.measures.summaries.summarise`
without and with snapshots, and the part spent in the over-training block.
The machine's load average is printed before and after (a shared machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

CONFIGS = [
    # (label, spec fields)
    ("mnist1d, K = 8, n = N = 500, width 256, 100 epochs",
     {"dataset": "mnist1d", "n_train": 500, "n_probe": 500, "width": 256, "ensemble_size": 8,
          "max_epochs": 100, "loss_tol": 0.0}),
    ("linear-teacher d = 50, K = 8, n = 100, N = 500, width 64, 500 epochs",
     {"dataset": "linear-teacher", "dataset_params": {"d": 50}, "n_train": 100, "n_probe": 500,
          "width": 64, "ensemble_size": 8, "max_epochs": 500, "loss_tol": 0.0}),
    ("mnist1d, K = 4, n = 1000, N = 500, depth 3, width 128, minibatch 100, 30 epochs",
     {"dataset": "mnist1d", "n_train": 1000, "n_probe": 500, "width": 128, "depth": 3,
          "ensemble_size": 4, "max_epochs": 30, "batch_size": 100, "loss_tol": 0.0}),
]


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_snapshots")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--snapshots", type=int, default=10)
    ap.add_argument("--quick", action="store_true", help="first configuration only")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine two threads "
                    "stall on each other's barriers and identical runs vary 0.3x-1.6x)")
    args = ap.parse_args()

    import torch
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from noisealign.engine import ExperimentSpec, run_experiment
    from noisealign.engine.measures import summaries
    from noisealign.engine.store.cache import ResultCache

    print(f"load average before: {_load()} ({os.cpu_count()} CPUs, "
          f"{torch.get_num_threads()} torch threads)\n", flush=True)
    configs = CONFIGS[:1] if args.quick else CONFIGS
    run_rows, store_rows, summary_rows = [], [], []
    for label, fields in configs:
        off = ExperimentSpec(**fields, device="cpu")
        on = off.replace(snapshots=args.snapshots)
        run_experiment(off)  # warm: data files loaded, allocator tuned
        t_off, t_on, ratios, cpu_ratios, shares = [], [], [], [], []
        last = {}
        for rep in range(args.repeats):
            pair, cpu = {}, {}
            for spec in ((off, on) if rep % 2 == 0 else (on, off)):
                t, c = time.perf_counter(), time.process_time()
                last[spec.snapshots] = run_experiment(spec)
                pair[spec.snapshots] = time.perf_counter() - t
                cpu[spec.snapshots] = time.process_time() - c
            t_off.append(pair[0])
            t_on.append(pair[on.snapshots])
            ratios.append(pair[on.snapshots] / pair[0])
            cpu_ratios.append(cpu[on.snapshots] / cpu[0])
            r_on = last[on.snapshots]
            shares.append(r_on.timings["snapshots"] / r_on.timings["train"])
        run_rows.append((label, len(last[on.snapshots].snapshot_epochs),
                         statistics.median(t_off), statistics.median(t_on),
                         statistics.median(ratios), min(ratios), max(ratios),
                         statistics.median(cpu_ratios), min(t_on) / min(t_off),
                         statistics.median(shares), max(shares)))

        with tempfile.TemporaryDirectory() as d:
            cache = ResultCache(d, summarise=lambda r: {})
            store = {}
            for s, r in last.items():
                times = []
                for i in range(3):
                    cache.clear()
                    t = time.perf_counter()
                    cache.put(r.spec, r)
                    times.append(time.perf_counter() - t)
                store[s] = (statistics.median(times), len(r.to_bytes()[1]))
            cache.close()
        store_rows.append((label, store[0], store[on.snapshots]))

        summaries.summarise(last[0])  # warm: dadapy imported
        s_off, s_on, s_ot = [], [], []
        for _ in range(max(1, args.repeats // 2)):
            t = time.process_time()
            summaries.summarise(last[0])
            s_off.append(time.process_time() - t)
            t = time.process_time()
            summaries.summarise(last[on.snapshots])
            s_on.append(time.process_time() - t)
            t = time.process_time()
            summaries.over_training(last[on.snapshots])
            s_ot.append(time.process_time() - t)
        summary_rows.append((label, statistics.median(s_off), statistics.median(s_on),
                             statistics.median(s_ot)))
        r = run_rows[-1]
        print(f"[{label}] run ratio {r[4]:.3f} (CPU {r[7]:.3f}, fastest {r[8]:.3f}, in-run "
              f"{r[9]:.2%}; {r[2]:.2f} s vs {r[3]:.2f} s), "
              f"summaries "
              f"{summary_rows[-1][1]:.2f} s vs {summary_rows[-1][2]:.2f} s; load {_load()}",
              flush=True)

    n = args.snapshots
    print(f"Training (run_experiment), median of {args.repeats} alternating pairs:\n")
    print(f"| configuration | snapshots kept | 0 snapshots s (median) | {n} snapshots s "
          "(median) | wall ratio: median of pairs (min..max) | ratio of fastest runs | "
          "CPU-time ratio (median) | in-run share kept by snapshots: median (max) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, kept, a, b, r, lo, hi, c, fast, share, share_max in run_rows:
        print(f"| {label} | {kept} | {a:.2f} | {b:.2f} | {r:.3f} ({lo:.2f}..{hi:.2f}) "
              f"| {fast:.3f} | {c:.3f} | {share:.2%} ({share_max:.2%}) |")
    print("\nStoring in the results cache (serialise + write, median of 3):\n")
    print(f"| configuration | 0 snapshots s (MB) | {n} snapshots s (MB) |")
    print("|---|---|---|")
    for label, (a, ba), (b, bb) in store_rows:
        print(f"| {label} | {a:.3f} ({ba / 1e6:.1f}) | {b:.3f} ({bb / 1e6:.1f}) |")
    print("\nSummaries (summarise: everything a cache entry stores), median CPU time "
          "(one torch thread):\n")
    print(f"| configuration | summarise, 0 snapshots s | summarise, {n} snapshots s | "
          "added by the snapshots s | over_training alone s (also redoes init and end) |")
    print("|---|---|---|---|---|")
    for label, a, b, c in summary_rows:
        print(f"| {label} | {a:.2f} | {b:.2f} | {b - a:.2f} ({b / a:.2f}x) | {c:.2f} |")
    print(f"\nload average after: {_load()}")


if __name__ == "__main__":
    main()
