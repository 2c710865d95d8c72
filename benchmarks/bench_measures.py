"""Exact Information Imbalance and the other measures (issue 3).

1. Exact II, N = 10,000 points, 256 dimensions, both directions: ``noisealign.engine.measures.core``
   (float32, the default, and float64) against dadapy 0.3.4 made exact
   (``MetricComparisons(maxk=N-1).return_information_imbalace(B, subset_size=N)``: every
   rank known, one subset of all N points). Same data file, same run, each arm in its
   own subprocess so that its peak resident memory (``ru_maxrss``) is its own; the
   baseline RSS after imports and loading the data is reported too. Run twice: with
   default threading (2 threads), and with one thread in both arms. Wall and CPU time
   (user + sys of the arm's process) are reported.
2. Time of each measure against N = 1,000 ... 20,000 on one thread (256 dimensions; II both
   directions with k = 1, mutual k-NN with k = 10, linear CKA biased and debiased, TwoNN
   intrinsic dimension via dadapy), with the exponent of a least-squares fit of
   log(time) on log(N); dadapy's exact II for reference where it is affordable.
3. ``noisealign.engine.measures.summaries.summarise`` of a real ensemble: K = 8, N = 500 probe points,
   width 256 (wall and CPU time, median of 5).

The machine's load average is printed with every section: other processes share the CPU.

    python -m benchmarks.bench_measures [--quick] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

DIMS = 256


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A (N, 256) standard normal; B a noisy linear image of A (informative both ways)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, DIMS))
    b = a @ rng.normal(size=(DIMS, DIMS)) * 0.1 + rng.normal(size=(n, DIMS))
    return a, b


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# ------------------------------------------------------------------- 1. head to head
CHILD = textwrap.dedent("""
    import json, os, resource, sys, time, warnings
    import numpy as np
    arm, path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with np.load(path) as z:
        a, b = z["a"], z["b"]
    if arm == "dadapy":
        from noisealign.engine.measures.intrinsic_dim import import_dadapy
        import_dadapy()
        from dadapy.metric_comparisons import MetricComparisons
    else:
        import torch
        from noisealign.engine.measures.core import information_imbalance
    one = os.environ.get("OMP_NUM_THREADS") == "1"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    if arm == "dadapy":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mc = MetricComparisons(coordinates=a, maxk=len(a) - 1,
                                   **({"n_jobs": 1} if one else {}))
            ab, ba = mc.return_information_imbalace(b, k=k, subset_size=len(a))
        vals = [float(ab[0]), float(ba[0])]
    else:
        dtype = torch.float64 if arm == "ours64" else torch.float32
        vals = list(information_imbalance(a, b, k, dtype=dtype))
    secs = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({"arm": arm, "seconds": secs, "cpu": cpu, "values": vals,
                      "base_mb": base / 1024, "peak_mb": r1.ru_maxrss / 1024}))
