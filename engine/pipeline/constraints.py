"""Every spec field's rule as data: its type, bounds or choices, default, label and unit.

One constraint object per field of :class:`noisealign.engine.pipeline.spec.ExperimentSpec`
(``FIELDS``), and one per neighbour count of the measures (``K_FIELDS``), in the style of
scikit-learn's ``Interval`` / ``StrOptions``. This is the one place a default or a bound
is written: the spec's dataclass defaults and its validation, the CLI's flags and their
``--help``, the sweep axes, the dashboard's controls (``noisealign.ui.page_support.spec_range``,
``noisealign.ui.controls``) and the tests that generate bad inputs all read it. Bounds that
depend on other values (``n_train`` and ``n_probe`` against the dataset's pools, ``k <= N - 2``)
are methods here too (:meth:`Interval.check` with ``hi=``, :func:`check_k`), so their
messages read the same wherever they are raised.

Kept separate from ``spec.py`` so that a reader of the rules (a page, the CLI's parser)
needs neither the spec's validation nor the dataset registry, and so that the rules read
as one table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..base.errors import SpecError

# The bound that depends on N (k <= N - 2) and its check live in base (the measures, which
# sit below nothing but base and pipeline, and own_models use them); re-exported here.
from ..base.validation import (  # noqa: F401
    check_choice,
    check_float,
    check_int,
    check_k,
    fail,
    max_k,
)


@dataclass(frozen=True)
class Interval:
    """A number field: ``kind`` (int or float) in ``[lo, hi]`` (``(lo, hi]`` when
    ``lo_open``; ``allow_inf``: ``inf`` is allowed too, meaning ``inf_means``)."""

    kind: type
    lo: float
    hi: float
    default: Any
    label: str
    unit: str = ""
    lo_open: bool = False
    allow_inf: bool = False
    inf_means: str = ""
    # lo_open: the lowest value a dashboard control or axis list offers (lo is excluded)
    floor: float | None = None

    def check(self, name: str, value: Any, *, hi: float | None = None) -> Any:
        """``value`` as ``kind`` within the bounds (``hi``: a lower upper bound that
        depends on other fields, e.g. a dataset's pool), else :class:`SpecError`."""
        if self.kind is int:
            return check_int(name, value, int(self.lo), int(self.hi if hi is None else hi))
        return check_float(name, value, self.lo, self.hi if hi is None else hi,
                           allow_inf=self.allow_inf, lo_open=self.lo_open)

    def allowed(self) -> str:
        """What is allowed, as the CLI's ``--help`` says it (``"a number in (0, 100]"``)."""
        if self.kind is int:
            return f"an integer in [{int(self.lo)}, {int(self.hi)}]"
        return (f"a number in {'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}]"
                + (" or inf" if self.allow_inf else ""))

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is within the bounds (not whether its type is right)."""
        try:
            v = float(value)
        except (TypeError, ValueError, OverflowError):
            return False
        if self.allow_inf and v == math.inf:
            return True
        return (self.lo < v if self.lo_open else self.lo <= v) and v <= self.hi

    def bad_values(self) -> list[Any]:
        """Values the field refuses: below, above, the wrong type (tests draw from these)."""
        step = 1 if self.kind is int else max(abs(self.hi) * 1e-3, 1e-3)
        out: list[Any] = [self.lo if self.lo_open else self.lo - step, self.hi + step, "x",
                          True, math.nan]
        if self.default is not None:  # None is n_probe's "the default count"
            out.append(None)
        if self.kind is int:
            out.append(self.lo + 0.5)
        if not self.allow_inf:
            out.append(math.inf)
        return out


@dataclass(frozen=True)
class Options:
    """A string field: one of ``choices``."""

    choices: tuple[str, ...]
    default: str
    label: str
    unit: str = ""

    def check(self, name: str, value: Any) -> str:
        return check_choice(name, value, self.choices)

    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def bad_values(self) -> list[Any]:
        return ["no-such-" + self.choices[0], 3, None]


@dataclass(frozen=True)
class Flag:
    """A boolean field: True or False (nothing else, not 0 or 1)."""

    default: bool
    label: str
    unit: str = ""

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            fail(name, value, "True or False")
        return value

    def allowed(self) -> str:
        return "true or false"

    def bad_values(self) -> list[Any]:
        return [1, "yes", None]


Constraint = Interval | Options | Flag

# ------------------------------------------------------------------ the choices
NOISE_KINDS = ("none", "target", "input", "label")
# uniform: a flipped label becomes any class, uniformly; pair: class c becomes c + 1
# (mod classes), the class-dependent flip of the label-noise literature.
LABEL_NOISE_KINDS = ("uniform", "pair")
# as noisealign.engine.pipeline.train (which imports torch)
LR_SCHEDULES = ("constant", "cosine", "step")
ACTIVATIONS = ("relu", "tanh", "linear")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda")
TASKS = ("auto", "regression", "classification")
# The architectures' descriptions and datasets live in spec.ARCHITECTURES (they need the
# dataset registry); their names are these.
ARCHITECTURE_NAMES = ("mlp", "cnn")

# ------------------------------------------------------------------ the numeric limits
MIN_MEMBERS, MAX_MEMBERS = 2, 64
MIN_DEPTH, MAX_DEPTH = 1, 3
MAX_WIDTH = 16384
MAX_EPOCHS = 1_000_000
MIN_PROBE = 10
MAX_SNAPSHOTS = 40
DEFAULT_PROBE = 500  # n_probe=None: this many probe points, or the whole probe pool
# The dashboard's pages start with fewer probe points than the engine's default: a page's
# first view must come back in seconds on a laptop, and every measure is at least
# quadratic in N (300 points: about a third of 500's cost), while the CLI and the API
# keep 500 for the findings' error bars. A page names it (never retypes 300).
PAGE_PROBE = 300
# Likewise the alignment and information pages train for at most 300 epochs (the engine:
# 500): their small first views converge well before, and a cold view stays in seconds.
PAGE_EPOCHS = 300

# ------------------------------------------------------------------ one rule per field
# The spec's fields in the dataclass' order. ``dataset`` (the registry's names) and
# ``dataset_params`` (each dataset's own parameters) are checked by the dataset registry,
# so only their defaults are here.
DEFAULT_DATASET = "linear-teacher"
FIELDS: dict[str, Constraint] = {
    "task": Options(TASKS, "auto", "Task"),
    "n_train": Interval(int, 2, 10**7, 100, "Training samples n"),
    # None: min(DEFAULT_PROBE, held-out points available)
    "n_probe": Interval(int, MIN_PROBE, 10**7, None, "Probe points N"),
    # auto: the task's natural kind
    "noise": Options(("auto",) + NOISE_KINDS, "auto", "Noise kind"),
    "snr_db": Interval(float, -40.0, 80.0, 10.0, "Signal-to-noise ratio, SNR", "dB",
                       allow_inf=True, inf_means="no noise"),
    "label_noise": Interval(float, 0.0, 1.0, 0.0, "Label-noise rate p"),
    "label_noise_kind": Options(LABEL_NOISE_KINDS, "uniform", "Label-noise kind"),
    "architecture": Options(ARCHITECTURE_NAMES, "mlp", "Architecture"),
    "width": Interval(int, 1, MAX_WIDTH, 64, "Hidden width"),
    "depth": Interval(int, MIN_DEPTH, MAX_DEPTH, 1, "Hidden layers"),
    "activation": Options(ACTIVATIONS, "relu", "Activation"),
    "bias": Flag(True, "Bias terms"),
    "ensemble_size": Interval(int, MIN_MEMBERS, MAX_MEMBERS, 4, "Ensemble size K"),
    "shared_init": Flag(False, "Shared initialisation"),
    "init_scale": Interval(float, 0.0, 100.0, 1.0, "Initialisation scale", lo_open=True,
                           floor=1e-4),
    "optimizer": Options(OPTIMIZERS, "adam", "Optimiser"),
    "lr": Interval(float, 0.0, 100.0, 1e-2, "Learning rate", lo_open=True, floor=1e-5),
    "max_epochs": Interval(int, 1, MAX_EPOCHS, 500, "Max epochs"),
    "loss_tol": Interval(float, 0.0, 1e6, 1e-4, "Loss tolerance"),
    "batch_size": Interval(int, 0, 10**7, 0, "Batch size"),  # 0 = full batch
    "weight_decay": Interval(float, 0.0, 100.0, 0.0, "Weight decay"),
    "lr_schedule": Options(LR_SCHEDULES, "constant", "Learning-rate schedule"),
    "grad_clip": Interval(float, 0.0, 1e6, 0.0, "Gradient clip"),  # > 0: norm clipped
    "momentum": Interval(float, 0.0, 0.999, 0.0, "Momentum (SGD)"),  # heavy-ball, optimizer='sgd'
    "snapshots": Interval(int, 0, MAX_SNAPSHOTS, 0, "Snapshots over training"),
    "seed": Interval(int, 0, 2**31 - 1, 0, "Seed"),
    "device": Options(DEVICES, "auto", "Device"),
}


def default(name: str) -> Any:
    """The default of spec field ``name`` (``FIELDS``)."""
    return FIELDS[name].default


def intervals(kind: type) -> dict[str, Interval]:
    """The number fields of type ``kind`` (int or float)."""
    return {n: c for n, c in FIELDS.items() if isinstance(c, Interval) and c.kind is kind}


def interval(name: str) -> Interval:
    """The constraint of number field ``name`` (``ValueError`` for any other field)."""
    c = FIELDS.get(name)
    if not isinstance(c, Interval):
        raise ValueError(f"{name!r} is not a number field of the spec")
    return c


def check_within_pool(name: str, value: int, pool: int, dataset: str, what: str) -> None:
    """``value`` (``n_train`` or ``n_probe``, already checked against ``FIELDS``) must not
    exceed the ``pool`` of ``what`` points the dataset has: the bound that depends on
    the dataset."""
    if value > pool:
        lo = int(interval(name).lo)
        raise SpecError(name, value, f"{lo} to {pool}",
                        f"{name}={value} exceeds the {pool} {what} points available "
                        f"in {dataset!r}: allowed {lo} to {pool}")


# ------------------------------------------------------------------ the measures' k
# Neighbour counts of the measures: ``k`` of the Information Imbalance (the nearest
# neighbour, as in Glielmo et al.), ``knn_k`` of mutual k-NN and CKNNA (10, as in the
# platonic-representation papers). Their upper bound depends on the probe points N
# (:func:`max_k`, checked by :func:`check_k`); ``hi`` here is what a dashboard control
# offers at most.
K_FIELDS: dict[str, Interval] = {
    "k": Interval(int, 1, 100, 1, "Neighbours k (Information Imbalance)"),
    "knn_k": Interval(int, 1, 500, 10, "Neighbours k (mutual k-NN)"),
}
DEFAULT_K = K_FIELDS["k"].default
DEFAULT_KNN_K = K_FIELDS["knn_k"].default


# ------------------------------------------------------------------ the SNR's unit
def snr_db_to_ratio(snr_db: Any) -> Any:
    """SNR in decibels -> ratio; ``inf`` dB is an infinite ratio (no noise). An array
    gives an array."""
    import numpy as np  # here: reading the rules needs no numpy
    if isinstance(snr_db, np.ndarray):
        return 10.0 ** (snr_db / 10.0)
    return math.inf if snr_db == math.inf else 10.0 ** (snr_db / 10.0)


def snr_ratio_to_db(snr: Any) -> Any:
    """SNR ratio -> decibels; ratio ``inf`` is ``inf`` dB, ratio 0 is ``-inf`` dB. An
    array gives an array."""
    import numpy as np
    if isinstance(snr, np.ndarray):
        with np.errstate(divide="ignore"):
            return 10.0 * np.log10(snr)
    if snr == math.inf:
        return math.inf
    if snr <= 0:
        return -math.inf
    return 10.0 * math.log10(snr)
