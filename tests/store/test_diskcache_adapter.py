"""noisealign.engine.store.diskcache_adapter against the installed diskcache: every private
part of diskcache the results cache reaches (``Cache._sql``, ``Cache._disk``, the ``Disk``
methods ``_SafeDisk`` overrides, ``diskcache.core``'s modes) exists, within pyproject's
bound, and works on a real cache."""

from __future__ import annotations

import inspect
from pathlib import Path

import diskcache
import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

from noisealign.engine.store import cache as engine_cache
from noisealign.engine.store import diskcache_adapter as dc
from noisealign.engine.store.files import UnsafeEntry

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPS = {Requirement(d).name: Requirement(d) for d in PYPROJECT["project"]["dependencies"]}


def test_installed_diskcache_is_within_the_bound_and_has_the_internals_used():
    assert DEPS["diskcache"].specifier.contains(Version(diskcache.__version__))
    # the Disk methods _SafeDisk overrides, with the arguments it passes on
    for method in ("put", "get", "store", "fetch", "remove", "filename", "_write"):
        base = inspect.signature(getattr(diskcache.Disk, method))
        ours = inspect.signature(getattr(dc._SafeDisk, method))
        assert list(base.parameters)[:len(ours.parameters)] == list(ours.parameters), method
    for name in ("UNKNOWN", "MODE_RAW", "MODE_BINARY"):
        assert hasattr(diskcache.core, name)
    assert callable(diskcache.Cache._sql.fget)  # a property returning the execute function
    assert dc.DEFAULT_SIZE_LIMIT == engine_cache.DEFAULT_SIZE_LIMIT


def test_diskcache_index_reads_work_on_a_real_cache(tmp_path):
    c = engine_cache.ResultCache(tmp_path / "c")
    db = c._open()
    assert isinstance(db._disk, dc._SafeDisk)
    assert db._disk.max_file_bytes == c.size_limit
    db.set("m/x", b"payload")
    db.set("l/y", b"label")
    db.set("b/x", b"\0" * 100_000)  # a value file
    rows = dc.index_rows(db)
    assert {r[0] for r in rows} == {"m/x", "l/y", "b/x"}
    row = next(r for r in rows if r[0] == "m/x")
    assert dc.fetch_row(db, row[2], row[3], row[4], row[5]) == b"payload"
    assert [r[0] for r in dc.label_rows(db)] == ["l/y"]
    dc.check_row(db, "b/x")  # a regular file of the recorded size: no error
    assert dc.peek(db, "b/x") == b"\0" * 100_000
    assert dc.peek(db, "m/missing") is None
    assert dc.least_recent_entry(db, keep="x") is None  # only x's items are entries
    db.set("m/z", b"other")
    assert dc.least_recent_entry(db, keep="x") == "m/z"


def test_a_pickled_value_is_refused_not_loaded(tmp_path):
    c = engine_cache.ResultCache(tmp_path / "c")
    db = c._open()
    db.set("m/x", b"payload")
    (_, _, _mode, filename, value, size), = dc.index_rows(db)
    with pytest.raises(UnsafeEntry):
        dc.fetch_row(db, diskcache.core.MODE_PICKLE, filename, value, size)
