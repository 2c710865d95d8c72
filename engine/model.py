"""The batched model: K independent MLPs stored as stacked weights.

Layer ``l`` of all members is one tensor of shape (K, fan_in, fan_out), so a forward
pass is a handful of batched matmuls instead of a Python loop over members. Members
never interact: the gradient of the summed loss with respect to member ``m``'s weights
is the gradient of member ``m``'s own loss.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.spec import ACTIVATIONS


# Below this many output columns a layer takes the transposed products (see BatchedLinear).
NARROW_OUTPUTS = 32


def member_init_seed(seed: int, member: int) -> int:
    """Initialisation seed of member ``member`` (independent of the ensemble size)."""
    return int(np.random.SeedSequence([seed, 0x1417, member]).generate_state(1)[0])


def init_weights(dims: list[int], init_seed: int, init_scale: float,
                 bias: bool) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """One member's initial weights: W ~ N(0, init_scale^2 / fan_in), biases 0.

    Drawn on the CPU in float32 so a seed gives the same network on every device.
    """
    g = torch.Generator().manual_seed(init_seed)
    layers = []
    for fan_in, fan_out in zip(dims[:-1], dims[1:]):
        w = torch.randn(fan_in, fan_out, generator=g) * (init_scale / fan_in ** 0.5)
        layers.append((w, torch.zeros(fan_out) if bias else None))
    return layers


class BatchedLinear(torch.autograd.Function):
    """``act(h @ w + b)`` for a group of members, each product laid out for speed.

    h: (M, n, fan_in) (a stride-0 expanded view for shared inputs), w: (M, fan_in,
    fan_out), b: (M, 1, fan_out) or None, activation: one of ACTIVATIONS
    -> (M, n, fan_out).

    Why not plain ``baddbmm`` and autograd: the batched GEMM of MKL (and its autograd
    formulas) is 5-30x slower than it need be when the output has few columns, which is
    every regression head and every 10-class head. The same products computed in the
    transposed order (w^T h^T, g^T h), or as a broadcast multiply for a single output,
    take MKL's fast paths; wide layers keep the plain batched GEMM, which is best for
    them. The activation is applied in place and its derivative taken from the output,
    which saves a (M, n, fan_out) tensor and a pass over it per layer. Only memory order
    and summation blocking change, never the maths; the choice depends on the layer's
    shape alone, so a seeded run is reproducible and a member gets the same arithmetic
    alone or in any ensemble. Measured by `python -m benchmarks.bench_ensemble`; gradients
    checked against autograd in the tests.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                activation: str = "linear") -> torch.Tensor:
        if w.shape[-1] < NARROW_OUTPUTS:
            out = torch.bmm(w.mT, h.mT).mT  # computed as (M, out, n), viewed as (M, n, out)
            # a fresh tensor either way (a view made here could not be changed in place)
            out = out + b if b is not None else out.clone(memory_format=torch.contiguous_format)
        else:
            out = torch.baddbmm(b, h, w) if b is not None else torch.bmm(h, w)
        if activation == "relu":
            out.relu_()
        elif activation == "tanh":
            out.tanh_()
        ctx.activation = activation
        ctx.has_bias = b is not None
        ctx.save_for_backward(h, w, out if activation != "linear" else None)
        return out

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        h, w, out = ctx.saved_tensors
        if ctx.activation == "relu":
            g = torch.ops.aten.threshold_backward(g, out, 0.0)  # autograd's own ReLU rule
        elif ctx.activation == "tanh":
            g = torch.ops.aten.tanh_backward(g, out)  # g (1 - out^2), autograd's tanh rule
        fan_out = w.shape[-1]
        grad_h = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            if fan_out == 1:
                grad_h = g * w.mT  # an outer product per member: a broadcast multiply
            elif fan_out < NARROW_OUTPUTS:
                grad_h = torch.bmm(w, g.mT).mT
            else:
                grad_h = torch.bmm(g, w.mT)
        if ctx.needs_input_grad[1]:
            grad_w = torch.bmm(g.mT, h).mT if fan_out < NARROW_OUTPUTS else torch.bmm(h.mT, g)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum(dim=1, keepdim=True)
        return grad_h, grad_w, grad_b, None


class BatchedMLP(torch.nn.Module):
    """K MLPs with layer sizes ``dims`` = [d, width, ..., width, outputs].

    weights[l]: (K, dims[l], dims[l+1]); biases[l]: (K, 1, dims[l+1]).
    """

    def __init__(self, members: list[list[tuple[torch.Tensor, torch.Tensor | None]]],
                 activation: str):
        super().__init__()
        n_layers = len(members[0])
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
        self.activation = activation
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack([m[l][0] for m in members])) for l in range(n_layers)])
        has_bias = members[0][0][1] is not None
        self.biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack([m[l][1] for m in members])[:, None, :])
             for l in range(n_layers)] if has_bias else [])

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    def group_params(self, members: slice) -> list[torch.Tensor]:
        """Views of the weights (then biases) of a contiguous group of members."""
        return [w[members] for w in self.weights] + [b[members] for b in self.biases]

    def forward(self, x: torch.Tensor, members: slice = slice(None),
                params: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: (n, d) shared or (M, n, d) per member -> (output (M, n, out), hidden list).

        ``members`` selects a contiguous group of members (default: all K = M);
        ``params``, if given, replaces ``group_params(members)`` (tensors of those
        shapes, e.g. leaves to take gradients with respect to).
        ``hidden[l]`` is layer ``l`` after its nonlinearity, shape (M, n, width).
        """
        params = self.group_params(members) if params is None else params
        n_layers = len(self.weights)
        weights, biases = params[:n_layers], params[n_layers:] or [None] * n_layers
        k = weights[0].shape[0]
        h = x if x.dim() == 3 else x.expand(k, *x.shape)  # shared inputs: a stride-0 view
        hidden = []
        for l, (w, b) in enumerate(zip(weights, biases)):
            hidden_layer = l < n_layers - 1
            h = BatchedLinear.apply(h, w, b, self.activation if hidden_layer else "linear")
            if hidden_layer:
                hidden.append(h)
        return h, hidden
