"""Capture a PyTorch model's activations for :func:`noisealign.engine.own_models.pairs`.

``capture(model, inputs, layers=["layer1", "fc"])`` registers a forward hook on each named
submodule (the names of ``model.named_modules()``), runs the inputs through the model in
batches on the model's own device, and returns ``{name: (N, D) float32 array}`` -- the
dict :func:`noisealign.engine.own_models.pairs` takes. Activations with more than one feature axis (a
convolution's (N, C, H, W)) are flattened, or pooled over their spatial axes with
``pool="avg"`` / ``pool="max"`` to (N, C).

Nothing is downloaded or unpickled here; the model is the caller's object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..base.validation import check_choice, check_int, show
from .capture_limits import check_capture_memory

# How N-D activations become (N, D) rows: flatten every feature axis, or pool the axes
# after the channel axis (average or maximum), leaving (N, channels).
POOLS = ("flatten", "avg", "max")
DEFAULT_BATCH_SIZE = 256
MAX_BATCH_SIZE = 10**6


def reduce_activation(t: Any, pool: str = "flatten") -> Any:
    """A batch of activations (n, ...) -> (n, D) by ``pool`` (one of :data:`POOLS`).

    (n,) becomes (n, 1); (n, D) is kept; (n, C, ...) is flattened to (n, C * ...) or
    pooled over the axes after C to (n, C). Works on torch tensors (also inside
    ``torch.func.vmap``, which the own-architecture ensembles use).
    """
    if t.dim() == 1:
        return t.reshape(-1, 1)
    if t.dim() == 2 or pool == "flatten":
        return t.flatten(1)
    dims = tuple(range(2, t.dim()))
    return t.mean(dim=dims) if pool == "avg" else t.amax(dim=dims)


def _batches(inputs: Any, batch_size: int) -> Iterable[Any]:
    """Batches of ``inputs``: a tensor or array (split along axis 0) or an iterable of
    batches (a DataLoader: a tensor, or a tuple/list whose first item is the input)."""
    import torch

    if isinstance(inputs, np.ndarray):
        if inputs.dtype == object:
            raise ValueError("inputs is an object array: allowed a numeric array, a tensor "
                             "or a DataLoader")
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    if isinstance(inputs, torch.Tensor):
        if inputs.dim() == 0 or inputs.shape[0] == 0:
            raise ValueError(f"inputs has shape {tuple(inputs.shape)}: allowed at least one "
                             "row (N >= 1 along axis 0)")
        for start in range(0, inputs.shape[0], batch_size):
            yield inputs[start:start + batch_size]
        return
    if isinstance(inputs, (str, bytes, Mapping)) or not hasattr(inputs, "__iter__"):
        raise ValueError(f"inputs is a {type(inputs).__name__}: allowed a torch tensor, a "
                         "numpy array or a DataLoader (an iterable of batches)")
    for batch in inputs:
        if isinstance(batch, (tuple, list)):
            if not batch:
                raise ValueError("inputs yielded an empty batch: allowed a tensor or a "
                                 "(inputs, targets) tuple per batch")
            batch = batch[0]  # (inputs, labels) as a DataLoader over a TensorDataset gives
        if isinstance(batch, np.ndarray):
            batch = torch.from_numpy(np.ascontiguousarray(batch))
        if not isinstance(batch, torch.Tensor):
            raise ValueError(f"inputs yielded a {type(batch).__name__}: allowed tensors or "  # noqa: TRY004
                             "(tensor, ...) tuples")
        yield batch


def _model_device(model: Any) -> Any:
    import torch
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _row_values(t: Any, pool: str) -> int:
    """Values a row of ``t`` keeps after :func:`reduce_activation` by ``pool``."""
    if t.dim() <= 1:
        return 1
    return int(t.shape[1]) if t.dim() > 2 and pool != "flatten" else int(t[0].numel())


def _model_dtype(model: Any) -> Any:
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return None


def capture(model: Any, inputs: Any, layers: Sequence[str] | str | None = None, *,
            batch_size: int = DEFAULT_BATCH_SIZE, pool: str = "flatten",
            prefix: str = "") -> dict[str, np.ndarray]:
    """Activations of named submodules of ``model`` on ``inputs``, ready for ``compare``.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; it is put in eval mode for the capture (and back to its previous
        mode afterwards) and run under ``torch.no_grad()`` on the device of its
        parameters.
    inputs : torch.Tensor, numpy.ndarray or iterable of batches
        N inputs along axis 0, or a DataLoader (each batch a tensor, or a tuple whose
        first item is the inputs). Inputs are moved to the model's device (and to its
        floating dtype when they are floating point).
    layers : sequence of str, str or None
        Names from ``model.named_modules()`` whose outputs to keep; ``None``: every
        direct child (``model.named_children()``). A module returning a tuple
        contributes its first tensor.
    batch_size : int
        Rows per forward pass when ``inputs`` is a tensor or an array (1 to 10^6).
    pool : {"flatten", "avg", "max"}
        How an activation with more than one feature axis becomes (N, D): flattened, or
        averaged / maximised over the axes after the channel axis.
    prefix : str
        Prepended to every name, e.g. ``"resnet/"`` to name arrays ``model/layer`` as
        :func:`noisealign.engine.own_models.pairs` groups them.

    Returns
    -------
    dict of str to numpy.ndarray
        ``prefix + layer`` -> (N, D) float32 array, in the order of ``layers``.

    Raises
    ------
    ValueError
        A layer name the model does not have (the message lists some it has), bad
        ``pool`` / ``batch_size`` / ``inputs``, or a layer that produced no tensor.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model is a {type(model).__name__}: allowed a torch.nn.Module")  # noqa: TRY004
    pool = check_choice("pool", pool, POOLS)
    batch_size = check_int("batch_size", batch_size, 1, MAX_BATCH_SIZE)
    if not isinstance(prefix, str):
        raise ValueError(f"prefix={show(prefix)} is invalid: allowed a string")  # noqa: TRY004
    modules = dict(model.named_modules())
    layers = _chosen_layers(model, modules, layers)

    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    current: dict[str, Any] = {}
    handles = [modules[name].register_forward_hook(_output_keeper(name, current))
               for name in layers]
    modes = [(m, m.training) for m in model.modules()]  # given back module by module
    model.eval()
    try:
        with torch.no_grad():
            n_rows = _forward_batches(model, inputs, batch_size, pool, layers, current, parts)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes:
            m.training = mode
    if n_rows == 0:
        raise ValueError("inputs held no rows: allowed at least one input")
    return {prefix + name: np.concatenate(parts[name]) for name in layers}


