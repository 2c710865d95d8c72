"""Hand a dashboard view over to the command line or a script.

A what-if tried on the dashboard becomes a full sweep on a bigger machine or a cluster:
:func:`cli_command` writes the ``noisealign run`` / ``noisealign sweep`` line and
:func:`python_snippet` the Python script (``ExperimentSpec(...)``, ``Sweep(...)``,
``run_sweep(...)``) that compute exactly the same specs (same content hashes, so the
same cache entries). Only fields that differ from what the command or constructor would
use anyway are written, so the line stays short and says what is special about the view.

Pure text, no torch and no streamlit: the pages call it, the tests parse its output with
the real CLI parser (``noisealign.engine.cli.commands``) and ``exec`` the snippet.
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from typing import Any, Mapping, Sequence, cast

from ..pipeline.spec import ADDED_FIELDS, DEFAULT_PROBE, ExperimentSpec

PROGRAM = "noisealign"  # the console script; ``python -m engine`` is the same
SCHEDULER_HINT = "tcp://HOST:8786"
PARAM_PREFIX = "dataset_params."  # as noisealign.engine.compute.sweep: an axis over a dataset parameter

# Fields never written: ``task`` follows the dataset, ``device`` is the machine's choice
# (a cluster's workers pick their own; it does not change what is computed).
_NEVER = ("task", "device", "dataset_params")


def _implied_noise(dataset: str, axes: Sequence[str]) -> str:
    """The noise kind the CLI chooses when ``--noise`` is not given (noisealign.engine.cli.commands)."""
    from .commands import implied_noise
    return implied_noise(dataset, axes)


def changed_fields(spec: ExperimentSpec, *, skip: Sequence[str] = (),
                   noise_default: str | None = None) -> dict[str, Any]:
    """The spec fields that differ from what an unset flag or argument would give.

    Parameters
    ----------
    spec
        The (validated) spec.
    skip
        Fields to leave out (a sweep's axes: the axis sets them).
    noise_default
        The noise kind used when ``noise`` is not given (the CLI infers it from the
        dataset and the axes); default: the dataset's natural kind.

    Returns
    -------
    ``{field: value}`` in the spec's field order. A level that its noise kind does not
    use (``snr_db`` under label noise), and ``depth`` of a CNN, are never listed: the spec
    resets them anyway.
    """
    natural = noise_default or _implied_noise(spec.dataset, ())
    out: dict[str, Any] = {}
    for f in dataclasses.fields(ExperimentSpec):
        name, value = f.name, getattr(spec, f.name)
        if name in _NEVER or name in skip:
            continue
        if name == "noise":
            if value != natural:
                out[name] = value
            continue
        if not spec.applies(name):  # a level the noise kind does not use (reset anyway)
            continue
        if name == "depth" and spec.architecture == "cnn":
            continue
        if name == "n_probe":
            from ..pipeline.datasets import DATASETS
            pool = DATASETS[spec.dataset].pool_sizes(spec.params)[1]
            if value != min(DEFAULT_PROBE, pool):
                out[name] = value
            continue
        if value != ADDED_FIELDS.get(name, f.default) or _negative_zero(value):
            out[name] = value  # 0 == 0.0: the same value; -0.0 is not (it hashes apart)
    return out


def _negative_zero(value: Any) -> bool:
    """``-0.0``: equal to 0.0, yet the spec's JSON (and so its cache key) keeps the sign,
    so the hand-off must write it (issue 27: ``weight_decay=-0.0`` came back as 0.0)."""
    return isinstance(value, float) and value == 0.0 and math.copysign(1.0, value) < 0


def changed_params(spec: ExperimentSpec, *, skip: Sequence[str] = ()) -> dict[str, Any]:
    """Dataset parameters that differ from the dataset's defaults (``skip``: swept ones)."""
    from ..pipeline.datasets import DATASETS
    info = DATASETS[spec.dataset]
    return {name: value for name, value in spec.params.items()
            if name not in skip and (name not in info.params or _negative_zero(value)
                                     or value != info.params[name].default)}


def _omitted(base: ExperimentSpec, axes: Mapping[str, Sequence]
             ) -> tuple[list[str], list[str]]:
    """(spec fields, dataset parameters) of ``base`` that the line and the script leave
    out because the axes set them: all the swept ones, unless the base would then be
    invalid (issue 27: a swept ``n_train`` left at its default of 100 exceeds the 80
    training points of ``mnist1d`` with ``n_samples=100``, and the written base fails
    before the sweep replaces it), or the points would differ (``label_noise_kind``
    is reset to "uniform" in a base without label noise, so a swept ``label_noise`` left
    at 0 loses a "pair" kind); then none, and the base's own values are written.
    """
    fields = [a for a in axes if not a.startswith(PARAM_PREFIX)]
    params = [a[len(PARAM_PREFIX):] for a in axes if a.startswith(PARAM_PREFIX)]
    if not fields and not params:
        return fields, params
    defaults = {f.name: ADDED_FIELDS.get(f.name, f.default)
                for f in dataclasses.fields(ExperimentSpec)}
    kw = {f.name: getattr(base, f.name) for f in dataclasses.fields(ExperimentSpec)}
    kw.update({f: defaults[f] for f in fields if f in defaults})
    kw["dataset_params"] = {k: v for k, v in base.params.items() if k not in params}
    if "n_probe" not in fields and base.n_probe == min(
            DEFAULT_PROBE, _pool(base.dataset, base.params)):
        kw["n_probe"] = None  # not written: the CLI's default for the new pool
    from ..compute.sweep import Sweep
    try:
        # Sweep validates any iterable of values and stores them as tuples; its field's
        # annotation (Mapping[str, tuple]) describes the stored form, not what it accepts.
        as_given = cast("Mapping[str, tuple]", dict(axes))
        reduced = Sweep(ExperimentSpec(**kw), as_given).specs()
        same = [s.content_hash() for s in reduced] == [
            s.content_hash() for s in Sweep(base, dict(as_given)).specs()]
    except ValueError:
        same = False
    if not same:
        return [], []
    if "label_noise" in fields and not any(float(v) > 0 for v in axes["label_noise"]):
        # No point has label noise, so no point uses its kind: writing the base's kind
        # would be an option that does not apply (the CLI refuses it), for the same points.
        fields = fields + ["label_noise_kind"]
    return fields, params


def _pool(dataset: str, params: Mapping[str, Any]) -> int:
    from ..pipeline.datasets import DATASETS
    return DATASETS[dataset].pool_sizes(dict(params))[1]


# ----------------------------------------------------------------------------- CLI


def cli_value(value: Any) -> str:
    """A value as the CLI reads it back (``noisealign.engine.cli.commands._parse_value``): ``true``,
    ``inf``, ``0.0001``, ``20``. Floats are written with ``repr``, the shortest text
    that reads back to the same float; a whole float as an integer (the spec makes it a
    float again)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value.is_integer() and abs(value) < 1e15 and not _negative_zero(value):
            return str(int(value))
        return repr(value)
    return str(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _option(name: str, text: str) -> list[str]:
    """The words of option ``name`` with value ``text``, as argparse reads them back.

    argparse takes a word that starts with "-" for an option unless it looks like a
    plain negative number (``-1.5``, not ``-1e-05`` or ``-inf``): ``--snr-db -1e-05``
    exits with "expected one argument" (issue 27). Such a value is joined to its flag,
    ``--snr-db=-1e-05``, which argparse never splits (a short flag has no such form, so
    ``-K`` becomes ``--ensemble-size`` there).
    """
    if text.startswith("-"):
        return [f"{_flag(name)}={text}"]
    return ["-K" if name == "ensemble_size" else _flag(name), text]


def cli_command(base: ExperimentSpec, axes: Mapping[str, Sequence] | None = None,
                replicates: int = 1, *, program: str = PROGRAM) -> str:
    """The one shell line that computes ``base`` (no axes: ``run``) or the sweep of
    ``base`` over ``axes`` with ``replicates`` data seeds (``sweep``).

    Parameters
    ----------
    base
        The spec (a sweep's base: its values of the swept fields are not written).
    axes
        ``{field or "dataset_params.NAME": values}``, 1 or 2 axes, as :class:`noisealign.engine.compute.sweep.Sweep`.
    replicates
        Data seeds per grid point (``--replicates``; sweeps only).
    program
        The command's name (``noisealign``, or ``python -m engine``).

    Returns
    -------
    A single line, every word quoted for a POSIX shell (:func:`shlex.quote`), e.g.
    ``noisealign sweep --dataset digits --width 32 --axis n_train=50,100``.
    """
    axes = dict(axes or {})
    if not axes and replicates != 1:
        raise ValueError(f"replicates={replicates!r} is invalid without axes: allowed 1 "
                         "(a single run has no replicates; use a sweep)")
    swept, swept_params = _omitted(base, axes)
    noise_default = _implied_noise(base.dataset, list(axes))
    words = ["sweep" if axes else "run", "--dataset", base.dataset]
    for name, value in changed_params(base, skip=swept_params).items():
        words += ["--param", f"{name}={cli_value(value)}"]
    for name, value in changed_fields(base, skip=["dataset", *swept],
                                      noise_default=noise_default).items():
        words += _option(name, cli_value(value))
    for name, values in axes.items():
        words += ["--axis", f"{name}=" + ",".join(cli_value(v) for v in values)]
    if axes and replicates != 1:
        words += ["--replicates", str(int(replicates))]
    return program + " " + " ".join(shlex.quote(w) for w in words)


def cli_block(base: ExperimentSpec, axes: Mapping[str, Sequence] | None = None,
              replicates: int = 1, *, program: str = PROGRAM) -> str:
    """:func:`cli_command` with comment lines saying how to run it elsewhere (shown in
    a code box: the line is what a user copies)."""
    line = cli_command(base, axes, replicates, program=program)
    if axes:
        notes = ["# the same sweep on a Dask cluster: append "
                 f"--scheduler {SCHEDULER_HINT}", "# write the table: append --out results.csv"]
    else:
        notes = ["# keep the representations: append --out run1  (writes run1.json, run1.npz)"]
    return "\n".join([line, *notes])


# ----------------------------------------------------------------------------- Python


def py_value(value: Any) -> str:
    """A Python literal for a spec value (``float("inf")`` for infinity)."""
    if isinstance(value, float) and math.isinf(value):
        return 'float("inf")' if value > 0 else '-float("inf")'
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{py_value(k)}: {py_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(py_value(v) for v in value) + "]"
    return repr(value)


def _spec_call(spec: ExperimentSpec, skip: Sequence[str], skip_params: Sequence[str],
               name: str) -> str:
    """``name = ExperimentSpec(...)`` wrapped at 88 characters, only changed fields."""
    args = [f"dataset={spec.dataset!r}"]
    params = changed_params(spec, skip=skip_params)
    if params:
        args.append(f"dataset_params={py_value(params)}")
    # noise: the constructor's own default is 'auto' (the dataset's natural kind).
    args += [f"{k}={py_value(v)}" for k, v in
             changed_fields(spec, skip=["dataset", *skip]).items()]
    opening = f"{name} = ExperimentSpec("
    lines, line = [], opening
    for i, a in enumerate(args):
        piece = a + (", " if i < len(args) - 1 else ")")
        if len(line) + len(piece.rstrip()) > 88 and line != opening:
            lines.append(line.rstrip())
            line = " " * len(opening)
        line += piece
    lines.append(line)
    return "\n".join(lines)


def python_snippet(base: ExperimentSpec, axes: Mapping[str, Sequence] | None = None,
                   replicates: int = 1) -> str:
    """A script that computes the same specs as :func:`cli_command`.

    With axes it defines ``base`` and ``sweep`` (an :class:`noisealign.engine.compute.sweep.Sweep`) at the
    top level and runs it under ``if __name__ == "__main__":`` (sweeps start worker
    processes); without, it defines ``spec`` and computes it there. Results go to the
    shared cache (``ResultCache()``: ``cache/`` or ``$NOISEALIGN_CACHE_DIR``).
    """
    axes = dict(axes or {})
    swept, swept_params = _omitted(base, axes)
    if not axes:
        if replicates != 1:
            raise ValueError(f"replicates={replicates!r} is invalid without axes: allowed 1")
        return "\n".join([
            "from engine import ExperimentSpec",
            "from noisealign.engine.store.cache import ResultCache",
            "",
            _spec_call(base, [], [], "spec"),
            "",
            'if __name__ == "__main__":',
            "    result = ResultCache().get_or_compute(spec)   # cached: loaded, not retrained",
            "    print(result.test_error)                      # one value per member",
            "    # representations: result.hidden[-1] has shape (K, N probe points, width)",
            "",
        ])
    axes_text = "{" + ", ".join(f"{name!r}: {py_value(list(values))}"
                                for name, values in axes.items()) + "}"
    sweep_args = f"base, {axes_text}" + (f", replicates={int(replicates)}"
                                         if replicates != 1 else "")
    return "\n".join([
        "from engine import ExperimentSpec",
        "from noisealign.engine.store.cache import ResultCache",
        "from noisealign.engine.compute.sweep import Sweep, run_sweep",
        "",
        _spec_call(base, swept, swept_params, "base"),
        f"sweep = Sweep({sweep_args})",
        "",
        'if __name__ == "__main__":   # sweeps start worker processes',
        "    # on a Dask cluster: run_sweep(sweep, ResultCache(), executor=\"dask\",",
        f"    #                              scheduler=\"{SCHEDULER_HINT}\")",
        "    for point in run_sweep(sweep, ResultCache()):",
        "        print(point.axis_values, point.summary[\"test_error\"][\"mean\"])",
        "",
    ])
