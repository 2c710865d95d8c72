"""Sweeps (issue 5): validation up front, local / Dask / serial executors giving the same
numbers, cached points first, progress, cancellation, exports and the CLI."""

import csv
import json
import math
import threading
import time
from itertools import pairwise

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.cli.commands import main, progress_bar
from noisealign.engine.compute.export import sweep_table, write_csv, write_json, write_table
from noisealign.engine.compute.sweep import Sweep, SweepError, SweepPoint, SweepProgress, run_sweep
from noisealign.engine.store.cache import ResultCache

BASE = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 20, "n_probe": 20,
            "width": 8, "ensemble_size": 2, "max_epochs": 20, "device": "cpu"}
NUMBERS = ("test_error_mean", "train_loss_mean", "n_diverged", "n_parameters")


def small_summary(r) -> dict:
    return r.summary()


def cache_at(path) -> ResultCache:
    return ResultCache(path, summarise=small_summary)


def numbers(points) -> dict:
    """Summary numbers keyed by axis values (order of completion does not matter)."""
    return {tuple(sorted(p.axis_values.items())): [p.summary[k] for k in NUMBERS]
            for p in points}


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("axes, message", [
    ({"n_trains": [10, 20]}, "axis 'n_trains' is not a spec field: allowed .*n_train"),
    ({"dataset_params.q": [1]}, "axis 'dataset_params.q' is not a spec field"),
    ({"n_train": []}, "axis 'n_train' has no values"),
    ({"n_train": 20}, "axis 'n_train' values=20 are invalid"),
    ({"n_train": [20, 1]}, "n_train=1 is invalid"),
    ({"width": [8, 0]}, "width=0 is invalid"),
    ({"snr_db": [0, 100]}, "snr_db=100.0 is invalid"),
    ({"dataset_params.d": [10, 0]}, r"dataset_params\['d'\]=0 is invalid"),
    ({"n_train": [20, 30, 20]}, "repeats the value 20"),
    ({"label_noise": [0.1, 0.2]}, "axis 'label_noise' has no effect with noise='target'"),
    ({"batch_size": [50, 100]}, "give the same experiment"),
    ({}, "allowed 1 or 2"),
    ({"n_train": [20], "width": [8], "seed": [1]}, "allowed 1 or 2"),
])
def test_invalid_axes_are_refused_before_anything_runs(tmp_path, axes, message):
    with pytest.raises(ValueError, match=message):
        Sweep(ExperimentSpec(**BASE), axes)
    assert list(tmp_path.iterdir()) == []  # nothing ran, no cache was created


def test_snr_axis_without_snr_noise_explains_what_to_do():
    base = ExperimentSpec(**dict(BASE, dataset="gaussian-mixture", dataset_params={},
                                 noise="label", label_noise=0.1))
    with pytest.raises(ValueError, match=r"snr_db.*no effect with noise='label'.*noise='input'"):
        Sweep(base, {"snr_db": [0, 10]})
    # with input noise it is a valid axis
    assert len(Sweep(dict_replace(base, noise="input"), {"snr_db": [0, 10]})) == 2
    with pytest.raises(ValueError, match="no effect with noise='none'"):
        Sweep(dict_replace(BASE_SPEC, noise="none"), {"snr_db": [0, 10]})


BASE_SPEC = ExperimentSpec(**BASE)


def dict_replace(spec, **kw):
    return ExperimentSpec.from_dict({**spec.to_dict(), **kw})


def test_grid_order_specs_and_points():
    sweep = Sweep(BASE_SPEC, {"n_train": [20, np.int64(40)], "dataset_params.d": [5, 10, 15]})
    assert sweep.shape == (2, 3) and len(sweep) == 6
    assert sweep.axis_names == ["n_train", "dataset_params.d"]
    assert sweep.points()[:4] == [{"n_train": 20, "dataset_params.d": 5},
                                  {"n_train": 20, "dataset_params.d": 10},
                                  {"n_train": 20, "dataset_params.d": 15},
                                  {"n_train": 40, "dataset_params.d": 5}]
    specs = sweep.specs()
    assert [s.n_train for s in specs] == [20, 20, 20, 40, 40, 40]
    assert [s.params["d"] for s in specs] == [5, 10, 15] * 2
    assert all(s.width == 8 and s.max_epochs == 20 for s in specs)
    with pytest.raises(TypeError):
        sweep.axes["width"] = (1,)  # read-only


def test_run_sweep_argument_errors(tmp_path):
    sweep = Sweep(BASE_SPEC, {"n_train": [20]})
    cache = cache_at(tmp_path)
    # raised by the call itself, before the first point is asked for
    with pytest.raises(ValueError, match="executor='threads' is invalid"):
        run_sweep(sweep, cache, executor="threads")
    with pytest.raises(ValueError, match="workers=0 is invalid"):
        run_sweep(sweep, cache, workers=0)
    with pytest.raises(ValueError, match="scheduler='tcp://x:1' is only used with executor='dask'"):
        run_sweep(sweep, cache, scheduler="tcp://x:1")
    with pytest.raises(ValueError, match="cache must be a ResultCache"):
        run_sweep(sweep, str(tmp_path))
    assert cache.entries() == []


