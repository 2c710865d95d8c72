"""Datasets: a registry of what can be trained on, and the clean base sample of a spec.

Every dataset has a fixed *train pool* and a disjoint *probe pool*. A spec draws its
clean base sample of ``n_train`` points from the train pool and ``n_probe`` probe points
from the probe pool, both seeded by the spec's seed (docs/science.md 1.1 and 1.4). Inputs of real
datasets are standardised with the statistics of the drawn training sample (synthetic
inputs are standard normal by construction).

All datasets work offline: synthetic ones are generated, ``digits`` and ``diabetes`` ship
with scikit-learn, ``mnist1d`` is generated locally by the ``mnist1d`` package, and
``mnist``, ``fashion-mnist`` and ``cifar10`` are read from their standard distribution
files in the data directory (see :mod:`noisealign.engine.pipeline.dataset_files`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..base.errors import SpecError
from ..base.validation import show

# ----------------------------------------------------------------------------- Data


@dataclass(frozen=True)
class Data:
    """A clean base sample and the probe set.

    x_train: (n_train, d) float32, standardised with the training sample's statistics
    y_train: (n_train,) float32 clean targets (regression) or int64 labels (classification)
    x_probe: (n_probe, d) float32, standardised with the same statistics
    y_probe: (n_probe,) clean targets / labels
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_probe: np.ndarray
    y_probe: np.ndarray
    task: str
    n_classes: int  # 0 for regression
    teacher: np.ndarray | None = None  # (d,) unit-norm teacher of 'linear-teacher'
    # Var(y*) of the data distribution when it is known exactly (1 for the linear
    # teacher); otherwise the noise estimates it from the clean train + probe targets.
    target_variance: float | None = None

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])


# ----------------------------------------------------------------------------- params


@dataclass(frozen=True)
class Param:
    """A dataset parameter: its type, default and allowed closed range."""

    kind: type
    default: Any
    lo: float
    hi: float
    help: str = ""

    def check(self, dataset: str, name: str, value: Any) -> Any:
        allowed = f"{'an integer' if self.kind is int else 'a number'} in [{self.lo}, {self.hi}]"
        bad = SpecError("dataset_params", value, allowed,
                        f"dataset_params[{name!r}]={show(value)} is invalid for {dataset!r}: "
                        f"allowed {allowed}", param=name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        if self.kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad
            value = int(value)
        elif not (isinstance(value, int) and abs(value) > self.hi):  # float() could overflow
            value = float(value)
        if not (self.lo <= value <= self.hi):  # also rejects NaN
            raise bad
        return value


@dataclass(frozen=True)
class DatasetInfo:
    """What the spec needs to know about a dataset without loading it."""

    name: str
    task: str
    description: str
    params: dict[str, Param]
    # (params) -> (train pool size, probe pool size)
    _pools: Callable[[dict], tuple[int, int]]
    _input_dim: Callable[[dict], int]
    _n_classes: Callable[[dict], int]
    # (params) -> (x_train_pool, y_train_pool, x_probe_pool, y_probe_pool) or a sampler
    _load: Callable[..., Any]
    synthetic: bool = False
    # (channels, height, width) when each input is an image flattened channel-major
    # (height 1: a 1-D signal)
    image_shape: tuple[int, int, int] | None = None

    def validate_params(self, given: dict[str, Any]) -> dict[str, Any]:
        # Names need not be str: sort by type, then as shown (str() of a huge int raises).
        unknown = sorted(set(given) - set(self.params),
                         key=lambda k: (type(k).__name__, show(k)))
        if unknown:
            allowed = sorted(self.params) or "none"
            raise ValueError(f"dataset_params {show(unknown)} are not parameters of "
                             f"{self.name!r}: allowed {allowed}")
        out = {k: p.default for k, p in self.params.items()}
        for k, v in given.items():
            out[k] = self.params[k].check(self.name, k, v)
        return out

    def pool_sizes(self, params: dict) -> tuple[int, int]:
        return self._pools(params)

    def input_dim(self, params: dict) -> int:
        return self._input_dim(params)

    def n_classes(self, params: dict) -> int:
        return self._n_classes(params) if self.task == "classification" else 0

    def n_outputs(self, params: dict) -> int:
        return self.n_classes(params) if self.task == "classification" else 1


# ----------------------------------------------------------------------------- synthetic
# Synthetic pools are effectively unbounded; points are generated on demand from the seed.
SYNTH_TRAIN_POOL, SYNTH_PROBE_POOL = 1_000_000, 100_000


def _linear_teacher(params: dict, n_train: int, n_probe: int, rng: np.random.Generator):
    d = params["d"]
    beta = rng.standard_normal(d)
    beta /= np.linalg.norm(beta)
    x = rng.standard_normal((n_train + n_probe, d))
    y = x @ beta
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:], beta


