"""The results cache (issue 5): exact round trips, no pickle, corruption recovery,
single flight across threads and processes, size limit, unwritable directories."""

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import diskcache
import numpy as np
import pytest

from noisealign import engine
from noisealign.engine import Cancelled, ExperimentSpec, Result, run_experiment
from noisealign.engine.store.cache import CacheWarning, ResultCache, default_cache_dir

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 10}, "n_train": 20, "n_probe": 20,
            "width": 8, "ensemble_size": 2, "max_epochs": 20, "device": "cpu"}


def small_summary(r: Result) -> dict:
    return r.summary()


def make_cache(path, **kw) -> ResultCache:
    kw.setdefault("summarise", small_summary)
    return ResultCache(path, **kw)


def assert_same_result(a: Result, b: Result, *, recomputed: bool = False) -> None:
    """Equal in every array; a recomputed result differs only in its timings."""
    assert a.spec == b.spec
    for name in Result._ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for xs, ys in ((a.hidden, b.hidden), (a.hidden_init, b.hidden_init)):
        assert len(xs) == len(ys)
        for x, y in zip(xs, ys):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    assert (a.n_parameters, a.n_classes, a.device) == (b.n_parameters, b.n_classes, b.device)
    assert a.versions == b.versions
    if not recomputed:
        assert a.timings == b.timings


@pytest.fixture(scope="module")
def tiny_result():
    spec = ExperimentSpec(**TINY)
    return spec, run_experiment(spec)


# ----------------------------------------------------------------------------- basics


def test_round_trip_is_exact_and_survives_reopening(tmp_path, tiny_result):
    spec, r = tiny_result
    cache = make_cache(tmp_path / "c")
    assert cache.get(spec) is None and not cache.has(spec) and cache.get_summary(spec) is None
    summary = cache.put(spec, r)
    assert summary == r.summary()
    again = make_cache(tmp_path / "c")  # a fresh instance reads what the first wrote
    assert again.has(spec)
    assert_same_result(again.get(spec), r)
    assert again.get_summary(spec) == r.summary()
    (entry,) = again.entries()
    assert entry["key"] == cache.key(spec) and entry["spec"] == spec.to_dict()
    assert entry["summary"] == r.summary() and entry["has_representations"]
    assert entry["complete"] and entry["bytes"] > 0 and abs(entry["created"] - time.time()) < 600
    assert again.volume() > 0


def test_default_directory_and_summariser(tmp_path, monkeypatch, tiny_result):
    monkeypatch.setenv("NOISEALIGN_CACHE_DIR", str(tmp_path / "from-env"))
    assert default_cache_dir() == tmp_path / "from-env"
    spec, r = tiny_result
    cache = ResultCache()  # default summarise: noisealign.engine.measures.summaries, or Result.summary
    assert cache.directory == tmp_path / "from-env"
    summary = cache.put(spec, r)
    assert isinstance(summary, dict) and summary and cache.get_summary(spec) == summary
    monkeypatch.delenv("NOISEALIGN_CACHE_DIR")
    assert default_cache_dir() == ROOT / "cache"


def test_key_follows_spec_content_and_engine_version(tmp_path, monkeypatch, tiny_result):
    spec, r = tiny_result
    cache = make_cache(tmp_path)
    k = cache.key(spec)
    assert len(k) == 64 and k == cache.key(ExperimentSpec(**TINY))
    assert k != cache.key(ExperimentSpec(**dict(TINY, seed=1)))
    # two specs that describe the same experiment share a key (snr_db is unused here)
    a = ExperimentSpec(**dict(TINY, noise="none", snr_db=3.0))
    b = ExperimentSpec(**dict(TINY, noise="none", snr_db=30.0))
    assert cache.key(a) == cache.key(b)
    cache.put(spec, r)
    monkeypatch.setattr(engine, "__version__", engine.__version__ + ".post1")
    assert cache.key(spec) != k
    assert cache.get(spec) is None and not cache.has(spec)


def test_owner_only_permissions(tmp_path, tiny_result):
    """What the cache creates is owner-only; an existing directory keeps its mode
    (tests/test_cache_tamper.py checks a 1777 directory and the value files)."""
    spec, _ = tiny_result
    existing = tmp_path / "existing"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)
    for d in (tmp_path / "new" / "nested", existing):
        cache = make_cache(d)
        cache.get_or_compute(spec)
        assert mode(d) == (0o755 if d == existing else 0o700)
        assert mode(d / "results") == 0o700 and mode(d / "locks") == 0o700
        assert mode(d / "results" / "cache.db") == 0o600
        for f in (d / "locks").iterdir():
            assert mode(f) == 0o600
    assert mode(tmp_path / "new") == 0o700  # a missing parent is created too


