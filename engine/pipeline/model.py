"""The batched model: K independent MLPs stored as stacked weights.

Layer ``l`` of all members is one tensor of shape (K, fan_in, fan_out), so a forward
pass is a handful of batched matmuls instead of a Python loop over members. Members
never interact: the gradient of the summed loss with respect to member ``m``'s weights
is the gradient of member ``m``'s own loss.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from .cnn_layout import (  # noqa: F401
    CNN_BLOCKS,
    CNN_HIDDEN_PER_WIDTH,
    KERNEL,
    cnn_activation_floats,
    cnn_kernel,
    cnn_layer_sizes,
    cnn_matmuls,
    cnn_n_parameters,
    cnn_pool,
)
from .spec import ACTIVATIONS

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
    for fan_in, fan_out in itertools.pairwise(dims):
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
    shape alone, so a seeded run is reproducible (the same spec gives the same numbers
    on the same machine). A member alone and the same member inside an ensemble compute
    the same maths but not always the same rounding: the summation blocking depends on
    the batch shape, so in float32 they differ by up to about 2.4e-6 (MLP) and 2.5e-5
    (CNN, whose grouped convolutions block differently) after training, and in float64
    they agree to about 1e-15 (measured by an independent audit, issue 26, against
    plain-torch members; the float64 equality is what the tests check). Measured by
    `python -m benchmarks.bench_ensemble`; gradients checked against autograd in the
    tests.
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


def _bias(layer: tuple[torch.Tensor, torch.Tensor | None]) -> torch.Tensor:
    """A member layer's bias, where the model has biases (every member then has one)."""
    if layer[1] is None:
        raise ValueError("every member must have biases when the first one has")
    return layer[1]


def _biases_or_none(biases: list[torch.Tensor], n_layers: int) -> list[torch.Tensor | None]:
    """The bias of each layer, or None for every layer of a model without biases."""
    return [*biases] if biases else [None] * n_layers


class BatchedMLP(torch.nn.Module):
    """K MLPs with layer sizes ``dims`` = [d, width, ..., width, outputs].

    weights[l]: (K, dims[l], dims[l+1]); biases[l]: (K, 1, dims[l+1]).
    """

    GROUPED_ON_CPU = True  # noisealign.engine.pipeline.train trains cache-sized groups of members on a CPU

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
            [torch.nn.Parameter(torch.stack([_bias(m[l]) for m in members])[:, None, :])
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
        weights, biases = params[:n_layers], _biases_or_none(params[n_layers:], n_layers)
        k = weights[0].shape[0]
        h = x if x.dim() == 3 else x.expand(k, *x.shape)  # shared inputs: a stride-0 view
        hidden = []
        for l, (w, b) in enumerate(zip(weights, biases)):
            hidden_layer = l < n_layers - 1
            h = BatchedLinear.apply(h, w, b, self.activation if hidden_layer else "linear")
            if hidden_layer:
                hidden.append(h)
        return h, hidden

    def floats_per_point(self) -> int:
        """Activation floats one member keeps per input point (its widest layer)."""
        return int(max(w.shape[-1] for w in self.weights))


# ----------------------------------------------------------------------------- the CNN
# Its layout (shapes, P, costs) is arithmetic in engine/pipeline/cnn_layout.py, torch-free.


def init_cnn_weights(image_shape: tuple[int, int, int], width: int, outputs: int,
                     init_seed: int, init_scale: float, bias: bool
                     ) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """One CNN member's initial weights: N(0, init_scale^2 / fan_in), biases 0, as for the
    MLP (a convolution's fan_in is in_channels * 3 * 3, or in_channels * 3 for a 1-D
    signal). Conv weights are (out, in, 3, 3) (or (out, in, 1, 3)), dense weights (fan_in,
    fan_out); float32 on the CPU."""
    s = cnn_layer_sizes(image_shape, width, outputs)
    kh, kw = cnn_kernel(image_shape)
    g = torch.Generator().manual_seed(init_seed)
    layers = []
    for c_in in (s["in_channels"], width):
        fan_in = c_in * kh * kw
        w = torch.randn(width, c_in, kh, kw, generator=g) * (init_scale / fan_in ** 0.5)
        layers.append((w, torch.zeros(width) if bias else None))
    for fan_in, fan_out in ((s["features"], s["hidden"]), (s["hidden"], outputs)):
        w = torch.randn(fan_in, fan_out, generator=g) * (init_scale / fan_in ** 0.5)
        layers.append((w, torch.zeros(fan_out) if bias else None))
    return layers


_ACT = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}
_ACT_INPLACE = {"relu": torch.relu_, "tanh": torch.tanh_, "linear": lambda t: t}


