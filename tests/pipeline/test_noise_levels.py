"""Which noise level applies to which noise kind, decided once (issue 24.1, noisealign.engine.pipeline.spec).

The spec resets a level its kind does not use; the CLI's --level, the handoff's command
line, the sweep's axis check and the report's settings line all read the same table, so
each is checked here against the spec's own reset (the independent behaviour: what a
spec stores) rather than against the table.
"""

from __future__ import annotations

import math

import pytest

from noisealign.engine.cli import commands as cli
from noisealign.engine.cli import handoff
from noisealign.engine.compute.sweep import Sweep
from noisealign.engine.pipeline.spec import (
    LEVEL_FIELD,
    NOISE_KINDS,
    ExperimentSpec,
    applies,
    level_field,
    noise_for_level,
    noise_for_task,
    noise_kinds_of,
)

DATASET_OF = {"regression": "linear-teacher", "classification": "digits"}
ALLOWED = {("regression", "none"), ("regression", "target"), ("regression", "input"),
           ("classification", "none"), ("classification", "input"),
           ("classification", "label")}


@pytest.mark.parametrize("task,noise", sorted(ALLOWED))
def test_the_spec_keeps_exactly_the_level_that_applies(task: str, noise: str) -> None:
    spec = ExperimentSpec(dataset=DATASET_OF[task], noise=noise, snr_db=3.0, label_noise=0.3,
                          label_noise_kind="pair")
    kept = {f for f, v in (("snr_db", 3.0), ("label_noise", 0.3), ("label_noise_kind", "pair"))
            if getattr(spec, f) == v}
    assert kept == {f for f in ("snr_db", "label_noise", "label_noise_kind")
                    if applies(f, noise)}
    assert spec.level_field == level_field(noise) == LEVEL_FIELD[noise]
    assert spec.noise_level == (None if noise == "none" else 3.0 if noise != "label" else 0.3)
    if noise == "none":
        assert spec.snr_db == math.inf and spec.label_noise == 0.0


@pytest.mark.parametrize("task", ["regression", "classification"])
def test_noise_a_task_cannot_have_is_refused_and_moved(task: str) -> None:
    for noise in NOISE_KINDS:
        if (task, noise) in ALLOWED:
            assert noise_for_task(task, noise) == noise
            continue
        with pytest.raises(ValueError, match=f"noise='{noise}' is invalid: allowed .* for a "
                           f"{task} task"):
            ExperimentSpec(dataset=DATASET_OF[task], noise=noise)
        moved = noise_for_task(task, noise)
        assert ExperimentSpec(dataset=DATASET_OF[task], noise=moved).noise == moved
    assert noise_for_task(task, "auto") == ExperimentSpec(dataset=DATASET_OF[task]).noise


def test_level_fields_name_their_kinds() -> None:
    assert noise_kinds_of("snr_db") == ("target", "input")
    assert noise_kinds_of("label_noise") == noise_kinds_of("label_noise_kind") == ("label",)
    assert noise_for_level("snr_db", "regression") == "target"
    assert noise_for_level("snr_db", "classification") == "input"
    assert noise_for_level("label_noise", "classification") == "label"
    assert applies("width", "none") and applies("seed", "label")


@pytest.mark.parametrize("argv,field,value", [
    (["--dataset", "digits", "--level", "0.25"], "label_noise", 0.25),
    (["--dataset", "digits", "--noise", "input", "--level", "7"], "snr_db", 7.0),
    (["--level", "5"], "snr_db", 5.0),
])
def test_cli_level_lands_on_the_field_the_spec_keeps(argv: list[str], field: str,
                                                     value: float) -> None:
    args = cli.build_parser().parse_args(["run"] + argv)
    spec = cli.spec_from_args(args)
    assert getattr(spec, field) == value and spec.noise_level == value


def test_cli_level_without_noise_is_one_clear_error() -> None:
    args = cli.build_parser().parse_args(["run", "--noise", "none", "--level", "5"])
    with pytest.raises(ValueError, match="--level is invalid with --noise none"):
        cli.spec_from_args(args)


def test_handoff_and_sweep_skip_levels_that_do_not_apply() -> None:
    label = ExperimentSpec(dataset="digits", noise="label", label_noise=0.2,
                           label_noise_kind="pair")
    assert {"label_noise", "label_noise_kind"} <= set(handoff.changed_fields(label))
    # input noise on the same dataset: the label-noise fields are reset, never listed
    inp = label.replace(noise="input", snr_db=5.0)
    assert "snr_db" in handoff.changed_fields(inp)
    assert not {"label_noise", "label_noise_kind"} & set(handoff.changed_fields(inp))
    assert "snr_db" not in handoff.changed_fields(label)
    # the command line the dashboard hands off rebuilds the same spec
    argv = handoff.cli_command(inp).split()[1:]
    assert cli.spec_from_args(cli.build_parser().parse_args(argv)) == inp
    with pytest.raises(ValueError, match="axis 'snr_db' has no effect with noise='label'"):
        Sweep(label, {"snr_db": [0.0, 10.0]})
    with pytest.raises(ValueError, match="axis 'label_noise' has no effect"):
        Sweep(ExperimentSpec(noise="target"), {"label_noise": [0.0, 0.5]})
