"""The cluster path as a user runs it: a real `dask scheduler` and one `dask worker`, each
its own process started from an empty folder and without PYTHONPATH (the worker finds
the engine because the package is installed), and the `noisealign` command sending a
sweep to them with --scheduler. Also: an unreachable scheduler is one line, quickly.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

BIN = Path(sys.executable).parent
SPEC_ARGS = ["--param", "d=6", "--n-probe", "30", "--width", "6", "-K", "2",
             "--max-epochs", "30", "--device", "cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith("NOISEALIGN_")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _command(name: str) -> list[str]:
    """The installed console script (what a user types), from this interpreter's venv."""
    exe = BIN / name
    if not exe.exists():
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"`{name}` is not installed next to {sys.executable}: run "
                        "`make install-test` (pip install -e .)")
        exe = Path(found)
    return [str(exe)]


def _wait_for_worker(address: str, timeout: float = 180.0) -> None:
    from distributed import Client
    with Client(address, timeout=60) as client:
        client.wait_for_workers(1, timeout=timeout)


@pytest.fixture
def cluster(tmp_path):
    """(address, log folder) of a scheduler and one worker in separate processes."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    run_dir = tmp_path / "elsewhere"  # not the checkout: nothing importable by accident
    run_dir.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    try:
        procs.append(subprocess.Popen(
            _command("dask") + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                "--no-dashboard"],
            cwd=run_dir, env=_clean_env(), stdout=subprocess.DEVNULL,
            stderr=open(logs / "scheduler.log", "w")))  # noqa: SIM115 (the process's log, open while it runs)
        procs.append(subprocess.Popen(
            _command("dask") + ["worker", address, "--nworkers", "1", "--nthreads", "1",
                                "--no-dashboard", "--local-directory", str(tmp_path / "w")],
            cwd=run_dir, env=_clean_env(), stdout=subprocess.DEVNULL,
            stderr=open(logs / "worker.log", "w")))  # noqa: SIM115 (the process's log, open while it runs)
        _wait_for_worker(address)
        yield address, run_dir, logs
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_cli_sweep_runs_on_a_separate_scheduler_and_worker(cluster, tmp_path):
    address, run_dir, logs = cluster
    cache_dir = tmp_path / "cache"
    out = tmp_path / "table.json"
    cmd = _command("noisealign") + ["sweep", *SPEC_ARGS, "--axis", "n_train=8,16",
                                    "--scheduler", address, "--cache-dir", str(cache_dir),
                                    "--out", str(out), "--quiet"]
    done = subprocess.run(cmd, cwd=run_dir, env=_clean_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, (done.stderr[-3000:],
                                  (logs / "worker.log").read_text()[-3000:])
    assert "dask executor" in done.stderr and "Traceback" not in done.stderr
    rows = json.loads(out.read_text())
    assert sorted(r["n_train"] for r in rows) == [8, 16]
    assert not any(r["from_cache"] for r in rows)
    for r in rows:
        assert 0.0 <= r["summary"]["measures"]["cka"]["mean"] <= 1.0
    # The worker computed them and the driver stored them in its cache.
    from noisealign.engine.store.cache import ResultCache
    cache = ResultCache(cache_dir)
    entries = cache.entries()
    assert len(entries) == 2 and all(e["complete"] for e in entries)
    assert {e["key"] for e in entries} == {r["key"] for r in rows}
    # Again: every point from the cache, and nothing sent to the cluster.
    again = subprocess.run(cmd, cwd=run_dir, env=_clean_env(), capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-3000:]
    assert all(r["from_cache"] for r in json.loads(out.read_text()))


def test_unreachable_scheduler_is_one_line_within_ten_seconds(tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    t0 = time.monotonic()
    done = subprocess.run(
        _command("noisealign") + ["sweep", *SPEC_ARGS, "--axis", "n_train=8,16",
                                  "--scheduler", address, "--cache-dir", str(tmp_path / "c"),
                                  "--quiet"],
        cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=120, check=False)
    seconds = time.monotonic() - t0
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 5, done.stderr[-3000:]  # an environment fault
    assert "Traceback" not in done.stderr
    assert len(errors) == 1 and address in errors[0] and "dask scheduler" in errors[0]
    # It gave up on its own 5 s connect timeout (the message says so), not distributed's
    # 30 s; the measured time (5.5 s on an idle machine) is printed, not asserted.
    assert "within 5 s" in errors[0]
    print(f"\nunreachable scheduler reported after {seconds:.1f} s")


# ----------------------------------------------------------------------------- issue 29 item 7


def _tree(root: int) -> list[int]:
    """``root`` and every live process below it (from /proc)."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
                fields = stat[stat.rindex(")") + 2:].split()
                if fields[0] != "Z":
                    parent[int(d)] = int(fields[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in parent:
            out.append(p)
            todo += [c for c, pp in parent.items() if pp == p]
    return out


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return total / ticks


def test_workers_stop_training_soon_after_the_driver_is_sigkilled(tmp_path):
    """Issue 29 item 7: `dask scheduler` + `dask worker --nworkers 2`, a CLI sweep of an
    endless point (loss_tol 0, a million epochs) and a short one; once the short one is
    cached the driver gets SIGKILL. Before the lease the workers trained on for minutes;
    now they are idle within seconds (LEASE_SECONDS), and the finished point stays cached."""
    from noisealign.engine.compute.sweep import LEASE_SECONDS
    from noisealign.engine.store.cache import ResultCache
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    root = Path(__file__).resolve().parents[2]
    env = {**_clean_env(), "PYTHONPATH": str(root)}  # this checkout's engine everywhere
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    try:
        procs.append(subprocess.Popen(
            _command("dask") + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                "--no-dashboard"], cwd=tmp_path, env=env,
            stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w")))  # noqa: SIM115 (the process's log, open while it runs)
        worker = subprocess.Popen(
            _command("dask") + ["worker", address, "--nworkers", "2", "--nthreads", "1",
                                "--no-dashboard", "--local-directory", str(tmp_path / "w")],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
            stderr=open(logs / "worker.log", "w"))  # noqa: SIM115 (the process's log, open while it runs)
        procs.append(worker)
        _wait_for_worker(address)
        window = 4.0
        before = _cpu_seconds(_tree(worker.pid))
        time.sleep(window)
        resting = _cpu_seconds(_tree(worker.pid)) - before  # the workers' own upkeep
        cache_dir = tmp_path / "cache"
        driver = subprocess.Popen(
            [sys.executable, "-m", "engine", "sweep", "--n-train", "20", "--n-probe", "30",
             "--width", "16", "-K", "2", "--param", "d=5", "--loss-tol", "0",
             "--axis", "max_epochs=5,1000000", "--scheduler", address, "--cache-dir",
             str(cache_dir), "--quiet", "--force"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(logs / "driver.log", "w"))  # noqa: SIM115 (the process's log, open while it runs)
        procs.append(driver)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and driver.poll() is None:
            if cache_dir.exists() and len(ResultCache(cache_dir).entries()) >= 1:
                break
            time.sleep(0.5)
        assert driver.poll() is None, (logs / "driver.log").read_text()[-3000:]
        assert len(ResultCache(cache_dir).entries()) == 1, "the short point was not cached"
        time.sleep(2.0)  # the endless point is training now
        before = _cpu_seconds(_tree(worker.pid))
        time.sleep(window)
        busy = _cpu_seconds(_tree(worker.pid)) - before
        # On a machine shared by many processes a trainer gets a fraction of a core.
        assert busy > resting + 0.15, (f"the endless point is not training ({busy:.2f} CPU "
                                       f"s in 4 s, {resting:.2f} at rest)")
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(10)
        t_kill = time.monotonic()
        # Idle: the worker's whole process tree back to its upkeep at rest (within a
        # quarter of the training's extra CPU). The lease expires after LEASE_SECONDS;
        # a busy machine gets a generous margin.
        idle_after, seen = None, []
        while time.monotonic() - t_kill < LEASE_SECONDS + 120:
            before = _cpu_seconds(_tree(worker.pid))
            time.sleep(window)
            seen.append(round(_cpu_seconds(_tree(worker.pid)) - before, 2))
            if seen[-1] < resting + max(0.05, (busy - resting) / 4):
                idle_after = time.monotonic() - t_kill
                break
        log_text = (logs / "worker.log").read_text()
        assert idle_after is not None, (f"the workers kept training after the driver died: "
                                        f"CPU s per {window:g} s {seen}, {busy:.2f} training,"
                                        f" {resting:.2f} at rest\n" + log_text[-1500:])
        assert "lease" in log_text and "expired" in log_text, log_text[-3000:]
        print(f"\nworkers idle {idle_after:.1f} s after SIGKILL of the driver "
              f"(a {window:g} s window; training used {busy:.2f} CPU s per window)")
        entries = ResultCache(cache_dir).entries()
        assert len(entries) == 1 and entries[0]["complete"]
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
