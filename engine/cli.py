"""Command line: ``python -m engine run ...`` (one ensemble) and other subcommands.

Every spec field is a flag (``--n-train``, ``--snr-db``...); ``--level`` sets the noise
level of the chosen kind (SNR in dB for target/input noise, the rate p for label noise).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from engine.spec import SPEC_FIELDS, ExperimentSpec

_SHORT = {"ensemble_size": ["-K"]}


def _parse_value(text: str) -> Any:
    """CLI text -> bool / int / float / inf / str."""
    low = text.strip().lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per spec field; unset flags keep the spec's defaults."""
    from engine import spec as spec_rules
    from engine.datasets import DATASETS
    choices = {"dataset": tuple(DATASETS), "task": spec_rules.TASKS,
               "noise": ("auto",) + spec_rules.NOISE_KINDS,
               "architecture": tuple(spec_rules.ARCHITECTURES),
               "activation": spec_rules.ACTIVATIONS, "optimizer": spec_rules.OPTIMIZERS,
               "device": spec_rules.DEVICES}
    for f in dataclasses.fields(ExperimentSpec):
        if f.name == "dataset_params":
            continue
        flag = "--" + f.name.replace("_", "-")
        if f.name in choices:
            allowed = "one of " + ", ".join(choices[f.name])
        elif f.name in spec_rules.INT_BOUNDS:
            allowed = "an integer in [%d, %d]" % spec_rules.INT_BOUNDS[f.name]
        elif f.name in spec_rules.FLOAT_BOUNDS:
            lo, hi, lo_open = spec_rules.FLOAT_BOUNDS[f.name]
            allowed = f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}]" + (
                " or inf" if f.name == "snr_db" else "")
        else:
            allowed = "true or false" if isinstance(f.default, bool) else "a value"
        p.add_argument(*_SHORT.get(f.name, []), flag, dest=f.name, type=_parse_value,
                       default=None, help=f"{allowed} (default: {f.default!r})")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a dataset parameter, e.g. --param d=100 (repeatable)")
    p.add_argument("--level", type=_parse_value, default=None,
                   help="noise level: SNR in dB (target/input noise) or rate p (label noise)")


def implied_noise(dataset: str, axes: Sequence[str] = ()) -> str:
    """The noise kind a command means when --noise is not given.

    An ``snr_db`` axis implies target noise (regression) or input noise
    (classification); a ``label_noise`` axis implies label noise; otherwise the
    dataset's natural kind (the spec's ``noise='auto'``).
    """
    from engine.datasets import DATASETS
    info = DATASETS.get(dataset)
    task = info.task if info is not None else "regression"
    if "snr_db" in axes:
        return "target" if task == "regression" else "input"
    if "label_noise" in axes:
        return "label"
    return "target" if task == "regression" else "label"


