"""Sweeps: a base spec and one or two axes, computed in parallel, only what is missing.

A :class:`Sweep` builds and validates every spec of its grid up front, so a bad axis
fails before anything runs. :func:`run_sweep` yields a :class:`SweepPoint` per grid point
as it finishes: cached points first (instantly), then computed ones in the order they
complete. Executors:

- ``"local"`` (default): a process pool on this machine, one worker per core, each
  worker's torch limited to ``cores // workers`` threads so they do not fight;
- ``"dask"``: Dask distributed, a ``LocalCluster`` started here or an existing scheduler
  (``scheduler="tcp://host:8786"``, or a ``distributed.Client``); the ``engine``
  package must be importable on the workers;
- ``"serial"``: in this process, one point at a time (debugging, tiny sweeps).

Workers return serialised results (``Result.to_bytes``: JSON and ``.npz`` bytes) and
their summary (computed in the worker); only the driver writes the cache (a SQLite
cache must never be shared over a network file system). Before a point is submitted
the driver takes its computation lock without waiting: a point that another session or
sweep is computing right now is not computed twice but loaded once it is stored.

Cancellation reaches running points too: local workers poll a flag file, Dask workers a
``distributed.Event`` (at most once a second), and stop at their next epoch. Workers
also stop when their driver dies by any signal: local ones watch the driver's process,
Dask ones a lease the driver renews on the scheduler every second (``LEASE_SECONDS``).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import dataclasses
import hashlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
import uuid
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from noisealign.engine.store.cache import ResultCache, default_summarise, json_default
from noisealign.engine.base.errors import SpecError
from noisealign.engine.pipeline.spec import SPEC_FIELDS, ExperimentSpec
log = logging.getLogger(__name__)

MAX_AXES = 2
MAX_POINTS = 10_000
MAX_REPLICATES = 50
REPLICATE = "replicate"  # the extra key in a point's values when replicates > 1
EXECUTORS = ("local", "serial", "dask")
PARAM_PREFIX = "dataset_params."


# ----------------------------------------------------------------------------- grid


def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars (the spec checks types strictly)."""
    return v.item() if isinstance(v, np.generic) else v


def _irrelevant_axis_message(name: str, base: ExperimentSpec, axes: Mapping[str, Any]) -> str | None:
    """Why an axis would change nothing for the base spec's noise kind, or None."""
    if "noise" in axes:
        return None
    if name == "snr_db" and not base.applies(name):
        hint = ("on a classification dataset (like "
                f"{base.dataset!r}) snr_db is only meaningful with noise='input' (--noise input)"
                if base.task == "classification" else
                "choose noise='target' or noise='input' (--noise target / --noise input)")
        return (f"axis 'snr_db' has no effect with noise={base.noise!r}: every value gives the "
                f"same experiment. snr_db applies to target and input noise only; {hint}"
                + ("; or sweep label_noise with noise='label'" if base.task == "classification"
                   else ""))
    if name == "label_noise" and not base.applies(name):
        return (f"axis 'label_noise' has no effect with noise={base.noise!r}: every value gives "
                "the same experiment. label_noise applies only to noise='label' (--noise label) "
                "on a classification dataset")
    return None


def _axis_names_allowed(base: ExperimentSpec) -> list[str]:
    from noisealign.engine.pipeline.datasets import DATASETS
    fields = [f for f in SPEC_FIELDS if f != "dataset_params"]
    return fields + [PARAM_PREFIX + p for p in DATASETS[base.dataset].params]


