"""Cold start of one small run and its summary, each in a fresh `python -c` (issue 30).

The run: linear-teacher, n = 100, width 64, K = 4, 200 epochs, then summarise(). The
baseline arm ("before") is the same child with what the code before issue 30 loaded on
the way -- `import dadapy` (jax) for the intrinsic dimension and torch._dynamo (first
torch.optim optimiser) -- imported up front, so both arms run in the same session and
load. Prints wall time per child (best and median of the repeats), load and threads.

    python -m benchmarks.bench_cold [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time, json
t0 = time.perf_counter()
{pre}
from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.measures.summaries import summarise
spec = ExperimentSpec(n_train=100, width=64, ensemble_size=4, max_epochs=200, snr_db=10.0)
r = run_experiment(spec)
t1 = time.perf_counter()
summarise(r)
t2 = time.perf_counter()
print(json.dumps({{"run": t1 - t0, "summary": t2 - t1,
                  "slow": [m for m in ("dadapy", "jax", "torch._dynamo") if m in sys.modules]}}))
"""
ARMS = {"before (dadapy + torch._dynamo loaded)":
        "import torch._dynamo\nfrom noisealign.engine.measures.intrinsic_dim import import_dadapy; import_dadapy()",
        "now": ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"load before {os.getloadavg()}")
    times: dict[str, list[float]] = {a: [] for a in ARMS}
    for _ in range(args.repeats):
        for arm, pre in ARMS.items():  # interleaved: both arms see the same load
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", CHILD.format(pre=pre)], cwd=ROOT,
                                 capture_output=True, text=True, check=True)
            times[arm].append(time.perf_counter() - t)
            info = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {arm}: {times[arm][-1]:.2f} s (run {info['run']:.2f}, summary "
                  f"{info['summary']:.2f}, loaded {info['slow']})", flush=True)
    print(f"load after {os.getloadavg()}")
    base = statistics.median(times[next(iter(ARMS))])
    for arm, ts in times.items():
        print(f"| {arm} | best {min(ts):.2f} s | median {statistics.median(ts):.2f} s | "
              f"before / this {base / statistics.median(ts):.2f}x |")


if __name__ == "__main__":
    main()
