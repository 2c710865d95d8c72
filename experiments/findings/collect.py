"""From the presets to the numbers: each figure's sweep, run through the results cache.

:func:`preset` gives a figure's preset (scaled down for ``--quick``), :func:`sweep_of` its
sweep, and :func:`collect` runs (or loads) every point and reduces it to a :class:`Point`:
the cached summary (:func:`engine.summaries.summarise`) plus, for the per-member
cross-entropy and training error the summary leaves out, the cached :class:`engine.Result`
arrays.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from engine.cache import ResultCache
from engine.presets import PRESETS
from engine.spec import ExperimentSpec
from engine.sweep import Sweep, SweepProgress, run_sweep

# ----------------------------------------------------------------------------- presets

# Small-scale versions of the presets for --quick (and the CI tests): every field not
# given here is the full preset's.
_Q_LINEAR = {"dataset_params": {"d": 20}, "width": 20, "n_probe": 200, "ensemble_size": 4,
             "max_epochs": 3000}
_Q_MLP_N = {"width": 8, "ensemble_size": 4, "n_probe": 300, "max_epochs": 3000}
_Q_DIGITS_W = {"n_train": 300, "ensemble_size": 3, "max_epochs": 3000}
QUICK: dict[str, dict[str, Any]] = {
    "linear_snr": {"spec": dict(_Q_LINEAR, n_train=60), "axes": {"snr_db": [-10.0, 0.0, 10.0, 20.0, 30.0]},
                   "series": {"n_train": [8, 60]}},
    "linear_n": {"spec": _Q_LINEAR, "axes": {"n_train": [4, 8, 12, 16, 20, 24, 30, 40, 60, 100]},
                 "series": {"snr_db": [10.0]}},
    "mlp_snr": {"spec": {"n_train": 100, "width": 32, "ensemble_size": 4, "n_probe": 300,
                         "max_epochs": 2000},
                "axes": {"snr_db": [-10.0, 0.0, 10.0, 20.0, 30.0]}, "series": {"init_scale": [0.1]}},
    "digits_label_noise": {"spec": {"n_train": 200, "width": 32, "ensemble_size": 3,
                                    "max_epochs": 1500},
                           "axes": {"label_noise": [0.0, 0.2, 0.5, 0.8]}},
    "mlp_n": {"spec": _Q_MLP_N, "axes": {"n_train": [40, 80, 120, 160, 180, 200, 250, 400, 800]},
              "series": {"snr_db": [10.0]}},
    "alignment_vs_error": {"spec": _Q_MLP_N,
                           "axes": {"n_train": [40, 80, 120, 160, 180, 200, 250, 400, 800]},
                           "series": {"snr_db": [10.0]}},
    "digits_width": {"spec": _Q_DIGITS_W, "axes": {"width": [4, 8, 12, 16, 32, 128]},
                     "series": {"label_noise": [0.0, 0.2]}},
    "random_labels": {"spec": _Q_DIGITS_W, "axes": {"width": [8, 32, 128]}},
    "pen_to_out": {"spec": _Q_DIGITS_W, "axes": {"width": [4, 8, 12, 16, 32, 128]},
                   "series": {"label_noise": [0.0, 0.2]}},
}
FIGURES = tuple(PRESETS)


def preset(name: str, quick: bool = False) -> dict[str, Any]:
    """The preset ``name`` (a deep copy), scaled down with :data:`QUICK` when ``quick``."""
    if name not in PRESETS:
        raise ValueError(f"figure={name!r} is invalid: allowed one of {sorted(PRESETS)}")
    p = copy.deepcopy(PRESETS[name])
    if quick:
        q = copy.deepcopy(QUICK[name])
        p["spec"].update(q.get("spec", {}))
        p["axes"] = q.get("axes", p["axes"])
        if "series" in q:
            p["series"] = q["series"]
    return p


def sweep_of(p: dict[str, Any]) -> Sweep:
    """The sweep of a preset: its axis first, then its series (if any)."""
    return Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})})


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One grid point of a figure, reduced to the numbers the report uses.

    Per-measure alignment values are (mean, sem) over member pairs; information content
    values are (mean, sem) over members. ``x``: the axis value, ``s``: the series value
    (None without a series).
    """

    x: float
    s: Any
    spec: ExperimentSpec
    align: dict[str, tuple[float, float]]
    align_init: dict[str, float]
    info: dict[str, tuple[float, float]]
    info_init: dict[str, tuple[float, float]]
    test_error: tuple[float, float]
    train_loss: float
    test_loss: tuple[float, float]
    train_error: float
    epochs_max_fraction: float  # members that used all max_epochs (did not reach loss_tol)
    n_parameters: int
    n_probe: int
    from_cache: bool
    seconds: float

    @property
    def interpolation_ratio(self) -> float:
        return self.spec.interpolation_ratio()


