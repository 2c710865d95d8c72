"""Tampered cache rows, modes and a database deleted under a running process (issue 13,
cases 2, 5 and 9), with a real diskcache in temporary directories.

A row of diskcache's index names its value file by a path that diskcache joins to the
directory as given: whoever can write the database can point it anywhere. The hostile
reads run in a child process with a memory cap and a timeout, so the code before the
fix (which read /dev/zero without end and waited on a FIFO forever) fails the test
instead of taking the runner down.
"""

import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from noisealign.engine import ExperimentSpec, Result, run_experiment
from noisealign.engine.store.cache import CacheWarning, ResultCache

ROOT = Path(__file__).resolve().parents[2]
# n_probe 200, width 32: the arrays (~100 kB) go to value files, the metadata to SQLite.
BIG = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 20, "n_probe": 200,
           "width": 32, "ensemble_size": 2, "max_epochs": 10, "device": "cpu"}
MODE_BINARY = 2  # diskcache.core.MODE_BINARY: the value is in the file the row names


def summary(r: Result) -> dict:
    return r.summary()


@pytest.fixture(scope="module")
def runs():
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        specs = [ExperimentSpec(**dict(BIG, seed=s)) for s in range(7)]
        return specs, [run_experiment(s) for s in specs]
    finally:
        torch.set_num_threads(before)


def filled(directory: Path, runs) -> ResultCache:
    cache = ResultCache(directory, summarise=summary)
    for spec, r in zip(*runs):
        cache.put(spec, r)
    cache.close()
    return cache


def sql(directory: Path, statement: str, args: tuple = ()) -> list:
    with sqlite3.connect(directory / "results" / "cache.db") as con:
        return con.execute(statement, args).fetchall()


def value_file(directory: Path, item: str) -> Path:
    (name,) = sql(directory, "SELECT filename FROM Cache WHERE key = ?", (item,))[0]
    return directory / "results" / name


def point(directory: Path, item: str, filename: str, size: int | None = None) -> None:
    """Make the row of ``item`` name ``filename`` as its value file (mode binary)."""
    if size is None:
        size = sql(directory, "SELECT size FROM Cache WHERE key = ?", (item,))[0][0]
    sql(directory, "UPDATE Cache SET mode = ?, filename = ?, value = NULL, size = ? "
        "WHERE key = ?", (MODE_BINARY, filename, size, item))


CHILD = r"""
import json, resource, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # /dev/zero must not eat the box
from noisealign.engine import ExperimentSpec
from noisealign.engine.store.cache import ResultCache
directory, specs = sys.argv[1], [ExperimentSpec.from_json(s) for s in json.loads(sys.argv[2])]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    cache = ResultCache(directory, summarise=lambda r: r.summary())
    listed = [e["key"] for e in cache.entries()]
    got = [cache.get(s) is not None for s in specs]
    again = [cache.get(s) is not None for s in specs]
    cache.clear()
print(json.dumps({"listed": listed, "got": got, "again": again,
                  "keys": [cache.key(s) for s in specs],
                  "warnings": [str(w.message) for w in caught]}))
"""


