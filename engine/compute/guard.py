"""Resource guard: estimate a run's memory and time before it starts, refuse absurd ones.

A dashboard on a shared machine must not let one visitor's settings (K=64 members of
width 16384 on 10^6 points) exhaust the machine's memory or hold a worker for a day.
:func:`estimate` predicts, from the spec alone and without training anything:

- ``memory_bytes``: the peak *additional* host memory (RSS) of
  :func:`engine.run_experiment` in a process where the engine is already imported;
- ``device_memory_bytes``: the peak GPU memory on CUDA (0 on the CPU);
- ``seconds``: the wall time with every member training for all ``max_epochs`` (members
  that reach ``loss_tol`` stop earlier, so this is an upper bound of the training time).

:func:`check` compares the estimate with limits and raises :class:`ResourceLimitError`
(a ``ValueError``) whose message states the estimate, the limit and what to reduce.
Limits come from arguments, else the environment variables ``NOISEALIGN_MAX_MEMORY_GB``
and ``NOISEALIGN_MAX_SECONDS``, else laptop-sized defaults (4 GB, 10 minutes).
:func:`guarded_run` is ``check`` followed by the run (or a cache lookup).

Beyond one run: :func:`check_sweep` holds the summed estimate of a sweep's missing
points to ``NOISEALIGN_MAX_SWEEP_SECONDS`` (default 4 h; :func:`noisealign.engine.compute.sweep.run_sweep`,
the CLI ``sweep`` and the dashboard's job manager call it), :func:`auto_run_limit` is
what the dashboard may start without a click (``NOISEALIGN_AUTO_RUN_SECONDS``, 5 min),
and :func:`check_machine_memory` compares the memory estimate with what the machine has
available now (the CLI ``run``). ``Estimate.measures_seconds`` is the summary's
measures after training (O(N^2) per representation space and pair); ``check`` limits
training plus measures.

The memory model
----------------
A sum of terms, each a tensor size times a coefficient fitted to measured peak RSS deltas
of 34 CPU runs (n_train 300..4000, width 32..1024, depth 1..3, K 2..16, full and
minibatch, regression and classification, target/input/label noise; the fit is within
0.63x to 1.5x of every run). The coefficients exceed the bare tensor count because
autograd keeps the activations for the backward pass, gradients of the same size exist
transiently, and glibc does not hand freed blocks back to the OS at once. Input noise stores one noisy
copy of ``x`` per member: ``K * n_train * d`` floats (its own term). File datasets add
their in-memory pools (held once per process and shared by later runs; counted anyway).

The time model
--------------
``epochs * (per-epoch overhead + FLOPs / matmul rate + elementwise work / memory rate)``
plus probe evaluations at the recorded epochs and data preparation. The three rates are
*calibrated* in the running process, so they include CPU contention from other jobs
(:mod:`noisealign.engine.compute.calibration`; ``NOISEALIGN_GUARD_CALIBRATE=0`` uses
documented constants instead: deterministic, for tests of the messages).

This module never imports streamlit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base.units import format_bytes, format_seconds
from ..pipeline.spec import ExperimentSpec
from .calibration import (  # noqa: F401 -- re-exported, the guard's API
    _ACT_PASSES,
    _CE_PER_ROW,
    _OPT_PASSES,
    CALIBRATE_ENV,
    CALIBRATION_TTL,
    DEFAULT_CALIBRATIONS,
    Calibration,
    _forward_seconds,
    _resolve_device,
    calibration_for,
    clear_calibrations,
    measure_calibration,
)
from .machine import available_memory_bytes, total_memory_bytes

MEMORY_ENV = "NOISEALIGN_MAX_MEMORY_GB"
SECONDS_ENV = "NOISEALIGN_MAX_SECONDS"
SWEEP_SECONDS_ENV = "NOISEALIGN_MAX_SWEEP_SECONDS"
AUTO_RUN_SECONDS_ENV = "NOISEALIGN_AUTO_RUN_SECONDS"
DEFAULT_MAX_SWEEP_SECONDS = 4 * 3600.0  # a whole sweep: 4 CPU-hours (override: --force)
DEFAULT_AUTO_RUN_SECONDS = 300.0        # what a dashboard link may start without a click
DEFAULT_MAX_MEMORY_BYTES = 4 * 10**9  # 4 GB: leaves room for the OS and a browser on 8 GB
DEFAULT_MAX_SECONDS = 600.0           # 10 minutes: longer runs belong in a script or sweep

_F32 = 4  # bytes per float32

# Memory coefficients (multiples of the tensor sizes named), fitted on CPU runs; see the
# module docstring. Each is rounded up a little: over-estimating is the safe side.
_MEM = {
    "activations_full": 5.0,   # depth*K*n*width floats, full-batch training
    "activations_batch": 7.6,  # depth*K*batch*width, minibatch training (per step)
    "activations_eval": 2.0,   # depth*K*n*width, minibatch: no-grad passes over all data
    "probe": 3.3,              # depth*K*N*width: probe representations (trained and init);
                               # refitted in issue 29 on wide layers (width 2048-16384,
                               # K 8-64: benchmarks/bench_guard_memory.py), was 2.4
    "inputs": 0.5,             # K*(n+N)*d: shared inputs broadcast to the members
    "parameters": 4.0,         # K*P: weights, gradients, two Adam moments
    "noisy_inputs": 2.9,       # K*n*d: input noise, one copy of x per member (drawn in
                               # float64, kept in float32)
    "logits": 1.7,             # K*(n+N)*classes: classification outputs and softmax
    "constant": 5e6,           # small arrays, curves, allocator slack
}
# GPU (device) memory: torch's caching allocator holds live tensors (no glibc slack), so
# the coefficients are the tensor counts: saved activations + gradients in flight.
_MEM_CUDA = {
    "activations_full": 3.0, "activations_batch": 3.0, "activations_eval": 2.0,
    "probe": 3.0, "inputs": 1.0, "parameters": 4.0, "noisy_inputs": 1.0, "logits": 3.0,
    "constant": 64e6,
}


# Data preparation: seconds (first load in a process) and bytes of in-memory pools.
_DATA_SECONDS = {"digits": 0.5, "diabetes": 0.3, "mnist": 2.0, "fashion-mnist": 2.0,
                 "cifar10": 6.0}
_MNIST1D_SECONDS_PER_SAMPLE = 4e-4
_POOL_POINTS = {"mnist": 70000, "fashion-mnist": 70000, "cifar10": 60000}
_SECONDS_PER_RANDOM = 3e-8  # numpy normal draws and arithmetic, per element


class ResourceLimitError(ValueError):
    """A run would exceed a resource limit; the message says the estimate and the limit.

    ``resource`` is ``"memory"``, ``"device memory"`` or ``"time"``; ``needed`` and
    ``limit`` are in bytes or seconds; ``estimate`` is the full :class:`Estimate`.
    """

    def __init__(self, message: str, *, resource: str, needed: float, limit: float,
                 estimate: Estimate) -> None:
        super().__init__(message)
        self.resource = resource
        self.needed = needed
        self.limit = limit
        self.estimate = estimate




@dataclass(frozen=True)
class Estimate:
    """Predicted resources of one run (see the module docstring for the models).

    memory_bytes: peak additional host memory (RSS)
    seconds: wall time if every member trains all max_epochs (an upper bound)
    device: "cpu" or "cuda" (what spec.device resolves to here)
    device_memory_bytes: peak GPU memory on "cuda", 0 on "cpu"
    measures_seconds: the summary's measures after training (the cache computes them
        before storing a result): O(N^2) per representation space and pair
    total_seconds: ``seconds + measures_seconds``, what a job or sweep point costs
    memory_parts / time_parts: the terms, largest first, for explanations
    """

    memory_bytes: int
    seconds: float
    device: str
    device_memory_bytes: int = 0
    measures_seconds: float = 0.0
    memory_parts: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    time_parts: tuple[tuple[str, float], ...] = field(default=(), compare=False)

    @property
    def total_seconds(self) -> float:
        return self.seconds + self.measures_seconds

    def describe(self) -> str:
        """One line, e.g. "about 1.2 GB of memory and about 40 s on cpu"."""
        text = f"about {format_bytes(self.memory_bytes)} of memory"
        if self.device == "cuda":
            text += f" ({format_bytes(self.device_memory_bytes)} on the GPU)"
        return f"{text} and {format_seconds(self.total_seconds)} on {self.device}"


# ----------------------------------------------------------------------------- limits


def _env_limit(name: str, scale: float) -> float | None:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"environment variable {name}={text!r} is invalid: allowed a "
                         "positive number")
    return value * scale


def _limit(name: str, value: Any, env: str, scale: float, default: float) -> float:
    """An explicit limit, else the environment variable's, else the default."""
    if value is None:
        from_env = _env_limit(env, scale)
        return default if from_env is None else from_env
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            value > 0):  # also NaN
        raise ValueError(f"{name}={value!r} is invalid: allowed a positive number "
                         "(or math.inf for no limit)")
    return float(value)


