"""The experiment spec: everything that determines a result, validated up front.

An :class:`ExperimentSpec` is frozen, JSON-serialisable and has a stable content hash,
so it can key a cache and travel in a URL. Every invalid value raises ``ValueError``
naming the field, the value given and what is allowed.

Noise levels: ``snr_db`` applies to ``target`` and ``input`` noise (``inf`` = no noise),
``label_noise`` (a probability p in [0, 1]) to ``label`` noise. The level that does not
apply to the chosen noise kind is reset to its neutral value, so two specs that describe
the same experiment have the same hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..base.errors import SpecError
from ..base.validation import check_choice as _check_choice
from ..base.validation import fail as _fail
from ..base.validation import show  # noqa: F401  (re-exported: noisealign.engine.pipeline.spec.show)
from . import datasets

# The rules' names, re-exported where they were (noisealign.engine.pipeline.spec.NOISE_KINDS, ...):
# they are defined once, in noisealign.engine.pipeline.constraints.
from .constraints import (  # noqa: F401
    ACTIVATIONS,
    DEFAULT_DATASET,
    DEFAULT_PROBE,
    DEVICES,
    FIELDS,
    LABEL_NOISE_KINDS,
    LR_SCHEDULES,
    MAX_DEPTH,
    MAX_EPOCHS,
    MAX_MEMBERS,
    MAX_SNAPSHOTS,
    MAX_WIDTH,
    MIN_DEPTH,
    MIN_MEMBERS,
    MIN_PROBE,
    NOISE_KINDS,
    OPTIMIZERS,
    TASKS,
    Options,
    check_within_pool,
    intervals,
    snr_db_to_ratio,
    snr_ratio_to_db,
)

# Which noise level applies to which noise kind: the one place this rule lives (the spec's
# validation, the CLI's --level, the handoff's command line, the sweep's axis check, the
# alignment page's controls and the findings report read it). noise kind -> the spec
# field holding its level (None: no level); every other level field is reset to its
# neutral value, so two specs of the same experiment hash equally.
LEVEL_FIELD: dict[str, str | None] = {"none": None, "target": "snr_db", "input": "snr_db",
                                      "label": "label_noise"}
NEUTRAL_LEVEL: dict[str, float] = {"snr_db": math.inf, "label_noise": 0.0}
# Fields that mean something only with one level field's noise kinds.
LEVEL_OF_FIELD: dict[str, str] = {"snr_db": "snr_db", "label_noise": "label_noise",
                                  "label_noise_kind": "label_noise"}
# task -> the noise kinds it allows, and the kind noise='auto' means for it
TASK_NOISE: dict[str, tuple[str, ...]] = {"regression": ("none", "target", "input"),
                                          "classification": ("none", "input", "label")}
NATURAL_NOISE: dict[str, str] = {"regression": "target", "classification": "label"}
# architecture -> what it is and the datasets it runs on (None: every dataset). The one
# place these rules live: the spec checks them, the CLI and the dashboard offer them.
# (Its names are constraints.ARCHITECTURE_NAMES, the field's choices.)
ARCHITECTURES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "mlp": ("fully connected: `depth` hidden layers of `width` units", None),
    "cnn": ("two conv blocks (3x3 conv with `width` channels, activation, 2x2 max pool; "
            "on a 1-D signal, mnist1d, kernel 3 and pool 2), a dense hidden layer of "
            "2 * `width` units, the output layer; `depth` does not apply (reset to 1)",
            datasets.IMAGE_DATASETS),
}

# The choice fields, as a table read from the constraints (the dataset's choices are the
# registry, noisealign.engine.pipeline.datasets).
CHOICES: dict[str, tuple[str, ...]] = {n: c.choices for n, c in FIELDS.items()
                                       if isinstance(c, Options)}

# Fields added after cache keys were first written -> the value that means "as before"
# (their default). Left out of the canonical JSON (and so of hashes and cache keys) while
# they hold it: a field added later leaves every existing spec's hash unchanged.
# (from_json fills the default back in).
ADDED_FIELDS: dict[str, Any] = {n: FIELDS[n].default for n in (
    "label_noise_kind", "lr_schedule", "grad_clip", "snapshots", "architecture", "momentum")}

# The numeric rules as tables read from the constraints: field -> (lowest, highest)
# allowed, and for floats field -> (lowest, highest, lowest excluded?); snr_db also
# accepts inf (no noise). Dataset-dependent upper limits (n_train, n_probe against the
# pool sizes) are checked on top, in ``ExperimentSpec.__post_init__``.
INT_BOUNDS: dict[str, tuple[int, int]] = {n: (int(c.lo), int(c.hi))
                                          for n, c in intervals(int).items()}
FLOAT_BOUNDS: dict[str, tuple[float, float, bool]] = {n: (c.lo, c.hi, c.lo_open)
                                                      for n, c in intervals(float).items()}


# the dataclass' defaults (Any: each field's default has its own type)
_D: dict[str, Any] = {n: c.default for n, c in FIELDS.items()}


def _check(name: str, value: Any) -> Any:
    """``value`` checked against spec field ``name``'s constraint."""
    return FIELDS[name].check(name, value)