def _chosen_layers(model: Any, modules: Mapping[str, Any],
                   layers: Sequence[str] | str | None) -> list[str]:
    """``capture``'s ``layers`` as a list of distinct module names of ``model``."""
    if layers is None:
        layers = [name for name, _ in model.named_children()]
        if not layers:
            raise ValueError("model has no submodules: pass layers=[...] with names from "
                             "model.named_modules()")
    elif isinstance(layers, str):
        layers = [layers]
    layers = list(layers)
    if not layers:
        raise ValueError("layers=[] is invalid: allowed one or more module names")
    for name in layers:
        if not isinstance(name, str) or name not in modules:
            known = [n for n in modules if n][:12]
            raise ValueError(f"layers contains {show(name)}, which is not a module of the "
                             f"model: allowed names from model.named_modules(), e.g. "
                             f"{', '.join(known)}")
    if len(set(layers)) != len(layers):
        raise ValueError(f"layers={show(layers)} names a module twice: allowed each once")
    return layers


def _output_keeper(name: str, current: dict[str, Any]) -> Callable[[Any, Any, Any], None]:
    """A forward hook keeping the output of layer ``name`` (its first tensor) in
    ``current[name]``."""
    import torch

    def hook(module: Any, args: Any, output: Any) -> None:
        out = output
        while isinstance(out, (tuple, list)) and out:
            out = out[0]
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"layer {name!r} returned a {type(output).__name__}: "  # noqa: TRY004
                             "allowed a tensor (or a tuple starting with one)")
        current[name] = out
    return hook


def _forward_batches(model: Any, inputs: Any, batch_size: int, pool: str,
                     layers: list[str], current: dict[str, Any],
                     parts: dict[str, list[np.ndarray]]) -> int:
    """Run every batch through ``model`` (its hooks fill ``current``), appending each
    layer's reduced activations to ``parts``; the number of rows run."""
    import torch

    device, dtype = _model_device(model), _model_dtype(model)
    n_rows = 0
    for batch in _batches(inputs, batch_size):
        batch = batch.to(device)
        if dtype is not None and batch.is_floating_point():
            batch = batch.to(dtype)
        current.clear()
        model(batch)
        for name in layers:
            if name not in current:
                raise ValueError(f"layer {name!r} was not called in the forward "
                                 "pass: allowed modules the model's forward uses")
        check_capture_memory(  # before copying: a huge layer is refused, not OOM-killed
            {k: _row_values(current[k], pool) for k in layers}, n_rows,
            batch.shape[0], getattr(inputs, "shape", (None,))[0])
        for name in layers:
            act = current[name]
            if act.shape[0] != batch.shape[0]:
                raise ValueError(f"layer {name!r} gave {act.shape[0]} rows for a "
                                 f"batch of {batch.shape[0]}: allowed modules whose "
                                 "output keeps the batch axis first")
            parts[name].append(reduce_activation(act.detach(), pool)
                               .to("cpu", torch.float32).numpy())
        n_rows += batch.shape[0]
    return n_rows
