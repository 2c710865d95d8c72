"""noisealign.engine.cli.handoff: the CLI line and the Python snippet that reproduce a dashboard view
give back exactly the same specs (content hashes), read by the real CLI parser and by
Python itself."""

from __future__ import annotations

import math
import shlex
import subprocess
import sys

import pytest

from noisealign.engine.cli.commands import build_parser, spec_from_args, sweep_from_args
from noisealign.engine.cli.handoff import cli_block, cli_command, python_snippet
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import ExperimentSpec

# (base spec, axes, replicates): regression and classification, dataset parameters,
# label-noise kinds, input noise on a classifier, a CNN, replicates, awkward floats.
CASES = [
    (ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 50}, n_train=50,
                    n_probe=300, activation="linear", init_scale=0.1, max_epochs=300),
     {"n_train": [20, 35, 50, 70, 100, 200], "snr_db": [0.0, 10.0, 20.0]}, 1),
    (ExperimentSpec(dataset="digits", n_train=100, n_probe=300, noise="label",
                    label_noise=0.0, width=2, ensemble_size=2, lr=0.003, loss_tol=1e-5),
     {"width": [2, 5, 10], "label_noise": [0.0, 0.2, 1.0]}, 3),
    (ExperimentSpec(dataset="digits", noise="label", label_noise=0.3,
                    label_noise_kind="pair", optimizer="sgd", momentum=0.9,
                    lr_schedule="cosine", batch_size=32, grad_clip=1.5),
     {"width": [8, 16]}, 1),
    (ExperimentSpec(dataset="gaussian-mixture",
                    dataset_params={"d": 10, "n_classes": 4, "separation": 2.5},
                    noise="input", snr_db=-5.5, shared_init=True, bias=False),
     {"dataset_params.d": [5, 10, 20]}, 2),
    (ExperimentSpec(dataset="digits", architecture="cnn", width=8, n_train=200,
                    weight_decay=3e-4, seed=7, snapshots=4),
     {"n_train": [100, 200]}, 1),
    (ExperimentSpec(dataset="mlp-teacher", dataset_params={"teacher_width": 16},
                    snr_db=math.inf, depth=2, activation="tanh"),
     {"init_scale": [0.01, 0.1, 1.0]}, 1),
    (ExperimentSpec(dataset="linear-teacher", noise="none", n_train=30),
     {"width": [4, 8]}, 1),
]


def _parse(line: str):
    words = shlex.split(line)
    assert words[0] == "noisealign"
    return build_parser().parse_args(words[1:])


def _hashes(sweep: Sweep) -> list[str]:
    return [s.content_hash() for s in sweep.specs()]


@pytest.mark.parametrize("base, axes, reps", CASES)
def test_cli_sweep_line_reads_back_as_the_same_sweep(base, axes, reps):
    sweep = Sweep(base, axes, replicates=reps)
    line = cli_command(base, axes, reps)
    assert "\n" not in line and line.startswith("noisealign sweep ")
    args = _parse(line)
    back = sweep_from_args(args)
    assert _hashes(back) == _hashes(sweep), line
    assert back.replicates == reps
    assert back.points() == sweep.points()


@pytest.mark.parametrize("base, axes, reps", CASES)
def test_cli_run_line_reads_back_as_the_same_spec(base, axes, reps):
    line = cli_command(base)
    assert line.startswith("noisealign run ")
    assert spec_from_args(_parse(line)).content_hash() == base.content_hash(), line


@pytest.mark.parametrize("base, axes, reps", CASES)
def test_python_snippet_defines_the_same_sweep_without_running_it(base, axes, reps):
    sweep = Sweep(base, axes, replicates=reps)
    code = python_snippet(base, axes, reps)
    compile(code, "<snippet>", "exec")
    scope: dict = {"__name__": "snippet"}  # not __main__: the run loop must not start
    exec(code, scope)  # noqa: S102 (the test runs the snippet the app hands out)
    assert isinstance(scope["sweep"], Sweep)
    assert _hashes(scope["sweep"]) == _hashes(sweep)
    assert scope["sweep"].replicates == reps
    assert 'if __name__ == "__main__":' in code and "run_sweep(sweep" in code


@pytest.mark.parametrize("base, axes, reps", CASES)
def test_python_snippet_of_a_single_run(base, axes, reps):
    scope: dict = {"__name__": "snippet"}
    exec(python_snippet(base), scope)  # noqa: S102 (the test runs the snippet the app hands out)
    assert scope["spec"].content_hash() == base.content_hash()


def test_only_changed_fields_are_written():
    line = cli_command(ExperimentSpec(dataset="digits"), {"width": [8, 16]})
    assert line == "noisealign sweep --dataset digits --axis width=8,16"
    # a swept field's base value is not written; the noise the axis implies neither
    line = cli_command(ExperimentSpec(dataset="digits", noise="input", snr_db=3.0,
                                      n_train=77), {"snr_db": [0, 10]})
    assert line == "noisealign sweep --dataset digits --n-train 77 --axis snr_db=0,10"
    code = python_snippet(ExperimentSpec(dataset="digits", width=32), {"n_train": [50, 100]})
    assert "base = ExperimentSpec(dataset='digits', width=32)" in code
    assert "Sweep(base, {'n_train': [50, 100]})" in code


def test_flags_and_quoting():
    spec = ExperimentSpec(dataset="digits", ensemble_size=6, shared_init=True,
                          weight_decay=1e-5)
    line = cli_command(spec)
    assert "-K 6" in line and "--shared-init true" in line and "--weight-decay 1e-05" in line
    # every word survives a shell: quote what a shell would split or expand
    spec = ExperimentSpec(dataset="gaussian-mixture", dataset_params={"separation": 0.5})
    assert "--param separation=0.5" in cli_command(spec)
    assert cli_command(spec, program="python -m engine").startswith("python -m engine run")


def test_block_mentions_the_cluster_and_replicates_need_axes():
    block = cli_block(ExperimentSpec(), {"n_train": [10, 20]})
    assert "--scheduler tcp://HOST:8786" in block
    assert block.splitlines()[0] == cli_command(ExperimentSpec(), {"n_train": [10, 20]})
    with pytest.raises(ValueError, match="replicates"):
        cli_command(ExperimentSpec(), None, replicates=2)


def test_the_line_runs_in_a_real_shell_as_the_same_specs(tmp_path):
    """The quoted line through /bin/sh into the real ``python -m engine`` parser."""
    base, axes, reps = CASES[3]
    line = cli_command(base, axes, reps, program="_NA_")
    probe = ("import sys; from noisealign.engine.cli.commands import build_parser, sweep_from_args; "
             "s = sweep_from_args(build_parser().parse_args(sys.argv[1:])); "
             "print(' '.join(x.content_hash() for x in s.specs()))")
    cmd = line.replace("_NA_", f"{shlex.quote(sys.executable)} -c {shlex.quote(probe)}", 1)
    out = subprocess.run(["/bin/sh", "-c", cmd], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path, env={"PYTHONPATH": str(__import__("pathlib").Path(
                             __file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"}, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == _hashes(Sweep(base, axes, replicates=reps))