def _mlp_parameters(d: int, width: float, depth: int, outputs: int, bias: bool) -> float:
    """Weights and biases of an MLP d -> width (x depth) -> outputs (width may be real)."""
    dims = [d] + [width] * depth + [outputs]
    return sum(a * b + (b if bias else 0) for a, b in zip(dims[:-1], dims[1:]))


def level_field(noise: str) -> str | None:
    """The spec field that holds the level of ``noise`` (``LEVEL_FIELD``): ``"snr_db"``
    for target and input noise, ``"label_noise"`` for label noise, None for none."""
    return LEVEL_FIELD[noise]


def noise_kinds_of(field: str) -> tuple[str, ...]:
    """The noise kinds under which ``field`` (a level, or ``label_noise_kind``) applies."""
    level = LEVEL_OF_FIELD[field]
    return tuple(k for k, f in LEVEL_FIELD.items() if f == level)


def applies(field: str, noise: str) -> bool:
    """Whether spec field ``field`` means something under noise kind ``noise``: a level
    field only under its kinds (``noise_kinds_of``), every other field always."""
    return field not in LEVEL_OF_FIELD or noise in noise_kinds_of(field)


def noise_for_task(task: str, noise: str) -> str:
    """``noise`` moved to the kind ``task`` allows: target noise on a classifier becomes
    label noise, label noise on a regression target noise (``"auto"``: the task's
    natural kind); a kind the task allows is kept."""
    return NATURAL_NOISE[task] if noise == "auto" or noise not in TASK_NOISE[task] else noise


def noise_for_level(field: str, task: str) -> str:
    """The noise kind a level field implies on a ``task`` dataset (a sweep axis or a
    ``--level`` that names no kind): the first of its kinds the task allows (``snr_db``:
    target noise on a regression, input noise on a classifier), else its first kind."""
    kinds = noise_kinds_of(field)
    return next((k for k in kinds if k in TASK_NOISE[task]), kinds[0])


def architectures_for(dataset: str) -> tuple[str, ...]:
    """The architectures that run on ``dataset`` (in ARCHITECTURES' order)."""
    return tuple(a for a, (_, only) in ARCHITECTURES.items() if only is None or dataset in only)


