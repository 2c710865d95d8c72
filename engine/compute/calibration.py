"""The guard's calibration: what this machine delivers now, measured once per process and device.

The time model of :mod:`noisealign.engine.compute.guard` divides work by three rates (a
batched matmul, an elementwise pass, the fixed cost of a step and of an evaluation);
:func:`calibration_for` measures them in about 0.2 s with a tiny training run of the
spec's structure and reuses them for :data:`CALIBRATION_TTL` seconds, or returns the
documented constants of :data:`DEFAULT_CALIBRATIONS` when ``NOISEALIGN_GUARD_CALIBRATE=0``.
The elementwise passes and the matmul efficiency live here because a calibration takes
out the same work the estimate counts.

Apart from the estimates: measuring a machine (torch, timing, a lock, a cache of
measurements) is a different job from predicting a run from its spec; the guard
re-exports the public names.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..pipeline.spec import ExperimentSpec

CALIBRATE_ENV = "NOISEALIGN_GUARD_CALIBRATE"
CALIBRATION_TTL = 300.0               # seconds a measured calibration is reused

# Elementwise work, in passes of the calibrated streaming rate (an in-place-like pass
# over memory). Fitted on measured runs: bias, activation (in place) and their gradients
# make a few passes over the activations, the fused optimisers a few over parameters,
# moments and gradients, and cross-entropy costs about the same per row whatever the
# class count (log-softmax over short rows vectorises poorly).
_ACT_PASSES = 10.0
_OPT_PASSES = {"adam": 10.0, "sgd": 4.0}
_CE_PER_ROW = 2500.0

# A matmul whose smaller matrix side is m runs at about m / (m + 32) of the large-matrix
# rate: thin matrices (few inputs, one output) are limited by memory, not arithmetic.
_THIN_SIDE = 32.0


def _efficiency(fan_in: int, fan_out: int) -> float:
    m = float(min(fan_in, fan_out))
    return m / (m + _THIN_SIDE)


def _forward_seconds(dims: list[int], members: int, flops_per_second: float) -> float:
    """Seconds of matmul for one point through all members (forward pass only)."""
    return sum(2.0 * members * a * b / (flops_per_second * _efficiency(a, b))
               for a, b in itertools.pairwise(dims))


@dataclass(frozen=True)
class Calibration:
    """What a device delivers: the rates the time model divides by.

    step_seconds: fixed cost of one optimisation step (dispatch, synchronisation)
    eval_seconds: fixed cost of one evaluation pass (loss or probe forward + sync)
    flops_per_second: batched matmul throughput on large matrices (see _efficiency)
    elements_per_second: elementwise throughput (activations, optimiser updates)
    """

    device: str
    step_seconds: float
    eval_seconds: float
    flops_per_second: float
    elements_per_second: float
    measured: bool = False


# Documented constants (used when calibration is off): a 2-core laptop CPU under some load,
# and a data-centre GPU (overheads are kernel launches; rates are fp32 without tensor cores
# and far from peak for these small matrices).
DEFAULT_CALIBRATIONS: dict[str, Calibration] = {
    "cpu": Calibration("cpu", step_seconds=1.5e-3, eval_seconds=5e-4,
                       flops_per_second=2e10, elements_per_second=1e9),
    "cuda": Calibration("cuda", step_seconds=6e-4, eval_seconds=3e-4,
                        flops_per_second=1e13, elements_per_second=5e10),
}


_CAL_LOCK = threading.Lock()
_CALIBRATIONS: dict[tuple, tuple[float, Calibration]] = {}  # key -> (monotonic time, cal)


def _resolve_device(spec: ExperimentSpec) -> str:
    if spec.device == "cpu":
        return "cpu"
    import torch
    if spec.device == "cuda":
        return "cuda"  # run_experiment reports a missing GPU with its own ValueError
    return "cuda" if torch.cuda.is_available() else "cpu"


def _calibration_enabled() -> bool:
    return os.environ.get(CALIBRATE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _median_time(fn: Callable[[], Any], sync: Callable[[], None], reps: int,
                 clock: Callable[[], float]) -> float:
    fn()  # warm-up: first calls allocate and select kernels
    sync()
    times = []
    for _ in range(reps):
        t = clock()
        fn()
        sync()
        times.append(clock() - t)
    times.sort()
    return times[len(times) // 2]


def measure_calibration(spec: ExperimentSpec, *, device: str | None = None,
                        clock: Callable[[], float] = time.perf_counter) -> Calibration:
    """Measure the rates for ``spec``'s structure on ``device`` (about 0.2 s when idle).

    ``clock`` is the wall clock by default: the estimate then says what the machine
    delivers now, contention included. Tests of the model pass ``time.process_time``
    with one torch thread, so that other processes on a shared machine do not count.
    """
    device = device or _resolve_device(spec)
    return _measure(device, spec.depth, spec.task, spec.optimizer, spec.activation,
                    spec.bias, clock)


def _measure(device: str, depth: int, task: str, optimizer: str, activation: str,
             bias: bool, clock: Callable[[], float] = time.perf_counter) -> Calibration:
    import torch

    from ..pipeline.model import BatchedMLP, init_weights
    from ..pipeline.train import log_epochs, train

    dev = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(dev)) if device == "cuda" else (lambda: None)
    with torch.no_grad():
        k, n, d = 4, 512, 256
        a = torch.randn(k, n, d, device=dev)
        w = torch.randn(k, d, d, device=dev)
        t_mm = _median_time(functools.partial(torch.bmm, a, w), sync, 5, clock)
        flops = 2.0 * k * n * d * d / max(t_mm, 1e-9) / _efficiency(d, d)
        # Into a buffer: how often a fresh allocation page-faults depends on the
        # allocator's history and would make the rate jump tenfold between calls.
        big = torch.randn(2**20, device=dev)
        buf = torch.empty_like(big)
        t_el = _median_time(functools.partial(torch.clamp_min, big, 0.0, out=buf), sync, 5,
                            clock)
        elems = 2**20 / max(t_el, 1e-9)
        del a, w, big, buf

    # A small network of the spec's structure, large enough that its elementwise ops
    # run multi-threaded like real ones (thread synchronisation is much of the per-step
    # cost on a busy CPU), small enough that the fixed costs dominate.
    k, n, n_probe, d_in, width = 4, 256, 64, 32, 64
    classes = 3 if task == "classification" else 1
    dims = [d_in] + [width] * depth + [classes]
    fwd = _forward_seconds(dims, k, flops)
    n_params = k * sum(a * b + b for a, b in itertools.pairwise(dims))
    opt = _OPT_PASSES[optimizer] * n_params
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, d_in, generator=g).to(dev)
    xp = torch.randn(n_probe, d_in, generator=g).to(dev)
    if task == "classification":
        y = torch.randint(0, classes, (k, n), generator=g).to(dev)
        yp = torch.randint(0, classes, (n_probe,), generator=g).to(dev)
    else:
        y = torch.randn(k, n, generator=g).to(dev)
        yp = torch.randn(n_probe, generator=g).to(dev)

    def per_epoch(batch: int, epochs: int) -> float:
        model = BatchedMLP([init_weights(dims, s, 1.0, bias) for s in range(k)],
                           activation).to(dev)
        t = clock()
        train(model, x, y, xp, yp, task=task, optimizer=optimizer, lr=1e-3,
              weight_decay=0.0, max_epochs=epochs, loss_tol=0.0, batch_size=batch,
              shuffle_seed=0)
        sync()
        total = clock() - t
        # Take out the work the time model counts separately (FLOPs, elementwise
        # passes, probe evaluations); what is left is the fixed cost per epoch.
        steps = 1 if batch == 0 else math.ceil(n / batch)
        ce = _CE_PER_ROW * k * n * (1 if batch == 0 else 2) if task == "classification" else 0
        work = epochs * ((3 if batch == 0 else 4) * fwd * n
                         + (_ACT_PASSES * k * width * depth * n + opt * steps + ce) / elems)
        work += len(log_epochs(epochs)) * fwd * n_probe
        return max(total - work, 0.0) / (epochs + len(log_epochs(epochs)) / 2)

    per_epoch(0, 3)  # warm-up
    e_full, e_mb, steps_mb = 4, 2, 4
    # Medians of three: a single descheduling must not decide every later estimate.
    per_full = sorted(per_epoch(0, e_full) for _ in range(3))[1]
    per_mb = sorted(per_epoch(n // steps_mb, e_mb) for _ in range(3))[1]
    # per_full = eval + step; per_mb = eval + 4 steps
    step = max((per_mb - per_full) / (steps_mb - 1), per_full / 2, 1e-6)
    evals = max(per_full - step, step / 4)
    return Calibration(device, step_seconds=step, eval_seconds=evals,
                       flops_per_second=flops, elements_per_second=elems, measured=True)


def calibration_for(spec: ExperimentSpec, device: str | None = None) -> Calibration:
    """The calibration used for ``spec`` (measured and cached, or the default constants)."""
    device = device or _resolve_device(spec)
    if not _calibration_enabled():
        return DEFAULT_CALIBRATIONS[device]
    import torch
    key = (device, spec.depth, spec.task, spec.optimizer, spec.activation, spec.bias,
           torch.get_num_threads())
    now = time.monotonic()
    with _CAL_LOCK:  # one calibration at a time: two at once would measure each other
        hit = _CALIBRATIONS.get(key)
        if hit is not None and now - hit[0] < CALIBRATION_TTL:
            return hit[1]
        try:
            cal = _measure(device, spec.depth, spec.task, spec.optimizer, spec.activation,
                           spec.bias)
        except Exception:  # noqa: BLE001 -- e.g. no usable GPU: the constants still give an estimate
            cal = DEFAULT_CALIBRATIONS[device]
        _CALIBRATIONS[key] = (time.monotonic(), cal)
        return cal


def clear_calibrations() -> None:
    """Forget measured calibrations (tests; or after the machine's load changed)."""
    with _CAL_LOCK:
        _CALIBRATIONS.clear()
