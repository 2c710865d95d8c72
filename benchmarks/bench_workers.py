"""The dashboard's sweep job: today's serial job against warm workers (issue 30 item 2).

Arms, each into its own empty cache, same run, arms alternating per repeat:

- ``serial``: ``JobManager(cache)``, the job trains its points one after another in its
  thread (the code before the warm pool);
- ``pool``: ``JobManager(cache, pool=WarmPool())`` with the pool started beforehand (as
  the dashboard starts it with its first page), ``$NOISEALIGN_WORKERS`` processes
  (default: the cores), one torch thread each.

Sizes: the alignment explorer's default view (18 points, read from the page itself:
experiments.precompute.view_specs), the mid-lecture change (6 new points: one more SNR
curve, 30 dB), and 4 bigger points (n = 1000, width 256, K = 4, 300 epochs).
Prints the machine load and the matmul kernel beside every figure.

    python -m benchmarks.bench_workers [--repeats 1] [--sizes default,change,big]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

from noisealign.engine.compute.jobs import DONE, JobManager
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.compute.workers import WarmPool
from noisealign.engine.store.cache import ResultCache


def kernel() -> str:
    import torch
    cfg = torch.__config__.show()
    blas = "MKL" if "MKL" in cfg else ("OpenBLAS" if "OpenBLAS" in cfg else "unknown BLAS")
    return f"torch {torch.__version__}, {blas}, {torch.get_num_threads()} threads by default"


def default_view() -> Sweep:
    from experiments.precompute import view_specs
    specs = view_specs(["alignment"])["alignment"]
    base = specs[0]
    ns = sorted({s.n_train for s in specs})
    snrs = sorted({s.snr_db for s in specs})
    sweep = Sweep(base, {"n_train": ns, "snr_db": snrs})
    assert sorted(s.content_hash() for s in sweep.specs()) == sorted(
        s.content_hash() for s in specs)
    return sweep


def sizes() -> dict[str, Sweep]:
    view = default_view()
    ns = list(view.axes["n_train"])
    change = Sweep(dataclasses.replace(view.base, snr_db=30.0), {"n_train": ns})
    big = Sweep(dataclasses.replace(view.base, n_train=1000, width=256, max_epochs=300),
                {"seed": [0, 1, 2, 3]})
    return {"default": view, "change": change, "big": big}


def arm(sweep: Sweep, pool: WarmPool | None) -> float:
    with tempfile.TemporaryDirectory() as d:
        cache = ResultCache(d)
        m = JobManager(cache, pool=pool)
        try:
            t = time.perf_counter()
            job = m.submit_sweep(sweep, "bench")
            assert job.wait(3600) and job.status == DONE, job.view()
            wall = time.perf_counter() - t
            assert len(cache.entries()) == len(sweep)
        finally:
            m.shutdown(cancel=True, wait=True)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--sizes", default="default,change,big")
    args = ap.parse_args()
    print(f"kernel: {kernel()}; cores {os.cpu_count()}")
    pool = WarmPool()
    t = time.perf_counter()
    pool.warm(wait=True)
    print(f"warm pool: {pool}, started in {time.perf_counter() - t:.1f} s (untimed below)")
    all_sizes = sizes()
    for name in [s for s in args.sizes.split(",") if s]:
        sweep = all_sizes[name]
        for r in range(args.repeats):
            order = [("serial", None), ("pool", pool)] if r % 2 == 0 else \
                [("pool", pool), ("serial", None)]
            walls = {}
            for label, p in order:
                load0 = os.getloadavg()[0]
                walls[label] = arm(sweep, p)
                print(f"  {name} ({len(sweep)} points) {label}: {walls[label]:.1f} s "
                      f"(load {load0:.1f} -> {os.getloadavg()[0]:.1f})", flush=True)
            print(f"{name} ({len(sweep)} points) repeat {r + 1}: serial "
                  f"{walls['serial']:.1f} s, pool {walls['pool']:.1f} s, "
                  f"pool is {walls['serial'] / walls['pool']:.2f}x", flush=True)
    pool.close()


if __name__ == "__main__":
    main()
