"""noisealign.engine.pipeline.train's thread choice: small ensembles train on one torch thread, large ones
keep the threads they have (behaviour: the count seen while training, restored after)."""

from __future__ import annotations

import pytest
import torch

from noisealign.engine import ExperimentSpec
from noisealign.engine.pipeline.run import run_experiment
from noisealign.engine.pipeline.train import ONE_THREAD_MAX_WORK, epoch_work, train_threads


def test_chosen_count_follows_the_work_per_epoch() -> None:
    assert train_threads(4, 200, 6_000, available=2) == 1       # the explorer's points
    assert epoch_work(4, 200, 6_000) <= ONE_THREAD_MAX_WORK
    assert train_threads(16, 4000, 70_000, available=2) == 2     # a large ensemble
    assert train_threads(16, 4000, 70_000, available=1) == 1
    # The threshold itself is the boundary.
    per = int(ONE_THREAD_MAX_WORK // (8 * 100))
    assert train_threads(8, 100, per, available=4) == 1
    assert train_threads(8, 100, per + 1000, available=4) == 4


@pytest.mark.parametrize("n_train,width,expected", [(60, 8, 1), (4000, 512, None)])
def test_training_runs_on_the_chosen_threads_and_restores_them(
        n_train: int, width: int, expected: int | None) -> None:
    prev = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[int] = []
        spec = ExperimentSpec(n_train=n_train, width=width, ensemble_size=4, max_epochs=2)
        run_experiment(spec, progress=lambda *a: seen.append(torch.get_num_threads()))
        assert seen and set(seen) == {expected or 2}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(prev)
