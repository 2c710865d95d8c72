"""The CNN's layout as arithmetic: layer shapes, parameter count, the products of a
forward pass and the activations kept for the backward pass.

Torch-free, so the spec (P, the interpolation threshold) and the guard (cost estimates)
use it without loading torch; :class:`engine.model.BatchedCNN` builds the same layout.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- the CNN
# Two conv blocks (3x3 convolution with `width` channels and 'same' padding, the
# activation, 2x2 max pool), a dense hidden layer of CNN_HIDDEN_PER_WIDTH * width units and
# the output layer. Hidden representations: each block's pooled output (flattened
# channel-major, as torch flattens an (n, C, H, W) tensor) and the dense layer.
CNN_BLOCKS = 2
CNN_HIDDEN_PER_WIDTH = 2
KERNEL = 3


def cnn_layer_sizes(image_shape: tuple[int, int, int], width: float, outputs: int) -> dict:
    """Shapes of the CNN on (channels, height, width) images; ``width`` may be a float
    (for the interpolation threshold's bisection)."""
    c, h, w = image_shape
    sides = [(h, w)]
    for _ in range(CNN_BLOCKS):
        sides.append((sides[-1][0] // 2, sides[-1][1] // 2))
    feat = width * sides[-1][0] * sides[-1][1]
    return {"in_channels": c, "sides": sides, "features": feat,
            "hidden": CNN_HIDDEN_PER_WIDTH * width, "outputs": outputs}


def cnn_n_parameters(image_shape: tuple[int, int, int], width: float, outputs: int,
                     bias: bool) -> float:
    s = cnn_layer_sizes(image_shape, width, outputs)
    k2, b = KERNEL * KERNEL, 1 if bias else 0
    return ((s["in_channels"] * k2 + b) * width + (width * k2 + b) * width
            + (s["features"] + b) * s["hidden"] + (s["hidden"] + b) * outputs)


def cnn_matmuls(image_shape: tuple[int, int, int], width: int, outputs: int
                ) -> list[tuple[int, int, int]]:
    """The CNN's forward pass as (rows per point, fan_in, fan_out) products (for cost
    estimates: a 3x3 convolution is a product over every output pixel)."""
    s = cnn_layer_sizes(image_shape, width, outputs)
    k2 = KERNEL * KERNEL
    (h0, w0), (h1, w1) = s["sides"][0], s["sides"][1]
    return [(h0 * w0, s["in_channels"] * k2, width), (h1 * w1, width * k2, width),
            (1, int(s["features"]), int(s["hidden"])), (1, int(s["hidden"]), outputs)]


def cnn_activation_floats(image_shape: tuple[int, int, int], width: int) -> int:
    """Activation floats per point and member kept for the backward pass (conv outputs
    before and after pooling, the dense layer)."""
    s = cnn_layer_sizes(image_shape, width, 1)
    (h0, w0), (h1, w1), (h2, w2) = s["sides"]
    return int(width * (h0 * w0 + 2 * h1 * w1 + h2 * w2) + s["hidden"])
