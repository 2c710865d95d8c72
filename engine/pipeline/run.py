"""One ensemble experiment end to end: spec -> data -> noise -> batched model ->
training -> representations -> :class:`noisealign.engine.pipeline.result.Result`.

Training cost is the only slow step; everything here is deterministic in the spec
(on the CPU: bit for bit; on a GPU: up to floating-point reduction order).
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from typing import cast

import numpy as np
import torch

from .. import __version__
from ..base.cancel import cancel_scope, check_cancelled
from .datasets import Data, load_data
from .epochs import snapshot_epochs
from .model import BatchedMLP, build_model, member_init_seed
from .noise import NoisyData, make_noisy
from .result import Result
from .spec import ExperimentSpec
from .train import (
    CancelFn,
    ProgressFn,
    TrainOutcome,
    per_member_error,
    per_member_loss,
    train,
)


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU. Asking for CUDA without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' is invalid: no CUDA device is available here; "
                         "allowed 'auto' or 'cpu'")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).numpy()


@contextlib.contextmanager
def _subnormals_flushed() -> Iterator[None]:
    """Flush subnormal floats to zero while training, then restore the caller's mode.

    Small initialisations (the linear theory's regime) drive weights and gradients into
    subnormal floats, which x86 CPUs process ~100x slower: a plain SGD run took 5.5x
    longer. Flushing them changes nothing measurable. The mode is a per-thread CPU
    flag, so it is restored for whatever else the caller's thread runs.
    """
    tiny = torch.tensor([1e-40])  # subnormal in float32; reads as 0 when flushing
    was_flushing = bool((tiny * 1.0).item() == 0.0)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_flushing)


def run_experiment(spec: ExperimentSpec, *, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None,
                   members: Sequence[int] | None = None) -> Result:
    """Train the ensemble of ``spec`` and measure it on the probe set.

    ``progress(epoch, max_epochs, losses)`` is called about twice a second;
    ``cancel()`` is polled every epoch and, when it returns True, training stops with
    :class:`noisealign.engine.pipeline.train.Cancelled`. ``members`` trains only those member indices
    (as if alone; for tests and benchmarks); by default all ``spec.ensemble_size``.
    """
    if not isinstance(spec, ExperimentSpec):
        raise ValueError(f"spec must be an ExperimentSpec, got {type(spec).__name__}")  # noqa: TRY004
    # The steps around training take no callback: they poll the scope's flag
    # (noisealign.engine.base.cancel), so a cancel is honoured in data generation and measurements too.
    with cancel_scope(cancel):
        return _run(spec, progress, cancel, members)


def _run(spec: ExperimentSpec, progress: ProgressFn | None, cancel: CancelFn | None,
         members: Sequence[int] | None, *, build: Callable[..., torch.nn.Module] | None = None,
         dtype: torch.dtype | None = None, n_parameters: int | None = None) -> Result:
    """The pipeline of :func:`run_experiment`. ``build(spec, input_dim, init_seeds)``
    replaces :func:`noisealign.engine.pipeline.model.build_model` (noisealign.engine.own_models.architectures: a user's own
    architecture), ``dtype`` the float32 of the data tensors, ``n_parameters`` the
    spec's own count; by default the built-in model, as always."""
    t0 = time.perf_counter()
    device = resolve_device(spec.device)
    members = list(range(spec.ensemble_size)) if members is None else [int(m) for m in members]

    check_cancelled("data generation")
    data = load_data(spec)
    check_cancelled("data generation")
    noisy = make_noisy(data, spec.noise, spec.snr, spec.label_noise, spec.seed, members,
                       spec.label_noise_kind)
    t_data = time.perf_counter()
    check_cancelled("data generation")

    init_seeds = [member_init_seed(spec.seed, 0 if spec.shared_init else m) for m in members]
    model = (build or build_model)(spec, data.input_dim, init_seeds).to(device)

    x, y, x_probe, y_probe = _tensors(data, noisy, device, dtype)
    with torch.no_grad():
        out0, hidden0 = model(x_probe)
        output_init, hidden_init = _np(out0), tuple(_np(h) for h in hidden0)
    check_cancelled("the initial probe pass")

    t_train0 = time.perf_counter()
    with _subnormals_flushed():
        # cast: train drives any batched model (MLP or CNN); its annotation names the MLP
        outcome = train(cast(BatchedMLP, model), x, y, x_probe, y_probe, task=data.task,
                        optimizer=spec.optimizer, lr=spec.lr, weight_decay=spec.weight_decay,
                        max_epochs=spec.max_epochs, loss_tol=spec.loss_tol,
                        batch_size=spec.batch_size, shuffle_seed=spec.seed,
                        lr_schedule=spec.lr_schedule, grad_clip=spec.grad_clip,
                        momentum=spec.momentum,
                        progress=progress, cancel=cancel,
                        snapshot_at=snapshot_epochs(spec.max_epochs, spec.snapshots).tolist())
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t_train1 = time.perf_counter()
    check_cancelled("the final measurements")
    # The final measurements in evaluation mode (a no-op for the built-in models; a
    # user's module with dropout or batch norm is measured as it would be used).
    model.eval()
    (train_loss, train_error, test_error, test_loss, diverged, out_p,
     hidden_p) = _final_measurements(model, x, y, x_probe, y_probe, data.task, outcome,
                                     len(members))

    t1 = time.perf_counter()
    snapshot_test_error = _snapshot_errors(outcome, diverged)
    return Result(
        spec=spec, train_loss=train_loss, test_error=test_error, test_loss=test_loss,
        train_error=train_error, epochs=outcome.epochs, diverged=diverged,
        curve_epochs=outcome.curve_epochs, curve_train_loss=outcome.curve_train_loss,
        curve_test_error=outcome.curve_test_error,
        hidden=tuple(_np(h) for h in hidden_p), output=_np(out_p),
        hidden_init=hidden_init, output_init=output_init,
        x_probe=data.x_probe, y_probe=data.y_probe,
        snapshot_epochs=outcome.snapshot_epochs,
        snapshot_test_error=snapshot_test_error,
        hidden_snapshots=outcome.snapshot_hidden, output_snapshots=outcome.snapshot_output,
        label_flip_rate=noisy.label_flip_rate, achieved_snr_db=noisy.achieved_snr_db,
        n_parameters=spec.n_parameters() if n_parameters is None else int(n_parameters),
        n_classes=data.n_classes,
        device=device_name(device),
        timings={"data": t_data - t0, "train": t_train1 - t_train0, "total": t1 - t0,
                 **({"snapshots": outcome.snapshot_seconds} if spec.snapshots else {})},
        versions={"engine": __version__, "torch": torch.__version__, "numpy": np.__version__,
                  "python": platform.python_version()},
    )


def _final_measurements(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                        x_probe: torch.Tensor, y_probe: torch.Tensor, task: str,
                        outcome: TrainOutcome, n_members: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                   torch.Tensor, list[torch.Tensor]]:
    """Train loss and error, test error and loss (NaN where a member diverged), the
    diverged members, and the probe set's output and hidden layers."""
    with torch.no_grad():
        out_train, _ = model(x)
        train_loss = _np(per_member_loss(out_train, y, task)).astype(np.float64)
        train_error = _np(per_member_error(out_train, y, task)).astype(np.float64)
        out_p, hidden_p = model(x_probe)
        test_error = _np(per_member_error(out_p, y_probe, task)).astype(np.float64)
        test_loss = _np(per_member_loss(out_p, y_probe.expand(n_members, -1),
                                        task)).astype(np.float64)
    diverged = outcome.diverged | ~np.isfinite(train_loss)
    for a in (train_loss, train_error, test_error, test_loss):
        a[diverged] = np.nan
    return train_loss, train_error, test_error, test_loss, diverged, out_p, hidden_p


def _tensors(data: Data, noisy: NoisyData, device: torch.device, dtype: torch.dtype | None
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The noisy training set and the clean probe set as tensors on ``device``."""
    y_dtype = torch.int64 if data.task == "classification" else (dtype or torch.float32)
    x = torch.as_tensor(noisy.x, device=device, dtype=dtype)
    y = torch.as_tensor(noisy.y, dtype=y_dtype, device=device)
    x_probe = torch.as_tensor(data.x_probe, device=device, dtype=dtype)
    y_probe = torch.as_tensor(data.y_probe, dtype=y_dtype, device=device)
    return x, y, x_probe, y_probe


def _snapshot_errors(outcome: TrainOutcome, diverged: np.ndarray) -> np.ndarray:
    """The snapshots' test errors, NaN for a member from the epoch it diverged at."""
    if not len(outcome.snapshot_epochs):
        return outcome.snapshot_test_error
    return np.where(diverged & (outcome.epochs <= outcome.snapshot_epochs[:, None]),
                    np.nan, outcome.snapshot_test_error)
