"""noisealign.engine.cli.handoff over the whole range of every field (issue 27, item 2), property-based.

Hypothesis draws valid specs and sweeps: every dataset with its parameters, every choice
field among its allowed values, every numeric field anywhere in its range with its
bounds, scientific notation (``-1e-05``, ``2.5e-07``, ``1e+16``) and negative values
drawn often. For each, the CLI line is parsed by the real parser (``noisealign.engine.cli.commands``) and the
Python script is executed; both must give the very cache keys of the view. A handful go
through a real ``/bin/sh`` and a real ``python`` subprocess as well.

Hostile strings (quotes, newlines, U+2028, ``$(...)``, backticks, ``;``) in every string
field that a URL reaches are refused by the spec before anything is written, and even a
spec forced to hold one (past its validation) gives a line and a script that do nothing
but fail: no command runs, no file appears.
"""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from noisealign.engine.cli.commands import build_parser, spec_from_args, sweep_from_args
from noisealign.engine.cli.handoff import PARAM_PREFIX, cli_command, python_snippet
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.datasets import DATASETS
from noisealign.engine.pipeline.spec import (
    CHOICES,
    FLOAT_BOUNDS,
    INT_BOUNDS,
    MIN_PROBE,
    ExperimentSpec,
    architectures_for,
)

ROOT = Path(__file__).resolve().parents[2]
PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ----------------------------------------------------------------------------- strategies


def _floats(lo: float, hi: float, lo_open: bool = False) -> st.SearchStrategy[float]:
    """Anywhere in [lo, hi] (or (lo, hi]), with the bounds, tiny and huge magnitudes and
    values that repr writes in scientific notation drawn often."""
    special = [lo, hi, -1e-05, -2.5e-07, 1e-05, 2.5e-07, 1e-300, 5e-324, 1e+16, -40.0,
               1e15, 123456789.125, -0.0, 0.1, 1 / 3]
    special = [v for v in special if lo <= v <= hi and not (lo_open and v == lo)]
    return st.one_of(st.sampled_from(special),
                     st.floats(lo, hi, exclude_min=lo_open, allow_nan=False),
                     st.floats(lo, hi, exclude_min=lo_open, allow_nan=False)
                     .map(lambda v: float(f"{v:.3e}"))
                     .filter(lambda v: lo <= v <= hi and not (lo_open and v == lo)))


def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from([lo, hi]), st.integers(lo, hi))


def _field_values(name: str, hi: int | None = None) -> st.SearchStrategy:
    """Values of numeric spec field ``name`` (``hi``: a dataset-dependent upper limit)."""
    if name in INT_BOUNDS:
        lo, top = INT_BOUNDS[name]
        return _ints(lo, min(top, hi) if hi is not None else top)
    lo, top, lo_open = FLOAT_BOUNDS[name]
    values = _floats(lo, top, lo_open)
    return st.one_of(values, st.just(math.inf)) if name == "snr_db" else values


@st.composite
def specs(draw) -> ExperimentSpec:
    """A valid spec: dataset, its parameters and every field drawn within its rules."""
    name = draw(st.sampled_from(sorted(DATASETS)))
    info = DATASETS[name]
    params = {}
    for pname, p in info.params.items():
        if p.kind is int:
            # keep the synthetic pools small enough to draw n_train from
            params[pname] = draw(_ints(int(p.lo), int(min(p.hi, 4096))))
        else:
            params[pname] = draw(_floats(float(p.lo), float(p.hi)))
    params = info.validate_params(params)
    train_pool, probe_pool = info.pool_sizes(params)
    noise = draw(st.sampled_from(
        ["auto", "none", "target", "input"] if info.task == "regression"
        else ["auto", "none", "input", "label"]))
    optimizer = draw(st.sampled_from(CHOICES["optimizer"]))
    kw = {
        "dataset": name, "dataset_params": params, "noise": noise, "optimizer": optimizer,
        "architecture": draw(st.sampled_from(architectures_for(name))),
        "activation": draw(st.sampled_from(CHOICES["activation"])),
        "label_noise_kind": draw(st.sampled_from(CHOICES["label_noise_kind"])),
        "lr_schedule": draw(st.sampled_from(CHOICES["lr_schedule"])),
        "task": draw(st.sampled_from(["auto", info.task])),
        "bias": draw(st.booleans()), "shared_init": draw(st.booleans()),
        "n_train": draw(_field_values("n_train", train_pool)),
        "n_probe": draw(st.one_of(st.none(), _ints(MIN_PROBE, probe_pool))),
        "momentum": draw(_field_values("momentum")) if optimizer == "sgd" else 0.0,
    }
    for f in ("width", "depth", "ensemble_size", "max_epochs", "batch_size", "seed",
              "snapshots", "snr_db", "label_noise", "init_scale", "lr", "loss_tol",
              "weight_decay", "grad_clip"):
        if draw(st.booleans()):  # else the default: short lines are drawn too
            kw[f] = draw(_field_values(f))
    return ExperimentSpec(**kw)


