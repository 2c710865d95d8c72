"""The executors of a sweep: what runs its points in other processes, and the loop that feeds them.

- worker side: a point computed from its spec's JSON (:func:`_compute_point`), the local
  workers' set-up (torch threads, watching the driver), their cancel and progress files,
  and the Dask workers' lease on their driver;
- driver side: :class:`_Driver` (submission, computation locks, at most a window of points
  in flight), the local process pool (:func:`_run_local`, or a warm
  :class:`noisealign.engine.compute.workers.WarmPool`) and Dask (:func:`_run_dask`).

Apart from :mod:`noisealign.engine.compute.sweep`, which chooses among these and yields
the points: the process machinery is the longest part of a sweep and the one a newcomer
needs least to follow what a sweep does. Functions the workers run are module-level (they
are pickled by name).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import logging
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..pipeline.spec import ExperimentSpec
from ..store.cache import ResultCache
from .grid import SweepError, SweepPoint

log = logging.getLogger(__name__)

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
    from ..base.cancel import cancel_scope
    from ..pipeline.run import run_experiment
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
        last, stop = time.monotonic(), False

        def cancel() -> bool:  # a round trip to the scheduler: at most 1/s
            nonlocal last, stop
            now = time.monotonic()
            if stop or now - last < 1.0:
                return stop
            last = now
            with contextlib.suppress(Exception):
                if event is not None and event.is_set():
                    stop = True
            if held is not None and held.expired():
                log.warning("sweep driver's lease %s expired: stopping its point", lease)
                stop = True
            return stop
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
    except Exception:  # noqa: BLE001 -- whatever pickling raises, it cannot be sent
        return False


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available (children fork from a server that has already imported
    torch: fast starts, and the driver's threads are never forked); else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Not torch._dynamo: training no longer imports it (engine/pipeline/optim.py), and
        # preloading it cost every new pool about 1.6 s.
        ctx.set_forkserver_preload(["noisealign.engine.pipeline.run"])
        return ctx
    return multiprocessing.get_context("spawn")


# ----------------------------------------------------------------------------- driver


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
        from .guard import concurrent_points
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
    from ..base.errors import SchedulerUnreachable
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
