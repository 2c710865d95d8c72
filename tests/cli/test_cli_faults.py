"""The command line under failures (issue 13, cases 6 and 11), in real subprocesses.

Each failure is one ``error:`` line and a distinct exit code (noisealign.engine.cli.commands.EXIT_CODES),
never a traceback, and what was computed is in the cache before any output file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from noisealign.engine.cli.commands import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_MEMORY, EXIT_USAGE
from noisealign.engine.store.cache import ResultCache

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "linear-teacher", "--n-train", "20", "--n-probe", "20", "--width", "4",
        "-K", "2", "--max-epochs", "5", "--quiet"]
SWEEP = ["sweep", *TINY, "--axis", "seed=0,1", "--executor", "serial"]

# Loads numpy, torch and the engine, then caps the address space a little above what
# they take: the run's own allocation fails as it would on a machine without the memory.
CAPPED = r"""
import resource, sys
import numpy, torch
import noisealign.engine as engine
import noisealign.engine.store.cache
import noisealign.engine.cli.commands
import noisealign.engine.pipeline.run
vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (vm + (400 << 20), resource.RLIM_INFINITY))
sys.exit(noisealign.engine.cli.commands.main(sys.argv[1:]))
"""


def cli(*args: str, capped: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", CAPPED] if capped else [sys.executable, "-m", "engine"]
    return subprocess.run(cmd + list(args), cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT), **(env or {})), check=False)


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line, after checking that nothing else went wrong."""
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
    return errors[0]


def test_a_failed_sweep_point_is_one_line_and_exit_3(tmp_path):
    # MNIST without its files: the spec is valid, the point fails when it loads data.
    proc = cli("sweep", "--dataset", "mnist", "--n-train", "20", "--n-probe", "20",
               "--width", "4", "-K", "2", "--max-epochs", "2", "--axis", "seed=0,1",
               "--executor", "serial", "--quiet", "--cache-dir", str(tmp_path / "c"),
               env={"NOISEALIGN_DATA_DIR": str(tmp_path / "empty")})
    assert proc.returncode == EXIT_FAILED
    assert "sweep point {'seed': 0} failed: DataNotFoundError" in one_error_line(proc)


@pytest.mark.parametrize("size, where", [
    (["--n-train", "20000", "--width", "8192", "-K", "4"], "can't allocate memory"),  # torch
    (["--n-train", "100000", "--param", "d=2000", "--width", "4"], "MemoryError"),  # numpy
])
def test_out_of_memory_is_one_line_and_exit_4(tmp_path, size, where):
    proc = cli("run", "--dataset", "linear-teacher", *size, "--max-epochs", "2", "--quiet",
               "--cache-dir", str(tmp_path / "c"), capped=True)
    assert proc.returncode == EXIT_MEMORY, proc.stderr[-3000:]
    line = one_error_line(proc)
    assert line.startswith("error: out of memory (") and where in line and "reduce" in line


def test_out_unwritable_after_the_work_loses_nothing(tmp_path):
    cache_dir = tmp_path / "c"
    full = tmp_path / "table.csv"  # a name that passes every check, on a full "disk"
    full.symlink_to("/dev/full")
    proc = cli(*SWEEP, "--cache-dir", str(cache_dir), "--out", str(full))
    assert proc.returncode == EXIT_ENVIRONMENT
    line = one_error_line(proc)
    assert "could not write --out" in line and "No space left on device" in line
    assert "the results are in the cache" in line
    assert len(ResultCache(cache_dir).entries()) == 2  # stored before the write
    good = tmp_path / "table2.csv"
    proc = cli(*SWEEP, "--cache-dir", str(cache_dir), "--out", str(good))
    assert proc.returncode == 0 and "2 from the cache" in proc.stderr and good.is_file()

    (tmp_path / "r.json").symlink_to("/dev/full")  # run --out writes r.json and r.npz
    proc = cli("run", *TINY, "--seed", "7", "--cache-dir", str(cache_dir),
               "--out", str(tmp_path / "r"))
    assert proc.returncode == EXIT_ENVIRONMENT and "could not write --out" in one_error_line(proc)
    assert len(ResultCache(cache_dir).entries()) == 3


def test_sweep_out_with_a_wrong_extension_is_refused_before_the_sweep(tmp_path):
    cache_dir = tmp_path / "c"
    proc = cli(*SWEEP, "--cache-dir", str(cache_dir), "--out", str(tmp_path / "x.txt"))
    assert proc.returncode == EXIT_USAGE
    line = one_error_line(proc)
    assert "--out" in line and "x.txt" in line and ".csv or .json" in line
    assert "sweep of" not in proc.stderr  # refused before it started
    assert ResultCache(cache_dir).entries() == []
    proc = cli(*SWEEP, "--cache-dir", str(cache_dir), "--out", str(tmp_path / "no" / "x.csv"))
    assert proc.returncode == EXIT_USAGE and "not writable" in one_error_line(proc)
    assert ResultCache(cache_dir).entries() == []


def test_label_noise_on_a_regression_dataset_is_an_error(tmp_path):
    proc = cli("run", *TINY, "--label-noise", "0.2", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == EXIT_USAGE
    line = one_error_line(proc)
    assert "--label-noise 0.2 is invalid for dataset 'linear-teacher'" in line
    assert "regression" in line and "--snr-db" in line
    assert not (tmp_path / "c").exists() or ResultCache(tmp_path / "c").entries() == []
    # where it applies it is accepted
    proc = cli("run", "--dataset", "gaussian-mixture", "--param", "d=4", "--n-train", "20",
               "--n-probe", "20", "--width", "4", "-K", "2", "--max-epochs", "2",
               "--label-noise", "0.2", "--quiet", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "noise=label  level=0.2" in proc.stdout