@dataclass(frozen=True, eq=False)
class Sweep:
    """A base spec and 1 or 2 axes ``{field: values}``; the grid is their product.

    ``replicates = R`` trains every grid point R times, each with its own data seed
    (:func:`replicate_seed`: new data sample, noise and initialisations), for error bars
    across seeds (:func:`noisealign.engine.compute.export.aggregate`); each run is cached on its own, so
    raising R computes only the new seeds.

    Axis names are spec fields (``"n_train"``, ``"snr_db"``, ``"width"``...) or dataset
    parameters as ``"dataset_params.<name>"`` (e.g. ``"dataset_params.d"``). With two
    axes, points run over the first axis in the outer loop. Every spec is built and
    validated here: an unknown field, an empty axis, a repeated value, a value the
    spec rejects or an axis that cannot change the experiment raises ``ValueError``.
    ``axes`` is stored as a read-only mapping of tuples.
    """

    base: ExperimentSpec
    axes: Mapping[str, tuple]
    replicates: int = 1

    def __post_init__(self) -> None:
        base, axes, reps = self.base, self.axes, self.replicates
        if not isinstance(base, ExperimentSpec):
            raise ValueError(f"base must be an ExperimentSpec, got {type(base).__name__}")
        if not isinstance(axes, Mapping):
            raise ValueError(f"axes={axes!r} is invalid: allowed a mapping of 1 or 2 spec "
                             "field names to lists of values")
        if not 1 <= len(axes) <= MAX_AXES:
            raise ValueError(f"axes has {len(axes)} axes {list(axes)}: allowed 1 or {MAX_AXES}")
        allowed = _axis_names_allowed(base)
        norm: dict[str, tuple] = {}
        for name, values in axes.items():
            if name not in allowed:
                raise SpecError("axis", name, ", ".join(allowed),
                                f"axis {name!r} is not a spec field: allowed "
                                + ", ".join(allowed))
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise SpecError("axis", name, "a list of values",
                                f"axis {name!r} values={values!r} are invalid: allowed a list "
                                "of values")
            values = tuple(_plain(v) for v in values)
            if not values:
                raise SpecError("axis", name, "a list of at least one",
                                f"axis {name!r} has no values: allowed a list of at least one")
            for i, v in enumerate(values):
                if v in values[:i]:
                    raise SpecError("axis", name, "distinct values",
                                    f"axis {name!r} repeats the value {v!r}: allowed distinct "
                                    "values")
            msg = _irrelevant_axis_message(name, base, axes)
            if msg is not None:
                raise SpecError("axis", name, "an axis that changes the experiment", msg)
            norm[name] = values
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) \
                or not 1 <= reps <= MAX_REPLICATES:
            raise SpecError("replicates", reps, f"an integer from 1 to {MAX_REPLICATES}")
        reps = int(reps)
        if reps > 1 and "seed" in norm:
            raise ValueError("replicates > 1 with a 'seed' axis: allowed one or the other "
                             "(replicates draw their own seeds)")
        n_points = math.prod(len(v) for v in norm.values()) * reps
        if n_points > MAX_POINTS:
            raise ValueError(f"the sweep has {n_points} runs: allowed at most {MAX_POINTS}")

        names = list(norm)
        specs: list[ExperimentSpec] = []
        points: list[dict] = []
        seen: dict[str, dict] = {}
        for combo in itertools.product(*norm.values()):
            values = dict(zip(names, combo))
            spec = _apply(base, values)
            point = {n: (spec.params[n[len(PARAM_PREFIX):]] if n.startswith(PARAM_PREFIX)
                         else getattr(spec, n)) for n in names}
            h = spec.content_hash()
            if h in seen:
                raise ValueError(f"axis values {seen[h]} and {values} give the same experiment "
                                 "(the spec normalises one into the other): allowed values "
                                 "that change the experiment")
            seen[h] = values
            for r in range(reps):
                if reps == 1:
                    specs.append(spec)
                    points.append(point)
                else:
                    specs.append(dataclasses.replace(spec, seed=replicate_seed(spec.seed, r)))
                    points.append({**point, REPLICATE: r})
        object.__setattr__(self, "axes", MappingProxyType(norm))
        object.__setattr__(self, "replicates", reps)
        object.__setattr__(self, "_specs", tuple(specs))
        object.__setattr__(self, "_points", tuple(points))

    @property
    def axis_names(self) -> list[str]:
        return list(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape: (len axis 0,) or (len axis 0, len axis 1)."""
        return tuple(len(v) for v in self.axes.values())

    def __len__(self) -> int:
        """Runs: grid points times replicates."""
        return len(self._specs)  # type: ignore[attr-defined]

    def specs(self) -> list[ExperimentSpec]:
        """Every run's spec, first axis outermost, a grid point's replicates together."""
        return list(self._specs)  # type: ignore[attr-defined]

    def points(self) -> list[dict]:
        """Axis values of every run (as the spec holds them), same order; with
        ``replicates > 1`` each also holds its replicate index under ``"replicate"``."""
        return [dict(p) for p in self._points]  # type: ignore[attr-defined]


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of a grid point's ``replicate``-th run: ``seed`` itself for replicate 0
    (so one replicate is the plain sweep and shares its cache entries), otherwise a
    hash of both, so replicates of different seeds never coincide. Each seed redraws
    the data sample, the noise and the initialisations."""
    if replicate == 0:
        return int(seed)
    digest = hashlib.sha256(f"noisealign-replicate:{int(seed)}:{int(replicate)}".encode())
    return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF


def _apply(base: ExperimentSpec, values: Mapping[str, Any]) -> ExperimentSpec:
    kw: dict[str, Any] = {}
    params = dict(base.params)
    for name, v in values.items():
        if name.startswith(PARAM_PREFIX):
            params[name[len(PARAM_PREFIX):]] = v
        else:
            kw[name] = v
    if params != dict(base.params):
        kw["dataset_params"] = params
    try:
        return dataclasses.replace(base, **kw)
    except ValueError as e:
        where = ", ".join(f"{k}={v!r}" for k, v in values.items())
        # the point's own field (e.g. n_train=5000 past a pool) goes to the sweep's slot
        raise SpecError("sweep", where, getattr(e, "allowed", str(e)),
                        f"sweep point {where}: {e}") from None


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SweepPoint:
    """One finished grid point.

    ``summary``: the cache's stored summary of the result; ``seconds``: compute time
    (data + training + summary in the worker) or the cache load time.
    """

    spec: ExperimentSpec
    axis_values: dict
    summary: dict
    from_cache: bool
    seconds: float
    key: str = ""


@dataclass(frozen=True)
class SweepProgress:
    """``remaining_estimate`` (seconds) is None until a computed point has finished."""

    done: int
    total: int
    elapsed: float
    remaining_estimate: float | None


class SweepError(RuntimeError):
    """A grid point failed; the points finished before it are cached."""


# ----------------------------------------------------------------------------- workers


def _process_start(pid: int) -> str | None:
    """The start time of process ``pid`` (Linux /proc), to tell it from a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rindex(b")") + 2:].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    if started is not None:
        return _process_start(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else: not ours any more
        return False
    return True


WATCH_SECONDS = 0.5  # how often a local worker checks that its driver still lives


def _watch_driver(pid: int, started: str | None) -> None:
    """End this worker process once the sweep's driver ``pid`` is gone (killed with
    SIGKILL it cannot shut its pool down). A forkserver child's parent is the fork
    server, not the driver, so the parent-death signal alone would not do: a daemon
    thread polls the driver (and also sets PR_SET_PDEATHSIG on Linux, so the worker
    dies with the fork server as well)."""
    import ctypes
    import signal
    import threading
    with contextlib.suppress(Exception):  # Linux: die with the parent (fork server)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            if not _alive(pid, started):
                os._exit(1)  # nothing of a point in flight is stored: the driver writes
    threading.Thread(target=watch, daemon=True, name="noisealign-driver-watch").start()


def _init_worker(threads: int, driver: tuple[int, str | None] | None = None) -> None:
    if driver is not None:
        _watch_driver(*driver)
    import torch
    torch.set_num_threads(max(1, int(threads)))
    with contextlib.suppress(RuntimeError):  # only allowed before any parallel work
        torch.set_num_interop_threads(1)


def _file_cancel(path: str | None) -> Callable[[], bool] | None:
    if not path:
        return None
    state = {"t": 0.0}

    def cancel() -> bool:
        now = time.monotonic()
        if now - state["t"] < 0.2:  # a stat per epoch would slow tiny models
            return False
        state["t"] = now
        return os.path.exists(path)
    return cancel


def _compute_point(spec_json: str, representations: bool,
                   summarise: Callable | None, cancel: Callable[[], bool] | None,
                   progress: Callable[..., None] | None = None
                   ) -> tuple[bytes, bytes, dict | None, float]:
    from noisealign.engine.base.cancel import cancel_scope
    from noisealign.engine.pipeline.run import run_experiment
    t0 = time.perf_counter()
    spec = ExperimentSpec.from_json(spec_json)
    with cancel_scope(cancel):  # the summary's measures poll it too (noisealign.engine.base.cancel)
        result = run_experiment(spec, progress=progress, cancel=cancel)
        summary = summarise(result) if summarise is not None else None
    # A summary computed in the worker must still be JSON-able (checked by the driver).
    meta, npz = result.to_bytes(representations=representations)
    return meta, npz, summary, time.perf_counter() - t0


def _file_progress(path: str | None) -> Callable[..., None] | None:
    """An epoch callback that writes "epoch max_epochs" to ``path`` (atomically, at most
    5 times a second): how a worker process tells its driver how far a point is."""
    if not path:
        return None
    state = {"t": 0.0}

    def progress(epoch: int, max_epochs: int, *_: Any) -> None:
        now = time.monotonic()
        if now - state["t"] < 0.2 and epoch < max_epochs:
            return
        state["t"] = now
        with contextlib.suppress(OSError):
            tmp = f"{path}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(f"{int(epoch)} {int(max_epochs)}")
            os.replace(tmp, path)
    return progress


RUNNING_PROGRESS_SECONDS = 1.0  # how often running_progress is called (the page polls 1/s)


def _read_progress(path: str) -> float:
    """The fraction of its epochs a worker's point has trained (0 when unknown)."""
    try:
        with open(path) as f:
            epoch, max_epochs = (int(x) for x in f.read().split())
        return min(1.0, epoch / max(1, max_epochs))
    except (OSError, ValueError):
        return 0.0


