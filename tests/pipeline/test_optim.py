"""noisealign.engine.pipeline.optim's fused Adam / SGD against torch.optim's fused optimisers: bit-identical
parameters after many steps (float32 and float64, weight decay, momentum, learning-rate
changes between steps, frozen members, a parameter without a gradient), and no
torch._dynamo import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from noisealign.engine.pipeline.optim import FusedAdam, FusedSGD, make_optimizer

ROOT = Path(__file__).resolve().parents[2]


def _params(dtype: torch.dtype) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 7, 5), (4, 5), (4, 5, 3), (4, 3)]
    return [torch.randn(s, generator=g, dtype=dtype).requires_grad_(True) for s in shapes]


def _run(make, dtype: torch.dtype, steps: int = 40) -> list[torch.Tensor]:
    params = _params(dtype)
    opt = make(params)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, 11, 7, generator=g, dtype=dtype)
    for t in range(steps):
        opt.zero_grad(set_to_none=True)
        h = torch.tanh(torch.baddbmm(params[1][:, None], x, params[0]))
        out = torch.baddbmm(params[3][:, None], h, params[2])
        loss = (out ** 2).mean(dim=(1, 2)).sum()
        loss.backward()
        if t % 7 == 3:
            params[3].grad = None  # skipped this step, as torch skips it
        for group in opt.param_groups:
            group["lr"] = 0.05 * (1.0 - t / steps)  # a schedule, as noisealign.engine.pipeline.train sets it
        opt.step()
        if t == 20:
            with torch.no_grad():
                params[0][2] = 0.5  # a frozen member's weights put back (noisealign.engine.pipeline.train)
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
def test_adam_equals_torch_fused_adam_bit_for_bit(dtype: torch.dtype, weight_decay: float) -> None:
    ours = _run(lambda p: FusedAdam(p, lr=0.05, weight_decay=weight_decay), dtype)
    ref = _run(lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=weight_decay, fused=True),
               dtype)
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("momentum,weight_decay", [(0.0, 0.0), (0.9, 0.0), (0.5, 1e-3)])
def test_sgd_equals_torch_fused_sgd_bit_for_bit(dtype: torch.dtype, momentum: float,
                                                 weight_decay: float) -> None:
    ours = _run(lambda p: FusedSGD(p, lr=0.05, weight_decay=weight_decay, momentum=momentum),
                dtype)
    extra = {"momentum": momentum} if momentum else {}
    ref = _run(lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=weight_decay, fused=True,
                                         **extra), dtype)
    for a, b in zip(ours, ref):
        assert torch.equal(a, b)


def test_unfused_devices_fall_back_to_torch_optim() -> None:
    p = [torch.zeros(3, requires_grad=True)]
    assert isinstance(make_optimizer("adam", p, lr=0.1, weight_decay=0.0), FusedAdam)
    assert isinstance(make_optimizer("sgd", p, lr=0.1, weight_decay=0.0, momentum=0.9), FusedSGD)


def test_training_imports_no_torch_dynamo() -> None:
    # A whole run (Adam) and an SGD run: torch._dynamo stays unloaded.
    code = ("import sys\n"
            "from engine import ExperimentSpec, run_experiment\n"
            "run_experiment(ExperimentSpec(n_train=40, width=8, ensemble_size=2, max_epochs=5))\n"
            "run_experiment(ExperimentSpec(n_train=40, width=8, ensemble_size=2, max_epochs=5, "
            "optimizer='sgd', momentum=0.9, lr=0.05))\n"
            "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo imported'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