def test_bad_arguments_are_named(tmp_path, tiny_result):
    _spec, r = tiny_result
    with pytest.raises(ValueError, match="size_limit=0"):
        ResultCache(tmp_path, size_limit=0)
    with pytest.raises(ValueError, match="max_representation_bytes=-1"):
        ResultCache(tmp_path, max_representation_bytes=-1)
    cache = make_cache(tmp_path)
    with pytest.raises(ValueError, match="spec_or_key='abc'"):
        cache.delete("abc")
    with pytest.raises(ValueError, match="result.spec differs"):
        cache.put(ExperimentSpec(**dict(TINY, seed=9)), r)
    with pytest.raises(ValueError, match="spec must be an ExperimentSpec"):
        cache.key({"n_train": 20})


def test_delete_and_clear(tmp_path, tiny_result):
    spec, r = tiny_result
    cache = make_cache(tmp_path)
    cache.put(spec, r)
    assert cache.delete(cache.key(spec)) and not cache.has(spec) and cache.entries() == []
    assert not cache.delete(spec)
    cache.put(spec, r)
    cache.get_or_compute(ExperimentSpec(**dict(TINY, seed=1)))
    assert len(cache.entries()) == 2
    cache.clear()
    assert cache.entries() == [] and cache.get(spec) is None
    assert list((tmp_path / "locks").glob("*.lock")) == []


# ----------------------------------------------------------------------------- no pickle


