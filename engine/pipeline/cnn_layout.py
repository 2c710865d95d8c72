# ----------------------------------------------------------------------------- the CNN
# Two conv blocks (3x3 convolution with `width` channels and 'same' padding, the
# activation, 2x2 max pool), a dense hidden layer of CNN_HIDDEN_PER_WIDTH * width units and
# the output layer. Hidden representations: each block's pooled output (flattened
# channel-major, as torch flattens an (n, C, H, W) tensor) and the dense layer.
# A signal (an "image" one pixel high, height 1: mnist1d) gets the 1-D variant: kernel 3
# and pool 2 along its length, the same layers otherwise.
CNN_BLOCKS = 2
CNN_HIDDEN_PER_WIDTH = 2
KERNEL = 3


def cnn_kernel(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(height, width) of the convolution kernel: 3x3, or 1x3 for a 1-D signal."""
    return (1 if image_shape[1] == 1 else KERNEL, KERNEL)


def cnn_pool(image_shape: tuple[int, int, int]) -> tuple[int, int]:
    """(height, width) of the max-pool window: 2x2, or 1x2 for a 1-D signal."""
    return (1 if image_shape[1] == 1 else 2, 2)


def cnn_layer_sizes(image_shape: tuple[int, int, int], width: float, outputs: int) -> dict:
    """Shapes of the CNN on (channels, height, width) images; ``width`` may be a float
    (for the interpolation threshold's bisection)."""
    c, h, w = image_shape
    ph, pw = cnn_pool(image_shape)
    sides = [(h, w)]
    for _ in range(CNN_BLOCKS):
        sides.append((sides[-1][0] // ph, sides[-1][1] // pw))
    feat = width * sides[-1][0] * sides[-1][1]
    return {"in_channels": c, "sides": sides, "features": feat,
            "hidden": CNN_HIDDEN_PER_WIDTH * width, "outputs": outputs}


def cnn_n_parameters(image_shape: tuple[int, int, int], width: float, outputs: int,
                     bias: bool) -> float:
    s = cnn_layer_sizes(image_shape, width, outputs)
    kh, kw = cnn_kernel(image_shape)
    k2, b = kh * kw, 1 if bias else 0
    return ((s["in_channels"] * k2 + b) * width + (width * k2 + b) * width
            + (s["features"] + b) * s["hidden"] + (s["hidden"] + b) * outputs)


def cnn_matmuls(image_shape: tuple[int, int, int], width: int, outputs: int
                ) -> list[tuple[int, int, int]]:
    """The CNN's forward pass as (rows per point, fan_in, fan_out) products (for cost
    estimates: a convolution is a product over every output pixel)."""
    s = cnn_layer_sizes(image_shape, width, outputs)
    kh, kw = cnn_kernel(image_shape)
    k2 = kh * kw
    (h0, w0), (h1, w1) = s["sides"][0], s["sides"][1]
    return [(h0 * w0, s["in_channels"] * k2, width), (h1 * w1, width * k2, width),
            (1, int(s["features"]), int(s["hidden"])), (1, int(s["hidden"]), outputs)]


def cnn_activation_floats(image_shape: tuple[int, int, int], width: int) -> int:
    """Activation floats per point and member kept for the backward pass (conv outputs
    before and after pooling, the dense layer)."""
    s = cnn_layer_sizes(image_shape, width, 1)
    (h0, w0), (h1, w1), (h2, w2) = s["sides"]
    return int(width * (h0 * w0 + 2 * h1 * w1 + h2 * w2) + s["hidden"])
