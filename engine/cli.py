"""Command line: ``python -m engine run ...`` (one ensemble) and other subcommands.

Every spec field is a flag (``--n-train``, ``--snr-db``...); ``--level`` sets the noise
level of the chosen kind (SNR in dB for target/input noise, the rate p for label noise).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
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
    for f in dataclasses.fields(ExperimentSpec):
        if f.name == "dataset_params":
            continue
        flag = "--" + f.name.replace("_", "-")
        p.add_argument(*_SHORT.get(f.name, []), flag, dest=f.name, type=_parse_value,
                       default=None, help=f"(default: {f.default!r})")
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
    from engine.experiment import run_experiment

    spec = spec_from_args(args)

    def progress(epoch: int, max_epochs: int, losses) -> None:
        if not args.quiet:
            finite = losses[losses == losses]
            print(f"\r  epoch {epoch}/{max_epochs}  mean loss {finite.mean() if finite.size else float('nan'):.4g}",
                  end="", file=sys.stderr, flush=True)

    result = run_experiment(spec, progress=progress)
    if not args.quiet:
        print(file=sys.stderr)
    print(f"{spec.dataset}  task={spec.task}  n_train={spec.n_train}  width={spec.width}  "
          f"depth={spec.depth}  noise={spec.noise}  "
          f"level={spec.label_noise if spec.noise == 'label' else spec.snr_db}  "
          f"K={spec.ensemble_size}  P={result.n_parameters}  device={result.device}  "
          f"train {result.timings['train']:.2f}s")
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine",
                                description="Alignment and information content of noisy ensembles.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="train one ensemble and print a summary")
    add_spec_arguments(run)
    run.add_argument("--out", help="write RESULT.json and RESULT.npz (representations)")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    run.set_defaults(func=cmd_run)
    from engine.datafiles import add_download_command
    add_download_command(sub)  # python -m engine download mnist|fashion-mnist|cifar10|all
    from engine.sweep import add_sweep_commands
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
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
