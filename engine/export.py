"""Writers for sweep results: a flat table (one row per point), CSV and strict JSON.

These only read :class:`engine.sweep.SweepPoint` fields (``axis_values``, ``from_cache``,
``seconds``, ``key``, ``spec``, ``summary``); nothing here computes.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from engine.sweep import SweepPoint

def _flatten(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in summary.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, name + "."))
        elif prefix and k == "label":
            continue  # a measure's display name: the same on every row
        elif isinstance(v, (bool, int, float, str)) or v is None:
            out[name] = v
    return out


def sweep_table(points: Sequence[SweepPoint]) -> list[dict]:
    """One row per point: axis values, then ``from_cache``, ``seconds``, then every
    scalar of the summary (nested dicts flattened as ``a.b``; lists left out)."""
    rows = []
    for p in points:
        row = dict(p.axis_values)
        row["from_cache"] = p.from_cache
        row["seconds"] = round(float(p.seconds), 4)
        for k, v in _flatten(p.summary).items():
            row.setdefault(k, v)
        rows.append(row)
    return rows


def columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        for k in r:
            cols.setdefault(k, None)
    return list(cols)


def json_safe(obj: Any) -> Any:
    """NaN -> None, +-inf -> 'inf'/'-inf' (as in spec JSON), numpy -> Python: strict JSON."""
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, np.generic):
        return json_safe(obj.item())
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def write_csv(points: Sequence[SweepPoint], path: str | os.PathLike) -> Path:
    """Write :func:`sweep_table` as CSV (a column per axis and summary number)."""
    rows = sweep_table(points)
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns(rows), restval="")
        w.writeheader()
        w.writerows(rows)
    return path


def write_json(points: Sequence[SweepPoint], path: str | os.PathLike) -> Path:
    """Write one object per point as strict JSON: the axis values, ``from_cache``,
    ``seconds``, the cache ``key``, the full ``spec`` and the full (nested) ``summary``
    (NaN as null, infinities as "inf"/"-inf")."""
    out = [{**p.axis_values, "from_cache": p.from_cache, "seconds": p.seconds,
            "key": p.key, "spec": p.spec.to_dict(), "summary": p.summary} for p in points]
    path = Path(path)
    path.write_text(json.dumps(json_safe(out), indent=1, allow_nan=False) + "\n")
    return path


def write_table(points: Sequence[SweepPoint], path: str | os.PathLike) -> Path:
    """CSV or JSON by the file's suffix (``.csv`` / ``.json``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return write_csv(points, path)
    if suffix == ".json":
        return write_json(points, path)
    raise ValueError(f"out={str(path)!r} is invalid: allowed a .csv or .json file name")