def _mean_sem(values: Sequence[float]) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan, math.nan
    sem = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return float(v.mean()), sem


def _point(sp, axis: str, series: str | None, cache: ResultCache) -> Point:
    summ = sp.summary
    if "measures" not in summ:
        raise RuntimeError(
            f"the cached summary of {sp.axis_values} has no 'measures': it was stored before "
            "engine.summaries existed. Delete that cache entry (python -m engine cache ...) "
            "or use another --cache directory.")
    result = cache.get(sp.spec)
    if result is None:  # evicted between the sweep and now: recompute through the cache
        result = cache.get_or_compute(sp.spec)
    ok = ~np.asarray(result.diverged, dtype=bool)
    align = {m: (float(d["mean"]), float(d["sem"])) for m, d in summ["measures"].items()}
    align_init = {m: float(d["mean"]) for m, d in summ["measures_init"].items()}
    ic = summ["information_content"]
    info = {k: _mean_sem(v) for k, v in ic["trained"].items() if isinstance(v, list)}
    info_init = {k: _mean_sem(v) for k, v in ic["init"].items() if isinstance(v, list)}
    te = summ["test_error"]
    return Point(
        x=float(sp.axis_values[axis]), s=None if series is None else sp.axis_values[series],
        spec=sp.spec, align=align, align_init=align_init, info=info, info_init=info_init,
        test_error=(float(te["mean"]), float(te["sem"])),
        train_loss=float(summ["train_loss"]["mean"]),
        test_loss=_mean_sem(np.asarray(result.test_loss)[ok]),
        train_error=float(np.mean(np.asarray(result.train_error)[ok])) if ok.any() else math.nan,
        epochs_max_fraction=float(np.mean(np.asarray(result.epochs) >= sp.spec.max_epochs)),
        n_parameters=int(summ["n_parameters"]), n_probe=int(summ["N"]),
        from_cache=bool(sp.from_cache), seconds=float(sp.seconds))


@dataclass
class RunLog:
    """What one invocation did: points computed / loaded, wall time."""

    computed: int = 0
    cached: int = 0
    compute_seconds: float = 0.0
    wall_seconds: float = 0.0
    per_figure: dict[str, float] = field(default_factory=dict)


def collect(names: Iterable[str], *, quick: bool, cache: ResultCache, executor: str = "local",
            workers: int | None = None, log: RunLog | None = None,
            echo: Callable[[str], None] | None = print) -> dict[str, list[Point]]:
    """Run (or load from the cache) the sweeps of the figures ``names``.

    Returns figure name -> its points in the sweep's grid order (for each axis value,
    every series value). Points shared by several figures are computed once.
    """
    log = log if log is not None else RunLog()
    out: dict[str, list[Point]] = {}
    done_specs: dict[str, Point] = {}
    for name in names:
        p = preset(name, quick)
        sweep = sweep_of(p)
        axis = next(iter(p["axes"]))
        series = next(iter(p["series"])) if p["series"] else None
        t0 = time.perf_counter()
        by_key: dict[str, Point] = {}
        todo = [s for s in sweep.specs() if s.content_hash() not in done_specs]
        if echo:
            echo(f"[{name}] {len(sweep)} points ({len(sweep) - len(todo)} shared with earlier "
                 "figures)")

        def progress(pr: SweepProgress, _name: str = name) -> None:
            if echo and pr.done and pr.remaining_estimate is not None:
                echo(f"  [{_name}] {pr.done}/{pr.total} done, {pr.elapsed:.0f} s, "
                     f"about {pr.remaining_estimate:.0f} s left")

        for sp in run_sweep(sweep, cache, executor=executor, workers=workers, progress=progress):
            h = sp.spec.content_hash()
            if h in done_specs:
                pt = dataclasses.replace(done_specs[h], x=float(sp.axis_values[axis]),
                                         s=None if series is None else sp.axis_values[series])
            else:
                pt = _point(sp, axis, series, cache)
                if sp.from_cache:
                    log.cached += 1
                else:
                    log.computed += 1
                    log.compute_seconds += sp.seconds
                done_specs[h] = pt
            by_key[h] = pt
        out[name] = [by_key[s.content_hash()] for s in sweep.specs()]
        log.per_figure[name] = time.perf_counter() - t0
    return out


def series_of(points: Sequence[Point]) -> dict[Any, list[Point]]:
    """Points grouped by series value (insertion order), each sorted by x."""
    groups: dict[Any, list[Point]] = {}
    for p in points:
        groups.setdefault(p.s, []).append(p)
    return {k: sorted(v, key=lambda p: p.x) for k, v in groups.items()}
