"""From the presets to the numbers: each figure's sweep, run through the results cache.

:func:`preset` gives a figure's preset (scaled down for ``--quick``), :func:`sweep_of` its
sweep, and :func:`collect` runs (or loads) every point and reduces it to a :class:`Point`:
the cached summary (:func:`engine.summaries.summarise`) plus, for the per-member
cross-entropy and training error the summary leaves out, the cached :class:`engine.Result`
arrays.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from engine.cache import ResultCache
from engine.presets import OVER_TRAINING, PRESETS
from engine.spec import ExperimentSpec
from engine.stats import mean_sem
from engine.sweep import REPLICATE, Sweep, SweepProgress, run_sweep

# ----------------------------------------------------------------------------- presets

# Small-scale versions of the presets for --quick (and the CI tests): every field not
# given here is the full preset's. Two seeds per point, so the across-seed error bars and
# every verdict's machinery run, at a fraction of the cost.
_Q_LINEAR = {"dataset_params": {"d": 20}, "width": 20, "n_probe": 200, "ensemble_size": 4,
             "max_epochs": 3000}
_Q_MLP_N = {"width": 8, "ensemble_size": 4, "n_probe": 300, "max_epochs": 3000}
_Q_DIGITS = {"n_train": 200, "width": 32, "ensemble_size": 3, "max_epochs": 1500}
_Q_MNIST1D = {"dataset_params": {"n_samples": 3000}, "n_train": 1000, "n_probe": 500,
              "max_epochs": 40}
_Q_WIDTHS = [16, 64, 256]
QUICK: dict[str, dict[str, Any]] = {
    "linear_snr": {"spec": dict(_Q_LINEAR, n_train=60), "axes": {"snr_db": [-10.0, 0.0, 10.0, 20.0, 30.0]},
                   "series": {"n_train": [8, 60]}},
    "linear_snr_threshold": {"spec": dict(_Q_LINEAR, n_train=20),
                             "axes": {"snr_db": [-10.0, 10.0, 30.0]},
                             "series": {"n_train": [17, 20, 23]}},
    "linear_n": {"spec": _Q_LINEAR, "axes": {"n_train": [4, 8, 12, 16, 20, 24, 30, 40, 60, 100]},
                 "series": {"snr_db": [10.0]}},
    "mlp_snr": {"spec": {"n_train": 100, "width": 32, "ensemble_size": 4, "n_probe": 300,
                         "max_epochs": 2000},
                "axes": {"snr_db": [-10.0, 0.0, 10.0, 20.0, 30.0]}, "series": {"init_scale": [0.1]}},
    "digits_label_noise": {"spec": _Q_DIGITS, "axes": {"label_noise": [0.0, 0.2, 0.5, 0.8]}},
    "mlp_n": {"spec": _Q_MLP_N, "axes": {"n_train": [40, 80, 120, 160, 180, 200, 250, 400, 800]},
              "series": {"snr_db": [10.0]}},
    "alignment_vs_error": {"spec": _Q_MLP_N,
                           "axes": {"n_train": [40, 80, 120, 160, 180, 200, 250, 400, 800]},
                           "series": {"snr_db": [10.0]}},
    "label_noise_width": {"spec": _Q_MNIST1D, "axes": {"width": _Q_WIDTHS},
                          "series": {"label_noise": [0.0, 0.2]}},
    "label_noise_width_adam": {"spec": _Q_MNIST1D, "axes": {"width": [16, 256]},
                               "series": {"label_noise": [0.0, 0.2, 1.0]}},
    "random_labels": {"spec": _Q_MNIST1D, "axes": {"width": _Q_WIDTHS}},
    "pen_to_out": {"spec": _Q_MNIST1D, "axes": {"width": _Q_WIDTHS},
                   "series": {"label_noise": [0.0, 0.2]}},
}
QUICK_REPLICATES = 2
QUICK_OVER_TRAINING: dict[str, dict[str, Any]] = {
    "linear": {"spec": dict(_Q_LINEAR, snapshots=6), "axes": {"n_train": [10, 20, 40]}},
    "mnist1d": {"spec": dict(_Q_MNIST1D, snapshots=6), "axes": {"width": [16, 256]}},
}
FIGURES = tuple(PRESETS)

# Claim 4 on the real MNIST, run only where its IDX files are in the data directory
# (`noisealign download mnist`; the project's machines cannot download them, so this
# figure is not a dashboard preset and is not part of the shipped results). The same
# fully connected network, training protocol, label-noise rates and seeds as the MNIST-1D
# sweep; only the widths move, since the thresholds move with d = 784: P = n at width 5,
# P = n x classes at width 50 (n = 4000). From 16 (above the 10 classes) on the
# under-parameterised side to 20x past the second threshold.
MNIST_FIGURE = "label_noise_width_mnist"
MNIST_WIDTHS = [16, 24, 32, 48, 64, 128, 256, 1024]
OPTIONAL: dict[str, dict[str, Any]] = {
    MNIST_FIGURE: dict(
        copy.deepcopy(PRESETS["label_noise_width"]),
        title="MNIST: information content and test error vs width, by label noise",
        spec=dict(PRESETS["label_noise_width"]["spec"], dataset="mnist", dataset_params={}),
        axes={"width": MNIST_WIDTHS}),
}
QUICK[MNIST_FIGURE] = {"spec": {"n_train": 200, "n_probe": 100, "max_epochs": 20,
                                "batch_size": 50},
                       "axes": {"width": [8, 64]}, "series": {"label_noise": [0.0, 0.2]}}


def optional_figures(data_dir: Any = None) -> tuple[str, ...]:
    """The optional figures whose data files are present (in ``data_dir``, default the
    data directory in use): ``(MNIST_FIGURE,)`` with MNIST's files, else ``()``."""
    from engine.datafiles import is_available
    return (MNIST_FIGURE,) if is_available("mnist", data_dir) else ()


