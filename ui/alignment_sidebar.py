"""The alignment explorer's sidebar: the controls of one run (data, networks, training,
measure), drawn in that order.

Apart from ``pages/alignment.py`` so that the page reads as what it shows (the sweep, the
run, the figure) and each group of controls is one function of a readable size. The
functions draw into ``st.sidebar`` and return the values they read, keyed by the
:class:`~noisealign.engine.pipeline.spec.ExperimentSpec` field each sets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from noisealign.engine.pipeline import constraints as rules
from noisealign.engine.pipeline.constraints import K_FIELDS, PAGE_EPOCHS, PAGE_PROBE
from noisealign.engine.pipeline.datasets import DATASETS
from noisealign.engine.pipeline.spec import (
    ACTIVATIONS,
    LABEL_NOISE_KINDS,
    LR_SCHEDULES,
    NOISE_KINDS,
    OPTIMIZERS,
    applies,
    noise_for_task,
)

from . import controls
from . import page_support as common
from . import report_links as presets
from . import tables as data

# Dashboard defaults: tiny, so the first screen is computed within seconds on a laptop
# CPU; linear activations put the interpolation threshold at n = d (+1 for the bias).
PARAM_DEFAULTS = {"linear-teacher": {"d": 50}}
NOISE_LABELS = {"none": "none (initialisation only)", "target": "target noise (regression)",
                "input": "input noise", "label": "label noise (classification)"}


def probe_pool(name: str) -> int:
    """The held-out points dataset ``name`` holds with the sidebar's parameters."""
    info = DATASETS[name]
    params = {}
    for p, spec in info.params.items():
        default = PARAM_DEFAULTS.get(name, {}).get(p, spec.default)
        value = st.session_state.get(p, default)
        params[p] = value if isinstance(value, (int, float)) else default
    try:
        return int(info.pool_sizes(info.validate_params(params))[1])
    except (ValueError, TypeError):
        return int(info.pool_sizes(info.validate_params({}))[1])


def data_controls(slots: common.ErrorSlots, swept: set, on_dataset_change: Callable[[], None],
                  on_noise_change: Callable[[], None]) -> dict[str, Any]:
    """Dataset, its parameters, the noise and the sample sizes."""
    st.subheader("Data")
    dataset = st.selectbox("Dataset", list(DATASETS), index=list(DATASETS).index("linear-teacher"),
                           key="dataset", bind="query-params", on_change=on_dataset_change,
                           help="; ".join(f"**{k}**: {v.description}" for k, v in
                                          DATASETS.items()))
    info = DATASETS[dataset]
    params: dict = {}
    for name, p in info.params.items():
        default = PARAM_DEFAULTS.get(dataset, {}).get(name, p.default)
        if p.kind is int:
            params[name] = st.number_input(f"{name} ({p.help})", int(p.lo), int(p.hi),
                                           int(default), key=name, bind="query-params")
        else:
            params[name] = st.number_input(f"{name} ({p.help})", float(p.lo), float(p.hi),
                                           float(default), key=name, bind="query-params")
    slots.add("dataset", "dataset_params", "task")
    # The default noise kind applies to the dataset (a link naming only dataset=mnist1d
    # gets label noise, as choosing mnist1d in the dropdown does). A noise kind the link
    # names itself is kept: a contradiction is explained next to the control.
    noise = st.selectbox("Noise", NOISE_KINDS, key="noise", on_change=on_noise_change,
                         index=NOISE_KINDS.index(noise_for_task(info.task, "target")),
                         bind="query-params",
                         help="What each member's independent noise perturbs: "
                         + "; ".join(f"**{k}**: {v}" for k, v in NOISE_LABELS.items()))
    values = {"dataset": dataset, "dataset_params": params, "noise": noise,
              **noise_controls(noise, swept)}
    slots.add("noise", "snr_db", "label_noise", "label_noise_kind")
    c1, c2 = st.columns(2)
    values["n_train"] = controls.spec_number(c1, "n_train", 50, key="n", label="Samples n",
                                             overridden="n_train" in swept,
                                             help="Training points shared by all members.")
    # Default: PAGE_PROBE, or all the dataset's held-out points when it has fewer (diabetes: 89).
    probe_default = min(PAGE_PROBE, int(info.pool_sizes(info.validate_params(params))[1]))
    values["n_probe"] = controls.spec_number(c2, "n_probe", probe_default, step=50,
                                             key="probe", label="Probe points N",
                                             help="Clean held-out points the representations "
                                             "are compared on.")
    slots.add("n_train", "n_probe")
    return values


