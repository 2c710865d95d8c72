"""One-click presets: the settings of every figure of the findings report (docs/findings.md).

Data only (no imports of the engine, no streamlit): ``PRESETS`` maps a preset name to a
dict with

- ``title``: short label for a button or a menu;
- ``claim``: the claim of the papers the figure tests (in words; the report gives the
  verdict);
- ``page``: the dashboard page that shows it: ``"alignment"``, ``"information"`` or
  ``"theory"``;
- ``spec``: the base :class:`noisealign.engine.pipeline.spec.ExperimentSpec` fields (anything left out takes
  the spec's default);
- ``axes``: the swept field -> its values (one axis; names as in :class:`noisealign.engine.compute.sweep.Sweep`);
- ``series``: optional second axis, field -> values (one curve per value), or None;
- ``measure``: the quantity on the figure's y axis, a key of :data:`MEASURE_HELP`
  (which says where it is in :func:`noisealign.engine.measures.summaries.summarise`'s output);
- ``replicates``: data seeds per grid point (each redraws the data, noise and
  initialisations; the report's error bars are across these seeds).

``Sweep(ExperimentSpec(**p["spec"]), {**p["axes"], **(p["series"] or {})},
replicates=p["replicates"])`` is the exact sweep the report ran, so a preset opened in the dashboard reuses the report's
cached results. `python -m experiments.findings` builds its full run from this dict.
"""

from __future__ import annotations

from typing import Any

# ----------------------------------------------------------------------------- settings
# Shared blocks, copied into each preset (each preset stays a complete, plain dict).

# The linear model of docs/science.md 3: one hidden linear layer, no biases, gradient descent
# from a small initialisation (so the end-to-end map is close to the minimum-norm
# least-squares solution the theory assumes).
_LINEAR: dict[str, Any] = {
    "dataset": "linear-teacher", "dataset_params": {"d": 50}, "n_probe": 500,
    "noise": "target", "snr_db": 10.0, "width": 50, "depth": 1, "activation": "linear",
    "bias": False, "ensemble_size": 4, "init_scale": 0.01, "optimizer": "sgd", "lr": 0.1,
    "max_epochs": 5000, "loss_tol": 1e-6, "seed": 0,
}

# A ReLU student on a random tanh teacher (regression), small initialisation so the
# hidden layer is learned (feature learning) rather than left near its random start.
_MLP: dict[str, Any] = {
    "dataset": "mlp-teacher", "dataset_params": {"d": 20, "teacher_width": 32},
    "n_train": 200, "n_probe": 500, "noise": "target", "snr_db": 10.0, "width": 64,
    "depth": 1, "activation": "relu", "ensemble_size": 4, "init_scale": 0.1,
    "optimizer": "adam", "lr": 3e-3, "max_epochs": 6000, "loss_tol": 1e-5, "seed": 0,
}

# A ReLU classifier on scikit-learn's digits with label noise, trained to (near) zero
# training loss with full-batch Adam.
_DIGITS: dict[str, Any] = {
    "dataset": "digits", "n_train": 500, "n_probe": 360, "noise": "label",
    "label_noise": 0.2, "width": 64, "depth": 1, "activation": "relu",
    "ensemble_size": 4, "init_scale": 1.0, "optimizer": "adam", "lr": 1e-3,
    "max_epochs": 3000, "loss_tol": 1e-3, "seed": 0,
}

# The label-noise test of the information-content claims: a fully connected ReLU net on
# MNIST-1D (generated locally, so always available), n = 4000 training points and 2000
# probe points, minibatch SGD with momentum and a cosine schedule. Two members per point
# (the claims are about each network's own hidden layer, not about pairs); the error bars
# come from the data seeds.
_MNIST1D: dict[str, Any] = {
    "dataset": "mnist1d", "dataset_params": {"n_samples": 10000}, "n_train": 4000,
    "n_probe": 2000, "noise": "label", "label_noise": 0.0, "width": 256, "depth": 1,
    "activation": "relu", "ensemble_size": 2, "init_scale": 1.0, "optimizer": "sgd",
    "momentum": 0.9, "lr": 0.05, "batch_size": 128, "lr_schedule": "cosine",
    "max_epochs": 120, "loss_tol": 1e-3, "seed": 0,
}

