"""noisealign.engine.own_models.architectures: a user's module factory trained as an ensemble under the noise
protocol; each member equals that member trained alone (float64), vmap equals the member
loop, and results are cached under a key kind of their own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisealign.engine import ExperimentSpec, train_ensemble
from noisealign.engine.own_models.architectures import KEY_KIND, FactoryEnsemble, own_model_key
from noisealign.engine.store.cache import ResultCache, spec_key

SPEC = ExperimentSpec(dataset="linear-teacher", n_train=40, n_probe=30, ensemble_size=3,
                      max_epochs=25, seed=3, snr_db=5.0, batch_size=16)
QUICK = SPEC.replace(max_epochs=6)  # where the training itself is not under test


def mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(SPEC.input_dim(), 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 1))


class Gated(torch.nn.Module):
    """An MLP whose forward reads a value out of the tensor (``.item()``): vmap cannot
    run it, so the ensemble trains it member by member."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(d, 8), torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.fc1(x))
        if h.sum().item() > -1e30:  # data-dependent control flow
            h = h * 1.0
        return self.fc2(h)


def tiny_cnn() -> torch.nn.Module:
    """For digits (1 x 8 x 8 images): the module gets (n, C, H, W) inputs."""
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 4 * 4, 10))


def _same(a, b) -> None:
    for name in ("test_error", "train_loss", "epochs", "output"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for ha, hb in zip(a.hidden, b.hidden):
        np.testing.assert_array_equal(ha, hb)


@pytest.mark.parametrize("batching", ["vmap", "members"])
def test_members_equal_training_alone_in_float64(batching):
    full = train_ensemble(mlp, SPEC, name="mlp", cache=False, dtype=torch.float64,
                          batching=batching)
    assert full.ensemble_size == 3 and len(full.hidden) == 2  # Linear and Tanh
    assert full.hidden[0].shape == (3, 30, 8) and full.n_parameters == SPEC.input_dim() * 8 + 8 + 9
    for m in range(3):
        alone = train_ensemble(mlp, SPEC, name="mlp", cache=False, dtype=torch.float64,
                               batching=batching, members=[m])
        for name in ("test_error", "train_loss", "epochs"):
            np.testing.assert_array_equal(getattr(full, name)[m], getattr(alone, name)[0])
        np.testing.assert_array_equal(full.output[m], alone.output[0])
        np.testing.assert_array_equal(full.hidden[-1][m], alone.hidden[-1][0])
    # members differ from each other (own inits and own noise) and have trained
    assert not np.allclose(full.output[0], full.output[1])
    assert np.all(full.curve_train_loss[:, -1] < full.curve_train_loss[:, 0])


def test_vmap_equals_the_member_loop_and_falls_back_for_item_calls():
    kw = {"cache": False, "dtype": torch.float64}
    v = train_ensemble(mlp, QUICK, name="mlp", batching="vmap", **kw)
    m = train_ensemble(mlp, QUICK, name="mlp", batching="members", **kw)
    np.testing.assert_allclose(v.output, m.output, rtol=1e-6, atol=1e-7)
    def gated():
        return Gated(QUICK.input_dim())
    with pytest.raises(Exception):  # noqa: B017 (torch's error type varies by version) vmap refuses .item(); "auto" falls back
        train_ensemble(gated, QUICK, name="gated", batching="vmap", **kw)
    g = train_ensemble(gated, QUICK, name="gated", layers=["fc1"], batching="auto", **kw)
    g2 = train_ensemble(gated, QUICK, name="gated", layers=["fc1"], batching="members", **kw)
    _same(g, g2)


def test_an_image_dataset_reaches_the_module_as_images_with_label_noise():
    spec = ExperimentSpec(dataset="digits", n_train=60, n_probe=40, ensemble_size=2,
                          max_epochs=10, label_noise=0.2, seed=0)
    r = train_ensemble(tiny_cnn, spec, name="tiny-cnn", layers=["1", "3"], pool="flatten",
                       cache=False)
    assert r.hidden[0].shape == (2, 40, 4 * 8 * 8) and r.hidden[1].shape == (2, 40, 64)
    assert r.output.shape == (2, 40, 10)
    assert np.all(r.label_flip_rate > 0)
    pooled = train_ensemble(tiny_cnn, spec, name="tiny-cnn", layers=["1"], pool="avg",
                            cache=False)
    assert pooled.hidden[0].shape == (2, 40, 4)


def test_cached_under_an_own_key_and_marked_in_the_runs_table(tmp_path):
    from noisealign.ui.tables import runs_table

    cache = ResultCache(tmp_path / "c")
    first = train_ensemble(mlp, QUICK, name="my-mlp", cache=cache)
    entries = cache.entries()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["model"] == {"name": "my-mlp", "kind": KEY_KIND}
    assert entry["key"] != spec_key(QUICK)  # a built-in run of the spec is another entry
    assert cache.get(QUICK) is None
    assert "measures" in entry["summary"] and "cka" in entry["summary"]["measures"]
    again = train_ensemble(mlp, QUICK, name="my-mlp", cache=cache)
    _same(first, again)
    assert again.timings == first.timings  # loaded, not trained again
    loaded = cache.get_by_key(entry["key"], QUICK)
    _same(first, loaded)
    # another name is another entry; so is another architecture under the same name
    train_ensemble(mlp, QUICK, name="other", cache=cache)
    def wider():
        return torch.nn.Sequential(torch.nn.Linear(QUICK.input_dim(), 9),
                                            torch.nn.Tanh(), torch.nn.Linear(9, 1))
    train_ensemble(wider, QUICK, name="my-mlp", cache=cache)
    assert len(cache.entries()) == 3
    table = runs_table(cache.entries())
    assert sorted(table["model"]) == ["my-mlp", "my-mlp", "other"]


def test_own_model_keys_never_equal_built_in_keys():
    assert own_model_key("mlp", SPEC) != spec_key(SPEC)
    assert own_model_key("a", SPEC) != own_model_key("b", SPEC)
    assert own_model_key("a", SPEC, signature="x") != own_model_key("a", SPEC)


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "bad name!"}, "name="),
    ({"name": "x", "layers": ["nope"]}, "not a module"),
    ({"name": "x", "pool": "median"}, "pool"),
    ({"name": "x", "batching": "threads"}, "batching"),
    ({"name": "x", "dtype": torch.int64}, "dtype"),
])
def test_bad_arguments_raise_value_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        train_ensemble(mlp, SPEC, cache=False, **kwargs)


def test_a_factory_must_build_modules_of_one_shape():
    calls = iter(range(100))
    def grow():
        return torch.nn.Linear(SPEC.input_dim(), 1 + next(calls))
    with pytest.raises(ValueError, match="same architecture"):
        FactoryEnsemble([grow(), grow()], layers=[])
    with pytest.raises(ValueError, match="torch.nn.Module"):
        train_ensemble(lambda: 3, SPEC, name="x", cache=False)