@dataclass(frozen=True)
class ExperimentSpec:
    """One ensemble experiment (docs/science.md, section 1).

    ``dataset_params`` accepts a dict; it is validated against the dataset's own
    parameters, filled with their defaults and stored as a sorted tuple of pairs so the
    spec stays hashable. Read it back as a dict with :attr:`params`. Every default,
    bound and choice is the field's constraint (``noisealign.engine.pipeline.constraints.FIELDS``).
    """

    # data
    dataset: str = DEFAULT_DATASET
    dataset_params: Any = ()
    task: str = _D["task"]
    n_train: int = _D["n_train"]
    n_probe: int | None = _D["n_probe"]  # None: min(DEFAULT_PROBE, held-out points available)
    # noise
    noise: str = _D["noise"]  # auto: 'target' for regression, 'label' for classification
    snr_db: float = _D["snr_db"]
    label_noise: float = _D["label_noise"]
    label_noise_kind: str = _D["label_noise_kind"]
    # network
    architecture: str = _D["architecture"]  # see ARCHITECTURES
    width: int = _D["width"]
    depth: int = _D["depth"]
    activation: str = _D["activation"]
    bias: bool = _D["bias"]
    # ensemble
    ensemble_size: int = _D["ensemble_size"]
    shared_init: bool = _D["shared_init"]
    init_scale: float = _D["init_scale"]
    # optimisation
    optimizer: str = _D["optimizer"]
    lr: float = _D["lr"]
    max_epochs: int = _D["max_epochs"]
    loss_tol: float = _D["loss_tol"]
    batch_size: int = _D["batch_size"]  # 0 = full batch
    weight_decay: float = _D["weight_decay"]
    lr_schedule: str = _D["lr_schedule"]  # or "cosine", "step" (noisealign.engine.pipeline.train.lr_factor)
    grad_clip: float = _D["grad_clip"]  # > 0: each member's gradient norm clipped to this
    momentum: float = _D["momentum"]  # heavy-ball momentum of optimizer='sgd' (0 = plain SGD)
    # alignment over training time: keep the probe representations at this many
    # log-spaced epochs besides initialisation and the end (0 = off; noisealign.engine.pipeline.epochs)
    snapshots: int = _D["snapshots"]
    # reproducibility and placement
    seed: int = _D["seed"]
    device: str = _D["device"]

    def __post_init__(self) -> None:
        # Validation in the order the pipeline reads the fields; each step also stores
        # the canonical form (equal experiments hash equally).
        name, task = self._validate_data()
        self._validate_noise(name, task)
        self._validate_model(name)
        self._validate_training()

    def _set(self, field: str, value: Any) -> None:
        object.__setattr__(self, field, value)  # a frozen dataclass's own canonical form

    def _validate_data(self) -> tuple[str, str]:
        """Dataset, its parameters, the task and the sample sizes against the pools."""
        set_ = self._set
        name = _check_choice("dataset", self.dataset, tuple(datasets.DATASETS))
        info = datasets.DATASETS[name]
        params = self.dataset_params
        if isinstance(params, (list, tuple)):
            try:
                params = dict(params)
            except (TypeError, ValueError):
                _fail("dataset_params", self.dataset_params, "a mapping of parameter names to values")
        if not isinstance(params, Mapping):
            _fail("dataset_params", self.dataset_params, "a mapping of parameter names to values")
        params = info.validate_params(dict(params))
        set_("dataset_params", tuple(sorted(params.items())))

        task = _check("task", self.task)
        if task == "auto":
            task = info.task
        elif task != info.task:
            _fail("task", task, f"{info.task!r} (or 'auto') for dataset {name!r}")
        set_("task", task)

        train_pool, probe_pool = info.pool_sizes(params)
        set_("n_train", _check("n_train", self.n_train))
        check_within_pool("n_train", self.n_train, train_pool, name, "training")
        if self.n_probe is None:
            set_("n_probe", min(DEFAULT_PROBE, probe_pool))
        set_("n_probe", _check("n_probe", self.n_probe))
        assert self.n_probe is not None  # filled in just above when it was None
        check_within_pool("n_probe", self.n_probe, probe_pool, name, "held-out")
        return name, task

    def _validate_noise(self, name: str, task: str) -> None:
        """The noise kind for the task, and the level that applies to it (the others reset)."""
        set_ = self._set
        noise = _check("noise", self.noise)
        if noise == "auto":
            noise = NATURAL_NOISE[task]
        set_("noise", noise)
        if noise not in TASK_NOISE[task]:
            *first, last = (repr(k) for k in TASK_NOISE[task])
            _fail("noise", noise, f"{', '.join(first)} or {last} for a {task} task "
                  f"(dataset {name!r})")
        snr_db = _check("snr_db", self.snr_db)
        label_noise = _check("label_noise", self.label_noise)
        # Reset the level that does not apply, so equal experiments hash equally.
        set_("snr_db", snr_db if applies("snr_db", noise) else NEUTRAL_LEVEL["snr_db"])
        set_("label_noise", label_noise if applies("label_noise", noise)
             else NEUTRAL_LEVEL["label_noise"])
        kind = _check("label_noise_kind", self.label_noise_kind)
        set_("label_noise_kind", kind if applies("label_noise_kind", noise) and label_noise > 0
             else ADDED_FIELDS["label_noise_kind"])

    def _validate_model(self, name: str) -> None:
        """Architecture (for the dataset), width, depth, activation, ensemble and init."""
        set_ = self._set
        arch = _check("architecture", self.architecture)
        if arch not in architectures_for(name):
            images = ", ".join(repr(d) for d in ARCHITECTURES[arch][1] or ())
            raise SpecError(
                "architecture", arch, " or ".join(repr(a) for a in architectures_for(name)),
                f"architecture={arch!r} is invalid for dataset {name!r}: allowed "
                f"{' or '.join(repr(a) for a in architectures_for(name))} (a {arch} needs an "
                f"image or signal dataset: {images})")
        set_("width", _check("width", self.width))
        set_("depth", _check("depth", self.depth))
        if arch == "cnn":
            set_("depth", 1)  # the CNN's layout is fixed; equal experiments hash equally
        _check("activation", self.activation)
        _check("bias", self.bias)

        set_("ensemble_size", _check("ensemble_size", self.ensemble_size))
        _check("shared_init", self.shared_init)
        set_("init_scale", _check("init_scale", self.init_scale))

    def _validate_training(self) -> None:
        """Optimiser, schedule, stopping, minibatches, snapshots, seed and device."""
        set_ = self._set
        _check("optimizer", self.optimizer)
        set_("lr", _check("lr", self.lr))
        set_("max_epochs", _check("max_epochs", self.max_epochs))
        set_("loss_tol", _check("loss_tol", self.loss_tol))
        _check("lr_schedule", self.lr_schedule)
        set_("grad_clip", _check("grad_clip", self.grad_clip))
        set_("momentum", _check("momentum", self.momentum))
        if self.momentum and self.optimizer != "sgd":
            _fail("momentum", self.momentum, "0 unless optimizer='sgd' (Adam keeps its own "
                  "moment estimates)")
        set_("batch_size", _check("batch_size", self.batch_size))
        if self.batch_size >= self.n_train:
            set_("batch_size", 0)  # a batch as large as the data is full batch
        set_("weight_decay", _check("weight_decay", self.weight_decay))
        # More snapshots than distinct recorded epochs between 0 and max_epochs is the
        # same experiment as that many: stored as such, so equal runs hash equally.
        from .epochs import max_snapshots
        set_("snapshots", min(_check("snapshots", self.snapshots),
                              max_snapshots(self.max_epochs)))
        set_("seed", _check("seed", self.seed))
        _check("device", self.device)

    # ------------------------------------------------------------------ derived values
    @property
    def params(self) -> dict[str, Any]:
        """The dataset parameters as a dict (defaults filled in)."""
        return dict(self.dataset_params)

    @property
    def snr(self) -> float:
        """SNR as a ratio (``inf`` when there is no target/input noise)."""
        return snr_db_to_ratio(self.snr_db)

    def replace(self, **changes: Any) -> "ExperimentSpec":
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["dataset_params"] = dict(self.dataset_params)
        return d

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, ``inf`` written as the string "inf". Fields added
        after the first release are left out while they hold their neutral value
        (``ADDED_FIELDS``), so a spec that does not use them keeps its old JSON, hash and
        cache key."""
        def enc(v: Any) -> Any:
            if isinstance(v, float) and math.isinf(v):
                return "inf" if v > 0 else "-inf"
            if isinstance(v, dict):
                return {k: enc(x) for k, x in v.items()}
            return v
        return json.dumps({k: enc(v) for k, v in self.to_dict().items()
                           if k not in ADDED_FIELDS or v != ADDED_FIELDS[k]},
                          sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ExperimentSpec":
        """Build from a dict (e.g. parsed JSON); unknown keys are an error."""
        if not isinstance(d, Mapping):
            raise ValueError(f"spec must be a mapping of field names to values, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names, key=str)  # key: names need not be str
        if unknown:
            raise ValueError(f"unknown spec field(s) {show(unknown)}: allowed {sorted(names)}")

        def dec(v: Any) -> Any:
            if v == "inf":
                return math.inf
            if v == "-inf":
                return -math.inf
            return v
        return cls(**{k: dec(v) for k, v in d.items()})

    @classmethod
    def from_json(cls, text: str) -> "ExperimentSpec":
        if not isinstance(text, (str, bytes, bytearray)):
            raise ValueError(f"spec JSON must be text, got {type(text).__name__}")
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as e:  # also bad UTF-8, huge ints, deep nesting
            raise ValueError(f"spec JSON could not be parsed: {str(e)[:200]}") from None
        return cls.from_dict(d)

    def content_hash(self) -> str:
        """Stable SHA-256 of the canonical JSON (hex, 64 characters)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    # ------------------------------------------------------------------ model size
    def n_outputs(self) -> int:
        return datasets.DATASETS[self.dataset].n_outputs(self.params)

    def input_dim(self) -> int:
        return datasets.DATASETS[self.dataset].input_dim(self.params)

    def image_shape(self) -> tuple[int, int, int] | None:
        """(channels, height, width) of an image dataset's inputs, else None."""
        return datasets.DATASETS[self.dataset].image_shape

    def n_parameters(self) -> int:
        """Trainable parameters of one member: every weight and bias it stores (what memory
        and time estimates count, noisealign.engine.compute.guard). The interpolation threshold counts
        :meth:`effective_parameters` instead."""
        if self.architecture == "cnn":
            from .cnn_layout import cnn_n_parameters
            shape = self.image_shape()
            assert shape is not None  # a cnn runs only on image datasets (ARCHITECTURES)
            return int(cnn_n_parameters(shape, self.width, self.n_outputs(),
                                        self.bias))
        return int(_mlp_parameters(self.input_dim(), self.width, self.depth, self.n_outputs(),
                                   self.bias))

    def is_linear_map(self) -> bool:
        """Whether every member computes one affine map of its input: an MLP with linear
        activations (the CNN's max pooling is nonlinear whatever its activation)."""
        return self.architecture == "mlp" and self.activation == "linear"

    def effective_parameters(self) -> int:
        """The parameters that count for the interpolation threshold (docs/science.md 1.7).

        The one definition the dashboard (run view, page headers, the plots' dashed line)
        and the findings report share. Why not :meth:`n_parameters`: a network with linear
        activations is one affine map ``x -> A x + b`` however wide or deep it is, so the
        functions it can fit to ``n`` points span ``d * outputs`` slopes plus ``outputs``
        intercepts, not its ``P`` stored weights (a width-50 linear network on d = 50 has
        2,601 weights, but it fits any 51 targets and no more: the threshold sits at
        ``n = d + 1``, where the test error of docs/science.md 3 peaks). The bias is
        counted as :meth:`n_parameters` counts it, once per output and only when
        ``bias`` is set (``n = d`` without one), so the two counts agree on what a bias is
        and differ only in the linear network's redundant weights. (A linear network
        narrower than its outputs has a rank-limited map; the dashboard's classifiers and
        regressions are wider than their outputs, so that corner is not modelled.)
        Every other network (ReLU, tanh, the CNN) counts all its stored parameters.
        """
        if self.is_linear_map():
            return (self.input_dim() + int(self.bias)) * self.n_outputs()
        return self.n_parameters()

    def fitted_values(self) -> int:
        """``n * outputs``: the training values a member must fit (the threshold's other side)."""
        return self.n_train * self.n_outputs()

    def interpolation_ratio(self) -> float:
        """``P / (n * outputs)`` with ``P`` = :meth:`effective_parameters`: 1 at the
        interpolation threshold (docs/science.md 1.7), below 1 the network cannot fit
        every training value (n = 50 on a linear network with d = 50 and a bias:
        51/50 = 1.02, not the 2,601/50 of its stored weights)."""
        return self.effective_parameters() / self.fitted_values()

    def width_for_parameters(self, target: float) -> float | None:
        """The (real-valued) width at which :meth:`n_parameters` reaches ``target``; None
        when even the narrowest network (width -> 0) has that many parameters."""
        if self.architecture == "cnn":
            from .cnn_layout import cnn_n_parameters
            shape = self.image_shape()
            assert shape is not None  # a cnn runs only on image datasets (ARCHITECTURES)
            p = lambda w: cnn_n_parameters(shape, w, self.n_outputs(),  # noqa: E731
                                           self.bias)
            lo, hi = 1e-3, float(2 ** 24)
            if p(lo) >= target:
                return None
            for _ in range(100):  # P grows with width: bisect
                mid = math.sqrt(lo * hi)
                lo, hi = (mid, hi) if p(mid) < target else (lo, mid)
            return hi
        # An MLP's P is a quadratic in the width w (depth L, bias b):
        # (L - 1) w^2 + (d + outputs + L b) w + outputs b.
        d, c, depth, b = self.input_dim(), self.n_outputs(), self.depth, int(self.bias)
        qa, qb, qc = depth - 1, d + c + depth * b, c * b - target
        if qc >= 0:
            return None
        return -qc / qb if qa == 0 else (-qb + math.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)

    def interpolation_threshold(self, axis: str) -> float | None:
        """The value of ``axis`` at which :meth:`interpolation_ratio` is 1: where the network
        can just fit its data (docs/science.md 1.7), for ``axis`` ``"n_train"``,
        ``"width"`` or ``"n_parameters"`` (a plot's x axis). None when ``axis`` does not
        move the threshold: any other field, and the width or the stored-parameter count
        of a linear network, whose threshold ``n = d (+1 with a bias)`` they do not move.
        """
        if axis == "n_train":
            return self.effective_parameters() / self.n_outputs()
        if self.is_linear_map() or axis not in ("width", "n_parameters"):
            return None
        if axis == "width":
            return self.width_for_parameters(self.fitted_values())
        return float(self.fitted_values())

    # ------------------------------------------------------------------ noise levels
    @property
    def level_field(self) -> str | None:
        """The field holding this spec's noise level (:func:`level_field`), or None."""
        return level_field(self.noise)

    @property
    def noise_level(self) -> float | None:
        """The level of this spec's noise kind (``snr_db`` or ``label_noise``), or None
        without noise."""
        name = self.level_field
        return None if name is None else getattr(self, name)

    def applies(self, field: str) -> bool:
        """Whether ``field`` means something under this spec's noise kind (:func:`applies`)."""
        return applies(field, self.noise)

SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ExperimentSpec))
