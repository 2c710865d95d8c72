"""The measures at large N on one device: exact II (both directions), Delta(h -> labels),
mutual k-NN and linear CKA.

    python -m benchmarks.bench_gpu_measures [--device cuda] [--n 100000] [--out FILE.md]

Prints a markdown table of wall times (the device synchronised after each call) and
checks, at a small N, that the device gives the CPU's values. ``--n 2000 --device cpu``
is the CPU-only dry run that CI uses.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main() -> None:
    import torch

    from noisealign.engine.measures import core as measures

    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_gpu_measures")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=64)
    ap.add_argument("--out", help="append the markdown to this file")
    args = ap.parse_args()
    device = torch.device(args.device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    rng = np.random.default_rng(0)
    n, d = args.n, args.dims
    a = rng.normal(size=(n, d)).astype(np.float32)
    b = (a @ rng.normal(size=(d, d)) * 0.3 + rng.normal(size=(n, d))).astype(np.float32)
    labels = rng.integers(0, 10, size=n)

    # The device must agree with the CPU (small N, where the CPU is quick).
    small = slice(0, 2000)
    ref = measures.information_imbalance(a[small], b[small], 1, device="cpu")
    got = measures.information_imbalance(a[small], b[small], 1, device=device)
    assert np.allclose(ref, got, atol=1e-6), (ref, got)

    rows = []
    for name, fn in (
            ("II, both directions (k = 1)",
             lambda: measures.information_imbalance(a, b, 1, device=device)),
            ("Delta(h -> labels), 10 classes",
             lambda: measures.information_imbalance_to(a, labels, 1, device=device)),
            ("mutual k-NN (k = 10)", lambda: measures.mutual_knn(a, b, 10, device=device)),
            ("linear CKA", lambda: measures.linear_cka(a, b, device=device))):
        sync()
        t = time.perf_counter()
        value = fn()
        sync()
        rows.append((name, time.perf_counter() - t, value))
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else platform.processor() or platform.machine())
    lines = [(f"Measures at N = {n:,}, {d} dimensions on {device.type} ({name}); load average "
             f"{os.getloadavg()[0]:.1f}; device values equal the CPU's at N = 2,000."), "",
             "| measure | wall s | value |", "|---|---|---|"]
    for label, seconds, value in rows:
        shown = ", ".join(f"{v:.4f}" for v in np.atleast_1d(value))
        lines.append(f"| {label} | {seconds:.2f} | {shown} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
