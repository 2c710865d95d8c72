"""The README's Python examples run as copied: each block saved as a script and run in a
fresh process (private cache), as a user would, so a sweep without its
``if __name__ == "__main__":`` guard fails here too. The SLURM examples need a cluster:
the dask-jobqueue block is compiled, and the job-array script runs with its array
variables set and the ``noisealign`` command of this checkout."""

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path):
    block = BLOCKS[index]
    if "SLURMCluster" in block:  # needs SLURM: checked to compile, with its guard
        compile(block, "README.md", "exec")
        assert 'if __name__ == "__main__":' in block
        return
    if "tcp://HOST:8786" not in block:
        _run(block)
        return
    # The cluster example: a real local Dask cluster (scheduler and a worker process)
    # stands in for the user's, at the address the example names.
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        _run(block.replace("tcp://HOST:8786", cluster.scheduler_address))


def _run(code: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "example.py"
        script.write_text(code)
        env = dict(os.environ, PYTHONPATH=str(ROOT))  # this checkout's engine
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                              text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


SBATCH = [b for b in re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
          if "#SBATCH --array" in b]


def test_readme_job_array_script_computes_the_sweep_in_slices(tmp_path):
    """The job-array script, run as its three array tasks would (serially here), fills
    one cache; the sweep without --shard then computes nothing."""
    assert len(SBATCH) == 1
    script = tmp_path / "job.sh"
    # a quicker sweep of the same shape (the script's own training takes minutes)
    script.write_text(SBATCH[0].replace("--max-epochs 200", "--max-epochs 3 --n-probe 30"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "noisealign"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m engine \"$@\"\n")
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", PYTHONPATH=str(ROOT),
               NOISEALIGN_CACHE_DIR=str(tmp_path / "cache"), SLURM_ARRAY_TASK_COUNT="3")
    computed = []
    for task in range(3):
        proc = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600, env={**env, "SLURM_ARRAY_TASK_ID": str(task)}, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        doc = json.loads((tmp_path / f"slice_{task}.json").read_text())
        computed += [r["key"] for r in doc["rows"] if not r["from_cache"]]
    assert len(computed) == len(set(computed)) == 6
