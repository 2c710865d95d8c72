"""The sweep grid: a :class:`Sweep` (a base spec and one or two axes), its points, and the
records a run of it yields (:class:`SweepPoint`, :class:`SweepProgress`, :class:`SweepError`).

Apart from :mod:`noisealign.engine.compute.sweep` (which runs a grid) and
:mod:`noisealign.engine.compute.executors` (the processes that compute its points): a grid
is built and validated up front, without anything that runs, and reading what a grid is
should not mean reading how it runs. Shards (:func:`shard_indices`) are slices of it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from ..base.errors import SpecError
from ..pipeline.spec import SPEC_FIELDS, ExperimentSpec

MAX_AXES = 2
MAX_POINTS = 10_000
MAX_REPLICATES = 50
REPLICATE = "replicate"  # the extra key in a point's values when replicates > 1
PARAM_PREFIX = "dataset_params."

# ----------------------------------------------------------------------------- grid


def _plain(v: Any) -> Any:
    """numpy scalars -> Python scalars (the spec checks types strictly)."""
    return v.item() if isinstance(v, np.generic) else v


def _irrelevant_axis_message(name: str, base: ExperimentSpec, axes: Mapping[str, Any]) -> str | None:
    """Why an axis would change nothing for the base spec's noise kind, or None."""
    if "noise" in axes:
        return None
    if name == "snr_db" and not base.applies(name):
        hint = ("on a classification dataset (like "
                f"{base.dataset!r}) snr_db is only meaningful with noise='input' (--noise input)"
                if base.task == "classification" else
                "choose noise='target' or noise='input' (--noise target / --noise input)")
        return (f"axis 'snr_db' has no effect with noise={base.noise!r}: every value gives the "
                f"same experiment. snr_db applies to target and input noise only; {hint}"
                + ("; or sweep label_noise with noise='label'" if base.task == "classification"
                   else ""))
    if name == "label_noise" and not base.applies(name):
        return (f"axis 'label_noise' has no effect with noise={base.noise!r}: every value gives "
                "the same experiment. label_noise applies only to noise='label' (--noise label) "
                "on a classification dataset")
    return None


def _axis_names_allowed(base: ExperimentSpec) -> list[str]:
    from ..pipeline.datasets import DATASETS
    fields = [f for f in SPEC_FIELDS if f != "dataset_params"]
    return fields + [PARAM_PREFIX + p for p in DATASETS[base.dataset].params]


