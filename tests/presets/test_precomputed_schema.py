"""Shipped summaries checked entry by entry (issue 27, item 3): a malformed entry is dropped
with one logged line and the rest are used; truncated, wrong-typed and oversized files
never make a page raise.

Before: ``NOISEALIGN_PRECOMPUTED`` pointing at a file whose entries had a string where a
measure's dict belongs raised ``AttributeError: 'str' object has no attribute 'get'`` on
the pages (``noisealign.ui.tables``), a list where a number belongs ``TypeError``.
"""

from __future__ import annotations

import copy
import json
import logging

import pytest

from noisealign.engine.presets import shipped as precomputed
from noisealign.engine.presets.catalog import PRESETS
from noisealign.engine.presets.summary_schema import problem
from tests.app.test_app import no_exception, open_app

REAL = json.loads(precomputed.PATH.read_text(encoding="utf-8"))


def _set(path: str, value):
    """A mutation: the slim summary with the value at dotted ``path`` replaced."""
    def mutate(s: dict) -> dict:
        s = copy.deepcopy(s)
        *head, last = path.split(".")
        block = s
        for k in head:
            block = block[k]
        block[last] = value
        return s
    mutate.__name__ = f"{path}={str(value)[:30]!r}"
    return mutate


# Every way an entry can be malformed that the pages would read: wrong types at every
# level, shapes that do not fit, and oversized values.
MUTATIONS = [
    _set("measures", "cka"), _set("measures", ["cka", "ii"]), _set("measures.cka", "0.5"),
    _set("measures.cka", [0.5]), _set("measures.cka.mean", "0.5"),
    _set("measures.cka.mean", [0.5]), _set("measures.cka.mean", True),
    _set("measures.cka.matrix", "[[1]]"), _set("measures.cka.matrix", [[1.0, 2.0], [3.0]]),
    _set("measures.cka.matrix", [["a", "b"], ["c", "d"]]), _set("measures.cka.matrix", [1, 2]),
    _set("measures.ii.n_pairs", {"n": 6}), _set("test_error", "0.1"),
    _set("test_error", [0.1, 0.2]), _set("test_error.mean", "low"),
    _set("train_loss", 3), _set("information_content", "none"),
    _set("information_content.trained", [1, 2]),
    _set("information_content.trained.ii_h_to_y", "0.3"),
    _set("information_content.trained.ii_h_to_y", [[0.3]]),
    _set("information_content.init.ii_pen_to_out_mean", {"v": 1}),
    _set("intrinsic_dimension", ["trained"]), _set("intrinsic_dimension.trained", "x"),
    _set("intrinsic_dimension.trained.layers", 5),
    _set("intrinsic_dimension.trained.twonn_mean", [1.0]),
    _set("intrinsic_dimension.trained.gride_mean", "1.5"),
    _set("intrinsic_dimension.init.gride_scale", "2"),
    _set("N", "500"), _set("N", [500]), _set("N", 10 ** 400), _set("N", -3), _set("K", 2.5),
    _set("k", "1"), _set("layer", {"index": 0}), _set("task", ["regression"]),
    # oversized: a 300 x 300 matrix, a megabyte of text, 10 000 members
    _set("measures.cka.matrix", [[0.5] * 300] * 300), _set("task", "x" * 1_000_000),
    _set("information_content.trained.ii_h_to_y", [0.1] * 10_000),
]
WHOLE = ["cka", 3, None, [1, 2], True]  # the entry itself not an object


def _json_safe(mutate):
    """Mutations that json cannot write (a type) become the type's name."""
    return lambda s: json.loads(json.dumps(mutate(s), default=lambda o: str(o)))


def _file(tmp_path, summaries: dict, name: str = "shipped.json"):
    f = tmp_path / name
    f.write_text(json.dumps({**REAL, "summaries": summaries}), encoding="utf-8")
    return f


def test_every_shipped_entry_matches_the_schema():
    assert REAL["summaries"]
    bad = {k: problem(v) for k, v in REAL["summaries"].items() if problem(v)}
    assert bad == {}


@pytest.mark.parametrize("mutate", MUTATIONS, ids=lambda m: m.__name__)
def test_the_schema_names_what_is_wrong(mutate):
    entry = next(iter(REAL["summaries"].values()))
    assert problem(_json_safe(mutate)(entry)) is not None


