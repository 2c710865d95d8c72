"""Replicate seeds: every grid point trained R times with its own data seed, cached per
seed, and exported with the standard error across seeds."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec
from noisealign.engine.cli.commands import main
from noisealign.engine.compute.export import aggregate, write_csv, write_json
from noisealign.engine.compute.sweep import REPLICATE, Sweep, replicate_seed, run_sweep
from noisealign.engine.store.cache import ResultCache

BASE = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 6}, n_train=10,
                      n_probe=30, width=6, ensemble_size=3, max_epochs=30, device="cpu")


def test_replicates_multiply_the_runs_with_distinct_seeds():
    plain = Sweep(BASE, {"n_train": [8, 16]})
    reps = Sweep(BASE, {"n_train": [8, 16]}, replicates=3)
    assert len(reps) == 6 and reps.replicates == 3 and reps.shape == (2,)
    specs, points = reps.specs(), reps.points()
    assert [p[REPLICATE] for p in points] == [0, 1, 2, 0, 1, 2]
    # Replicate 0 is the plain sweep's run (same cache entry); the others differ only
    # in their seed, and no two runs share one.
    assert specs[0] == plain.specs()[0] and specs[3] == plain.specs()[1]
    assert len({s.seed for s in specs[:3]}) == 3
    assert specs[1].seed == replicate_seed(BASE.seed, 1) != BASE.seed
    assert specs[1] == specs[0].__class__.from_dict({**specs[0].to_dict(), "seed": specs[1].seed})
    assert replicate_seed(0, 1) != replicate_seed(1, 1)


@pytest.mark.parametrize("bad, message", [
    ({"replicates": 0}, "replicates=0 is invalid: allowed an integer from 1 to 50"),
    ({"replicates": 2.5}, "replicates=2.5 is invalid"),
    ({"replicates": True}, "replicates=True is invalid"),
])
def test_bad_replicates_name_the_field(bad, message):
    with pytest.raises(ValueError, match=message):
        Sweep(BASE, {"n_train": [8, 16]}, **bad)


def test_replicates_with_a_seed_axis_are_refused():
    with pytest.raises(ValueError, match="replicates > 1 with a 'seed' axis"):
        Sweep(BASE, {"seed": [0, 1]}, replicates=2)


def test_raising_replicates_computes_only_the_new_seeds_and_errors_are_across_seeds(tmp_path):
    cache = ResultCache(tmp_path / "c")
    two = list(run_sweep(Sweep(BASE, {"n_train": [8, 16]}, replicates=2), cache,
                         executor="serial"))
    assert len(two) == 4 and not any(p.from_cache for p in two)
    three = list(run_sweep(Sweep(BASE, {"n_train": [8, 16]}, replicates=3), cache,
                           executor="serial"))
    assert sorted((p.axis_values["n_train"], p.axis_values[REPLICATE], p.from_cache)
                  for p in three) == [(8, 0, True), (8, 1, True), (8, 2, False),
                                      (16, 0, True), (16, 1, True), (16, 2, False)]
    rows = aggregate(three)
    assert [r["n_train"] for r in rows] == [8, 16] and all(r["replicates"] == 3 for r in rows)
    for row in rows:
        runs = [p for p in three if p.axis_values["n_train"] == row["n_train"]]
        cka = np.array([p.summary["measures"]["cka"]["mean"] for p in runs])
        assert row["measures.cka.mean"] == pytest.approx(cka.mean())
        assert row["measures.cka.sem_seeds"] == pytest.approx(cka.std(ddof=1) / math.sqrt(3))
        pair_sem = np.array([p.summary["measures"]["cka"]["sem"] for p in runs])
        assert row["measures.cka.sem"] == pytest.approx(pair_sem.mean())  # within-run error
        info = np.array([p.summary["information_content"]["trained"]["ii_h_to_y_mean"]
                         for p in runs])
        assert row["information_content.trained.ii_h_to_y_sem_seeds"] == pytest.approx(
            info.std(ddof=1) / math.sqrt(3))
        assert REPLICATE not in row
    # The exports carry the same numbers.
    with open(write_csv(three, tmp_path / "t.csv")) as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2
    assert float(table[0]["measures.cka.sem_seeds"]) == pytest.approx(
        rows[0]["measures.cka.sem_seeds"])
    data = json.loads(write_json(three, tmp_path / "t.json").read_text())
    assert [d["n_train"] for d in data] == [8, 16] and len(data[0]["runs"]) == 3
    assert data[0]["across_seeds"]["measures.cka.sem_seeds"] == pytest.approx(
        rows[0]["measures.cka.sem_seeds"])
    assert [r["replicate"] for r in data[0]["runs"]] == [0, 1, 2]


def test_cli_replicates_show_errors_across_seeds(tmp_path, capsys):
    out = tmp_path / "r.csv"
    rc = main(["sweep", "--param", "d=6", "--n-probe", "30", "--width", "6", "-K", "2",
               "--max-epochs", "30", "--device", "cpu", "--axis", "n_train=8,16",
               "--replicates", "2", "--executor", "serial", "--quiet", "--out", str(out),
               "--cache-dir", str(tmp_path / "c")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "4 runs (2 seeds per point)" in captured.err
    header = captured.out.splitlines()[0].split()
    assert header[:2] == ["n_train", "replicates"] and "measures.cka.sem_seeds" in header
    with open(out) as f:
        assert [r["replicates"] for r in csv.DictReader(f)] == ["2", "2"]
    assert main(["sweep", "--axis", "n_train=8,16", "--replicates", "0",
                 "--cache-dir", str(tmp_path / "c")]) == 2
    assert "replicates=0 is invalid" in capsys.readouterr().err
