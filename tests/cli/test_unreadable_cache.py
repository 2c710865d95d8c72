"""Issue 29 item 10: a cache directory this process cannot read is said to be unreadable,
never counted as empty. ``cache clear`` said "removed 0 entries" (exit 0) and ``cache
list`` "no entries" while three were stored, when the CLI ran as a user that may not
read the directory (reproduced here as root without its file-permission capabilities,
on a cache owned by ``nobody`` with mode 0700, or as a non-root user on mode 0000).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache

ROOT = Path(__file__).resolve().parents[2]
TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 4}, "n_train": 10,
        "n_probe": 20, "width": 4, "ensemble_size": 2, "max_epochs": 5}


def _drop_file_permission_override() -> None:  # in the child, before exec
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP


def _tree(path: Path) -> list[Path]:
    return [path, *path.rglob("*")]


@pytest.fixture
def unreadable(tmp_path):
    """A cache of three runs that the CLI's child process may not read."""
    if sys.platform != "linux":
        pytest.skip("permissions are simulated with Linux facilities")
    d = tmp_path / "cache"
    cache = ResultCache(d)
    for w in (4, 5, 6):
        s = ExperimentSpec(**{**TINY, "width": w})
        cache.put(s, run_experiment(s))
    assert len(cache.entries()) == 3
    cache.close()
    if os.geteuid() == 0:  # owned by nobody, 0700: root without CAP_DAC_* reads nothing
        for p in _tree(d):
            os.chown(p, 65534, 65534)
        os.chmod(d, 0o700)
        preexec = _drop_file_permission_override
    else:
        os.chmod(d, 0)
        preexec = None
    probe = subprocess.run([sys.executable, "-c", f"import os; os.listdir({str(d)!r})"],
                           preexec_fn=preexec, capture_output=True, check=False)
    if probe.returncode == 0:
        pytest.skip("this process reads any directory (capabilities could not be dropped)")
    yield d, preexec
    if os.geteuid() == 0:
        for p in _tree(d):
            os.chown(p, 0, 0)
    os.chmod(d, 0o700)
    assert len(ResultCache(d).entries()) == 3  # nothing was removed


def _cli(d: Path, preexec, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "noisealign", "cache", *args,
                           "--cache-dir", str(d)], capture_output=True, text=True,
                          preexec_fn=preexec, env=env, cwd=ROOT, timeout=120,
                          check=False)


@pytest.mark.parametrize("args", [("clear",), ("list",), ("info",), ("list", "--json"),
                                  ("clear", "--json")])
def test_an_unreadable_cache_is_an_error_not_zero_entries(unreadable, args):
    d, preexec = unreadable
    p = _cli(d, preexec, *args)
    assert p.returncode == 5, (p.returncode, p.stdout, p.stderr)  # the environment
    assert p.stdout == ""  # no "removed 0 entries", "no entries", "entries 0", no JSON
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: results cache in {d} cannot be read (")
    assert "Permission denied" in last and "Traceback" not in p.stderr
    if args[0] == "clear":
        assert last.endswith("nothing was removed")


def test_a_readable_cache_still_lists_and_clears(tmp_path):
    d = tmp_path / "c"
    s = ExperimentSpec(**TINY)
    ResultCache(d).put(s, run_experiment(s))
    p = _cli(d, None, "list", "--json")
    assert p.returncode == 0 and len(json.loads(p.stdout)["entries"]) == 1
    p = _cli(d, None, "clear")
    assert p.returncode == 0 and p.stdout.startswith("removed ")
    p = _cli(d, None, "list")
    assert p.returncode == 0 and p.stdout.startswith("no entries in ")
