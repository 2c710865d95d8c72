"""Command line: ``python -m engine run ...`` (one ensemble) and other subcommands.

Every spec field is a flag (``--n-train``, ``--snr-db``...); ``--level`` sets the noise
level of the chosen kind (SNR in dB for target/input noise, the rate p for label noise).

A failure is one line on stderr (``error: ...``), never a traceback, with an exit code
that says what kind it was (:data:`EXIT_CODES`): 2 bad input, 3 a run or sweep point
that failed, 4 out of memory, 5 the environment (a file that cannot be written, a
network or disk error), 130 interrupted. Results are stored in the cache before any
output file is written, so a failed ``--out`` loses nothing: rerunning loads them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..base.units import format_bytes, format_clock
from ..pipeline.spec import (
    LEVEL_FIELD,
    NATURAL_NOISE,
    SPEC_FIELDS,
    ExperimentSpec,
    level_field,
    noise_for_level,
)
from .app_command import add_app_command, app_command, config_flags, find_app  # noqa: F401  (public here too)
from .compare_command import add_compare_command
from .text import parse_value, print_json, short_value, show_value, text_table

if TYPE_CHECKING:  # annotations only: the sweep loads when a command uses it
    from ..compute.grid import Sweep, SweepProgress

_SHORT = {"ensemble_size": ["-K"]}

EXIT_USAGE = 2        # bad input: a flag, a spec value, an --out name
EXIT_FAILED = 3       # a run or sweep point failed while computing
EXIT_MEMORY = 4       # out of memory
EXIT_ENVIRONMENT = 5  # the system refused: unwritable file, disk full, network
EXIT_INTERRUPTED = 130
EXIT_CODES = {"usage": EXIT_USAGE, "failed": EXIT_FAILED, "memory": EXIT_MEMORY,
              "environment": EXIT_ENVIRONMENT, "interrupted": EXIT_INTERRUPTED}
OUT_SUFFIXES = (".csv", ".json")  # what sweep --out writes (noisealign.engine.compute.export.write_table)


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per spec field; unset flags keep the spec's defaults."""
    from ..pipeline.constraints import FIELDS, Interval
    from ..pipeline.datasets import DATASETS
    for f in dataclasses.fields(ExperimentSpec):
        if f.name == "dataset_params":
            continue
        flag = "--" + f.name.replace("_", "-")
        rule = FIELDS.get(f.name)
        allowed = "one of " + ", ".join(DATASETS) if rule is None else rule.allowed()
        if rule is not None and rule.unit:
            allowed += f", in {rule.unit}"
        if isinstance(rule, Interval) and rule.inf_means:
            allowed += f" (inf: {rule.inf_means})"
        p.add_argument(*_SHORT.get(f.name, []), flag, dest=f.name, type=parse_value,
                       default=None, help=f"{allowed} (default: {f.default!r})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a dataset parameter, e.g. --param d=100 (repeatable)")
    p.add_argument("--level", type=parse_value, default=None,
                   help="noise level: SNR in dB (target/input noise) or rate p (label noise)")