def limits(max_memory_bytes: float | None = None,
           max_seconds: float | None = None) -> tuple[float, float]:
    """The limits in force: (bytes, seconds) from arguments, environment or defaults."""
    return (_limit("max_memory_bytes", max_memory_bytes, MEMORY_ENV, 1e9,
                   DEFAULT_MAX_MEMORY_BYTES),
            _limit("max_seconds", max_seconds, SECONDS_ENV, 1.0, DEFAULT_MAX_SECONDS))




# ----------------------------------------------------------------------------- estimate


def _shape(spec: ExperimentSpec) -> dict[str, int]:
    from ..pipeline.datasets import DATASETS
    info = DATASETS[spec.dataset]
    params = spec.params
    classes = info.n_classes(params)
    w, L = spec.width, spec.depth
    if spec.architecture == "cnn":
        # A rough CNN: its activations per point (all layers) stand in for depth * width.
        from ..pipeline.cnn_layout import cnn_activation_floats
        assert info.image_shape is not None  # a cnn runs only on image datasets
        w, L = cnn_activation_floats(info.image_shape, spec.width), 1
    assert spec.n_probe is not None  # ExperimentSpec.__post_init__ fills it in
    return {
        "K": spec.ensemble_size, "n": spec.n_train, "N": spec.n_probe, "w": w,
        "L": L, "d": info.input_dim(params), "C": info.n_outputs(params),
        "classes": classes, "P": spec.n_parameters(), "b": spec.batch_size,
    }


