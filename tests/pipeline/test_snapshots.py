"""Alignment over training time (issue 14, item 2): ``spec.snapshots`` keeps the probe
representations at log-spaced epochs; the cache stores them once; the summaries give
every measure per epoch."""

import dataclasses
import json

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec, Result, run_experiment
from noisealign.engine.measures import summaries
from noisealign.engine.pipeline.epochs import log_epochs, max_snapshots, snapshot_epochs
from noisealign.engine.store.cache import ResultCache

# No early stopping (loss_tol 0): every member trains all max_epochs.
TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 30, "n_probe": 40,
            "width": 12, "depth": 2, "ensemble_size": 3, "max_epochs": 40, "loss_tol": 0.0, "device": "cpu"}
TINY_CLS = {"dataset": "gaussian-mixture", "n_train": 60, "n_probe": 50, "width": 16,
                "ensemble_size": 3, "max_epochs": 30, "loss_tol": 0.0, "label_noise": 0.2,
                "device": "cpu"}


@pytest.fixture(scope="module")
def run():
    spec = ExperimentSpec(**TINY, snapshots=6)
    return run_experiment(spec)


# ----------------------------------------------------------------------------- spec


def test_default_is_off_and_leaves_hashes_and_keys_unchanged(tmp_path):
    spec = ExperimentSpec()
    assert spec.snapshots == 0
    assert "snapshots" not in spec.to_json()
    # The hash of the default spec before the field existed (engine 0.3.0, main).
    assert spec.content_hash() == \
        "ae4a242aba57a7157a269fd8e226e3f9df797cc089abf2232303c5714a7b574d"
    assert ExperimentSpec(snapshots=0).content_hash() == spec.content_hash()
    assert ExperimentSpec.from_json(spec.to_json()) == spec
    on = ExperimentSpec(snapshots=5)
    assert '"snapshots":5' in on.to_json()
    assert on.content_hash() != spec.content_hash()
    assert ExperimentSpec.from_json(on.to_json()) == on
    cache = ResultCache(tmp_path)
    assert cache.key(on) != cache.key(spec)


@pytest.mark.parametrize("bad", [-1, 41, 2.5, True, "3", None])
def test_invalid_snapshots_name_the_field(bad):
    with pytest.raises(ValueError, match="snapshots"):
        ExperimentSpec(snapshots=bad)


def test_more_snapshots_than_epochs_is_the_same_experiment():
    assert max_snapshots(5) == 4
    spec = ExperimentSpec(max_epochs=5, snapshots=10)
    assert spec.snapshots == 4
    assert spec == ExperimentSpec(max_epochs=5, snapshots=4)
    assert ExperimentSpec(max_epochs=1, snapshots=3).snapshots == 0


@pytest.mark.parametrize("max_epochs", [2, 3, 10, 40, 100, 500, 5000, 10**6])
@pytest.mark.parametrize("n", [1, 3, 10, 40])
def test_snapshot_epochs_are_distinct_recorded_epochs_strictly_inside(max_epochs, n):
    e = snapshot_epochs(max_epochs, n)
    assert len(e) == min(n, max_snapshots(max_epochs))
    assert np.all(np.diff(e) > 0)
    assert np.all((e > 0) & (e < max_epochs))
    assert set(e.tolist()) <= set(log_epochs(max_epochs).tolist())


def test_snapshot_epochs_are_log_spaced():
    e = snapshot_epochs(100_000, 10)
    ratios = e[1:] / e[:-1]
    assert ratios.min() > 1.5 and ratios.max() < 5  # ~ (10^5)^(1/11) = 2.85 each


# ----------------------------------------------------------------------------- result