def _local_task(spec_json: str, representations: bool, summarise: Callable | None,
                cancel_path: str | None, env: dict[str, str],
                progress_path: str | None = None
                ) -> tuple[bytes, bytes, dict | None, float]:
    # Forkserver children inherit the server's environment from when it started, not
    # the driver's current one: pass the engine's settings (data directory...) along,
    # and drop those the driver no longer has (a warm worker serves many sweeps).
    for k in [k for k in os.environ if k.startswith("NOISEALIGN_") and k not in env]:
        del os.environ[k]
    os.environ.update(env)
    return _compute_point(spec_json, representations, summarise, _file_cancel(cancel_path),
                          _file_progress(progress_path))


def _engine_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("NOISEALIGN_")}


# The lease of a Dask sweep: its driver bumps a counter on the scheduler every
# LEASE_BEAT_SECONDS; a worker whose point sees no new value for LEASE_SECONDS stops it
# (the driver was killed, by any signal, or lost its connection), so a cluster never
# trains for a dead driver. Counted on the worker's own clock: no clock is compared
# between machines.
LEASE_BEAT_SECONDS = 1.0
LEASE_SECONDS = 6.0


class _Lease:
    """The worker's side of the lease: :meth:`expired` once the driver's counter has not
    moved for ``LEASE_SECONDS`` (or cannot be read for as long)."""

    def __init__(self, name: str) -> None:
        from distributed import Variable
        self._var = Variable(name)
        self._value: Any = None
        self._moved = time.monotonic()

    def expired(self) -> bool:
        now = time.monotonic()
        try:
            value = self._var.get(timeout=LEASE_BEAT_SECONDS)
        except Exception:  # noqa: BLE001 -- unset, unreachable: the clock runs on
            value = self._value
        if value != self._value:
            self._value, self._moved = value, now
        return now - self._moved > LEASE_SECONDS


