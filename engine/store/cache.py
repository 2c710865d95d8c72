"""The results cache: every experiment a user has seen comes back instantly, computed once.

Layout of a cache directory (what this module creates is owner-only: directories 0o700,
files 0o600; a directory that already exists keeps its mode)::

    <dir>/results/   a diskcache.Cache (SQLite index + value files)
    <dir>/locks/     one lock file per key, for single flight across processes

An entry is two diskcache items written in one SQLite transaction, so an entry is
either complete or absent:

- ``m/<key>``: the entry's metadata, JSON bytes prefixed by their own SHA-256: the spec,
  the summary (always stored), the :class:`~noisealign.engine.pipeline.result.Result` metadata, the length
  and CRC-32 of the arrays, whether representations are included.
- ``b/<key>``: the arrays as ``.npz`` bytes (``np.load(allow_pickle=False)``).

A run's name and tags, when a user gave it some (:meth:`ResultCache.set_label`), are a
third item ``l/<key>`` (:mod:`noisealign.engine.store.labels`): deleted with the entry, never evicted
on its own.

Nothing is ever pickled or unpickled: the disk used for diskcache
(:mod:`noisealign.engine.store.diskcache_adapter`, which holds every reach into
diskcache's internals) only accepts ``str`` keys and ``bytes`` values and refuses to load anything diskcache would
unpickle (CVE-2025-69872: diskcache's default ``Disk`` unpickles values, so anyone who
can write the cache directory could run code in the reader).

A corrupted entry (checksum, length, JSON or ``.npz`` errors, a result for another spec)
is dropped with a :class:`CacheWarning` and treated as missing, so it is recomputed. A
corrupted database file is deleted and recreated with a warning. A cache that cannot be
written (read-only directory, disk full) warns and keeps working as a pass-through.

The form of an entry's metadata is :mod:`noisealign.engine.store.entry`; the computation
locks are :mod:`noisealign.engine.store.locks`.

This module never imports streamlit; torch is only imported when something is computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shutil
import sqlite3
import threading
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache

from ..pipeline.result import Result
from ..pipeline.spec import ExperimentSpec
from . import diskcache_adapter as dc
from . import entry, locks
from .diskcache_adapter import DEFAULT_SIZE_LIMIT
from .entry import ENTRY_FORMAT, json_default
from .files import (
    CacheWarning,
    UnsafeEntry,
    _create_private_file,
    _file_id,
    _is_corruption,
    _private_dir,
    remove_stale_log,
)
from .locks import ComputeLock

ENV_VAR = "NOISEALIGN_CACHE_DIR"
_RETRY_OPEN_S = 10.0  # an unavailable cache directory is retried this often
# diskcache objects of databases deleted or replaced under this process (see
# ResultCache._open): kept, never closed, for the life of the process.
_RETIRED: list = []

Summariser = Callable[[Result], dict]

_KEY = re.compile(r"[0-9a-f]{64}")  # ResultCache.key(): SHA-256 hex


def default_cache_dir() -> Path:
    """The cache directory: ``$NOISEALIGN_CACHE_DIR`` if set, else ``cache/`` in a
    checkout or the per-user cache directory when installed (:mod:`noisealign.engine.base.paths`).

    Only computes the path; :class:`ResultCache` creates it (owner-only permissions).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from ..base.paths import default_cache_root
    return default_cache_root()


def default_summarise(result: Result) -> dict:
    """The summary every cache entry stores: :func:`noisealign.engine.measures.summaries.summarise` (imported
    here, on first use: it imports torch)."""
    from ..measures.summaries import summarise
    return summarise(result)


# ----------------------------------------------------------------------------- cache


