"""Speed of the analytic linear theory (issue 4): a 500-point curve for the dashboard.

Times :func:`engine.theory.curves` (d = 100, SNR 10, n from 1 to 300) without and with
weight decay (which adds the self-consistent ridge solve), against a baseline in the
same run: the bare closed forms of docs/science.md 3 (rho and test error, no threshold
handling, no finite-d terms) on the same 500 points. Reports the median of many
repetitions in milliseconds and as a ratio to the baseline. Target: under 50 ms.

    python -m benchmarks.bench_theory [--reps 200]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from noisealign.engine import theory


def bare_formulas(n: np.ndarray, d: float, snr: float) -> tuple[np.ndarray, np.ndarray]:
    s2 = 1.0 / snr
    gap = np.abs(n - d) - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 / (1.0 + d / (gap * snr))
        err = np.where(n < d, (1 - n / d) + s2 * n / gap, s2 * d / gap)
    return rho, err


def median_ms(fn, reps: int) -> float:
    fn()  # warm up (first call builds nothing, but imports and caches settle)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=200)
    args = ap.parse_args(argv)
    n = np.linspace(1, 300, 500)
    base = median_ms(lambda: bare_formulas(n, 100.0, 10.0), args.reps)
    rows = [("bare docs/science.md formulas (baseline)", base),
            # the closed form without the tabulated exact-threshold correction (issue 26)
            ("theory(), closed form only (exact_threshold=False)",
             median_ms(lambda: theory.theory(n, 100.0, 10.0, exact_threshold=False),
                       args.reps))]
    for label, kw in (("curves(), no weight decay", {}),
                      ("curves(), weight_decay = 0.1", {"weight_decay": 0.1}),
                      ("curves(), ridge = 0.1 given", {"ridge": 0.1})):
        rows.append((label, median_ms(lambda kw=kw: theory.curves(100, 10.0, n, **kw), args.reps)))
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}")
    print("| 500-point curve (d = 100, SNR 10) | median ms | x baseline |")
    print("|---|---|---|")
    for label, ms in rows:
        print(f"| {label} | {ms:.3f} | {ms / base:.0f} |")
    worst = max(ms for _, ms in rows[1:])
    print(f"\nslowest curve {worst:.2f} ms: {'within' if worst < 50 else 'OVER'} the 50 ms target")
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
