"""The command line: ``python -m experiments.findings [--quick] [--only ...]`` from the
repository root (``--help`` for every option). Collects the points, decides the claims,
draws the figures and writes the report."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

from experiments import findings
from experiments.findings.claims import analyse
from experiments.findings.collect import (
    FIGURES,
    OPTIONAL,
    RunLog,
    collect,
    collect_over_training,
    optional_figures,
)
from experiments.findings.figures import make_figures
from experiments.findings.report import add_notes, run_record, write_report
from noisealign.engine.store.cache import ResultCache

ROOT = Path(__file__).resolve().parents[2]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.findings",
                                 description=findings.__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small-scale run (minutes)")
    ap.add_argument("--workers", type=int, default=None,
                    help="sweep worker processes (default: one per core)")
    ap.add_argument("--executor", default="local", choices=["local", "serial", "dask"])
    ap.add_argument("--cache", default=None,
                    help="results cache directory (default: $NOISEALIGN_CACHE_DIR or <repo>/cache)")
    ap.add_argument("--cache-gb", type=float, default=8.0,
                    help="size limit of the results cache in GiB (default 8)")
    ap.add_argument("--out", default=None,
                    help="report directory (default: docs/, or test-artifacts/findings-quick/ "
                         "with --quick)")
    ap.add_argument("--only", default=None,
                    help="comma-separated figure names (default: all, and "
                    + ", ".join(OPTIONAL) + " where its data files are present): "
                    + ", ".join(FIGURES))
    args = ap.parse_args(argv)
    if not 0.01 <= args.cache_gb <= 10_000:
        raise SystemExit(f"--cache-gb={args.cache_gb} is invalid: allowed 0.01 to 10000")
    if args.workers is not None and args.workers < 1:
        raise SystemExit(f"--workers={args.workers} is invalid: allowed an integer >= 1")
    names = ([*FIGURES, *optional_figures()] if not args.only
             else [n.strip() for n in args.only.split(",")])
    for n in names:
        if n not in FIGURES and n not in OPTIONAL:
            raise SystemExit(f"--only figure {n!r} is invalid: allowed "
                             f"{', '.join([*FIGURES, *OPTIONAL])}")
    out = Path(args.out) if args.out else (ROOT / ("test-artifacts/findings-quick" if args.quick
                                                   else "docs"))
    # The full run keeps about 3 GB of results (the MNIST-1D runs hold 2000 probe points x
    # up to 2048 units per member and layer); under the dashboard's default limit the
    # cache would evict the first figures' runs while the last ones are computed.
    cache = ResultCache(args.cache, size_limit=int(args.cache_gb * 2**30))
    print(f"cache: {cache.directory}; report: {out}")
    load_before = os.getloadavg()
    log = RunLog()
    t0 = time.perf_counter()
    data = collect(names, quick=args.quick, cache=cache, executor=args.executor,
                   workers=args.workers, log=log)
    over = ({} if args.only else
            collect_over_training(quick=args.quick, cache=cache, executor=args.executor,
                                  workers=args.workers, log=log))
    log.wall_seconds = time.perf_counter() - t0
    claims = analyse(data)
    notes = add_notes(claims, data)  # per-claim notes go into claims[...]["note"]
    info = run_record(out, log, args.workers, args.quick, load_before)
    info["notes"] = notes
    make_figures(data, claims, out / "figures", over)
    path = write_report(data, claims, out, args.quick, info, over)
    print(f"computed {log.computed} points, {log.cached} from cache, "
          f"{log.wall_seconds:.0f} s; report: {path}")
    for k, c in claims.items():
        print(f"claim {k}: {c['status']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