def spec_key(spec: ExperimentSpec) -> str:
    """SHA-256 (hex) of the spec's canonical JSON and the engine version: the key of its
    entry in any results cache (and of its shipped summary, :mod:`noisealign.engine.presets.shipped`)."""
    from noisealign import engine  # at call time, so a changed engine.__version__ changes keys
    if not isinstance(spec, ExperimentSpec):
        raise ValueError(f"spec must be an ExperimentSpec, got {type(spec).__name__}")  # noqa: TRY004 -- the engine's argument errors are ValueErrors
    text = f"{spec.to_json()}\nengine={engine.__version__}\nformat={ENTRY_FORMAT}"
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """A size-limited, pickle-free, single-flight cache of :class:`Result` objects.

    Parameters
    ----------
    directory:
        Where the cache lives (default :func:`default_cache_dir`). Created 0o700.
    size_limit:
        Bytes on disk before least-recently-used entries are evicted (default 1 GiB).
    store_representations:
        Store the probe-set activations (the bulk of a result). Summaries are always
        stored.
    max_representation_bytes:
        An entry whose arrays exceed this many bytes with representations is stored
        without them (default ``size_limit // 8``).
    summarise:
        ``Result -> JSON-able dict`` stored with every entry (default
        :func:`noisealign.engine.measures.summaries.summarise`). It runs on the full result, before the
        representations are dropped.
    """

    def __init__(self, directory: str | os.PathLike | None = None, *,
                 size_limit: int = DEFAULT_SIZE_LIMIT, store_representations: bool = True,
                 max_representation_bytes: int | None = None,
                 summarise: Summariser | None = None) -> None:
        if isinstance(size_limit, bool) or not isinstance(size_limit, int) or size_limit < 1:
            raise ValueError(f"size_limit={size_limit!r} is invalid: allowed a positive "
                             "integer number of bytes")
        if max_representation_bytes is None:
            max_representation_bytes = size_limit // 8
        if (isinstance(max_representation_bytes, bool)
                or not isinstance(max_representation_bytes, int) or max_representation_bytes < 0):
            raise ValueError(f"max_representation_bytes={max_representation_bytes!r} is invalid: "
                             "allowed a non-negative integer number of bytes")
        if not isinstance(store_representations, bool):
            raise ValueError(f"store_representations={store_representations!r} is invalid: "  # noqa: TRY004 -- the engine's argument errors are ValueErrors
                             "allowed True or False")
        if summarise is not None and not callable(summarise):
            raise ValueError(f"summarise={summarise!r} is invalid: allowed a callable "
                             "Result -> dict, or None for the default")
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()
        self.size_limit = size_limit
        self.store_representations = store_representations
        self.max_representation_bytes = max_representation_bytes
        self.summarise: Summariser = summarise if summarise is not None else default_summarise
        self._results_dir = self.directory / "results"
        self._locks_dir = self.directory / "locks"
        self._db_path = self._results_dir / "cache.db"
        self._db_id: tuple[int, int] | None = None  # (device, inode) of the open database
        self._log_ids: dict[str, tuple[int, int] | None] = {}  # and of its -wal / -shm
        self._cache: diskcache.Cache | None = None
        self._open_lock = threading.Lock()
        self._failed_at = -math.inf  # monotonic time of the last failed open
        self._open_error: str | None = None  # why the last open failed (None: it did not)
        self._open()

    # ------------------------------------------------------------------ opening
    def _open(self) -> diskcache.Cache | None:
        """The diskcache, opened on first use; None (with a warning) if it cannot be.

        A database file deleted or replaced while open (``rm``, a restored backup) is
        noticed by its inode and reopened: otherwise this process would go on writing
        into a deleted file that no other process can see.
        """
        cache = self._cache
        if cache is not None and self._same_database():
            return cache
        if cache is None and time.monotonic() - self._failed_at < _RETRY_OPEN_S:
            return None  # failed a moment ago (and warned): a miss, quietly
        with self._open_lock:
            if self._cache is not None:
                if self._same_database():
                    return self._cache
                warnings.warn(f"results cache database {self._db_path} was deleted or "
                              "replaced while in use: reopening it (entries only in the "
                              "old file are recomputed when asked for)", CacheWarning,
                              stacklevel=3)
                # Not closed: SQLite's last close of a database checkpoints it and then
                # deletes "cache.db-wal" and "-shm" *by name*, and those names now
                # belong to the new database (its log would vanish under every process
                # using it). Kept open, the old connections touch only the old files.
                _RETIRED.append(self._cache)
                self._cache = None
                self._remove_stale_log()
            try:
                _private_dir(self.directory)
                _private_dir(self._results_dir)
                try:
                    cache = self._new_diskcache()
                except sqlite3.DatabaseError as e:
                    if not _is_corruption(e):
                        raise
                    warnings.warn(f"results cache database in {self._results_dir} is corrupted "
                                  f"({e}); deleting it and starting an empty cache",
                                  CacheWarning, stacklevel=3)
                    shutil.rmtree(self._results_dir, ignore_errors=True)
                    _private_dir(self._results_dir)
                    cache = self._new_diskcache()
            except (OSError, sqlite3.Error, diskcache.Timeout) as e:
                if self._failed_at == -math.inf:  # warn once; put() warns every time
                    warnings.warn(f"results cache in {self.directory} is unavailable ({e}): "
                                  "results are computed but not stored", CacheWarning,
                                  stacklevel=3)
                self._failed_at = time.monotonic()
                self._open_error = str(e)
                return None
            self._cache = cache
            self._open_error = None
            return cache

    def unavailable(self) -> str | None:
        """Why the cache cannot be opened now (an unreadable or unwritable directory:
        the error's text), or None when it can. ``entries()`` and ``clear()`` of an
        unavailable cache see nothing, whatever the directory holds: callers that report
        counts check this first, so "0 entries" is never said of a cache not read."""
        return None if self._open() is not None else (self._open_error or "cannot be opened")

    def _remove_stale_log(self) -> None:
        """Remove the -wal/-shm files of the database that was deleted or replaced
        (:func:`.files.remove_stale_log` says why and which)."""
        remove_stale_log(self._db_path, self._log_ids)

    def _database_id(self) -> tuple[int, int] | None:
        return _file_id(self._db_path)

    def _same_database(self) -> bool:
        """Whether the open database is still the file at its path (one stat call)."""
        current = self._database_id()
        # An unreadable path (directory made unsearchable) is not proof of a change.
        return current is None and os.path.lexists(self._db_path) or current == self._db_id

    def _new_diskcache(self) -> diskcache.Cache:
        _create_private_file(self._db_path)
        cache = dc.open_cache(str(self._results_dir), self.size_limit)
        self._db_id = self._database_id()
        # Opening in WAL mode has created (or joined) the log files; they keep their
        # inodes while this cache's connection is open.
        self._log_ids = {suffix: _file_id(f"{self._db_path}{suffix}")
                         for suffix in ("-wal", "-shm")}
        return cache

    def _recreate(self, error: BaseException) -> None:
        warnings.warn(f"results cache database in {self._results_dir} is corrupted ({error}); "
                      "deleting it and starting an empty cache", CacheWarning, stacklevel=3)
        with self._open_lock:
            if self._cache is not None:
                with contextlib.suppress(Exception):
                    self._cache.close()
            self._cache = None
            shutil.rmtree(self._results_dir, ignore_errors=True)
        self._open()

    def close(self) -> None:
        """Close the database connections (reopened on next use)."""
        with self._open_lock:
            if self._cache is not None:
                self._cache.close()
            self._cache = None

    def __repr__(self) -> str:
        return f"ResultCache({str(self.directory)!r}, size_limit={self.size_limit})"

    # ------------------------------------------------------------------ keys
    def key(self, spec: ExperimentSpec) -> str:
        """The cache key of ``spec`` (:func:`spec_key`)."""
        return spec_key(spec)

    def _entry_extra(self) -> dict:
        """Fields added to every entry's metadata this cache stores (none; the own-model
        view of noisealign.engine.own_models.architectures adds the model's name)."""
        return {}

    def _key_of(self, spec_or_key: ExperimentSpec | str) -> str:
        if isinstance(spec_or_key, ExperimentSpec):
            return self.key(spec_or_key)
        if (isinstance(spec_or_key, str) and len(spec_or_key) == 64
                and all(c in "0123456789abcdef" for c in spec_or_key)):
            return spec_or_key
        raise ValueError(f"spec_or_key={spec_or_key!r} is invalid: allowed an ExperimentSpec "
                         "or a 64-character hex cache key")

    # ------------------------------------------------------------------ low level
    def _read(self, item: str) -> bytes | None:
        """One diskcache item; None when missing or when the cache is unusable."""
        cache = self._open()
        if cache is None:
            return None
        try:
            dc.check_row(cache, item)
            return cache.get(item)
        except sqlite3.DatabaseError as e:
            if _is_corruption(e):
                self._recreate(e)
                return None
            # A read also records the access for eviction: a write, which fails on a
            # full disk or a database turned read-only. Read without recording it.
            try:
                value = dc.peek(cache, item)
            except (sqlite3.Error, OSError):
                value = None
            warnings.warn(f"results cache could not be read ({e})" if value is None else
                          f"results cache cannot record reads ({e}): stored results are "
                          "still served", CacheWarning, stacklevel=3)
            return value
        except diskcache.Timeout as e:
            warnings.warn(f"results cache is busy ({e})", CacheWarning, stacklevel=3)
            return None

    def _drop(self, key: str, why: str) -> None:
        warnings.warn(f"results cache entry {key[:12]} is unreadable ({why}): dropped, it will "
                      "be recomputed", CacheWarning, stacklevel=3)
        self._delete_items(key)

    def _delete_items(self, key: str) -> bool:
        cache = self._open()
        if cache is None:
            return False
        found = False
        try:
            with cache.transact():
                for item in (f"m/{key}", f"b/{key}"):
                    found = cache.delete(item) or found
                cache.delete(f"l/{key}")  # its name and tags go with it
        except sqlite3.DatabaseError as e:
            if _is_corruption(e):
                self._recreate(e)
            else:
                warnings.warn(f"results cache entry {key[:12]} could not be deleted ({e})",
                              CacheWarning, stacklevel=3)
        except (OSError, diskcache.Timeout) as e:
            warnings.warn(f"results cache entry {key[:12]} could not be deleted ({e})",
                          CacheWarning, stacklevel=3)
        return found

    def _meta(self, key: str, spec: ExperimentSpec | None, raw: bytes | None = None) -> dict | None:
        """The verified metadata of an entry, or None (dropping a bad entry)."""
        if raw is None:
            try:
                raw = self._read(f"m/{key}")
            except UnsafeEntry as e:
                self._drop(key, str(e))
                return None
        if raw is None:
            return None
        try:
            meta = entry.verify(raw, key, spec)
        except (ValueError, UnicodeDecodeError) as e:
            self._drop(key, str(e))
            return None
        return meta

    # ------------------------------------------------------------------ reading
    def has(self, spec: ExperimentSpec) -> bool:
        """True when a complete entry (summary and arrays) is stored (not verified)."""
        cache = self._open()
        if cache is None:
            return False
        key = self.key(spec)
        try:
            return f"m/{key}" in cache and f"b/{key}" in cache
        except (sqlite3.Error, diskcache.Timeout):
            return False

    def get_summary(self, spec: ExperimentSpec) -> dict | None:
        """The stored summary of ``spec`` (cheap: no arrays are read), or None."""
        meta = self._meta(self.key(spec), spec)
        return None if meta is None else meta["summary"]

    def get(self, spec: ExperimentSpec, *, need_representations: bool = False) -> Result | None:
        """The stored result of ``spec``, or None when missing or unreadable.

        A result stored without representations has empty ``hidden``/``output``
        arrays; ``need_representations=True`` treats such an entry as missing.
        """
        return self.get_by_key(self.key(spec), spec, need_representations=need_representations)

    def get_by_key(self, key: str, spec: ExperimentSpec, *,
                   need_representations: bool = False) -> Result | None:
        """As :meth:`get`, for an entry's ``key`` (``entries()``) stored under ``spec``:
        also an own architecture's entry, whose key is not :func:`spec_key`."""
        key = self._key_of(key)
        meta = self._meta(key, spec)
        if meta is None:
            return None
        if need_representations and not meta["has_representations"]:
            return None
        try:
            npz = self._read(f"b/{key}")
        except UnsafeEntry as e:
            self._drop(key, str(e))
            return None
        if npz is None:
            cache = self._open()
            if cache is not None and f"b/{key}" in cache:
                self._drop(key, "its array file could not be read")
            else:
                # Evicted by the size limit (or half-deleted): not an error.
                self._delete_items(key)
            return None
        try:
            if len(npz) != meta["npz_bytes"]:
                raise ValueError(f"array data is {len(npz)} bytes, expected {meta['npz_bytes']}")
            if zlib.crc32(npz) != meta["npz_crc32"]:
                raise ValueError("array data checksum mismatch")
            result = Result.from_bytes(meta["result_meta"].encode(), npz)
            if result.spec.to_json() != spec.to_json():
                raise ValueError("stored result belongs to another spec")
        except (ValueError, KeyError, TypeError, OSError, EOFError, zipfile.BadZipFile) as e:
            self._drop(key, f"{type(e).__name__}: {e}")
            return None
        return result

    # ------------------------------------------------------------------ writing
    def summary_of(self, result: Result) -> dict:
        """The configured summary of a result, checked to be JSON-able."""
        summary = self.summarise(result)
        if not isinstance(summary, dict):
            raise ValueError(f"summarise returned {type(summary).__name__}: allowed a dict")  # noqa: TRY004 -- the engine's argument errors are ValueErrors
        return json.loads(json.dumps(summary, default=json_default))

    def put(self, spec: ExperimentSpec, result: Result, *, summary: dict | None = None) -> dict:
        """Store ``result`` under ``spec``; returns its summary.

        Never raises for storage problems (read-only directory, disk full): it warns
        and the caller keeps its result.
        """
        if not isinstance(result, Result):
            raise ValueError(f"result must be a Result, got {type(result).__name__}")  # noqa: TRY004 -- the engine's argument errors are ValueErrors
        if result.spec.to_json() != spec.to_json():
            raise ValueError("result.spec differs from spec: a result is stored only under "
                             "the spec that produced it")
        summary = self.summary_of(result) if summary is None else summary
        reps = self.store_representations
        meta_bytes, npz = result.to_bytes(representations=reps)
        if reps and len(npz) > self.max_representation_bytes:
            meta_bytes, npz = result.to_bytes(representations=False)
        self._store(spec, meta_bytes, npz, summary)
        return summary

    def put_serialised(self, spec: ExperimentSpec, meta_bytes: bytes, npz_bytes: bytes,
                       summary: dict) -> None:
        """Store a result already serialised by :meth:`Result.to_bytes` (sweep workers).

        The bytes are checked to parse as the result of ``spec`` before being stored.
        """
        result = Result.from_bytes(meta_bytes, npz_bytes)
        if result.spec.to_json() != spec.to_json():
            raise ValueError("serialised result belongs to another spec")
        has_reps = bool(json.loads(meta_bytes.decode()).get("has_representations"))
        if has_reps and (not self.store_representations
                         or len(npz_bytes) > self.max_representation_bytes):
            meta_bytes, npz_bytes = result.to_bytes(representations=False)
        self._store(spec, meta_bytes, npz_bytes, summary)

    def _store(self, spec: ExperimentSpec, meta_bytes: bytes, npz: bytes, summary: dict) -> None:
        key = self.key(spec)
        framed = entry.frame(entry.new_meta(key, spec, meta_bytes, npz, summary,
                                            self._entry_extra()))
        if len(framed) + len(npz) > self.size_limit:
            warnings.warn(f"result of {key[:12]} ({len(npz)} bytes) is larger than the cache "
                          f"size limit ({self.size_limit} bytes): not stored",
                          CacheWarning, stacklevel=3)
            return
        cache = self._open()
        if cache is None:
            warnings.warn(f"results cache in {self.directory} is unavailable: result "
                          f"{key[:12]} not stored", CacheWarning, stacklevel=3)
            return
        try:
            # One transaction: a reader, or a process killed half-way, never sees half
            # an entry.
            with cache.transact():
                cache.set(f"b/{key}", npz)
                cache.set(f"m/{key}", framed)
        except sqlite3.DatabaseError as e:
            if _is_corruption(e):
                self._recreate(e)
            else:
                warnings.warn(f"results cache could not store {key[:12]} ({e}): the result is "
                              "returned but not cached", CacheWarning, stacklevel=3)
        except (OSError, diskcache.Timeout) as e:
            warnings.warn(f"results cache could not store {key[:12]} ({e}): the result is "
                          "returned but not cached", CacheWarning, stacklevel=3)
        else:
            try:
                self._evict(cache, keep=key)
            except (sqlite3.Error, OSError, diskcache.Timeout) as e:
                warnings.warn(f"results cache could not evict old entries ({e})",
                              CacheWarning, stacklevel=3)

    def _evict(self, cache: diskcache.Cache, keep: str) -> None:
        """Drop least-recently-used entries (both items) until under the size limit."""
        while cache.volume() > self.size_limit:
            item = dc.least_recent_entry(cache, keep)
            if item is None:
                break
            with cache.transact():
                for kind in "mbl":
                    cache.delete(f"{kind}/{item[2:]}")

    # ------------------------------------------------------------------ single flight
    @contextlib.contextmanager
    def lock(self, spec: ExperimentSpec, *, cancel: Callable[[], bool] | None = None
             ) -> Iterator[None]:
        """Hold the computation lock of ``spec`` (threads and processes on this host),
        waiting for it; ``cancel()`` ends the wait with :class:`engine.Cancelled`."""
        held = locks.acquire(self.directory, self._locks_dir, self.key(spec), blocking=True,
                             cancel=cancel, shared=self._usable)
        assert held is not None  # a blocking acquire returns the lock or raises
        try:
            yield
        finally:
            held.release()

    def try_lock(self, spec: ExperimentSpec) -> ComputeLock | None:
        """The computation lock of ``spec`` if nobody holds it, else None (no waiting).

        Whoever holds it is computing ``spec``; release it after :meth:`put`.
        """
        return locks.acquire(self.directory, self._locks_dir, self.key(spec), blocking=False,
                             shared=self._usable)

    def _usable(self) -> bool:
        """Whether the cache opens: only then do its locks reach other processes."""
        return self._open() is not None

    def get_or_compute(self, spec: ExperimentSpec, *, progress: Any = None,
                       cancel: Callable[[], bool] | None = None,
                       need_representations: bool = False) -> Result:
        """The cached result of ``spec``, or train it (once, however many ask at once).

        Concurrent callers for the same spec, in threads or processes, wait for the one
        that trains and then load its result. ``progress`` and ``cancel`` go to
        :func:`engine.run_experiment`; ``cancel`` also ends a wait with
        :class:`engine.Cancelled`.
        """
        result = self.get(spec, need_representations=need_representations)
        if result is not None:
            return result
        with self.lock(spec, cancel=cancel):
            result = self.get(spec, need_representations=need_representations)
            if result is not None:
                return result
            from ..pipeline.run import run_experiment
            result = run_experiment(spec, progress=progress, cancel=cancel)
            self.put(spec, result)
            return result

    # ------------------------------------------------------------------ management
    def delete(self, spec_or_key: ExperimentSpec | str) -> bool:
        """Remove an entry; True if there was one."""
        return self._delete_items(self._key_of(spec_or_key))

    def entries(self) -> list[dict]:
        """Every stored entry, newest first, without reading any arrays.

        Each dict: ``key``, ``spec`` (dict), ``summary``, ``created`` (Unix time),
        ``bytes`` (stored size), ``has_representations``, ``complete`` (arrays present).
        """
        cache = self._open()
        if cache is None:
            return []
        try:
            rows = dc.index_rows(cache)
        except sqlite3.DatabaseError as e:
            if _is_corruption(e):
                self._recreate(e)
            return []
        blobs = {k[2:] for k, raw, *_ in rows if raw and isinstance(k, str) and k.startswith("b/")}
        out = []
        for k, raw, mode, filename, value, size in rows:
            if not raw or not isinstance(k, str) or not k.startswith("m/"):
                continue
            key = k[2:]
            if not _KEY.fullmatch(key):
                # Not written by this module (keys are SHA-256 hex): left alone, and never
                # shown, since pages print keys as markdown.
                continue
            try:
                data = dc.fetch_row(cache, mode, filename, value, size)
            except UnsafeEntry as e:
                self._drop(key, str(e))
                continue
            except OSError:
                continue
            meta = self._meta(key, None, raw=data)
            if meta is None:
                continue
            out.append({"key": key, "spec": meta["spec"], "summary": meta["summary"],
                        "created": meta["created"],
                        "bytes": meta["npz_bytes"] + len(data),
                        "has_representations": meta["has_representations"],
                        "complete": key in blobs,
                        # an own architecture's entry (noisealign.engine.own_models.architectures): its name
                        **({"model": meta["model"]} if isinstance(meta.get("model"), dict)
                           else {})})
        out.sort(key=lambda e: e["created"], reverse=True)
        return out

    # ------------------------------------------------------------------ names and tags
    def set_label(self, spec_or_key: ExperimentSpec | str, *, name: str = "",
                  tags: str | list[str] | tuple[str, ...] = ()) -> dict | None:
        """Give a cached run a name and tags (:func:`noisealign.engine.store.labels.check_label`: a
        comma-separated string or a list); both empty removes its label.

        Returns the stored label ``{"name", "tags"}`` (None when removed). ValueError for
        an invalid name or tags (naming the field and the allowed range) or a run that
        is not in the cache; OSError when the cache cannot be written.
        """
        from . import labels as runlabels
        key = self._key_of(spec_or_key)
        label = runlabels.check_label(name, tags)
        cache = self._open()
        if cache is None:
            raise OSError(f"results cache in {self.directory} is unavailable: the label "
                          "was not stored")
        try:
            with cache.transact():  # the run cannot be deleted between check and write
                if f"m/{key}" not in cache:
                    raise ValueError(f"run {key[:12]} is not in the results cache: "
                                     "allowed a cached run")
                if runlabels.is_empty(label):
                    cache.delete(f"l/{key}")
                else:
                    cache.set(f"l/{key}", runlabels.encode(label))
        except (sqlite3.Error, diskcache.Timeout) as e:
            raise OSError(f"results cache could not store the label of {key[:12]} "
                          f"({e})") from e
        return None if runlabels.is_empty(label) else label

    def label(self, spec_or_key: ExperimentSpec | str) -> dict | None:
        """The name and tags of a run (``{"name", "tags"}``), or None without any."""
        from . import labels as runlabels
        try:
            raw = self._read(f"l/{self._key_of(spec_or_key)}")
        except UnsafeEntry:
            return None
        return runlabels.decode(raw)

    def labels(self) -> dict[str, dict]:
        """Every run's name and tags: ``{key: {"name", "tags"}}`` (one query, no arrays
        read, no use recorded). Rows that are not valid labels are skipped."""
        from . import labels as runlabels
        cache = self._open()
        if cache is None:
            return {}
        try:
            rows = dc.label_rows(cache)
        except sqlite3.Error:
            return {}
        out = {}
        for k, mode, filename, value, size in rows:
            if not _KEY.fullmatch(k[2:]):
                continue
            try:
                raw = dc.fetch_row(cache, mode, filename, value, size)
            except (UnsafeEntry, OSError):
                continue
            label = runlabels.decode(raw)
            if label is not None:
                out[k[2:]] = label
        return out

    def volume(self) -> int:
        """Bytes on disk (database and value files)."""
        cache = self._open()
        return 0 if cache is None else int(cache.volume())

    def clear(self) -> int:
        """Remove every entry; returns the number of diskcache items removed."""
        cache = self._open()
        if cache is None:
            return 0
        n = int(cache.clear())
        locks.remove_free_lock_files(self._locks_dir)
        return n

