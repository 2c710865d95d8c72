"""Convolutional members (issue 14, item 1): the spec's architecture field, the batched
CNN against members trained alone, P and the threshold, the CLI and the dashboard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.pipeline.model import (
    BatchedCNN,
    cnn_n_parameters,
    init_cnn_weights,
    member_init_seed,
)
from noisealign.engine.pipeline.train import train

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dataset": "digits", "architecture": "cnn", "n_train": 40, "n_probe": 30, "width": 4,
            "ensemble_size": 3, "max_epochs": 15, "seed": 2, "device": "cpu", "noise": "label",
            "label_noise": 0.3}


# ----------------------------------------------------------------------------- spec


def test_architecture_is_validated_with_the_allowed_values():
    with pytest.raises(ValueError, match=r"architecture='rnn' is invalid: allowed one of "
                                         r"'mlp', 'cnn'"):
        ExperimentSpec(architecture="rnn")
    for name in ("linear-teacher", "gaussian-mixture", "diabetes"):
        with pytest.raises(ValueError) as e:
            ExperimentSpec(dataset=name, architecture="cnn")
        msg = str(e.value)
        assert f"architecture='cnn' is invalid for dataset {name!r}: allowed 'mlp'" in msg
        assert "'digits', 'mnist1d', 'mnist', 'fashion-mnist', 'cifar10'" in msg
    for name in ("digits", "mnist1d", "mnist", "fashion-mnist", "cifar10"):  # no files needed
        assert ExperimentSpec(dataset=name, architecture="cnn").architecture == "cnn"


def test_cnn_spec_hashes_depth_away_and_mlp_hashes_are_unchanged():
    a = ExperimentSpec(**TINY)
    assert a.depth == 1 and a.replace(depth=3).content_hash() == a.content_hash()
    assert a.content_hash() != a.replace(architecture="mlp").content_hash()
    assert ExperimentSpec.from_json(a.to_json()) == a
    mlp = ExperimentSpec()
    assert "architecture" not in mlp.to_json()  # specs from before the field keep their key
    assert ExperimentSpec.from_json(mlp.to_json()).architecture == "mlp"


def test_parameter_count_of_the_cnn():
    # digits 8x8 -> pool 4x4 -> pool 2x2; width w: conv 1->w, conv w->w, dense 4w->2w, 2w->10
    w = 8
    want = (9 + 1) * w + (9 * w + 1) * w + (4 * w + 1) * 2 * w + (2 * w + 1) * 10
    spec = ExperimentSpec(**{**TINY, "width": w})
    assert spec.n_parameters() == want
    assert spec.replace(bias=False).n_parameters() == want - (w + w + 2 * w + 10)
    model = BatchedCNN([init_cnn_weights((1, 8, 8), w, 10, 0, 1.0, True)], "relu", (1, 8, 8))
    assert sum(p.numel() for p in model.parameters()) == want
    cifar = ExperimentSpec(dataset="cifar10", architecture="cnn", width=w)
    assert cifar.n_parameters() == (27 + 1) * w + (9 * w + 1) * w + (64 * w + 1) * 2 * w + (2 * w + 1) * 10
    # mnist1d, the 1-D variant: 40 -> pool 20 -> pool 10; kernels of 3 taps
    signal = ExperimentSpec(dataset="mnist1d", architecture="cnn", width=w)
    want1d = (3 + 1) * w + (3 * w + 1) * w + (10 * w + 1) * 2 * w + (2 * w + 1) * 10
    assert signal.n_parameters() == want1d
    model = BatchedCNN([init_cnn_weights((1, 1, 40), w, 10, 0, 1.0, True)], "relu", (1, 1, 40))
    assert sum(p.numel() for p in model.parameters()) == want1d


def test_interpolation_threshold_and_resource_estimate_for_the_cnn():
    from noisealign.engine.compute import guard
    from noisealign.ui.plots import interpolation_threshold
    spec = ExperimentSpec(**{**TINY, "n_train": 500, "width": 16})
    assert interpolation_threshold(spec, "n_train") == pytest.approx(spec.n_parameters() / 10)
    assert interpolation_threshold(spec, "n_parameters") == 5000
    w = interpolation_threshold(spec, "width")
    assert cnn_n_parameters((1, 8, 8), w, 10, True) == pytest.approx(5000, rel=1e-6)
    # linear activations: max pooling keeps the CNN nonlinear, so P sets the threshold
    assert interpolation_threshold(spec.replace(activation="linear"), "n_train") == \
        pytest.approx(spec.n_parameters() / 10)
    signal = ExperimentSpec(**{**TINY, "dataset": "mnist1d", "n_train": 500, "width": 16})
    w = interpolation_threshold(signal, "width")
    assert cnn_n_parameters((1, 1, 40), w, 10, True) == pytest.approx(5000, rel=1e-6)
    assert interpolation_threshold(signal, "n_train") == pytest.approx(signal.n_parameters() / 10)
    for name in ("digits", "mnist1d", "mnist", "fashion-mnist", "cifar10"):
        big = ExperimentSpec(dataset=name, architecture="cnn", n_train=1000, width=32)
        cal = guard.DEFAULT_CALIBRATIONS["cpu"]
        est = guard.estimate(big, calibration=cal)
        assert est.seconds > 0 and est.memory_bytes > 0
        assert est.seconds > guard.estimate(big.replace(width=8), calibration=cal).seconds


# ----------------------------------------------------------------------------- equality


def _reference(layers, x):
    """One member as a plain torch CNN (conv, ReLU, max pool; twice; dense, ReLU; output)."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = layers
    h = F.max_pool2d(F.relu(F.conv2d(x.view(-1, 1, 8, 8), w1, b1, padding=1)), 2)
    h1 = h
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding=1)), 2)
    h2 = h
    h3 = F.relu(h.flatten(1) @ w3 + b3)
    return h3 @ w4 + b4, [h1.flatten(1), h2.flatten(1), h3]