def _dask_task(spec_json: str, representations: bool, summarise: Callable | None,
               threads: int, cancel_event: str | None,
               lease: str | None = None) -> tuple[bytes, bytes, dict | None, float]:
    _init_worker(threads)
    cancel = None
    if cancel_event or lease:
        from distributed import Event
        event = Event(cancel_event) if cancel_event else None
        held = _Lease(lease) if lease else None
        state = {"t": time.monotonic(), "stop": False}

        def cancel() -> bool:  # noqa: F811 - a round trip to the scheduler: at most 1/s
            now = time.monotonic()
            if state["stop"] or now - state["t"] < 1.0:
                return state["stop"]
            state["t"] = now
            with contextlib.suppress(Exception):
                if event is not None and event.is_set():
                    state["stop"] = True
            if held is not None and held.expired():
                log.warning("sweep driver's lease %s expired: stopping its point", lease)
                state["stop"] = True
            return state["stop"]
    return _compute_point(spec_json, representations, summarise, cancel)


def _beat(client: Any, name: str, stop: Any) -> None:
    """The driver's side of the lease: bump the counter ``name`` until ``stop`` is set."""
    from distributed import Variable
    var = Variable(name, client=client)
    n = 0
    while not stop.is_set():
        n += 1
        with contextlib.suppress(Exception):
            var.set(n)
        stop.wait(LEASE_BEAT_SECONDS)


