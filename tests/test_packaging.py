"""Packaging: pyproject's dependency ranges admit a current stack, requirements.txt keeps
the project's exact pins, and the licence / changelog / citation files are there (the
diskcache internals the cache uses: tests/store/test_diskcache_adapter.py)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

import noisealign.engine as engine

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


def test_license_changelog_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["project"]["license"] == "MIT"
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    cff = (ROOT / "CITATION.cff").read_text()
    assert "cff-version: 1.2.0" in cff
    assert re.search(rf"^version: {re.escape(engine.__version__)}$", cff, re.MULTILINE)