def _data_terms(spec: ExperimentSpec, s: dict[str, int]) -> tuple[float, float]:
    """(host bytes, seconds) of loading the clean sample (and pools) of ``spec``."""
    n, N, d = s["n"], s["N"], s["d"]
    sample = (n + N) * d * 8  # float64 draws / standardisation copies, then float32
    name = spec.dataset
    if name in _POOL_POINTS:
        pool = _POOL_POINTS[name] * d * _F32 * 1.25  # float32 pools + parsing buffers
        return sample + pool, _DATA_SECONDS[name] + (n + N) * d * _SECONDS_PER_RANDOM
    if name == "mnist1d":
        m = spec.params["n_samples"]
        return sample + m * 40 * 8 * 4, 0.3 + m * _MNIST1D_SECONDS_PER_SAMPLE
    if name in _DATA_SECONDS:
        return sample, _DATA_SECONDS[name]
    extra = 0.0
    if name == "mlp-teacher":
        extra = (n + N) * d * spec.params["teacher_width"] * 2 * _SECONDS_PER_RANDOM / 10
    return sample, (n + N) * d * _SECONDS_PER_RANDOM + extra


def _group_size(K: int, n: int, widest: int) -> int:
    """Members per group in CPU training (noisealign.engine.pipeline.train sizes groups by its widest layer)."""
    from ..pipeline.train import member_groups
    return max(g.stop - g.start for g in member_groups(K, n * widest))


def _memory_terms(spec: ExperimentSpec, s: dict[str, int], coef: dict[str, float]
                  ) -> dict[str, float]:
    K, n, N, w, L, d, P = s["K"], s["n"], s["N"], s["w"], s["L"], s["d"], s["P"]
    full = s["b"] == 0
    # Full-batch training on the CPU keeps one group of members' activations at a time
    # (noisealign.engine.pipeline.train.member_groups); a GPU trains all K at once.
    G = (K if coef is _MEM_CUDA or spec.architecture == "cnn"  # BatchedCNN: one group
         else _group_size(K, n, max(w, s["C"])))
    terms = {
        "training activations": (coef["activations_full"] * L * G * n * w * _F32 if full else
                                 coef["activations_batch"] * L * K * s["b"] * w * _F32
                                 + coef["activations_eval"] * L * K * n * w * _F32),
        "probe representations": coef["probe"] * L * K * N * w * _F32,
        "inputs": coef["inputs"] * K * (n + N) * d * _F32,
        "parameters and optimiser state": coef["parameters"] * K * P * _F32,
        "noisy input copies (one per member)": (coef["noisy_inputs"] * K * n * d * _F32
                                                if spec.noise == "input" else 0.0),
        "outputs": coef["logits"] * K * (n + N) * s["classes"] * _F32,
        "probe snapshots": _snapshot_bytes(spec, s),
        "other": coef["constant"],
    }
    return terms


