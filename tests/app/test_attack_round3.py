"""Round three of the attack (issue 27, item 5; docs/reliability.md, "Round three"): run
names and tags under concurrent writers, a full disk and a read-only cache, and
``make run``'s bind address and XSRF check. (The hand-off: test_handoff_props.py; the
presets and presentation mode: test_browser_present.py; shipped summaries:
test_precomputed_schema.py.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests._browser import free_port
from tests._fixtures import wait_until

ROOT = Path(__file__).resolve().parents[2]

# In a child process (so file-size limits and dropped capabilities stay there): five
# cached runs; four processes each label all five 40 times (markup in the names); then
# no file may grow (a full disk) while 30 more labels are set; then the tree read-only.
CHILD = r"""
import json, multiprocessing as mp, os, resource, signal, sqlite3, sys
from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store.cache import ResultCache

root = sys.argv[1]
specs = [ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                        n_probe=20, width=4, ensemble_size=2, max_epochs=5, seed=s)
         for s in range(5)]

def writer(i, q):
    c, errors = ResultCache(root), []
    for j in range(40):
        for s in specs:
            try:
                c.set_label(s, name=f"w{i} n{j} <b>x</b> [a](http://e)", tags=[f"t{i}", f"j{j}"])
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
    q.put(errors)

def main():
    out = {}
    c = ResultCache(root)
    for s in specs:
        c.put(s, run_experiment(s))
    q = mp.get_context("spawn").Queue()
    ps = [mp.get_context("spawn").Process(target=writer, args=(i, q)) for i in range(4)]
    for p in ps: p.start()
    out["writer_errors"] = [e for _ in ps for e in q.get(timeout=240)]
    for p in ps: p.join(60)
    out["labels"] = ResultCache(root).labels()
    # a full disk: no file may grow past its size now
    db = os.path.join(root, "results", "cache.db")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = os.path.getsize(db)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    full = []
    c = ResultCache(root)
    for j in range(30):
        try:
            c.set_label(specs[j % 5], name="full " + "y" * 70 + str(j),
                        tags=["z" * 30 + str(k) for k in range(10)])
            full.append("ok")
        except OSError as e:
            full.append(f"OSError: {e}")
        except Exception as e:
            full.append(f"OTHER {type(e).__name__}: {e}")
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    out["full"] = full
    out["after_full"] = ResultCache(root).labels()
    out["integrity"] = sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0]
    # read-only
    for dp, ds, fs in os.walk(root):
        for x in ds + fs:
            p = os.path.join(dp, x)
            os.chmod(p, os.stat(p).st_mode & ~0o222)
    os.chmod(root, 0o555)
    out["read_only_enforced"] = not os.access(root, os.W_OK)
    try:
        ResultCache(root).set_label(specs[0], name="read-only")
        out["read_only"] = "stored"
    except OSError as e:
        out["read_only"] = f"OSError: {e}"
    except Exception as e:
        out["read_only"] = f"OTHER {type(e).__name__}: {e}"
    for dp, ds, fs in os.walk(root):
        for x in ds + fs:
            os.chmod(os.path.join(dp, x), 0o700)
    os.chmod(root, 0o700)
    out["after_read_only"] = ResultCache(root).labels()
    print(json.dumps(out))

if __name__ == "__main__":
    main()
"""


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and capabilities: Linux")
def test_labels_under_concurrent_writers_a_full_disk_and_a_read_only_cache(tmp_path):
    from tests.store.test_cache_faults import _drop_file_permission_override
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    cache = tmp_path / "cache"
    proc = subprocess.run([sys.executable, str(script), str(cache)], capture_output=True,
                          text=True, timeout=400, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"),
                          preexec_fn=_drop_file_permission_override if os.geteuid() == 0
                          else None, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    # concurrent writers: no error, every label one writer's whole write (not torn)
    assert out["writer_errors"] == []
    assert len(out["labels"]) == 5
    for label in out["labels"].values():
        m = re.fullmatch(r"w(\d) n(\d+) <b>x</b> \[a\]\(http://e\)", label["name"])
        assert m and label["tags"] == [f"t{m[1]}", f"j{m[2]}"], label
    # a full disk: each failure is one OSError saying so; nothing else, nothing lost
    assert all(r == "ok" or r.startswith("OSError: results cache ")
               for r in out["full"]), out["full"]
    assert any(r != "ok" for r in out["full"]), "the file-size limit did not bite"
    assert out["integrity"] == "ok"
    assert len(out["after_full"]) == 5
    # read-only: one OSError naming the cache; the labels are all there afterwards
    if out["read_only_enforced"]:
        assert out["read_only"].startswith("OSError: results cache in"), out["read_only"]
    assert out["after_read_only"] == out["after_full"]


def test_make_run_serves_this_machine_only_with_xsrf_on(tmp_path):
    """``make run`` is ``streamlit run app.py`` in the project folder (the Makefile), which
    reads .streamlit/config.toml: it must listen on 127.0.0.1 alone and refuse an upload
    without the XSRF token."""
    recipe = re.search(r"^run:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE).group(1)
    assert recipe.split()[1:] == ["run", "app.py"], recipe
    port = free_port()
    env = dict(os.environ, NOISEALIGN_CACHE_DIR=str(tmp_path / "c"),
               NOISEALIGN_DATA_DIR=str(tmp_path / "d"))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def healthy() -> bool:
            assert proc.poll() is None, "the server exited"
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                return True
            except OSError:
                return False
        # an event with a generous limit, not a time: the machine is shared
        assert wait_until(healthy, timeout=600, step=0.3), "no server"
        listening = []
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    listening.append(local.rsplit(":", 1)[0])
        assert listening == ["0100007F"], listening  # 127.0.0.1, and no IPv6 wildcard
        put = urllib.request.Request(f"http://127.0.0.1:{port}/_stcore/upload_file/s/f",
                                     data=b"x" * 10, method="PUT",
                                     headers={"Origin": "http://evil.example"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(put, timeout=10)
        assert e.value.code == 403 and b"XSRF" in e.value.read()
    finally:
        proc.terminate()
        proc.wait(20)
