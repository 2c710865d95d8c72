"""The guard's memory estimate against measured peak RSS (issue 29 item 9).

Each grid point runs ``run_experiment`` in a fresh child process; the measured figure is
the child's peak RSS (``ru_maxrss``) minus its RSS after importing the engine and torch,
what :attr:`noisealign.engine.compute.guard.Estimate.memory_bytes` predicts ("peak additional host memory").
The grid scales the attack's case (digits, snapshots, n_probe 360, width 16384, K 64,
3 epochs) down to runs of seconds: width and K vary, snapshots 0 or 40.

    python -m benchmarks.bench_guard_memory [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, resource, sys
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) * 1024
import torch
from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.compute.guard import estimate, DEFAULT_CALIBRATIONS
spec = ExperimentSpec.from_dict(json.loads(sys.argv[1]))
est = estimate(spec, calibration=DEFAULT_CALIBRATIONS['cpu'])
base = rss()
run_experiment(spec)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({'measured': peak - base, 'estimate': est.memory_bytes,
                  'parts': est.memory_parts[:4]}))
"""


def grid(quick: bool) -> list[dict]:
    base = {"dataset": "digits", "n_probe": 360, "max_epochs": 3, "device": "cpu", "loss_tol": 0.0}
    points = []
    shapes = ((2048, 8), (4096, 16), (8192, 16), (4096, 32), (2048, 64), (16384, 8),
              (16384, 16), (16384, 32))
    for width, K in shapes if not quick else shapes[:1]:
        for snaps in (0, 40):
            points.append({**base, "width": width, "ensemble_size": K, "snapshots": snaps})
    return points


def measure(point: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(point)],
                         capture_output=True, text=True, check=True,
                         env=dict(os.environ, OMP_NUM_THREADS="2"))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="WIDTHxK,... grid points to run")
    args = ap.parse_args()
    print(f"{'width':>6} {'K':>3} {'snap':>4} {'measured MB':>12} {'estimate MB':>12} "
          f"{'est/meas':>8}  largest parts")
    only = [tuple(map(int, x.split("x"))) for x in args.only.split(",")] if args.only else None
    for p in grid(args.quick):
        if only and (p["width"], p["ensemble_size"]) not in only:
            continue
        r = measure(p)
        ratio = r["estimate"] / r["measured"]
        parts = ", ".join(f"{k} {v / 1e6:.0f}" for k, v in r["parts"])
        print(f"{p['width']:>6} {p['ensemble_size']:>3} {p['snapshots']:>4} "
              f"{r['measured'] / 1e6:>12.0f} {r['estimate'] / 1e6:>12.0f} {ratio:>8.2f}  {parts}",
              flush=True)


if __name__ == "__main__":
    main()
