"""Hostile user modules in ``capture`` (issue 27 item 5, round three attack): a module
that raises, returns NaN/inf, names no such layer, gets inputs of the wrong shape, or
produces activations beyond the memory limit. The last one ran the process out of
memory before (killed by the kernel at 18 GB on a 24 GB machine): it is now refused
before any activation is copied."""

from __future__ import annotations

import resource

import numpy as np
import pytest
import torch

from noisealign.engine.compute.guard import ResourceLimitError
from noisealign.engine.own_models.activations import capture


class Two(torch.nn.Module):
    def __init__(self, scale: float = 1.0, fail: bool = False) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)
        self.scale, self.fail = scale, fail

    def forward(self, x):
        h = self.a(x)
        if self.fail:
            raise RuntimeError("boom in forward")
        return self.b(h * self.scale)


class Huge(torch.nn.Module):
    """600 million values a row from a view that costs nothing until it is copied."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Linear(4, 3), torch.nn.Identity()

    def forward(self, x):
        return self.b(self.a(x)[:, :, None].expand(-1, 3, 200_000_000))


def test_a_module_beyond_the_memory_limit_is_refused_before_copying(monkeypatch):
    monkeypatch.setenv("NOISEALIGN_MAX_MEMORY_GB", "4")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ResourceLimitError, match=r"capturing 1 layer\(s\) of 600,000,000 "
                       r"values a row for 20,000 inputs .* the widest is 'b'"):
        capture(Huge(), torch.randn(20000, 4), ["b"], batch_size=1)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 500_000  # nothing near one row (2.4 GB) was copied


def test_an_unknown_length_input_is_held_to_the_limit_as_it_grows(monkeypatch):
    monkeypatch.setenv("NOISEALIGN_MAX_MEMORY_GB", "0.001")  # 1 MB
    batches = (torch.randn(100, 4) for _ in range(10_000))  # a generator: no length
    m = torch.nn.Sequential(torch.nn.Linear(4, 1000))
    with pytest.raises(ResourceLimitError, match="for 300 inputs"):
        capture(m, batches, ["0"])


def test_pooling_is_counted_after_the_pool(monkeypatch):
    monkeypatch.setenv("NOISEALIGN_MAX_MEMORY_GB", "0.001")
    conv = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1))
    x = torch.randn(50, 1, 64, 64)  # flattened: 50 x 16384 float32 = 3.3 MB
    with pytest.raises(ResourceLimitError):
        capture(conv, x, ["0"])
    assert capture(conv, x, ["0"], pool="avg")["0"].shape == (50, 4)


def test_a_module_that_raises_leaves_no_hooks_and_its_mode():
    m = Two(fail=True)
    m.train()
    with pytest.raises(RuntimeError, match="boom in forward"):
        capture(m, torch.randn(10, 4), ["a"])
    assert m.training and all(not x._forward_hooks for x in m.modules())


def test_nan_and_inf_are_returned_as_they_are():
    for scale in (float("nan"), float("inf")):
        out = capture(Two(scale=scale), torch.randn(10, 4), ["a", "b"])
        assert np.isfinite(out["a"]).all() and not np.isfinite(out["b"]).all()


def test_unknown_layers_and_wrong_shapes_are_named():
    with pytest.raises(ValueError, match="'zz', which is not a module .* e.g. a, b"):
        capture(Two(), torch.randn(10, 4), ["zz"])
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        capture(Two(), torch.randn(10, 7), ["a"])
