"""Your own architecture under the project's noise protocol.

``train_ensemble(factory, spec, name="my-resnet")`` trains ``spec.ensemble_size``
members, each ``factory()`` (a ``Callable[[], torch.nn.Module]``), on the spec's dataset
with its noise process, seeds, optimiser and stopping rule -- the pipeline of
:func:`engine.run_experiment` with the user's module in place of the built-in MLP/CNN --
and returns a :class:`noisealign.engine.pipeline.result.Result` whose measures (CKA, II, mutual k-NN, ...) are
those of every other run.

Members are batched with ``torch.func``: their parameters are stacked
(``stack_module_state``) and one ``functional_call`` of the module is ``vmap``-ped over
them. A module ``vmap`` cannot run (data-dependent control flow, ``.item()``, random
layers such as dropout) is trained member by member instead, with the same stacked
parameters and optimiser; both give each member exactly what training it alone gives
(tested in float64).

What the spec means here: dataset, n_train / n_probe, noise, ensemble_size, seed,
shared_init, optimiser fields, max_epochs, loss_tol, batch_size, snapshots and device
apply; ``architecture``, ``width``, ``depth``, ``activation``, ``bias`` and
``init_scale`` describe the built-in models and do not apply (the factory decides).
Member ``m`` is built under ``torch.manual_seed(member_init_seed(spec.seed, m))``, so its
initial weights do not depend on the ensemble size. Inputs reach the module as the
dataset's natural shape: (n, C, H, W) for an image dataset, (n, d) otherwise; its output
must be (n, outputs) ((n,) is taken as one output).

Results are cached under a key of their own (:func:`own_model_key`: the name, the
module's structure, the captured layers and the spec) -- never a built-in model's key --
and are marked with the model's name in the cache's entries (the Runs page's ``model``
column). Change the name when you change what ``factory`` builds in a way its ``repr``
does not show.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..base.validation import check_choice, show
from ..pipeline.spec import ExperimentSpec
from .activations import POOLS, reduce_activation

# How the members are batched: "auto" (vmap, falling back to members on the first
# forward pass vmap cannot run), "vmap" or "members" (a Python loop over members).
BATCHINGS = ("auto", "vmap", "members")
KEY_KIND = "own-model/1"  # the key kind of an own architecture's cache entries
MAX_NAME = 80
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def check_name(name: Any) -> str:
    """A model name: 1 to 80 letters, digits, ``.``, ``_``, ``+``, ``-`` (ValueError)."""
    if not isinstance(name, str) or len(name) > MAX_NAME or not _NAME.fullmatch(name):
        raise ValueError(f"name={show(name)} is invalid: allowed 1 to {MAX_NAME} letters, "
                         "digits, '.', '_', '+' or '-', starting with a letter or digit")
    return name


def _build_member(factory: Callable[[], torch.nn.Module], init_seed: int) -> torch.nn.Module:
    """``factory()`` under its own seed, leaving the caller's global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        module = factory()
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"factory() returned a {type(module).__name__}: allowed a "  # noqa: TRY004
                         "torch.nn.Module")
    return module


def default_layers(module: torch.nn.Module) -> list[str]:
    """The layers kept when none are named: every direct child but the last (the
    output layer, which the result holds anyway)."""
    names = [n for n, _ in module.named_children()]
    return names[:-1]


def structure(module: torch.nn.Module) -> str:
    """What identifies an architecture in the cache key: its ``repr`` (classes and their
    settings) and every parameter's and buffer's name, shape and dtype."""
    shapes = [(n, list(t.shape), str(t.dtype)) for n, t in
              [*module.named_parameters(), *module.named_buffers()]]
    return repr(module) + "\n" + json.dumps(shapes)


