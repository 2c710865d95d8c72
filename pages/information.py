"""Information content of hidden representations under label noise: a width sweep for
several label-noise rates, against random labels and random features."""

from __future__ import annotations

import json

import streamlit as st

from noisealign.engine.pipeline import constraints as rules
from noisealign.engine.pipeline.constraints import K_FIELDS, PAGE_EPOCHS, PAGE_PROBE, check_k
from noisealign.engine.pipeline.datasets import DATASETS
from noisealign.engine.pipeline.spec import ACTIVATIONS, LR_SCHEDULES, OPTIMIZERS, ExperimentSpec
from noisealign.ui import controls, infoview, notes, plots, router, run_panel, stale, teach
from noisealign.ui import page_support as common
from noisealign.ui import report_links as presets
from noisealign.ui import shipped_points as shipped

router.ensure_router()

PAGE = "information"
CLASSIFIERS = [k for k, v in DATASETS.items() if v.task == "classification"]

st.title("Information content (label noise)")
st.caption("How much do hidden representations know about the true classes when networks "
           "learn from noisy labels, and how does that change with the number of parameters?")
common.help_box("""
**Measure.** Δ(h → y_clean) is the Information Imbalance (Glielmo et al., PNAS Nexus 2022)
from the last hidden layer h to the **clean** labels (one-hot), on N clean probe points:
how well the nearest neighbours in h predict points of the same true class. **Lower is more
informative** (0: neighbours in h always share the class; 1: no information). Values
depend on N and k, shown on the axes.

**Conditions.** Networks trained on *clean* labels (p = 0), on *noisy* labels (each label
replaced by a random class with probability p), on *random labels* (p = 1), and the
*random features* of the same networks before training (dotted).

**Reading the plots.** Left: Δ(h → y_clean) against the parameters per network; right: the
test error (clean labels). The dashed line is the interpolation threshold P = n · classes.
Umar, Tezoh, Barbier et al. ("The effect of label noise on the information content of
neural representations") report a double descent of Δ that follows the test error, noisy
labels more informative than clean ones below the threshold and equally informative above,
and random labels worse than random features. Bottom: Δ(penultimate → pre-softmax) against
the cross-entropy loss; they report it decreases with the loss in the over-parameterised
regime (filled markers).

**What our runs find** (this project's model, `docs/findings.md`): with label noise the test
error peaks near the width where the networks first fit their labels, but Δ(h → y_clean)
has no double descent; noisy labels make the hidden layer *less* informative about the
clean classes, below the threshold and above it; random-label networks are not worse than
random features (their Δ tracks the input geometry the hidden layer keeps); Δ(pen → out)
falls together with the test cross-entropy only at some noise rates. The notes under the
plots say which claim each one concerns. The default view (digits, n = 100) is small
enough to compute in about half a minute on a quiet 2-core machine: it shows clean against
noisy and random labels; the report's MNIST-1D presets show the test-error peak.
""")

cache, manager = common.services()
slots = common.ErrorSlots()