# Fields an axis may sweep in these tests (the page's axes and more), dataset parameters
AXIS_FIELDS = ("n_train", "snr_db", "width", "label_noise", "init_scale", "seed", "lr",
               "weight_decay", "depth", "ensemble_size", "loss_tol", "max_epochs")


@st.composite
def sweeps(draw) -> tuple[ExperimentSpec, dict, int]:
    base = draw(specs())
    info = DATASETS[base.dataset]
    names = list(AXIS_FIELDS) + [PARAM_PREFIX + p for p in info.params]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))
    axes = {}
    for axis in chosen:
        if axis.startswith(PARAM_PREFIX):
            p = info.params[axis[len(PARAM_PREFIX):]]
            values = (_ints(int(p.lo), int(min(p.hi, 4096))) if p.kind is int
                      else _floats(float(p.lo), float(p.hi)))
        else:
            values = _field_values(axis, info.pool_sizes(base.params)[0]
                                   if axis == "n_train" else None)
        axes[axis] = draw(st.lists(values, min_size=1, max_size=4, unique=True))
    reps = draw(st.sampled_from([1, 1, 2, 3]))
    if "seed" in axes:
        reps = 1
    return base, axes, reps


def _sweep_or_reject(base, axes, reps) -> Sweep:
    """The sweep, or reject the draw (axis values that give one experiment twice, a
    label-noise axis on a regression task...): the hand-off only writes valid sweeps."""
    try:
        sweep = Sweep(base, axes, replicates=reps)
        hashes = _hashes(sweep)
    except ValueError:
        assume(False)
    return sweep, hashes


def _hashes(sweep: Sweep) -> list[str]:
    return [s.content_hash() for s in sweep.specs()]


def _parse(line: str):
    words = shlex.split(line)
    assert words[0] == "noisealign"
    return build_parser().parse_args(words[1:])


# ----------------------------------------------------------------------------- properties


@PROPS
@given(specs())
def test_run_line_and_script_give_the_spec_back(spec):
    line = cli_command(spec)
    assert "\n" not in line
    assert spec_from_args(_parse(line)).content_hash() == spec.content_hash(), line
    scope: dict = {"__name__": "snippet"}
    exec(python_snippet(spec), scope)  # noqa: S102 (the test runs the snippet the app hands out)
    assert scope["spec"].content_hash() == spec.content_hash()


@PROPS
@given(sweeps())
def test_sweep_line_and_script_give_the_sweep_back(drawn):
    base, axes, reps = drawn
    _sweep, hashes = _sweep_or_reject(base, axes, reps)
    line = cli_command(base, axes, reps)
    back = sweep_from_args(_parse(line))
    assert _hashes(back) == hashes, line
    assert back.replicates == reps
    scope: dict = {"__name__": "snippet"}
    exec(python_snippet(base, axes, reps), scope)  # noqa: S102 (the test runs the snippet the app hands out)
    assert _hashes(scope["sweep"]) == hashes


def test_negative_scientific_values_are_joined_to_their_flag():
    """The issue's report: ``--snr-db -1e-05`` was taken for an option (exit 2)."""
    for snr in (-1e-05, -2.5e-07, -40.0, -1.5):
        spec = ExperimentSpec(snr_db=snr)
        line = cli_command(spec)
        assert f"--snr-db={snr!r}" in line or f"--snr-db={int(snr)}" in line, line
        assert spec_from_args(_parse(line)).content_hash() == spec.content_hash()
        line = cli_command(spec, {"n_train": [10, 20]})
        assert _hashes(sweep_from_args(_parse(line))) == _hashes(Sweep(spec, {"n_train": [10, 20]}))


# A program that prints the hashes of what the real parser makes of its arguments.
_PROBE = ("import sys, json; from noisealign.engine.cli.commands import build_parser, spec_from_args, "
          "sweep_from_args; a = build_parser().parse_args(sys.argv[1:]); "
          "s = sweep_from_args(a).specs() if a.command == 'sweep' else [spec_from_args(a)]; "
          "print(json.dumps([x.content_hash() for x in s]))")
# The generated script run by a real interpreter from a file, without its __main__ part
# (that would train): the definitions it makes, as hashes.
_RUN_SCRIPT = ("import json, runpy, sys; g = runpy.run_path(sys.argv[1], run_name='check'); "
               "s = g['sweep'].specs() if 'sweep' in g else [g['spec']]; "
               "print(json.dumps([x.content_hash() for x in s]))")


def _env() -> dict:
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}


def _shell(line: str, cwd: Path, program: str | None = None) -> subprocess.CompletedProcess:
    """``line`` (written with program ``_NA_``) through /bin/sh, the program being the
    hash probe or ``program``; the cache under ``cwd``."""
    program = program or f"{shlex.quote(sys.executable)} -c {shlex.quote(_PROBE)}"
    return subprocess.run(["/bin/sh", "-c", line.replace("_NA_", program, 1)],
                          capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**_env(), "NOISEALIGN_CACHE_DIR": str(cwd / "cache")}, check=False)


