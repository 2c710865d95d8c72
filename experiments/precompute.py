"""Build the shipped summaries of the findings presets (engine/precomputed/presets.json).

    python -m experiments.precompute --cache DIR            # compute what is missing, write
    python -m experiments.precompute --cache DIR --cached-only   # write what DIR holds
    python -m experiments.precompute --check                # is every preset point shipped?

For every preset of :data:`engine.presets.PRESETS` it builds the report's exact sweep
(``Sweep(ExperimentSpec(**p["spec"]), {**axes, **series}, replicates=p["replicates"])``),
runs it through a :class:`engine.cache.ResultCache` (only the points the cache lacks are
trained; ``python -m experiments.findings --cache DIR`` fills the same cache) and writes,
per preset, its points' cache keys and their slim summaries (:func:`engine.precomputed.slim`)
with the format, the engine version and the git commit that made them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def preset_sweep(name: str) -> Any:
    """The sweep the findings report ran for preset ``name`` (the report's own
    :func:`experiments.findings.collect.sweep_of`)."""
    from experiments.findings.collect import preset, sweep_of
    return sweep_of(preset(name))


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
        sha = out.stdout.strip() if out.returncode == 0 else ""
        dirty = subprocess.run(["git", "status", "--porcelain", "engine"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if sha and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def build(cache: Any, names: list[str], *, compute: bool, workers: int | None,
          log: Any = print) -> tuple[dict, dict[str, int]]:
    """(file contents, {preset: points missing}) for presets ``names``; with ``compute``
    the missing points are trained first (into ``cache``)."""
    import engine
    from engine import precomputed
    from engine.sweep import run_sweep
    presets: dict[str, list[str]] = {}
    summaries: dict[str, dict] = {}
    missing: dict[str, int] = {}
    for name in names:
        sweep = preset_sweep(name)
        t0 = time.perf_counter()
        if compute:
            for _ in run_sweep(sweep, cache, executor="local", workers=workers,
                               max_sweep_seconds=float("inf")):
                pass
        keys, lacking = [], 0
        for spec in sweep.specs():
            key = cache.key(spec)
            keys.append(key)
            if key in summaries:
                continue
            s = cache.get_summary(spec)
            if s is None:
                lacking += 1
                continue
            summaries[key] = precomputed.slim(s)
        presets[name] = keys
        missing[name] = lacking
        log(f"{name}: {len(keys) - lacking} of {len(keys)} points"
            + (f" ({lacking} missing)" if lacking else "")
            + f" [{time.perf_counter() - t0:.1f} s]")
    data = {"format": precomputed.FORMAT, "engine_version": engine.__version__,
            "commit": _commit(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "presets": presets, "summaries": summaries}
    return data, missing


def check(names: list[str], file: Path, log: Any = print) -> int:
    """How many preset points ``file`` lacks (0: every preset draws on a fresh install)."""
    from engine import precomputed
    data = precomputed.load(file)
    lacking = 0
    for name in names:
        specs = preset_sweep(name).specs()
        n = sum(1 for s in specs if precomputed.cache_key(s) not in data["summaries"])
        lacking += n
        log(f"{name}: {len(specs) - n} of {len(specs)} points shipped")
    log(f"{file}: engine {data.get('engine_version')!r}, commit {data.get('commit')!r}, "
        f"{len(data['summaries'])} summaries; {lacking} preset point(s) missing")
    return lacking


def main(argv: list[str] | None = None) -> int:
    from engine import precomputed
    from engine.presets import PRESETS
    ap = argparse.ArgumentParser(prog="python -m experiments.precompute",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", help="results cache directory (default: the dashboard's, "
                    "$NOISEALIGN_CACHE_DIR or cache/)")
    ap.add_argument("--out", default=str(precomputed.PATH), help="file to write "
                    "(default: %(default)s)")
    ap.add_argument("--presets", default="", help="comma-separated preset names (default: all)")
    ap.add_argument("--cached-only", action="store_true",
                    help="train nothing: write the points the cache holds, list the others")
    ap.add_argument("--check", action="store_true",
                    help="write nothing: count the preset points --out lacks (exit 1 if any)")
    ap.add_argument("--workers", type=int, default=None,
                    help="processes training missing points (default: one per core)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.presets.split(",") if n.strip()] or list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        ap.error(f"--presets: {', '.join(unknown)} unknown: allowed {', '.join(PRESETS)}")
    out = Path(args.out)
    if args.check:
        return 1 if check(names, out) else 0
    from engine.cache import ResultCache
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    data, missing = build(cache, names, compute=not args.cached_only, workers=args.workers)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(out)
    n_missing = sum(missing.values())
    print(f"wrote {out} ({len(text) / 1e6:.2f} MB, {len(data['summaries'])} summaries"
          + (f"; {n_missing} preset points missing" if n_missing else "") + ")")
    return 1 if n_missing else 0


if __name__ == "__main__":
    sys.exit(main())