with st.sidebar:
    presets.selector(PAGE)
    st.subheader("Data")
    dataset = st.selectbox("Dataset", CLASSIFIERS, index=CLASSIFIERS.index("digits"),
                           key="dataset", bind="query-params",
                           help="; ".join(f"**{k}**: {DATASETS[k].description}"
                                          for k in CLASSIFIERS))
    params: dict = {}
    for name, p in DATASETS[dataset].params.items():
        if p.kind is int:
            params[name] = st.number_input(f"{name} ({p.help})", int(p.lo), int(p.hi),
                                           int(p.default), key=name, bind="query-params")
        else:
            params[name] = st.number_input(f"{name} ({p.help})", float(p.lo), float(p.hi),
                                           float(p.default), key=name, bind="query-params")
    slots.add("dataset", "dataset_params")
    c1, c2 = st.columns(2)
    # Spec-field inputs leave their range to the spec, which names it when a value is
    # outside (ui.controls): a typed or linked value is never dropped silently.
    n_train = controls.spec_number(c1, "n_train", rules.default("n_train"), key="n",
                                   label="Samples n")
    n_probe = controls.spec_number(c2, "n_probe", PAGE_PROBE, step=50, key="probe",
                                   label="Probe points N")
    slots.add("n_train", "n_probe")
    rates_text = st.text_input("Label-noise rates p", "0, 0.2", key="rates",
                               bind="query-params",
                               help="Comma-separated; 0 = clean labels.")
    random_labels = st.checkbox("Random labels (p = 1)", True, key="random",
                                bind="query-params",
                                help="Adds p = 1: every label drawn at random.")
    random_features = st.checkbox("Random features (untrained)", True, key="features",
                                  bind="query-params",
                                  help="The same networks before training.")
    slots.add("rates", "label_noise")

    st.subheader("Networks")
    architecture = common.architecture_control(st, dataset)
    widths_text = st.text_input("Widths", "2, 5, 10, 13, 20, 50, 100", key="widths",
                                bind="query-params",
                                help="Hidden widths to sweep (the x axis, as parameters); "
                                "for the CNN, its conv channels.")
    c1, c2 = st.columns(2)
    depth_lo, depth_hi = common.spec_range("depth")  # unpacked: mypy matches the overloads
    depth = c1.number_input("Hidden layers", depth_lo, depth_hi, 1, key="depth",
                            bind="query-params", disabled=architecture == "cnn",
                            help="The CNN's layout is fixed (two conv blocks and a dense "
                            "layer)." if architecture == "cnn" else None)
    activation = c2.selectbox("Activation", ACTIVATIONS, index=ACTIVATIONS.index("relu"),
                              key="act", bind="query-params")
    c1, c2 = st.columns(2)
    K = controls.spec_number(c1, "ensemble_size", 2, key="K", label="Ensemble size K",
                             help="Members per point: the error bands are over members.")
    seed = controls.spec_number(c2, "seed", rules.default("seed"), key="seed")
    replicates = common.replicates_input()
    c1, c2 = st.columns(2)
    max_epochs = controls.spec_number(c1, "max_epochs", PAGE_EPOCHS, step=100, key="epochs")
    lr = controls.spec_number(c2, "lr", rules.default("lr"), step=0.005, format="%.4g", key="lr")
    slots.add("architecture", "widths", "width", "depth", "activation", "ensemble_size", "seed", "max_epochs",
              "lr")
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox("Optimiser", OPTIMIZERS, index=OPTIMIZERS.index("adam"),
                             key="opt", bind="query-params")
    momentum = controls.spec_number(c2, "momentum", 0.0, step=0.1, format="%.3g", key="mom",
                                    label="Momentum (SGD)", overridden=optimizer != "sgd",
                                    help="Heavy-ball momentum of SGD; Adam keeps its own.")
    c1, c2 = st.columns(2)
    batch_size = controls.spec_number(c1, "batch_size", 0, step=32, key="batch",
                                      label="Batch size", help="Minibatch size; 0 = full batch.")
    lr_schedule = c2.selectbox("LR schedule", LR_SCHEDULES, key="sched", bind="query-params")
    slots.add("optimizer", "momentum", "batch_size", "lr_schedule")
    loss_tol = controls.spec_number(st, "loss_tol", rules.default("loss_tol"), format="%.3g",
                                    key="tol",
                                    help="A member stops once its training loss is below this.")
    rk = K_FIELDS["k"]
    k = st.number_input("k (II neighbours)", int(rk.lo), int(rk.hi), rk.default, key="k",
                        bind="query-params")
    slots.add("k", "loss_tol")
    slots.fallback()


def _sweep():
    from noisealign.engine.compute.sweep import Sweep
    lo, hi = common.spec_range("width")
    widths = common.number_list(widths_text, "widths", integer=True, lo=lo, hi=hi)
    lo, hi = common.spec_range("label_noise")
    rates = common.number_list(rates_text, "rates", lo=lo, hi=hi)
    if random_labels and 1.0 not in rates:
        rates.append(1.0)
    base = ExperimentSpec(dataset=dataset, dataset_params=params, n_train=int(n_train),
                          n_probe=int(n_probe), noise="label", label_noise=rates[0],
                          architecture=architecture, width=widths[0], depth=int(depth), activation=activation,
                          ensemble_size=int(K), optimizer=optimizer, lr=float(lr),
                          momentum=float(momentum) if optimizer == "sgd" else 0.0,
                          batch_size=int(batch_size), lr_schedule=lr_schedule,
                          max_epochs=int(max_epochs), loss_tol=float(loss_tol),
                          seed=int(seed))
    check_k(int(k), base.n_probe, "k")
    return Sweep(base, {"width": widths, "label_noise": rates}, replicates=int(replicates))


