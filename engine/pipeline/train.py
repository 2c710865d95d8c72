"""Training the batched ensemble.

Every member minimises its own loss (MSE for regression, cross-entropy for
classification) on its own noisy data; the optimiser sees the sum, whose gradient with
respect to member ``m``'s weights is that of member ``m``'s loss alone. A member that
reaches ``loss_tol`` stops on its own (its weights are frozen from then on), so a member
ends the same whether it trains alone or in an ensemble. A member whose loss becomes NaN
or inf is marked diverged and frozen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..base.errors import Cancelled
from .epochs import log_epochs
from .model import BatchedMLP
from .optim import make_optimizer

# progress(epoch, max_epochs, losses (M,)) -- called about twice a second and at the end
ProgressFn = Callable[[int, int, np.ndarray], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class TrainOutcome:
    """Per-member training record (M members, T recorded epochs)."""

    epochs: np.ndarray            # (M,) updates each member made
    diverged: np.ndarray          # (M,) bool
    curve_epochs: np.ndarray      # (T,)
    curve_train_loss: np.ndarray  # (M, T)
    curve_test_error: np.ndarray  # (M, T)
    # Probe snapshots at the requested epochs reached before training finished (S of
    # them; the end of training is never among them): epochs (S,), test error (S, M)
    # of every member (a stopped member's frozen weights), hidden layers L arrays
    # (S, M, N, width), output (S, M, N, outputs).
    snapshot_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    snapshot_test_error: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    snapshot_hidden: tuple[np.ndarray, ...] = ()
    snapshot_output: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    snapshot_seconds: float = 0.0  # wall time spent keeping them (all they add to training)


def per_member_loss(out: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """out: (M, n, outputs), y: (M, n) -> (M,) mean loss of each member."""
    if task == "regression":
        return ((out[..., 0] - y) ** 2).mean(dim=1)
    m, n, c = out.shape
    return F.cross_entropy(out.reshape(m * n, c), y.reshape(-1), reduction="none").view(m, n).mean(1)


def per_member_error(out: torch.Tensor, y: torch.Tensor, task: str) -> torch.Tensor:
    """Test error (M,): MSE (regression) or misclassification rate; y: (n,) or (M, n)."""
    if y.dim() == 1:
        y = y.expand(out.shape[0], -1)
    if task == "regression":
        return ((out[..., 0] - y) ** 2).mean(dim=1)
    return (out.argmax(dim=-1) != y).float().mean(dim=1)


GROUP_BYTES = 4 * 2**20  # activations per group of members (tuned: BENCHMARKS.md, issue 2)


def member_groups(m_count: int, floats_per_member: int, threads: int | None = None
                  ) -> list[slice]:
    """Contiguous groups of members whose widest layer's activations fit GROUP_BYTES.

    Groups are of equal size, rounded up to a multiple of the torch threads: a batched
    matmul splits its batch across the threads, so a group of 5 on 2 threads runs as
    3 + 2 and leaves a core idle for a third of the time (measured: 25% slower).
    """
    cap = max(1, GROUP_BYTES // max(1, 4 * floats_per_member))
    n_groups = -(-m_count // cap)
    size = -(-m_count // n_groups)
    threads = torch.get_num_threads() if threads is None else threads
    size = min(m_count, -(-size // threads) * threads)
    return [slice(i, min(i + size, m_count)) for i in range(0, m_count, size)]


# Work per epoch (points x members x (parameters + activations per point), full batch)
# below which training runs on one torch thread. Such ensembles are many small
# operations, each an OpenMP parallel region whose threads spin at its barrier: idle,
# a second thread gains little there, and on a shared CPU the spinning made them up to
# 13x slower (issue 30). Above it the products are large enough for every core.
# Measured with benchmarks/bench_threads.py (BENCHMARKS.md).
ONE_THREAD_MAX_WORK = 5e7


def epoch_work(m_count: int, n: int, per_member: int) -> float:
    """The size :func:`train_threads` compares: ``m_count * n * per_member`` (points in
    one step times each member's parameters plus activation floats per point)."""
    return float(m_count) * float(n) * float(per_member)


def train_threads(m_count: int, n: int, per_member: int, available: int | None = None) -> int:
    """torch threads to train ``m_count`` members on ``n`` points per step with: 1 for
    small problems (:data:`ONE_THREAD_MAX_WORK`), else ``available`` (default: the
    current torch setting)."""
    available = torch.get_num_threads() if available is None else int(available)
    if epoch_work(m_count, n, per_member) <= ONE_THREAD_MAX_WORK:
        return 1
    return max(1, available)


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    """torch's intra-op threads set to ``count`` while training (process-wide; restored)."""
    prev = torch.get_num_threads()
    if count == prev:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


_ALLOCATOR_TUNED = False


def _keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed blocks for reuse (once per process).

    Training allocates and frees the same few (M, n, width) tensors every epoch. With
    glibc's defaults, blocks of several MB go back to the kernel on free and come back
    as fresh zeroed pages on the next allocation: about 150,000 page faults and up to a
    quarter of the time of a 200-epoch run (BENCHMARKS.md, issue 2). Raising the mmap
    and trim thresholds keeps freed memory in the process instead (up to 64 MB per
    malloc arena), as the jemalloc/tcmalloc setups of PyTorch's CPU tuning guide do. No effect
    on other C libraries or platforms.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    import ctypes
    import platform
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 * 2**20)  # glibc's largest allowed value
        libc.mallopt(m_trim_threshold, 64 * 2**20)
    except (OSError, AttributeError):  # pragma: no cover - an unusual libc
        pass


