"""noisealign.engine.measures.summaries on small real ensembles, against the pairwise measures."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec, Result, run_experiment
from noisealign.engine.measures.core import information_imbalance, linear_cka, mutual_knn
from noisealign.engine.measures.summaries import (
    INFO_KEYS,
    MEASURE_LABELS,
    MEASURES,
    information_content,
    pair_stats,
    pairwise_matrix,
    summarise,
)


@pytest.fixture(scope="module")
def regression() -> Result:
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 8}, n_train=50,
                          n_probe=60, width=16, depth=2, ensemble_size=4, max_epochs=50,
                          noise="target", snr_db=10.0, device="cpu")
    return run_experiment(spec)


@pytest.fixture(scope="module")
def classification() -> Result:
    spec = ExperimentSpec(dataset="gaussian-mixture", dataset_params={"d": 5, "n_classes": 3},
                          n_train=50, n_probe=60, width=16, ensemble_size=3, max_epochs=50,
                          noise="label", label_noise=0.3, device="cpu")
    return run_experiment(spec)


def with_diverged(result: Result, member: int) -> Result:
    """The same run, as if ``member`` had diverged (NaN activations and numbers)."""
    diverged = np.zeros(result.ensemble_size, bool)
    diverged[member] = True
    hidden = tuple(h.copy() for h in result.hidden)
    hidden[-1][member] = np.nan
    test_error = result.test_error.copy()
    test_error[member] = np.nan
    return dataclasses.replace(result, diverged=diverged, hidden=hidden, test_error=test_error)


# ----------------------------------------------------------------- pairwise matrices
def test_ii_matrix_equals_pairwise_information_imbalance(regression: Result) -> None:
    h = regression.hidden[-1]
    m = pairwise_matrix(regression, "ii", k=2)
    for a in range(4):
        assert m[a, a] == pytest.approx(information_imbalance(h[a], h[a], 2)[0],
                                        abs=1e-12)
        for b in range(a + 1, 4):
            ab, ba = information_imbalance(h[a], h[b], 2)
            assert (m[a, b], m[b, a]) == pytest.approx((ab, ba), abs=1e-12)
    score = pairwise_matrix(regression, "ii_score", k=2)
    assert score == pytest.approx(1 - (m + m.T) / 2, abs=1e-12)
    assert np.array_equal(score, score.T)


def test_symmetric_measures_equal_their_pairwise_functions(regression: Result) -> None:
    h = regression.hidden[-1]
    cka = pairwise_matrix(regression, "cka")
    deb = pairwise_matrix(regression, "cka_debiased")
    knn = pairwise_matrix(regression, "mknn", knn_k=5)
    for a in range(4):
        for b in range(4):
            assert cka[a, b] == pytest.approx(linear_cka(h[a], h[b]), abs=1e-10)
            assert deb[a, b] == pytest.approx(linear_cka(h[a], h[b], True), abs=1e-10)
            assert knn[a, b] == pytest.approx(
                mutual_knn(h[a], h[b], 5), abs=1e-12)
    assert np.diag(cka) == pytest.approx(1.0) and np.diag(knn) == pytest.approx(1.0)


def test_layer_choice_and_untrained_members(regression: Result) -> None:
    r = regression
    for layer, reps in [(0, r.hidden[0]), (-2, r.hidden[0]), (1, r.hidden[1]),
                        ("output", r.output)]:
        m = pairwise_matrix(r, "cka", layer=layer)
        assert m[0, 1] == pytest.approx(linear_cka(reps[0], reps[1]), abs=1e-10)
    m0 = pairwise_matrix(r, "ii", init=True)
    assert m0[1, 2] == pytest.approx(
        information_imbalance(r.hidden_init[-1][1], r.hidden_init[-1][2])[0],
        abs=1e-12)
    assert not np.allclose(m0, pairwise_matrix(r, "ii"))


def test_diverged_members_give_nan_rows_and_columns(regression: Result) -> None:
    r = with_diverged(regression, 1)
    for measure in MEASURES:
        m = pairwise_matrix(r, measure)
        assert np.isnan(m[1]).all() and np.isnan(m[:, 1]).all()
        others = np.delete(np.delete(m, 1, 0), 1, 1)
        assert np.isfinite(others).all()
        assert others == pytest.approx(np.delete(np.delete(
            pairwise_matrix(regression, measure), 1, 0), 1, 1), abs=1e-12)
    info = information_content(r)
    assert all(np.isnan(info[key][1]) and np.isfinite(np.delete(info[key], 1)).all()
               for key in INFO_KEYS)


# ----------------------------------------------------------------------- pair stats
def test_pair_stats_counts_pairs_once_or_both_directions() -> None:
    sym = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, np.nan], [0.4, np.nan, 1.0]])
    s = pair_stats(sym)
    assert s["n_pairs"] == 2 and s["mean"] == pytest.approx(0.3)
    assert s["std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert s["sem"] == pytest.approx(s["std"] / math.sqrt(2))
    asym = np.array([[0.0, 0.1, 0.3], [0.5, 0.0, 0.2], [0.4, 0.6, 0.0]])
    s = pair_stats(asym)
    assert s["n_pairs"] == 6 and s["mean"] == pytest.approx(0.35)
    one = pair_stats(np.array([[1.0, 0.5], [0.5, 1.0]]))
    assert one["n_pairs"] == 1 and one["mean"] == 0.5 and math.isnan(one["std"])
    assert pair_stats(np.full((3, 3), np.nan))["n_pairs"] == 0
    with pytest.raises(ValueError, match="square"):
        pair_stats(np.zeros((2, 3)))


# -------------------------------------------------------------- information content
def test_information_content_regression(regression: Result) -> None:
    r = regression
    info = information_content(r, k=1)
    h, out, x, y = r.hidden[-1], r.output, r.x_probe, r.y_probe.astype(np.float64)
    for m in range(4):
        assert (info["ii_h_to_y"][m], info["ii_y_to_h"][m]) == pytest.approx(
            information_imbalance(h[m], y), abs=1e-12)
        assert (info["ii_pen_to_out"][m], info["ii_out_to_pen"][m]) == pytest.approx(
            information_imbalance(h[m], out[m]), abs=1e-12)
        assert (info["ii_x_to_h"][m], info["ii_h_to_x"][m]) == pytest.approx(
            information_imbalance(x, h[m]), abs=1e-12)
    # h = first hidden layer: the penultimate one is still the last hidden layer.
    info0 = information_content(r, layer=0)
    assert info0["ii_h_to_y"][2] == pytest.approx(
        information_imbalance(r.hidden[0][2], y)[0], abs=1e-12)
    assert info0["ii_pen_to_out"] == pytest.approx(info["ii_pen_to_out"], abs=1e-12)


def test_information_content_classification_uses_clean_labels(classification: Result) -> None:
    r = classification
    for init, h in [(False, r.hidden[-1]), (True, r.hidden_init[-1])]:
        info = information_content(r, init=init)
        y = r.y_probe.astype(np.int64)
        assert info["ii_h_to_y"][0] == pytest.approx(
            information_imbalance(h[0], y)[0], abs=1e-12)
    # A trained classifier's last hidden layer predicts the classes better than chance.
    assert np.nanmean(information_content(r)["ii_h_to_y"]) < 0.8


# ------------------------------------------------------------------------ summarise
def test_summarise_is_json_and_consistent(classification: Result) -> None:
    r = classification
    s = summarise(r, k=1, knn_k=5)
    back = json.loads(json.dumps(s))
    assert back["N"] == 60 and back["k"] == 1 and back["knn_k"] == 5 and back["K"] == 3
    assert back["n_parameters"] == r.n_parameters and back["task"] == "classification"
    for m in MEASURES:
        entry = back["measures"][m]
        assert entry["label"] == MEASURE_LABELS[m]
        mat = pairwise_matrix(r, m, knn_k=5)
        assert np.array(entry["matrix"]) == pytest.approx(mat, abs=1e-12)
        stats = pair_stats(mat)
        assert entry["n_pairs"] == stats["n_pairs"] == (6 if m == "ii" else 3)
        assert entry["mean"] == pytest.approx(stats["mean"])
        init = pair_stats(pairwise_matrix(r, m, knn_k=5, init=True))
        assert back["measures_init"][m]["mean"] == pytest.approx(init["mean"])
    for part, init in (("trained", False), ("init", True)):
        info = information_content(r, init=init)
        for key in INFO_KEYS:
            assert back["information_content"][part][key] == pytest.approx(info[key])
            assert back["information_content"][part][key + "_mean"] == pytest.approx(
                np.mean(info[key]))
    assert back["test_error"]["mean"] == pytest.approx(np.mean(r.test_error))
    assert back["test_error"]["std"] == pytest.approx(np.std(r.test_error, ddof=1))
    assert back["train_loss"]["sem"] == pytest.approx(
        np.std(r.train_loss, ddof=1) / math.sqrt(3))


def test_summarise_with_a_diverged_member_and_tiny_probe_set() -> None:
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=20,
                          n_probe=10, width=8, ensemble_size=3, max_epochs=20, device="cpu")
    r = with_diverged(run_experiment(spec), 0)
    s = json.loads(json.dumps(summarise(r)))
    assert s["knn_k"] == 8  # 10 neighbours need N >= 12: reduced to N - 2
    assert s["n_ok"] == 2 and s["measures"]["cka"]["n_pairs"] == 1
    assert s["measures"]["ii"]["n_pairs"] == 2
    assert math.isnan(s["information_content"]["trained"]["ii_h_to_y"][0])
    assert s["test_error"]["mean"] == pytest.approx(np.mean(r.test_error[1:]))


# ------------------------------------------------------------------------ bad input
def test_bad_arguments_raise_value_errors(regression: Result) -> None:
    with pytest.raises(ValueError, match="measure='rsa' is invalid"):
        pairwise_matrix(regression, "rsa")
    for layer in (2, -3, True, "hidden", 0.5):
        with pytest.raises(ValueError, match="layer=.* is invalid"):
            pairwise_matrix(regression, "cka", layer=layer)
    with pytest.raises(ValueError, match="k=59 is invalid for N="):
        summarise(regression, k=59)
    with pytest.raises(ValueError, match="knn_k=0 is invalid"):
        summarise(regression, knn_k=0)
    with pytest.raises(ValueError, match="engine.Result"):
        summarise({"not": "a result"})
    meta, arrays = regression.to_parts(representations=False)
    with pytest.raises(ValueError, match="no representations"):
        information_content(Result.from_parts(meta, arrays))


# ----------------------------------------------------------------- intrinsic dimension
needs_dadapy = pytest.mark.skipif(
    importlib.util.find_spec("dadapy") is None,
    reason="dadapy is not installed: it is only the reference the package's TwoNN/GRIDE "
    "are checked against (pip install 'noisealign[id]')")


def _dadapy_direct(x: np.ndarray, order: int) -> tuple[float, float]:
    """TwoNN and GRIDE (at ``order``) from dadapy called directly, each on its own
    Data object, after removing duplicate points as the engine documents. (Agreement to
    1e-6, not bit for bit: the engine's points come in another order, which changes the
    rounding of dadapy's fit.)"""
    import warnings

    from dadapy import Data
    x = np.unique(np.asarray(x, dtype=np.float64), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = Data(coordinates=x, maxk=2, n_jobs=1)
        d.compute_distances(maxk=2, n_jobs=1)
        twonn = float(d.compute_id_2NN()[0])
        ids, _, _ = Data(coordinates=x, n_jobs=1).return_id_scaling_gride(range_max=order)
    return twonn, float(np.atleast_1d(ids)[-1])


@needs_dadapy
def test_intrinsic_dimension_of_every_layer_equals_dadapy_called_directly(
        classification: Result) -> None:
    from noisealign.engine.measures.summaries import intrinsic_dimension
    for init in (False, True):
        ids = intrinsic_dimension(classification, init=init)
        assert ids["layers"] == ["hidden 1", "output"] and ids["gride_scale"] == 16
        for li, layer in enumerate((-1, "output")):
            reps = classification.layer(layer, init=init)
            for m in range(classification.ensemble_size):
                twonn, gride = _dadapy_direct(reps[m], 16)
                assert ids["twonn"][li][m] == pytest.approx(twonn, rel=1e-6)
                assert ids["gride"][li][m] == pytest.approx(gride, rel=1e-6)
            vals = np.asarray(ids["twonn"][li])
            assert ids["twonn_mean"][li] == pytest.approx(vals.mean())
            assert ids["twonn_sem"][li] == pytest.approx(vals.std(ddof=1) / math.sqrt(len(vals)))


@needs_dadapy
def test_summary_intrinsic_dimension_reuses_the_ii_neighbour_lists(
        classification: Result, monkeypatch: pytest.MonkeyPatch) -> None:
    # summarise() takes each member layer's neighbours from its II pass: no neighbour
    # search of its own (noisealign.engine.measures.intrinsic_dim._candidates is never called), and the
    # estimates equal the standalone ones exactly and dadapy's called directly.
    from noisealign.engine.measures import intrinsic_dim
    from noisealign.engine.measures.summaries import intrinsic_dimension
    alone = {init: intrinsic_dimension(classification, init=init) for init in (False, True)}
    calls: list[int] = []
    search = intrinsic_dim._candidates
    monkeypatch.setattr(intrinsic_dim, "_candidates",
                        lambda x, kmax, rows: calls.append(len(rows)) or search(x, kmax, rows))
    s = summarise(classification)
    assert calls == []
    for init, part in ((False, "trained"), (True, "init")):
        got = s["intrinsic_dimension"][part]
        assert got["twonn"] == alone[init]["twonn"] and got["gride"] == alone[init]["gride"]
        for li, layer in enumerate((-1, "output")):
            reps = classification.layer(layer, init=init)
            for m in range(classification.ensemble_size):
                twonn, gride = _dadapy_direct(reps[m], 16)
                assert got["twonn"][li][m] == pytest.approx(twonn, rel=1e-6)
                assert got["gride"][li][m] == pytest.approx(gride, rel=1e-6)


def test_intrinsic_dimension_of_a_known_manifold() -> None:
    # Points on a 2-D plane embedded in 20 dimensions: both estimators find about 2.
    from noisealign.engine.measures.core import intrinsic_dimensions
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(1500, 2)) @ rng.normal(size=(2, 20))
    est = intrinsic_dimensions(x)
    assert est["twonn"] == pytest.approx(2.0, abs=0.25)
    assert est["gride"] == pytest.approx(2.0, abs=0.25) and est["gride_scale"] == 16
    # Too few distinct points for order 16: the largest order they allow.
    assert intrinsic_dimensions(x[:6])["gride_scale"] == 4
    assert intrinsic_dimensions(np.ones((5, 3)))["twonn"] == 0.0


def test_summary_holds_intrinsic_dimension_without_dadapy(
        classification: Result, tmp_path) -> None:
    s = summarise(classification)
    assert set(s["intrinsic_dimension"]) == {"trained", "init"}
    assert len(s["intrinsic_dimension"]["trained"]["twonn"][0]) == classification.ensemble_size
    # A machine where dadapy does not import: the summary is the same, and neither
    # dadapy, jax nor torch._dynamo was loaded to compute it.
    import subprocess
    import sys
    from pathlib import Path
    script = (
        "import sys; sys.modules['dadapy'] = None\n"  # makes `import dadapy` fail
        "import json\n"
        "from engine import ExperimentSpec, run_experiment\n"
        "from noisealign.engine.measures.summaries import summarise\n"
        f"spec = ExperimentSpec.from_json({classification.spec.to_json()!r})\n"
        "s = summarise(run_experiment(spec))\n"
        "slow = [m for m in ('jax', 'torch._dynamo', 'scipy.optimize') if m in sys.modules]\n"
        "print(json.dumps({'id': s['intrinsic_dimension'], 'slow': slow, "
        "'cka': s['measures']['cka']['mean']}))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2], timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["slow"] == []
    for part, method in (("trained", "twonn"), ("init", "gride")):
        np.testing.assert_allclose(got["id"][part][method],
                                   s["intrinsic_dimension"][part][method], rtol=1e-12)
    assert got["cka"] == pytest.approx(s["measures"]["cka"]["mean"], rel=1e-9)