loss_kind = st.radio("Loss axis (bottom plot)", ["training loss", "test loss"],
                     horizontal=True, key="loss", bind="query-params")
auto = st.checkbox("Auto-run", True, key="auto", bind="query-params",
                   help="Compute missing points as soon as the settings change.")

sweep = common.build(_sweep, slots)
if sweep is None:
    st.error("The settings in the sidebar are invalid; the message there says why.",
             icon=":material/error:")
    common.job_panel(PAGE)  # a job started before stays in sight, with its Cancel
    st.stop()
base = sweep.base
specs = sweep.specs()
fp = "info:" + "|".join(s.content_hash() for s in specs)
rows, job = run_panel.sweep_run_panel(
    PAGE, fp, cache, sweep, auto,
    status=lambda rows: shipped.status_text(rows, "runs")
    + f" · threshold P = n · classes = {base.fitted_values():,}"
    + f" · device {common.device_label()}")

frame = infoview.info_frame(rows, k=int(k), random_features=random_features)
if frame.empty:
    if not stale.show(PAGE, key="info_chart_stale"):  # the last figure, dimmed (ui.stale)
        st.info("No point computed yet" + (": they appear here as they finish." if job else
                                            ": press **Run**."), icon=":material/info:")
    st.stop()

threshold = base.interpolation_threshold("n_parameters")  # P = n · classes
if sweep.replicates > 1:
    st.caption(f"Mean over {sweep.replicates} data seeds; bands: standard error across seeds.")
info_label = f"Δ(h → y_clean) (N={base.n_probe}, k={k})"
shows_random = bool((frame["p"] == 1.0).any())
info_fig = plots.information_figure(frame, threshold=threshold, info_label=info_label,
                                    error_label="test error rate (clean labels)",
                                    chance=infoview.chance_level(base))
teach.chart(st, info_fig, key="info_chart")
stale.remember(PAGE, info_fig)
if (scale_note := notes.delta_scale_note(frame["info_mean"])):
    st.caption(scale_note)
shipped.badge(rows)
notes.show(PAGE, claims=(4, 5) if shows_random else (4,), random_labels=shows_random,
           extra=[notes.RANDOM_LABELS_NOTE] if shows_random else None)

st.subheader("Penultimate vs pre-softmax")
loss_col = "train_loss" if loss_kind == "training loss" else "test_loss"
lf = infoview.loss_frame(rows, k=int(k), loss=loss_col)
if lf.empty:
    st.info("No point with a loss yet.")
else:
    teach.chart(st, plots.loss_figure(lf, x_label=f"cross-entropy {loss_kind}",
        y_label=f"Δ(penultimate → pre-softmax) (N={base.n_probe}, k={k})"),
        key="loss_chart")
    st.caption("Filled: over-parameterised (P > n · classes); hollow: under-parameterised.")
    notes.show(PAGE, claims=(6,), notice=False)

st.subheader("Intrinsic dimension of the last hidden layer")
idf = infoview.id_frame(rows, random_features=random_features)
if idf.empty:
    st.info("No point with an intrinsic dimension yet (it needs dadapy and either a "
            "summary that holds it or the stored representations).", icon=":material/info:")
else:
    teach.chart(st, plots.id_sweep_figure(idf, threshold=threshold,
                                          x_label="parameters P per network"),
                key="id_chart")
    st.caption(f"dadapy's TwoNN and GRIDE on the N = {base.n_probe} probe points; bands: "
               "standard error over members. Dashed line: P = n · classes.")

common.downloads([
    ("Plotted data (CSV)", frame.drop(columns=["key"]).to_csv(index=False),
     "information_content.csv", "text/csv"),
    ("Loss plot data (CSV)", lf.to_csv(index=False), "penultimate_vs_loss.csv", "text/csv"),
    ("Intrinsic dimension (CSV)", idf.to_csv(index=False), "intrinsic_dimension.csv",
     "text/csv"),
    ("Spec (JSON)", json.dumps({"base": json.loads(base.to_json()),
                                "axes": {a: list(v) for a, v in sweep.axes.items()}},
                               indent=2), "information_sweep.json", "application/json"),
], key="info_dl")