def preset(name: str, quick: bool = False) -> dict[str, Any]:
    """The preset ``name`` (a deep copy), scaled down with :data:`QUICK` when ``quick``.

    ``name`` is a dashboard preset (:data:`engine.presets.PRESETS`) or an optional figure
    (:data:`OPTIONAL`)."""
    if name not in PRESETS and name not in OPTIONAL:
        raise ValueError(f"figure={name!r} is invalid: allowed one of "
                         f"{sorted(PRESETS) + sorted(OPTIONAL)}")
    p = copy.deepcopy(PRESETS[name] if name in PRESETS else OPTIONAL[name])
    if quick:
        q = copy.deepcopy(QUICK[name])
        p["spec"].update(q.get("spec", {}))
        p["axes"] = q.get("axes", p["axes"])
        if "series" in q:
            p["series"] = q["series"]
        p["replicates"] = min(int(p.get("replicates", 1)), QUICK_REPLICATES)
    return p


def sweep_of(p: dict[str, Any]) -> Sweep:
    """The sweep of a preset: its axis first, then its series (if any), each grid point
    for the preset's ``replicates`` data seeds."""
    return Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})},
                 replicates=int(p.get("replicates", 1)))


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One grid point of a figure over its data seeds, reduced to the numbers the report
    uses.

    Every (mean, sem) pair is the mean over the point's R seeds (replicates) of each
    seed's value, and the standard error ACROSS seeds (NaN with one seed): each seed
    redraws the data, the noise and the initialisations, so this is the error bar of a
    verdict that should survive a rerun. Within one seed, alignment values are means over
    member pairs and information content means over members; the nominal within-seed
    error (over member pairs of one draw) is kept in ``align_pair_sem``. ``x``: the axis
    value, ``s``: the series value (None without a series). ``spec``: replicate 0's spec.
    ``moved``: linear CKA between each member's trained and its own untrained last hidden
    layer (1 = the training left the representation where it started, up to rotation and
    scale), as (mean, sem) across seeds; ``train_error`` on the noisy training labels,
    averaged over members and seeds.
    """

    x: float
    s: Any
    spec: ExperimentSpec
    seeds: int
    align: dict[str, tuple[float, float]]
    align_pair_sem: dict[str, float]
    align_init: dict[str, float]
    info: dict[str, tuple[float, float]]
    info_init: dict[str, tuple[float, float]]
    test_error: tuple[float, float]
    train_loss: float
    test_loss: tuple[float, float]
    train_error: float
    moved: tuple[float, float]
    epochs_max_fraction: float  # members that used all max_epochs (did not reach loss_tol)
    n_parameters: int
    n_probe: int
    from_cache: bool
    seconds: float

    @property
    def interpolation_ratio(self) -> float:
        return self.spec.interpolation_ratio()

    @property
    def fitted(self) -> bool:
        """Whether the members fit their (noisy) training labels: training error at most
        FITTED_ERROR (classification; regression points count as fitted)."""
        return not (self.train_error > FITTED_ERROR)


# A classifier "fits" its training set when at most this fraction of its (noisy) training
# labels is misclassified.
FITTED_ERROR = 0.01


_mean_sem = mean_sem  # engine.stats: ddof=1, NaN for fewer than 2 values


def _moved(result: Any, ok: np.ndarray) -> float:
    """Mean over usable members of linear CKA(trained h, untrained h) of the same member."""
    from engine.measures import linear_cka
    h, h0 = result.layer(-1), result.layer(-1, init=True)
    vals = [linear_cka(h[m], h0[m]) for m in np.flatnonzero(ok)
            if np.isfinite(h[m]).all() and np.isfinite(h0[m]).all()]
    return float(np.mean(vals)) if vals else math.nan


@dataclass(frozen=True)
class _Run:
    """One seed of a grid point (what :func:`_point` averages)."""

    align: dict[str, tuple[float, float]]
    align_init: dict[str, float]
    info: dict[str, float]
    info_init: dict[str, float]
    test_error: float
    train_loss: float
    test_loss: float
    train_error: float
    moved: float
    epochs_max_fraction: float
    n_parameters: int
    n_probe: int
    from_cache: bool
    seconds: float


def _run(sp, cache: ResultCache) -> _Run:
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
    ic = summ["information_content"]
    member_mean = lambda v: _mean_sem(v)[0]  # noqa: E731
    return _Run(
        align={m: (float(d["mean"]), float(d["sem"])) for m, d in summ["measures"].items()},
        align_init={m: float(d["mean"]) for m, d in summ["measures_init"].items()},
        info={k: member_mean(v) for k, v in ic["trained"].items() if isinstance(v, list)},
        info_init={k: member_mean(v) for k, v in ic["init"].items() if isinstance(v, list)},
        test_error=float(summ["test_error"]["mean"]),
        train_loss=float(summ["train_loss"]["mean"]),
        test_loss=member_mean(np.asarray(result.test_loss)[ok]),
        train_error=float(np.mean(np.asarray(result.train_error)[ok])) if ok.any() else math.nan,
        moved=_moved(result, ok),
        epochs_max_fraction=float(np.mean(np.asarray(result.epochs) >= sp.spec.max_epochs)),
        n_parameters=int(summ["n_parameters"]), n_probe=int(summ["N"]),
        from_cache=bool(sp.from_cache), seconds=float(sp.seconds))


def _point(x: float, s: Any, spec: ExperimentSpec, runs: Sequence[_Run]) -> Point:
    """The seeds ``runs`` of one grid point, averaged (error bars across seeds)."""
    across = lambda f: _mean_sem([f(r) for r in runs])  # noqa: E731
    mean = lambda f: across(f)[0]  # noqa: E731
    first = runs[0]
    return Point(
        x=x, s=s, spec=spec, seeds=len(runs),
        align={m: across(lambda r, m=m: r.align[m][0]) for m in first.align},
        align_pair_sem={m: mean(lambda r, m=m: r.align[m][1]) for m in first.align},
        align_init={m: mean(lambda r, m=m: r.align_init[m]) for m in first.align_init},
        info={k: across(lambda r, k=k: r.info[k]) for k in first.info},
        info_init={k: across(lambda r, k=k: r.info_init[k]) for k in first.info_init},
        test_error=across(lambda r: r.test_error), train_loss=mean(lambda r: r.train_loss),
        test_loss=across(lambda r: r.test_loss), train_error=mean(lambda r: r.train_error),
        moved=across(lambda r: r.moved),
        epochs_max_fraction=mean(lambda r: r.epochs_max_fraction),
        n_parameters=first.n_parameters, n_probe=first.n_probe,
        from_cache=all(r.from_cache for r in runs), seconds=sum(r.seconds for r in runs))


@dataclass
class RunLog:
    """What one invocation did: runs computed / loaded (a run = one seed of a grid
    point), wall time."""

    computed: int = 0
    cached: int = 0
    compute_seconds: float = 0.0
    wall_seconds: float = 0.0
    per_figure: dict[str, float] = field(default_factory=dict)


def _grid(values: dict[str, Any]) -> tuple:
    return tuple((k, v) for k, v in values.items() if k != REPLICATE)


def collect(names: Iterable[str], *, quick: bool, cache: ResultCache, executor: str = "local",
            workers: int | None = None, log: RunLog | None = None,
            echo: Callable[[str], None] | None = print) -> dict[str, list[Point]]:
    """Run (or load from the cache) the sweeps of the figures ``names``, every grid point
    for the preset's number of data seeds.

    Returns figure name -> its points in the sweep's grid order (for each axis value,
    every series value), each averaged over its seeds. Runs shared by several figures are
    computed and reduced once.
    """
    log = log if log is not None else RunLog()
    out: dict[str, list[Point]] = {}
    done: dict[str, _Run] = {}
    for name in names:
        p = preset(name, quick)
        sweep = sweep_of(p)
        axis = next(iter(p["axes"]))
        series = next(iter(p["series"])) if p["series"] else None
        t0 = time.perf_counter()
        todo = [s for s in sweep.specs() if s.content_hash() not in done]
        if echo:
            echo(f"[{name}] {len(sweep)} runs ({len(sweep) - len(todo)} shared with earlier "
                 "figures)")

        def progress(pr: SweepProgress, _name: str = name) -> None:
            if echo and pr.done and pr.remaining_estimate is not None:
                echo(f"  [{_name}] {pr.done}/{pr.total} done, {pr.elapsed:.0f} s, "
                     f"about {pr.remaining_estimate:.0f} s left")

        groups: dict[tuple, tuple[dict, ExperimentSpec | None, list[_Run]]] = {}
        for values in sweep.points():  # grid order, each point's seeds together
            groups.setdefault(_grid(values), (values, None, []))
        # The figures' sweeps are planned and budgeted here (docs/findings.md states the
        # time), not by the dashboard's per-sweep limit.
        for sp in run_sweep(sweep, cache, executor=executor, workers=workers,
                            progress=progress, max_sweep_seconds=math.inf):
            h = sp.spec.content_hash()
            if h not in done:
                done[h] = _run(sp, cache)
                if sp.from_cache:
                    log.cached += 1
                else:
                    log.computed += 1
                    log.compute_seconds += sp.seconds
            values, spec, runs = groups[_grid(sp.axis_values)]
            if sp.axis_values.get(REPLICATE, 0) == 0:
                spec = sp.spec
            groups[_grid(sp.axis_values)] = (values, spec, runs + [done[h]])
        out[name] = [
            _point(float(values[axis]), None if series is None else values[series],
                   spec if spec is not None else sweep.base, runs)
            for values, spec, runs in groups.values()]
        log.per_figure[name] = time.perf_counter() - t0
    return out


def series_of(points: Sequence[Point]) -> dict[Any, list[Point]]:
    """Points grouped by series value (insertion order), each sorted by x."""
    groups: dict[Any, list[Point]] = {}
    for p in points:
        groups.setdefault(p.s, []).append(p)
    return {k: sorted(v, key=lambda p: p.x) for k, v in groups.items()}


# ----------------------------------------------------------------------------- over training


@dataclass(frozen=True)
class Trajectory:
    """One run of an over-training sweep: its axis value, spec and the summary's
    ``over_training`` block (every measure at every stored epoch)."""

    x: float
    spec: ExperimentSpec
    block: dict[str, Any]


def collect_over_training(*, quick: bool, cache: ResultCache, executor: str = "local",
                          workers: int | None = None, log: RunLog | None = None,
                          echo: Callable[[str], None] | None = print
                          ) -> dict[str, list[Trajectory]]:
    """Run (or load) the over-training sweeps of :data:`engine.presets.OVER_TRAINING`
    (one data seed each; scaled down with ``quick``)."""
    log = log if log is not None else RunLog()
    out: dict[str, list[Trajectory]] = {}
    for name, full in OVER_TRAINING.items():
        p = copy.deepcopy(full)
        if quick:
            q = QUICK_OVER_TRAINING[name]
            p["spec"].update(q["spec"])
            p["axes"] = q["axes"]
        sweep = Sweep(ExperimentSpec(**p["spec"]), p["axes"])
        axis = next(iter(p["axes"]))
        t0 = time.perf_counter()
        if echo:
            echo(f"[over_training/{name}] {len(sweep)} runs with snapshots")
        got = []
        for sp in run_sweep(sweep, cache, executor=executor, workers=workers,
                            max_sweep_seconds=math.inf):
            if sp.from_cache:
                log.cached += 1
            else:
                log.computed += 1
                log.compute_seconds += sp.seconds
            got.append(Trajectory(float(sp.axis_values[axis]), sp.spec,
                                  sp.summary.get("over_training", {})))
        out[name] = sorted(got, key=lambda t: t.x)
        log.per_figure[f"over_training/{name}"] = time.perf_counter() - t0
    return out
