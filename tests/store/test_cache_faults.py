"""Cache faults (issue 8), with a real diskcache in temporary directories.

tests/test_cache.py covers the single faults (one corrupted entry, a closed database
overwritten, a path that is a file, a value file over RLIMIT_FSIZE, a planted pickle).
These tests go further: a directory that is really read-only (also when the tests run as
root), the disk filling up under SQLite itself, ENOSPC on value files, corruption while
the cache is open, truncated value files among healthy ones. Each checks that the caller
still gets the right result, a CacheWarning says what happened, nothing raises, no wrong
result is ever served and no healthy entry is lost.
"""

import ctypes
import errno
import json
import os
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from noisealign.engine import ExperimentSpec, Result, run_experiment
from noisealign.engine.store.cache import CacheWarning, ResultCache
from noisealign.engine.store.diskcache_adapter import _SafeDisk

ROOT = Path(__file__).resolve().parents[2]
# n_probe 200, width 32: the arrays (~100 kB) go to value files, the metadata to SQLite.
BIG = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 20, "n_probe": 200,
           "width": 32, "ensemble_size": 2, "max_epochs": 10, "device": "cpu"}


def summary(r: Result) -> dict:
    return r.summary()


def same(a: Result, b: Result) -> bool:
    """Same numbers (a recomputed result differs only in its timings)."""
    return (a.spec == b.spec and np.array_equal(a.test_error, b.test_error)
            and all(np.array_equal(x, y) for x, y in zip(a.hidden, b.hidden)))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny recomputations: one thread avoids thread hand-offs on a busy CI machine."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def runs():
    specs = [ExperimentSpec(**dict(BIG, seed=s)) for s in range(6)]
    return specs, [run_experiment(s) for s in specs]


def record(fn):
    """(value, [CacheWarning messages]) of fn(); any exception fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fn()
    return value, [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]


def integrity(directory: Path) -> str:
    with sqlite3.connect(directory / "results" / "cache.db") as con:
        return con.execute("PRAGMA integrity_check").fetchone()[0]


# ----------------------------------------------------------------------------- read-only
# and SQLite disk-full, in a child process: the child can lose root's power to ignore
# file permissions, and its file-size limit cannot disturb the test runner.

CHILD = r"""
import errno, json, os, resource, signal, sqlite3, sys, warnings
from pathlib import Path
import numpy as np
from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import CacheWarning, ResultCache

root = Path(sys.argv[1])
BIG = json.loads(sys.argv[2])
specs = [ExperimentSpec(**dict(BIG, seed=s)) for s in range(4)]
runs = [run_experiment(s) for s in specs]
summ = lambda r: r.summary()
out = {}

def rec(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v = fn()
    return v, [str(x.message) for x in w if issubclass(x.category, CacheWarning)]

def same(r, i):
    return r is not None and np.array_equal(r.test_error, runs[i].test_error)

def set_writable(path, on):
    for p in sorted(path.rglob("*"), reverse=True) + [path]:
        mode = os.stat(p).st_mode
        os.chmod(p, (mode | 0o200) if on else (mode & ~0o222))

# Can this process still write a read-only directory (root with CAP_DAC_OVERRIDE)?
probe = root / "probe"; probe.mkdir(); os.chmod(probe, 0o555)
try:
    (probe / "x").write_text("x")
    out["read_only_enforced"] = False
except PermissionError:
    out["read_only_enforced"] = True

if out["read_only_enforced"]:
    # A: a populated cache whose directory is then made read-only.
    a = root / "populated"
    c = ResultCache(a, summarise=summ)
    for s, r in zip(specs[:2], runs[:2]):
        c.put(s, r)
    c.close()
    set_writable(a, False)
    c, w_open = rec(lambda: ResultCache(a, summarise=summ))
    got, w_use = rec(lambda: [c.get_or_compute(s) for s in specs[:3]])
    out["A"] = {"warnings": w_open + w_use, "correct": [same(g, i) for i, g in enumerate(got)]}
    c.close()
    set_writable(a, True)  # the administrator fixes the permissions
    c, w_after = rec(lambda: ResultCache(a, summarise=summ))
    out["A"]["after"] = [same(c.get(s), i) for i, s in enumerate(specs[:2])]
    out["A"]["after_warnings"] = w_after

    # B: a fresh cache in a read-only directory.
    b = root / "fresh"; b.mkdir(); os.chmod(b, 0o555)
    c, w_open = rec(lambda: ResultCache(b, summarise=summ))
    got, w_use = rec(lambda: [c.get_or_compute(specs[0]) for _ in range(2)])
    out["B"] = {"warnings": w_open + w_use, "correct": [same(g, 0) for g in got],
                "files": sorted(p.name for p in b.rglob("*"))}

    # C: the directory turns read-only while the cache is open (a running server).
    d = root / "live"
    c = ResultCache(d, summarise=summ)
    for s, r in zip(specs[:2], runs[:2]):
        c.put(s, r)
    set_writable(d, False)
    got, w_use = rec(lambda: [c.get_or_compute(s) for s in specs[:4]])
    out["C"] = {"warnings": w_use, "correct": [same(g, i) for i, g in enumerate(got)]}
    c.close()
    set_writable(d, True)
    c, w_after = rec(lambda: ResultCache(d, summarise=summ))
    out["C"]["after"] = [same(c.get(s), i) for i, s in enumerate(specs[:2])]
    out["C"]["after_any"] = [c.get(s) is None or same(c.get(s), i)
                             for i, s in enumerate(specs)]
    out["C"]["after_warnings"] = w_after

# D: the disk fills up under SQLite: no file may grow (RLIMIT_FSIZE at the current size).
e = root / "full"
c = ResultCache(e, summarise=summ, store_representations=False)  # small: inline in SQLite
for s, r in zip(specs[:2], runs[:2]):
    c.put(s, r)
largest = max(p.stat().st_size for p in (e / "results").rglob("*") if p.is_file())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (largest, hard))
try:
    got, w_full = rec(lambda: [c.get_or_compute(s) for s in specs])
    read_back, w_read = rec(lambda: [c.get(s) for s in specs[:2]])
finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
out["D"] = {"warnings": w_full, "correct": [same(g, i) for i, g in enumerate(got)],
            "read_while_full": [same(g, i) for i, g in enumerate(read_back)],
            "read_warnings": w_read}
c.close()
c, w_after = rec(lambda: ResultCache(e, summarise=summ, store_representations=False))
after = [c.get(s) for s in specs]
out["D"]["after"] = [same(g, i) if g is not None else None for i, g in enumerate(after)]
out["D"]["after_warnings"] = w_after
with sqlite3.connect(e / "results" / "cache.db") as con:
    out["D"]["integrity"] = con.execute("PRAGMA integrity_check").fetchone()[0]
c.put(specs[3], runs[3])
out["D"]["put_after"] = same(c.get(specs[3]), 3)
print(json.dumps(out))
"""


def _drop_file_permission_override() -> None:  # runs in the child, before exec
    """Drop CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and CAP_FOWNER from the bounding set:
    a root child then obeys file permissions like any user (it stays the owner)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP; failure shows in the probe


@pytest.fixture(scope="module")
def child_faults(tmp_path_factory):
    if sys.platform != "linux":
        pytest.skip("read-only and file-size faults are simulated with Linux facilities")
    root = tmp_path_factory.mktemp("faults")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    proc = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps(BIG)],
                          capture_output=True, text=True, cwd=ROOT, env=env,
                          preexec_fn=preexec, timeout=300, check=False)
    # restore write permission so pytest can remove the directory
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, os.stat(p).st_mode | 0o700)
    assert proc.returncode == 0, proc.stderr[-4000:]  # no crash in any scenario
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))  # shown with -s, and on failure
    return out


def test_read_only_directory_still_returns_results_and_loses_nothing(child_faults):
    out = child_faults
    if not out["read_only_enforced"]:
        pytest.skip("this process can write read-only directories (root with capabilities "
                    "that could not be dropped)")
    a = out["A"]  # populated cache made read-only
    assert a["correct"] == [True, True, True]
    assert any("unavailable" in w for w in a["warnings"])
    assert a["after"] == [True, True] and a["after_warnings"] == []  # entries lost: 0
    b = out["B"]  # fresh read-only directory
    assert b["correct"] == [True, True]
    assert any("unavailable" in w for w in b["warnings"])
    assert b["files"] == []  # nothing written
    c = out["C"]  # turned read-only while open
    assert c["correct"] == [True] * 4
    assert c["after"] == [True, True]  # entries lost: 0
    assert all(c["after_any"])  # never a wrong result


def test_disk_full_under_sqlite_keeps_every_stored_entry(child_faults):
    d = child_faults["D"]
    assert d["correct"] == [True] * 4  # every caller got its result
    assert any("could not store" in w or "not cached" in w for w in d["warnings"])
    assert d["read_while_full"] == [True, True]
    assert d["after"][:2] == [True, True]  # entries lost: 0
    assert all(x in (True, None) for x in d["after"])  # never a wrong or half entry
    assert d["after_warnings"] == [] and d["integrity"] == "ok"
    assert d["put_after"]  # space is back: storing works again


# ----------------------------------------------------------------------------- ENOSPC


def test_enospc_on_value_files_warns_leaves_no_partial_file_and_recovers(tmp_path, runs,
                                                                          monkeypatch):
    specs, results = runs
    cache = ResultCache(tmp_path, summarise=summary)
    for s, r in zip(specs[:3], results[:3]):
        cache.put(s, r)
    files_before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.val"))
    assert len(files_before) == 3

    real_write = _SafeDisk._write

    def disk_full(self, full_path, iterator, mode, encoding=None):
        # Like a real full disk: the file is created, part of it written, then ENOSPC.
        os.makedirs(os.path.dirname(full_path), exist_ok=True)
        with open(full_path, "xb") as f:
            f.write(b"\0" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), full_path)

    monkeypatch.setattr(_SafeDisk, "_write", disk_full)
    got, warned = record(lambda: [cache.get_or_compute(s) for s in specs])
    assert [same(g, r) for g, r in zip(got, results)] == [True] * 6
    assert len(warned) == 3 and all("No space left on device" in w for w in warned)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.val")) == files_before
    assert [cache.has(s) for s in specs] == [True] * 3 + [False] * 3

    monkeypatch.setattr(_SafeDisk, "_write", real_write)  # space freed
    again, warned = record(lambda: [cache.get_or_compute(s) for s in specs])
    assert warned == [] and all(same(g, r) for g, r in zip(again, results))
    assert all(cache.has(s) for s in specs) and integrity(tmp_path) == "ok"


