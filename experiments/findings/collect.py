"""From the presets to the numbers: each figure's sweep, run through the results cache.

:func:`preset` gives a figure's preset (scaled down for ``--quick``), :func:`sweep_of` its
sweep, and :func:`collect` runs (or loads) every point and reduces it to a :class:`Point`:
the cached summary (:func:`noisealign.engine.measures.summaries.summarise`) plus, for the per-member
cross-entropy and training error the summary leaves out, the cached :class:`engine.Result`
arrays.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noisealign.engine.base.stats import mean_sem
from noisealign.engine.compute.sweep import REPLICATE, Sweep, SweepProgress, run_sweep
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import OVER_TRAINING, PRESETS
from noisealign.engine.store.cache import ResultCache

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
# Figures of the report that are not dashboard presets (issue 26), always run by the full
# report: a third claim-2 setting, the audit's tanh MLP (mlp-teacher d = 10, width 8,
# threshold n = P = 97, SNR 10 dB), whose minimum's location moved with the seed set; and
# claim 5 with width and n scaled together at a fixed P / (n x classes), three ratios on
# each side of the threshold, random-label networks against the same networks untrained.
_TANH_MLP: dict[str, Any] = dict(
    copy.deepcopy(PRESETS["mlp_n"]["spec"]), dataset_params={"d": 10, "teacher_width": 32},
    width=8, activation="tanh")
SCALING_RATIOS = [0.25, 0.5, 0.75, 1.5, 3.0, 6.0]  # P / (n x classes); 1 is the threshold
SCALING_N = [250, 500, 1000]
EXTRA: dict[str, dict[str, Any]] = {
    "mlp_n_tanh": {
        "title": "tanh MLP regression (d = 10, width 8, P = 97): alignment and test error vs n",
        "claim": "2. Alignment vs n is non-monotone with its minimum near the threshold "
                 "(the audit's tanh setting of issue 26).",
        "page": "alignment", "spec": _TANH_MLP,
        "axes": {"n_train": [30, 50, 70, 85, 97, 110, 120, 150, 200, 250, 400, 800]},
        "series": {"snr_db": [10.0]}, "measure": "cka", "replicates": 3},
    "random_labels_scaling": {
        "title": "MNIST-1D: random labels vs random features, width and n scaled together",
        "claim": "5. Representations learned from random labels are worse than random "
                 "features, with the number of parameters and of training samples scaled "
                 "together at a fixed ratio.",
        "page": "information",
        "spec": dict(copy.deepcopy(PRESETS["random_labels"]["spec"])),
        "axes": {"n_train": SCALING_N}, "series": {"ratio": SCALING_RATIOS},
        "measure": "ii_h_to_y", "replicates": 3, "scaled": True},
}
FIGURES = tuple(PRESETS) + tuple(EXTRA)

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
QUICK["mlp_n_tanh"] = {"spec": {"ensemble_size": 4, "n_probe": 300, "max_epochs": 3000},
                       "axes": {"n_train": [30, 60, 97, 150, 300]}}
QUICK["random_labels_scaling"] = {"spec": {"dataset_params": {"n_samples": 3000}, "n_train": 200,
                                           "n_probe": 500, "max_epochs": 40},
                                  "axes": {"n_train": [200, 400]},
                                  "series": {"ratio": [0.5, 2.0]}}
QUICK[MNIST_FIGURE] = {"spec": {"n_train": 200, "n_probe": 100, "max_epochs": 20,
                                "batch_size": 50},
                       "axes": {"width": [8, 64]}, "series": {"label_noise": [0.0, 0.2]}}


def optional_figures(data_dir: Any = None) -> tuple[str, ...]:
    """The optional figures whose data files are present (in ``data_dir``, default the
    data directory in use): ``(MNIST_FIGURE,)`` with MNIST's files, else ``()``."""
    from noisealign.engine.pipeline.dataset_files import is_available
    return (MNIST_FIGURE,) if is_available("mnist", data_dir) else ()


def preset(name: str, quick: bool = False) -> dict[str, Any]:
    """The preset ``name`` (a deep copy), scaled down with :data:`QUICK` when ``quick``.

    ``name`` is a dashboard preset (:data:`noisealign.engine.presets.catalog.PRESETS`) or an optional figure
    (:data:`OPTIONAL`)."""
    table = {**PRESETS, **EXTRA, **OPTIONAL}
    if name not in table:
        raise ValueError(f"figure={name!r} is invalid: allowed one of "
                         f"{sorted(PRESETS) + sorted(EXTRA) + sorted(OPTIONAL)}")
    p = copy.deepcopy(table[name])
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
    for the preset's ``replicates`` data seeds. (A ``scaled`` figure is several sweeps:
    :func:`scaled_sweeps`.)"""
    if p.get("scaled"):
        raise ValueError(f"figure {p['title']!r} scales width with n: use scaled_sweeps")
    return Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})},
                 replicates=int(p.get("replicates", 1)))


def scaled_width(ratio: float, n_train: int, spec: ExperimentSpec) -> int:
    """The one-hidden-layer width whose P = (d + 1) w + (w + 1) C is closest to
    ``ratio x n x C`` (at least C, so no class bottleneck)."""
    d, c = spec.input_dim(), spec.n_outputs()
    return max(c, round((ratio * n_train * c - c) / (d + 1 + c)))


def scaled_sweeps(p: dict[str, Any]) -> list[tuple[float, int, Sweep]]:
    """A ``scaled`` figure's sweeps: for each ratio P / (n x classes) of its series and
    each n of its axis, one single-point sweep at n and :func:`scaled_width`, for the
    figure's replicates. Returns (ratio, n, sweep) in that order."""
    base = ExperimentSpec(**p["spec"])
    out = []
    for ratio in p["series"]["ratio"]:
        for n in p["axes"]["n_train"]:
            spec = dataclasses.replace(base, n_train=int(n))
            out.append((float(ratio), int(n),
                        Sweep(spec, {"width": [scaled_width(ratio, n, spec)]},
                              replicates=int(p.get("replicates", 1)))))
    return out