# ----------------------------------------------------------------------------- executors


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """A 2 x 2 sweep computed by 2 local worker processes (1 torch thread each)."""
    path = tmp_path_factory.mktemp("local")
    sweep = Sweep(BASE_SPEC, {"n_train": [20, 30], "snr_db": [0, 10]})
    seen: list[SweepProgress] = []
    t0 = time.perf_counter()
    points = list(run_sweep(sweep, cache_at(path), executor="local", workers=2,
                            threads_per_worker=1, progress=seen.append))
    return sweep, path, points, seen, time.perf_counter() - t0


def test_local_sweep_yields_every_point_and_fills_the_cache(local_run):
    sweep, path, points, seen, _ = local_run
    assert len(points) == 4 and all(isinstance(p, SweepPoint) for p in points)
    assert sorted(tuple(p.axis_values.items()) for p in points) == sorted(
        tuple(p.items()) for p in sweep.points())
    assert not any(p.from_cache for p in points)
    cache = cache_at(path)
    for p in points:
        assert p.spec in sweep.specs() and p.key == cache.key(p.spec)
        assert cache.get_summary(p.spec) == p.summary and cache.has(p.spec)
        assert p.seconds > 0 and p.summary["n_parameters"] == p.spec.n_parameters()
    # progress: a report at the start and after each point, ending at total
    assert [s.done for s in seen] == [0, 1, 2, 3, 4] and all(s.total == 4 for s in seen)
    assert seen[0].remaining_estimate is None and seen[-1].remaining_estimate == 0.0
    assert all(b.elapsed >= a.elapsed for a, b in pairwise(seen))
    assert "4/4" in progress_bar(seen[-1]) and "#" * 30 in progress_bar(seen[-1])


def test_second_sweep_computes_only_what_is_missing_cached_first(local_run):
    _, path, first, _, _ = local_run
    bigger = Sweep(BASE_SPEC, {"n_train": [20, 30, 40], "snr_db": [0, 10]})
    points = list(run_sweep(bigger, cache_at(path), executor="serial"))
    assert [p.from_cache for p in points] == [True] * 4 + [False] * 2
    assert {p.axis_values["n_train"] for p in points[4:]} == {40}
    assert {k: v for k, v in numbers(points).items() if k in numbers(first)} == numbers(first)
    again = list(run_sweep(bigger, cache_at(path), executor="local"))
    assert all(p.from_cache for p in again) and numbers(again) == numbers(points)


def test_dask_local_cluster_gives_the_same_numbers_as_local(local_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep, _, local_points, _, _ = local_run
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        dask_points = list(run_sweep(sweep, cache_at(tmp_path / "dask"), executor="dask",
                                     scheduler=cluster.scheduler_address,
                                     threads_per_worker=1))
    assert not any(p.from_cache for p in dask_points)
    assert numbers(dask_points) == numbers(local_points)
    # and the serial executor in this process agrees too
    serial = list(run_sweep(sweep, cache_at(tmp_path / "serial"), executor="serial"))
    got, want = numbers(serial), numbers(local_points)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5)


@pytest.mark.parametrize("executor", ["local", "serial"])
def test_a_point_being_computed_elsewhere_is_not_computed_twice(tmp_path, executor):
    sweep = Sweep(BASE_SPEC, {"seed": [1, 2, 3]})
    busy = sweep.specs()[1]
    cache = cache_at(tmp_path)
    holding = threading.Event()

    def other_session():  # e.g. the dashboard computing the same spec right now
        with cache.lock(busy):
            holding.set()
            r = run_experiment(busy)
            time.sleep(1.0)
            cache.put(busy, r)

    t = threading.Thread(target=other_session)
    t.start()
    holding.wait(30)
    points = list(run_sweep(sweep, cache, executor=executor, workers=1))
    t.join(30)
    by_seed = {p.axis_values["seed"]: p for p in points}
    assert sorted(by_seed) == [1, 2, 3]
    assert by_seed[2].from_cache and not by_seed[1].from_cache and not by_seed[3].from_cache
    assert by_seed[2].summary == cache.get_summary(busy)


def test_cancel_stops_a_local_sweep_and_stores_nothing_unfinished(tmp_path):
    slow = dict_replace(BASE_SPEC, max_epochs=200_000, loss_tol=0.0)  # minutes per point
    sweep = Sweep(slow, {"seed": [1, 2, 3]})
    cache = cache_at(tmp_path)
    t0 = time.monotonic()
    points = list(run_sweep(sweep, cache, executor="local", workers=2,
                            cancel=lambda: time.monotonic() - t0 > 3.0,
                            max_sweep_seconds=math.inf))  # past the sweep guard on purpose
    assert points == [] and cache.entries() == []
    assert time.monotonic() - t0 < 30  # workers stopped at their next epoch


