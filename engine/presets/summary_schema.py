"""The schema of a slim summary (:func:`noisealign.engine.presets.shipped.slim`), checked entry by entry.

A summaries file comes from outside the process (the one shipped with the package, or
``$NOISEALIGN_PRECOMPUTED``), so each entry is checked before a page reads it: types and
shapes of every block the pages read, sizes bounded. :func:`problem` says what is wrong
with one entry (None: it is fine); :mod:`noisealign.engine.presets.shipped` drops such an entry with one
logged line and uses the rest (issue 27: a string where a measure's dict belongs raised
``AttributeError`` on the pages; a list where an object belongs, ``TypeError``).

The layout (every block optional, as slim writes only what the summary had; a number
may be None, which is how non-finite values are shipped)::

    N, k, knn_k, K, n_ok: int;  layer: int or str;  task: str
    measures: {measure name: {mean, std, sem, n_pairs: number,
                              matrix: K x K list of numbers (square)}}
    information_content: {"trained" | "init": {name: number or a list of numbers
                                               (one per member)}}
    intrinsic_dimension: {"trained" | "init": {layers: [str or int],
                          twonn_mean, twonn_sem, gride_mean, gride_sem: one number per
                          layer, gride_scale: int, error: str}}
    test_error, train_loss, test_loss: {mean, std, sem: number}

Standard library only (loaded where :mod:`noisealign.engine.presets.shipped` is: no numpy, no torch).
"""

from __future__ import annotations

from typing import Any, Mapping

# Size caps against oversized entries, not the spec's rules (noisealign.engine.pipeline.spec, which would
# import numpy here): above any real ensemble (at most 64 members) and any network.
MAX_MEMBERS = 256  # rows of a K x K matrix, values of a per-member list
MAX_LAYERS = 64  # layers in an intrinsic-dimension block (the deepest MLP has 5)
MAX_TEXT = 2_000  # characters of a text field (a one-line error, a layer name)
MAX_INT = 2 ** 53  # beyond this an int would not survive float() exactly (or overflow)
TOP_INTS = ("N", "k", "knn_k", "K", "n_ok")
STATES = ("trained", "init")
ID_PER_LAYER = ("twonn_mean", "twonn_sem", "gride_mean", "gride_sem")


def _number(v: Any) -> bool:
    """A finite-or-None JSON number that float() takes: not a bool, not a huge int."""
    if v is None:
        return True
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return abs(v) <= MAX_INT
    return isinstance(v, float)  # NaN and inf are read as such (json allows them)


def _numbers(v: Any, most: int) -> bool:
    return isinstance(v, list) and len(v) <= most and all(_number(x) for x in v)


def _text(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= MAX_TEXT


def _stats(block: Any, where: str) -> str | None:
    if not isinstance(block, Mapping):
        return f"{where} is {type(block).__name__}, not an object"
    for k in ("mean", "std", "sem", "n_pairs"):
        if k in block and not _number(block[k]):
            return f"{where}.{k} is not a number"
    return None


def _measure(block: Any, where: str) -> str | None:
    bad = _stats(block, where)
    if bad:
        return bad
    matrix = block.get("matrix")
    if matrix is None:
        return None
    if not isinstance(matrix, list) or len(matrix) > MAX_MEMBERS:
        return f"{where}.matrix is not a list of at most {MAX_MEMBERS} rows"
    for row in matrix:
        if not _numbers(row, MAX_MEMBERS) or len(row) != len(matrix):
            return f"{where}.matrix is not a square matrix of numbers"
    return None


def _info(block: Any, where: str) -> str | None:
    if not isinstance(block, Mapping):
        return f"{where} is {type(block).__name__}, not an object"
    for k, v in block.items():
        if not isinstance(k, str) or not (_number(v) or _numbers(v, MAX_MEMBERS)):
            return f"{where}.{str(k)[:40]} is not a number or a list of numbers"
    return None


def _ids(block: Any, where: str) -> str | None:
    if not isinstance(block, Mapping):
        return f"{where} is {type(block).__name__}, not an object"
    if "error" in block and not _text(block["error"]):
        return f"{where}.error is not a short text"
    if "layers" not in block:
        return None if "error" in block else f"{where} has neither layers nor error"
    layers = block["layers"]
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS or not all(
            (_text(x) or (isinstance(x, int) and not isinstance(x, bool))) for x in layers):
        return f"{where}.layers is not a list of at most {MAX_LAYERS} layer names"
    for k in ID_PER_LAYER:
        if k in block and not (_numbers(block[k], MAX_LAYERS) and len(block[k]) == len(layers)):
            return f"{where}.{k} is not one number per layer"
    scale = block.get("gride_scale", 0)
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= MAX_INT:
        return f"{where}.gride_scale is not a non-negative integer"
    return None


def problem(summary: Any) -> str | None:
    """What is wrong with one slim summary (a short phrase naming the field), or None
    when it matches the schema above."""
    if not isinstance(summary, Mapping):
        return f"the entry is {type(summary).__name__}, not an object"
    for k in TOP_INTS:
        v = summary.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)
                              or not 0 <= v <= MAX_INT):
            return f"{k} is not a non-negative integer"
    layer = summary.get("layer")
    if layer is not None and not (_text(layer) or (isinstance(layer, int)
                                                    and not isinstance(layer, bool))):
        return "layer is not an integer or a name"
    if "task" in summary and not _text(summary["task"]):
        return "task is not a text"
    measures = summary.get("measures")
    if measures is not None:
        if not isinstance(measures, Mapping):
            return f"measures is {type(measures).__name__}, not an object"
        for m, block in measures.items():
            bad = _measure(block, f"measures.{str(m)[:40]}")
            if bad:
                return bad
    for name, check in (("information_content", _info), ("intrinsic_dimension", _ids)):
        blocks = summary.get(name)
        if blocks is None:
            continue
        if not isinstance(blocks, Mapping):
            return f"{name} is {type(blocks).__name__}, not an object"
        for state in STATES:
            if state in blocks:
                bad = check(blocks[state], f"{name}.{state}")
                if bad:
                    return bad
    for name in ("test_error", "train_loss", "test_loss"):
        if name in summary:
            bad = _stats(summary[name], name)
            if bad:
                return bad
    return None