def test_snapshots_are_stored_between_init_and_end(run):
    e = snapshot_epochs(TINY["max_epochs"], 6)
    np.testing.assert_array_equal(run.snapshot_epochs, e)
    s, k, n = len(e), TINY["ensemble_size"], TINY["n_probe"]
    assert len(run.hidden_snapshots) == TINY["depth"]
    for h in run.hidden_snapshots:
        assert h.shape == (s, k, n, TINY["width"]) and h.dtype == np.float32
    assert run.output_snapshots.shape == (s, k, n, 1)
    assert 0 not in e and run.end_epoch not in e  # never stored twice
    # The test error at each snapshot is the curve's (no member stopped early here).
    cols = [list(run.curve_epochs).index(int(x)) for x in e]
    np.testing.assert_allclose(run.snapshot_test_error, run.curve_test_error[:, cols].T,
                               rtol=1e-6)
    runs = run.over_training()
    assert [r.end_epoch for r in runs] == [0, *e.tolist(), TINY["max_epochs"]]
    assert runs[-1] is run
    np.testing.assert_array_equal(runs[0].hidden[0], run.hidden_init[0])
    np.testing.assert_array_equal(runs[0].output, run.output_init)


def test_snapshot_equals_the_final_representations_of_a_run_that_ends_there(run):
    """The snapshot at epoch e is bit for bit the end of the same run trained for e
    epochs, and the end of a snapshotting run is the end of one without snapshots."""
    for j in (0, len(run.snapshot_epochs) - 1):
        e = int(run.snapshot_epochs[j])
        short = run_experiment(ExperimentSpec(**{**TINY, "max_epochs": e}))
        for layer in range(TINY["depth"]):
            np.testing.assert_array_equal(run.hidden_snapshots[layer][j], short.hidden[layer])
        np.testing.assert_array_equal(run.output_snapshots[j], short.output)
        np.testing.assert_allclose(run.snapshot_test_error[j], short.test_error, rtol=1e-6)
    plain = run_experiment(ExperimentSpec(**TINY))
    for a, b in zip(run.hidden, plain.hidden):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(run.output, plain.output)
    np.testing.assert_array_equal(run.curve_test_error, plain.curve_test_error)


def test_training_that_stops_early_keeps_only_the_epochs_it_reached(run):
    # A tolerance every member reaches by about epoch 20 of 200.
    col = list(run.curve_epochs).index(20)
    tol = float(np.max(run.curve_train_loss[:, col])) * 1.0001
    spec = ExperimentSpec(**{**TINY, "loss_tol": tol, "max_epochs": 200}, snapshots=12)
    r = run_experiment(spec)
    assert 0 < r.end_epoch <= 20  # stopped by the tolerance, long before max_epochs 200
    planned = snapshot_epochs(200, 12)
    np.testing.assert_array_equal(r.snapshot_epochs, planned[planned < r.end_epoch])
    assert [x.end_epoch for x in r.over_training()] == \
        [0, *r.snapshot_epochs.tolist(), r.end_epoch]
    # A member that stopped keeps its weights: its later snapshots are its end.
    first = int(np.argmin(r.epochs))
    later = np.flatnonzero(r.snapshot_epochs >= r.epochs[first])
    for j in later:
        np.testing.assert_array_equal(r.output_snapshots[j, first], r.output[first])
        assert r.snapshot_test_error[j, first] == pytest.approx(r.test_error[first])
    assert summaries.over_training(r)["epochs"][-1] == r.end_epoch

    stop_at_once = run_experiment(spec.replace(loss_tol=1e6))
    assert stop_at_once.end_epoch == 0 and len(stop_at_once.snapshot_epochs) == 0
    assert [x.end_epoch for x in stop_at_once.over_training()] == [0, 0]