REPLICATES = 3  # data seeds per grid point in every figure of the report

SNR_DB = [-10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0]
# Near the threshold the finite-d theory predicts that alignment can rise as SNR falls.
THRESHOLD_SNR_DB = [-10.0, 0.0, 10.0, 20.0, 30.0]
LINEAR_N = [10, 20, 30, 40, 45, 50, 55, 60, 80, 100, 150, 300]
MLP_N = [50, 100, 200, 300, 350, 400, 500, 700, 1000, 2000]
# MNIST-1D, one hidden layer: P = 51 w + 10, so P = n at w = 78 and P = n x classes at
# w = 784; the widths run from 3x the number of classes to 2.6x past the second.
MNIST1D_WIDTHS = [32, 64, 128, 256, 512, 1024, 2048]
MNIST1D_NOISE = [0.0, 0.1, 0.2, 0.4]

PAGES = ("alignment", "information", "theory")

# measure name -> (where it is in a summary, what it means)
MEASURE_HELP: dict[str, tuple[str, str]] = {
    "cka": ('summary["measures"]["cka"]["mean"]',
            "linear CKA between members (mean over pairs), last hidden layer"),
    "ii_score": ('summary["measures"]["ii_score"]["mean"]',
                 "II alignment score 1 - (Delta(a->b) + Delta(b->a))/2 (mean over pairs)"),
    "test_error": ('summary["test_error"]["mean"]',
                   "test error on the probe set against clean targets (mean over members)"),
    "ii_h_to_y": ('summary["information_content"]["trained"]["ii_h_to_y_mean"]',
                  "Delta(h -> y_clean), lower = more informative; the untrained value is "
                  'under ["information_content"]["init"]'),
    "ii_pen_to_out": ('summary["information_content"]["trained"]["ii_pen_to_out_mean"]',
                      "Delta(penultimate -> pre-softmax output)"),
}

_CLAIM1 = "1. Alignment rises monotonically with SNR at fixed sample size"
_CLAIM2 = ("2. Alignment versus sample size is non-monotone with a minimum near the "
           "interpolation threshold")
_CLAIM4 = ("4. Delta(h -> y_clean) follows a double descent in the number of parameters like "
           "the test error; noisy labels are more informative than clean below the threshold "
           "and equally informative above.")

