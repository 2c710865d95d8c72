"""The findings presets' precomputed summaries (noisealign.engine.presets.shipped, shipped as
engine/precomputed/presets.json by ``python -m experiments.precompute``): every preset
point is in the shipped file, a recomputed point matches it, the loader never crashes on
a bad file, and the dashboard draws shipped points (marked) without training them."""

from __future__ import annotations

import json
import math

import pytest

from experiments.precompute import build, check, preset_sweep
from noisealign.engine.presets import shipped as precomputed
from noisealign.engine.presets.catalog import PRESETS
from noisealign.engine.store.cache import ResultCache

# Seeded runs are reproducible on the CPU; the shipped floats are rounded to
# precomputed.DIGITS (6) significant digits. The tolerance allows that rounding and a
# last-bit difference from another thread count: relative 1e-3, absolute 2e-3 (the
# Information Imbalance moves in steps of about 1/N = 0.002 when a tie among neighbour
# distances breaks the other way).
REL_TOL, ABS_TOL = 1e-3, 2e-3

# The cheapest preset point (0.15 s): linear network, n = 25, SNR 40 dB, data seed 0.
CHEAP_PRESET, CHEAP_POINT = "linear_snr", {"snr_db": 40.0, "n_train": 25}


def _numbers(a, b, where: str = "") -> list[tuple[str, float, float]]:
    """(path, a, b) for every number of ``a`` (and the same place of ``b``)."""
    out = []
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, sorted(a), sorted(b or {}))
        for k in a:
            out += _numbers(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            out += _numbers(x, y, f"{where}[{i}]")
    elif isinstance(a, (int, float)) and not isinstance(a, bool):
        out.append((where, float(a), float(b)))
    else:
        assert a == b, (where, a, b)
    return out


# ----------------------------------------------------------------------------- shipped file


def test_every_preset_point_is_shipped():
    """A fresh install draws every preset: all their points are in the shipped file
    (regenerate it with `python -m experiments.precompute` after an engine change)."""
    data = precomputed.load(precomputed.PATH)
    assert data["format"] == precomputed.FORMAT
    from noisealign import engine
    assert data["engine_version"] == engine.__version__
    lacking = {}
    for name in PRESETS:
        specs = preset_sweep(name).specs()
        n = sum(precomputed.cache_key(s) not in data["summaries"] for s in specs)
        if n:
            lacking[name] = f"{n} of {len(specs)}"
    assert not lacking, f"preset points missing from {precomputed.PATH}: {lacking}"
    assert check(list(PRESETS), precomputed.PATH, log=lambda *_: None) == 0


def test_every_default_view_point_is_shipped():
    """Issue 30 item 4: each page's default view (read from the page itself) is in the
    shipped file, so a fresh install draws its first figure at once."""
    from experiments.precompute import VIEWS, view_specs
    views = view_specs()
    assert set(views) == set(VIEWS) and all(views.values())
    assert len(views["alignment"]) == 18  # n_train 20..200 x SNR 0/10/20 dB
    assert check([], precomputed.PATH, log=lambda *_: None, views=views) == 0
    data = precomputed.load(precomputed.PATH)
    for page, specs in views.items():
        assert data["views"][page] == [precomputed.cache_key(s) for s in specs]


def test_shipped_file_is_small_plain_json():
    text = precomputed.PATH.read_text(encoding="utf-8")
    assert len(text) < 3_000_000
    data = json.loads(text)  # strict JSON: no NaN / Infinity
    assert set(data) >= {"format", "engine_version", "commit", "created", "presets",
                         "summaries"}
    for s in data["summaries"].values():
        assert "representations" not in s and "hidden" not in s


def test_a_recomputed_preset_point_matches_the_shipped_summary(tmp_path):
    sweep = preset_sweep(CHEAP_PRESET)
    spec = next(s for s, v in zip(sweep.specs(), sweep.points())
                if {k: v[k] for k in CHEAP_POINT} == CHEAP_POINT and v.get("replicate", 0) == 0)
    shipped = precomputed.load(precomputed.PATH)["summaries"].get(precomputed.cache_key(spec))
    assert shipped is not None, "the cheap preset point is not shipped"
    cache = ResultCache(tmp_path / "fresh")
    cache.get_or_compute(spec)
    fresh = precomputed.slim(cache.get_summary(spec))
    bad = [(w, a, b) for w, a, b in _numbers(fresh, shipped)
           if not (math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
                   or (math.isnan(a) and math.isnan(b)))]
    assert not bad, f"recomputed vs shipped differ beyond the tolerance: {bad[:10]}"
    assert len(_numbers(fresh, shipped)) > 50  # the comparison covered the summary


# ----------------------------------------------------------------------------- generator and slim


TINY = {"dataset": "linear-teacher", "dataset_params": {"d": 6}, "n_train": 12, "n_probe": 30,
            "noise": "target", "snr_db": 10.0, "width": 6, "activation": "linear", "ensemble_size": 2,
            "max_epochs": 30, "seed": 0}


def test_generator_writes_the_cached_points_and_counts_the_missing(tmp_path, monkeypatch):
    import experiments.precompute as pc
    from noisealign.engine.compute.sweep import Sweep
    from noisealign.engine.pipeline.spec import ExperimentSpec
    sweep = Sweep(ExperimentSpec(**TINY), {"n_train": [8, 12]})
    monkeypatch.setattr(pc, "preset_sweep", lambda name: sweep)
    cache = ResultCache(tmp_path / "c")
    cache.get_or_compute(sweep.specs()[0])  # one of the two points cached
    data, missing = build(cache, ["tiny"], compute=False, workers=None, log=lambda *_: None)
    assert missing == {"tiny": 1} and len(data["summaries"]) == 1
    assert data["presets"]["tiny"] == [cache.key(s) for s in sweep.specs()]
    key = cache.key(sweep.specs()[0])
    assert data["summaries"][key] == precomputed.slim(cache.get_summary(sweep.specs()[0]))
    out = tmp_path / "p.json"
    out.write_text(json.dumps(data))
    assert check(["tiny"], out, log=lambda *_: None) == 1


def test_generator_ships_views_and_keeps_what_the_old_file_holds(tmp_path):
    from noisealign.engine.compute.sweep import Sweep
    from noisealign.engine.pipeline.spec import ExperimentSpec
    specs = Sweep(ExperimentSpec(**TINY), {"n_train": [8, 12, 16]}).specs()
    cache = ResultCache(tmp_path / "c")
    cache.get_or_compute(specs[0])
    old = {cache.key(specs[1]): {"N": 30, "kept": True}}  # only in the file being rewritten
    data, missing = build(cache, [], compute=False, workers=None, log=lambda *_: None,
                          views={"page": specs}, keep=old)
    assert missing == {"view:page": 1}
    assert data["views"]["page"] == [cache.key(s) for s in specs]
    assert data["summaries"][cache.key(specs[1])] == {"N": 30, "kept": True}
    assert data["summaries"][cache.key(specs[0])] == precomputed.slim(
        cache.get_summary(specs[0]))
    out = tmp_path / "p.json"
    out.write_text(json.dumps(data))
    assert check([], out, log=lambda *_: None, views={"page": specs}) == 1
    # With compute the missing point is trained and then shipped.
    data, missing = build(cache, [], compute=True, workers=None, log=lambda *_: None,
                          views={"page": specs}, keep=old)
    assert missing == {"view:page": 0} and cache.has(specs[2])


def test_slim_keeps_what_the_pages_read(tmp_path):
    """The sweep table, the information table and the theory markers come out the same
    from the slim summary as from the full one (up to the rounding)."""
    from noisealign.engine.pipeline.spec import ExperimentSpec
    from noisealign.ui import tables as uidata
    spec = ExperimentSpec(**TINY)
    cache = ResultCache(tmp_path / "c")
    cache.get_or_compute(spec)
    full = cache.get_summary(spec)
    small = precomputed.slim(full)
    assert len(json.dumps(small)) < len(json.dumps(full)) / 1.5
    for m in ("ii", "ii_score", "cka", "cka_debiased", "mknn"):
        a, b = uidata.align_stat(full, m), uidata.align_stat(small, m)
        for f in a:
            assert b[f] == pytest.approx(a[f], rel=1e-5, nan_ok=True), (m, f)
        assert uidata.align_matrix(small, m) == pytest.approx(uidata.align_matrix(full, m),
                                                              rel=1e-5, nan_ok=True)
    assert uidata.error_stat(small) == pytest.approx(uidata.error_stat(full), rel=1e-5)
    assert uidata.summary_settings(small) == uidata.summary_settings(full)
    for name in ("ii_h_to_y", "ii_pen_to_out"):
        for init in (False, True):
            assert uidata.info_stat(small, name, init=init) == pytest.approx(
                uidata.info_stat(full, name, init=init), rel=1e-5, nan_ok=True)
    assert uidata.loss_stat(small, "train_loss") == pytest.approx(
        uidata.loss_stat(full, "train_loss"), rel=1e-5)
    rows = [{"key": "k", "spec": spec, "summary": s} for s in (full, small)]
    a = uidata.theory_sim_frame(rows[:1], d=6)
    b = uidata.theory_sim_frame(rows[1:], d=6)
    assert list(b["mean"]) == pytest.approx(list(a["mean"]), rel=1e-5)


# ----------------------------------------------------------------------------- loader


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_loader_missing_file_is_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(precomputed.ENV_VAR, str(tmp_path / "absent.json"))
    assert precomputed.summary("0" * 64) is None
    assert precomputed.info()["n_points"] == 0


@pytest.mark.parametrize("text", ["{not json", "", "[]", '{"format": 99, "summaries": {}}',
                                  '{"format": 1, "summaries": []}', "\udcff",
                                  "[" * 100000])
def test_loader_corrupt_file_is_nothing_never_a_crash(tmp_path, monkeypatch, text):
    f = tmp_path / "bad.json"
    f.write_bytes(text.encode("utf-8", "surrogateescape"))
    monkeypatch.setenv(precomputed.ENV_VAR, str(f))
    assert precomputed.summary("0" * 64) is None
    assert precomputed.load()["summaries"] == {}


def test_loader_reads_a_valid_file_and_follows_changes(tmp_path, monkeypatch):
    f = tmp_path / "p.json"
    key = "a" * 64
    _write(f, json.dumps({"format": 1, "engine_version": "x", "commit": "",
                          "presets": {}, "summaries": {key: {"N": 30}, "b": 5}}))
    monkeypatch.setenv(precomputed.ENV_VAR, str(f))
    assert precomputed.summary(key) == {"N": 30}
    assert precomputed.summary("b") is None  # a non-dict entry is dropped
    _write(f, json.dumps({"format": 1, "summaries": {key: {"N": 31, "pad": "x" * 10}}}))
    assert precomputed.summary(key)["N"] == 31
    monkeypatch.setenv(precomputed.ENV_VAR, "0")  # turned off
    assert precomputed.summary(key) is None


def test_loader_imports_no_torch():
    import subprocess
    import sys
    code = ("import sys, noisealign.engine.presets.shipped as p; p.info(); "
            "print('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
