"""What one run's summary costs, and the intrinsic dimension's share of it.

    python -m benchmarks.bench_summaries [--repeats 3]

For K = 8 members, N = 500 probe points, width 256 (one hidden layer, mnist1d): the median
time of :func:`noisealign.engine.measures.summaries.summarise` (everything a cache entry stores) and of the
part it spends in :func:`noisealign.engine.measures.summaries.intrinsic_dimension` (trained and untrained,
every layer, TwoNN and GRIDE through dadapy), after dadapy's one-off import, which is
timed on its own in a fresh process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_summaries")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from noisealign.engine import ExperimentSpec, run_experiment
    from noisealign.engine.measures import summaries

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", ("from noisealign.engine.measures.core import _import_dadapy; "
                    "_import_dadapy()")], check=True)
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    import_s -= time.perf_counter() - t  # the interpreter's own start-up

    spec = ExperimentSpec(dataset="mnist1d", n_train=500, n_probe=500, width=256,
                          ensemble_size=8, max_epochs=100, activation="relu", device="cpu")
    result = run_experiment(spec)
    summaries.intrinsic_dimension(result)  # warm: dadapy imported, caches filled
    full, ids = [], []
    for _ in range(args.repeats):
        t = time.perf_counter()
        summaries.summarise(result)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        summaries.intrinsic_dimension(result)
        summaries.intrinsic_dimension(result, init=True)
        ids.append(time.perf_counter() - t)
    f, i = statistics.median(full), statistics.median(ids)
    print("| what | median s |\n|---|---|")
    print(f"| dadapy import (fresh process, once per process) | {import_s:.2f} |")
    print(f"| summarise, all of it (K = 8, N = 500, width 256) | {f:.3f} |")
    print(f"| of which intrinsic dimension (trained + untrained) | {i:.3f} ({i / f:.0%}) |")
    print(f"| summarise without it | {f - i:.3f} |")


if __name__ == "__main__":
    main()