def implied_noise(dataset: str, axes: Sequence[str] = ()) -> str:
    """The noise kind a command means when --noise is not given.

    An ``snr_db`` axis implies target noise (regression) or input noise
    (classification); a ``label_noise`` axis implies label noise; otherwise the
    dataset's natural kind (the spec's ``noise='auto'``).
    """
    from ..pipeline.datasets import DATASETS
    info = DATASETS.get(dataset)
    task = info.task if info is not None else "regression"
    for field in ("snr_db", "label_noise"):
        if field in axes:
            return noise_for_level(field, task)
    return NATURAL_NOISE[task]


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    kw = {k: getattr(args, k) for k in SPEC_FIELDS
          if k != "dataset_params" and getattr(args, k, None) is not None}
    params = {}
    for item in args.param:
        if "=" not in item:
            raise ValueError(f"--param {item!r} is invalid: allowed NAME=VALUE")
        name, value = item.split("=", 1)
        params[name.strip()] = parse_value(value)
    if params:
        kw["dataset_params"] = params
    if args.level is not None:
        kind = kw.get("noise", ExperimentSpec.noise)
        if kind == "auto":
            kind = implied_noise(kw.get("dataset", ExperimentSpec.dataset))
        field = level_field(kind) if kind in LEVEL_FIELD else None
        if field is None:
            raise ValueError("--level is invalid with --noise none: choose a noise kind")
        kw[field] = args.level
    if "task" not in kw:
        kw["task"] = "auto"
    spec = ExperimentSpec(**kw)
    # The spec resets a level its noise kind does not use (so equal experiments hash
    # equally); a level typed on the command line for a task without that noise would
    # then be dropped without a word.
    if getattr(args, "label_noise", None) is not None and spec.task == "regression":
        raise ValueError(f"--label-noise {show_value(args.label_noise)} is invalid for dataset "
                         f"{spec.dataset!r} (a regression task): label noise applies to "
                         "classification datasets only; for regression use --noise target "
                         "with --snr-db")
    kind = getattr(args, "label_noise_kind", None)
    if kind is not None and kind != spec.label_noise_kind:  # the spec reset it: not used
        raise ValueError(f"--label-noise-kind {show_value(kind)} is invalid for dataset "
                         f"{spec.dataset!r} with noise {spec.noise!r}: it applies only to "
                         "label noise (--noise label --label-noise > 0) on a "
                         "classification dataset")
    return spec


def check_out(value: str, targets: Sequence[Path]) -> None:
    """Refuse an ``--out`` that could not be written, before any work: its folder must
    exist and be writable and no target may be a folder (ValueError naming it)."""
    out = Path(value)
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ValueError(f"--out {show_value(str(value))} is invalid: its folder {show_value(str(folder))} "
                         "does not exist or is not writable")
    for target in targets:
        if target.is_dir():
            raise ValueError(f"--out {show_value(str(value))} is invalid: {target} is a folder")


def _write_failed(value: str, e: OSError, cache_dir: Any) -> OSError:
    """The error for an output file that could not be written after the work was done."""
    where = (f"the results are in the cache ({cache_dir}): rerun the same command with a "
             "writable --out to write them without computing again") if cache_dir else (
             "the result was not cached (--no-cache)")
    return OSError(f"could not write --out {show_value(str(value))} ({e.strerror or e}); {where}")