def _snapshot_bytes(spec: ExperimentSpec, s: dict[str, int]) -> float:
    """Host memory of the kept snapshots: every layer's probe representations, once."""
    return 1.0 * spec.snapshots * s["K"] * s["N"] * (s["L"] * s["w"] + s["C"]) * _F32


def estimate(spec: ExperimentSpec, *, calibration: Calibration | None = None) -> Estimate:
    """Predicted peak memory and wall time of ``run_experiment(spec)`` (no training).

    ``calibration`` overrides the measured (or default) rates of the spec's device.
    """
    if not isinstance(spec, ExperimentSpec):
        raise ValueError(  # noqa: TRY004 -- the guard's errors are ValueErrors
            f"spec must be an ExperimentSpec, got {type(spec).__name__}")
    device = calibration.device if calibration is not None else _resolve_device(spec)
    cal = calibration if calibration is not None else calibration_for(spec, device)
    s = _shape(spec)
    K, n, N, w, L = s["K"], s["n"], s["N"], s["w"], s["L"]
    data_bytes, data_seconds = _data_terms(spec, s)

    # ---- memory
    if device == "cuda":
        gpu = _memory_terms(spec, s, _MEM_CUDA)
        device_bytes = int(sum(gpu.values()))
        # Host: the data, the noise made in numpy, the representations copied back.
        host = {
            "dataset and sample": data_bytes,
            "noisy input copies (one per member)": (
                4 * K * n * s["d"] * _F32 if spec.noise == "input" else 0.0),
            "probe representations": 2 * L * K * N * w * _F32,
            "probe snapshots": _snapshot_bytes(spec, s),
            "other": _MEM["constant"],
        }
    else:
        host = _memory_terms(spec, s, _MEM)
        host["dataset and sample"] = data_bytes
        device_bytes = 0
    memory = int(sum(host.values()))
    memory_parts = tuple(sorted(((k, int(v)) for k, v in host.items() if v > 0),
                                key=lambda kv: -kv[1]))

    # ---- time
    from ..pipeline.train import log_epochs
    epochs = spec.max_epochs
    full = s["b"] == 0
    steps_per_epoch = 1 if full else math.ceil(n / s["b"])
    if spec.architecture == "cnn":
        # a convolution as a product per output pixel (a rough FLOP count)
        from ..pipeline.cnn_layout import cnn_matmuls
        shape = spec.image_shape()
        assert shape is not None  # a cnn runs only on image datasets
        fwd: float = sum(rows * _forward_seconds([a, b], K, cal.flops_per_second)
                  for rows, a, b in cnn_matmuls(shape, spec.width, s["C"]))
    else:
        dims = [s["d"]] + [w] * L + [s["C"]]
        fwd = _forward_seconds(dims, K, cal.flops_per_second)  # per point, all members
    act = float(K * w * L)                  # activations per point, all members
    opt = _OPT_PASSES[spec.optimizer] * K * s["P"]
    ce = _CE_PER_ROW * K * n if s["classes"] else 0.0
    if full:
        mm_epoch = 3 * fwd * n                # forward + backward over the data
        elems_epoch = _ACT_PASSES * act * n + opt + ce
    else:
        mm_epoch = 4 * fwd * n                # + a no-grad pass for the epoch's loss
        elems_epoch = _ACT_PASSES * act * n * 4 / 3 + opt * steps_per_epoch + 2 * ce
    records = len(log_epochs(epochs))         # probe evaluations for the curves
    time_parts_d = {
        "training": epochs * (cal.eval_seconds + steps_per_epoch * cal.step_seconds
                              + mm_epoch
                              + elems_epoch / cal.elements_per_second),
        "probe evaluations": records * (cal.eval_seconds + fwd * N
                                        + _ACT_PASSES / 3 * act * N
                                        / cal.elements_per_second),
        "data and noise": data_seconds + (K * n * s["d"] * _SECONDS_PER_RANDOM * 3
                                          if spec.noise == "input" else 0.0),
        "final measurements": fwd * (n + 2 * N) + 0.02,
    }
    seconds = float(sum(time_parts_d.values()))
    measures_seconds = _measures_seconds(s, cal)
    time_parts_d["summary measures"] = measures_seconds
    time_parts = tuple(sorted(time_parts_d.items(), key=lambda kv: -kv[1]))
    return Estimate(memory_bytes=memory, seconds=seconds, device=device,
                    device_memory_bytes=device_bytes, measures_seconds=measures_seconds,
                    memory_parts=memory_parts, time_parts=time_parts)


