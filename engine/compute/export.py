"""Writers for sweep results: a flat table (one row per point), CSV and strict JSON.

These only read :class:`noisealign.engine.compute.sweep.SweepPoint` fields (``axis_values``, ``from_cache``,
``seconds``, ``key``, ``spec``, ``summary``); nothing here trains.

A sweep with replicates (``Sweep(..., replicates=R)``, each run's axis values then hold
``"replicate"``) is written one row per grid point by :func:`aggregate`: every number is
the mean over the seeds, and each ``<x>.mean`` gets ``<x>.sem_seeds``, the standard error
across seeds (the honest error bar: seeds redraw data, noise and initialisations). The
``<x>.sem`` columns stay what they are in a single run, the error over member pairs of
one data draw (averaged over the seeds), which understates the spread between draws.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base.stats import mean_sem
from .grid import REPLICATE, SweepPoint  # REPLICATE: replicates' key


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




def has_replicates(points: Sequence[SweepPoint]) -> bool:
    return any(REPLICATE in p.axis_values for p in points)


def _grid_key(values: Mapping[str, Any]) -> tuple:
    return tuple((k, repr(v)) for k, v in values.items() if k != REPLICATE)


def seeds_error_column(col: str) -> str | None:
    """The across-seeds error column of a mean column (``a.mean`` -> ``a.sem_seeds``,
    ``a_mean`` -> ``a_sem_seeds``), or None for other columns."""
    for suffix, sep in ((".mean", "."), ("_mean", "_")):
        if col.endswith(suffix):
            return col[:-len(suffix)] + sep + "sem_seeds"
    return None


def aggregate(points: Sequence[SweepPoint]) -> list[dict]:
    """One row per grid point over its replicates (first-seen order).

    Axis values (without ``replicate``), ``replicates`` (runs finished), ``from_cache``
    (all of them), ``seconds`` (their sum), then every number of :func:`sweep_table` as
    the mean over the runs (NaN ignored) and, for each ``<x>.mean`` (or ``<x>_mean``),
    ``<x>.sem_seeds`` (``<x>_sem_seeds``):
    ``std(ddof=1) / sqrt(R)`` over the runs' values (NaN with fewer than 2). A sweep
    without replicates gives one row per point with ``replicates`` = 1.
    """
    groups: dict[tuple, list[tuple[SweepPoint, dict]]] = {}
    for p, table_row in zip(points, sweep_table(points)):
        groups.setdefault(_grid_key(p.axis_values), []).append((p, table_row))
    out = []
    for members in groups.values():
        first = members[0][0]
        row: dict[str, Any] = {k: v for k, v in first.axis_values.items() if k != REPLICATE}
        row["replicates"] = len(members)
        row["from_cache"] = all(p.from_cache for p, _ in members)
        row["seconds"] = round(sum(float(p.seconds) for p, _ in members), 4)
        for col in columns([r for _, r in members]):
            if col in row or col == REPLICATE:
                continue
            vals = [r.get(col) for _, r in members]
            nums = [float(v) for v in vals
                    if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(nums) != len(vals):  # text, flags: the first run's value
                row[col] = vals[0]
                continue
            row[col], sem = mean_sem(nums)  # noisealign.engine.base.stats: ddof=1, NaN below 2 seeds
            sem_col = seeds_error_column(col)
            if sem_col is not None:
                row[sem_col] = sem
        out.append(row)
    return out


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
    """Write :func:`sweep_table` as CSV (a column per axis and summary number); with
    replicates, :func:`aggregate` (one row per grid point, errors across seeds)."""
    rows = aggregate(points) if has_replicates(points) else sweep_table(points)
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns(rows), restval="")
        w.writeheader()
        w.writerows(rows)
    return path


def write_json(points: Sequence[SweepPoint], path: str | os.PathLike) -> Path:
    """Write one object per point as strict JSON: the axis values, ``from_cache``,
    ``seconds``, the cache ``key``, the full ``spec`` and the full (nested) ``summary``
    (NaN as null, infinities as "inf"/"-inf").

    With replicates: one object per grid point, its axis values, ``replicates``,
    ``across_seeds`` (its :func:`aggregate` row) and ``runs`` (the objects above, one per
    seed, each with its ``replicate`` index)."""
    def run(p: SweepPoint) -> dict:
        return {**p.axis_values, "from_cache": p.from_cache, "seconds": p.seconds,
                "key": p.key, "spec": p.spec.to_dict(), "summary": p.summary}

    if has_replicates(points):
        groups: dict[tuple, list[SweepPoint]] = {}
        for p in points:
            groups.setdefault(_grid_key(p.axis_values), []).append(p)
        out: list = []
        for row, group in zip(aggregate(points), groups.values()):
            axes = {k: v for k, v in group[0].axis_values.items() if k != REPLICATE}
            out.append({**axes, "replicates": row["replicates"], "across_seeds": row,
                        "runs": [run(p) for p in group]})
    else:
        out = [run(p) for p in points]
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