def _script(code: str, path: Path) -> subprocess.CompletedProcess:
    path.write_text(code, encoding="utf-8")
    return subprocess.run([sys.executable, "-c", _RUN_SCRIPT, str(path)], capture_output=True,
                          text=True, timeout=120, cwd=path.parent, env=_env(), check=False)


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
@given(sweeps())
def test_a_few_through_a_real_shell_and_a_real_interpreter(tmp_path, drawn):
    base, axes, reps = drawn
    _sweep, hashes = _sweep_or_reject(base, axes, reps)
    out = _shell(cli_command(base, axes, reps, program="_NA_"), tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == hashes
    out = _script(python_snippet(base, axes, reps), tmp_path / "view.py")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == hashes


# ----------------------------------------------------------------------------- hostile

HOSTILE = ["relu'; touch PWNED; echo '", 'relu"; touch PWNED; "', "relu\ntouch PWNED",
           "relu\u2028__import__('os').system('touch PWNED')", "$(touch PWNED)",
           "`touch PWNED`", "relu; touch PWNED", "-K=3 --seed 9", "x\\'); open('PWNED','w')#"]
STRING_FIELDS = ["dataset", *CHOICES]  # every str field of the spec (all from the URL)


@pytest.mark.parametrize("field", STRING_FIELDS)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_are_refused_by_the_spec_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        ExperimentSpec(**{field: value})
    with pytest.raises(ValueError, match="dataset_params"):
        ExperimentSpec(dataset="gaussian-mixture", dataset_params={"d": value})
    with pytest.raises(ValueError):
        ExperimentSpec(dataset="gaussian-mixture", dataset_params={value: 3})


def _forced(**values) -> ExperimentSpec:
    """A spec holding values its validation refuses (as if a bug let one through)."""
    spec = ExperimentSpec(dataset="digits", optimizer="sgd", momentum=0.5)
    for k, v in values.items():
        object.__setattr__(spec, k, v)
    return spec


# The string fields the hand-off writes (dataset and task are looked up, device never).
WRITTEN = ["activation", "optimizer", "lr_schedule", "architecture", "label_noise_kind",
           "noise"]


# Runs each file given, without its __main__ part, and prints what each raised.
_RUN_ALL = ("import json, runpy, sys\nout = []\nfor f in sys.argv[1:]:\n"
            "    try:\n        runpy.run_path(f, run_name='check'); out.append('ran')\n"
            "    except Exception as e:\n        out.append(type(e).__name__)\n"
            "print(json.dumps(out))")


def test_a_forced_hostile_value_runs_nothing_in_a_shell_or_python(tmp_path):
    """Every written string field, every hostile value, a run and a sweep: one shell
    script (each line's program is the shell's own ``printf``, which shows the words the
    shell made) and one interpreter running every script; the words go to the real
    parser, which refuses the value naming the field. Then the real ``python -m engine``
    once per field: exit 2 and one line."""
    lines, scripts, cases = [], [], []
    for field in WRITTEN:
        for value in HOSTILE:
            spec = _forced(**({field: value, "label_noise": 0.3}
                              if field == "label_noise_kind" else {field: value}))
            for axes in (None, {"width": [4, 8]}):
                line = cli_command(spec, axes, program="_NA_")
                lines.append(line.replace("_NA_", "printf '%s\\0'", 1)
                             + "; printf '\\n\\0'")
                path = tmp_path / f"view{len(scripts)}.py"
                path.write_text(python_snippet(spec, axes), encoding="utf-8")
                scripts.append(str(path))
                cases.append((field, value, axes))
    out = subprocess.run(["/bin/sh", "-c", "\n".join(lines)], capture_output=True,
                         timeout=120, cwd=tmp_path, env=_env(), check=False)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.decode("utf-8").split("\n\0")[:-1]
    assert len(printed) == len(cases)
    for (field, value, axes), text in zip(cases, printed):
        words = text.split("\0")[:-1]
        flag = "--" + field.replace("_", "-")
        assert value in words or f"{flag}={value}" in words, (value, words)
        args = build_parser().parse_args(words)
        with pytest.raises(ValueError, match=field):
            sweep_from_args(args) if axes else spec_from_args(args)
    out = subprocess.run([sys.executable, "-c", _RUN_ALL, *scripts], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path, env=_env(), check=False)
    assert out.returncode == 0, out.stderr
    # SpecError is the ValueError every spec field raises (it names the field)
    assert json.loads(out.stdout) == ["SpecError"] * len(cases)
    for field in WRITTEN:  # the real command line: one line, exit 2, nothing computed
        line = cli_command(_forced(**{field: HOSTILE[0]}), program="_NA_")
        out = _shell(line, tmp_path, program=f"{shlex.quote(sys.executable)} -m engine")
        assert out.returncode == 2, out
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr, out
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert not (tmp_path / "PWNED").exists()
    left = {p.name for p in tmp_path.iterdir()} - {Path(f).name for f in scripts}
    assert left <= {"cache"}, left