# ----------------------------------------------------------------------------- corruption


def _damage_db(directory: Path, names: tuple[str, ...], keep_header: bool = False) -> None:
    for name in names:
        p = directory / "results" / name
        data = bytearray(p.read_bytes())
        start = 4096 if keep_header else 0
        data[start:] = os.urandom(max(len(data) - start, 4096))
        p.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["db while open", "db and wal while open",
                                    "wal while open", "pages after the header",
                                    "db with stale wal and shm"])
def test_corrupted_database_never_serves_a_wrong_result(tmp_path, runs, damage):
    specs, results = runs
    cache = ResultCache(tmp_path, summarise=summary)
    for s, r in zip(specs[:3], results[:3]):
        cache.put(s, r)
    if damage == "db while open":
        _damage_db(tmp_path, ("cache.db",))
    elif damage == "db and wal while open":
        _damage_db(tmp_path, ("cache.db", "cache.db-wal"))
    elif damage == "wal while open":
        _damage_db(tmp_path, ("cache.db-wal",))
    elif damage == "pages after the header":
        cache.close()
        cache._open()  # checkpointed into cache.db, then damaged below the header
        cache.close()
        _damage_db(tmp_path, ("cache.db",), keep_header=True)
    else:  # a crash left -wal/-shm beside a database that was then overwritten
        other = ResultCache(tmp_path, summarise=summary)  # keeps the WAL alive
        _damage_db(tmp_path, ("cache.db",))
        del other

    seen_warnings = []
    for round_ in range(2):  # in the damaged process, then after a restart
        if round_ == 1:
            cache.close()
            cache, warned = record(lambda: ResultCache(tmp_path, summarise=summary))
            seen_warnings += warned
        got, warned = record(lambda cache=cache: [cache.get_or_compute(s) for s in specs[:4]])
        seen_warnings += warned
        assert [same(g, r) for g, r in zip(got, results)] == [True] * 4, (damage, round_)
        for s, r in zip(specs[:4], results):
            stored = cache.get(s)
            assert stored is None or same(stored, r)  # never a wrong result
        listing, _ = record(cache.entries)
        assert {e["key"] for e in listing} <= {cache.key(s) for s in specs}
    # once recreated, the cache works as new
    cache.put(specs[5], results[5])
    assert same(cache.get(specs[5]), results[5])
    assert integrity(tmp_path) == "ok"
    if damage in ("pages after the header", "db and wal while open"):
        assert any("corrupted" in w for w in seen_warnings)


def test_database_path_taken_by_a_directory_degrades_to_pass_through(tmp_path, runs):
    specs, results = runs
    (tmp_path / "results" / "cache.db").mkdir(parents=True)
    cache, warned = record(lambda: ResultCache(tmp_path, summarise=summary))
    assert any("unavailable" in w for w in warned)
    got, warned = record(lambda: cache.get_or_compute(specs[0]))
    assert same(got, results[0]) and any("not stored" in w for w in warned)


# ----------------------------------------------------------------------------- truncation


def test_truncated_value_files_are_dropped_and_healthy_entries_kept(tmp_path, runs):
    specs, results = runs
    cache = ResultCache(tmp_path, summarise=summary)
    for s, r in zip(specs, results):
        cache.put(s, r)
    with sqlite3.connect(tmp_path / "results" / "cache.db") as con:
        files = dict(con.execute("SELECT key, filename FROM Cache WHERE filename IS NOT NULL"))
    damaged = specs[:3]
    for s, keep in zip(damaged, (0, 1, 0.5)):  # empty, one byte, half
        f = tmp_path / "results" / files[f"b/{cache.key(s)}"]
        data = f.read_bytes()
        f.write_bytes(data[:int(len(data) * keep) if keep < 1 else keep])

    got, warned = record(lambda: [cache.get(s) for s in specs])
    assert [g is None for g in got] == [True, True, True, False, False, False]
    assert all(same(g, r) for g, r in zip(got[3:], results[3:]))  # entries lost: 0
    assert len(warned) == 3 and all("unreadable" in w for w in warned)
    assert {e["key"] for e in cache.entries()} == {cache.key(s) for s in specs[3:]}
    again, warned = record(lambda: [cache.get_or_compute(s) for s in specs])
    assert warned == [] and all(same(g, r) for g, r in zip(again, results))
    assert len(cache.entries()) == 6 and integrity(tmp_path) == "ok"