def test_train_never_duplicates_the_final_epoch():
    import torch

    from noisealign.engine.pipeline.model import BatchedMLP, init_weights
    from noisealign.engine.pipeline.train import train
    g = torch.Generator().manual_seed(0)
    x, xp = torch.randn(20, 3, generator=g), torch.randn(10, 3, generator=g)
    y = torch.randn(2, 20, generator=g)
    model = BatchedMLP([init_weights([3, 5, 1], s, 1.0, True) for s in (1, 2)], "relu")
    out = train(model, x, y, xp, torch.zeros(10), task="regression", optimizer="adam",
                lr=1e-2, weight_decay=0.0, max_epochs=8, loss_tol=0.0, batch_size=0,
                shuffle_seed=0, snapshot_at=[2, 5, 8])
    assert out.snapshot_epochs.tolist() == [2, 5]
    with torch.no_grad():
        final, _ = model(xp)
    assert not any(np.array_equal(o, final.numpy()) for o in out.snapshot_output)
    with pytest.raises(ValueError, match="recorded epochs"):
        train(model, x, y, xp, torch.zeros(10), task="regression", optimizer="adam",
              lr=1e-2, weight_decay=0.0, max_epochs=500, loss_tol=0.0, batch_size=0,
              shuffle_seed=0, snapshot_at=[7777])


# ----------------------------------------------------------------------------- cache


def _ot_summary(r: Result) -> dict:
    return {"over_training": summaries.over_training(r)}


def test_round_trip_through_bytes_and_the_cache(run, tmp_path):
    meta, npz = run.to_bytes()
    back = Result.from_bytes(meta, npz)
    for name in ("snapshot_epochs", "snapshot_test_error", "output_snapshots"):
        np.testing.assert_array_equal(getattr(back, name), getattr(run, name))
    for a, b in zip(back.hidden_snapshots, run.hidden_snapshots):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)

    cache = ResultCache(tmp_path / "c", summarise=_ot_summary)
    summary = cache.put(run.spec, run)
    got = cache.get(run.spec, need_representations=True)
    assert got is not None
    np.testing.assert_array_equal(got.output_snapshots, run.output_snapshots)
    for a, b in zip(got.hidden_snapshots, run.hidden_snapshots):
        np.testing.assert_array_equal(a, b)
    assert cache.get_summary(run.spec) == json.loads(json.dumps(summary))
    assert summary["over_training"]["epochs"] == [r.end_epoch for r in run.over_training()]
    # A spec without snapshots is a different entry.
    assert cache.get(run.spec.replace(snapshots=0)) is None


def test_stored_bytes_hold_each_epoch_once(run):
    """Snapshots add S epochs' arrays: init and end are not among them."""
    _, with_snaps = run.to_bytes()
    bare = dataclasses.replace(run, snapshot_epochs=np.zeros(0, np.int64),
                               snapshot_test_error=np.zeros((0, 0)), hidden_snapshots=(),
                               output_snapshots=np.zeros((0,), np.float32))
    _, without = bare.to_bytes()
    per_epoch = sum(h[0].nbytes for h in run.hidden_snapshots) + run.output_snapshots[0].nbytes
    extra = len(with_snaps) - len(without)
    s = len(run.snapshot_epochs)
    assert s * per_epoch <= extra < s * per_epoch + 4096  # + the small arrays, zip headers


def test_stored_without_representations_drops_the_snapshots_keeps_the_summary(run, tmp_path):
    cache = ResultCache(tmp_path / "c", store_representations=False, summarise=_ot_summary)
    summary = cache.put(run.spec, run)
    got = cache.get(run.spec)
    assert got is not None and not got.has_snapshot_representations
    np.testing.assert_array_equal(got.snapshot_epochs, run.snapshot_epochs)
    assert len(cache.get_summary(run.spec)["over_training"]["epochs"]) == \
        len(summary["over_training"]["epochs"])


def test_entries_written_before_snapshots_still_load(run):
    meta, arrays = run.to_parts()
    for key in [k for k in arrays if "snapshot" in k]:
        del arrays[key]
    back = Result.from_parts(meta, arrays)
    assert len(back.snapshot_epochs) == 0 and not back.has_snapshot_representations
    assert len(back.over_training()) == 2


# ----------------------------------------------------------------------------- summaries


def _at(result: Result, j: int) -> Result:
    """The run's representations at snapshot j, built by hand (not over_training)."""
    return dataclasses.replace(result, hidden=tuple(h[j] for h in result.hidden_snapshots),
                               output=result.output_snapshots[j])