def _picklable(fn: Callable) -> bool:
    try:
        pickle.dumps(fn)
        return True
    except Exception:
        return False


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available (children fork from a server that has already imported
    torch: fast starts, and the driver's threads are never forked); else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # torch._dynamo: imported by the first optimiser step (seconds); preloaded once here.
        ctx.set_forkserver_preload(["noisealign.engine.pipeline.run", "torch._dynamo"])
        return ctx
    return multiprocessing.get_context("spawn")


# ----------------------------------------------------------------------------- driver


def run_sweep(sweep: Sweep, cache: ResultCache, *, executor: str = "local",
              workers: int | None = None, scheduler: Any = None,
              progress: Callable[[SweepProgress], None] | None = None,
              cancel: Callable[[], bool] | None = None,
              threads_per_worker: int | None = None,
              epoch_progress: Callable[[int, int, int], None] | None = None,
              max_sweep_seconds: float | None = None,
              pool: Any = None,
              running_progress: Callable[[int, list[float]], None] | None = None,
              shard: tuple[int, int] | None = None
              ) -> Iterator[SweepPoint]:
    """Compute a sweep, yielding each point as it finishes (cached points first).

    ``shard=(i, n)``: only the i-th of n disjoint slices of the grid (points whose
    index in ``sweep.specs()`` is i modulo n, 0 <= i < n): n array tasks on one shared
    cache compute every point once, and the whole sweep run afterwards loads them all
    (:func:`shard_indices`).

    ``workers``: processes (local; default one per core) or Dask workers of a new
    ``LocalCluster`` (default one per core); ignored for an existing scheduler.
    ``threads_per_worker``: torch threads per point (default ``cores // workers``;
    1 on an existing scheduler). ``progress(SweepProgress)`` is called at the start and
    after every point. ``cancel()`` is polled about every 0.1 s: when it returns True
    nothing more is submitted, pending points are cancelled, running ones stop at their
    next epoch, and the iterator ends. Closing the iterator early does the same.
    ``epoch_progress(done, epoch, max_epochs)`` (serial executor only, where training
    runs in the caller's process) is called every epoch of the point being trained, with
    ``done`` the points finished before it: a job can show progress within a point.
    A failed point raises :class:`SweepError` after the others are stopped.

    ``pool`` (local executor only): an :class:`noisealign.engine.compute.workers.WarmPool` whose processes
    run the points and stay up after the sweep (no process start per sweep); at most
    :func:`noisealign.engine.compute.workers.concurrent_points` points are in flight, so what runs at once
    fits the memory guard. ``running_progress(done, fractions)`` (local executor) is
    called about once a second with the points finished and the epoch fraction of each
    point being trained.

    The sweep guard: the summed estimate of the missing points
    (:func:`noisealign.engine.compute.guard.check_sweep`) must stay within ``max_sweep_seconds`` (default
    ``$NOISEALIGN_MAX_SWEEP_SECONDS``, else 4 h), else :class:`noisealign.engine.compute.guard.
    ResourceLimitError` (a ``ValueError`` stating the estimate and the limit) is raised
    here, before anything runs; ``max_sweep_seconds=math.inf`` skips the check.

    Arguments are checked when this is called, before anything runs. As with any
    process pool, a script that runs a local sweep must guard its entry point with
    ``if __name__ == "__main__":`` (worker processes import the main module).
    """
    if not isinstance(sweep, Sweep):
        raise ValueError(f"sweep must be a Sweep, got {type(sweep).__name__}")
    if not isinstance(cache, ResultCache):
        raise ValueError(f"cache must be a ResultCache, got {type(cache).__name__}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor={executor!r} is invalid: allowed one of "
                         + ", ".join(repr(e) for e in EXECUTORS))
    cores = os.cpu_count() or 1
    for name, v in (("workers", workers), ("threads_per_worker", threads_per_worker)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 4096):
            raise ValueError(f"{name}={v!r} is invalid: allowed an integer in [1, 4096] or None")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"scheduler={scheduler!r} is only used with executor='dask', not "
                         f"{executor!r}")
    if pool is not None and executor != "local":
        raise ValueError(f"pool is only used with executor='local', not {executor!r}")
    if running_progress is not None and executor != "local":
        raise ValueError("running_progress is only used with executor='local', not "
                         f"{executor!r}")
    if epoch_progress is not None and executor != "serial":
        raise ValueError("epoch_progress is only used with executor='serial' (other "
                         f"executors train in other processes), not {executor!r}")
    indices = shard_indices(len(sweep), shard)
    if max_sweep_seconds is None or max_sweep_seconds != math.inf:
        from noisealign.engine.compute.guard import check_sweep
        check_sweep(sweep, cache, max_sweep_seconds=max_sweep_seconds)
    return _sweep_points(sweep, cache, executor, workers, scheduler, progress, cancel,
                         threads_per_worker, cores, epoch_progress, pool, running_progress,
                         indices)