class Progress:
    """Progress on stderr: a live line redrawn with ``\r`` on a terminal; elsewhere (a
    redirected log, a CI job) plain lines, at most one per ``every`` seconds plus the
    last, so a log file holds no ``\r`` frames."""

    def __init__(self, quiet: bool = False, every: float = 10.0, stream: Any = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.quiet = quiet
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = every
        self._last = -math.inf
        self._drawn = False

    def show(self, text: str, final: bool = False) -> None:
        if self.quiet:
            return
        if self.live:
            print("\r" + text, end="", file=self.stream, flush=True)
            self._drawn = True
            return
        now = time.monotonic()
        if final or now - self._last >= self.every:
            print(text, file=self.stream, flush=True)
            self._last = now

    def end(self) -> None:
        """Finish a live line (a newline), nothing otherwise."""
        if self._drawn:
            print(file=self.stream, flush=True)
            self._drawn = False


def _mean(summary: dict, *path: str) -> Any:
    v: Any = summary
    for p in path:
        v = v.get(p) if isinstance(v, dict) else None
    return v.get("mean") if isinstance(v, dict) else v


def headline(summary: dict) -> dict:
    """The numbers ``run`` prints: members' mean test error, mean pairwise linear CKA,
    II score and mutual k-NN over the probe set, with N (probe points), k (the II's
    neighbours) and knn_k (mutual k-NN's)."""
    return {"N": summary.get("N"), "k": summary.get("k"), "knn_k": summary.get("knn_k"),
            "layer": summary.get("layer"),
            "test_error": _mean(summary, "test_error"),
            "cka": _mean(summary, "measures", "cka"),
            "ii_score": _mean(summary, "measures", "ii_score"),
            "mknn": _mean(summary, "measures", "mknn")}


def _write_run_files(args: argparse.Namespace, spec: ExperimentSpec, result: Any,
                     head: dict, summary: dict, cache: Any) -> list[str]:
    """``--out NAME``: NAME.json and NAME.npz (the result) and NAME.summary.json (every
    summary number); the files written."""
    out = Path(args.out)
    meta, npz = result.to_bytes(representations=True)
    from ..compute.export import json_safe
    summary_text = json.dumps(json_safe({"spec": spec.to_dict(), "headline": head,
                                         "summary": summary}), indent=1, allow_nan=False)
    try:
        out.with_suffix(".json").write_bytes(meta)
        out.with_suffix(".npz").write_bytes(npz)
        out.with_suffix(".summary.json").write_text(summary_text + "\n")
    except OSError as e:  # folder removed or made read-only meanwhile, disk full
        raise _write_failed(args.out, e, cache and cache.directory) from None
    return [str(out.with_suffix(x)) for x in (".json", ".npz", ".summary.json")]


def _print_run(spec: ExperimentSpec, result: Any, head: dict, cached: bool, err_name: str,
               written: list[str]) -> None:
    """The human-readable report of a run: its settings, each member, the headline."""
    print(f"{spec.dataset}  task={spec.task}  n_train={spec.n_train}  width={spec.width}  "
          f"depth={spec.depth}  noise={spec.noise}  "
          f"level={spec.snr_db if spec.noise_level is None else spec.noise_level}  "
          f"K={spec.ensemble_size}  P={result.n_parameters}  device={result.device}  "
          f"train {result.timings.get('train', float('nan')):.2f}s"
          + ("  (from the cache)" if cached else ""))
    rows = [["member", "epochs", "train loss", err_name, "diverged"]]
    for m in range(result.ensemble_size):
        rows.append([str(m), str(result.epochs[m]), f"{result.train_loss[m]:.4g}",
                     f"{result.test_error[m]:.4g}", "yes" if result.diverged[m] else ""])
    print(text_table(rows))
    print(f"{err_name} {short_value(head['test_error'])}  CKA {short_value(head['cka'])}  "
          f"II score {short_value(head['ii_score'])}  mutual k-NN {short_value(head['mknn'])}  "
          f"(mean over member pairs; N={head['N']} probe points, II k={head['k']}, "
          f"k-NN k={head['knn_k']})")
    if written:
        print(f"wrote {', '.join(written)}")


def cmd_run(args: argparse.Namespace) -> int:
    from ..pipeline.run import run_experiment
    from ..store.cache import ResultCache

    spec = spec_from_args(args)
    if args.out:  # refuse an unwritable --out before training, not after
        out = Path(args.out)
        check_out(args.out, (out.with_suffix(".json"), out.with_suffix(".npz")))

    line = Progress(args.quiet)

    def progress(epoch: int, max_epochs: int, losses) -> None:
        finite = losses[losses == losses]
        line.show(f"  epoch {epoch}/{max_epochs}  mean loss "
                  f"{finite.mean() if finite.size else float('nan'):.4g}",
                  final=epoch == max_epochs)

    if args.no_cache or not ResultCache(args.cache_dir).has(spec):
        from ..compute.guard import check_machine_memory, check_machine_total
        # More than the machine's total memory can never finish: refused even with --force.
        check_machine_total(spec)
        if not args.force:  # refuse what the machine cannot hold now, before any training
            try:
                check_machine_memory(spec)
            except ValueError as e:
                raise ValueError(f"{e}; or pass --force to run it anyway") from None

    cache = None
    if args.no_cache:
        result, cached = run_experiment(spec, progress=progress), False
    else:  # the shared results cache: a repeated run is loaded, a new one is stored first
        cache = ResultCache(args.cache_dir)
        cached = cache.get(spec, need_representations=bool(args.out)) is not None
        result = cache.get_or_compute(spec, progress=progress,
                                      need_representations=bool(args.out))
    line.end()
    summary = cache.get_summary(spec) if cache is not None else None
    if summary is None:  # --no-cache, or a cache that could not store it
        from ..store.cache import default_summarise
        summary = default_summarise(result)
    head = headline(summary)
    err_name = "test MSE" if spec.task == "regression" else "test error"
    written = _write_run_files(args, spec, result, head, summary, cache) if args.out else []
    if args.json:
        print_json({"spec": spec.to_dict(), "from_cache": cached, "device": result.device,
                     "n_parameters": result.n_parameters, "timings": result.timings,
                     "headline": head,
                     "members": [{"member": m, "epochs": int(result.epochs[m]),
                                  "train_loss": float(result.train_loss[m]),
                                  "test_error": float(result.test_error[m]),
                                  "diverged": bool(result.diverged[m])}
                                 for m in range(result.ensemble_size)],
                     "summary": summary, "written": written})
        return 0
    _print_run(spec, result, head, cached, err_name, written)
    return 0


# The numbers the CLI prints per point, when the summary has them (noisealign.engine.measures.summaries
# names first, then Result.summary's); the CSV / JSON exports hold every number.
TABLE_COLUMNS = ("test_error.mean", "train_loss.mean", "measures.ii_score.mean",
                 "measures.cka.mean", "measures.mknn.mean",
                 "information_content.trained.ii_h_to_y_mean", "test_error_mean",
                 "train_loss_mean", "n_diverged", "n_parameters")


def progress_bar(p: "SweepProgress", width: int = 30) -> str:
    """A plain-text progress line: ``[#####-----] 5/10  0:12 elapsed  ~0:12 left``."""
    filled = int(width * p.done / p.total) if p.total else width
    return (f"[{'#' * filled}{'-' * (width - filled)}] {p.done}/{p.total}  "
            f"{format_clock(p.elapsed)} elapsed  ~{format_clock(p.remaining_estimate)} left")


def parse_axis(text: str) -> tuple[str, list]:
    """``"n_train=50,100,200"`` -> ``("n_train", [50, 100, 200])`` (CLI ``--axis``)."""
    if "=" not in text:
        raise ValueError(f"--axis {text!r} is invalid: allowed NAME=V1,V2,... "
                         "(e.g. --axis n_train=50,100,200)")
    name, values = text.split("=", 1)
    name = name.strip().replace("-", "_")
    return name, [parse_value(v.strip()) for v in values.split(",") if v.strip()]


def sweep_from_args(args: Any) -> "Sweep":
    """The :class:`noisealign.engine.compute.sweep.Sweep` a parsed ``sweep`` command line describes (its
    spec flags, ``--axis`` and ``--replicates``); ``ValueError`` naming the flag."""
    from ..compute.sweep import Sweep

    axes: dict[str, tuple] = {}
    for item in args.axis:
        name, values = parse_axis(item)
        if name in axes:
            raise ValueError(f"--axis {name} is given twice: allowed once per field")
        axes[name] = tuple(values)  # Sweep stores its axes as tuples anyway
    if args.noise is None and ("snr_db" in axes or "label_noise" in axes):
        # e.g. --dataset digits --axis snr_db=...: the axis says which noise is meant
        args.noise = implied_noise(args.dataset or "linear-teacher", list(axes))
    try:
        base = spec_from_args(args)
    except ValueError as e:
        if "snr_db" in axes and "noise" in str(e):
            raise ValueError(f"{e}. Note: snr_db is only meaningful with --noise input on a "
                             "classification dataset (or target/input noise on a regression "
                             "one)") from None
        raise
    return Sweep(base, axes, replicates=args.replicates)


def cmd_sweep(args: Any) -> int:
    from ..compute.export import aggregate, columns, seeds_error_column, sweep_table, write_table
    from ..compute.sweep import run_sweep
    from ..store.cache import ResultCache

    sweep = sweep_from_args(args)
    if args.out:  # an --out the sweep could not write is refused before it runs
        if Path(args.out).suffix.lower() not in OUT_SUFFIXES:
            raise ValueError(f"--out {show_value(str(args.out))} is invalid: allowed a file name "
                             f"ending in {' or '.join(OUT_SUFFIXES)}")
        check_out(args.out, (Path(args.out),))
    executor = args.executor or ("dask" if args.scheduler else "local")
    cache = ResultCache(args.cache_dir)

    from ..compute.sweep import parse_shard, shard_indices
    shard = parse_shard(args.shard) if args.shard is not None else None
    # off a terminal, a plain line per finished point (points take seconds at least)
    line = Progress(args.quiet, every=0.0)

    def show(p: SweepProgress) -> None:
        line.show(progress_bar(p), final=p.done == p.total)

    n_mine = len(shard_indices(len(sweep), shard))
    print(f"sweep of {len(sweep)} " + (f"runs ({sweep.replicates} seeds per point)"
                                       if sweep.replicates > 1 else "points")
          + f" over {', '.join(sweep.axis_names)} "
          + (f"(shard {shard[0]}/{shard[1]}: {n_mine} of them) " if shard else "")
          + f"({executor} executor; cache {cache.directory})", file=sys.stderr)
    try:  # the sweep guard: the missing points' summed estimate against the limit
        it = run_sweep(sweep, cache, executor=executor, workers=args.workers,
                       scheduler=args.scheduler, progress=show,
                       threads_per_worker=args.threads,
                       max_sweep_seconds=math.inf if args.force else None, shard=shard)
    except ValueError as e:
        if getattr(e, "resource", None) != "sweep time":
            raise
        raise ValueError(f"{e}; or pass --force to run it anyway") from None
    points = list(it)
    line.end()
    reps = sweep.replicates > 1
    rows = aggregate(points) if reps else sweep_table(points)
    if args.json:
        if args.out:
            try:
                path = write_table(points, args.out)
            except OSError as e:
                raise _write_failed(args.out, e, cache.directory) from None
            print(f"wrote {path}", file=sys.stderr)
        print_json({"points": len(sweep), "shard": list(shard) if shard else None,
                     "computed": sum(not p.from_cache for p in points),
                     "cache": str(cache.directory),
                     "rows": [{**r, "key": p.key, "spec": p.spec.to_dict(),
                               "summary": p.summary} for r, p in zip(rows, points)]
                     if not reps else rows})
        return 0
    present = set(columns(rows))
    shown = [c for c in TABLE_COLUMNS if c in present]
    if reps:  # each mean beside its error across seeds
        shown = [x for c in shown for x in (c, seeds_error_column(c)) if x in present]
    cols = sweep.axis_names + (["replicates"] if reps else []) + ["from_cache", "seconds"] \
        + shown
    print(text_table([cols] + [[short_value(r.get(c, "")) for c in cols] for r in rows]))
    cached = sum(p.from_cache for p in points)
    if args.out:  # after run_sweep stored every point in the cache
        try:
            path = write_table(points, args.out)
        except OSError as e:
            raise _write_failed(args.out, e, cache.directory) from None
        print(f"wrote {path} ({len(points)} points, {cached} from the cache)", file=sys.stderr)
    return 0


def cmd_cache(args: Any) -> int:
    from ..store.cache import ResultCache

    cache = ResultCache(args.cache_dir)
    why = cache.unavailable()
    if why is not None:  # never "no entries" / "removed 0" for a cache that was not read
        done = "nothing was removed" if args.action == "clear" else "its entries are not known"
        raise OSError(f"results cache in {cache.directory} cannot be read ({why}): {done}")
    if args.action == "clear":
        n = len(cache.entries())
        cache.clear()
        if args.json:
            print_json({"directory": str(cache.directory), "removed": n})
        else:
            print(f"removed {n} entries from {cache.directory}")
        return 0
    entries = cache.entries()
    if args.json:
        labels = cache.labels()
        print_json({"directory": str(cache.directory), "volume": cache.volume(),
                     "size_limit": cache.size_limit, "entries": [
                         {"key": e["key"], "created": e["created"], "bytes": e["bytes"],
                          "has_representations": e["has_representations"],
                          "model": (e.get("model") or {}).get("name"),
                          "name": (labels.get(e["key"]) or {}).get("name", ""),
                          "tags": list((labels.get(e["key"]) or {}).get("tags", [])),
                          "spec": e["spec"], "headline": headline(e["summary"])}
                         for e in entries]} if args.action != "info" else
                    {"directory": str(cache.directory), "entries": len(entries),
                     "volume": cache.volume(), "size_limit": cache.size_limit})
        return 0
    if args.action == "info":
        print(f"directory   {cache.directory}\nentries     {len(entries)}\n"
              f"on disk     {format_bytes(cache.volume())} of {format_bytes(cache.size_limit)}")
        return 0
    names = {k: v["name"] for k, v in cache.labels().items()}  # set on the Runs page
    rows = [["key", "created", "dataset", "n_train", "width", "noise", "level", "size", "reps",
             "name"]]
    for e in entries:
        s = e["spec"]
        noise = s.get("noise")  # a stored entry's spec: any JSON value
        level = s.get((LEVEL_FIELD.get(noise) if isinstance(noise, str) else None) or "snr_db")
        name = names.get(e["key"], "")
        rows.append([e["key"][:12], time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created"])),
                     str(s.get("dataset")), str(s.get("n_train")), str(s.get("width")),
                     str(s.get("noise")), short_value(level), format_bytes(e["bytes"]),
                     "yes" if e["has_representations"] else "no",
                     name if len(name) <= 30 else name[:29] + "…"])
    print(text_table(rows) if entries else f"no entries in {cache.directory}")
    return 0


def add_sweep_commands(sub: Any) -> None:
    """Add ``sweep`` and ``cache`` to the ``python -m engine`` subcommands."""
    from ..compute.sweep import EXECUTORS

    p = sub.add_parser("sweep", help="run a grid of experiments (1 or 2 axes), cached",
                       description="Every spec flag sets the base experiment; --axis sweeps "
                       "a field. Example: python -m engine sweep --dataset digits --noise "
                       "input --n-probe 300 --axis n_train=50,100,200 --axis snr_db=0,10,20")
    add_spec_arguments(p)
    p.add_argument("--axis", action="append", default=[], required=True,
                   metavar="FIELD=V1,V2,...",
                   help="an axis (once or twice): a spec field or dataset_params.NAME")
    p.add_argument("--replicates", type=int, default=1, metavar="R",
                   help="train every grid point with R data seeds (new data, noise and "
                   "initialisations each); the table shows means and .sem_seeds, the "
                   "standard error across seeds (default 1)")
    p.add_argument("--workers", type=int, default=None,
                   help="parallel workers (default: one per core)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads per worker (default: cores // workers)")
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help="local process pool (default), serial, or dask")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://host:8786 (implies dask)")
    p.add_argument("--cache-dir", default=None,
                   help="results cache directory (default: $NOISEALIGN_CACHE_DIR or cache/)")
    p.add_argument("--out", default=None, help="write the results table (.csv or .json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="run even if the sweep's estimate exceeds the per-sweep limit "
                        "($NOISEALIGN_MAX_SWEEP_SECONDS, default 4 h)")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="compute only the I-th of N disjoint slices (I from 0 to N - 1) "
                        "into the cache: one per job-array task; the same sweep without "
                        "--shard then assembles the table from the cache")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout (rows with key, spec and "
                        "summary) instead of the table")
    p.set_defaults(func=cmd_sweep)

    c = sub.add_parser("cache", help="list, inspect or clear the results cache")
    c.add_argument("action", choices=("list", "info", "clear"))
    c.add_argument("--json", action="store_true",
                   help="list / info as one JSON document on stdout")
    c.add_argument("--cache-dir", default=None,
                   help="results cache directory (default: $NOISEALIGN_CACHE_DIR or cache/)")
    c.set_defaults(func=cmd_cache)