# The summary's measures (noisealign.engine.measures.summaries.summarise), run twice (trained and untrained
# members) on the CPU over S = 2K + 2 spaces (each member's last hidden layer and
# output, the clean targets and inputs): per space a distance matrix, neighbour weights
# and ranks over N^2 entries (sorting: ~log2 N passes each), plus the CKA Gram products
# and one neighbour search per member and layer (intrinsic dimension). Fitted on K=4..8, N=500..4000
# runs of a 2-core CPU (refitted after CKNNA joined the summary: 0.95x..1.2x);
# over-estimating is the safe side.
# In matmul-equivalent operations (the calibrated matmul rate is the steadiest on a shared
# CPU; the rank passes run on one thread like the fit's runs).
_MEASURE_OPS_PER_LOG2N = 160.0   # per N^2 entry per space, per log2 N
_ID_SECONDS = 0.12               # one intrinsic-dimension fit at small N
_MEASURES_CONSTANT = 2.5         # imports, JSON, small matrices


def _measures_seconds(s: dict[str, int], cal: Calibration) -> float:
    """Seconds of the summary's measures of one run (see the constants above)."""
    K, N, w, L, d, C = s["K"], s["N"], s["w"], s["L"], s["d"], s["C"]
    if cal.device == "cuda":  # summaries run on the CPU: use the CPU constants
        cal = DEFAULT_CALIBRATIONS["cpu"]
    spaces = 2 * K + 2
    n2 = float(N) * float(N)
    ranks = _MEASURE_OPS_PER_LOG2N * math.log2(max(N, 2)) * spaces * n2
    dims = K * (w + C) + d + 1
    flops = 2.0 * n2 * (dims + spaces * spaces)     # distance products and pair sums
    cka = 2.0 * n2 * K * w + float(K) * K * n2      # Gram matrices and their products
    ids = (L + 1) * K * (_ID_SECONDS + 2.0 * n2 * w / cal.flops_per_second)
    return 2.0 * ((ranks + flops + cka) / cal.flops_per_second + ids) + _MEASURES_CONSTANT


# ----------------------------------------------------------------------------- check

_MEMORY_ADVICE = {
    "training activations": "width, n_train or ensemble_size (or set a batch_size)",
    "probe representations": "n_probe, width or ensemble_size",
    "probe snapshots": "snapshots, n_probe, width or ensemble_size",
    "inputs": "n_train, n_probe or ensemble_size",
    "parameters and optimiser state": "width, depth or ensemble_size",
    "noisy input copies (one per member)": "n_train or ensemble_size (input noise stores "
                                           "one noisy copy of the inputs per member)",
    "outputs": "n_train, n_probe or ensemble_size",
    "dataset and sample": "n_train or n_probe, or use a smaller dataset",
    "other": "width, n_train or ensemble_size",
}


def _device_memory_limit(value: float | None) -> float:
    if value is not None:
        return _limit("max_device_memory_bytes", value, "", 1.0, math.inf)
    try:
        import torch
        total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
        return 0.9 * total
    except Exception:  # noqa: BLE001 -- no GPU visible: run_experiment will say so itself
        return math.inf