def spec_from_args(args: argparse.Namespace) -> ExperimentSpec:
    kw = {k: getattr(args, k) for k in SPEC_FIELDS
          if k != "dataset_params" and getattr(args, k, None) is not None}
    params = {}
    for item in args.param:
        if "=" not in item:
            raise ValueError(f"--param {item!r} is invalid: allowed NAME=VALUE")
        name, value = item.split("=", 1)
        params[name.strip()] = _parse_value(value)
    if params:
        kw["dataset_params"] = params
    if args.level is not None:
        kind = kw.get("noise", ExperimentSpec.noise)
        if kind == "auto":
            kind = implied_noise(kw.get("dataset", ExperimentSpec.dataset))
        if kind == "label":
            kw["label_noise"] = args.level
        elif kind in ("target", "input"):
            kw["snr_db"] = args.level
        else:
            raise ValueError("--level is invalid with --noise none: choose a noise kind")
    if "task" not in kw:
        kw["task"] = "auto"
    return ExperimentSpec(**kw)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def cmd_run(args: argparse.Namespace) -> int:
    from engine.cache import ResultCache
    from engine.experiment import run_experiment

    spec = spec_from_args(args)
    if args.out:  # refuse an unwritable --out before training, not after
        out = Path(args.out)
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValueError(f"--out {str(args.out)[:200]!r} is invalid: its folder does "
                             "not exist or is not writable")
        for target in (out.with_suffix(".json"), out.with_suffix(".npz")):
            if target.is_dir():
                raise ValueError(f"--out {str(args.out)[:200]!r} is invalid: {target} is a folder")

    def progress(epoch: int, max_epochs: int, losses) -> None:
        if not args.quiet:
            finite = losses[losses == losses]
            print(f"\r  epoch {epoch}/{max_epochs}  mean loss {finite.mean() if finite.size else float('nan'):.4g}",
                  end="", file=sys.stderr, flush=True)

    if args.no_cache:
        result, cached = run_experiment(spec, progress=progress), False
    else:  # the shared results cache: a repeated run is loaded, a new one is stored first
        cache = ResultCache(args.cache_dir)
        cached = cache.get(spec, need_representations=bool(args.out)) is not None
        result = cache.get_or_compute(spec, progress=progress,
                                      need_representations=bool(args.out))
    if not args.quiet:
        print(file=sys.stderr)
    print(f"{spec.dataset}  task={spec.task}  n_train={spec.n_train}  width={spec.width}  "
          f"depth={spec.depth}  noise={spec.noise}  "
          f"level={spec.label_noise if spec.noise == 'label' else spec.snr_db}  "
          f"K={spec.ensemble_size}  P={result.n_parameters}  device={result.device}  "
          f"train {result.timings.get('train', float('nan')):.2f}s"
          + ("  (from the cache)" if cached else ""))
    err_name = "test MSE" if spec.task == "regression" else "test error"
    rows = [["member", "epochs", "train loss", err_name, "diverged"]]
    for m in range(result.ensemble_size):
        rows.append([str(m), str(result.epochs[m]), f"{result.train_loss[m]:.4g}",
                     f"{result.test_error[m]:.4g}", "yes" if result.diverged[m] else ""])
    print(_table(rows))
    if args.out:
        out = Path(args.out)
        meta, npz = result.to_bytes(representations=True)
        out.with_suffix(".json").write_bytes(meta)
        out.with_suffix(".npz").write_bytes(npz)
        print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.npz')}")
    return 0


# The numbers the CLI prints per point, when the summary has them (engine.summaries
# names first, then Result.summary's); the CSV / JSON exports hold every number.
TABLE_COLUMNS = ("test_error.mean", "train_loss.mean", "measures.ii_score.mean",
                 "measures.cka.mean", "measures.mknn.mean",
                 "information_content.trained.ii_h_to_y_mean", "test_error_mean",
                 "train_loss_mean", "n_diverged", "n_parameters")