def test_a_malformed_entry_is_dropped_with_one_line_and_the_rest_is_used(
        tmp_path, monkeypatch, caplog):
    keys = list(REAL["summaries"])
    broken = keys[:len(MUTATIONS) + len(WHOLE)]
    summaries = dict(REAL["summaries"])
    for key, mutate in zip(broken, MUTATIONS):
        summaries[key] = _json_safe(mutate)(summaries[key])
    for key, value in zip(broken[len(MUTATIONS):], WHOLE):
        summaries[key] = value
    monkeypatch.setenv(precomputed.ENV_VAR, str(_file(tmp_path, summaries)))
    monkeypatch.setattr(precomputed, "MAX_LOGGED", 1000)
    with caplog.at_level(logging.WARNING, logger="noisealign.engine.presets.shipped"):
        data = precomputed.load()
    assert set(data["summaries"]) == set(keys) - set(broken)
    for key in keys[len(broken):]:
        assert precomputed.summary(key) == REAL["summaries"][key]
    assert all(precomputed.summary(k) is None for k in broken)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == len(broken)  # one line per dropped entry
    assert all("dropped" in line and len(line) < 400 for line in lines)


def test_many_malformed_entries_log_a_bounded_number_of_lines(tmp_path, monkeypatch, caplog):
    summaries = {f"{i:064x}": "bad" for i in range(5000)}
    monkeypatch.setenv(precomputed.ENV_VAR, str(_file(tmp_path, summaries)))
    with caplog.at_level(logging.WARNING, logger="noisealign.engine.presets.shipped"):
        assert precomputed.load()["summaries"] == {}
    assert len(caplog.records) == precomputed.MAX_LOGGED + 1
    assert "4980 more" in caplog.records[-1].getMessage()


def test_an_oversized_file_is_refused_unread(tmp_path, monkeypatch, caplog):
    f = tmp_path / "huge.json"
    text = json.dumps(REAL)
    with open(f, "w", encoding="utf-8") as out:  # valid JSON, padded past the cap
        out.write(text[:-1])
        out.write(" " * (precomputed.MAX_BYTES + 1 - len(text)))
        out.write("}")
    monkeypatch.setenv(precomputed.ENV_VAR, str(f))
    with caplog.at_level(logging.WARNING, logger="noisealign.engine.presets.shipped"):
        assert precomputed.load()["summaries"] == {}
    assert "allowed at most" in caplog.text


# ----------------------------------------------------------------------------- every page


def _files(tmp_path) -> dict:
    """The bad files the pages are given: the real file cut short, every entry broken
    (each by one of the mutations, in turn) and over the size cap."""
    real = precomputed.PATH.read_text(encoding="utf-8")
    truncated = tmp_path / "truncated.json"
    truncated.write_text(real[:len(real) // 2], encoding="utf-8")
    summaries = {}
    kinds = [_json_safe(m) for m in MUTATIONS] + [lambda s, v=v: v for v in WHOLE]
    for i, (key, s) in enumerate(REAL["summaries"].items()):
        summaries[key] = kinds[i % len(kinds)](s)
    typed = _file(tmp_path, summaries, "wrong_typed.json")
    huge = tmp_path / "oversized.json"
    with open(huge, "w", encoding="utf-8") as out:
        out.write(real.rstrip()[:-1] + " " * (precomputed.MAX_BYTES + 1) + "}")
    return {"truncated": truncated, "wrong_typed": typed, "oversized": huge}


# One preset per page that draws shipped points, opened as a user would: the report's
# Open button. The other pages are opened as they are.
PRESET_OF_PAGE = {page: next(n for n, p in PRESETS.items() if p["page"] == page)
                  for page in ("alignment", "information", "theory")}


@pytest.mark.slow
def test_no_page_raises_on_a_malformed_summaries_file(tmp_path, monkeypatch):
    files = _files(tmp_path)
    for kind, f in files.items():
        monkeypatch.setenv(precomputed.ENV_VAR, str(f))
        for page, name in PRESET_OF_PAGE.items():
            at = no_exception(open_app("pages/report.py"))
            at.button(key=f"_report_open_{name}").click().run()
            assert not at.exception, (kind, page, [e.message for e in at.exception])
            assert at.selectbox(key=f"_preset_pick_{page}").value == name
            text = "\n".join(c.value for c in at.caption)
            assert "precomputed (shipped" not in text, (kind, page)  # nothing usable
        for page in ("runs", "compare", "report"):
            at = open_app(f"pages/{page}.py")
            assert not at.exception, (kind, page, [e.message for e in at.exception])