def _mlp_teacher(params: dict, n_train: int, n_probe: int, rng: np.random.Generator):
    d, h = params["d"], params["teacher_width"]
    w = rng.standard_normal((d, h)) / np.sqrt(d)
    a = rng.standard_normal(h) / np.sqrt(h)
    x = rng.standard_normal((n_train + n_probe, d))
    y = np.tanh(x @ w) @ a
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:], None


def _gaussian_mixture(params: dict, n_train: int, n_probe: int, rng: np.random.Generator):
    d, c, sep = params["d"], params["n_classes"], params["separation"]
    # Class means on random directions at distance `sep` from the origin: pairs of means
    # are about sep*sqrt(2) apart; each class is N(mean, I).
    means = rng.standard_normal((c, d))
    means *= sep / np.linalg.norm(means, axis=1, keepdims=True)
    labels = rng.integers(0, c, size=n_train + n_probe)
    x = means[labels] + rng.standard_normal((n_train + n_probe, d))
    return x[:n_train], labels[:n_train], x[n_train:], labels[n_train:], None


# ----------------------------------------------------------------------------- bundled


def _fixed_split(x: np.ndarray, y: np.ndarray, n_probe: int):
    """Train and probe pools of a bundled dataset: one fixed split, the same for every spec."""
    perm = np.random.default_rng(1234).permutation(len(x))
    return x[perm[n_probe:]], y[perm[n_probe:]], x[perm[:n_probe]], y[perm[:n_probe]]


@functools.lru_cache(maxsize=1)
def _digits_pools():
    from sklearn.datasets import load_digits
    return _fixed_split(*load_digits(return_X_y=True), n_probe=360)


@functools.lru_cache(maxsize=1)
def _diabetes_pools():
    from sklearn.datasets import load_diabetes
    return _fixed_split(*load_diabetes(return_X_y=True), n_probe=89)


def _cancellable(fn, name: str):
    """``fn`` with its global ``name`` (a function it calls per sample) polling the
    cancel scope first (noisealign.engine.base.cancel): a cancelled job stops within a second inside a
    generator that takes a minute for 200,000 samples. The module is not modified (a
    copy of ``fn`` sees the wrapper); the samples are the same."""
    import types

    from ..base.cancel import check_cancelled
    inner = fn.__globals__.get(name)
    if not callable(inner):  # another version of the package: run it as it is
        return fn

    def checked(*args, **kwargs):
        check_cancelled("data generation")
        return inner(*args, **kwargs)
    return types.FunctionType(fn.__code__, {**fn.__globals__, name: checked},
                              fn.__name__, fn.__defaults__, fn.__closure__)


@functools.lru_cache(maxsize=2)
def _mnist1d_pools(n_samples: int):
    # The mnist1d package's generator, run locally from its default templates: the
    # published recipe, without the download path.
    from mnist1d.data import get_dataset_args, make_dataset
    args = get_dataset_args()
    args.num_samples = n_samples
    args.train_split = 0.8
    args.seed = 42
    state = np.random.get_state()  # make_dataset reseeds numpy's global generator
    try:
        data = _cancellable(make_dataset, "transform")(args)
    finally:
        np.random.set_state(state)
    return (np.asarray(data["x"]), np.asarray(data["y"]),
            np.asarray(data["x_test"]), np.asarray(data["y_test"]))


