"""Adam and SGD as torch's fused optimisers compute them, without torch.optim's start-up.

Constructing any ``torch.optim.Optimizer`` imports ``torch._dynamo`` (its
``add_param_group`` is wrapped in ``torch._disable_dynamo``): about 1.5-2 s of every
process that trains, paid again by every worker. These classes call the same fused
kernels (``torch._fused_adam_``, ``torch._fused_sgd_``) with the arguments
``torch.optim.Adam(..., fused=True)`` / ``torch.optim.SGD(..., fused=True)`` pass them
(torch 2.13's ``_fused_adam`` / ``_fused_sgd``), so the updates are bit-identical
(tests/test_optim.py) and nothing slow is imported.

Only what noisealign.engine.pipeline.train uses is provided: ``param_groups`` (one group; its ``"lr"`` may be
changed between steps), ``zero_grad(set_to_none=True)`` and ``step()``; parameters without
a gradient are skipped, as torch does. :func:`make_optimizer` falls back to torch.optim
where no fused kernel exists (devices other than the CPU and CUDA).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
ADAM_EPS = 1e-8


class _Fused:
    def __init__(self, params: Sequence[torch.Tensor], **group: Any):
        self.param_groups: list[dict[str, Any]] = [{"params": list(params), **group}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def _with_grad(self) -> list[torch.Tensor]:
        return [p for p in self.param_groups[0]["params"] if p.grad is not None]

    @staticmethod
    def _grads(params: list[torch.Tensor]) -> list[torch.Tensor]:
        """The gradients of ``params`` (all of :meth:`_with_grad`, so none is None)."""
        return [g for p in params if (g := p.grad) is not None]

    @staticmethod
    def _by_device_dtype(params: list[torch.Tensor]) -> list[list[int]]:
        """Indices of ``params`` grouped by (device, dtype), as torch's fused path
        groups them (one kernel call per group), in first-seen order."""
        groups: dict[tuple[torch.device, torch.dtype], list[int]] = {}
        for i, p in enumerate(params):
            groups.setdefault((p.device, p.dtype), []).append(i)
        return list(groups.values())


class FusedAdam(_Fused):
    """``torch.optim.Adam(params, lr, weight_decay=..., fused=True)`` (betas, eps, no
    amsgrad, no maximize: torch's defaults), without importing torch._dynamo."""

    def __init__(self, params: Sequence[torch.Tensor], *, lr: float, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params = self._with_grad()
        for p in params:
            if p not in self.state:
                # As torch's _init_group for fused=True: a float32 step on the device.
                self.state[p] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(
                                     p, memory_format=torch.preserve_format)}
        for idx in self._by_device_dtype(params):
            ps = [params[i] for i in idx]
            st = [self.state[p] for p in ps]
            steps = [s["step"] for s in st]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(ps, self._grads(ps), [s["exp_avg"] for s in st],
                               [s["exp_avg_sq"] for s in st], [], steps, amsgrad=False,
                               lr=group["lr"], beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1],
                               weight_decay=group["weight_decay"], eps=ADAM_EPS,
                               maximize=False, grad_scale=None, found_inf=None)


class FusedSGD(_Fused):
    """``torch.optim.SGD(params, lr, momentum=..., weight_decay=..., fused=True)`` (no
    dampening, no Nesterov, no maximize), without importing torch._dynamo."""

    def __init__(self, params: Sequence[torch.Tensor], *, lr: float, weight_decay: float = 0.0,
                 momentum: float = 0.0):
        super().__init__(params, lr=lr, weight_decay=weight_decay, momentum=momentum)

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        params = self._with_grad()
        momentum = group["momentum"]
        grads = self._grads(params)
        found: list[torch.Tensor | None] = [self.state.get(p, {}).get("momentum_buffer")
                                            for p in params]
        # torch's rule: the first step (every buffer missing) allocates the buffers and
        # tells the kernel to copy the gradient into them.
        first = momentum != 0 and all(b is None for b in found)
        if first:
            found = [torch.empty_like(g) for g in grads]
        # With momentum, every parameter has its buffer from the first step on (as in
        # torch, whose kernel is handed the same list); without, bufs is not used.
        bufs = cast(list[torch.Tensor], found)
        for idx in self._by_device_dtype(params):
            ps = [params[i] for i in idx]
            torch._fused_sgd_(ps, [grads[i] for i in idx],
                              [] if momentum == 0 else [bufs[i] for i in idx],
                              weight_decay=group["weight_decay"], momentum=momentum,
                              lr=group["lr"], dampening=0.0, nesterov=False, maximize=False,
                              is_first_step=first, grad_scale=None, found_inf=None)
        if momentum != 0:
            for p, b in zip(params, bufs):
                self.state.setdefault(p, {})["momentum_buffer"] = b


def make_optimizer(name: str, params: Sequence[torch.Tensor], *, lr: float,
                   weight_decay: float, momentum: float = 0.0) -> Any:
    """The optimiser noisealign.engine.pipeline.train steps: ``name`` "adam" or "sgd" (``momentum`` for
    SGD only), fused on the CPU and CUDA (:class:`FusedAdam` / :class:`FusedSGD`), else
    torch.optim's default implementation."""
    params = list(params)
    if params and params[0].device.type in ("cpu", "cuda"):
        if name == "adam":
            return FusedAdam(params, lr=lr, weight_decay=weight_decay)
        return FusedSGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if momentum:
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
