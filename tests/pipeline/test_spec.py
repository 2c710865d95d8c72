"""The experiment spec: validation messages, canonical JSON and the content hash."""

import dataclasses
import math

import pytest

from noisealign.engine import ExperimentSpec, snr_db_to_ratio, snr_ratio_to_db


def test_defaults_are_valid_and_round_trip_through_json():
    spec = ExperimentSpec()
    again = ExperimentSpec.from_json(spec.to_json())
    assert again == spec
    assert again.content_hash() == spec.content_hash()
    assert len(spec.content_hash()) == 64


def test_hash_is_stable_and_changes_with_any_field():
    a = ExperimentSpec(n_train=80, snr_db=5.0)
    assert a.content_hash() == ExperimentSpec(snr_db=5.0, n_train=80).content_hash()
    # A hash fixed in the repository: it must not drift between runs or machines.
    assert ExperimentSpec().content_hash() == ExperimentSpec.from_dict(ExperimentSpec().to_dict()).content_hash()
    for change in [{"n_train": 81}, {"snr_db": 5.5}, {"width": 65}, {"seed": 1},
                   {"shared_init": True}, {"dataset_params": {"d": 99}}]:
        assert a.replace(**change).content_hash() != a.content_hash(), change


def test_level_that_does_not_apply_is_normalised():
    # label_noise means nothing for target noise: both specs describe one experiment
    a = ExperimentSpec(noise="target", snr_db=3.0)
    b = ExperimentSpec(noise="target", snr_db=3.0, label_noise=0.5)
    assert a.content_hash() == b.content_hash()
    c = ExperimentSpec(dataset="digits", n_probe=100, noise="label", label_noise=0.3, snr_db=7)
    assert c.snr_db == math.inf and c.label_noise == 0.3


def test_infinite_snr_survives_json():
    spec = ExperimentSpec(snr_db=math.inf)
    assert '"inf"' in spec.to_json()
    assert ExperimentSpec.from_json(spec.to_json()).snr_db == math.inf
    assert spec.snr == math.inf


def test_snr_conversions():
    assert snr_db_to_ratio(10.0) == pytest.approx(10.0)
    assert snr_db_to_ratio(0.0) == pytest.approx(1.0)
    assert snr_ratio_to_db(100.0) == pytest.approx(20.0)
    assert snr_ratio_to_db(math.inf) == math.inf


def test_dataset_params_filled_and_task_resolved():
    spec = ExperimentSpec(dataset="gaussian-mixture", noise="label", label_noise=0.1)
    assert spec.params == {"d": 20, "n_classes": 3, "separation": 3.0}
    assert spec.task == "classification"
    assert spec.n_outputs() == 3


def test_parameter_count_and_interpolation_ratio():
    spec = ExperimentSpec(dataset_params={"d": 10}, width=7, depth=2, bias=False, n_train=49)
    assert spec.n_parameters() == 10 * 7 + 7 * 7 + 7 * 1
    assert spec.interpolation_ratio() == pytest.approx(126 / 49)


@pytest.mark.parametrize("changes, field, allowed", [
    ({"dataset": "imagenet"}, "dataset", "one of"),
    ({"dataset": "digits", "n_train": 5000, "n_probe": 100}, "n_train=5000 exceeds the 1437 training points available in 'digits'", "2 to 1437"),
    ({"dataset": "digits", "n_probe": 500}, "n_probe=500", "10 to 360"),
    ({"n_train": 1}, "n_train=1", "[2,"),
    ({"n_train": 10.5}, "n_train=10.5", "integer"),
    ({"noise": "gaussian"}, "noise='gaussian'", "one of"),
    ({"noise": "label"}, "noise='label'", "regression"),
    ({"dataset": "digits", "n_probe": 100, "noise": "target"}, "noise='target'", "classification"),
    ({"snr_db": float("nan")}, "snr_db=nan", "not NaN"),
    ({"snr_db": 200.0}, "snr_db=200.0", "[-40.0, 80.0]"),
    ({"dataset": "digits", "n_probe": 100, "noise": "label", "label_noise": 1.5}, "label_noise=1.5", "[0.0, 1.0]"),
    ({"width": 0}, "width=0", "[1, 16384]"),
    ({"depth": 4}, "depth=4", "[1, 3]"),
    ({"activation": "gelu"}, "activation='gelu'", "'relu'"),
    ({"ensemble_size": 1}, "ensemble_size=1", "[2, 64]"),
    ({"ensemble_size": 65}, "ensemble_size=65", "[2, 64]"),
    ({"shared_init": "yes"}, "shared_init='yes'", "True or False"),
    ({"init_scale": 0.0}, "init_scale=0.0", "(0.0, 100.0]"),
    ({"optimizer": "lbfgs"}, "optimizer='lbfgs'", "'sgd'"),
    ({"lr": -1.0}, "lr=-1.0", "(0.0, 100.0]"),
    ({"max_epochs": 0}, "max_epochs=0", "[1,"),
    ({"loss_tol": -1.0}, "loss_tol=-1.0", "[0.0,"),
    ({"batch_size": -5}, "batch_size=-5", "[0,"),
    ({"weight_decay": -0.1}, "weight_decay=-0.1", "[0.0, 100.0]"),
    ({"seed": -1}, "seed=-1", "[0, 2147483647]"),
    ({"device": "tpu"}, "device='tpu'", "'auto'"),
    ({"task": "ranking"}, "task='ranking'", "one of"),
    ({"dataset": "digits", "n_probe": 100, "task": "regression"}, "task='regression'", "'classification'"),
    ({"dataset_params": {"d": 0}}, "dataset_params['d']=0", "[1, 4096]"),
    ({"dataset_params": {"depth": 3}}, "['depth'] are not parameters of 'linear-teacher'", "['d']"),
    ({"dataset_params": [1, 2]}, "dataset_params=[1, 2]", "mapping"),
])
def test_every_invalid_field_has_a_clear_error(changes, field, allowed):
    with pytest.raises(ValueError) as err:
        ExperimentSpec(**changes)
    msg = str(err.value)
    assert field in msg and allowed in msg, msg


