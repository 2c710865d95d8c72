"""Your own models and representations, under this project's measures and noise protocol.

- ``pairs``: :func:`compare`, every measure between every pair of your arrays.
- ``inputs``: :func:`load_arrays` and :func:`validate`, the arrays :func:`compare` takes,
  checked against :class:`Limits`.
- ``arrays``: representation files read header-first (``.npz``, a folder of ``.npy``,
  ``.safetensors``; nothing is unpickled), every header checked before data is read.
- ``activations``: :func:`capture`, a PyTorch model's activations by forward hooks, in the
  form :func:`compare` takes.
- ``architectures``: :func:`train_ensemble`, your own module factory trained as an
  ensemble under the project's datasets, noise, seeds and measures, cached under its name.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "compare": "pairs", "load_arrays": "inputs", "capture": "activations",
    "train_ensemble": "architectures", "FactoryEnsemble": "architectures",
})