def add_download_command(sub: Any) -> None:
    """``download``: fetch MNIST / Fashion-MNIST / CIFAR-10 files (MD5-checked)."""
    from ..pipeline.dataset_files import DATA_DIR_ENV, DEFAULT_DATA_DIR, FILE_DATASETS

    p = sub.add_parser("download", help="fetch MNIST / Fashion-MNIST / CIFAR-10 files "
                                        "and verify their checksums")
    p.add_argument("dataset", choices=FILE_DATASETS + ("all",))
    p.add_argument("--data-dir", default=None,
                   help=f"data directory (default: ${DATA_DIR_ENV} or {DEFAULT_DATA_DIR})")
    p.add_argument("--mirror", default=None,
                   help="base URL to fetch the files from instead of the official sources")
    p.add_argument("--force", action="store_true", help="download even if present")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per connection")
    p.set_defaults(func=cmd_download)


def cmd_download(args: argparse.Namespace) -> int:
    from ..pipeline.dataset_files import FILE_DATASETS, DownloadError, dataset_folder, download

    names = FILE_DATASETS if args.dataset == "all" else (args.dataset,)
    status = 0
    for name in names:
        try:
            folder = download(name, args.data_dir, mirror=args.mirror, force=args.force,
                              timeout=args.timeout,
                              log=lambda m: print(m, file=sys.stderr, flush=True))
            print(f"{name}: ready in {folder}")
        except DownloadError as e:
            folder = dataset_folder(name, args.data_dir)
            print(f"error: {e}\nNo network? Fetch the files by hand and put them in {folder} "
                  f"(see data/README.md).", file=sys.stderr)
            status = 1
    return status