def noise_controls(noise: str, swept: set) -> dict[str, Any]:
    """The level of the noise kind ``noise``: an SNR, or a label-noise rate and kind."""
    snr_db, label_noise = rules.default("snr_db"), 0.2
    label_kind = rules.default("label_noise_kind")
    if applies("snr_db", noise):
        snr_db = controls.spec_number(st, "snr_db", rules.default("snr_db"), key="snr",
                                      label="SNR (dB)",
                                      step=1.0, overridden="snr_db" in swept,
                                      help="Signal-to-noise ratio in decibels: 10·log10(SNR).")
    elif applies("label_noise", noise):
        p_lo, p_hi = common.spec_range("label_noise")  # unpacked: mypy matches the overloads
        label_noise = st.slider("Label-noise rate p", p_lo, p_hi, 0.2, step=0.05, key="p",
                                bind="query-params", disabled="label_noise" in swept,
                                help="Each label is replaced with probability p: by a "
                                "uniformly drawn class (uniform; p = 1: random labels) or by "
                                "the next class, c → c + 1 (pair).")
        if "label_noise" in swept:
            st.caption(controls.OVERRIDDEN_NOTE)
        label_kind = st.radio("Label-noise kind", LABEL_NOISE_KINDS, horizontal=True,
                              key="pkind", bind="query-params",
                              help="uniform: any class, so a label changes with probability "
                              "p·(1 − 1/classes); pair: class-dependent, it always changes. "
                              "The achieved flip rate is shown per member of a run.")
    return {"snr_db": snr_db, "label_noise": label_noise, "label_noise_kind": label_kind}


def network_controls(slots: common.ErrorSlots, dataset: str, swept: set) -> dict[str, Any]:
    """Architecture, width, depth, activation, ensemble size and initialisation."""
    st.subheader("Networks")
    architecture = common.architecture_control(st, dataset)
    c1, c2 = st.columns(2)
    width = controls.spec_number(c1, "width", 64, key="width", overridden="width" in swept,
                                 label="Width" if architecture == "mlp"
                                 else "Width (conv channels)")
    depth_lo, depth_hi = common.spec_range("depth")  # unpacked: mypy matches the overloads
    depth = c2.number_input("Hidden layers", depth_lo, depth_hi, 1, key="depth",
                            bind="query-params", disabled=architecture == "cnn",
                            help="The CNN's layout is fixed (two conv blocks and a dense "
                            "layer)." if architecture == "cnn" else None)
    c1, c2 = st.columns(2)
    activation = c1.selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index("linear"),
                              key="act", bind="query-params")
    K = controls.spec_number(c2, "ensemble_size", rules.default("ensemble_size"), key="K",
                             label="Ensemble size K")
    c1, c2 = st.columns(2)
    init_scale = controls.spec_number(c1, "init_scale", 0.1, step=0.05, format="%.3g",
                                      key="init", label="Init scale",
                                      overridden="init_scale" in swept,
                                      help="Multiplies the default initialisation.")
    shared_init = c2.checkbox("Shared init", False, key="shared", bind="query-params",
                              help="Every member starts from the same weights, so the noise "
                              "is the only difference between them.")
    slots.add("architecture", "width", "depth", "activation", "ensemble_size", "init_scale",
              "shared_init")
    return {"architecture": architecture, "width": width, "depth": depth,
            "activation": activation, "ensemble_size": K, "init_scale": init_scale,
            "shared_init": shared_init}