def _patches(x: torch.Tensor, kernel: tuple[int, int], ones: bool) -> torch.Tensor:
    """x: (n, c, H, W) -> (n * H * W, kh * kw * c [+ 1]): each pixel's kh x kw
    neighbourhood ('same' zero padding), columns ordered (ky, kx, channel), then a column
    of ones if ``ones``."""
    n, c, hgt, wid = x.shape
    kh, kw = kernel
    k2c = kh * kw * c
    xp = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2))
    sn, sc, si, sj = xp.stride()
    view = xp.as_strided((n, hgt, wid, kh, kw, c), (sn, si, sj, si, sj, sc))
    out = x.new_empty(n * hgt * wid, k2c + int(ones))
    out[:, :k2c].view(n, hgt, wid, kh, kw, c).copy_(view)
    if ones:
        out[:, k2c] = 1
    return out


# Patch matrices kept for reuse (full-batch training passes the same inputs every epoch)
# up to this size; larger ones are rebuilt each pass.
PATCH_CACHE_BYTES = 64 * 2 ** 20


class BatchedCNN(torch.nn.Module):
    """K CNNs as one model: the conv blocks are grouped convolutions (groups = K).

    weights: conv1 (K, width, C, 3, 3), conv2 (K, width, width, 3, 3) (1 x 3 kernels on a
    1-D signal, image height 1, with 1 x 2 pools), dense
    (K, features, hidden), output (K, hidden, outputs); biases (K, width), (K, width),
    (K, 1, hidden), (K, 1, outputs). Member m's channels are block m of the grouped
    convolution's channels, so members never mix. Shared inputs enter the first
    convolution once (one ordinary convolution with K * width output channels); per-member
    inputs (input noise) as K channel groups. The dense layers are BatchedLinear.

    ``batching`` (default CNN_BATCHING, "auto") picks how the convolutions are batched;
    every choice computes the same network (tested in float64). Grouped convolutions
    (on (n, C, H, W) or channels-last tensors) were measured against ``torch.func.vmap``
    over stacked parameters and against each member's own convolutions
    (``python -m benchmarks.bench_cnn``); "auto" keeps the fastest per device. Training
    all K members at once beat cache-sized groups of members (as the MLP trains on a CPU)
    by 1.1-3.5x on digits (K = 8, n = 500, width 8 and 64).
    """

    GROUPED_ON_CPU = False

    def __init__(self, members: list[list[tuple[torch.Tensor, torch.Tensor | None]]],
                 activation: str, image_shape: tuple[int, int, int],
                 batching: str | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} is not one of {ACTIVATIONS}")
        batching = CNN_BATCHING if batching is None else batching
        if batching not in CNN_BATCHINGS:
            raise ValueError(f"batching={batching!r} is not one of {CNN_BATCHINGS}")
        self.batching = batching
        self.activation = activation
        channels, height, width = (int(v) for v in image_shape)
        self.image_shape = (channels, height, width)
        self.kernel, self.pool = cnn_kernel(self.image_shape), cnn_pool(self.image_shape)
        self.padding = (self.kernel[0] // 2, self.kernel[1] // 2)
        n_layers = len(members[0])
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.stack([m[l][0] for m in members])) for l in range(n_layers)])
        has_bias = members[0][0][1] is not None
        biases = []
        if has_bias:
            for l in range(n_layers):
                b = torch.stack([_bias(m[l]) for m in members])
                biases.append(torch.nn.Parameter(b if l < CNN_BLOCKS else b[:, None, :]))
        self.biases = torch.nn.ParameterList(biases)

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.weights[0].shape[1])

    def floats_per_point(self) -> int:
        return cnn_activation_floats(self.image_shape, self.width)

    def group_params(self, members: slice) -> list[torch.Tensor]:
        return [w[members] for w in self.weights] + [b[members] for b in self.biases]

    def forward(self, x: torch.Tensor, members: slice = slice(None),
                params: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """As BatchedMLP.forward: x (n, d) shared or (M, n, d) per member, d = C*H*W
        channel-major -> (output (M, n, outputs), [block 1, block 2, dense] each
        (M, n, features))."""
        params = self.group_params(members) if params is None else params
        batching = self.batching
        if batching == "auto":  # the faster of the measured ones (BENCHMARKS.md, issue 14)
            batching = "grouped" if x.device.type != "cpu" else "channels_last"
        if batching == "vmap":
            return self._forward_vmap(x, params)
        n_layers = len(self.weights)
        weights, biases = params[:n_layers], _biases_or_none(params[n_layers:], n_layers)
        act = _ACT[self.activation]
        m, width = weights[0].shape[0], weights[0].shape[1]
        c, hgt, wid = self.image_shape
        hidden = []
        if batching == "members":
            return self._forward_members(x, weights, biases)
        if batching == "channels_last":
            return self._forward_channels_last(x, weights, biases)
        if x.dim() == 2:
            n = x.shape[0]
            h = x.reshape(n, c, hgt, wid)
            groups = 1
        else:
            n = x.shape[1]
            h = x.reshape(m, n, c, hgt, wid).transpose(0, 1).reshape(n, m * c, hgt, wid)
            groups = m
        for l in range(CNN_BLOCKS):
            w, b = weights[l], biases[l]
            h = F.conv2d(h, w.reshape(m * width, *w.shape[2:]),
                         None if b is None else b.reshape(-1), padding=self.padding,
                         groups=groups if l == 0 else m)
            # pool, then the activation: the same values (every activation here is
            # monotone), on a quarter of the elements
            h = act(F.max_pool2d(h, self.pool))
            hidden.append(h.reshape(n, m, -1).transpose(0, 1))
        h = BatchedLinear.apply(hidden[-1], weights[-2], biases[-2], self.activation)
        hidden.append(h)
        out = BatchedLinear.apply(h, weights[-1], biases[-1], "linear")
        return out, hidden

    def _forward_channels_last(self, x: torch.Tensor, weights: list[torch.Tensor],
                               biases: list[torch.Tensor | None]
                               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Grouped convolutions on channels-last tensors (n, H, W, K * width in memory),
        for which oneDNN's grouped kernels and the max pool are several times faster than
        on (n, K * width, H, W); shared inputs enter the first convolution as one matrix
        product of their 3x3 patches with all members' filters side by side (a
        single-channel convolution is a poor kernel; the patches need no gradient)."""
        act_ = _ACT_INPLACE[self.activation]
        c, hgt, wid = self.image_shape
        m, width = weights[0].shape[0], weights[0].shape[1]
        cl = torch.channels_last
        if x.dim() == 2:
            n = x.shape[0]
            b = biases[0]
            # (n * H * W, 9 * c [+ 1]) patch rows, columns (ky, kx, channel [, 1 for the
            # bias, so one product gives the output and one its weights' gradient])
            patches = self._patches(x, b is not None)
            w = weights[0].permute(3, 4, 2, 0, 1).reshape(-1, m * width)
            # contiguous (cat copies too): on a transposed view, mm's backward takes MKL's
            # slow order (5x)
            w = w.contiguous() if b is None else torch.cat([w, b.reshape(1, -1)])
            z = torch.mm(patches, w)
            h = z.view(n, hgt, wid, m * width).permute(0, 3, 1, 2)  # channels-last view
        else:
            n = x.shape[1]
            h = (x.reshape(m, n, c, hgt, wid).transpose(0, 1).reshape(n, m * c, hgt, wid)
                 .contiguous(memory_format=cl))
            b = biases[0]
            h = F.conv2d(h, weights[0].reshape(m * width, *weights[0].shape[2:])
                         .contiguous(memory_format=cl), None if b is None else b.reshape(-1),
                         padding=self.padding, groups=m)
        hidden = []
        for l in range(CNN_BLOCKS):
            if l > 0:
                w, b = weights[l], biases[l]
                h = F.conv2d(h, w.reshape(m * width, *w.shape[2:])
                             .contiguous(memory_format=cl), None if b is None else b.reshape(-1),
                             padding=self.padding, groups=m)
            # pool, then the activation (the same values, a quarter of the elements); in
            # place: the pool's backward needs its input and indices, not its output
            h = act_(F.max_pool2d(h, self.pool))
            # (n, K, width * h * w) channel-major per member: a copy, as the layout differs
            hidden.append(h.reshape(n, m, -1).transpose(0, 1))
        h = BatchedLinear.apply(hidden[-1], weights[-2], biases[-2], self.activation)
        hidden.append(h)
        return BatchedLinear.apply(h, weights[-1], biases[-1], "linear"), hidden

    def _patches(self, x: torch.Tensor, ones: bool) -> torch.Tensor:
        """:func:`_patches` of the images ``x`` (n, c * H * W), kept for the next passes
        when small: the cache holds
        ``x`` itself (an identity check cannot match a new tensor at a reused address)
        and its version counter (an in-place change invalidates it); two entries, for
        the training and the probe inputs."""
        image = x.reshape(x.shape[0], *self.image_shape)
        if x.requires_grad:
            return _patches(image, self.kernel, ones)
        cache = self.__dict__.setdefault("_patch_cache", [])
        for entry in cache:
            if entry[0] is x and entry[1] == x._version and entry[2] == ones:
                return entry[3]
        p = _patches(image, self.kernel, ones)
        if p.numel() * p.element_size() <= PATCH_CACHE_BYTES:
            cache.insert(0, (x, x._version, ones, p))
            del cache[2:]
        return p

    def _forward_members(self, x: torch.Tensor, weights: list[torch.Tensor],
                         biases: list[torch.Tensor | None]
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each member's convolutions on their own (dense convolutions, which oneDNN runs
        faster than grouped ones once the blocks are wide); the dense layers batched."""
        act = _ACT[self.activation]
        c, hgt, wid = self.image_shape
        m = weights[0].shape[0]
        blocks: list[list[torch.Tensor]] = [[] for _ in range(CNN_BLOCKS)]
        for j in range(m):
            h = (x if x.dim() == 2 else x[j]).reshape(-1, c, hgt, wid)
            for l in range(CNN_BLOCKS):
                b = biases[l]
                h = act(F.max_pool2d(F.conv2d(h, weights[l][j], None if b is None else b[j],
                                              padding=self.padding), self.pool))
                blocks[l].append(h.flatten(1))
        hidden = [torch.stack(hs) for hs in blocks]
        h = BatchedLinear.apply(hidden[-1], weights[-2], biases[-2], self.activation)
        hidden.append(h)
        return BatchedLinear.apply(h, weights[-1], biases[-1], "linear"), hidden

    def _forward_vmap(self, x: torch.Tensor, params: list[torch.Tensor]
                      ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The same network as ``torch.func.vmap`` of one member over stacked params."""
        n_layers = len(self.weights)
        act = _ACT[self.activation]
        c, hgt, wid = self.image_shape
        has_bias = len(params) > n_layers

        def one(xm: torch.Tensor, *p: torch.Tensor):
            ws, bs = p[:n_layers], p[n_layers:] if has_bias else [None] * n_layers
            h = xm.reshape(-1, c, hgt, wid)
            hidden = []
            for l in range(CNN_BLOCKS):
                h = act(F.max_pool2d(F.conv2d(h, ws[l], bs[l], padding=self.padding),
                                     self.pool))
                hidden.append(h.flatten(1))
            h = h.flatten(1) @ ws[-2]
            b_dense, b_out = bs[-2], bs[-1]
            h = act(h + b_dense if b_dense is not None else h)
            hidden.append(h)
            out = h @ ws[-1]
            return (out + b_out if b_out is not None else out), tuple(hidden)

        from torch.func import vmap
        out, hidden = vmap(one, in_dims=(0 if x.dim() == 3 else None,) + (0,) * len(params))(
            x, *params)
        return out, list(hidden)


# How BatchedCNN batches its members' convolutions: "grouped" (one grouped convolution,
# groups = K, on (n, K * width, H, W) tensors), "channels_last" (the same grouped
# convolutions on channels-last tensors, shared inputs' first convolution as one matrix
# product), "vmap" (torch.func.vmap over the stacked parameters), "members" (each
# member's convolutions on their own; dense layers and optimiser still batched) or "auto":
# channels_last on a CPU, grouped on a GPU (where channels-last was not measured). On a
# CPU, channels_last was the fastest at 8, 32 and 64 channels on digits; vmap never was
# (python -m benchmarks.bench_cnn: BENCHMARKS.md, issue 14).
CNN_BATCHINGS = ("auto", "grouped", "channels_last", "vmap", "members")
CNN_BATCHING = "auto"


def build_model(spec, input_dim: int, init_seeds: list[int]) -> torch.nn.Module:
    """The batched model of ``spec`` (MLP or CNN) with one member per initial seed."""
    outputs = spec.n_outputs()
    if getattr(spec, "architecture", "mlp") == "cnn":
        shape = spec.image_shape()
        inits = [init_cnn_weights(shape, spec.width, outputs, s, spec.init_scale, spec.bias)
                 for s in init_seeds]
        return BatchedCNN(inits, spec.activation, shape)
    dims = [input_dim] + [spec.width] * spec.depth + [outputs]
    return BatchedMLP([init_weights(dims, s, spec.init_scale, spec.bias) for s in init_seeds],
                      spec.activation)