def build_parser() -> argparse.ArgumentParser:
    # Usage lines name the command as it was typed: the console script or the module.
    invoked = os.path.basename(sys.argv[0] if sys.argv else "")
    prog = "noisealign" if invoked.startswith("noisealign") else "python -m engine"
    from .. import __version__
    p = argparse.ArgumentParser(prog=prog,
                                description="Alignment and information content of noisy ensembles.")
    p.add_argument("--version", action="version", version=f"noisealign {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train one ensemble and print a summary")
    add_spec_arguments(run)
    run.add_argument("--out", help="write RESULT.json and RESULT.npz (representations)")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument("--json", action="store_true",
                     help="print one JSON document on stdout (spec, members, headline "
                          "measures, the full summary) instead of the table")
    run.add_argument("--cache-dir", default=None,
                     help="results cache directory (default: $NOISEALIGN_CACHE_DIR or cache/)")
    run.add_argument("--no-cache", action="store_true",
                     help="train even if the result is cached, and do not store it")
    run.add_argument("--force", action="store_true",
                     help="run even if the memory estimate exceeds the memory this "
                          "machine has available")
    run.set_defaults(func=cmd_run)
    add_download_command(sub)  # python -m engine download mnist|fashion-mnist|cifar10|all
    add_sweep_commands(sub)  # python -m engine sweep ... / cache list|info|clear
    add_compare_command(sub)  # python -m engine compare FILE.npz ...
    add_app_command(sub)  # noisealign app [--host 127.0.0.1] [--port 8501]
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed its usage message: return, do not exit
        return e.code if isinstance(e.code, int) else 2
    # Warnings (the cache's, say) as one line each, like errors: Python's default format
    # adds the file name and source line of the code that warned.
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _one_line_warning
    try:
        return _run(args)
    finally:
        warnings.formatwarning = formatwarning