def test_unknown_field_in_dict_is_rejected():
    with pytest.raises(ValueError, match="unknown spec field"):
        ExperimentSpec.from_dict({"n_train": 10, "widht": 3})
    with pytest.raises(ValueError, match="could not be parsed"):
        ExperimentSpec.from_json("{not json")


def test_spec_is_frozen():
    spec = ExperimentSpec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.n_train = 5  # type: ignore[misc]


def test_noise_kind_and_probe_size_follow_the_dataset_when_not_given():
    digits = ExperimentSpec(dataset="digits")
    assert digits.noise == "label" and digits.n_probe == 360  # the whole probe pool
    assert ExperimentSpec().noise == "target" and ExperimentSpec().n_probe == 500
    # resolved values hash like explicit ones: one experiment, one cache entry
    assert digits.content_hash() == ExperimentSpec(dataset="digits", noise="label", n_probe=360).content_hash()


# ----------------------------------------------------------------- label-noise kinds
def test_pair_label_noise_flips_each_class_to_the_next_at_the_asked_rate():
    import numpy as np

    from noisealign.engine.pipeline.datasets import load_data as load
    from noisealign.engine.pipeline.noise import make_noisy
    spec = ExperimentSpec(dataset="digits", n_train=1000, n_probe=50, noise="label",
                          label_noise=0.3, label_noise_kind="pair")
    data = load(spec)
    pair = make_noisy(data, "label", spec.snr, 0.3, 0, [0, 1, 2], "pair")
    uniform = make_noisy(data, "label", spec.snr, 0.3, 0, [0, 1, 2], "uniform")
    c = data.n_classes
    for m in range(3):
        changed = pair.y[m] != data.y_train
        assert np.array_equal(pair.y[m][changed], (data.y_train[changed] + 1) % c)
        # Binomial(1000, 0.3): 4 standard deviations either way.
        assert abs(pair.label_flip_rate[m] - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 1000)
        expected = 0.3 * (1 - 1 / c)  # a uniform draw may give back the same class
        assert abs(uniform.label_flip_rate[m] - expected) < 4 * np.sqrt(
            expected * (1 - expected) / 1000)
    # Member m's noise does not depend on which members train with it.
    alone = make_noisy(data, "label", spec.snr, 0.3, 0, [2], "pair")
    assert np.array_equal(alone.y[0], pair.y[2])


def test_label_noise_kind_is_checked_normalised_and_keeps_old_cache_keys():
    with pytest.raises(ValueError, match="label_noise_kind='flip' is invalid"):
        ExperimentSpec(dataset="digits", noise="label", label_noise=0.2,
                       label_noise_kind="flip")
    plain = ExperimentSpec(dataset="digits", noise="label", label_noise=0.2)
    # The neutral value is left out of the canonical JSON: specs written before the
    # field existed keep their hash, and so their cache entries.
    assert "label_noise_kind" not in plain.to_json()
    assert ExperimentSpec.from_json(plain.to_json()) == plain
    pair = ExperimentSpec(dataset="digits", noise="label", label_noise=0.2,
                          label_noise_kind="pair")
    assert '"label_noise_kind":"pair"' in pair.to_json()
    assert pair.content_hash() != plain.content_hash()
    assert ExperimentSpec.from_json(pair.to_json()) == pair
    # Without label noise the kind means nothing: it is reset, so equal runs hash equally.
    clean = ExperimentSpec(dataset="digits", noise="label", label_noise=0.0,
                           label_noise_kind="pair")
    assert clean == ExperimentSpec(dataset="digits", noise="label", label_noise=0.0)
