"""The engine core: data, noise, batched training and the Result (issue 2)."""

import math
import subprocess
import sys

import numpy as np
import pytest

from noisealign.engine import Cancelled, ExperimentSpec, run_experiment
from noisealign.engine.pipeline.datasets import DATASETS, load_data
from noisealign.engine.pipeline.noise import make_noisy

TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 30, "n_probe": 40,
            "width": 16, "ensemble_size": 3, "max_epochs": 60, "seed": 3, "device": "cpu"}


def test_shapes_and_contents_of_a_result():
    spec = ExperimentSpec(**TINY, depth=2)
    r = run_experiment(spec)
    K, N = 3, 40
    for a in (r.train_loss, r.test_error, r.test_loss, r.train_error, r.epochs, r.diverged):
        assert a.shape == (K,)
    assert len(r.hidden) == 2 and len(r.hidden_init) == 2
    assert all(h.shape == (K, N, 16) and h.dtype == np.float32 for h in r.hidden + r.hidden_init)
    assert r.output.shape == (K, N, 1) and r.output_init.shape == (K, N, 1)
    assert r.x_probe.shape == (N, 10) and r.y_probe.shape == (N,)
    assert r.curve_train_loss.shape == (K, len(r.curve_epochs))
    assert r.curve_epochs[0] == 0 and r.curve_epochs[-1] == r.epochs.max()
    # training lowers the loss and changes the representation
    assert np.all(r.curve_train_loss[:, -1] < r.curve_train_loss[:, 0])
    assert not np.allclose(r.hidden[0], r.hidden_init[0])
    assert r.n_parameters == spec.n_parameters() == 10 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert r.versions["torch"] and r.timings["train"] > 0 and r.device.startswith("cpu")


def test_seeded_runs_are_reproducible_and_seeds_matter():
    spec = ExperimentSpec(**TINY)
    a, b = run_experiment(spec), run_experiment(spec)
    np.testing.assert_array_equal(a.hidden[0], b.hidden[0])
    np.testing.assert_array_equal(a.test_error, b.test_error)
    c = run_experiment(spec.replace(seed=4))
    assert not np.allclose(a.test_error, c.test_error)


def test_members_differ_unless_init_and_noise_are_shared():
    # no noise + shared init: every member is the same network
    same = run_experiment(ExperimentSpec(**{**TINY, "noise": "none", "shared_init": True}))
    np.testing.assert_allclose(same.hidden[0][0], same.hidden[0][1], atol=1e-6)
    # noise only (shared init): members differ through their noise realisations alone
    noisy = run_experiment(ExperimentSpec(**{**TINY, "snr_db": 0.0, "shared_init": True}))
    np.testing.assert_array_equal(noisy.hidden_init[0][0], noisy.hidden_init[0][1])
    assert not np.allclose(noisy.hidden[0][0], noisy.hidden[0][1], atol=1e-3)


@pytest.mark.parametrize("changes", [
    {},
    {"noise": "input", "snr_db": 5.0, "activation": "tanh"},
    {"dataset": "digits", "dataset_params": {}, "noise": "label", "label_noise": 0.3, "n_probe": 30},
    {"optimizer": "sgd", "lr": 0.05, "batch_size": 8, "weight_decay": 1e-3, "depth": 2},
])
def test_batched_ensemble_equals_each_member_trained_alone(changes):
    spec = ExperimentSpec(**{**TINY, **changes})
    together = run_experiment(spec)
    for m in range(spec.ensemble_size):
        alone = run_experiment(spec, members=[m])
        np.testing.assert_allclose(alone.hidden[-1][0], together.hidden[-1][m], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(alone.test_error[0], together.test_error[m], rtol=1e-4, atol=1e-6)
        assert alone.epochs[0] == together.epochs[m]


def test_target_noise_reaches_the_requested_snr():
    spec = ExperimentSpec(dataset="mlp-teacher", n_train=20000, n_probe=100, noise="target", snr_db=6.0)
    data = load_data(spec)
    noisy = make_noisy(data, "target", spec.snr, 0.0, spec.seed, list(range(4)))
    assert np.all(np.abs(noisy.achieved_snr_db - 6.0) < 0.1)
    signal = np.var(data.y_train)
    noise_power = np.mean((noisy.y - data.y_train[None]) ** 2)
    assert 10 * math.log10(signal / noise_power) == pytest.approx(6.0, abs=0.1)
    # members get independent realisations
    e = noisy.y - data.y_train[None]
    assert abs(np.corrcoef(e[0], e[1])[0, 1]) < 0.03


def test_input_noise_reaches_the_requested_snr():
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 20}, n_train=5000,
                          n_probe=100, noise="input", snr_db=0.0)
    data = load_data(spec)
    noisy = make_noisy(data, "input", spec.snr, 0.0, spec.seed, [0, 1])
    assert noisy.x.shape == (2, 5000, 20)
    xi = noisy.x - data.x_train[None]
    signal = np.trace(np.cov(data.x_train, rowvar=False)) / 20
    assert 10 * math.log10(signal / np.mean(xi ** 2)) == pytest.approx(0.0, abs=0.1)