def training_controls(slots: common.ErrorSlots) -> dict[str, Any]:
    """The expert options, in the collapsed "Training" expander; also the replicates
    (not a spec field: the sweep's)."""
    with st.expander("Training", icon=":material/tune:", key="training"):  # expert options
        c1, c2 = st.columns(2)
        optimizer = c1.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index("adam"),
                                 key="opt", bind="query-params")
        lr = controls.spec_number(c2, "lr", rules.default("lr"), step=0.005, format="%.4g",
                                  key="lr")
        c1, c2 = st.columns(2)
        max_epochs = controls.spec_number(c1, "max_epochs", PAGE_EPOCHS, step=100, key="epochs",
                                          help="Full-batch epochs; a member stops early once its "
                                     "training loss is below 1e-4.")
        weight_decay = controls.spec_number(c2, "weight_decay", 0.0, step=1e-4,
                                            format="%.4g", key="wd")
        seed = controls.spec_number(st, "seed", 0, key="seed",
                                    help="Seeds the data sample, the noise and the initialisation.")
        loss_tol = controls.spec_number(st, "loss_tol", rules.default("loss_tol"), format="%.3g",
                                        key="tol",
                                        help="A member stops once its training loss is below "
                                   "this (the presets of the report use their own).")
        c1, c2, c3 = st.columns(3)
        batch_size = controls.spec_number(
            c1, "batch_size", 0, step=32, key="batch", help="Minibatch size; 0 = full batch (every member sees "
            "the same minibatches in the same order).")
        lr_schedule = c2.selectbox("LR schedule", LR_SCHEDULES, key="sched",
                                   bind="query-params",
                                   help="constant; cosine: from lr down to 0 at the last "
                                   "epoch; step: x0.1 at half the epochs, x0.01 at 3/4.")
        grad_clip = controls.spec_number(
            c3, "grad_clip", 0.0, step=0.5, format="%.3g", key="clip",
            help="Each member's gradient norm is cut to this before every step; 0 = off.")
        replicates = common.replicates_input()

        snapshots = controls.spec_number(st, "snapshots", 0, key="snaps",
                                         help="Keep the probe representations at this many "
                                    "log-spaced epochs besides initialisation and the end "
                                    "(0 = off): a single run then shows every measure "
                                    "against epoch.")
        slots.add("optimizer", "lr", "max_epochs", "weight_decay", "seed", "loss_tol",
                  "batch_size", "lr_schedule", "grad_clip", "snapshots")
    return {"optimizer": optimizer, "lr": lr, "max_epochs": max_epochs,
            "weight_decay": weight_decay, "seed": seed, "loss_tol": loss_tol,
            "batch_size": batch_size, "lr_schedule": lr_schedule, "grad_clip": grad_clip,
            "snapshots": snapshots, "replicates": replicates}


def measure_controls(slots: common.ErrorSlots) -> dict[str, Any]:
    """The alignment measure and its neighbour counts (not spec fields: the view's)."""
    st.subheader("Measure")
    measure = controls.select_id(st, "Alignment measure", list(data.MEASURE_LABELS),
                                 index=2, key="measure",
                                 help="; ".join(f"**{k}**: {v}" for k, v in
                                          data.MEASURE_LABELS.items()))
    st.caption(data.MEASURE_LABELS[measure])
    c1, c2 = st.columns(2)
    rk, rknn = K_FIELDS["k"], K_FIELDS["knn_k"]
    k = c1.number_input("k (II neighbours)", int(rk.lo), int(rk.hi), rk.default, key="k",
                        bind="query-params", help="Neighbours used by the Information Imbalance.")
    knn_k = c2.number_input("k (mutual k-NN)", int(rknn.lo), int(rknn.hi), rknn.default,
                            key="knn", bind="query-params")
    slots.add("k", "knn_k")
    return {"measure": measure, "k": k, "knn_k": knn_k}


def sidebar(page: str, slots: common.ErrorSlots, swept: set,
            on_dataset_change: Callable[[], None],
            on_noise_change: Callable[[], None]) -> dict[str, Any]:
    """The whole sidebar: the report's presets, then every group of controls. ``swept``:
    the fields the sweep sets (their controls are disabled, "set by the sweep axis")."""
    with st.sidebar:
        presets.selector(page)
        values = data_controls(slots, swept, on_dataset_change, on_noise_change)
        values.update(network_controls(slots, values["dataset"], swept))
        values.update(training_controls(slots))
        values.update(measure_controls(slots))
        slots.fallback()
    return values
