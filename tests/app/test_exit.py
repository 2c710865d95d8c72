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

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, tempfile, time
from noisealign.engine import ExperimentSpec
from noisealign.engine.store.cache import ResultCache
from noisealign.engine.compute.jobs import JobManager
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
                       capture_output=True, text=True, timeout=120, check=False)
    assert "training: epoch" in r.stdout, (r.stdout, r.stderr)
    assert "terminate called" not in r.stderr, r.stderr
    assert r.returncode == 0, (r.returncode, r.stderr)


def test_stopping_the_server_while_a_job_trains_is_clean(tmp_path, monkeypatch):
    import asyncio

    from tests._browser import streamlit_server
    from tests._wsession import WebsocketSession

    # An endless run that Auto-run starts from a link (budgets and limits raised).
    monkeypatch.setenv("NOISEALIGN_AUTO_RUN_SECONDS", "1e9")
    monkeypatch.setenv("NOISEALIGN_MAX_SECONDS", "1e9")
    monkeypatch.setenv("NOISEALIGN_GUARD_CALIBRATE", "0")
    query = "d=8&n=200&probe=40&width=256&K=4&epochs=1000000&tol=0&mode=Single+run&auto=true"

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port",
                str(port), "--server.headless", "true", "--server.address", "127.0.0.1",
                "--server.fileWatcherType", "none"]

    with streamlit_server(command, tmp_path) as (proc, base):
        port = base.rsplit(":", 1)[1]
        session = WebsocketSession(f"ws://127.0.0.1:{port}/_stcore/stream", query)
        asyncio.run(session.run_until("of at most 1000000", timeout=120))
        proc.terminate()  # SIGTERM, as a service manager (or Ctrl+C) stops the server
        rc = proc.wait(60)
    log = (tmp_path / "streamlit.log").read_text()
    assert "terminate called" not in log, log[-3000:]
    assert rc == 0, (rc, log[-3000:])
