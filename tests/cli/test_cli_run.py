"""`noisealign run`: results go through the shared cache, and --out is checked first."""

from __future__ import annotations

from noisealign.engine.cli import commands as cli
from noisealign.engine.store.cache import ResultCache

TINY = ["run", "--dataset", "linear-teacher", "--n-train", "20", "--n-probe", "20",
        "--width", "4", "-K", "2", "--max-epochs", "5", "--quiet"]


def test_run_stores_then_loads_from_the_cache(tmp_path, capsys) -> None:
    cache_dir = tmp_path / "c"
    assert cli.main(TINY + ["--cache-dir", str(cache_dir)]) == 0
    first = capsys.readouterr().out
    assert "(from the cache)" not in first
    assert len(ResultCache(cache_dir).entries()) == 1
    assert cli.main(TINY + ["--cache-dir", str(cache_dir), "--out", str(tmp_path / "r")]) == 0
    second = capsys.readouterr().out
    assert "(from the cache)" in second
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.npz").is_file()
    # the printed member table is the same result
    assert first.splitlines()[1:] == second.splitlines()[1:-1]


def test_no_cache_trains_without_storing(tmp_path, capsys) -> None:
    cache_dir = tmp_path / "c"
    assert cli.main(TINY + ["--cache-dir", str(cache_dir), "--no-cache"]) == 0
    assert len(ResultCache(cache_dir).entries()) == 0


def test_unwritable_out_is_refused_before_training(tmp_path, capsys) -> None:
    cache_dir = tmp_path / "c"
    code = cli.main(TINY + ["--cache-dir", str(cache_dir),
                            "--out", str(tmp_path / "missing" / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: --out") and "Traceback" not in err
    assert len(ResultCache(cache_dir).entries()) == 0  # nothing was trained