def scaling_table(quick: bool = False) -> dict[float, list[tuple[int, int]]]:
    """(n, width) per ratio of the claim-5 scaling figure."""
    out: dict[float, list[tuple[int, int]]] = {}
    for ratio, n, sw in scaled_sweeps(preset("random_labels_scaling", quick)):
        out.setdefault(ratio, []).append((n, int(sw.axes["width"][0])))
    return out


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
    # Each seed's own value, in replicate order (seed 0 first), for the paired tests and
    # the per-seed argmin: "align:<measure>", "info:<key>", "info_init:<key>",
    # "test_error", "test_loss", "moved".
    per_seed: dict[str, tuple[float, ...]] = field(default_factory=dict)

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


_mean_sem = mean_sem  # noisealign.engine.base.stats: ddof=1, NaN for fewer than 2 values


def _moved(result: Any, ok: np.ndarray) -> float:
    """Mean over usable members of linear CKA(trained h, untrained h) of the same member."""
    from noisealign.engine.measures.core import linear_cka
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
            "noisealign.engine.measures.summaries existed. Delete that cache entry (python -m engine cache ...) "
            "or use another --cache directory.")
    result = cache.get(sp.spec)
    if result is None:  # evicted between the sweep and now: recompute through the cache
        result = cache.get_or_compute(sp.spec)
    ok = ~np.asarray(result.diverged, dtype=bool)
    ic = summ["information_content"]
    def member_mean(v):
        return _mean_sem(v)[0]
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
    """The seeds ``runs`` of one grid point (in replicate order), averaged (error bars
    across seeds)."""
    def across(f):
        return _mean_sem([f(r) for r in runs])
    def mean(f):
        return across(f)[0]
    first = runs[0]
    def each(f):
        return tuple(float(f(r)) for r in runs)
    per_seed = {f"align:{m}": each(lambda r, m=m: r.align[m][0]) for m in first.align}
    per_seed.update({f"info:{k}": each(lambda r, k=k: r.info[k]) for k in first.info})
    per_seed.update({f"info_init:{k}": each(lambda r, k=k: r.info_init[k])
                     for k in first.info_init})
    per_seed.update(test_error=each(lambda r: r.test_error),
                    test_loss=each(lambda r: r.test_loss), moved=each(lambda r: r.moved))
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
        from_cache=all(r.from_cache for r in runs), seconds=sum(r.seconds for r in runs),
        per_seed=per_seed)


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
        if p.get("scaled"):
            t0 = time.perf_counter()
            pts = []
            for ratio, n, sw in scaled_sweeps(p):
                got = _collect_sweep(f"{name} ratio {ratio:g}, n {n}", sw, "width", None,
                                     cache, executor, workers, log, echo, done)
                pts += [dataclasses.replace(q, x=float(n), s=ratio) for q in got]
            out[name] = pts
            log.per_figure[name] = time.perf_counter() - t0
            continue
        sweep = sweep_of(p)
        axis = next(iter(p["axes"]))
        series = next(iter(p["series"])) if p["series"] else None
        t0 = time.perf_counter()
        out[name] = _collect_sweep(name, sweep, axis, series, cache, executor, workers, log,
                                   echo, done)
        log.per_figure[name] = time.perf_counter() - t0
    return out


def _collect_sweep(name: str, sweep: Sweep, axis: str, series: str | None,
                   cache: ResultCache, executor: str, workers: int | None, log: RunLog,
                   echo: Callable[[str], None] | None, done: dict[str, _Run]) -> list[Point]:
    """One sweep's points (grid order), each seed run once across figures (``done``)."""
    todo = [s for s in sweep.specs() if s.content_hash() not in done]
    if echo:
        echo(f"[{name}] {len(sweep)} runs ({len(sweep) - len(todo)} shared with earlier "
             "figures)")

    def progress(pr: SweepProgress) -> None:
        if echo and pr.done and pr.remaining_estimate is not None:
            echo(f"  [{name}] {pr.done}/{pr.total} done, {pr.elapsed:.0f} s, "
                 f"about {pr.remaining_estimate:.0f} s left")

    # runs are kept with their replicate index: the sweep may yield them in any order,
    # and the paired tests pair seeds by index
    groups: dict[tuple, tuple[dict, ExperimentSpec | None, list[tuple[int, _Run]]]] = {}
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
        rep = int(sp.axis_values.get(REPLICATE, 0))
        groups[_grid(sp.axis_values)] = (values, spec, runs + [(rep, done[h])])
    return [
        _point(float(values[axis]), None if series is None else values[series],
               spec if spec is not None else sweep.base,
               [r for _, r in sorted(runs, key=lambda t: t[0])])
        for values, spec, runs in groups.values()]


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
    """Run (or load) the over-training sweeps of :data:`noisealign.engine.presets.catalog.OVER_TRAINING`
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