def check(spec: ExperimentSpec, *, max_memory_bytes: float | None = None,
          max_seconds: float | None = None, max_device_memory_bytes: float | None = None,
          calibration: Calibration | None = None) -> Estimate:
    """The estimate of ``spec``, or :class:`ResourceLimitError` if it exceeds a limit.

    Limits: arguments, else ``$NOISEALIGN_MAX_MEMORY_GB`` / ``$NOISEALIGN_MAX_SECONDS``,
    else 4 GB and 600 s; ``math.inf`` disables one. On CUDA the GPU memory is checked
    against ``max_device_memory_bytes`` (default: 90% of the GPU's memory).
    """
    mem_limit, sec_limit = limits(max_memory_bytes, max_seconds)
    est = estimate(spec, calibration=calibration)
    if est.memory_bytes > mem_limit:
        top = est.memory_parts[0][0] if est.memory_parts else "other"
        raise ResourceLimitError(
            f"this run needs about {format_bytes(est.memory_bytes)} of memory, over the "
            f"limit of {format_bytes(mem_limit)}: reduce {_MEMORY_ADVICE[top]} "
            f"(largest part: {top}, {format_bytes(est.memory_parts[0][1])})",
            resource="memory", needed=est.memory_bytes, limit=mem_limit, estimate=est)
    if est.device == "cuda":
        dev_limit = _device_memory_limit(max_device_memory_bytes)
        if est.device_memory_bytes > dev_limit:
            raise ResourceLimitError(
                f"this run needs about {format_bytes(est.device_memory_bytes)} of GPU "
                f"memory, over the limit of {format_bytes(dev_limit)}: reduce width, "
                "n_train or ensemble_size (or set a batch_size)",
                resource="device memory", needed=est.device_memory_bytes, limit=dev_limit,
                estimate=est)
    if est.seconds > sec_limit:
        raise ResourceLimitError(
            f"this run may take {format_seconds(est.seconds)} on {est.device}, over the "
            f"limit of {format_seconds(sec_limit).removeprefix('about ')}: reduce "
            "max_epochs, n_train, width or ensemble_size",
            resource="time", needed=est.seconds, limit=sec_limit, estimate=est)
    if est.total_seconds > sec_limit:
        raise ResourceLimitError(
            f"this run's measures on N = {spec.n_probe} probe points (O(N^2) for each of "
            f"{2 * spec.ensemble_size + 2} spaces and their pairs) may take "
            f"{format_seconds(est.measures_seconds)} ({format_seconds(est.total_seconds)} "
            f"with training), over the limit of "
            f"{format_seconds(sec_limit).removeprefix('about ')}: reduce n_probe "
            "(or ensemble_size)",
            resource="time", needed=est.total_seconds, limit=sec_limit, estimate=est)
    return est


def guarded_run(spec: ExperimentSpec, *, progress: Any = None,
                cancel: Callable[[], bool] | None = None, cache: Any = None,
                max_memory_bytes: float | None = None, max_seconds: float | None = None,
                max_device_memory_bytes: float | None = None) -> Any:
    """:func:`check` the spec, then run it; returns the :class:`engine.Result`.

    With ``cache`` (an :class:`noisealign.engine.store.cache.ResultCache`) a stored result is returned
    without any check (it costs nothing), and a new one is computed through the cache's
    single flight and stored. Raises :class:`ResourceLimitError` before any work.
    """
    if cache is not None:
        hit = cache.get(spec)
        if hit is not None:
            return hit
    check(spec, max_memory_bytes=max_memory_bytes, max_seconds=max_seconds,
          max_device_memory_bytes=max_device_memory_bytes)
    if cache is not None:
        return cache.get_or_compute(spec, progress=progress, cancel=cancel)
    from ..pipeline.run import run_experiment
    return run_experiment(spec, progress=progress, cancel=cancel)


# ----------------------------------------------------------------------------- sweeps


@dataclass(frozen=True)
class SweepEstimate:
    """The cost of the points of a sweep that are not cached yet.

    seconds: sum of the missing points' :attr:`Estimate.total_seconds` (training and
    measures, run one after another: the CPU-time a sweep occupies); n_missing /
    n_points: points to compute / in the grid; largest: the dearest point's estimate.
    """

    seconds: float
    n_missing: int
    n_points: int
    largest: Estimate | None = None

    def describe(self) -> str:
        return (f"{self.n_missing} of {self.n_points} points to compute, "
                f"{format_seconds(self.seconds)} in all")


def sweep_limit(max_sweep_seconds: float | None = None) -> float:
    """The per-sweep limit in force: argument, else ``$NOISEALIGN_MAX_SWEEP_SECONDS``,
    else :data:`DEFAULT_MAX_SWEEP_SECONDS` (4 h)."""
    return _limit("max_sweep_seconds", max_sweep_seconds, SWEEP_SECONDS_ENV, 1.0,
                  DEFAULT_MAX_SWEEP_SECONDS)


