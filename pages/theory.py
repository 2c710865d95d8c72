"""Linear theory: our analytic model's alignment and test error, no training needed;
cached simulations of the same model drawn on top."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from engine import theory
from engine.spec import ExperimentSpec
from ui import common, data, plots, presets, router

router.ensure_router()

PAGE = "theory"
WD_VALUES = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
INIT_VALUES = [1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
OPTIMIZERS = ["adam", "sgd"]

st.title("Linear theory")
st.caption("Alignment and test error of a one-hidden-layer **linear** network on a linear "
           "teacher, computed analytically (**our model**, built from the papers' abstracts "
           "and standard results; not the papers' own numbers or code).")
common.help_box("""
**The model.** Inputs `x ~ N(0, I_d)`, targets `y = β·x + σ ε` with `|β| = 1` and
`SNR = 1/σ²`. Every member of the ensemble sees the same `n` inputs with its own noise and
is trained by gradient descent from a small initialisation, which ends at the
minimum-norm least-squares solution `β_m` (a ridge solution with weight decay).

**The curves.** `ρ = cos(β_a, β_b)` is how much two members agree. Their hidden layers are
(nearly) rank one, so **linear CKA** (Kornblith et al. 2019) is about `ρ²` and the
**Information Imbalance** Δ (Glielmo et al., PNAS Nexus 2022) is Δ(ρ) — 0 means each
member predicts the other's neighbourhoods perfectly, 1 means no information; the
**II score** is `1 − Δ`. The **test error** is the MSE against clean targets
(Hastie, Montanari, Rosset & Tibshirani 2019).

