"""Issue 13, case 11 (rest): stopping the server while a job trains must not abort.

The job manager's threads are daemons (the server must not wait for a long run), and a
daemon thread still inside torch when the interpreter tears down aborted the process:
"terminate called without an active exception", exit status 134. At exit the manager
now cancels its jobs and joins their threads briefly. A real process: a job trains an
endless run, and the main thread exits as the server's does when it is stopped.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys, tempfile, time
from engine import ExperimentSpec
from engine.cache import ResultCache
from engine.jobs import JobManager
cache = ResultCache(tempfile.mkdtemp(dir=sys.argv[1]))
m = JobManager(cache, max_workers=1)
spec = ExperimentSpec(dataset_params={"d": 8}, n_train=200, n_probe=40, width=256,
                      ensemble_size=4, max_epochs=1_000_000, loss_tol=0.0)
job = m.submit_run(spec, "s")
t = time.monotonic()
while job.progress == 0 and time.monotonic() - t < 60:
    time.sleep(0.05)
time.sleep(1.0)
print("training:", job.view().message, flush=True)
sys.exit(0)
"""


def test_exit_while_a_job_trains_is_clean(tmp_path):
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert "training: epoch" in r.stdout, (r.stdout, r.stderr)
    assert "terminate called" not in r.stderr, r.stderr
    assert r.returncode == 0, (r.returncode, r.stderr)
