"""The pipeline of one experiment, in the order data flows:

- ``spec``: :class:`ExperimentSpec`, everything that determines a result, validated up front.
- ``datasets``: the registry of datasets and the clean base sample of a spec.
- ``dataset_files``: MNIST, Fashion-MNIST and CIFAR-10 from their standard files.
- ``noise``: each member's own independent corruption (target, input or label noise).
- ``cnn_layout`` and ``model``: K independent networks stored as one batched model.
- ``epochs``: when curves and probe-set snapshots are recorded.
- ``optim``: Adam and SGD as torch's fused optimisers compute them, without torch.optim's
  start-up cost.
- ``train``: training the batched ensemble (per-member losses, stopping, schedules).
- ``run``: :func:`run_experiment`, spec -> data -> noise -> model -> training -> :class:`Result`.
- ``result``: :class:`Result` and its pickle-free serialisation.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "ExperimentSpec": "spec", "snr_db_to_ratio": "spec", "snr_ratio_to_db": "spec",
    "load_data": "datasets", "make_noisy": "noise", "build_model": "model",
    "run_experiment": "run", "Result": "result",
})