def test_tampered_rows_are_dropped_without_touching_their_paths(tmp_path, runs):
    specs, _ = runs
    d = tmp_path / "c"
    cache = filled(d, runs)
    keys = [cache.key(s) for s in specs]

    # Files outside the cache, each alone in its folder (diskcache also removes the
    # emptied parent folder of a value file it deletes).
    outside = []
    for i in range(2):
        folder = tmp_path / f"victim{i}"
        folder.mkdir()
        (folder / "precious.txt").write_bytes(b"keep me")
        outside.append(folder / "precious.txt")
    zero_link = tmp_path / "zero"  # outside the cache, pointing at /dev/zero
    zero_link.symlink_to("/dev/zero")
    fifo = d / "results" / "zz" / "fifo.val"  # inside the cache, but a FIFO
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    inner_link = d / "results" / "zz" / "link.val"  # inside, resolving outside
    inner_link.symlink_to("/dev/zero")
    sparse = d / "results" / "zz" / "sparse.val"  # inside, regular, 40 GB of holes
    with open(sparse, "wb") as f:
        f.truncate(40 << 30)

    point(d, f"b/{keys[0]}", str(outside[0]), size=7)                    # absolute
    point(d, f"b/{keys[1]}", "../../victim1/precious.txt", size=7)       # ../ escape
    point(d, f"b/{keys[2]}", str(zero_link))                             # endless
    point(d, f"m/{keys[3]}", "zz/fifo.val", size=0)                      # FIFO (listing)
    point(d, f"b/{keys[4]}", "zz/link.val")                              # symlink
    point(d, f"b/{keys[5]}", "zz/sparse.val", size=40 << 30)             # huge
    healthy_file = value_file(d, f"b/{keys[6]}")

    proc = subprocess.run([sys.executable, "-c", CHILD, str(d),
                           json.dumps([s.to_json() for s in specs])],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    text = "\n".join(out["warnings"])
    # Every tampered entry is a miss (recomputed on demand), the healthy one is served
    # and listed; a tampered metadata row drops its entry from the listing only.
    assert out["got"] == [False] * 6 + [True] and out["again"] == out["got"]
    assert keys[6] in out["listed"] and keys[3] not in out["listed"]
    for why in ("absolute path", "resolves to", "not a regular file (a FIFO)",
                "records a size of 42949672960 bytes", "path is not touched"):
        assert why in text, (why, text)
    # Nothing outside the cache was deleted (not by the drops, not by clear()), and
    # the files planted inside were not followed.
    for f in outside:
        assert f.read_bytes() == b"keep me"
    assert zero_link.is_symlink() and os.path.exists("/dev/zero")
    assert not healthy_file.exists()  # clear() still removes the cache's own files
    assert sql(d, "SELECT count(*) FROM Cache") == [(0,)]


def reframe(directory: Path, entry: str, **changes) -> None:
    """Rewrite an entry's metadata with ``changes`` and a valid checksum (a tamperer
    who can write the directory can recompute it)."""
    key = entry
    (raw,) = sql(directory, "SELECT value FROM Cache WHERE key = ?", (f"m/{key}",))[0]
    meta = json.loads(bytes(raw).partition(b"\n")[2])
    meta.update(changes)
    body = json.dumps(meta).encode()
    framed = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    sql(directory, "UPDATE Cache SET value = ? WHERE key = ?", (framed, f"m/{key}"))


def test_wrong_typed_metadata_skips_the_entry_not_the_listing(tmp_path, runs):
    specs, results = runs
    d = tmp_path / "cache"  # the dashboard's cache (conftest sets NOISEALIGN_CACHE_DIR)
    cache = ResultCache(d, summarise=summary)
    for spec, r in list(zip(specs, results))[:4]:
        cache.put(spec, r)
    keys = [cache.key(s) for s in specs[:4]]
    cache.close()
    reframe(d, keys[0], created="yesterday")
    reframe(d, keys[1], npz_bytes="many")
    reframe(d, keys[2], spec=["not", "a", "dict"])

    # a row under a key this module never makes (keys are SHA-256 hex), with metadata
    # claiming that key: a page would print it as markdown
    bad = "![p](http://127.0.0.1:9/p.png)`"
    sql(d, "INSERT INTO Cache (key, raw, store_time, expire_time, access_time, access_count,"
        " tag, size, mode, filename, value) SELECT ?, raw, store_time, expire_time, "
        "access_time, access_count, tag, size, mode, filename, value FROM Cache WHERE key = ?",
        (f"m/{bad}", f"m/{keys[3]}"))
    reframe(d, bad, key=bad)

    with pytest.warns(CacheWarning, match="metadata field 'created' is a str"):
        listed = ResultCache(d, summarise=summary).entries()
    assert [e["key"] for e in listed] == [keys[3]]

    proc = subprocess.run([sys.executable, "-m", "engine", "cache", "list", "--cache-dir",
                           str(d)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert keys[3][:12] in proc.stdout

    # The Runs page lists the healthy entry (it said "the cache is empty" before).
    for spec, r in list(zip(specs, results))[:1]:
        cache.put(spec, r)
    cache.close()
    reframe(d, keys[0], created=[2024])
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page("pages/runs.py")
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.metric[0].value == "1"


def mode(p: Path) -> int:
    return stat.S_IMODE(p.lstat().st_mode)


def test_modes_are_set_only_on_what_the_cache_creates(tmp_path, runs):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp: everyone may create, the sticky bit protects
    mine = tmp_path / "mine"
    mine.mkdir()
    os.chmod(mine, 0o755)
    for top in (shared, mine):
        cache = ResultCache(top, summarise=summary)
        spec, r = runs[0][0], runs[1][0]
        with cache.lock(spec):  # the lock file too
            cache.put(spec, r)
        assert cache.get(spec) is not None
    assert mode(shared) == 0o1777 and mode(mine) == 0o755
    for top in (shared, mine):
        made = [p for p in (top / "results").rglob("*")] + [top / "results", top / "locks"]
        made += list((top / "locks").iterdir())
        value_files = [p for p in made if p.suffix == ".val"]
        assert value_files, "the arrays should be in a value file"
        for p in made:
            want = 0o700 if p.is_dir() else 0o600
            assert mode(p) == want, (str(p.relative_to(top)), oct(mode(p)))


def test_database_deleted_or_replaced_under_a_running_process_is_reopened(tmp_path, runs):
    specs, results = runs
    d = tmp_path / "c"
    running = ResultCache(d, summarise=summary)
    running.put(specs[0], results[0])
    db = d / "results" / "cache.db"

    # 1. `rm cache.db*` while the process runs: its next store must land in a
    # database that a new process sees (it went to the deleted file before).
    for name in ("cache.db", "cache.db-wal", "cache.db-shm"):
        (d / "results" / name).unlink(missing_ok=True)
    with pytest.warns(CacheWarning, match="deleted or replaced while in use"):
        running.put(specs[1], results[1])
    fresh = ResultCache(d, summarise=summary)
    assert fresh.get(specs[1]) is not None and running.get(specs[1]) is not None
    assert fresh.get(specs[0]) is None  # its bytes went with the file: recomputed
    fresh.close()

    # 2. `rm cache.db` alone (the -wal and -shm of the deleted file stay), under two
    # cache objects of one process: the second to notice must not take the first's
    # new log files for the old ones (both were open in this process).
    other_here = ResultCache(d, summarise=summary)
    assert other_here.get(specs[1]) is not None
    db.unlink()
    with pytest.warns(CacheWarning, match="deleted or replaced"):
        running.put(specs[2], results[2])
    with pytest.warns(CacheWarning, match="deleted or replaced"):
        other_here.put(specs[3], results[3])
    fresh = ResultCache(d, summarise=summary)
    assert fresh.get(specs[2]) is not None and fresh.get(specs[3]) is not None
    assert running.get(specs[3]) is not None and other_here.get(specs[2]) is not None
    fresh.close()

    # 3. Replaced by another database (a restored copy): the process reads the new one.
    other = tmp_path / "other"
    donor = ResultCache(other, summarise=summary, store_representations=False)
    small = ExperimentSpec(**dict(BIG, n_probe=20, width=4, seed=99))
    donor.put(small, run_experiment(small))
    donor.close()
    os.replace(other / "results" / "cache.db", db)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert running.get(small) is not None
        assert [e["key"] for e in running.entries()] == [running.key(small)]
        assert other_here.get(small) is not None
    assert any("deleted or replaced" in str(w.message) for w in caught)


def test_cache_clear_from_the_command_line_leaves_outside_files(tmp_path, runs):
    specs, _ = runs
    d = tmp_path / "c"
    cache = filled(d, runs)
    victim = tmp_path / "victim" / "precious.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"keep me")
    point(d, f"b/{cache.key(specs[0])}", str(victim), size=7)
    proc = subprocess.run([sys.executable, "-m", "engine", "cache", "clear", "--cache-dir",
                           str(d)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert victim.read_bytes() == b"keep me"
    assert "removed 7 entries" in proc.stdout
    # the refusal is one line, like every message of the command line
    warned = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert warned and all(ln.startswith("warning: results cache row refused") for ln in warned)