**How to read it.** Alignment dips at the interpolation threshold `n = d` (dashed line),
where the test error peaks, and rises with SNR: the behaviour Umar & Laio report
("Signal-to-noise ratio and sample size govern representational alignment"). Markers are
cached simulations of the same network trained by the engine; where they part from the
lines (small `d`, a large initialisation, weight decay) the model's assumptions fail.
""")

cache, manager = common.services()

with st.sidebar:
    presets.selector(PAGE)
    st.subheader("Model")
    d = st.slider("Input dimension d", 10, 400, 50, step=5, key="d", bind="query-params",
                  help="Dimension of the teacher's inputs; the threshold sits at n = d.")
    snr_db = st.slider("SNR (dB)", -10, 40, 10, key="snr", bind="query-params",
                       help="Signal-to-noise ratio of the targets, 10·log10(1/σ²).")
    nd_range = st.slider("n / d range", 0.05, 5.0, (0.1, 4.0), step=0.05, key="nd",
                         bind="query-params", help="Range of samples per input dimension.")
    wd = st.select_slider("Weight decay", WD_VALUES, value=0.0, key="wd", bind="query-params",
                          format_func=lambda v: f"{v:g}",
                          help="The engine's weight decay on both layers (0 = none).")
    large_d = st.checkbox("Also show the d → ∞ curves", False, key="large_d",
                          bind="query-params")
    log_err = st.checkbox("Log scale for the test error", True, key="logerr",
                          bind="query-params")

snr = float(10 ** (snr_db / 10))
n_values = np.linspace(max(1.0, nd_range[0] * d), nd_range[1] * d, 600)
try:
    curves = theory.curves(float(d), snr, n_values, float(wd))
except ValueError as e:
    common.error(e)
    st.stop()
curves = dict(curves, d=float(d))

m1, m2, m3, m4 = st.columns(4)
i_star = int(np.argmin(curves["cka"]))
m1.metric("SNR (ratio)", f"{snr:.3g}", help="10^(dB/10)")
m2.metric(f"Lowest CKA (n/d = {curves['n'][i_star] / d:.2f})", f"{curves['cka'][i_star]:.3f}",
          help="The minimum of the CKA curve over the range shown, and where it is.")
m3.metric("Test error at n = 2d", f"{float(theory.test_error(2 * d, d, snr, wd)):.3g}")
m4.metric("ρ at n = 2d", f"{float(theory.rho(2 * d, d, snr, wd)):.3f}")

# ----------------------------------------------------------------------------- simulation
with st.sidebar:
    st.subheader("Simulation (what-if)")
    init_scale = st.select_slider("Initialisation scale", INIT_VALUES, value=0.01, key="init",
                                  bind="query-params", format_func=lambda v: f"{v:g}",
                                  help="The theory assumes a small initialisation; a large "
                                  "one keeps a random part in the weights.")
    sim_text = st.text_input("n / d values to simulate", "0.4, 0.8, 1, 1.4, 3", key="sim_nd",
                             bind="query-params")
    c1, c2 = st.columns(2)
    width = c1.number_input("Hidden width", 2, 1024, 32, key="width", bind="query-params")
    K = c2.number_input("Ensemble size K", 2, 16, 4, key="K", bind="query-params")
    c1, c2 = st.columns(2)
    epochs = c1.number_input("Max epochs", 10, 20000, 500, step=50, key="epochs",
                             bind="query-params")
    seed = c2.number_input("Seed", *common.spec_range("seed"), 0, key="seed", bind="query-params")
    probe = st.number_input("Probe points N", 50, 2000, 300, step=50, key="probe",
                            bind="query-params")
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox("Optimiser", OPTIMIZERS, key="opt", bind="query-params",
                             help="The theory assumes (full-batch) gradient descent: sgd is "
                             "the faithful choice but needs many epochs near n = d; adam "
                             "(default) is much faster and lands close to it.")
    lr = c2.number_input("Learning rate", *common.spec_range("lr", 1e-5), 0.01, step=0.005, format="%.4g",
                         key="lr", bind="query-params",
                         help="Lower it if members diverge (sgd at small n/d).")
    loss_tol = st.number_input("Loss tolerance", *common.spec_range("loss_tol"), 1e-4, format="%.3g", key="tol",
                               bind="query-params",
                               help="A member stops once its training loss is below this.")
    slots = common.ErrorSlots()
    slots.add("loss_tol", "sim_nd", "n_train", "dataset_params", "lr", "optimizer", "init_scale")
    slots.fallback()


def _sim_base() -> ExperimentSpec:
    return ExperimentSpec(dataset="linear-teacher", dataset_params={"d": int(d)},
                          noise="target", snr_db=float(snr_db), n_train=2 * int(d),
                          n_probe=int(probe), width=int(width), depth=1, activation="linear",
                          bias=False, ensemble_size=int(K), init_scale=float(init_scale),
                          optimizer=optimizer, lr=float(lr), max_epochs=int(epochs),
                          weight_decay=float(wd), loss_tol=float(loss_tol), seed=int(seed))


def _sim_sweep():
    from engine.sweep import Sweep
    nds = common.number_list(sim_text, "sim_nd", lo=0.02, hi=10.0, max_items=12)
    ns = sorted({max(2, int(round(v * d))) for v in nds})
    return Sweep(_sim_base(), {"n_train": ns})


sweep = common.build(_sim_sweep, slots)
base = sweep.base if sweep is not None else None

run_col, info_col = st.columns([1, 4], vertical_alignment="center")
clicked = run_col.button("Simulate", type="primary", icon=":material/play_arrow:",
                         disabled=sweep is None, key="simulate")
info_col.caption("Trains the same network with the engine at the n/d values of the sidebar "
                 f"(device: {common.device_label()}); finished points are cached and shown "
                 "as markers.")
if clicked and sweep is not None:
    fp = "theory:" + "|".join(s.content_hash() for s in sweep.specs())
    common.start_job(PAGE, fp, lambda m, sid: m.submit_sweep(sweep, sid))
job = common.job_panel(PAGE)

# Cached simulations of the same model: every cached entry that differs from the
# simulation settings only in n (so earlier simulations at other n appear too).
sims = pd.DataFrame()
if base is not None:
    rows = data.matching_entries(common.cache_entries(), base, vary=("n_train",))
    if job is not None and job.kind == "sweep":
        rows = data.merge_points(rows, job.points, base, vary=("n_train",))
    sims = data.theory_sim_frame(rows, d=int(d))

fig = plots.theory_figure(curves, sims=sims, log_error=log_err)
if large_d:
    nd = np.asarray(curves["n"]) / d
    for key, label in (("cka_large_d", "CKA, d → ∞ (ρ²)"), ("ii_score_large_d",
                                                              "II score, d → ∞")):
        fig.add_scatter(x=nd, y=curves[key], mode="lines", name=label,
                        line=dict(dash="dot", width=1.5), row=1, col=1)
st.plotly_chart(fig, key="theory_chart", width="stretch")
if len(sims):
    st.caption(f"Markers: {sims['n'].nunique()} cached simulation(s) of this model "
               f"(K = {K}, width {width}, N = {probe} probe points, II with k = 1; "
               "bars: ± one standard error over the pairs). The theory's II is its "
               "large-N limit; at a finite N the simulated II can differ from it.")
else:
    st.caption("No cached simulation of these settings yet: press **Simulate**.")

curve_df = pd.DataFrame({k: np.asarray(v, float) for k, v in curves.items()
                         if np.ndim(v) == 1})
curve_df.insert(1, "n_over_d", curve_df["n"] / d)
items = [("Curves (CSV)", curve_df.to_csv(index=False), f"theory_d{d}_snr{snr_db}dB.csv",
          "text/csv")]
if len(sims):
    items.append(("Simulations (CSV)", sims.to_csv(index=False), "theory_simulations.csv",
                  "text/csv"))
if base is not None:
    items.append(("Simulation spec (JSON)", json.dumps(json.loads(base.to_json()), indent=2),
                  "simulation_spec.json", "application/json"))
common.downloads(items, key="theory_dl")
