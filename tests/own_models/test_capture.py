"""noisealign.engine.own_models.activations: forward hooks on a user's torch model, activations ready for compare."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from noisealign.engine import capture, compare
from noisealign.engine.own_models.activations import reduce_activation


class Block(torch.nn.Module):
    """A torchvision-style basic residual block (conv-bn-relu-conv-bn + identity)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(c)
        self.conv2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(h)) + x)


def tiny_resnet(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
        Block(8), torch.nn.MaxPool2d(2), Block(8),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 10))


def images(n: int = 70) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(1))


def test_capture_equals_the_layers_called_by_hand():
    model = tiny_resnet()
    x = images()
    acts = capture(model, x, layers=["2", "4", "7"], batch_size=16)
    assert list(acts) == ["2", "4", "7"]
    assert model.training  # its mode is given back
    model.eval()
    with torch.no_grad():
        h2 = model[2](model[1](model[0](x)))
        h4 = model[4](model[3](h2))
        out = model(x)
    np.testing.assert_allclose(acts["2"], h2.flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["4"], h4.flatten(1).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts["7"], out.numpy(), rtol=1e-5, atol=1e-6)
    assert acts["2"].shape == (70, 8 * 8 * 8) and acts["2"].dtype == np.float32


def test_pooling_and_nested_names():
    model = tiny_resnet()
    x = images()
    avg = capture(model, x, layers=["2.conv2", "4"], pool="avg")
    mx = capture(model, x, layers=["4"], pool="max")
    flat = capture(model, x, layers=["4"])["4"].reshape(70, 8, 16)
    assert avg["2.conv2"].shape == (70, 8) and avg["4"].shape == (70, 8)
    np.testing.assert_allclose(avg["4"], flat.mean(axis=2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mx["4"], flat.max(axis=2), rtol=1e-6)


def test_tensor_array_and_dataloader_inputs_agree():
    model = tiny_resnet()
    x = images()
    a = capture(model, x, layers=["4"], batch_size=7)
    b = capture(model, x.numpy(), layers=["4"], batch_size=64)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, torch.zeros(70)), batch_size=32)
    c = capture(model, loader, layers=["4"], prefix="resnet/")
    np.testing.assert_allclose(a["4"], b["4"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a["4"], c["resnet/4"], rtol=1e-5, atol=1e-6)


def test_captured_layers_compare_against_a_reference_cka():
    model = tiny_resnet()
    acts = capture(model, images(), layers=["2", "4", "7"], prefix="net/")
    rows = compare(acts, measures=["cka"])
    got = {(r["a"], r["b"]): r["value"] for r in rows}

    def linear_cka(a: np.ndarray, b: np.ndarray) -> float:  # Kornblith et al. (2019), eq. 3
        a = a.astype(np.float64) - a.mean(0)
        b = b.astype(np.float64) - b.mean(0)
        return float(np.linalg.norm(b.T @ a) ** 2
                     / (np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)))

    ref = linear_cka(acts["net/2"], acts["net/7"])
    assert got[("net/2", "net/7")] == pytest.approx(ref, rel=1e-5)


def test_default_layers_are_the_children():
    model = tiny_resnet()
    acts = capture(model, images(10))
    assert list(acts) == [str(i) for i in range(8)]


@pytest.mark.parametrize("kwargs, words", [
    ({"layers": ["nope"]}, "not a module of the model"),
    ({"layers": ["4", "4"]}, "twice"),
    ({"pool": "median"}, "pool"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_arguments_name_the_field(kwargs, words):
    with pytest.raises(ValueError, match=words):
        capture(tiny_resnet(), images(10), **kwargs)


def test_bad_inputs_and_models():
    with pytest.raises(ValueError, match="torch.nn.Module"):
        capture(object(), images(10))
    with pytest.raises(ValueError, match="allowed a torch tensor"):
        capture(tiny_resnet(), "images.pt")
    with pytest.raises(ValueError, match="at least one"):
        capture(tiny_resnet(), torch.zeros(0, 1, 8, 8))


def test_reduce_activation_shapes():
    t = torch.arange(24.0).reshape(2, 3, 4)
    assert reduce_activation(t).shape == (2, 12)
    assert reduce_activation(t, "avg").tolist() == t.mean(2).tolist()
    assert reduce_activation(torch.ones(5)).shape == (5, 1)