""")


def run_arm(arm: str, path: str, threads: int | None, k: int = 1) -> dict:
    env = dict(os.environ)
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(threads)
    out = subprocess.run([sys.executable, "-c", CHILD, arm, path, str(k)], check=True,
                         capture_output=True, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


NAMES = {"ours32": "noisealign.engine.measures.core float32 (default)",
         "ours64": "noisealign.engine.measures.core float64", "dadapy": "dadapy exact (maxk=N-1)"}


def head_to_head(n: int, lines: list[str]) -> None:
    a, b = make_data(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, a=a, b=b)
        for threads, title in ((None, "default threads (2)"),
                               (1, ("one thread per arm (OMP/MKL/OpenBLAS_NUM_THREADS=1, "
                                   "dadapy n_jobs=1)"))):
            lines += [f"**{title}** -- load average before: {load()}", ""]
            runs = [run_arm(arm, path, threads)
                    for arm in ("ours32", "ours64", "dadapy", "ours32")]
            ref = runs[2]
            lines += [f"N = {n:,}, {DIMS} dimensions, k = 1, both directions "
                      "(arms in this order; load average after: " + load() + "):", "",
                      ("| arm | wall s | CPU s | Delta(A->B) | Delta(B->A) | max abs diff vs "
                      "dadapy | peak RSS (MB) | RSS before computing (MB) |"),
                      "|---|---:|---:|---:|---:|---:|---:|---:|"]
            for r in runs:
                diff = max(abs(x - y) for x, y in zip(r["values"], ref["values"]))
                lines.append(f"| {NAMES[r['arm']]} | {r['seconds']:.2f} | {r['cpu']:.2f} "
                             f"| {r['values'][0]:.8f} | {r['values'][1]:.8f} | {diff:.1e} "
                             f"| {r['peak_mb']:.0f} | {r['base_mb']:.0f} |")
            ours = [r for r in runs if r["arm"] == "ours32"]
            slow = max(ours, key=lambda r: r["seconds"])
            fast = min(ours, key=lambda r: r["seconds"])
            lines += ["", (f"Speed-up over dadapy, wall time (float32, slower / faster run): "
                      f"{ref['seconds'] / slow['seconds']:.1f}x / "
                      f"{ref['seconds'] / fast['seconds']:.1f}x; float64: "
                      f"{ref['seconds'] / runs[1]['seconds']:.1f}x. CPU time: "
                      f"{ref['cpu'] / max(r['cpu'] for r in ours):.1f}x (float32), "
                      f"{ref['cpu'] / runs[1]['cpu']:.1f}x (float64)."), ""]


# ------------------------------------------------------------------------ 2. scaling
def scaling(ns: list[int], dadapy_max: int, lines: list[str]) -> None:
    import torch

    from noisealign.engine.measures import core as measures
    from noisealign.engine.measures.intrinsic_dim import import_dadapy
    import_dadapy()
    from dadapy.metric_comparisons import MetricComparisons

    timed = {
        "II (both directions, k=1)": lambda a, b: measures.information_imbalance(a, b),
        "mutual k-NN (k=10)": lambda a, b: measures.mutual_knn(a, b, 10),
        "linear CKA": lambda a, b: measures.linear_cka(a, b),
        "linear CKA debiased": lambda a, b: measures.linear_cka(a, b, True),
        "intrinsic dim. TwoNN (A)": lambda a, b: measures.intrinsic_dimension(a),
    }

    def dadapy_ii(a: np.ndarray, b: np.ndarray) -> None:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MetricComparisons(coordinates=a, maxk=len(a) - 1, n_jobs=1
                              ).return_information_imbalace(b, k=1, subset_size=len(a))

    rows: dict[str, list[float]] = {name: [] for name in timed}
    rows["dadapy exact II (reference)"] = []
    lines.append(f"Load average before: {load()}; torch threads: {torch.get_num_threads()}")
    for n in ns:
        a, b = make_data(n, seed=n)
        for name, fn in timed.items():
            t = time.perf_counter()
            fn(a, b)
            rows[name].append(time.perf_counter() - t)
        if n <= dadapy_max:
            t = time.perf_counter()
            dadapy_ii(a, b)
            rows["dadapy exact II (reference)"].append(time.perf_counter() - t)
        print(f"  N={n}: " + ", ".join(f"{k.split(' (')[0]} {v[-1]:.2f}s"
                                       for k, v in rows.items() if len(v) == ns.index(n) + 1),
              file=sys.stderr, flush=True)
    lines.append(f"Load average after: {load()}")
    lines += ["", "Seconds (256 dimensions):", "",
              "| measure | " + " | ".join(f"N={n:,}" for n in ns)
              + " | exponent, fit over all N | exponent, fit over the 3 largest N |",
              "|---|" + "---:|" * (len(ns) + 2)]
    for name, ts in rows.items():
        cells = [f"{t:.3f}" for t in ts] + ["-"] * (len(ns) - len(ts))
        x, y = np.log(ns[:len(ts)]), np.log(ts)
        fit = np.polyfit(x, y, 1)[0] if len(ts) >= 2 else np.nan
        top = np.polyfit(x[-3:], y[-3:], 1)[0] if len(ts) >= 3 else np.nan
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fit:.2f} | {top:.2f} |")


def run_scaling(quick: bool) -> list[str]:
    """The scaling table in a child process with one thread everywhere (torch, BLAS,
    OpenMP, dadapy/sklearn): with two threads on a shared, loaded CPU the small sizes
    measure thread wake-up stalls (up to ~1 s per call) rather than work."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    cmd = [sys.executable, "-m", "benchmarks.bench_measures", "--scaling-only"] + (
        ["--quick"] if quick else [])
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- 3. summarise
def summarise_time(lines: list[str], quick: bool) -> None:
    import torch

    from noisealign.engine import ExperimentSpec, run_experiment
    from noisealign.engine.measures.summaries import summarise
    spec = ExperimentSpec(dataset="gaussian-mixture", dataset_params={"d": 20},
                          noise="label", label_noise=0.2, n_train=200,
                          n_probe=200 if quick else 500, width=256, ensemble_size=8,
                          max_epochs=20, device="cpu")
    result = run_experiment(spec)
    summarise(result)  # warm-up
    lines.append(f"Load average before: {load()}")
    for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
        torch.set_num_threads(threads)
        walls, cpus = [], []
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            summarise(result)
            walls.append(time.perf_counter() - t)
            cpus.append(time.process_time() - c)
        lines.append(f"- torch threads {threads}: wall {statistics.median(walls):.3f} s "
                     f"(min {min(walls):.3f}), CPU {statistics.median(cpus):.3f} s "
                     f"(median of 5; K=8, N={spec.n_probe}, width 256)")
    lines.append(f"Load average after: {load()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small smoke version")
    ap.add_argument("--out", help="also write the markdown to this file")
    ap.add_argument("--scaling-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import torch
    n_main = 1000 if args.quick else 10_000
    ns = [500, 1000, 2000] if args.quick else [1000, 2000, 5000, 10_000, 20_000]
    if args.scaling_only:  # the child of run_scaling: print the table's lines as JSON
        lines: list[str] = []
        scaling(ns, 2000 if args.quick else 5000, lines)
        print(json.dumps(lines))
        return
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
             f"{np.__version__}, Python {platform.python_version()}"
             + (" -- QUICK smoke run" if args.quick else ""), "",
             "### Exact Information Imbalance against dadapy", ""]
    head_to_head(n_main, lines)
    lines += ["", "### Scaling with N (one thread)", ""]
    lines += run_scaling(args.quick)
    lines += ["", "### summarise() of a K = 8 ensemble", ""]
    summarise_time(lines, args.quick)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