class _Planted:
    """Unpickling this creates a directory: proof that code ran on load."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_planted_pickle_is_never_unpickled(tmp_path, tiny_result):
    spec, r = tiny_result
    cache = make_cache(tmp_path / "c")
    key = cache.key(spec)
    marker = tmp_path / "code-ran"

    # Control: diskcache's default Disk really does run the payload on load.
    plain = diskcache.Cache(str(tmp_path / "c" / "results"))
    plain.set("control", _Planted(str(marker)))
    plain.get("control")
    assert marker.is_dir()
    marker.rmdir()

    # An attacker who can write the cache directory plants pickles as our entry's
    # metadata, as its arrays (in the database and as a value file), and as a key.
    plain.set(f"m/{key}", _Planted(str(marker)))
    plain.set(f"b/{key}", _Planted(str(marker)))
    plain.set(_Planted(str(marker)), b"value under a pickled key")
    plain.close()
    with pytest.warns(CacheWarning, match="refused"):
        assert cache.get(spec) is None
    cache.entries()
    assert cache.get_summary(spec) is None
    cache.put(spec, r)
    plain = diskcache.Cache(str(tmp_path / "c" / "results"))
    # the array item as a large pickle stored in a value file
    big = [_Planted(str(marker))] + [b"x" * 1000] * 100
    plain.set(f"b/{key}", big)
    plain.close()
    with pytest.warns(CacheWarning, match="refused"):
        assert cache.get(spec) is None
    assert not marker.exists()
    # and the entry recovers: recomputed and stored safely
    assert_same_result(cache.get_or_compute(spec), r, recomputed=True)
    assert not marker.exists()


# ----------------------------------------------------------------------------- corruption


def _flip(data: bytes, at: int) -> bytes:
    b = bytearray(data)
    b[at] ^= 0xFF
    return bytes(b)


def test_corrupted_entries_are_dropped_and_recomputed(tmp_path):
    # n_probe 200, width 32: the arrays (> 32 kB) go to a value file; the metadata stays
    # in SQLite.
    spec = ExperimentSpec(**dict(TINY, n_probe=200, width=32))
    r = run_experiment(spec)
    cache = make_cache(tmp_path)
    key = cache.key(spec)
    db = tmp_path / "results" / "cache.db"

    def corrupt_file() -> None:
        (vf,) = [p for p in (tmp_path / "results").rglob("*.val")]
        vf.write_bytes(_flip(vf.read_bytes(), 5000))

    def truncate_file() -> None:
        (vf,) = [p for p in (tmp_path / "results").rglob("*.val")]
        vf.write_bytes(vf.read_bytes()[:1000])

    def delete_file() -> None:
        (vf,) = [p for p in (tmp_path / "results").rglob("*.val")]
        vf.unlink()

    def corrupt_meta() -> None:
        with sqlite3.connect(db) as con:
            (value,) = con.execute("SELECT value FROM Cache WHERE key = ?", (f"m/{key}",)).fetchone()
            con.execute("UPDATE Cache SET value = ? WHERE key = ?",
                        (_flip(bytes(value), len(value) // 2), f"m/{key}"))

    def garbage_meta() -> None:
        with sqlite3.connect(db) as con:
            con.execute("UPDATE Cache SET value = ? WHERE key = ?", (b"\x00garbage", f"m/{key}"))

    for damage in (corrupt_file, truncate_file, delete_file, corrupt_meta, garbage_meta):
        cache.put(spec, r)
        assert_same_result(cache.get(spec), r)
        damage()
        with pytest.warns(CacheWarning, match="unreadable"):
            assert cache.get(spec) is None, damage.__name__
        assert not cache.has(spec)  # dropped
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            again = cache.get_or_compute(spec)  # recomputed
            assert_same_result(again, r, recomputed=True)
            assert_same_result(cache.get(spec), again)


def test_small_entry_corrupted_inside_the_database(tmp_path, tiny_result):
    spec, r = tiny_result  # small: the arrays live in SQLite
    cache = make_cache(tmp_path)
    cache.put(spec, r)
    assert list((tmp_path / "results").rglob("*.val")) == []
    with sqlite3.connect(tmp_path / "results" / "cache.db") as con:
        (value,) = con.execute("SELECT value FROM Cache WHERE key = ?",
                               (f"b/{cache.key(spec)}",)).fetchone()
        con.execute("UPDATE Cache SET value = ? WHERE key = ?",
                    (_flip(bytes(value), 300), f"b/{cache.key(spec)}"))
    with pytest.warns(CacheWarning, match="checksum"):
        assert cache.get(spec) is None
    assert_same_result(cache.get_or_compute(spec), r, recomputed=True)


def test_corrupted_database_file_is_recreated(tmp_path, tiny_result):
    spec, r = tiny_result
    cache = make_cache(tmp_path)
    cache.put(spec, r)
    cache.close()
    (tmp_path / "results" / "cache.db").write_bytes(b"this is not a database" * 500)
    for extra in ("cache.db-wal", "cache.db-shm"):
        (tmp_path / "results" / extra).unlink(missing_ok=True)
    with pytest.warns(CacheWarning, match="corrupted"):
        cache = make_cache(tmp_path)
    assert cache.get(spec) is None
    cache.put(spec, r)
    assert_same_result(cache.get(spec), r)


# ----------------------------------------------------------------------------- limits


def test_size_limit_evicts_least_recently_used(tmp_path):
    specs = [ExperimentSpec(**dict(TINY, n_probe=200, width=32, seed=s, max_epochs=1))
             for s in range(8)]
    results = [run_experiment(s) for s in specs]
    cache = make_cache(tmp_path, size_limit=400_000, max_representation_bytes=10**6)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # eviction is not an error
        for s, r in zip(specs, results):
            cache.put(s, r)
            cache.get(specs[0])  # keep the first one in use
        assert cache.volume() <= 400_000 + 120_000  # diskcache culls after each write
        assert cache.has(specs[-1]) and cache.has(specs[0])
        kept = [cache.get(s) is not None for s in specs]
    assert sum(kept) < len(specs)
    assert not kept[1]  # the least recently used went first


def test_representations_optional_summaries_always(tmp_path):
    spec = ExperimentSpec(**dict(TINY, n_probe=200, width=32))
    r = run_experiment(spec)
    def uses_hidden(res):
        return {"h": float(np.abs(res.hidden[-1]).mean())}
    full = uses_hidden(r)
    for kw in ({"max_representation_bytes": 10_000}, {"store_representations": False}):
        cache = ResultCache(tmp_path / str(len(kw) + len(str(kw))), summarise=uses_hidden, **kw)
        assert cache.put(spec, r) == full  # summarised before dropping representations
        (entry,) = cache.entries()
        assert not entry["has_representations"] and entry["summary"] == full
        light = cache.get(spec)
        assert light.hidden[0].size == 0 and light.output.size == 0
        np.testing.assert_array_equal(light.test_error, r.test_error)
        np.testing.assert_array_equal(light.curve_train_loss, r.curve_train_loss)
        assert cache.get(spec, need_representations=True) is None
        assert cache.get_or_compute(spec, need_representations=True).hidden[0].shape == r.hidden[0].shape


def test_unwritable_directory_still_returns_results(tmp_path, tiny_result):
    spec, r = tiny_result
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("a file where the cache directory should be")
    with pytest.warns(CacheWarning, match="unavailable"):
        cache = make_cache(not_a_dir)
    with pytest.warns(CacheWarning, match="not stored"):
        got = cache.get_or_compute(spec)
    np.testing.assert_array_equal(got.test_error, r.test_error)
    with pytest.warns(CacheWarning, match="not stored"):
        cache.put(spec, r)
    assert cache.get(spec) is None and cache.entries() == [] and cache.volume() == 0


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_disk_full_warns_and_keeps_the_result(tmp_path):
    import resource
    spec = ExperimentSpec(**dict(TINY, n_probe=200, width=32))
    r = run_experiment(spec)
    cache = make_cache(tmp_path)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    try:
        # Files cannot grow past 16 kB: the value file (~100 kB) cannot be written.
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_000, hard))
        with pytest.warns(CacheWarning, match="could not store"):
            cache.put(spec, r)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert cache.get(spec) is None and not cache.has(spec)
    cache.put(spec, r)  # space is back
    assert_same_result(cache.get(spec), r)


# ----------------------------------------------------------------------------- single flight


def test_threads_share_one_training(tmp_path):
    spec = ExperimentSpec(**dict(TINY, max_epochs=400, loss_tol=0.0))
    cache = make_cache(tmp_path)
    trainings = []
    lock = threading.Lock()

    def worker(out, i):
        started = []

        def progress(epoch, max_epochs, losses):
            if not started:
                started.append(1)
                with lock:
                    trainings.append(i)
        out[i] = cache.get_or_compute(spec, progress=progress)

    out = {}
    threads = [threading.Thread(target=worker, args=(out, i)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(trainings) == 1
    for i in range(1, 4):
        assert_same_result(out[i], out[0])


def test_cancel_ends_a_wait_for_another_computation(tmp_path, tiny_result):
    spec, _ = tiny_result
    cache = make_cache(tmp_path)
    with cache.lock(spec):  # someone else is computing it
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            cache.get_or_compute(spec, cancel=lambda: time.monotonic() - t0 > 0.3)
    assert not cache.has(spec)


CHILD = r"""
import os, sys, time, hashlib
from noisealign.engine.store.cache import ResultCache
from noisealign.engine.pipeline.spec import ExperimentSpec
spec = ExperimentSpec.from_json(sys.argv[1])
cache = ResultCache(sys.argv[2], summarise=lambda r: r.summary())
counter, go = sys.argv[3], sys.argv[4]
open(go + "." + str(os.getpid()), "w").close()
while len([f for f in os.listdir(os.path.dirname(go)) if f.startswith(os.path.basename(go) + ".")]) < int(sys.argv[5]):
    time.sleep(0.01)
