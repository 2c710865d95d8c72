"""Scriptable CLI output: --version, headline measures, --json documents on stdout,
progress lines that suit a log, `noisealign app`, and `sweep --shard I/N` on one cache."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from noisealign import engine
from noisealign.engine.cli import commands as cli
from noisealign.engine.cli.text import short_value
from noisealign.engine.compute.sweep import parse_shard, shard_indices
from noisealign.engine.store.cache import ResultCache

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--dataset", "linear-teacher", "--n-train", "20", "--n-probe", "20", "--width", "4",
        "-K", "2", "--max-epochs", "5"]
SWEEP = ["sweep", "--dataset", "linear-teacher", "--n-probe", "20", "-K", "2",
         "--max-epochs", "3", "--axis", "n_train=20,30,40", "--axis", "width=2,4",
         "--executor", "serial", "--quiet", "--force"]


def _engine(*args: str, cwd: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300, **kw, check=False)


def test_version_from_the_module_and_main(capsys):
    proc = _engine("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"noisealign {engine.__version__}"
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"noisealign {engine.__version__}"


def test_run_prints_the_headline_and_out_holds_every_summary_number(tmp_path, capsys):
    cache_dir = tmp_path / "c"
    assert cli.main(["run", *TINY, "--cache-dir", str(cache_dir), "--out",
                     str(tmp_path / "r")]) == 0
    cap = capsys.readouterr()
    assert "\r" not in cap.err  # not a terminal: plain progress lines
    summary = ResultCache(cache_dir).entries()[0]["summary"]
    head = cli.headline(summary)
    line = next(l for l in cap.out.splitlines() if l.startswith("test MSE "))
    for word, key in (("CKA", "cka"), ("II score", "ii_score"), ("mutual k-NN", "mknn")):
        assert f"{word} {short_value(head[key])}" in line
    assert f"N={summary['N']}" in line and f"II k={summary['k']}" in line
    assert f"k-NN k={summary['knn_k']}" in line
    written = json.loads((tmp_path / "r.summary.json").read_text())
    from noisealign.engine.compute.export import json_safe
    assert written["summary"] == json_safe(summary) and written["headline"] == json_safe(head)


def test_run_json_is_one_document_on_stdout(tmp_path, capsys):
    args = ["run", *TINY, "--cache-dir", str(tmp_path / "c"), "--json"]
    assert cli.main(args) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)  # the whole of stdout
    assert doc["from_cache"] is False and len(doc["members"]) == 2
    assert set(doc["headline"]) >= {"N", "k", "knn_k", "test_error", "cka", "ii_score", "mknn"}
    assert 0 <= doc["headline"]["cka"] <= 1 and doc["summary"]["N"] == 20
    assert "epoch" in cap.err  # progress went to stderr
    assert cli.main(args) == 0
    assert json.loads(capsys.readouterr().out)["from_cache"] is True


def test_cache_list_and_compare_json(tmp_path, capsys):
    cache_dir = tmp_path / "c"
    assert cli.main(["run", *TINY, "--cache-dir", str(cache_dir), "--quiet"]) == 0
    capsys.readouterr()
    assert cli.main(["cache", "list", "--json", "--cache-dir", str(cache_dir)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["entries"]) == 1 and doc["entries"][0]["spec"]["n_train"] == 20
    assert doc["entries"][0]["model"] is None
    ex = tmp_path / "ex.npz"
    assert cli.main(["compare", "--write-example", str(ex), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["wrote"] == str(ex)
    assert cli.main(["compare", str(ex), "--measures", "cka,mknn", "--json"]) == 0
    cap = capsys.readouterr()
    doc = json.loads(cap.out)
    assert doc["N"] == 600 and {r["measure"] for r in doc["rows"]} == {"cka", "mknn"}
    assert "rows in" in cap.err


def test_progress_is_live_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    live, log = Tty(), io.StringIO()
    for stream in (live, log):
        p = cli.Progress(stream=stream, every=3600)
        for i in range(5):
            p.show(f"step {i}", final=i == 4)
        p.end()
    assert live.getvalue() == "".join(f"\rstep {i}" for i in range(5)) + "\n"
    assert log.getvalue() == "step 0\nstep 4\n"  # the first, then the last (rate-limited)


def test_shard_slices_are_disjoint_and_cover_the_grid():
    slices = [shard_indices(10, (i, 3)) for i in range(3)]
    assert sorted([x for part in slices for x in part]) == list(range(10))
    assert [len(s) for s in slices] == [4, 3, 3]
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/3", "1/0", "a/b", "1", "1/2/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_three_shard_processes_compute_every_point_once(tmp_path):
    cache_dir = tmp_path / "shared"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, "-m", "engine", *SWEEP, "--shard", f"{i}/3",
                               "--json", "--cache-dir", str(cache_dir)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        docs.append(json.loads(out))
    computed = [[r["key"] for r in d["rows"] if not r["from_cache"]] for d in docs]
    assert [len(c) for c in computed] == [2, 2, 2]
    assert len({x for part in computed for x in part}) == 6  # disjoint, and together the whole grid
    assert len(ResultCache(cache_dir).entries()) == 6
    whole = _engine(*SWEEP, "--json", "--cache-dir", str(cache_dir), env=env)
    assert whole.returncode == 0, whole.stderr[-2000:]
    doc = json.loads(whole.stdout)
    assert doc["computed"] == 0 and len(doc["rows"]) == 6
    assert {r["key"] for r in doc["rows"]} == {x for part in computed for x in part}


def test_app_serves_the_dashboard_on_localhost(tmp_path):
    import urllib.request

    from tests._browser import streamlit_server

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "engine", "app", "--port", str(port)]

    with streamlit_server(command, tmp_path) as (proc, base):
        assert base.startswith("http://") and proc.poll() is None
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert r.status == 200
    assert "warning" not in (tmp_path / "streamlit.log").read_text()


def test_app_refuses_bad_flags_and_warns_for_a_non_local_host(monkeypatch, capsys):
    assert cli.main(["app", "--port", "70000"]) == 2
    assert capsys.readouterr().err.startswith("error: --port")
    assert cli.find_app() == ROOT / "app.py"
    launched = []
    # not serving a real non-local address from a test: stop at the exec
    monkeypatch.setattr(os, "execv", lambda path, argv: launched.append(argv))
    monkeypatch.chdir(ROOT)
    assert cli.main(["app", "--host", "192.0.2.1", "--port", "8600"]) == 0
    err = capsys.readouterr().err
    assert "warning: --host 192.0.2.1" in err and "no password" in err
    assert launched[0][-8:] == ["--server.address", "192.0.2.1", "--server.port", "8600",
                                "--server.headless", "true", "--browser.gatherUsageStats",
                                "false"]