@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_per_snapshot_values_equal_summaries_of_those_arrays(kind, run):
    result = run if kind == "regression" else run_experiment(
        ExperimentSpec(**TINY_CLS, snapshots=4))
    full = summaries.summarise(result)
    ot = full["over_training"]
    assert ot == summaries.over_training(result)  # the same block, with or without the rest
    s = len(result.snapshot_epochs)
    assert ot["epochs"] == [0, *result.snapshot_epochs.tolist(), result.end_epoch]
    for j in range(s):
        at = _at(result, j)
        for m in summaries.MEASURES:
            st = summaries.pair_stats(summaries.pairwise_matrix(at, m, knn_k=ot["knn_k"]),
                                      symmetric=summaries.SYMMETRIC[m])
            for f in ("mean", "sem", "std"):
                np.testing.assert_allclose(ot[m][f][j + 1], st[f], rtol=1e-12, err_msg=m)
        info = summaries.information_content(at)
        for key in ("ii_h_to_y", "ii_y_to_h"):
            np.testing.assert_allclose(ot[key]["mean"][j + 1], np.nanmean(info[key]),
                                       rtol=1e-12)
        np.testing.assert_allclose(ot["test_error"]["mean"][j + 1],
                                   np.mean(result.snapshot_test_error[j]), rtol=1e-12)
    # Init and end are the summary's own untrained and trained numbers.
    for m in summaries.MEASURES:
        assert ot[m]["mean"][0] == pytest.approx(full["measures_init"][m]["mean"], rel=1e-12)
        assert ot[m]["mean"][-1] == pytest.approx(full["measures"][m]["mean"], rel=1e-12)
    assert ot["ii_h_to_y"]["mean"][-1] == pytest.approx(
        full["information_content"]["trained"]["ii_h_to_y_mean"], rel=1e-12)
    assert ot["test_error"]["mean"][-1] == pytest.approx(full["test_error"]["mean"])
    assert len(json.dumps(ot)) < 12_000  # compact: no matrices


def test_no_over_training_block_without_snapshots():
    r = run_experiment(ExperimentSpec(**TINY))
    assert "over_training" not in summaries.summarise(r)
    assert summaries.over_training(r)["epochs"] == [0, TINY["max_epochs"]]


# ----------------------------------------------------------------------------- CLI, guard


def test_cli_run_with_snapshots_writes_them_and_the_summary_block(tmp_path, capsys):
    from noisealign.engine.cli import commands as cli
    args = ["run", "--dataset", "linear-teacher", "--n-train", "20", "--n-probe", "20",
            "--width", "4", "-K", "2", "--max-epochs", "30", "--loss-tol", "0",
            "--snapshots", "3", "--quiet", "--cache-dir", str(tmp_path / "c"),
            "--out", str(tmp_path / "r")]
    assert cli.main(args) == 0
    r = Result.from_bytes((tmp_path / "r.json").read_bytes(), (tmp_path / "r.npz").read_bytes())
    assert r.spec.snapshots == 3 and len(r.snapshot_epochs) == 3
    assert r.has_snapshot_representations
    (entry,) = ResultCache(tmp_path / "c").entries()
    assert entry["summary"]["over_training"]["epochs"] == [0, *r.snapshot_epochs.tolist(), 30]


def test_guard_counts_the_snapshots_memory():
    from noisealign.engine.compute.guard import DEFAULT_CALIBRATIONS, estimate
    spec = ExperimentSpec(dataset="mnist1d", n_train=500, n_probe=500, width=256,
                          ensemble_size=8, max_epochs=100, device="cpu")
    cal = DEFAULT_CALIBRATIONS["cpu"]
    off, on = estimate(spec, calibration=cal), estimate(spec.replace(snapshots=10),
                                                        calibration=cal)
    stored = 10 * 8 * 500 * (256 + 10) * 4  # what Result.hidden/output_snapshots hold
    assert on.memory_bytes - off.memory_bytes == pytest.approx(stored, rel=0.01)
    assert "probe snapshots" in dict(on.memory_parts)