def auto_run_limit(seconds: float | None = None) -> float:
    """What the dashboard starts without a click: argument, else
    ``$NOISEALIGN_AUTO_RUN_SECONDS``, else :data:`DEFAULT_AUTO_RUN_SECONDS` (5 min).
    ``0`` means nothing starts without a click (it crashed the alignment page)."""
    text = os.environ.get(AUTO_RUN_SECONDS_ENV, "") if seconds is None else ""
    try:
        if (seconds is not None and not isinstance(seconds, bool) and seconds == 0) or \
                (text.strip() and float(text) == 0):
            return 0.0
    except ValueError:
        pass  # _limit names the variable and what is allowed
    return _limit("auto_run_seconds", seconds, AUTO_RUN_SECONDS_ENV, 1.0,
                  DEFAULT_AUTO_RUN_SECONDS)


def _specs_of(sweep_or_specs: Any) -> list[ExperimentSpec]:
    specs = sweep_or_specs.specs() if hasattr(sweep_or_specs, "specs") else sweep_or_specs
    specs = list(specs)
    for s in specs:
        if not isinstance(s, ExperimentSpec):
            raise ValueError(  # noqa: TRY004 -- the guard's errors are ValueErrors
                f"sweep must be an noisealign.engine.compute.sweep.Sweep or a list of "
                f"ExperimentSpec, got an element {type(s).__name__}")
    return specs


def estimate_sweep(sweep: Any, cache: Any = None) -> SweepEstimate:
    """The summed estimate of the points of ``sweep`` (a :class:`noisealign.engine.compute.sweep.Sweep` or
    a list of specs) that ``cache`` does not hold (all of them without a cache)."""
    specs = _specs_of(sweep)
    total, largest, missing = 0.0, None, 0
    for spec in specs:
        if cache is not None and cache.has(spec):
            continue
        est = estimate(spec)
        missing += 1
        total += est.total_seconds
        if largest is None or est.total_seconds > largest.total_seconds:
            largest = est
    return SweepEstimate(seconds=total, n_missing=missing, n_points=len(specs),
                         largest=largest)


def check_sweep(sweep: Any, cache: Any = None, *,
                max_sweep_seconds: float | None = None) -> SweepEstimate:
    """The sweep's estimate, or :class:`ResourceLimitError` (a ``ValueError``) when its
    missing points together exceed the per-sweep limit (:func:`sweep_limit`). The
    message gives the estimate, the limit and what to reduce; ``math.inf`` disables it.

    Each point alone is not held to the per-run limit (``NOISEALIGN_MAX_SECONDS``):
    sweeps are where long points belong; the dashboard's job manager checks both.
    """
    limit = sweep_limit(max_sweep_seconds)
    est = estimate_sweep(sweep, cache)
    if est.seconds > limit:
        top = est.largest
        raise ResourceLimitError(
            f"this sweep may take {format_seconds(est.seconds)} for its {est.n_missing} "
            f"points to compute (of {est.n_points}), over the per-sweep limit of "
            f"{format_seconds(limit).removeprefix('about ')} ({SWEEP_SECONDS_ENV}): use "
            "fewer axis values or reduce max_epochs, n_train, width, ensemble_size or "
            f"n_probe (the dearest point: {format_seconds(top.total_seconds) if top else '?'})",
            resource="sweep time", needed=est.seconds, limit=limit,
            estimate=top if top is not None else Estimate(0, 0.0, "cpu"))
    return est


# ----------------------------------------------------------------------------- machine


def check_machine_total(spec: ExperimentSpec, *, total: float | None = None) -> Estimate:
    """The estimate of ``spec``, or :class:`ResourceLimitError` when its memory estimate
    exceeds the machine's *total* memory (:func:`total_memory_bytes`): such a run can
    never finish, so the CLI refuses it even with ``--force``."""
    est = estimate(spec, calibration=DEFAULT_CALIBRATIONS[_resolve_device(spec)])
    have = total_memory_bytes() if total is None else float(total)
    if est.memory_bytes > have:
        top = est.memory_parts[0][0] if est.memory_parts else "other"
        raise ResourceLimitError(
            f"this run needs about {format_bytes(est.memory_bytes)} of memory, more than "
            f"this machine's total of {format_bytes(have)}: reduce {_MEMORY_ADVICE[top]} "
            f"(largest part: {top}, {format_bytes(est.memory_parts[0][1])})",
            resource="memory", needed=est.memory_bytes, limit=have, estimate=est)
    return est


