"""Packaging: pyproject's dependency ranges admit a current stack, requirements.txt keeps
the project's exact pins, diskcache's private parts that engine/store/cache.py uses exist in the
installed release (within pyproject's bound), and the licence / changelog / citation
files are there."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import diskcache
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

from noisealign import engine
from noisealign.engine.store import cache as engine_cache

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DEPS = {Requirement(d).name: Requirement(d) for d in PYPROJECT["project"]["dependencies"]}


def test_dependencies_admit_current_releases():
    for name, newer in (("torch", "2.15.0"), ("numpy", "2.3.0"), ("pandas", "3.0.6"),
                        ("scipy", "1.17.1"), ("pyarrow", "25.0.1")):
        assert DEPS[name].specifier.contains(Version(newer)), (name, str(DEPS[name]))
    assert "dadapy" not in DEPS  # an extra only: it pins numpy<2
    assert any(Requirement(r).name == "dadapy"
               for r in PYPROJECT["project"]["optional-dependencies"]["id"])


def test_requirements_keep_the_projects_exact_pins():
    text = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", text, re.MULTILINE)
    assert re.search(r"^dadapy==", text, re.MULTILINE)


def test_installed_diskcache_is_within_the_bound_and_has_the_internals_used():
    assert DEPS["diskcache"].specifier.contains(Version(diskcache.__version__))
    # the Disk methods _SafeDisk overrides, with the arguments it passes on
    for method in ("put", "get", "store", "fetch", "remove", "filename", "_write"):
        base = inspect.signature(getattr(diskcache.Disk, method))
        ours = inspect.signature(getattr(engine_cache._SafeDisk, method))
        assert list(base.parameters)[:len(ours.parameters)] == list(ours.parameters), method
    for name in ("UNKNOWN", "MODE_RAW", "MODE_BINARY"):
        assert hasattr(diskcache.core, name)


def test_diskcache_index_reads_work_on_a_real_cache(tmp_path):
    c = engine_cache.ResultCache(tmp_path / "c")
    dc = c._open()
    assert isinstance(dc._disk, engine_cache._SafeDisk)
    dc.set("m/x", b"payload")
    rows = dc._sql("SELECT key, raw, mode, filename, value, size FROM Cache").fetchall()
    assert rows and rows[0][0] == "m/x"
    assert dc._disk.fetch(rows[0][2], rows[0][3], rows[0][4], False) == b"payload"
    assert hasattr(dc._disk, "max_file_bytes")


def test_license_changelog_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    cff = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in cff
    assert re.search(rf"^version: {re.escape(engine.__version__)}$", cff, re.MULTILINE)
