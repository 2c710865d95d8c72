"""Issue 13, case 4: a sweep's workers end when their driver dies.

A CLI sweep runs in a subprocess (its own session, so every process it starts can be
found by session id in /proc); once its process-pool workers are training, the driver
gets SIGKILL (it cannot shut its pool down). Before the fix the workers, the fork server
and the resource tracker were still alive minutes later; now none survives 10 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _session(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid``, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return out


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    return out


def test_sigkill_of_the_sweep_driver_leaves_no_process_behind(tmp_path):
    env = {**os.environ, "NOISEALIGN_CACHE_DIR": str(tmp_path / "cache")}
    # Endless points (loss_tol 0 is never reached): the workers train until killed.
    driver = subprocess.Popen(
        [sys.executable, "-m", "engine", "sweep", "--n-train", "40", "--n-probe", "30",
         "--width", "16", "-K", "2", "--param", "d=5", "--max-epochs", "1000000",
         "--loss-tol", "0", "--axis", "seed=1,2", "--workers", "2", "--threads", "1",
         "--quiet", "--force"],
        cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    sid = driver.pid
    try:
        # Workers are grandchildren (forked by the fork server, a child of the driver).
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline and driver.poll() is None:
            workers = [g for c in _children(driver.pid) for g in _children(c)]
            if len(workers) >= 2:
                break
            time.sleep(0.2)
        assert len(workers) >= 2, ("the sweep's workers did not start", driver.poll())
        assert len(_session(sid)) >= 4  # driver, fork server, tracker, workers
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(10)
        # Before the fix they were alive 11 minutes later; a busy machine may need more
        # than the few seconds an idle one takes (measured: 4 s).
        deadline = time.monotonic() + 60
        left = _session(sid)
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = _session(sid)
        assert left == [], [Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ")[:100]
                            for p in left if os.path.exists(f"/proc/{p}")]
    finally:
        for pid in _session(sid):  # only this test's own processes (its session)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