def test_closing_the_iterator_early_stops_the_workers(tmp_path):
    # two workers: the fast point finishes and is yielded while the slow one trains
    sweep = Sweep(dict_replace(BASE_SPEC, loss_tol=0.0), {"max_epochs": [20, 200_000]})
    cache = cache_at(tmp_path)
    it = run_sweep(sweep, cache, executor="local", workers=2, threads_per_worker=1,
                   max_sweep_seconds=math.inf)  # past the sweep guard on purpose
    first = next(it)
    assert first.axis_values == {"max_epochs": 20} and not first.from_cache
    t0 = time.monotonic()
    it.close()  # e.g. the dashboard's user navigated away
    assert time.monotonic() - t0 < 20  # the slow worker stopped at its next epoch
    assert [e["spec"]["max_epochs"] for e in cache.entries()] == [20]


def test_a_failing_point_raises_naming_it(tmp_path):
    # mnist is a valid dataset, but its files are not in this test's data directory
    base = ExperimentSpec(**dict(BASE, dataset="mnist", dataset_params={}, noise="none"))
    sweep = Sweep(base, {"n_train": [20, 30]})
    with pytest.raises(SweepError, match=r"sweep point \{'n_train': 20\} failed"):
        list(run_sweep(sweep, cache_at(tmp_path), executor="serial"))


# ----------------------------------------------------------------------------- exports


def test_table_csv_and_json_exports(local_run, tmp_path):
    _, _, points, _, _ = local_run
    inf_point = SweepPoint(BASE_SPEC, {"snr_db": math.inf}, {"x": math.nan, "nested": {"a": 1},
                                                               "skip": [1, 2]}, True, 0.01, "k")
    rows = sweep_table(list(points) + [inf_point])
    assert list(rows[0])[:4] == ["n_train", "snr_db", "from_cache", "seconds"]
    assert rows[-1]["nested.a"] == 1 and "skip" not in rows[-1]

    write_csv(points, tmp_path / "r.csv")
    with open(tmp_path / "r.csv") as f:
        got = list(csv.DictReader(f))
    assert len(got) == 4 and {"n_train", "snr_db", "test_error_mean"} <= set(got[0])
    assert sorted(float(r["test_error_mean"]) for r in got) == sorted(
        p.summary["test_error_mean"] for p in points)

    write_json([inf_point, *points], tmp_path / "r.json")

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")
    data = json.loads((tmp_path / "r.json").read_text(), parse_constant=no_constants)
    assert data[0]["snr_db"] == "inf" and data[0]["summary"]["x"] is None
    assert data[0]["summary"]["nested"] == {"a": 1} and data[0]["summary"]["skip"] == [1, 2]
    assert ExperimentSpec.from_dict(data[1]["spec"]) == points[0].spec
    assert data[1]["summary"] == points[0].summary and data[1]["key"] == points[0].key
    with pytest.raises(ValueError, match="allowed a .csv or .json"):
        write_table(points, tmp_path / "r.txt")


# ----------------------------------------------------------------------------- CLI


def test_cli_sweep_writes_csv_with_a_progress_bar(tmp_path, capsys):
    out = tmp_path / "results.csv"
    rc = main(["sweep", "--param", "d=10", "--n-train", "20", "--n-probe", "20", "--width", "8",
               "-K", "2", "--max-epochs", "20", "--device", "cpu", "--axis", "n_train=20,30",
               "--axis", "snr_db=0,10", "--executor", "serial", "--out", str(out),
               "--cache-dir", str(tmp_path / "c")])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "4/4" in captured.err and "#" in captured.err and "wrote" in captured.err
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["n_train"], r["snr_db"]) for r in rows) == [
        ("20", "0.0"), ("20", "10.0"), ("30", "0.0"), ("30", "10.0")]
    header = captured.out.splitlines()[0].split()  # the table on stdout
    assert header[:4] == ["n_train", "snr_db", "from_cache", "seconds"]
    assert "test_error.mean" in header or "test_error_mean" in header
    assert main(["cache", "list", "--cache-dir", str(tmp_path / "c")]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 5  # header + 4 entries


def test_cli_snr_db_axis_on_a_classification_dataset_means_input_noise(tmp_path, capsys):
    # the example: no --noise, an snr_db axis on digits -> input noise
    rc = main(["sweep", "--dataset", "digits", "--n-probe", "40", "--width", "8", "--max-epochs", "5",
               "--axis", "n_train=20,30", "--axis", "snr_db=0,10", "--workers", "1",
               "--executor", "serial", "--cache-dir", str(tmp_path), "--quiet"])
    assert rc == 0
    capsys.readouterr()
    rc = main(["sweep", "--dataset", "digits", "--n-probe", "100", "--noise", "target",
               "--axis", "snr_db=0,10", "--cache-dir", str(tmp_path)])
    assert rc == 2 and "only meaningful with --noise input" in capsys.readouterr().err
    rc = main(["sweep", "--dataset", "digits", "--n-probe", "100", "--noise", "label",
               "--axis", "snr_db=0,10", "--cache-dir", str(tmp_path)])
    assert rc == 2 and "noise='input'" in capsys.readouterr().err
    rc = main(["sweep", "--axis", "n_train", "--cache-dir", str(tmp_path)])
    assert rc == 2 and "NAME=V1,V2" in capsys.readouterr().err
