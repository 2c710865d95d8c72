"""Names and tags of cached runs (noisealign.engine.store.labels, ResultCache.set_label / labels):
validation, persistence across cache objects, deletion with the run, file modes."""

from __future__ import annotations

import os
import stat

import pytest

from noisealign.engine import ExperimentSpec, run_experiment
from noisealign.engine.store import labels as runlabels
from noisealign.engine.store.cache import ResultCache

SPEC = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": 4}, n_train=10,
                      n_probe=20, width=4, ensemble_size=2, max_epochs=5)


@pytest.fixture(scope="module")
def result():
    return run_experiment(SPEC)


@pytest.fixture
def cache(tmp_path, result):
    c = ResultCache(tmp_path / "cache")
    c.put(SPEC, result)
    return c


def test_label_persists_across_cache_objects(cache, tmp_path):
    key = cache.key(SPEC)
    stored = cache.set_label(key, name="  baseline  ", tags="lecture 3, noise,  , Noise")
    assert stored == {"name": "baseline", "tags": ["lecture 3", "noise"]}
    again = ResultCache(tmp_path / "cache")  # another process would open it like this
    assert again.label(SPEC) == stored
    assert again.labels() == {key: stored}
    # A list works as well as a comma-separated string, and replaces the label.
    again.set_label(SPEC, name="wide", tags=["x"])
    assert cache.labels() == {key: {"name": "wide", "tags": ["x"]}}
    # Both empty removes it.
    assert cache.set_label(key, name="", tags="") is None
    assert cache.labels() == {} and cache.label(key) is None


def test_deleting_a_run_deletes_its_label(cache, result):
    cache.set_label(SPEC, name="to go", tags="a")
    assert cache.delete(SPEC)
    assert cache.labels() == {}
    cache.put(SPEC, result)  # the same run computed again starts without a label
    assert cache.label(SPEC) is None
    cache.set_label(SPEC, name="again")
    cache.clear()
    assert cache.labels() == {}


def test_a_run_not_in_the_cache_cannot_be_labelled(tmp_path):
    c = ResultCache(tmp_path / "empty")
    with pytest.raises(ValueError, match="not in the results cache"):
        c.set_label(SPEC, name="ghost")
    assert c.labels() == {}


@pytest.mark.parametrize("name, tags, message", [
    ("x" * 81, "", r"Run name: .* is invalid \(81 characters\): allowed at most 80 printable"),
    ("two\nlines", "", "Run name: 'two\\\\nlines' is invalid: allowed at most 80 printable"),
    (5, "", "Run name: 5 is invalid: allowed text"),
    ("", "t" * 33, r"Tag: .* is invalid \(33 characters\): allowed 1 to 32 printable"),
    ("", ["a,b"], "Tag: 'a,b' is invalid: allowed 1 to 32 printable characters without commas"),
    ("", ["tab\there"], "Tag: .* is invalid: allowed 1 to 32"),
    ("", ",".join(f"t{i}" for i in range(11)), (r"Tags: .* is invalid \(11 tags\): allowed at "
     "most 10 tags")),
    ("", 7, "Tags: 7 is invalid: allowed comma-separated text or a list"),
])
def test_invalid_names_and_tags_are_refused_with_the_field_and_range(cache, name, tags,
                                                                     message):
    with pytest.raises(ValueError, match=message):
        cache.set_label(SPEC, name=name, tags=tags)
    assert cache.labels() == {}  # nothing stored


def test_limits_themselves_are_allowed(cache):
    name = "é" * 80
    tags = [f"{i}" + "t" * 31 for i in range(10)]
    assert cache.set_label(SPEC, name=name, tags=tags) == {"name": name, "tags": tags}
    assert cache.label(SPEC) == {"name": name, "tags": tags}


def test_label_files_are_owner_only(cache, tmp_path):
    cache.set_label(SPEC, name="private")
    results = tmp_path / "cache" / "results"
    assert stat.S_IMODE(os.stat(tmp_path / "cache").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(results).st_mode) == 0o700
    db_files = [p for p in results.iterdir() if p.name.startswith("cache.db")]
    assert db_files
    for p in db_files:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p


def test_tampered_label_rows_are_skipped(cache):
    key = cache.key(SPEC)
    cache.set_label(SPEC, name="fine")
    db = cache._open()
    # A valid checksum over an over-long name (whoever can write the directory can
    # recompute it), a bad checksum, and a pickle-mode row: none is shown.
    import hashlib
    import json
    body = json.dumps({"name": "x" * 5000, "tags": []}).encode()
    db.set(f"l/{key}", hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
    assert cache.labels() == {} and cache.label(SPEC) is None
    db.set(f"l/{key}", b"0" * 64 + b"\n" + json.dumps({"name": "a", "tags": []}).encode())
    assert cache.labels() == {}
    db._sql("UPDATE Cache SET mode = 4 WHERE key = ?", (f"l/{key}",))
    assert cache.labels() == {} and cache.label(SPEC) is None


def test_decode_round_trips_and_rejects_garbage():
    label = runlabels.check_label("n", "a, b")
    assert runlabels.decode(runlabels.encode(label)) == label
    for raw in (b"", b"not json", "str", None, b"x" * (runlabels.STORED_MAX + 1)):
        assert runlabels.decode(raw) is None


def test_cli_cache_list_shows_the_name(cache, tmp_path, capsys):
    from noisealign.engine.cli.commands import main
    cache.set_label(SPEC, name="baseline for lecture 3", tags="x")
    assert main(["cache", "list", "--cache-dir", str(tmp_path / "cache")]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split()[-1] == "name" and row.endswith("baseline for lecture 3")


def test_an_evicted_run_takes_its_label_with_it(cache, tmp_path):
    cache.set_label(SPEC, name="old")
    other = SPEC.replace(n_train=12)
    # Room for about one entry: storing a second evicts the least recently used one.
    small = ResultCache(tmp_path / "cache", size_limit=cache.volume() + 1000)
    small.put(other, run_experiment(other))
    assert [e["key"] for e in small.entries()] == [small.key(other)]
    assert small.labels() == {}