def lr_factor(schedule: str, epoch: int, max_epochs: int) -> float:
    """The learning rate of ``epoch`` as a fraction of the spec's ``lr``.

    constant: 1; cosine: ``(1 + cos(pi * epoch / max_epochs)) / 2``, from 1 down to 0;
    step: 1, then 0.1 from half of ``max_epochs`` and 0.01 from three quarters.
    """
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / max(1, max_epochs)))
    if schedule == "step":
        return 0.01 if epoch >= 0.75 * max_epochs else 0.1 if epoch >= 0.5 * max_epochs else 1.0
    return 1.0


def clip_member_gradients(params: list[torch.Tensor], max_norm: float) -> None:
    """Scale each member's gradient to a norm of at most ``max_norm`` (0: no clipping).

    The norm is each member's own, over all its parameters (dim 0 of every tensor is
    the member), so clipping never couples members: each still trains as if alone.
    """
    if not max_norm > 0:
        return
    sq = None
    for p in params:
        if p.grad is None:
            continue
        part = p.grad.detach().pow(2).reshape(p.grad.shape[0], -1).sum(dim=1)
        sq = part if sq is None else sq + part
    if sq is None:
        return
    scale = (max_norm / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    for p in params:
        if p.grad is not None:
            p.grad.mul_(scale.reshape((-1,) + (1,) * (p.grad.dim() - 1)))


def train(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, x_probe: torch.Tensor,
          y_probe: torch.Tensor, *, task: str, optimizer: str, lr: float, weight_decay: float,
          max_epochs: int, loss_tol: float, batch_size: int, shuffle_seed: int,
          lr_schedule: str = "constant", grad_clip: float = 0.0, momentum: float = 0.0,
          progress: ProgressFn | None = None, cancel: CancelFn | None = None,
          snapshot_at: Sequence[int] = (), threads: int | None = None) -> TrainOutcome:
    """Train all members in place.

    x: (n, d) or (M, n, d); y: (M, n); x_probe: (N, d); y_probe: (N,).
    ``batch_size`` 0 means full batch. Minibatches follow one permutation per epoch,
    drawn from ``shuffle_seed`` and shared by all members. ``lr_schedule`` sets each
    epoch's learning rate (:func:`lr_factor`); ``grad_clip`` > 0 clips each member's
    gradient norm before every step (:func:`clip_member_gradients`). A member stops when
    its full-data training loss falls below ``loss_tol`` or at ``max_epochs``.
    ``snapshot_at``: epochs (among :func:`log_epochs`) at which to keep the probe
    representations, except the epoch training finishes at (the caller has those).
    ``threads``: torch threads on the CPU; None chooses them from the problem's size
    (:func:`train_threads`: one for small ensembles), restored afterwards.
    """
    if threads is None:
        n_step = y.shape[1] if batch_size == 0 else min(int(batch_size), y.shape[1])
        params_per_member = sum(p.numel() for p in [*model.weights, *model.biases]) \
            // max(1, model.n_members)
        threads = train_threads(model.n_members, n_step,
                                params_per_member + model.floats_per_point())
    if x.device.type != "cpu":
        threads = torch.get_num_threads()
    with _threads(max(1, int(threads))):
        return _train(model, x, y, x_probe, y_probe, task=task, optimizer=optimizer, lr=lr,
                      weight_decay=weight_decay, max_epochs=max_epochs, loss_tol=loss_tol,
                      batch_size=batch_size, shuffle_seed=shuffle_seed,
                      lr_schedule=lr_schedule, grad_clip=grad_clip, momentum=momentum,
                      progress=progress, cancel=cancel, snapshot_at=snapshot_at)


def _train(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, x_probe: torch.Tensor,
           y_probe: torch.Tensor, *, task: str, optimizer: str, lr: float, weight_decay: float,
           max_epochs: int, loss_tol: float, batch_size: int, shuffle_seed: int,
           lr_schedule: str, grad_clip: float, momentum: float,
           progress: ProgressFn | None, cancel: CancelFn | None,
           snapshot_at: Sequence[int]) -> TrainOutcome:
    _keep_freed_memory()
    params = [*model.weights, *model.biases]  # the order of model.group_params
    # The fused optimisers update each parameter in one pass over memory; with all K
    # members' weights in one tensor, the multi-pass default is memory-bound. They are
    # called without torch.optim (noisealign.engine.pipeline.optim): constructing a torch.optim optimiser
    # imports torch._dynamo, ~2 s of every process; the updates are bit-identical.
    opt = make_optimizer(optimizer, params, lr=lr, weight_decay=weight_decay,
                         momentum=momentum if optimizer == "sgd" else 0.0)
    m_count = model.n_members
    n = y.shape[1]
    full_batch = batch_size == 0 or batch_size >= n
    shuffle = torch.Generator().manual_seed(shuffle_seed)
    recorder = _Recorder(max_epochs, snapshot_at)
    members = _Members.start(m_count, max_epochs)
    last_report = time.monotonic()

    # Groups are for CPU caches; a GPU wants all members in each kernel launch, and so
    # do grouped convolutions (a model says which it is: GROUPED_ON_CPU).
    groups = (member_groups(m_count, n * model.floats_per_point())
              if params[0].device.type == "cpu" and model.GROUPED_ON_CPU
              else [slice(0, m_count)])

    for epoch in range(max_epochs + 1):
        if cancel is not None and cancel():
            raise Cancelled(f"training cancelled at epoch {epoch}")
        if full_batch:
            losses = _grouped_losses_and_gradients(model, x, y, task, params, opt, groups,
                                                   members.stopped)
        else:
            with torch.no_grad():
                out, _ = model(x)
                losses = per_member_loss(out, y, task)
        loss_np = losses.detach().cpu().numpy().astype(np.float64)
        members.stop(loss_np, loss_tol, epoch, params)

        finished = bool(members.stopped.all()) or epoch == max_epochs
        if epoch in recorder.record or finished:
            recorder.measure(model, x_probe, y_probe, task, epoch, finished, loss_np, members)
        now = time.monotonic()
        if progress is not None and (now - last_report > 0.5 or finished):
            progress(epoch, max_epochs, loss_np)
            last_report = now
        if finished:
            break

        # ---- one epoch of updates
        _set_learning_rate(opt, lr, lr_schedule, epoch, max_epochs)
        if full_batch:
            clip_member_gradients(params, grad_clip)
            opt.step()  # gradients were computed with the losses above
        else:
            _minibatch_epoch(model, x, y, task, params, opt, batch_size, shuffle,
                             members.stopped, grad_clip)
        members.restore_frozen(params)

    return recorder.outcome(members)


@dataclass
class _Members:
    """Which members have stopped, whether they diverged, the epoch each stopped at
    and the weights it stopped with."""

    stopped: np.ndarray                   # (M,) bool
    diverged: np.ndarray                  # (M,) bool
    epochs: np.ndarray                    # (M,) updates each member made
    frozen: dict[int, list[torch.Tensor]]  # member -> its weights when it stopped

    @classmethod
    def start(cls, m_count: int, max_epochs: int) -> _Members:
        return cls(np.zeros(m_count, bool), np.zeros(m_count, bool),
                   np.full(m_count, max_epochs), {})

    def stop(self, loss_np: np.ndarray, loss_tol: float, epoch: int,
             params: list[torch.Tensor]) -> None:
        """Stop the members whose loss reached ``loss_tol`` or is no longer finite."""
        newly_bad = ~np.isfinite(loss_np) & ~self.stopped
        newly_done = (loss_np < loss_tol) & ~self.stopped
        for m in np.flatnonzero(newly_bad | newly_done):
            self.diverged[m] = bool(newly_bad[m])
            self.stopped[m] = True
            self.epochs[m] = epoch
            self.frozen[int(m)] = [p.detach()[m].clone() for p in params]

    def restore_frozen(self, params: list[torch.Tensor]) -> None:
        """Put the stopped members' weights back after a step."""
        if self.frozen:
            # Weight decay and optimiser momentum would still move stopped members.
            with torch.no_grad():
                for m, saved in self.frozen.items():
                    for p, s in zip(params, saved):
                        p[m] = s


def _grouped_losses_and_gradients(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor,
                                  task: str, params: list[torch.Tensor], opt: Any,
                                  groups: list[slice], stopped: np.ndarray) -> torch.Tensor:
    """The full-batch loss of every member (M,), its gradients left in ``params``."""
    # Forward and backward one cache-sized group of members at a time: the
    # activations of a group stay in the CPU's cache between the passes. The
    # gradient of member m depends on member m alone, so grouping changes nothing
    # but speed. Members stopped before this epoch get no gradient; those that
    # stop now are restored after the step (below).
    # Each group's gradients are taken with respect to its own slices of the
    # parameters and written straight into the gradient tensors: going through
    # autograd's slicing would zero-fill and add a full-size gradient per group.
    parts = []
    grads: list[torch.Tensor] = []
    if len(groups) == 1:
        opt.zero_grad(set_to_none=True)
    else:
        grads = [torch.empty_like(p) for p in params]  # every slice is written below
        for p, buf in zip(params, grads):
            p.grad = buf
    for g in groups:
        xg = x[g] if x.dim() == 3 else x
        group = model.group_params(g)
        out, _ = model(xg, params=group)
        lg = per_member_loss(out, y[g], task)
        mask = torch.as_tensor(stopped[g], device=lg.device)
        masked = torch.where(mask, 0.0, lg).sum()
        if len(groups) == 1:
            masked.backward()
        else:
            for buf, grad in zip(grads, torch.autograd.grad(masked, group)):
                buf[g] = grad
        parts.append(lg.detach())
    return torch.cat(parts)


def _set_learning_rate(opt: Any, lr: float, lr_schedule: str, epoch: int,
                       max_epochs: int) -> None:
    if lr_schedule != "constant":
        for group in opt.param_groups:
            group["lr"] = lr * lr_factor(lr_schedule, epoch, max_epochs)


def _minibatch_epoch(model: BatchedMLP, x: torch.Tensor, y: torch.Tensor, task: str,
                     params: list[torch.Tensor], opt: Any, batch_size: int,
                     shuffle: torch.Generator, stopped: np.ndarray, grad_clip: float) -> None:
    """One pass over a fresh permutation of the points, one step per minibatch."""
    n = y.shape[1]
    perm = torch.randperm(n, generator=shuffle).to(y.device)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        xb = x[:, idx] if x.dim() == 3 else x[idx]
        out, _ = model(xb)
        lb = per_member_loss(out, y[:, idx], task)
        opt.zero_grad(set_to_none=True)
        torch.where(torch.as_tensor(stopped, device=lb.device), 0.0, lb).sum().backward()
        clip_member_gradients(params, grad_clip)
        opt.step()


class _Recorder:
    """The curves at the recorded epochs and the probe-set snapshots."""

    def __init__(self, max_epochs: int, snapshot_at: Sequence[int]) -> None:
        self.record = set(log_epochs(max_epochs).tolist())
        self.snap_at = {int(e) for e in snapshot_at}
        if not self.snap_at <= self.record:
            raise ValueError(f"snapshot_at={sorted(self.snap_at - self.record)} are not recorded epochs")
        # Snapshots are copied into buffers allocated at the first one (numpy: pages are
        # touched only as they are written), so the forward pass's tensors go back to the
        # allocator as usual and nothing is stacked at the end.
        self.snap_bufs: list[np.ndarray] = []  # hidden layers..., output: (S, M, N, features)
        self.snap_err = np.zeros((0, 0))
        self.snap_done: list[int] = []
        self.snap_seconds = 0.0
        self.rec_epochs: list[int] = []
        self.rec_loss: list[np.ndarray] = []
        self.rec_err: list[np.ndarray] = []

    def measure(self, model: BatchedMLP, x_probe: torch.Tensor, y_probe: torch.Tensor,
                task: str, epoch: int, finished: bool, loss_np: np.ndarray,
                members: _Members) -> None:
        """Record the epoch's loss and probe error (and a snapshot when one is due)."""
        with torch.no_grad():
            out_p, hidden_p = model(x_probe)
            err = per_member_error(out_p, y_probe, task).cpu().numpy()
        if epoch in self.snap_at and not finished:
            self._snapshot(epoch, [*hidden_p, out_p], err)
        training = ~members.stopped | (members.epochs == epoch)  # members that stopped earlier: NaN
        self.rec_epochs.append(epoch)
        self.rec_loss.append(np.where(training, loss_np, np.nan))
        self.rec_err.append(np.where(training, err, np.nan))

    def _snapshot(self, epoch: int, layers: list[torch.Tensor], err: np.ndarray) -> None:
        t_snap = time.perf_counter()
        if not self.snap_bufs:
            self.snap_bufs = [np.empty((len(self.snap_at), *t.shape), np.float32) for t in layers]
            self.snap_err = np.empty((len(self.snap_at), len(err)))
        j = len(self.snap_done)
        for buf, t in zip(self.snap_bufs, layers):
            buf[j] = t.detach().to("cpu", torch.float32).numpy()
        self.snap_err[j] = err
        self.snap_done.append(epoch)
        self.snap_seconds += time.perf_counter() - t_snap

    def outcome(self, members: _Members) -> TrainOutcome:
        # Curves: the loss and test error at each recorded epoch while a member trained,
        # NaN after it stopped; the last column is the end of training.
        outcome = TrainOutcome(members.epochs, members.diverged, np.asarray(self.rec_epochs),
                               np.stack(self.rec_loss, axis=1), np.stack(self.rec_err, axis=1))
        if not self.snap_done:
            return outcome
        s = len(self.snap_done)  # fewer than planned when training stopped early
        return dataclasses.replace(
            outcome, snapshot_epochs=np.asarray(self.snap_done, dtype=np.int64),
            snapshot_test_error=self.snap_err[:s],
            snapshot_hidden=tuple(b[:s] for b in self.snap_bufs[:-1]),
            snapshot_output=self.snap_bufs[-1][:s], snapshot_seconds=self.snap_seconds)
