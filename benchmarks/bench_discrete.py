"""Exact Information Imbalance against a label vector (issue 16).

Delta(h -> labels) for h of N x 32 float32 and 10 classes, against the code before the
discrete-space path (``engine/measures/core.py`` at commit fa6afa2, loaded from git into a
temporary module, so both arms run in the same session on the same data):

- *before*: ``information_imbalance(h, y)[0]`` -- the only way then, both directions,
  whose Delta(y -> h) sorts every row of h;
- *now, one direction*: ``information_imbalance_to(h, y)`` -- ranks in y from the
  per-class table, neighbours in h by the two-stage search;
- *now, both directions*: ``information_imbalance(h, y)`` (Delta(y -> h) still sorts).

Each arm runs in its own child process (one at a time) and reports wall and CPU time and
its values; the values must agree. The load average is printed before and after.

    python benchmarks/bench_discrete.py [--n 50000] [--both-max 10000] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "fa6afa2"

CHILD = textwrap.dedent("""
    import json, resource, sys, time
    import numpy as np
    sys.path.insert(0, {root!r})
    arm, path, old_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    with np.load(path) as z:
        h, y = z["h"], z["y"]
    if arm == "before":
        sys.path.insert(0, old_dir)
        import old_measures as m
    else:
        from noisealign.engine.measures import core as m
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    if arm == "now_to":
        vals = [m.information_imbalance_to(h, y), None]
    else:
        vals = list(m.information_imbalance(h, y))
    secs = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    print(json.dumps({{"arm": arm, "seconds": secs, "cpu": cpu, "values": vals,
                      "peak_mb": r1.ru_maxrss / 1024}}))
""").format(root=str(ROOT))

NAMES = {"before": f"before ({OLD_COMMIT}): information_imbalance(h, y), both directions",
         "now_to": "now: information_imbalance_to(h, y), Delta(h -> y) only",
         "now_both": "now: information_imbalance(h, y), both directions"}


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def run_arm(arm: str, data: str, old_dir: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, arm, data, old_dir], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(n: int, both: bool, old_dir: str, lines: list[str]) -> None:
    rng = np.random.default_rng(n)
    y = rng.integers(0, 10, size=n)
    h = (rng.normal(size=(n, 32)) + 0.5 * np.eye(10)[y] @ rng.normal(size=(10, 32))
         ).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.npz")
        np.savez(data, h=h, y=y)
        before_load = load()
        arms = ["now_to", "before"] + (["now_both"] if both else [])
        runs = [run_arm(a, data, old_dir) for a in arms]
    base = next(r for r in runs if r["arm"] == "before")
    lines += [(f"N = {n:,}, 32 dimensions, 10 classes, k = 1 (load average {before_load} "
              f"before, {load()} after):"), "",
              ("| arm | wall s | CPU s | Delta(h -> y) | Delta(y -> h) | wall ratio to before "
              "| peak RSS MB |"), "|---|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        ab, ba = r["values"]
        assert abs(ab - base["values"][0]) < 1e-9, (r, base)
        lines.append(f"| {NAMES[r['arm']]} | {r['seconds']:.2f} | {r['cpu']:.2f} | {ab:.8f} "
                     f"| {'-' if ba is None else f'{ba:.8f}'} "
                     f"| {base['seconds'] / r['seconds']:.1f}x | {r['peak_mb']:.0f} |")
    lines.append("")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--both-max", type=int, default=10_000,
                    help="run the 'now, both directions' arm up to this N")
    ap.add_argument("--out", help="also write the markdown to this file")
    args = ap.parse_args()
    import torch
    lines = [(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
             f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
             f"{np.__version__}"), ""]
    with tempfile.TemporaryDirectory() as old_dir:
        src = subprocess.run(["git", "show", f"{OLD_COMMIT}:engine/measures/core.py"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
        Path(old_dir, "old_measures.py").write_text(src)
        for n in args.n:
            bench(n, n <= args.both_max, old_dir, lines)
            print("\n".join(lines[-8:]), file=sys.stderr, flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