def own_model_key(name: str, spec: ExperimentSpec, *, signature: str = "") -> str:
    """The cache key of an own architecture's run: SHA-256 of the key kind, the name,
    ``signature`` (structure, layers, pool, dtype) and the spec with the engine version.
    A key kind of its own: it never equals a built-in run's :func:`noisealign.engine.store.cache.spec_key`."""
    from noisealign import engine

    from ..store.cache import ENTRY_FORMAT
    text = (f"kind={KEY_KIND}\nname={check_name(name)}\nsignature={signature}\n"
            f"{spec.to_json()}\nengine={engine.__version__}\nformat={ENTRY_FORMAT}")
    return hashlib.sha256(text.encode()).hexdigest()


class FactoryEnsemble(torch.nn.Module):
    """K members of one user module as stacked parameters (the interface noisealign.engine.pipeline.train
    trains: ``weights``, ``biases``, ``group_params``, ``forward(x, params=)``).

    ``weights[i]`` is parameter ``names[i]`` of all members, (K, *shape); ``biases`` is
    empty (the user's biases are among the parameters). ``forward`` returns
    (output (M, n, outputs), [each captured layer (M, n, D)]).
    """

    GROUPED_ON_CPU = False  # noisealign.engine.pipeline.train: all members in every pass

    def __init__(self, members: Sequence[torch.nn.Module], *, layers: Sequence[str] | None,
                 pool: str = "flatten", input_shape: tuple[int, ...] | None = None,
                 batching: str = "auto", dtype: torch.dtype | None = None) -> None:
        super().__init__()
        from torch.func import stack_module_state
        self.batching = check_choice("batching", batching, BATCHINGS)
        self.pool = check_choice("pool", pool, POOLS)
        members = [m.to(dtype) if dtype is not None else m for m in members]
        shapes = [[(n, tuple(p.shape)) for n, p in m.named_parameters()] for m in members]
        if any(s != shapes[0] for s in shapes):
            raise ValueError("factory() built members with different parameters: allowed a "
                             "factory that builds the same architecture every call")
        if not shapes[0]:
            raise ValueError("factory() built a module without parameters: nothing to train")
        template = members[0]
        modules = dict(template.named_modules())
        self.layers = list(default_layers(template) if layers is None else layers)
        for name in self.layers:
            if name not in modules or not name:
                raise ValueError(f"layers contains {show(name)}, which is not a module of "
                                 "the model: allowed names from model.named_modules(), e.g. "
                                 f"{', '.join(n for n in modules if n)[:200]}")
        params, buffers = stack_module_state(list(members))
        self.names = list(params)
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(params[n].detach().clone()) for n in self.names])
        self.biases = torch.nn.ParameterList([])
        self.buffer_names = list(buffers)
        for i, n in enumerate(self.buffer_names):
            self.register_buffer(f"stacked_buffer_{i}", buffers[n].detach().clone())
        self.input_shape = None if input_shape is None else tuple(int(v) for v in input_shape)
        self.n_parameters = int(sum(p.numel() for p in template.parameters()))
        # The module whose forward runs on the stacked tensors: kept outside the module
        # tree (its own tensors are never used, and .to() must not copy them).
        skeleton = copy.deepcopy(template).to("meta")
        self._skeleton = [skeleton]
        self._captured: dict[str, torch.Tensor] = {}
        named = dict(skeleton.named_modules())
        for name in self.layers:
            named[name].register_forward_hook(self._hook(name))

    def _hook(self, name: str) -> Callable:
        def hook(module: Any, args: Any, output: Any) -> None:
            out = output
            while isinstance(out, (tuple, list)) and out:
                out = out[0]
            if not isinstance(out, torch.Tensor):
                raise ValueError(f"layer {name!r} returned a {type(output).__name__}: "  # noqa: TRY004
                                 "allowed a tensor (or a tuple starting with one)")
            self._captured[name] = reduce_activation(out, self.pool)
        return hook

    def train(self, mode: bool = True) -> FactoryEnsemble:
        super().train(mode)
        self._skeleton[0].train(mode)  # not a submodule: its mode follows by hand
        return self

    @property
    def n_members(self) -> int:
        return int(self.weights[0].shape[0])

    def floats_per_point(self) -> int:
        return 1  # only used for CPU member groups, which this model does not use

    def group_params(self, members: slice) -> list[torch.Tensor]:
        return [w[members] for w in self.weights]

    def _buffers_of(self, members: slice) -> list[torch.Tensor]:
        return [getattr(self, f"stacked_buffer_{i}")[members]
                for i in range(len(self.buffer_names))]

    def _one(self, params: Sequence[torch.Tensor], buffers: Sequence[torch.Tensor],
             x: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One member's forward pass: (output (n, outputs), captured layers)."""
        from torch.func import functional_call
        self._captured = {}
        state = {**dict(zip(self.names, params)), **dict(zip(self.buffer_names, buffers))}
        if self.input_shape is not None:
            x = x.reshape(x.shape[0], *self.input_shape)
        out = functional_call(self._skeleton[0], state, (x,))
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"the module returned a {type(out).__name__}: allowed a tensor "  # noqa: TRY004
                             "(n, outputs)")
        out = out.reshape(out.shape[0], -1) if out.dim() != 2 else out
        missing = [n for n in self.layers if n not in self._captured]
        if missing:
            raise ValueError(f"layers {show(missing)} were not called in the forward pass: "
                             "allowed modules the model's forward uses")
        return out, tuple(self._captured[n] for n in self.layers)

    def forward(self, x: torch.Tensor, members: slice = slice(None),
                params: list[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: (n, d) shared or (M, n, d) per member -> (output (M, n, outputs), layers)."""
        params = self.group_params(members) if params is None else params
        buffers = self._buffers_of(members)
        if self.batching in ("auto", "vmap"):
            from torch.func import vmap
            try:
                out, hidden = vmap(self._one, in_dims=(0, 0, 0 if x.dim() == 3 else None))(
                    params, buffers, x)
                return out, list(hidden)
            except ValueError:
                raise  # the module's own output is wrong: not vmap's limitation
            except Exception:
                if self.batching == "vmap":
                    raise
                # vmap cannot run this module: member by member from now on (the same
                # parameters, the same arithmetic per member).
                self.batching = "members"
        outs, hiddens = [], []
        for j in range(params[0].shape[0]):
            out, hidden = self._one([p[j] for p in params], [b[j] for b in buffers],
                                    x[j] if x.dim() == 3 else x)
            outs.append(out)
            hiddens.append(hidden)
        return torch.stack(outs), [torch.stack(h) for h in zip(*hiddens)]


def own_model_cache(cache: Any, name: str, spec: ExperimentSpec, signature: str) -> Any:
    """A view of ``cache`` (a ResultCache) whose key of ``spec`` is the own model's key
    and whose entries carry ``model: {"name", "kind"}``: the same directory, database and
    locks as ``cache``."""
    from ..store.cache import ResultCache

    key = own_model_key(name, spec, signature=signature)
    info = {"name": name, "kind": KEY_KIND}

    class _OwnModelCache(ResultCache):
        def key(self, s: ExperimentSpec) -> str:
            if s.to_json() != spec.to_json():
                raise ValueError("this view stores only the spec it was made for")
            return key

        def _entry_extra(self) -> dict:
            return {"model": dict(info)}

    return _OwnModelCache(cache.directory, size_limit=cache.size_limit,
                          store_representations=cache.store_representations,
                          max_representation_bytes=cache.max_representation_bytes,
                          summarise=cache.summarise)


def train_ensemble(factory: Callable[[], torch.nn.Module], spec: ExperimentSpec, *,
                   name: str, layers: Sequence[str] | None = None, pool: str = "flatten",
                   cache: Any = None, batching: str = "auto",
                   dtype: torch.dtype | None = None, members: Sequence[int] | None = None,
                   progress: Callable | None = None, cancel: Callable[[], bool] | None = None
                   ) -> Any:
    """Train an ensemble of ``factory()`` modules under ``spec``'s noise protocol.

    Parameters
    ----------
    factory : Callable[[], torch.nn.Module]
        Builds one member (called once per member, under the member's seed).
    spec : ExperimentSpec
        Dataset, noise, ensemble size, seeds, optimiser and stopping rule (see the
        module docstring for the fields that do not apply).
    name : str
        The model's name in the cache and the Runs page (1 to 80 of ``A-Za-z0-9._+-``).
    layers : sequence of str or None
        Module names whose outputs are the result's ``hidden`` layers (the last one is
        what the measures use by default); None: every direct child but the last.
    pool : {"flatten", "avg", "max"}
        How N-D layer outputs become (N, D) (:func:`noisealign.engine.own_models.activations.reduce_activation`).
    cache : ResultCache, path, None or False
        Where results are cached: a ResultCache, a directory, None for the default
        cache, False for none.
    batching : {"auto", "vmap", "members"}
        ``torch.func.vmap`` over the stacked members, a loop over members, or vmap with
        the loop as fallback.
    dtype : torch.dtype or None
        The members' and the data's floating dtype (default float32).
    members : sequence of int or None
        Train only these member indices, each exactly as in the full ensemble (not
        cached).
    progress, cancel
        As :func:`engine.run_experiment`.

    Returns
    -------
    noisealign.engine.pipeline.result.Result
        ``n_parameters`` is one member's parameter count.

    Raises
    ------
    ValueError
        A bad name, factory, layer, pool, batching or spec.
    """
    from ..base.cancel import cancel_scope
    from ..pipeline.run import _run
    from ..store.cache import ResultCache

    _check_train_args(factory, spec, name, pool, batching, dtype)
    probe = _build_member(factory, 0)
    layer_names = list(default_layers(probe) if layers is None else layers)
    signature = json.dumps({"structure": structure(probe.to(dtype) if dtype else probe),
                            "layers": layer_names, "pool": pool,
                            "dtype": str(dtype or torch.float32)})
    image_shape = spec.image_shape()

    def build(s: ExperimentSpec, input_dim: int, init_seeds: list[int]) -> torch.nn.Module:
        modules = [_build_member(factory, seed) for seed in init_seeds]
        return FactoryEnsemble(modules, layers=layer_names, pool=pool,
                               input_shape=image_shape, batching=batching, dtype=dtype)

    def compute() -> Any:
        with cancel_scope(cancel):
            return _run(spec, progress, cancel, members, build=build, dtype=dtype,
                        n_parameters=sum(p.numel() for p in probe.parameters()))

    if cache is False or members is not None:
        return compute()
    base = cache if isinstance(cache, ResultCache) else ResultCache(cache)
    return _cached(own_model_cache(base, name, spec, signature), spec, compute, cancel)


def _check_train_args(factory: Any, spec: Any, name: Any, pool: Any, batching: Any,
                      dtype: Any) -> None:
    """Refuse :func:`train_ensemble`'s arguments before anything is built (ValueError)."""
    if not isinstance(spec, ExperimentSpec):
        raise ValueError(f"spec must be an ExperimentSpec, got {type(spec).__name__}")  # noqa: TRY004
    if not callable(factory):
        raise ValueError(f"factory={show(factory)} is invalid: allowed a callable returning "  # noqa: TRY004
                         "a torch.nn.Module")
    check_name(name)
    check_choice("pool", pool, POOLS)
    check_choice("batching", batching, BATCHINGS)
    if dtype is not None and (not isinstance(dtype, torch.dtype) or not dtype.is_floating_point):
        raise ValueError(f"dtype={show(dtype)} is invalid: allowed a floating torch dtype "
                         "such as torch.float32 or torch.float64")


def _cached(view: Any, spec: ExperimentSpec, compute: Callable[[], Any],
            cancel: Callable[[], bool] | None) -> Any:
    """The result of ``spec`` from the cache ``view``, else ``compute()`` stored there
    (under the spec's lock: one process computes it)."""
    result = view.get(spec)
    if result is not None:
        return result
    with view.lock(spec, cancel=cancel):
        result = view.get(spec)
        if result is None:
            result = compute()
            view.put(spec, result)
    return result


__all__ = [
    "BATCHINGS",
    "KEY_KIND",
    "FactoryEnsemble",
    "check_name",
    "default_layers",
    "own_model_key",
    "structure",
    "train_ensemble",
]