def test_label_noise_rate():
    # a corrupted label is redrawn uniformly, so it changes with probability p (1 - 1/C)
    spec = ExperimentSpec(dataset="gaussian-mixture", dataset_params={"n_classes": 4},
                          n_train=40000, n_probe=100, noise="label", label_noise=0.4)
    data = load_data(spec)
    noisy = make_noisy(data, "label", 0, 0.4, spec.seed, [0, 1, 2])
    assert np.allclose(noisy.label_flip_rate, 0.4 * 0.75, atol=0.01)
    assert (noisy.y[0] != noisy.y[1]).mean() > 0.3  # independent realisations


def test_overparameterised_net_reaches_the_loss_tolerance():
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 10}, n_train=20,
                          n_probe=20, width=256, noise="target", snr_db=0.0, max_epochs=3000,
                          loss_tol=1e-3, lr=1e-2, ensemble_size=2, device="cpu")
    r = run_experiment(spec)
    assert np.all(r.train_loss < 1e-3)
    assert np.all(r.epochs < 3000)  # stopped early, each member on its own


def test_divergence_is_detected_and_reported():
    spec = ExperimentSpec(**{**TINY, "optimizer": "sgd", "lr": 50.0, "max_epochs": 100})
    r = run_experiment(spec)
    assert r.diverged.all()
    assert np.isnan(r.test_error).all() and np.isnan(r.train_loss).all()
    assert r.summary()["n_diverged"] == 3


def test_progress_and_cancellation():
    spec = ExperimentSpec(**{**TINY, "max_epochs": 100000, "loss_tol": 0.0})
    seen = []

    def progress(epoch, max_epochs, losses):
        seen.append((epoch, losses.shape))

    with pytest.raises(Cancelled):
        run_experiment(spec, progress=progress, cancel=lambda: len(seen) >= 2)
    assert seen and seen[0][1] == (3,) and max(e for e, _ in seen) < 100000


def test_result_round_trips_through_bytes_without_pickle():
    r = run_experiment(ExperimentSpec(**TINY))
    meta, npz = r.to_bytes()
    back = type(r).from_bytes(meta, npz)
    assert back.spec == r.spec
    np.testing.assert_array_equal(back.hidden[0], r.hidden[0])
    np.testing.assert_array_equal(back.curve_test_error, r.curve_test_error)
    slim = type(r).from_bytes(*r.to_bytes(representations=False))
    np.testing.assert_array_equal(slim.test_error, r.test_error)
    assert slim.hidden[0].size == 0


@pytest.mark.parametrize("name", [n for n, i in DATASETS.items() if n not in ("mnist", "fashion-mnist", "cifar10")])
def test_every_bundled_dataset_loads_offline(name):
    info = DATASETS[name]
    n_probe = min(50, info.pool_sizes(info.validate_params({}))[1])
    noise = "label" if info.task == "classification" else "target"
    spec = ExperimentSpec(dataset=name, n_train=40, n_probe=n_probe, noise=noise,
                          label_noise=0.1, width=8, ensemble_size=2, max_epochs=5)
    data = load_data(spec)
    assert data.x_train.shape == (40, spec.input_dim())
    assert data.x_probe.shape == (n_probe, spec.input_dim())
    assert np.isfinite(data.x_train).all()
    if not info.synthetic:  # standardised with the training sample's statistics
        assert np.allclose(data.x_train.mean(0), 0, atol=1e-4)
    r = run_experiment(spec)
    assert np.isfinite(r.test_error).all()