hang = len(sys.argv) > 6
started = []
def progress(epoch, max_epochs, losses):
    if not started:
        started.append(1)
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        if hang:  # stay mid-training (holding the lock) until killed
            time.sleep(600)
r = cache.get_or_compute(spec, progress=progress)
h = hashlib.sha256(b"".join(a.tobytes() for a in (r.test_error, *r.hidden, r.output)))
print(h.hexdigest())
"""


def _child(spec, cache_dir, counter, go, n, *hang):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", CHILD, spec.to_json(), str(cache_dir),
                             str(counter), str(go), str(n), *hang],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_processes_train_once(tmp_path):
    spec = ExperimentSpec(**dict(TINY, max_epochs=3000, loss_tol=0.0))
    counter, go = tmp_path / "trainings", tmp_path / "go" / "ready"
    go.parent.mkdir()
    procs = [_child(spec, tmp_path / "c", counter, go, 2) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert len(counter.read_text().split()) == 1  # one trained, the other waited
    assert outs[0][0].strip() == outs[1][0].strip() != ""  # and got the same result
    cache = make_cache(tmp_path / "c")
    assert len(cache.entries()) == 1


def test_killed_worker_leaves_nothing_and_next_request_recomputes(tmp_path):
    spec = ExperimentSpec(**dict(TINY, max_epochs=300, loss_tol=0.0))
    counter, go = tmp_path / "trainings", tmp_path / "go" / "ready"
    go.parent.mkdir()
    proc = _child(spec, tmp_path / "c", counter, go, 1, "hang")
    deadline = time.monotonic() + 60
    while not counter.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert counter.exists(), proc.communicate()[1] if proc.poll() is not None else "no start"
    proc.send_signal(signal.SIGKILL)  # mid-training, holding the lock
    proc.wait(10)
    cache = make_cache(tmp_path / "c")
    assert not cache.has(spec) and cache.entries() == [] and cache.get(spec) is None
    trained = []
    # the dead worker's lock is free: this call trains at once, it does not wait
    r = cache.get_or_compute(spec, progress=lambda *a: trained.append(1))
    assert trained and r.epochs.tolist() == [300, 300]
    assert cache.has(spec)
