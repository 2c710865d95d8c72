"""The Runs page with an own architecture's run (noisealign.engine.own_models.architectures): its name in the
model column, and opening it shows that run's own numbers, not a built-in run's."""

from __future__ import annotations

import re

import torch

from noisealign.engine import ExperimentSpec, run_experiment, train_ensemble
from noisealign.engine.store.cache import ResultCache, default_cache_dir
from tests.app.test_app import charts, no_exception, open_app

SPEC = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                      n_probe=20, width=4, ensemble_size=2, max_epochs=5)


def factory() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 1))


def test_own_model_run_is_named_and_opens_as_itself():
    cache = ResultCache(default_cache_dir())
    cache.put(SPEC, run_experiment(SPEC))  # a built-in run of the same spec
    own = train_ensemble(factory, SPEC, name="my-net", cache=cache)
    at = no_exception(open_app("pages/runs.py"))
    table = at.dataframe[0].value
    assert sorted(table["model"]) == ["", "my-net"]
    infos = [re.sub(r"\\(.)", r"\1", i.value) for i in at.info]  # markdown-escaped
    assert any("own architecture, 'my-net'" in i for i in infos), infos
    assert charts(at) >= 1
    # the opened run is the own model's (the newest): its members' errors are shown
    err = f"{float(own.test_error.mean()):.3g}"
    assert any(m.value.startswith(err[:4]) for m in at.metric), ([m.value for m in at.metric], err)