def _fmt_seconds(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_bar(p: "SweepProgress", width: int = 30) -> str:
    """A plain-text progress line: ``[#####-----] 5/10  0:12 elapsed  ~0:12 left``."""
    filled = int(width * p.done / p.total) if p.total else width
    return (f"[{'#' * filled}{'-' * (width - filled)}] {p.done}/{p.total}  "
            f"{_fmt_seconds(p.elapsed)} elapsed  ~{_fmt_seconds(p.remaining_estimate)} left")


def parse_axis(text: str) -> tuple[str, list]:
    """``"n_train=50,100,200"`` -> ``("n_train", [50, 100, 200])`` (CLI ``--axis``)."""
    if "=" not in text:
        raise ValueError(f"--axis {text!r} is invalid: allowed NAME=V1,V2,... "
                         "(e.g. --axis n_train=50,100,200)")
    name, values = text.split("=", 1)
    name = name.strip().replace("-", "_")
    return name, [_parse_value(v.strip()) for v in values.split(",") if v.strip()]


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def cmd_sweep(args: Any) -> int:
    from engine.cache import ResultCache
    from engine.export import columns, sweep_table, write_table
    from engine.sweep import Sweep, SweepProgress, run_sweep

    axes: dict[str, list] = {}
    for item in args.axis:
        name, values = parse_axis(item)
        if name in axes:
            raise ValueError(f"--axis {name} is given twice: allowed once per field")
        axes[name] = values
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
    sweep = Sweep(base, axes)
    executor = args.executor or ("dask" if args.scheduler else "local")
    cache = ResultCache(args.cache_dir)

    def show(p: SweepProgress) -> None:
        if not args.quiet:
            print("\r" + progress_bar(p), end="", file=sys.stderr, flush=True)

    print(f"sweep of {len(sweep)} points over {', '.join(sweep.axis_names)} "
          f"({executor} executor; cache {cache.directory})", file=sys.stderr)
    points = list(run_sweep(sweep, cache, executor=executor, workers=args.workers,
                            scheduler=args.scheduler, progress=show,
                            threads_per_worker=args.threads))
    if not args.quiet:
        print(file=sys.stderr)
    rows = sweep_table(points)
    present = set(columns(rows))
    cols = sweep.axis_names + ["from_cache", "seconds"] + [
        c for c in TABLE_COLUMNS if c in present]
    print(_table([cols] + [[_short(r.get(c, "")) for c in cols] for r in rows]))
    cached = sum(p.from_cache for p in points)
    if args.out:
        path = write_table(points, args.out)
        print(f"wrote {path} ({len(points)} points, {cached} from the cache)", file=sys.stderr)
    return 0


def cmd_cache(args: Any) -> int:
    from engine.cache import ResultCache

    cache = ResultCache(args.cache_dir)
    if args.action == "clear":
        n = len(cache.entries())
        cache.clear()
        print(f"removed {n} entries from {cache.directory}")
        return 0
    entries = cache.entries()
    if args.action == "info":
        print(f"directory   {cache.directory}\nentries     {len(entries)}\n"
              f"on disk     {cache.volume() / 2**20:.1f} MiB of {cache.size_limit / 2**20:.0f} MiB")
        return 0
    rows = [["key", "created", "dataset", "n_train", "width", "noise", "level", "MiB", "reps"]]
    for e in entries:
        s = e["spec"]
        level = s.get("label_noise") if s.get("noise") == "label" else s.get("snr_db")
        rows.append([e["key"][:12], time.strftime("%Y-%m-%d %H:%M", time.localtime(e["created"])),
                     str(s.get("dataset")), str(s.get("n_train")), str(s.get("width")),
                     str(s.get("noise")), _short(level), f"{e['bytes'] / 2**20:.2f}",
                     "yes" if e["has_representations"] else "no"])
    print(_table(rows) if entries else f"no entries in {cache.directory}")
    return 0


def add_sweep_commands(sub: Any) -> None:
    """Add ``sweep`` and ``cache`` to the ``python -m engine`` subcommands."""
    from engine.sweep import EXECUTORS

    p = sub.add_parser("sweep", help="run a grid of experiments (1 or 2 axes), cached",
                       description="Every spec flag sets the base experiment; --axis sweeps "
                       "a field. Example: python -m engine sweep --dataset digits --noise "
                       "input --n-probe 300 --axis n_train=50,100,200 --axis snr_db=0,10,20")
    add_spec_arguments(p)
    p.add_argument("--axis", action="append", default=[], required=True,
                   metavar="FIELD=V1,V2,...",
                   help="an axis (once or twice): a spec field or dataset_params.NAME")
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
    p.set_defaults(func=cmd_sweep)

    c = sub.add_parser("cache", help="list, inspect or clear the results cache")
    c.add_argument("action", choices=("list", "info", "clear"))
    c.add_argument("--cache-dir", default=None,
                   help="results cache directory (default: $NOISEALIGN_CACHE_DIR or cache/)")
    c.set_defaults(func=cmd_cache)


def add_download_command(sub: Any) -> None:
    """``download``: fetch MNIST / Fashion-MNIST / CIFAR-10 files (MD5-checked)."""
    from engine.datafiles import DEFAULT_DATA_DIR, DATA_DIR_ENV, FILE_DATASETS

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
    from engine.datafiles import FILE_DATASETS, DownloadError, dataset_folder, download

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
    p = argparse.ArgumentParser(prog=prog,
                                description="Alignment and information content of noisy ensembles.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train one ensemble and print a summary")
    add_spec_arguments(run)
    run.add_argument("--out", help="write RESULT.json and RESULT.npz (representations)")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.add_argument("--cache-dir", default=None,
                     help="results cache directory (default: $NOISEALIGN_CACHE_DIR or cache/)")
    run.add_argument("--no-cache", action="store_true",
                     help="train even if the result is cached, and do not store it")
    run.set_defaults(func=cmd_run)
    add_download_command(sub)  # python -m engine download mnist|fashion-mnist|cifar10|all
    add_sweep_commands(sub)  # python -m engine sweep ... / cache list|info|clear
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed its usage message: return, do not exit
        return e.code if isinstance(e.code, int) else 2
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ConnectionError as e:  # e.g. engine.errors.SchedulerUnreachable
        print(f"error: {e}", file=sys.stderr)
        return 4
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
