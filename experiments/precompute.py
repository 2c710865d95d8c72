"""Build the shipped summaries of the findings presets and of the pages' default views
(engine/precomputed/presets.json).

    python -m experiments.precompute --cache DIR            # compute what is missing, write
    python -m experiments.precompute --cache DIR --cached-only   # write what DIR holds
    python -m experiments.precompute --check                # is every point shipped?

For every preset of :data:`noisealign.engine.presets.catalog.PRESETS` it builds the report's exact sweep
(``Sweep(ExperimentSpec(**p["spec"]), {**axes, **series}, replicates=p["replicates"])``),
runs it through a :class:`noisealign.engine.store.cache.ResultCache` (only the points the cache lacks are
trained; ``python -m experiments.findings --cache DIR`` fills the same cache) and writes,
per preset, its points' cache keys and their slim summaries (:func:`noisealign.engine.presets.shipped.slim`)
with the format, the engine version and the git commit that made them.

The default view of every page (:data:`VIEWS`: the alignment explorer's sweep, the
information page's, the theory page's simulations) ships the same way, so a fresh install
draws each page's first figure at once. Its points are read from the page itself
(:func:`view_specs` opens it with its default controls through Streamlit's AppTest), so a
changed default is caught by ``--check`` instead of being defined a second time here.
A point the cache lacks but the file being rewritten already holds (same cache key, so
same engine version and settings) is kept from that file.
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


# page -> its script: the pages whose default view ships with the app
VIEWS = {"alignment": "pages/alignment.py", "information": "pages/information.py",
         "theory": "pages/theory.py"}


def view_specs(pages: list[str] | None = None) -> dict[str, list]:
    """{page: the specs its default view draws} for ``pages`` (default :data:`VIEWS`).

    Each page runs once through Streamlit's AppTest with its default controls, Auto-run
    off, an empty temporary results cache and no shipped file, and reports the specs of
    its figure (:func:`noisealign.ui.page_support.record_view`). Nothing is trained.
    """
    import os
    import tempfile

    from streamlit.testing.v1 import AppTest

    from noisealign.engine.presets import shipped as precomputed
    from noisealign.ui.page_support import VIEW_SPECS
    names = list(VIEWS) if pages is None else pages
    env = {"NOISEALIGN_CACHE_DIR": None, precomputed.ENV_VAR: "0", "NOISEALIGN_POOL": "0"}
    saved = {k: os.environ.get(k) for k in env}
    out: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="noisealign-views-") as tmp:
        os.environ["NOISEALIGN_CACHE_DIR"] = tmp
        os.environ[precomputed.ENV_VAR] = "0"
        os.environ["NOISEALIGN_POOL"] = "0"  # nothing trains here: no worker processes
        try:
            for name in names:
                at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
                at.query_params["auto"] = "false"
                at.switch_page(VIEWS[name])
                at.run()
                if at.exception:
                    raise RuntimeError(f"page {name!r} failed: {at.exception[0].message}")
                try:
                    out[name] = list(at.session_state[VIEW_SPECS])
                except KeyError:
                    raise RuntimeError(f"page {name!r} drew no sweep with its default "
                                       "controls") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return out


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10, check=False)
        sha = out.stdout.strip() if out.returncode == 0 else ""
        dirty = subprocess.run(["git", "status", "--porcelain", "engine"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return sha + ("+dirty" if sha and dirty else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def build(cache: Any, names: list[str], *, compute: bool, workers: int | None,
          log: Any = print, views: dict[str, list] | None = None,
          keep: dict[str, dict] | None = None) -> tuple[dict, dict[str, int]]:
    """(file contents, {preset or "view:<page>": points missing}) for presets ``names``
    and the default views ``views`` ({page: specs}, :func:`view_specs`); with ``compute``
    the missing points are trained first (into ``cache``). ``keep``: slim summaries by
    cache key (the file being rewritten) used for points the cache lacks."""
    from noisealign import engine
    from noisealign.engine.compute.sweep import run_sweep
    from noisealign.engine.presets import shipped as precomputed
    keep = keep or {}
    presets: dict[str, list[str]] = {}
    shipped_views: dict[str, list[str]] = {}
    summaries: dict[str, dict] = {}
    missing: dict[str, int] = {}

    def collect(label: str, specs: list) -> list[str]:
        keys, lacking = [], 0
        for spec in specs:
            key = cache.key(spec)
            keys.append(key)
            if key in summaries:
                continue
            s = cache.get_summary(spec)
            if s is not None:
                summaries[key] = precomputed.slim(s)
            elif key in keep:
                summaries[key] = keep[key]
            else:
                lacking += 1
        missing[label] = lacking
        return keys

    for name in names:
        sweep = preset_sweep(name)
        t0 = time.perf_counter()
        if compute and any(cache.key(s) not in keep for s in sweep.specs()):
            for _ in run_sweep(sweep, cache, executor="local", workers=workers,
                               max_sweep_seconds=float("inf")):
                pass
        presets[name] = keys = collect(name, sweep.specs())
        lacking = missing[name]
        log(f"{name}: {len(keys) - lacking} of {len(keys)} points"
            + (f" ({lacking} missing)" if lacking else "")
            + f" [{time.perf_counter() - t0:.1f} s]")
    for page, specs in (views or {}).items():
        t0 = time.perf_counter()
        if compute:
            for spec in specs:
                if cache.key(spec) not in keep:
                    cache.get_or_compute(spec)
        shipped_views[page] = keys = collect(f"view:{page}", specs)
        lacking = missing[f"view:{page}"]
        log(f"default view of {page}: {len(keys) - lacking} of {len(keys)} points"
            + (f" ({lacking} missing)" if lacking else "")
            + f" [{time.perf_counter() - t0:.1f} s]")
    data = {"format": precomputed.FORMAT, "engine_version": engine.__version__,
            "commit": _commit(),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "presets": presets, "views": shipped_views, "summaries": summaries}
    return data, missing


def check(names: list[str], file: Path, log: Any = print,
          views: dict[str, list] | None = None) -> int:
    """How many points of the presets ``names`` and of the default views ``views``
    ({page: specs}) ``file`` lacks (0: each draws at once on a fresh install)."""
    from noisealign.engine.presets import shipped as precomputed
    data = precomputed.load(file)
    groups = [(name, preset_sweep(name).specs()) for name in names]
    groups += [(f"default view of {page}", specs) for page, specs in (views or {}).items()]
    lacking = 0
    for label, specs in groups:
        n = sum(1 for s in specs if precomputed.cache_key(s) not in data["summaries"])
        lacking += n
        log(f"{label}: {len(specs) - n} of {len(specs)} points shipped")
    log(f"{file}: engine {data.get('engine_version')!r}, commit {data.get('commit')!r}, "
        f"{len(data['summaries'])} summaries; {lacking} point(s) missing")
    return lacking


def main(argv: list[str] | None = None) -> int:
    from noisealign.engine.presets import shipped as precomputed
    from noisealign.engine.presets.catalog import PRESETS
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
    ap.add_argument("--views", default=",".join(VIEWS), help="comma-separated pages whose "
                    "default view ships (default: %(default)s; '' for none)")
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.presets.split(",") if n.strip()] or list(PRESETS)
    unknown = [n for n in names if n not in PRESETS]
    if unknown:
        ap.error(f"--presets: {', '.join(unknown)} unknown: allowed {', '.join(PRESETS)}")
    pages = [n.strip() for n in args.views.split(",") if n.strip()]
    unknown = [n for n in pages if n not in VIEWS]
    if unknown:
        ap.error(f"--views: {', '.join(unknown)} unknown: allowed {', '.join(VIEWS)}")
    out = Path(args.out)
    views = view_specs(pages) if pages else {}
    if args.check:
        return 1 if check(names, out, views=views) else 0
    from noisealign.engine.store.cache import ResultCache
    cache = ResultCache(args.cache) if args.cache else ResultCache()
    data, missing = build(cache, names, compute=not args.cached_only, workers=args.workers,
                          views=views, keep=precomputed.load(out)["summaries"])
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, separators=(",", ":"), sort_keys=True, allow_nan=False)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(out)
    n_missing = sum(missing.values())
    print(f"wrote {out} ({len(text) / 1e6:.2f} MB, {len(data['summaries'])} summaries"
          + (f"; {n_missing} points missing" if n_missing else "") + ")")
    return 1 if n_missing else 0


if __name__ == "__main__":
    sys.exit(main())