@dataclass(frozen=True, eq=False)
class Sweep:
    """A base spec and 1 or 2 axes ``{field: values}``; the grid is their product.

    ``replicates = R`` trains every grid point R times, each with its own data seed
    (:func:`replicate_seed`: new data sample, noise and initialisations), for error bars
    across seeds (:func:`noisealign.engine.compute.export.aggregate`); each run is cached on its own, so
    raising R computes only the new seeds.

    Axis names are spec fields (``"n_train"``, ``"snr_db"``, ``"width"``...) or dataset
    parameters as ``"dataset_params.<name>"`` (e.g. ``"dataset_params.d"``). With two
    axes, points run over the first axis in the outer loop. Every spec is built and
    validated here: an unknown field, an empty axis, a repeated value, a value the
    spec rejects or an axis that cannot change the experiment raises ``ValueError``.
    ``axes`` is stored as a read-only mapping of tuples.
    """

    base: ExperimentSpec
    axes: Mapping[str, tuple]
    replicates: int = 1

    def __post_init__(self) -> None:
        base, axes, reps = self.base, self.axes, self.replicates
        if not isinstance(base, ExperimentSpec):
            raise ValueError(  # noqa: TRY004 -- the spec's errors are ValueErrors
                f"base must be an ExperimentSpec, got {type(base).__name__}")
        if not isinstance(axes, Mapping):
            raise ValueError(f"axes={axes!r} is invalid: allowed a mapping of 1 or 2 spec "  # noqa: TRY004
                             "field names to lists of values")
        if not 1 <= len(axes) <= MAX_AXES:
            raise ValueError(f"axes has {len(axes)} axes {list(axes)}: allowed 1 or {MAX_AXES}")
        allowed = _axis_names_allowed(base)
        norm: dict[str, tuple] = {}
        for name, values in axes.items():
            if name not in allowed:
                raise SpecError("axis", name, ", ".join(allowed),
                                f"axis {name!r} is not a spec field: allowed "
                                + ", ".join(allowed))
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise SpecError("axis", name, "a list of values",
                                f"axis {name!r} values={values!r} are invalid: allowed a list "
                                "of values")
            values = tuple(_plain(v) for v in values)
            if not values:
                raise SpecError("axis", name, "a list of at least one",
                                f"axis {name!r} has no values: allowed a list of at least one")
            for i, v in enumerate(values):
                if v in values[:i]:
                    raise SpecError("axis", name, "distinct values",
                                    f"axis {name!r} repeats the value {v!r}: allowed distinct "
                                    "values")
            msg = _irrelevant_axis_message(name, base, axes)
            if msg is not None:
                raise SpecError("axis", name, "an axis that changes the experiment", msg)
            norm[name] = values
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) \
                or not 1 <= reps <= MAX_REPLICATES:
            raise SpecError("replicates", reps, f"an integer from 1 to {MAX_REPLICATES}")
        reps = int(reps)
        if reps > 1 and "seed" in norm:
            raise ValueError("replicates > 1 with a 'seed' axis: allowed one or the other "
                             "(replicates draw their own seeds)")
        n_points = math.prod(len(v) for v in norm.values()) * reps
        if n_points > MAX_POINTS:
            raise ValueError(f"the sweep has {n_points} runs: allowed at most {MAX_POINTS}")

        names = list(norm)
        specs: list[ExperimentSpec] = []
        points: list[dict] = []
        seen: dict[str, dict] = {}
        for combo in itertools.product(*norm.values()):
            combo_values = dict(zip(names, combo))
            spec = _apply(base, combo_values)
            point = {n: (spec.params[n[len(PARAM_PREFIX):]] if n.startswith(PARAM_PREFIX)
                         else getattr(spec, n)) for n in names}
            h = spec.content_hash()
            if h in seen:
                raise ValueError(f"axis values {seen[h]} and {combo_values} give the same "
                                 "experiment (the spec normalises one into the other): allowed "
                                 "values that change the experiment")
            seen[h] = combo_values
            for r in range(reps):
                if reps == 1:
                    specs.append(spec)
                    points.append(point)
                else:
                    specs.append(dataclasses.replace(spec, seed=replicate_seed(spec.seed, r)))
                    points.append({**point, REPLICATE: r})
        object.__setattr__(self, "axes", MappingProxyType(norm))
        object.__setattr__(self, "replicates", reps)
        object.__setattr__(self, "_specs", tuple(specs))
        object.__setattr__(self, "_points", tuple(points))

    @property
    def axis_names(self) -> list[str]:
        return list(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape: (len axis 0,) or (len axis 0, len axis 1)."""
        return tuple(len(v) for v in self.axes.values())

    def __len__(self) -> int:
        """Runs: grid points times replicates."""
        return len(self._specs)  # type: ignore[attr-defined]

    def specs(self) -> list[ExperimentSpec]:
        """Every run's spec, first axis outermost, a grid point's replicates together."""
        return list(self._specs)  # type: ignore[attr-defined]

    def points(self) -> list[dict]:
        """Axis values of every run (as the spec holds them), same order; with
        ``replicates > 1`` each also holds its replicate index under ``"replicate"``."""
        return [dict(p) for p in self._points]  # type: ignore[attr-defined]


def replicate_seed(seed: int, replicate: int) -> int:
    """The seed of a grid point's ``replicate``-th run: ``seed`` itself for replicate 0
    (so one replicate is the plain sweep and shares its cache entries), otherwise a
    hash of both, so replicates of different seeds never coincide. Each seed redraws
    the data sample, the noise and the initialisations."""
    if replicate == 0:
        return int(seed)
    digest = hashlib.sha256(f"noisealign-replicate:{int(seed)}:{int(replicate)}".encode())
    return int.from_bytes(digest.digest()[:4], "big") & 0x7FFFFFFF


def _apply(base: ExperimentSpec, values: Mapping[str, Any]) -> ExperimentSpec:
    kw: dict[str, Any] = {}
    params = dict(base.params)
    for name, v in values.items():
        if name.startswith(PARAM_PREFIX):
            params[name[len(PARAM_PREFIX):]] = v
        else:
            kw[name] = v
    if params != dict(base.params):
        kw["dataset_params"] = params
    try:
        return dataclasses.replace(base, **kw)
    except ValueError as e:
        where = ", ".join(f"{k}={v!r}" for k, v in values.items())
        # the point's own field (e.g. n_train=5000 past a pool) goes to the sweep's slot
        raise SpecError("sweep", where, getattr(e, "allowed", str(e)),
                        f"sweep point {where}: {e}") from None


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class SweepPoint:
    """One finished grid point.

    ``summary``: the cache's stored summary of the result; ``seconds``: compute time
    (data + training + summary in the worker) or the cache load time.
    """

    spec: ExperimentSpec
    axis_values: dict
    summary: dict
    from_cache: bool
    seconds: float
    key: str = ""


@dataclass(frozen=True)
class SweepProgress:
    """``remaining_estimate`` (seconds) is None until a computed point has finished."""

    done: int
    total: int
    elapsed: float
    remaining_estimate: float | None


class SweepError(RuntimeError):
    """A grid point failed; the points finished before it are cached."""



def parse_shard(text: Any) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N <= MAX_POINTS (ValueError naming --shard)."""
    parts = str(text).split("/")
    i: int | None
    n: int | None
    try:
        i, n = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        i = n = None
    if i is None or n is None or not (1 <= n <= MAX_POINTS and 0 <= i < n):
        raise ValueError(f"--shard {str(text)[:40]!r} is invalid: allowed I/N with N in "
                         f"[1, {MAX_POINTS}] and I in [0, N - 1] (e.g. --shard "
                         "$SLURM_ARRAY_TASK_ID/3 for an array --array=0-2)")
    return i, n


def shard_indices(total: int, shard: tuple[int, int] | None) -> list[int]:
    """The grid indices of ``shard=(i, n)`` (all of them for None): every i-th of n, so
    the slices are disjoint, cover the grid, and differ in size by at most one."""
    if shard is None:
        return list(range(total))
    if (not isinstance(shard, tuple) or len(shard) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
            or not (1 <= shard[1] <= MAX_POINTS and 0 <= shard[0] < shard[1])):
        raise ValueError(f"shard={shard!r} is invalid: allowed (i, n) with n in "
                         f"[1, {MAX_POINTS}] and i in [0, n - 1], or None")
    i, n = shard
    return list(range(i, total, n))
