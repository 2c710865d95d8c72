"""Every reach into diskcache's internals, behind one module: the pickle-free :class:`_SafeDisk`
and the few index reads and private attributes the results cache needs.

diskcache has no public API for what :mod:`noisealign.engine.store.cache` does beyond
get/set: reading its index without recording a use (``Cache._sql``), checking a row's
value file before it is opened (``Cache._disk``), writing value files owner-only
(``Disk._write``), and the storage modes of ``diskcache.core``. Kept here, one module
says what a diskcache release must provide, and ``tests/store/test_diskcache_adapter.py``
checks it against the installed one. Nothing here is ever pickled or unpickled.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sqlite3
import stat
import time
import warnings
from pathlib import Path
from typing import Any

import diskcache

from .files import CacheWarning, UnsafeEntry, _file_kind, _private_dir

DEFAULT_SIZE_LIMIT = 2**30  # 1 GiB: a cache's default size limit, so its largest value file


class _UnsafeKey(str):
    """Stands for a key stored pickled (never produced by this module): never unpickled."""


class _SafeDisk(diskcache.Disk):
    """diskcache serialisation restricted to ``str`` keys and ``bytes`` values.

    ``fetch`` refuses every stored mode but raw bytes and binary files, so a pickle
    planted in the database or as a value file is never loaded; ``get`` returns a
    placeholder for a pickled key instead of unpickling it.
    """

    # The most bytes one value file may hold: an entry larger than the cache's size limit
    # is never stored, so a bigger file (or a row claiming one) was not written here.
    # ResultCache sets it to its size limit; a planted Settings table cannot change it.
    max_file_bytes = DEFAULT_SIZE_LIMIT

    def __init__(self, directory: str, min_file_size: int = 0, pickle_protocol: int = 0,
                 **_ignored: Any) -> None:
        # _ignored: unknown disk_* settings found in a planted Settings table.
        super().__init__(directory, min_file_size=min_file_size, pickle_protocol=pickle_protocol)

    def put(self, key: Any) -> tuple[Any, bool]:
        if type(key) is not str:
            raise TypeError(f"cache keys must be str, got {type(key).__name__} (never pickled)")
        return super().put(key)

    def get(self, key: Any, raw: bool) -> Any:
        if not raw:
            return _UnsafeKey("<pickled key: not loaded>")
        return super().get(key, raw)

    # -------------------------------------------------------------- value files
    # diskcache joins a row's ``filename`` to the directory as given: an absolute path
    # or one with ``..`` (a tampered row) would make it read, or on deletion remove,
    # any file the process can reach. Every path from a row is checked here first.
    def _inside(self, filename: Any) -> str:
        """The full path of a row's value file; UnsafeEntry unless it stays inside."""
        if type(filename) is not str or not filename or "\0" in filename:
            raise UnsafeEntry(f"its value file name {filename!r} is not a file name")
        if os.path.isabs(filename):
            raise UnsafeEntry(f"its value file {filename[:200]!r} is an absolute path, "
                              "outside the cache directory")
        root = os.path.realpath(self._directory)
        full = os.path.join(self._directory, filename)
        real = os.path.realpath(full)
        if real == root or os.path.commonpath([root, real]) != root:
            raise UnsafeEntry(f"its value file {filename[:200]!r} resolves to {real[:200]!r}, "
                              "outside the cache directory")
        return full

    def check_file(self, filename: Any, size: Any) -> None:
        """UnsafeEntry unless the row's file is a regular file inside the cache directory
        of the ``size`` the row records (at most :attr:`max_file_bytes`).

        A missing file is left to diskcache, which treats it as a missing item.
        """
        full = self._inside(filename)
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self.max_file_bytes:
            raise UnsafeEntry(f"its row records a size of {str(size)[:40]} bytes: allowed 0 "
                              f"to {self.max_file_bytes}")
        try:
            st = os.lstat(full)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeEntry(f"its value file {filename[:200]!r} is not a regular file "
                              f"({_file_kind(st.st_mode)})")
        if st.st_size != size:
            raise UnsafeEntry(f"its value file {filename[:200]!r} is {st.st_size} bytes, the "
                              f"row records {size}")

    def _write(self, full_path: str, iterator: Any, mode: str, encoding: Any = None) -> int:
        """diskcache's writer, creating what it needs owner-only (dirs 0o700, the file
        0o600; diskcache's own gives 0o755 and 0o644) and never an existing file."""
        if mode != "xb":
            raise TypeError("value files are written as new binary files only")
        full_dir = Path(full_path).parent
        for count in range(1, 11):
            with contextlib.suppress(OSError):
                _private_dir(full_dir)
            try:
                # Another cache may have deleted the directory before the file opened.
                fd = os.open(full_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                             | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError:
                if count == 10:
                    raise
                continue
            with os.fdopen(fd, "wb") as writer:
                size = 0
                for chunk in iterator:
                    size += len(chunk)
                    writer.write(chunk)
                return size
        raise OSError(f"could not create {full_path}")  # pragma: no cover - loop returns

    def remove(self, file_path: Any) -> None:
        """Remove a value file, only if it is inside the cache directory: a tampered
        row is dropped by the caller, and the path it names is never touched."""
        try:
            self._inside(file_path)
        except UnsafeEntry as e:
            warnings.warn(f"results cache row refused: {e}; the row is dropped and that "
                          "path is not touched", CacheWarning, stacklevel=2)
            return
        super().remove(file_path)

    def store(self, value: Any, read: bool, key: Any = diskcache.core.UNKNOWN) -> tuple:
        if type(value) is not bytes or read:
            raise TypeError(f"cache values must be bytes, got {type(value).__name__} "
                            "(never pickled)")
        if len(value) < self.min_file_size:
            return 0, diskcache.core.MODE_RAW, None, sqlite3.Binary(value)
        filename, full_path = self.filename(key, value)
        try:
            self._write(full_path, io.BytesIO(value), "xb")
        except BaseException:
            # Disk full / killed mid-write: leave no partial value file behind.
            with contextlib.suppress(OSError):
                os.remove(full_path)
            raise
        return len(value), diskcache.core.MODE_BINARY, filename, None

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> bytes:
        if read:
            raise TypeError("file handles are not used by the results cache")
        if mode not in (diskcache.core.MODE_RAW, diskcache.core.MODE_BINARY):
            raise UnsafeEntry(f"stored item has diskcache mode {mode} (pickle or text), "
                              "not plain bytes: refused")
        if mode == diskcache.core.MODE_RAW:
            out = super().fetch(mode, filename, value, read)
        else:
            out = self._read_file(filename)
        if type(out) is not bytes:
            raise UnsafeEntry(f"stored item is {type(out).__name__}, not bytes: refused")
        return out

    def _read_file(self, filename: Any) -> bytes:
        full = self._inside(filename)
        # O_NONBLOCK: opening a FIFO planted under the name returns at once (a blocking
        # open waits for a writer forever); O_NOFOLLOW: a symlink is not followed.
        flags = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_CLOEXEC", 0))
        try:
            fd = os.open(full, flags)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise UnsafeEntry(f"its value file {filename[:200]!r} is a symbolic "
                                  "link") from None
            raise  # missing: diskcache's "key deleted meanwhile"
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UnsafeEntry(f"its value file {filename[:200]!r} is not a regular file "
                                  f"({_file_kind(st.st_mode)})")
            if st.st_size > self.max_file_bytes:
                raise UnsafeEntry(f"its value file {filename[:200]!r} is {st.st_size} bytes, "
                                  f"over the cache's size limit of {self.max_file_bytes}")
            data = f.read(st.st_size + 1)  # +1: a file growing while read is noticed
            if len(data) != st.st_size:
                raise UnsafeEntry(f"its value file {filename[:200]!r} changed size while "
                                  "being read")
            return data


# ----------------------------------------------------------------------------- the cache's reaches


def open_cache(directory: str, size_limit: int) -> diskcache.Cache:
    """A diskcache over ``directory`` with the safe disk, whose value files may be at most
    ``size_limit`` bytes."""
    # cull_limit=0: diskcache's own culling drops 10 items (here 5 entries) whenever
    # the volume is over the limit; _evict() drops whole entries, oldest use first.
    # The LRU policy still records each item's access time for it.
    cache = diskcache.Cache(directory, timeout=60, disk=_SafeDisk,
                            size_limit=size_limit, cull_limit=0,
                            eviction_policy="least-recently-used", statistics=0)
    cache._disk.max_file_bytes = size_limit
    return cache


def check_row(cache: diskcache.Cache, item: str) -> None:
    """UnsafeEntry unless the item's value file (if any) is a regular file inside the
    cache directory of the recorded size: checked before diskcache opens it."""
    row = cache._sql("SELECT filename, size FROM Cache WHERE key = ? AND raw = 1",
                     (item,)).fetchone()
    if row is not None and row[0] is not None:
        cache._disk.check_file(*row)


def peek(cache: diskcache.Cache, item: str) -> bytes | None:
    """``cache.get(item)`` without the eviction bookkeeping write (never unpickles)."""
    row = cache._sql("SELECT mode, filename, value, size FROM Cache WHERE key = ? "
                     "AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)",
                     (item, time.time())).fetchone()
    if row is None:
        return None
    mode, filename, value, size = row
    return fetch_row(cache, mode, filename, value, size)


def fetch_row(cache: diskcache.Cache, mode: int, filename: str | None, value: Any,
              size: Any) -> bytes:
    """The bytes of an index row (checked first: UnsafeEntry), without recording a use."""
    if filename is not None:
        cache._disk.check_file(filename, size)
    return cache._disk.fetch(mode, filename, value, False)


def index_rows(cache: diskcache.Cache) -> list[tuple]:
    """Every row of the index as (key, raw, mode, filename, value, size), read-only: a
    ``Cache.get`` would count as a use and reorder the least-recently-used eviction."""
    return cache._sql("SELECT key, raw, mode, filename, value, size FROM Cache").fetchall()


def label_rows(cache: diskcache.Cache) -> list[tuple]:
    """The rows of every ``l/<key>`` item as (key, mode, filename, value, size)."""
    return cache._sql("SELECT key, mode, filename, value, size FROM Cache WHERE "
                      "raw = 1 AND typeof(key) = 'text' AND key LIKE 'l/%'").fetchall()


def least_recent_entry(cache: diskcache.Cache, keep: str) -> str | None:
    """The ``m/`` or ``b/`` item of the least recently used entry other than ``keep``.

    diskcache has no public "least recently used key" query: this reads its index.
    Items this module did not write are left alone (never loaded either).
    """
    rows = cache._sql("SELECT key FROM Cache WHERE raw = 1 AND typeof(key) = 'text' "
                      "AND (key LIKE 'm/%' OR key LIKE 'b/%') AND key != ? AND key != ? "
                      "ORDER BY access_time LIMIT 1",
                      (f"m/{keep}", f"b/{keep}")).fetchall()
    return rows[0][0] if rows else None