def parse_shard(text: Any) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N <= MAX_POINTS (ValueError naming --shard)."""
    parts = str(text).split("/")
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        i = n = None
    if i is None or not (1 <= n <= MAX_POINTS and 0 <= i < n):
        raise ValueError(f"--shard {str(text)[:40]!r} is invalid: allowed I/N with N in "
                         f"[1, {MAX_POINTS}] and I in [0, N - 1] (e.g. --shard "
                         "$SLURM_ARRAY_TASK_ID/3 for an array --array=0-2)")
    return i, n


def shard_indices(total: int, shard: tuple[int, int] | None) -> list[int]:
    """The grid indices of ``shard=(i, n)`` (all of them for None): every i-th of n, so
    the slices are disjoint, cover the grid, and differ in size by at most one."""
    if shard is None:
        return list(range(total))
    if (not isinstance(shard, tuple) or len(shard) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
            or not (1 <= shard[1] <= MAX_POINTS and 0 <= shard[0] < shard[1])):
        raise ValueError(f"shard={shard!r} is invalid: allowed (i, n) with n in "
                         f"[1, {MAX_POINTS}] and i in [0, n - 1], or None")
    i, n = shard
    return list(range(i, total, n))


def _sweep_points(sweep: Sweep, cache: ResultCache, executor: str, workers: int | None,
                  scheduler: Any, progress: Callable[[SweepProgress], None] | None,
                  cancel: Callable[[], bool] | None, threads_per_worker: int | None,
                  cores: int, epoch_progress: Callable[[int, int, int], None] | None = None,
                  pool: Any = None,
                  running_progress: Callable[[int, list[float]], None] | None = None,
                  indices: Sequence[int] | None = None) -> Iterator[SweepPoint]:
    specs, points = sweep.specs(), sweep.points()
    indices = range(len(specs)) if indices is None else indices
    total = len(indices)
    t0 = time.perf_counter()
    state = {"done": 0, "computed": 0, "t_compute": None}

    def report() -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - t0
        remaining = None
        if state["computed"] and state["t_compute"] is not None:
            rate = (time.perf_counter() - state["t_compute"]) / state["computed"]
            remaining = rate * (total - state["done"])
        elif state["done"] == total:
            remaining = 0.0
        progress(SweepProgress(state["done"], total, elapsed, remaining))

    def cached(i: int) -> SweepPoint | None:
        t = time.perf_counter()
        spec = specs[i]
        summary = cache.get_summary(spec) if cache.has(spec) else None
        if summary is None:
            return None
        state["done"] += 1
        report()
        return SweepPoint(spec, points[i], summary, True, time.perf_counter() - t, cache.key(spec))

    report()
    todo: list[int] = []
    for i in indices:
        if cancel is not None and cancel():
            return
        point = cached(i)
        if point is None:
            todo.append(i)
        else:
            yield point
    if not todo:
        return

    state["t_compute"] = time.perf_counter()
    summarise = cache.summarise
    if summarise is default_summarise or _picklable(summarise):
        remote_summarise: Callable | None = summarise
    else:
        remote_summarise = None  # a lambda, say: the driver summarises instead
    # Workers send representations when the cache keeps them, or when the driver must
    # summarise (summaries need them); put_serialised drops what the cache does not keep.
    reps = cache.store_representations or remote_summarise is None

    def finish(i: int, payload: tuple) -> SweepPoint:
        meta, npz, summary, seconds = payload
        spec = specs[i]
        if summary is None:
            from noisealign.engine.pipeline.result import Result
            summary = cache.summary_of(Result.from_bytes(meta, npz))
        else:
            summary = json.loads(json.dumps(summary, default=json_default))
        cache.put_serialised(spec, meta, npz, summary)
        state["done"] += 1
        state["computed"] += 1
        report()
        return SweepPoint(spec, points[i], summary, False, seconds, cache.key(spec))

    def failed(i: int, e: BaseException) -> SweepError:
        if isinstance(e, BrokenProcessPool):
            # The pool's own message ("terminated abruptly") says neither why nor what next.
            return SweepError(f"sweep point {points[i]} failed: its worker process died "
                              "(killed, or out of memory); the points finished before it "
                              "are cached: run the sweep again to resume")
        return SweepError(f"sweep point {points[i]} failed: {type(e).__name__}: {e}")

    if executor == "serial":
        from noisealign.engine.base.errors import Cancelled
        for i in todo:
            if cancel is not None and cancel():
                return
            try:
                # Waits while another process or thread computes the same spec.
                with cache.lock(specs[i], cancel=cancel):
                    point = cached(i)
                    if point is None:  # in this process: any summarise will do
                        on_epoch = None
                        if epoch_progress is not None:
                            def on_epoch(epoch: int, max_epochs: int, *_: Any,
                                         _done: int = state["done"]) -> None:
                                epoch_progress(_done, epoch, max_epochs)
                        point = finish(i, _compute_point(specs[i].to_json(), reps,
                                                         summarise, cancel, on_epoch))
            except Cancelled:
                return
            except Exception as e:
                raise failed(i, e) from e
            yield point
        return

    drive = _Driver(specs, todo, cache, cancel, cached, finish, failed)
    if executor == "local":
        n_workers = pool.workers if pool is not None else (workers or cores)
        threads = threads_per_worker or max(1, cores // n_workers)
        on_running = None
        if running_progress is not None:
            def on_running(fractions: list[float]) -> None:
                running_progress(state["done"], fractions)
        yield from _run_local(drive, reps, remote_summarise, n_workers, threads, pool,
                              on_running)
    else:
        yield from _run_dask(drive, reps, remote_summarise, workers, scheduler,
                             threads_per_worker, cores)


@dataclass
class _Driver:
    """The submission loop shared by the pool executors.

    At most ``window`` points are in flight. Before submitting a point the driver takes
    its computation lock without waiting (:meth:`ResultCache.try_lock`): if someone
    else (a dashboard session, another sweep) is computing it, the point is set aside
    and checked again later, so it is computed once and then loaded from the cache.
    """

    specs: list
    todo: list
    cache: ResultCache
    cancel: Callable[[], bool] | None
    cached: Callable[[int], SweepPoint | None]
    finish: Callable[[int, tuple], SweepPoint]
    failed: Callable[[int, BaseException], SweepError]

    def run(self, submit: Callable[[int], Any],
            wait_any: Callable[[list, float], Iterable], window: int) -> Iterator[SweepPoint]:
        queue = collections.deque(self.todo)
        deferred: list[int] = []
        running: dict[Any, tuple[int, Any]] = {}  # future -> (index, held lock)
        next_retry = 0.0
        try:
            while queue or running or deferred:
                if self.cancel is not None and self.cancel():
                    return
                while queue and len(running) < window:
                    i = queue.popleft()
                    held = self.cache.try_lock(self.specs[i])
                    if held is None:
                        deferred.append(i)  # being computed elsewhere
                        continue
                    point = self.cached(i)  # finished while we were busy?
                    if point is not None:
                        held.release()
                        yield point
                        continue
                    try:
                        running[submit(i)] = (i, held)
                    except BaseException:
                        held.release()
                        raise
                if deferred and not queue and time.monotonic() >= next_retry:
                    next_retry = time.monotonic() + 0.25
                    queue.extend(deferred)
                    deferred.clear()
                    continue
                if not running:
                    time.sleep(0.05)
                    continue
                for fut in wait_any(list(running), 0.1):
                    i, held = running.pop(fut)
                    try:
                        try:
                            payload = fut.result()
                        except Exception as e:
                            raise self.failed(i, e) from e
                        point = self.finish(i, payload)
                    finally:
                        held.release()
                    yield point
        finally:
            for _, held in running.values():
                held.release()


def _run_local(drive: _Driver, reps: bool, summarise: Callable | None, n_workers: int,
               threads: int, warm: Any = None,
               on_running: Callable[[list[float]], None] | None = None
               ) -> Iterator[SweepPoint]:
    cancel_dir = tempfile.mkdtemp(prefix="noisealign-sweep-")
    cancel_path = os.path.join(cancel_dir, "cancel")
    env = _engine_env()
    if warm is not None:  # a warm pool's processes outlive this sweep
        from noisealign.engine.compute.workers import concurrent_points
        pool = warm.executor()
        window = concurrent_points([drive.specs[i] for i in drive.todo], n_workers)
    else:
        pool = cf.ProcessPoolExecutor(max_workers=min(n_workers, len(drive.todo)),
                                      mp_context=_mp_context(), initializer=_init_worker,
                                      initargs=(threads, (os.getpid(),
                                                          _process_start(os.getpid()))))
        window = 2 * n_workers
    progress_files: dict[Any, str] = {}

    def submit(i: int) -> cf.Future:
        path = os.path.join(cancel_dir, f"progress-{i}") if on_running is not None else None
        fut = pool.submit(_local_task, drive.specs[i].to_json(), reps, summarise,
                          cancel_path, env, path)
        if path is not None:
            progress_files[fut] = path
        return fut

    last_report = {"t": 0.0}

    def wait_any(futures: list, timeout: float) -> Iterable:
        done = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)[0]
        if on_running is not None:
            for fut in done:
                progress_files.pop(fut, None)
            now = time.monotonic()
            if done or now - last_report["t"] >= RUNNING_PROGRESS_SECONDS:
                last_report["t"] = now
                on_running([_read_progress(p) for f, p in progress_files.items()
                            if f.running()])
        return done

    submitted: list[cf.Future] = []

    def submit_tracked(i: int) -> cf.Future:
        fut = submit(i)
        submitted.append(fut)
        return fut

    try:
        yield from drive.run(submit_tracked, wait_any, window=window)
    finally:
        # Normal end, cancel, failure or the consumer closing the iterator: running
        # workers stop at their next epoch, queued points are dropped, and the
        # processes are waited for (a warm pool's: the points, not the processes).
        Path(cancel_path).touch()
        if warm is None:
            pool.shutdown(wait=True, cancel_futures=True)
        else:
            for fut in submitted:
                fut.cancel()
            cf.wait(submitted)
        shutil.rmtree(cancel_dir, ignore_errors=True)


SCHEDULER_CONNECT_SECONDS = 5.0  # distributed's default (30 s) is long to wait for a typo


def _connect(Client: Any, address: str) -> Any:
    """A client of the scheduler at ``address``, or :class:`SchedulerUnreachable` (one
    line: the address and what to check) once ``SCHEDULER_CONNECT_SECONDS`` pass."""
    from noisealign.engine.base.errors import SchedulerUnreachable
    try:
        return Client(address, timeout=SCHEDULER_CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SchedulerUnreachable(
            f"cannot reach the Dask scheduler at {address!r} within "
            f"{SCHEDULER_CONNECT_SECONDS:g} s ({reason[:200]}): start one with `dask "
            "scheduler` and give its tcp://host:port address") from None


def _run_dask(drive: _Driver, reps: bool, summarise: Callable | None, workers: int | None,
              scheduler: Any, threads_per_worker: int | None, cores: int
              ) -> Iterator[SweepPoint]:
    try:
        from distributed import Client, Event, LocalCluster, wait
    except ImportError as e:  # pragma: no cover - distributed is a requirement
        raise ValueError("executor='dask' needs the 'distributed' package "
                         "(pip install 'dask[distributed]')") from e
    cluster = None
    own_client = True
    if scheduler is None:
        n = workers or cores
        threads = threads_per_worker or max(1, cores // n)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    elif isinstance(scheduler, str):
        threads = threads_per_worker or 1
        client = _connect(Client, scheduler)
    elif isinstance(scheduler, Client):
        threads = threads_per_worker or 1
        client, own_client = scheduler, False
    else:
        raise ValueError(f"scheduler={scheduler!r} is invalid: allowed a scheduler address "
                         "like 'tcp://host:8786', a distributed.Client, or None for a new "
                         "LocalCluster")
    event_name = f"noisealign-sweep-cancel-{uuid.uuid4().hex}"
    lease_name = f"noisealign-sweep-lease-{uuid.uuid4().hex}"
    submitted: list = []
    import threading
    beating = threading.Event()
    beat = threading.Thread(target=_beat, args=(client, lease_name, beating), daemon=True,
                            name="noisealign-sweep-lease")
    beat.start()

    def submit(i: int) -> Any:
        # pure=False: a task per request; the driver's cache and locks deduplicate.
        fut = client.submit(_dask_task, drive.specs[i].to_json(), reps, summarise, threads,
                            event_name, lease_name, pure=False)
        submitted.append(fut)
        return fut

    def wait_any(futures: list, timeout: float) -> Iterable:
        try:
            return wait(futures, timeout=timeout, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            return ()

    try:
        slots = sum(client.nthreads().values()) or 1
        yield from drive.run(submit, wait_any, window=2 * slots)
    finally:
        beating.set()
        unfinished = [f for f in submitted if not f.done()]
        if unfinished:
            with contextlib.suppress(Exception):
                Event(event_name, client=client).set()
            with contextlib.suppress(Exception):
                client.cancel(unfinished)
        if own_client:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()
