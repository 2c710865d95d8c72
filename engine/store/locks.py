"""The results cache's computation locks: single flight across threads and processes.

A :class:`ComputeLock` holds a per-process thread lock of one (cache directory, key) and,
where ``fcntl`` exists, an ``flock`` on ``<dir>/locks/<key>.lock`` that the OS releases
if its holder dies (even by SIGKILL). :func:`acquire` takes one, waiting or not.

Apart from :mod:`noisealign.engine.store.cache`: the lock protocol (reference-counted
thread-lock slots, lock files, their clean-up) is independent of how entries are stored.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .files import CacheWarning, _private_dir

if TYPE_CHECKING:
    from typing import Self  # Python 3.11; the project supports 3.10

try:  # POSIX; on other systems single flight is per process only (thread locks).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_THREAD_LOCKS: dict[tuple[str, str], list] = {}  # (directory, key) -> [lock, users]
_THREAD_LOCKS_GUARD = threading.Lock()


class ComputeLock:
    """A held computation lock of one key (see :meth:`ResultCache.try_lock`).

    Holds a per-process thread lock and, where available, an ``fcntl.flock`` on
    ``<dir>/locks/<key>.lock``, which the OS releases if the holder dies (even by
    SIGKILL). :meth:`release` is idempotent.
    """

    def __init__(self, slot_id: tuple[str, str], slot: list, fd: int | None) -> None:
        self._slot_id, self._slot, self._fd = slot_id, slot, fd
        self._held = True

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        if self._fd is not None:
            os.close(self._fd)  # releases the flock
        self._slot[0].release()
        _unref_slot(self._slot_id, self._slot)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _ref_slot(slot_id: tuple[str, str]) -> list:
    with _THREAD_LOCKS_GUARD:
        slot = _THREAD_LOCKS.setdefault(slot_id, [threading.Lock(), 0])
        slot[1] += 1
    return slot


def _unref_slot(slot_id: tuple[str, str], slot: list) -> None:
    with _THREAD_LOCKS_GUARD:
        slot[1] -= 1
        if slot[1] == 0 and _THREAD_LOCKS.get(slot_id) is slot:
            del _THREAD_LOCKS[slot_id]


def _check_cancel(cancel: Callable[[], bool] | None) -> None:
    if cancel is not None and cancel():
        from ..base.errors import Cancelled
        raise Cancelled("cancelled while waiting for another computation of the same spec")


def acquire(directory: Path, locks_dir: Path, key: str, *, blocking: bool,
            cancel: Callable[[], bool] | None = None,
            shared: Callable[[], bool] = lambda: True) -> ComputeLock | None:
    """The computation lock of ``key`` in the cache at ``directory``: waiting for it
    (``blocking``; ``cancel()`` ends the wait with ``Cancelled``), or None when held.

    Threads of this process share a thread lock per (directory, key); where ``shared()``
    says the cache is usable, processes on this host also share ``<locks_dir>/<key>.lock``.
    """
    slot_id = (str(directory.resolve()), key)
    slot = _ref_slot(slot_id)
    lock = slot[0]
    try:
        if blocking:
            while not lock.acquire(timeout=0.1):
                _check_cancel(cancel)
        elif not lock.acquire(blocking=False):
            _unref_slot(slot_id, slot)
            return None
    except BaseException:
        _unref_slot(slot_id, slot)
        raise
    fd = None
    try:
        # An unavailable cache stores nothing: other processes could not load this
        # result anyway, so only threads of this process wait for each other.
        if fcntl is not None and shared():
            try:
                _private_dir(locks_dir)
                fd = os.open(locks_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                warnings.warn(f"results cache lock for {key[:12]} unavailable ({e}): single "
                              "flight only within this process", CacheWarning, stacklevel=4)
        while fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not blocking:
                    os.close(fd)
                    lock.release()
                    _unref_slot(slot_id, slot)
                    return None
                _check_cancel(cancel)
                time.sleep(0.05)
    except BaseException:
        if fd is not None:
            os.close(fd)
        lock.release()
        _unref_slot(slot_id, slot)
        raise
    return ComputeLock(slot_id, slot, fd)


def remove_free_lock_files(locks_dir: Path) -> None:
    """Remove the lock files nobody holds; one in use stays (its holder needs it)."""
    if fcntl is not None and locks_dir.is_dir():
        for p in locks_dir.glob("*.lock"):
            with contextlib.suppress(OSError):
                fd = os.open(p, os.O_RDWR)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    p.unlink()
                finally:
                    os.close(fd)