def test_probe_points_are_disjoint_from_training_points():
    spec = ExperimentSpec(dataset="digits", n_train=1437, n_probe=360, noise="none")
    data = load_data(spec)
    train_rows = {row.tobytes() for row in data.x_train}
    # digits contains a few exact duplicate images; the pools are disjoint by index, so
    # at most those few can coincide
    assert sum(row.tobytes() in train_rows for row in data.x_probe) <= 5


def test_cuda_request_without_gpu_is_a_clear_error():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="device='cuda'"):
        run_experiment(ExperimentSpec(**{**TINY, "device": "cuda"}))


def test_cli_run_prints_a_summary_and_writes_files(tmp_path):
    out = tmp_path / "run1"
    proc = subprocess.run(
        [sys.executable, "-m", "engine", "run", "--dataset", "digits", "--n-train", "60",
         "--n-probe", "30", "--width", "16", "--noise", "label", "--level", "0.2", "-K", "2",
         "--max-epochs", "20", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "test error" in proc.stdout and "member" in proc.stdout
    assert (tmp_path / "run1.json").exists() and (tmp_path / "run1.npz").exists()
    bad = subprocess.run([sys.executable, "-m", "engine", "run", "--dataset", "digits",
                          "--n-train", "5000"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2
    assert "n_train=5000 exceeds the 1437 training points" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_training_leaves_the_callers_floating_point_mode_alone():
    # training flushes subnormals for speed; afterwards they must exist again
    run_experiment(ExperimentSpec(**TINY))
    import torch
    assert (torch.tensor([1e-40]) * 1.0).item() != 0.0
    assert np.float32(1e-40) * np.float32(1.0) != 0.0


def test_training_members_in_cache_sized_groups_changes_nothing(monkeypatch):
    import noisealign.engine.pipeline.train as train_mod
    spec = ExperimentSpec(**{**TINY, "ensemble_size": 5})
    together = run_experiment(spec)
    monkeypatch.setattr(train_mod, "GROUP_BYTES", 1)  # one member per group
    assert len(train_mod.member_groups(5, 30 * 16, threads=1)) == 5
    grouped = run_experiment(spec)
    np.testing.assert_allclose(grouped.hidden[0], together.hidden[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(grouped.epochs, together.epochs)


@pytest.mark.parametrize("fan_out", [1, 3, 64])  # the three product layouts of BatchedLinear
@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
@pytest.mark.parametrize("shared_input", [True, False])
def test_batched_layer_matches_plain_autograd(fan_out, activation, shared_input):
    """Values and gradients of the hand-written batched layer equal torch's own ops."""
    import torch

    from noisealign.engine.pipeline.model import BatchedLinear
    g = torch.Generator().manual_seed(fan_out)
    M, n, fan_in = 3, 7, 5
    x = torch.randn(n, fan_in, generator=g, dtype=torch.float64)
    h = x.expand(M, n, fan_in) if shared_input else torch.randn(M, n, fan_in, generator=g,
                                                                 dtype=torch.float64)
    h = h.detach().requires_grad_(not shared_input)
    for bias in (True, False):
        w = torch.randn(M, fan_in, fan_out, generator=g, dtype=torch.float64, requires_grad=True)
        b = torch.randn(M, 1, fan_out, generator=g, dtype=torch.float64,
                        requires_grad=True) if bias else None
        weight = torch.randn(M, n, fan_out, generator=g, dtype=torch.float64)

        ours = BatchedLinear.apply(h, w, b, activation)
        z = torch.bmm(h, w) + (b if bias else 0)
        ref = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}[activation](z)
        torch.testing.assert_close(ours, ref)
        inputs = [t for t in (h, w, b) if t is not None and t.requires_grad]
        got = torch.autograd.grad((ours * weight).sum(), inputs)
        want = torch.autograd.grad((ref * weight).sum(), inputs)
        for a, e in zip(got, want):
            torch.testing.assert_close(a, e)


def test_member_groups_are_balanced_over_the_threads():
    from noisealign.engine.pipeline.train import GROUP_BYTES, member_groups
    per_member = GROUP_BYTES // 4 // 5  # floats: five members fit in a group
    sizes = [g.stop - g.start for g in member_groups(8, per_member, threads=2)]
    assert sizes == [4, 4]  # not 5 + 3: an odd group leaves a thread idle
    assert [g.stop - g.start for g in member_groups(8, per_member, threads=1)] == [4, 4]
    assert [g.stop - g.start for g in member_groups(3, 10, threads=2)] == [3]
    groups = member_groups(64, GROUP_BYTES, threads=2)  # a member bigger than the budget
    assert all(g.stop - g.start == 2 for g in groups) and groups[-1].stop == 64


# ----------------------------------------------------------------- training protocol
def test_lr_schedules_and_clipping_keep_each_member_equal_to_training_it_alone():
    import dataclasses

    from noisealign.engine.pipeline.train import lr_factor
    assert lr_factor("constant", 70, 100) == 1.0
    assert lr_factor("cosine", 0, 100) == 1.0 and lr_factor("cosine", 100, 100) == 0.0
    assert lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert [lr_factor("step", e, 100) for e in (0, 49, 50, 74, 75, 99)] == [
        1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    base = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 6}, n_train=40,
                          n_probe=20, width=8, ensemble_size=3, max_epochs=60, loss_tol=0.0,
                          batch_size=16, lr_schedule="cosine", grad_clip=0.05,
                          optimizer="sgd", lr=0.05, device="cpu")
    together = run_experiment(base)
    # Clipping is per member: member 2 of the ensemble equals member 2 trained alone.
    from noisealign.engine.pipeline.run import run_experiment as run
    alone = run(base, members=[2])
    assert np.allclose(alone.hidden[-1][0], together.hidden[-1][2], atol=1e-5)
    # Both settings change training (a clipped, decayed run ends elsewhere).
    plain = run_experiment(dataclasses.replace(base, lr_schedule="constant", grad_clip=0.0))
    assert not np.allclose(plain.hidden[-1], together.hidden[-1], atol=1e-4)
    assert list(together.stop_reason) == ["max_epochs"] * 3


def test_stop_reason_is_recorded_per_member():
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=8,
                          n_probe=20, width=32, ensemble_size=2, max_epochs=3000,
                          loss_tol=1e-3, noise="none", device="cpu")
    result = run_experiment(spec)
    assert list(result.stop_reason) == ["loss_tol", "loss_tol"]
    assert (result.epochs < spec.max_epochs).all()
    from noisealign.engine.measures.summaries import summarise
    assert summarise(result)["stopped"] == {"loss_tol": 2, "max_epochs": 0, "diverged": 0}


def test_training_protocol_fields_are_checked_and_keep_old_cache_keys():
    with pytest.raises(ValueError, match="lr_schedule='linear' is invalid"):
        ExperimentSpec(lr_schedule="linear")
    with pytest.raises(ValueError, match="grad_clip=-1"):
        ExperimentSpec(grad_clip=-1)
    text = ExperimentSpec().to_json()
    assert "lr_schedule" not in text and "grad_clip" not in text
    spec = ExperimentSpec(lr_schedule="step", grad_clip=1.0)
    assert ExperimentSpec.from_json(spec.to_json()) == spec


def test_sgd_momentum_keeps_each_member_equal_to_training_it_alone_and_is_checked():
    import dataclasses
    base = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 6}, n_train=40,
                          n_probe=20, width=8, ensemble_size=3, max_epochs=40, loss_tol=0.0,
                          batch_size=16, optimizer="sgd", lr=0.02, momentum=0.9,
                          device="cpu")
    together = run_experiment(base)
    alone = run_experiment(base, members=[1])
    assert np.allclose(alone.hidden[-1][0], together.hidden[-1][1], atol=1e-5)
    plain = run_experiment(dataclasses.replace(base, momentum=0.0))
    assert not np.allclose(plain.hidden[-1], together.hidden[-1], atol=1e-4)
    with pytest.raises(ValueError, match="momentum=0.9 is invalid.*optimizer='sgd'"):
        ExperimentSpec(optimizer="adam", momentum=0.9)
    with pytest.raises(ValueError, match="momentum=1"):
        ExperimentSpec(optimizer="sgd", momentum=1.0)
    assert "momentum" not in ExperimentSpec().to_json()  # old cache keys unchanged
    assert ExperimentSpec.from_json(base.to_json()) == base