def _one_line_warning(message: Any, category: type, filename: str, lineno: int,
                      line: str | None = None) -> str:
    return f"warning: {' '.join(str(message).split())}\n"


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except ValueError as e:
        return _fail(e, EXIT_USAGE)
    except MemoryError as e:
        return _fail(f"out of memory ({type(e).__name__}{': ' if str(e) else ''}{e}): "
                     "reduce n_train, width, ensemble_size or n_probe", EXIT_MEMORY)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as e:
        return _fail(e, EXIT_ENVIRONMENT)
    except RuntimeError as e:
        # First: a failed sweep point says itself what failed (its worker may have died
        # "killed, or out of memory": that is not known to be memory).
        from ..compute.grid import SweepError
        if isinstance(e, SweepError):
            return _fail(e, EXIT_FAILED)
        # torch reports a failed allocation as a RuntimeError ("DefaultCPUAllocator:
        # can't allocate memory", "CUDA out of memory"), not a MemoryError.
        text = str(e)
        if "can't allocate memory" in text or "out of memory" in text.lower():
            return _fail(f"out of memory ({text.splitlines()[0] if text else e}): reduce "
                         "n_train, width, ensemble_size or n_probe", EXIT_MEMORY)
        raise


def _fail(message: object, code: int) -> int:
    """Print ``error: message`` as one bounded line; return ``code``."""
    text = " ".join(str(message).split()) or "(no message)"
    if len(text) > 2000:  # a message echoing a huge value stays readable
        text = text[:1997] + "..."
    print(f"error: {text}", file=sys.stderr)
    return code