def check_machine_memory(spec: ExperimentSpec, *, available: float | None = None
                         ) -> Estimate:
    """The estimate of ``spec``, or :class:`ResourceLimitError` when its memory
    estimate exceeds what this machine has available now (:func:`available_memory_bytes`,
    or ``available``): the CLI ``run`` refuses those at once instead of swapping for
    minutes and ending in a MemoryError. Memory does not depend on the rates: no
    calibration is run (the check takes milliseconds)."""
    est = estimate(spec, calibration=DEFAULT_CALIBRATIONS[_resolve_device(spec)])
    have = available_memory_bytes() if available is None else float(available)
    if est.memory_bytes > have:
        top = est.memory_parts[0][0] if est.memory_parts else "other"
        raise ResourceLimitError(
            f"this run needs about {format_bytes(est.memory_bytes)} of memory, more than "
            f"the {format_bytes(have)} this machine has available now: reduce "
            f"{_MEMORY_ADVICE[top]} (largest part: {top}, "
            f"{format_bytes(est.memory_parts[0][1])})",
            resource="memory", needed=est.memory_bytes, limit=have, estimate=est)
    return est


# ----------------------------------------------------------------------------- compare
# noisealign.engine.own_models.pairs's peak memory, in copies of the inputs as float64: the loaded arrays,
# the float64 tensors linear CKA builds and their centred copies (noisealign.engine.measures.core
# _cka_matrices); the distance blocks of the II / mutual k-NN pass are bounded by
# noisealign.engine.measures.spaces._BLOCK_BYTES (a small multiple of it at the peak).
_COMPARE_COPIES = 3.0
_COMPARE_BLOCK_PEAK = 4 * 2**27
_COMPARE_BASE = 400e6  # torch, numpy and the interpreter


def compare_memory_bytes(n: int, dims: Sequence[int]) -> float:
    """Peak memory of :func:`noisealign.engine.own_models.pairs.compare` on arrays of ``n`` points and
    ``dims`` features each (all measures, exact): the float64 inputs and their copies,
    the bounded distance blocks, and a fixed base."""
    values = float(n) * float(sum(dims))
    return _COMPARE_COPIES * 8.0 * values + _COMPARE_BLOCK_PEAK + _COMPARE_BASE


def check_compare_memory(n: int, dims: Sequence[int], *,
                         max_memory_bytes: float | None = None,
                         available: float | None = None) -> float:
    """The memory estimate of comparing arrays (``n`` points, ``dims`` features), or
    :class:`ResourceLimitError` when it exceeds the memory limit in force
    (:func:`limits`: ``NOISEALIGN_MAX_MEMORY_GB``, 4 GB by default) or what the machine
    has available now. Called by :func:`noisealign.engine.own_models.pairs.load_arrays` on the headers,
    before any data is read."""
    need = compare_memory_bytes(n, dims)
    limit, _ = limits(max_memory_bytes)
    have = available_memory_bytes() if available is None else float(available)
    cap, what = (limit, f"the memory limit {format_bytes(limit)} ({MEMORY_ENV})") \
        if limit <= have else (have, (f"the {format_bytes(have)} this machine has "
                                      "available now"))
    if need > cap:
        raise ResourceLimitError(
            f"comparing {len(dims)} arrays of N={n:,} points and {sum(dims):,} features "
            f"in all needs about {format_bytes(need)} of memory, more than {what}: use "
            "fewer points or features (or pool N-D activations)",
            resource="memory", needed=need, limit=cap,
            estimate=Estimate(int(need), 0.0, "cpu"))
    return need


def concurrent_points(specs: Sequence[Any], workers: int,
                      max_memory_bytes: float | None = None) -> int:
    """How many of ``specs`` may train at once on ``workers`` processes: at most
    ``workers``, and no more than fit in the guard's memory limit together
    (``$NOISEALIGN_MAX_MEMORY_GB``, :func:`noisealign.engine.compute.guard.limits`) counting the largest
    point's estimate for each; at least 1 (a single point was admitted on its own)."""
    if not specs:
        return max(1, workers)
    mem_limit, _ = limits(max_memory_bytes, None)
    try:
        biggest = max(estimate(s).memory_bytes for s in specs)
    except Exception:  # noqa: BLE001 -- no estimate: one at a time is always safe
        return 1
    if not math.isfinite(mem_limit) or biggest <= 0:
        return max(1, workers)
    return max(1, min(workers, int(mem_limit // biggest)))
