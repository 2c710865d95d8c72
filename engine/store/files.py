"""The cache directory's files: owner-only directories and files, a file's identity, and the
two exceptions about what is found there (:class:`CacheWarning`, :class:`UnsafeEntry`),
and whether an error says the database file is corrupted.

Apart from :mod:`noisealign.engine.store.cache`: both the cache and its diskcache adapter
(:mod:`noisealign.engine.store.diskcache_adapter`) and its locks
(:mod:`noisealign.engine.store.locks`) create files with these rules, and none of them
should import another for it. :mod:`noisealign.engine.store.cache` re-exports the
exceptions.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path


class CacheWarning(UserWarning):
    """Something went wrong with the cache; the caller still gets a correct result."""


class UnsafeEntry(Exception):
    """A stored item is not plain bytes (e.g. a planted pickle): it is never loaded.

    Deliberately not an ``OSError``: diskcache treats those as a missing file.
    """


def _private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0o700; an existing directory is
    left exactly as it is.

    Modes are only chosen for what this module creates: a directory that already exists
    belongs to whoever made it (a 1777 ``/tmp`` must keep its sticky bit, a directory its
    owner made read-only stays so).
    """
    missing = []
    p = path
    while not p.is_dir():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            if not d.is_dir():
                raise
            continue  # made by another process meanwhile: theirs, left alone
        # mkdir's mode passes through the umask; a umask cannot widen 0o700, but one
        # that removes owner bits (e.g. 0o277) would leave a directory we cannot use.
        with contextlib.suppress(OSError):
            os.chmod(d, 0o700)


def _create_private_file(path: Path) -> None:
    """Create an empty ``path`` with mode 0o600 unless it exists (then untouched).

    SQLite creates a missing database file with mode 0o644 and gives its -wal and -shm
    files the database file's mode: creating the (empty, and so valid) database file
    first makes all three owner-only without changing the mode of anything that exists.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o600)
    except FileExistsError:
        return
    os.close(fd)


def _file_id(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of ``path``, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _is_corruption(e: BaseException) -> bool:
    """SQLite says the file is not (or no longer) a valid database.

    OperationalError (locked, read-only, disk full, I/O error) is a DatabaseError too,
    but it is not corruption: the file must not be deleted for it.
    """
    if not isinstance(e, sqlite3.DatabaseError):
        return False
    text = str(e).lower()
    return (not isinstance(e, sqlite3.OperationalError)
            or "malformed" in text or "not a database" in text)


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"

def remove_stale_log(db_path: str | os.PathLike, log_ids: dict[str, tuple[int, int] | None]) -> None:
    """Remove the -wal/-shm files of the database that was deleted or replaced.

    They stay under their names when only ``cache.db`` is removed or renamed over,
    and SQLite would read that log as the new file's: the old entries would come
    back over the new database, or corrupt it. Only the files a cache opened with
    the old database (same inode, ``log_ids``) are removed: log files made since, by another
    process or another cache object that reopened first, belong to the new one.
    """
    for suffix, old in log_ids.items():
        path = f"{db_path}{suffix}"
        if old is not None and _file_id(path) == old:
            with contextlib.suppress(OSError):
                os.remove(path)