def _mnist1d_sizes(n_samples: int) -> tuple[int, int]:
    total = 10 * (n_samples // 10)  # the generator makes n_samples // 10 per class
    return int(total * 0.8), total - int(total * 0.8)


def _file_pools(name: str):
    from . import dataset_files as datafiles
    return datafiles.load_pools(name)


# ----------------------------------------------------------------------------- registry


def _const(v):
    return lambda params: v


DATASETS: dict[str, DatasetInfo] = {
    "linear-teacher": DatasetInfo(
        "linear-teacher", "regression",
        "x ~ N(0, I_d), y = beta . x with |beta| = 1 (the linear model of docs/science.md 3)",
        {"d": Param(int, 100, 1, 4096, "input dimension")},
        _const((SYNTH_TRAIN_POOL, SYNTH_PROBE_POOL)), lambda p: p["d"], _const(0),
        _linear_teacher, synthetic=True),
    "mlp-teacher": DatasetInfo(
        "mlp-teacher", "regression",
        "x ~ N(0, I_d), y = a . tanh(W x): a random one-hidden-layer tanh teacher",
        {"d": Param(int, 20, 1, 4096, "input dimension"),
         "teacher_width": Param(int, 32, 1, 4096, "teacher hidden width")},
        _const((SYNTH_TRAIN_POOL, SYNTH_PROBE_POOL)), lambda p: p["d"], _const(0),
        _mlp_teacher, synthetic=True),
    "gaussian-mixture": DatasetInfo(
        "gaussian-mixture", "classification",
        "isotropic Gaussian classes N(mu_c, I) with |mu_c| = separation",
        {"d": Param(int, 20, 1, 4096, "input dimension"),
         "n_classes": Param(int, 3, 2, 100, "number of classes"),
         "separation": Param(float, 3.0, 0.0, 100.0, "distance of each class mean from 0")},
        _const((SYNTH_TRAIN_POOL, SYNTH_PROBE_POOL)), lambda p: p["d"],
        lambda p: p["n_classes"], _gaussian_mixture, synthetic=True),
    "digits": DatasetInfo(
        "digits", "classification", "scikit-learn's bundled 8x8 handwritten digits",
        {}, _const((1437, 360)), _const(64), _const(10), lambda p: _digits_pools(),
        image_shape=(1, 8, 8)),
    "diabetes": DatasetInfo(
        "diabetes", "regression",
        "scikit-learn's bundled diabetes progression (targets standardised)",
        {}, _const((353, 89)), _const(10), _const(0), lambda p: _diabetes_pools()),
    "mnist1d": DatasetInfo(
        "mnist1d", "classification",
        "MNIST-1D, generated locally by the mnist1d package (80/20 split)",
        {"n_samples": Param(int, 5000, 100, 200_000, "points generated (80% train pool)")},
        lambda p: _mnist1d_sizes(p["n_samples"]),
        _const(40), _const(10), lambda p: _mnist1d_pools(p["n_samples"]),
        image_shape=(1, 1, 40)),  # a 1-D signal: the CNN's 1-D variant
    "mnist": DatasetInfo(
        "mnist", "classification", "MNIST from its IDX files in the data directory",
        {}, _const((60000, 10000)), _const(784), _const(10), lambda p: _file_pools("mnist"),
        image_shape=(1, 28, 28)),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", "classification",
        "Fashion-MNIST from its IDX files in the data directory",
        {}, _const((60000, 10000)), _const(784), _const(10),
        lambda p: _file_pools("fashion-mnist"), image_shape=(1, 28, 28)),
    "cifar10": DatasetInfo(
        "cifar10", "classification",
        "CIFAR-10 (binary version) from the data directory",
        {}, _const((50000, 10000)), _const(3072), _const(10), lambda p: _file_pools("cifar10"),
        image_shape=(3, 32, 32)),
}
# Datasets whose inputs are images (what a CNN can take).
IMAGE_DATASETS: tuple[str, ...] = tuple(k for k, v in DATASETS.items() if v.image_shape)


def _standardise(x_train: np.ndarray, x_probe: np.ndarray):
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std < 1e-8] = 1.0  # constant features (e.g. border pixels) stay at 0
    return (x_train - mean) / std, (x_probe - mean) / std


def load_data(spec) -> Data:
    """The clean base sample and probe set of ``spec`` (deterministic in ``spec.seed``)."""
    info = DATASETS[spec.dataset]
    params = spec.params
    rng = np.random.default_rng([spec.seed, 0xDA7A])
    teacher = None
    if info.synthetic:
        xt, yt, xp, yp, teacher = info._load(params, spec.n_train, spec.n_probe, rng)
    else:
        x_pool, y_pool, xp_pool, yp_pool = info._load(params)
        # File datasets may hold fewer points than the official pool sizes the spec
        # was validated against (subsets, test fixtures): say so instead of numpy's error.
        for field, n, have, what in (("n_train", spec.n_train, len(x_pool), "training"),
                                     ("n_probe", spec.n_probe, len(xp_pool), "held-out")):
            if n > have:
                raise SpecError(field, n, f"at most {have}",
                                f"{field}={n} exceeds the {have} {what} points in the files "
                                f"of {spec.dataset!r}: allowed at most {have}")
        tr = rng.choice(len(x_pool), size=spec.n_train, replace=False)
        pr = rng.choice(len(xp_pool), size=spec.n_probe, replace=False)
        xt, yt, xp, yp = x_pool[tr], y_pool[tr], xp_pool[pr], yp_pool[pr]
    xt = np.asarray(xt, dtype=np.float64)
    xp = np.asarray(xp, dtype=np.float64)
    if not info.synthetic:
        # Synthetic inputs are already N(0, I) by construction; re-standardising them
        # with a small sample's statistics would distort the model of docs/science.md 3.
        xt, xp = _standardise(xt, xp)
    if info.task == "classification":
        yt, yp = np.asarray(yt, dtype=np.int64), np.asarray(yp, dtype=np.int64)
    else:
        yt, yp = np.asarray(yt, dtype=np.float64), np.asarray(yp, dtype=np.float64)
        if not info.synthetic:  # real targets in standard units; synthetic keep theirs
            mu, sd = yt.mean(), yt.std() or 1.0
            yt, yp = (yt - mu) / sd, (yp - mu) / sd
        yt, yp = yt.astype(np.float32), yp.astype(np.float32)
    return Data(xt.astype(np.float32), yt, xp.astype(np.float32), yp, info.task,
                info.n_classes(params),
                None if teacher is None else teacher.astype(np.float32),
                1.0 if spec.dataset == "linear-teacher" else None)
