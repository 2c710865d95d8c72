"""The batched model: K independent MLPs stored as stacked weights.

Layer ``l`` of all members is one tensor of shape (K, fan_in, fan_out), so a forward
pass is a handful of batched matmuls instead of a Python loop over members. Members
never interact: the gradient of the summed loss with respect to member ``m``'s weights
is the gradient of member ``m``'s own loss.
"""

from __future__ import annotations

import numpy as np
import torch

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda h: h}


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


class BatchedMLP(torch.nn.Module):
    """K MLPs with layer sizes ``dims`` = [d, width, ..., width, outputs].

    weights[l]: (K, dims[l], dims[l+1]); biases[l]: (K, 1, dims[l+1]).
    """

    def __init__(self, members: list[list[tuple[torch.Tensor, torch.Tensor | None]]],
                 activation: str):
        super().__init__()
        n_layers = len(members[0])
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack([m[l][0] for m in members])) for l in range(n_layers)])
        has_bias = members[0][0][1] is not None
        self.biases = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack([m[l][1] for m in members])[:, None, :])
             for l in range(n_layers)] if has_bias else [])

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    def forward(self, x: torch.Tensor, members: slice = slice(None)
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: (n, d) shared or (M, n, d) per member -> (output (M, n, out), hidden list).

        ``members`` selects a contiguous group of members (default: all K = M);
        ``hidden[l]`` is layer ``l`` after its nonlinearity, shape (M, n, width).
        """
        k = len(range(self.n_members)[members])
        h = x if x.dim() == 3 else x.expand(k, *x.shape)  # shared inputs: a stride-0 view
        hidden = []
        last = len(self.weights) - 1
        for l, w in enumerate(self.weights):
            w = w[members]
            # baddbmm fuses the bias into the product (one pass over the activations)
            h = torch.baddbmm(self.biases[l][members], h, w) if self.biases else torch.bmm(h, w)
            if l < last:
                h = self._act(h)
                hidden.append(h)
        return h, hidden