PRESETS: dict[str, dict[str, Any]] = {
    "linear_snr": {
        "title": "Linear network: alignment vs SNR",
        "claim": _CLAIM1 + " (linear network, below and above the threshold n = d).",
        "page": "theory",
        "spec": dict(_LINEAR, n_train=100),
        "axes": {"snr_db": SNR_DB},
        "series": {"n_train": [25, 100]},
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "linear_snr_threshold": {
        "title": "Linear network: alignment vs SNR next to n = d",
        "claim": _CLAIM1 + " (linear network within 3 points of the threshold n = d, where "
                 "the finite-d theory predicts it can fail).",
        "page": "theory",
        "spec": dict(_LINEAR, n_train=50, max_epochs=10000),
        "axes": {"snr_db": THRESHOLD_SNR_DB},
        "series": {"n_train": [47, 50, 53]},
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "mlp_snr": {
        "title": "ReLU MLP regression: alignment vs SNR",
        "claim": _CLAIM1 + " (nonlinear regression on a random tanh teacher).",
        "page": "alignment",
        "spec": dict(_MLP),
        "axes": {"snr_db": SNR_DB},
        "series": {"init_scale": [0.1, 1.0]},
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "digits_label_noise": {
        "title": "Digits classifier: alignment vs label noise",
        "claim": _CLAIM1 + " (here: falls with the label-noise rate) for a classifier on a "
                 "real dataset.",
        "page": "alignment",
        "spec": dict(_DIGITS),
        "axes": {"label_noise": [0.0, 0.1, 0.2, 0.4, 0.6, 0.8]},
        "series": None,
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "linear_n": {
        "title": "Linear network: alignment and test error vs n",
        "claim": _CLAIM2 + " n = d, where the test error peaks.",
        "page": "theory",
        "spec": dict(_LINEAR),
        "axes": {"n_train": LINEAR_N},
        "series": {"snr_db": [10.0, 20.0]},
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "mlp_n": {
        "title": "ReLU MLP regression: alignment and test error vs n",
        "claim": _CLAIM2 + " P = n (width 16: P = 353).",
        "page": "alignment",
        "spec": dict(_MLP, width=16),
        "axes": {"n_train": MLP_N},
        "series": {"snr_db": [10.0, 20.0]},
        "measure": "cka",
        "replicates": REPLICATES,
    },
    "alignment_vs_error": {
        "title": "Alignment vs test error (MLP, varying n)",
        "claim": "3. Stronger alignment does not imply lower test error.",
        "page": "alignment",
        "spec": dict(_MLP, width=16),
        "axes": {"n_train": MLP_N},
        "series": {"snr_db": [10.0, 20.0]},
        "measure": "test_error",
        "replicates": REPLICATES,
    },
    "label_noise_width": {
        "title": "MNIST-1D: information content and test error vs width, by label noise",
        "claim": _CLAIM4,
        "page": "information",
        "spec": dict(_MNIST1D),
        "axes": {"width": MNIST1D_WIDTHS},
        "series": {"label_noise": MNIST1D_NOISE},
        "measure": "ii_h_to_y",
        "replicates": REPLICATES,
    },
    "label_noise_width_adam": {
        "title": "MNIST-1D with Adam: information content vs width (robustness)",
        "claim": _CLAIM4 + " Robustness check of claims 4-6: the same set-up trained with "
                 "Adam (random labels: label noise 1).",
        "page": "information",
        "spec": dict(_MNIST1D, optimizer="adam", momentum=0.0, lr=1e-3),
        "axes": {"width": [64, 512, 2048]},
        "series": {"label_noise": [0.0, 0.2, 1.0]},
        "measure": "ii_h_to_y",
        "replicates": REPLICATES,
    },
    "random_labels": {
        "title": "MNIST-1D: random labels vs random features",
        "claim": "5. Representations learned from random labels are worse than random "
                 "features (the untrained network).",
        "page": "information",
        "spec": dict(_MNIST1D, label_noise=1.0),
        "axes": {"width": MNIST1D_WIDTHS},
        "series": None,
        "measure": "ii_h_to_y",
        "replicates": REPLICATES,
    },
    "pen_to_out": {
        "title": "MNIST-1D: Delta(penultimate -> pre-softmax) vs cross-entropy",
        "claim": "6. Delta(penultimate -> pre-softmax) decreases with the cross-entropy "
                 "loss in the overparameterised regime.",
        "page": "information",
        "spec": dict(_MNIST1D),
        "axes": {"width": MNIST1D_WIDTHS},
        "series": {"label_noise": MNIST1D_NOISE},
        "measure": "ii_pen_to_out",
        "replicates": REPLICATES,
    },
}

# Alignment over training time, one setting per paper (the report's last section): each a
# sweep of one axis, one data seed, with the probe representations kept at ``snapshots``
# log-spaced epochs (noisealign.engine.pipeline.epochs). The linear network at n = d/2, d, 2d; the MNIST-1D
# classifier (label noise 0.2) below, at and above P = n x classes (width 784).
OVER_TRAINING: dict[str, dict[str, Any]] = {
    "linear": {
        "title": "Linear network, SNR 10 dB: alignment over training",
        "spec": dict(_LINEAR, snapshots=10),
        "axes": {"n_train": [25, 50, 100]},
    },
    "mnist1d": {
        "title": "MNIST-1D, label noise 0.2: alignment and information over training",
        "spec": dict(_MNIST1D, label_noise=0.2, snapshots=10),
        "axes": {"width": [64, 784, 2048]},
    },
}
