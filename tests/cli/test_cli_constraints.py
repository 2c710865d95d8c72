"""The CLI's flags read the fields' constraints: a bad value drawn from them is one line on
stderr naming the field and the allowed range, exit status 2; --help states each range."""

from __future__ import annotations

import pytest

from noisealign.engine.cli import commands as cli
from noisealign.engine.pipeline import constraints as rules
from tests.pipeline.test_constraints import allowed_names_range

# One bad value per kind of constraint through the CLI (each flag is the same parser).
CLI_BAD = [("snr_db", "100"), ("n_train", "1"), ("lr", "0"), ("optimizer", "rmsprop"),
           ("bias", "1"), ("width", "2.5")]


@pytest.mark.parametrize("name,bad", CLI_BAD)
def test_the_cli_says_it_in_one_line_and_exits_2(name, bad, capsys) -> None:
    flag = "--" + name.replace("_", "-")
    assert cli.main(["run", flag, bad, "--quiet", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(f"error: {name}=") and "allowed" in err, err
    assert allowed_names_range(rules.FIELDS[name], err), err


def test_the_cli_help_states_every_fields_range_and_default(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a number in [-40, 80] or inf, in dB (inf: no noise) (default: 10.0)" in text
    assert f"an integer in [2, 10000000] (default: {rules.default('n_train')})" in text