@pytest.mark.parametrize("batching", ["grouped", "channels_last", "vmap", "members"])
@pytest.mark.parametrize("shared_input", [True, False])
def test_batched_cnn_forward_and_gradients_equal_plain_torch_in_float64(shared_input, batching):
    K, n = 3, 11
    g = torch.Generator().manual_seed(0)
    members = [[(w.double(), b.double()) for w, b in init_cnn_weights((1, 8, 8), 5, 10, s, 1.0, True)]
               for s in range(K)]
    for layers in members:  # nonzero biases, so the bias paths are checked too
        for _, b in layers:
            b.normal_(0, 0.1, generator=g)
    model = BatchedCNN(members, "relu", (1, 8, 8), batching).double()
    x = torch.randn(K, n, 64, generator=g, dtype=torch.float64)
    out, hidden = model(x[0] if shared_input else x)
    y = torch.randint(0, 10, (K, n), generator=g)
    loss = F.cross_entropy(out.reshape(-1, 10), y.reshape(-1), reduction="sum")
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for m, layers in enumerate(members):
        leaves = [t.clone().requires_grad_() for pair in layers for t in pair]
        ref, ref_hidden = _reference([(leaves[2 * i], leaves[2 * i + 1]) for i in range(4)],
                                     x[0] if shared_input else x[m])
        torch.testing.assert_close(out[m], ref, rtol=1e-12, atol=1e-12)
        for a, b in zip(hidden, ref_hidden):
            torch.testing.assert_close(a[m], b, rtol=1e-12, atol=1e-12)
        ref_grads = torch.autograd.grad(F.cross_entropy(ref, y[m], reduction="sum"), leaves)
        ours = [grads[i][m] for i in range(4)] + [grads[4 + i][m] for i in range(4)]
        for i, want in enumerate(ref_grads):  # leaves are w1, b1, w2, b2, ...
            got = ours[i // 2] if i % 2 == 0 else ours[4 + i // 2]
            torch.testing.assert_close(got.reshape(want.shape), want, rtol=1e-10, atol=1e-12)


def _reference_1d(layers, x):
    """One member of the 1-D variant as plain torch conv1d (conv, ReLU, max pool; twice;
    dense, ReLU; output) on 40-point signals."""
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = layers
    h1 = F.max_pool1d(F.relu(F.conv1d(x.view(-1, 1, 40), w1[:, :, 0], b1, padding=1)), 2)
    h2 = F.max_pool1d(F.relu(F.conv1d(h1, w2[:, :, 0], b2, padding=1)), 2)
    h3 = F.relu(h2.flatten(1) @ w3 + b3)
    return h3 @ w4 + b4, [h1.flatten(1), h2.flatten(1), h3]


@pytest.mark.parametrize("batching", ["grouped", "channels_last", "vmap", "members"])
@pytest.mark.parametrize("shared_input", [True, False])
def test_1d_cnn_forward_and_gradients_equal_plain_torch_conv1d_in_float64(shared_input,
                                                                           batching):
    K, n = 3, 7
    g = torch.Generator().manual_seed(4)
    members = [[(w.double(), b.double()) for w, b in init_cnn_weights((1, 1, 40), 5, 10, s, 1.0, True)]
               for s in range(K)]
    for layers in members:
        for _, b in layers:
            b.normal_(0, 0.1, generator=g)
    model = BatchedCNN(members, "relu", (1, 1, 40), batching).double()
    x = torch.randn(K, n, 40, generator=g, dtype=torch.float64)
    out, hidden = model(x[0] if shared_input else x)
    assert [h.shape for h in hidden] == [(K, n, 5 * 20), (K, n, 5 * 10), (K, n, 10)]
    y = torch.randint(0, 10, (K, n), generator=g)
    loss = F.cross_entropy(out.reshape(-1, 10), y.reshape(-1), reduction="sum")
    grads = torch.autograd.grad(loss, list(model.parameters()))
    for m, layers in enumerate(members):
        leaves = [t.clone().requires_grad_() for pair in layers for t in pair]
        ref, ref_hidden = _reference_1d([(leaves[2 * i], leaves[2 * i + 1]) for i in range(4)],
                                        x[0] if shared_input else x[m])
        torch.testing.assert_close(out[m], ref, rtol=1e-12, atol=1e-12)
        for a, b in zip(hidden, ref_hidden):
            torch.testing.assert_close(a[m], b, rtol=1e-12, atol=1e-12)
        ref_grads = torch.autograd.grad(F.cross_entropy(ref, y[m], reduction="sum"), leaves)
        ours = [grads[i][m] for i in range(4)] + [grads[4 + i][m] for i in range(4)]
        for i, want in enumerate(ref_grads):
            got = ours[i // 2] if i % 2 == 0 else ours[4 + i // 2]
            torch.testing.assert_close(got.reshape(want.shape), want, rtol=1e-10, atol=1e-12)


def test_1d_cnn_on_mnist1d_members_equal_members_trained_alone():
    spec = ExperimentSpec(**{**TINY, "dataset": "mnist1d", "dataset_params": {"n_samples": 200}})
    together = run_experiment(spec)
    w = spec.width
    assert [h.shape for h in together.hidden] == [(3, 30, w * 20), (3, 30, w * 10), (3, 30, 2 * w)]
    assert together.n_parameters == spec.n_parameters()
    for m in range(spec.ensemble_size):
        alone = run_experiment(spec, members=[m])
        for a, b in zip(alone.hidden, together.hidden):
            np.testing.assert_allclose(a[0], b[m], rtol=1e-4, atol=1e-5)
        assert alone.epochs[0] == together.epochs[m]


def test_channels_last_cnn_without_bias_tanh_and_a_changed_input_equals_plain_torch_float64():
    """The channels-last path's other branches: no bias column in the patch matrix, tanh
    applied in place after the pool, and its patch cache, which must notice an input
    changed in place and a new input tensor."""
    K, n = 3, 9
    g = torch.Generator().manual_seed(3)
    members = [[(w.double(), None) for w, _ in init_cnn_weights((1, 8, 8), 4, 10, s, 1.0, False)]
               for s in range(K)]
    model = BatchedCNN(members, "tanh", (1, 8, 8), "channels_last").double()

    def reference(layers, x):
        (w1, _), (w2, _), (w3, _), (w4, _) = layers
        h = torch.tanh(F.max_pool2d(F.conv2d(x.view(-1, 1, 8, 8), w1, padding=1), 2))
        h = torch.tanh(F.max_pool2d(F.conv2d(h, w2, padding=1), 2))
        return torch.tanh(h.flatten(1) @ w3) @ w4

    x = torch.randn(n, 64, generator=g, dtype=torch.float64)
    for step in range(3):
        out, _ = model(x)
        grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
        for m, layers in enumerate(members):
            leaves = [w.clone().requires_grad_() for w, _ in layers]
            ref = reference([(w, None) for w in leaves], x)
            torch.testing.assert_close(out[m], ref, rtol=1e-12, atol=1e-12)
            for got, want in zip(grads, torch.autograd.grad(ref.square().sum(), leaves)):
                torch.testing.assert_close(got[m], want, rtol=1e-10, atol=1e-12)
        if step == 0:
            x.mul_(-0.5)  # in place: the cached patches of x are stale now
        else:
            x = torch.randn(n, 64, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("batching", ["grouped", "channels_last", "vmap", "members"])
def test_each_cnn_member_trained_in_the_ensemble_equals_it_trained_alone_float64(batching):
    """noisealign.engine.pipeline.train on the batched CNN in float64: every member ends with the weights it
    gets when trained on its own (K = 1), to rounding."""
    K, n = 4, 24
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 64, generator=g, dtype=torch.float64)
    y = torch.randint(0, 10, (K, n), generator=g)
    xp = torch.randn(10, 64, generator=g, dtype=torch.float64)
    yp = torch.randint(0, 10, (10,), generator=g)
    inits = [init_cnn_weights((1, 8, 8), 6, 10, member_init_seed(0, m), 1.0, True) for m in range(K)]
    kw = {"task": "classification", "optimizer": "adam", "lr": 1e-2, "weight_decay": 1e-3,
              "max_epochs": 25, "loss_tol": 0.3, "batch_size": 0, "shuffle_seed": 0}
    together = BatchedCNN(inits, "relu", (1, 8, 8), batching).double()
    out_t = train(together, x, y, xp, yp, **kw)
    for m in range(K):
        alone = BatchedCNN([inits[m]], "relu", (1, 8, 8), batching).double()
        out_a = train(alone, x, y[m:m + 1], xp, yp, **kw)
        assert out_a.epochs[0] == out_t.epochs[m]
        for p_t, p_a in zip(together.parameters(), alone.parameters()):
            torch.testing.assert_close(p_t[m], p_a[0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("changes", [
    {},
    {"noise": "input", "snr_db": 5.0, "activation": "tanh"},
    {"optimizer": "sgd", "lr": 0.05, "batch_size": 8, "weight_decay": 1e-3, "bias": False},
    {"width": 32, "max_epochs": 5},  # batching "auto" takes each member's own convolutions
])
def test_run_experiment_cnn_members_equal_members_trained_alone(changes):
    spec = ExperimentSpec(**{**TINY, **changes})
    together = run_experiment(spec)
    assert len(together.hidden) == 3
    w = spec.width
    assert [h.shape for h in together.hidden] == [(3, 30, w * 16), (3, 30, w * 4), (3, 30, 2 * w)]
    assert together.n_parameters == spec.n_parameters()
    for m in range(spec.ensemble_size):
        alone = run_experiment(spec, members=[m])
        for a, b in zip(alone.hidden, together.hidden):
            np.testing.assert_allclose(a[0], b[m], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(alone.test_error[0], together.test_error[m], rtol=1e-4, atol=1e-6)
        assert alone.epochs[0] == together.epochs[m]


def test_cnn_result_summarises_like_an_mlp_result():
    from noisealign.engine.measures.summaries import summarise
    r = run_experiment(ExperimentSpec(**TINY))
    s = summarise(r)
    assert np.isfinite(s["measures"]["cka"]["mean"])
    assert len(s["intrinsic_dimension"]["trained"]) > 0
    for layer in (0, 1, 2):  # every hidden layer, the conv blocks too
        assert np.isfinite(summarise(r, layer=layer)["measures"]["cka"]["mean"])


# ----------------------------------------------------------------------------- CLI, API, app


def test_cli_runs_a_cnn_ensemble_on_digits(tmp_path):
    out = tmp_path / "cnn"
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--architecture", "cnn", "--dataset", "digits",
         "--n-train", "50", "--n-probe", "30", "--width", "4", "--level", "0.2", "-K", "2",
         "--max-epochs", "10", "--out", str(out), "--quiet", "--no-cache"],
        capture_output=True, text=True, timeout=180, cwd=ROOT, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "test error" in proc.stdout
    saved = json.loads((tmp_path / "cnn.json").read_text())
    assert '"architecture": "cnn"' in json.dumps(saved) or "cnn" in json.dumps(saved)
    bad = subprocess.run([sys.executable, "-m", "engine", "run", "--architecture", "cnn",
                          "--dataset", "diabetes"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "architecture='cnn' is invalid for dataset 'diabetes'" in bad.stderr
    helped = subprocess.run([sys.executable, "-m", "engine", "run", "--help"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT, check=False)
    assert "--architecture" in helped.stdout and "mlp, cnn" in helped.stdout


def test_dashboard_offers_the_cnn_on_digits_and_runs_it():
    from tests.app.test_app import captions, no_exception, open_app, run_until
    at = open_app(mode="Single run", dataset="digits", noise="label", n="40", probe="30",
                  width="4", K="2", epochs="10", arch="cnn")
    sb = at.selectbox(key="arch")
    assert sb.value == "cnn" and not sb.disabled
    assert at.number_input(key="depth").disabled
    run_until(at, lambda a: any(m.label.startswith("CKA") for m in a.metric),
              what="the CNN run to finish")
    assert "P = " in captions(at)
    # On a dataset without images the control is disabled and the MLP is used.
    at = no_exception(open_app(auto="false", arch="cnn"))
    assert at.selectbox(key="arch").disabled
    assert "A CNN needs an image or signal dataset" in captions(at)
    assert not at.error


def test_information_page_offers_the_architecture():
    from tests.app.test_app import no_exception, open_app
    at = no_exception(open_app("pages/information.py", auto="false", arch="cnn"))
    assert at.selectbox(key="arch").value == "cnn" and not at.selectbox(key="arch").disabled
    assert not at.error
    # mnist1d's signals take the 1-D variant, so the control is offered there too
    at = no_exception(open_app(auto="false", dataset="mnist1d", arch="cnn"))
    assert at.selectbox(key="arch").value == "cnn" and not at.selectbox(key="arch").disabled
    assert "A CNN needs" not in " ".join(c.value for c in at.caption)
    assert not at.error
