"""Linear theory: our analytic model's alignment and test error, no training needed;
cached simulations of the same model drawn on top."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from noisealign.engine import theory
from noisealign.engine.pipeline import constraints as rules
from noisealign.engine.pipeline.constraints import PAGE_PROBE, snr_db_to_ratio
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.theory_exact import TABLE_SNR_DB
from noisealign.ui import controls, labels, notes, router, teach, theory_plots
from noisealign.ui import page_support as common
from noisealign.ui import report_links as presets
from noisealign.ui import shipped_points as shipped
from noisealign.ui import tables as data

router.ensure_router()

PAGE = "theory"
WD_VALUES = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
INIT_VALUES = [1e-4, 1e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
OPTIMIZERS = ["adam", "sgd"]
X_AXES = {"nd": "n / d (samples per input dimension)", "snr_db": labels.label("snr_db")}
MEASURES = ("cka", "ii_score", "ii")  # the simulated alignment measures drawn
# The SNR sliders span what the theory computes faithfully: the exact finite-d correction
# next to the threshold is tabulated from TABLE_SNR_DB[0] to TABLE_SNR_DB[-1] dB and clamped
# outside (engine/theory.py), within what the spec allows a simulation (its constraint).
_SPEC_SNR = common.spec_range("snr_db")
SNR_SLIDER = (int(max(_SPEC_SNR[0], TABLE_SNR_DB[0])), int(min(_SPEC_SNR[1], TABLE_SNR_DB[-1])))
# The x axis' first view: where the curves move (below -10 dB the members share almost
# nothing, above 40 dB the noise no longer matters).
SNR_VIEW = (-10, 40)

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
(nearly) rank one, so **linear CKA** (Kornblith et al. 2019) tends to `ρ²` as `d → ∞`; the
curve drawn is the **finite-d** CKA, which stays well above `ρ²` near the threshold
(both members' noise lies along the same weak directions of the shared inputs: at
`n = d` it is near 1/2 while `ρ²` is near 0). Tick "Also show ρ² and the d → ∞ curves"
for the limit. The **Information Imbalance** Δ (Glielmo et al., PNAS Nexus 2022): 0 means
each member predicts the other's neighbourhoods perfectly, 1 means no information, so
**lower is more aligned**: it has its own panel. The **II score** `1 − Δ` reads like the
others (higher is more aligned). The **test error** is the MSE against clean targets
(Hastie, Montanari, Rosset & Tibshirani 2019).

**x axis.** n/d (at one SNR) or the SNR (at one n/d): the second shows the headline,
alignment rising with the SNR.

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
    x_axis = controls.select_id(st, "x axis", list(X_AXES), key="tx",
                                format_func=X_AXES.get,
                          help="Draw the curves against n/d (at the SNR below) or against "
                          "the SNR (at the n/d below).")
    d = st.slider("Input dimension d", 10, 400, 50, step=5, key="d", bind="query-params",
                  help="Dimension of the teacher's inputs; the threshold sits at n = d.")
    if x_axis == "snr_db":
        snr_range = st.slider("SNR range (dB)", *SNR_SLIDER, SNR_VIEW, key="snr_range",
                              bind="query-params", help="Range of the x axis.")
        nd_at = st.slider("n / d", 0.05, 5.0, 2.0, step=0.05, key="nd_at",
                          bind="query-params", help="Samples per input dimension, fixed "
                          "along the SNR axis (1 = the interpolation threshold).")
        snr_db, nd_range = snr_range[1], (nd_at, nd_at)
    else:
        snr_db = st.slider("SNR (dB)", *SNR_SLIDER, int(rules.default("snr_db")), key="snr",
                           bind="query-params",
                           help="Signal-to-noise ratio of the targets, 10·log10(1/σ²).")
        nd_range = st.slider("n / d range", 0.05, 5.0, (0.1, 4.0), step=0.05, key="nd",
                             bind="query-params", help="Range of samples per input dimension.")
    wd = st.select_slider("Weight decay", WD_VALUES, value=0.0, key="wd", bind="query-params",
                          format_func=lambda v: f"{v:g}",
                          help="The engine's weight decay on both layers (0 = none).")
    large_d = st.checkbox("Also show ρ² and the d → ∞ curves", False, key="large_d",
                          bind="query-params",
                          help="ρ² is the linear CKA as d → ∞ (the textbook formula); the "
                          "solid CKA curve is the finite-d one, which is what the engine's "
                          "simulations measure.")
    log_err = st.checkbox("Log scale for the test error", True, key="logerr",
                          bind="query-params")

snr = snr_db_to_ratio(float(snr_db))


def _snr_curves(n: float, snr_dbs: np.ndarray) -> dict:
    """theory.curves' table along the SNR at a fixed n (theory.theory broadcasts)."""
    t = theory.theory(n, float(d), snr_db_to_ratio(snr_dbs), float(wd))
    return {"n": t.n, "snr_db": snr_dbs, "rho": t.rho, "cka": t.cka, "ii": t.ii,
            "ii_score": 1.0 - t.ii, "test_error": t.test_error, "cka_large_d": t.cka_large_d,
            "ii_large_d": t.ii_large_d, "ii_score_large_d": 1.0 - t.ii_large_d,
            "bias": t.bias, "variance": t.variance, "ridge": t.ridge}


try:
    if x_axis == "snr_db":
        n_fixed = float(max(2, round(nd_at * d)))  # as the simulations' n
        curves = _snr_curves(n_fixed, np.linspace(snr_range[0], snr_range[1], 400))
    else:
        n_values = np.linspace(max(1.0, nd_range[0] * d), nd_range[1] * d, 600)
        curves = theory.curves(float(d), snr, n_values, float(wd))
except ValueError as e:
    common.error(e)
    st.stop()
curves = dict(curves, d=float(d))

m1, m2, m3, m4 = teach.wrapping_columns([190] * 4)  # two rows at 800 px
i_star = int(np.argmin(curves["cka"]))
if x_axis == "snr_db":
    m1.metric("n / d", f"{nd_at:.2f}", help=f"n = {curves['n'][0]:.4g} samples, d = {d}")
    m2.metric(f"CKA at {snr_range[0]} dB", f"{curves['cka'][0]:.3f}",
              help="Finite-d linear CKA at the lowest SNR shown.")
    m3.metric(f"CKA at {snr_range[1]} dB", f"{curves['cka'][-1]:.3f}",
              help="Finite-d linear CKA at the highest SNR shown.")
    m4.metric(f"Test error at {snr_range[1]} dB", f"{curves['test_error'][-1]:.3g}")
else:
    m1.metric("SNR (ratio)", f"{snr:.3g}", help="10^(dB/10)")
    m2.metric(f"Lowest CKA (n/d = {curves['n'][i_star] / d:.2f})",
              f"{curves['cka'][i_star]:.3f}",
              help="The minimum of the (finite-d) CKA curve over the range shown, and where "
              "it is.")
    m3.metric("Test error at n = 2d", f"{float(theory.test_error(2 * d, d, snr, wd)):.3g}")
    m4.metric("ρ at n = 2d", f"{float(theory.rho(2 * d, d, snr, wd)):.3f}")

# ----------------------------------------------------------------------------- simulation
with st.sidebar:
    st.subheader("Simulation (what-if)")
    init_scale = st.select_slider("Initialisation scale", INIT_VALUES, value=0.01, key="init",
                                  bind="query-params", format_func=lambda v: f"{v:g}",
                                  help="The theory assumes a small initialisation; a large "
                                  "one keeps a random part in the weights.")
    if x_axis == "snr_db":
        sim_text = st.text_input("SNR values to simulate (dB)", "-5, 0, 10, 20, 30",
                                 key="sim_snr", bind="query-params",
                                 help="At the n / d above; comma-separated, -40 to 80 dB.")
    else:
        sim_text = st.text_input("n / d values to simulate", "0.4, 0.8, 1, 1.4, 3",
                                 key="sim_nd", bind="query-params")
    c1, c2 = st.columns(2)
    # Ranges from the spec (ui.controls): an out-of-range value is explained next to
    # its control, never dropped; the resource guard refuses what would take too long.
    width = controls.spec_number(c1, "width", 32, key="width")
    K = controls.spec_number(c2, "ensemble_size", rules.default("ensemble_size"), key="K", label="Ensemble size K")
    c1, c2 = st.columns(2)
    epochs = controls.spec_number(c1, "max_epochs", 500, step=50, key="epochs")
    seed = controls.spec_number(c2, "seed", rules.default("seed"), key="seed")
    probe = controls.spec_number(st, "n_probe", PAGE_PROBE, step=50, key="probe",
                                 label="Probe points N")
    c1, c2 = st.columns(2)
    optimizer = c1.selectbox("Optimiser", OPTIMIZERS, key="opt", bind="query-params",
                             help="The theory assumes (full-batch) gradient descent: sgd is "
                             "the faithful choice but needs many epochs near n = d; adam "
                             "(default) is much faster and lands close to it.")
    lr = controls.spec_number(c2, "lr", rules.default("lr"), step=0.005, format="%.4g", key="lr",
                              help="Lower it if members diverge (sgd at small n/d).")
    loss_tol = controls.spec_number(st, "loss_tol", rules.default("loss_tol"), format="%.3g", key="tol",
                                    help="A member stops once its training loss is below this.")
    slots = common.ErrorSlots()
    slots.add("width", "ensemble_size", "max_epochs", "seed", "n_probe", "loss_tol", "sim_nd",
              "sim_snr", "n_train", "snr_db", "dataset_params", "lr", "optimizer", "init_scale")
    slots.fallback()


def _sim_base() -> ExperimentSpec:
    return ExperimentSpec(dataset="linear-teacher", dataset_params={"d": int(d)},
                          noise="target", snr_db=float(snr_db),
                          n_train=max(2, round(nd_at * d)) if x_axis == "snr_db"
                          else 2 * int(d),
                          n_probe=int(probe), width=int(width), depth=1, activation="linear",
                          bias=False, ensemble_size=int(K), init_scale=float(init_scale),
                          optimizer=optimizer, lr=float(lr), max_epochs=int(epochs),
                          weight_decay=float(wd), loss_tol=float(loss_tol), seed=int(seed))


def _sim_sweep():
    from noisealign.engine.compute.sweep import Sweep
    if x_axis == "snr_db":
        lo, hi = common.spec_range("snr_db")
        snrs = sorted(common.number_list(sim_text, "sim_snr", lo=lo, hi=hi, max_items=12))
        return Sweep(_sim_base(), {"snr_db": snrs})
    nds = common.number_list(sim_text, "sim_nd", lo=0.02, hi=10.0, max_items=12)
    ns = sorted({max(2, round(v * d)) for v in nds})
    return Sweep(_sim_base(), {"n_train": ns})


def _x_of(spec: ExperimentSpec) -> float:
    return float(spec.snr_db) if x_axis == "snr_db" else spec.n_train / d


def _sim_frame(rows: list, source: str) -> pd.DataFrame:
    """Simulated values (noisealign.ui.tables.theory_sim_frame) plus the Information Imbalance Δ, at
    ``x`` (n/d or the SNR); labels say where they come from ("CKA (simulated)")."""
    frame = data.theory_sim_frame(rows, d=int(d))
    extra = []
    for r in rows:
        s_ = data.align_stat(r["summary"], "ii")
        if s_ is not None and np.isfinite(s_["mean"]):
            extra.append({"n": r["spec"].n_train, "nd": r["spec"].n_train / d,
                          "measure": "ii", "mean": s_["mean"], "sem": s_["sem"],
                          "label": "Δ (simulated)", "key": r["key"]})
    if extra:
        frame = pd.concat([frame, pd.DataFrame(extra)], ignore_index=True)
    x_by_key = {r["key"]: _x_of(r["spec"]) for r in rows}
    frame["x"] = frame["key"].map(x_by_key).astype(float)
    frame["label"] = frame["label"].str.replace("simulated", source, regex=False)
    return frame


def _explorer_sweep(entries: list, sim: ExperimentSpec | None
                    ) -> tuple[pd.DataFrame, ExperimentSpec | None]:
    """The alignment explorer's cached sweep that matches this view: linear networks on
    linear-teacher at this d, target noise, this weight decay and this SNR (n/d axis) or
    this n (SNR axis), runs that differ only along the x axis. The largest such group
    (at least two points), other than this page's own simulations; else an empty frame."""
    field = "snr_db" if x_axis == "snr_db" else "n_train"
    n_fixed_ = max(2, round(nd_at * d)) if x_axis == "snr_db" else None
    groups: dict[str, list] = {}
    for e in entries:
        sp = e.get("spec") or {}
        if (sp.get("dataset") != "linear-teacher" or sp.get("activation") != "linear"
                or sp.get("architecture", "mlp") != "mlp" or sp.get("noise") != "target"
                or (sp.get("dataset_params") or {}).get("d") != int(d)):
            continue
        try:
            spec = ExperimentSpec.from_dict(sp)
        except ValueError:
            continue
        if spec.weight_decay != float(wd) or (
                spec.n_train != n_fixed_ if x_axis == "snr_db" else spec.snr_db != float(snr_db)):
            continue
        if sim is not None and data.matches(sp, sim, vary=(field,)):
            continue  # this page's own simulations are drawn already
        rest = {k: v for k, v in spec.to_dict().items() if k not in (field, "device")}
        groups.setdefault(json.dumps(rest, sort_keys=True, default=str), []).append(
            {"key": e["key"], "spec": spec, "summary": e.get("summary")})
    best = max(groups.values(), key=len, default=[])
    if len(best) < 2:
        return pd.DataFrame(), None
    return _sim_frame(best, "explorer sweep"), best[0]["spec"]


sweep = common.build(_sim_sweep, slots)
base = sweep.base if sweep is not None else None

run_col, info_col = teach.wrapping_columns(["content", "stretch"])
clicked = run_col.button("Simulate", type="primary", icon=":material/play_arrow:",
                         disabled=sweep is None, key="simulate")
info_col.caption(f"Trains the same network with the engine at the {'SNR' if x_axis == 'snr_db' else 'n/d'} values of the sidebar "
                 f"(device: {common.device_label()}); finished points are cached and shown "
                 "as markers.")
if clicked and sweep is not None:
    fp = "theory:" + "|".join(s.content_hash() for s in sweep.specs())
    common.start_job(PAGE, fp, lambda m, sid: m.submit_sweep(sweep, sid))
job = common.job_panel(PAGE)

# Cached simulations of the same model: every cached entry that differs from the
# simulation settings only along the x axis (so earlier simulations appear too).
vary = ("snr_db",) if x_axis == "snr_db" else ("n_train",)
sims = pd.DataFrame()
if base is not None:
    rows = data.matching_entries(common.cache_entries(), base, vary=vary)
    if job is not None and job.kind == "sweep":
        rows = data.merge_points(rows, job.points, base, vary=vary)
    rows = shipped.merge(rows, sweep.specs())  # the findings presets' shipped summaries
    sims = _sim_frame(rows, "simulated")
explorer, explorer_spec = _explorer_sweep(common.cache_entries(), base)

fig = theory_plots.theory_figure(curves, x=x_axis, sims=sims, explorer=explorer, log_error=log_err,
                          large_d=large_d)
teach.chart(st, fig, key="theory_chart")
if base is not None:
    shipped.badge(rows, "**Simulate**")
st.caption("Top: alignment, higher = more aligned (ρ, the finite-d linear CKA, the "
           "Information Imbalance score 1 − Δ). Middle: the Information Imbalance Δ itself, "
           "lower = more aligned. Bottom: the test error."
           + (" Dashed line: the interpolation threshold n = d." if x_axis == "nd" else
              " The SNR does not move the interpolation threshold (n = d)."))
if x_axis == "nd":
    st.caption(notes.CKA_BUMP_CAPTION)  # in presentation mode too: not a folded box
notes.show(PAGE, x=x_axis, text=notes.theory_notice(curves, x_axis))
if len(sims):
    st.caption(f"Markers: {sims['n'].nunique() if x_axis == 'nd' else sims['x'].nunique()} "
               f"cached simulation(s) of this model "
               f"(K = {K}, width {width}, N = {probe} probe points, II with k = 1; "
               "bars: ± one standard error over the pairs). The theory's II is its "
               "large-N limit; at a finite N the simulated II can differ from it.")
else:
    st.caption("No cached simulation of these settings yet: press **Simulate**.")
if explorer_spec is not None:
    st.caption("Diamonds: the alignment explorer's cached sweep of this d, "
               + (f"n = {explorer_spec.n_train}" if x_axis == "snr_db"
                  else f"SNR = {explorer_spec.snr_db:g} dB")
               + f" and weight decay ({explorer['x'].nunique()} points; width "
               f"{explorer_spec.width}, K = {explorer_spec.ensemble_size}, "
               f"{'with' if explorer_spec.bias else 'without'} a bias, init scale "
               f"{explorer_spec.init_scale:g}"
               + ("; the bias moves its threshold to n = d + 1" if explorer_spec.bias
                  and x_axis == "nd" else "") + ").")

curve_df = pd.DataFrame({k: np.asarray(v, float) for k, v in curves.items()
                         if np.ndim(v) == 1})
curve_df.insert(1, "n_over_d", curve_df["n"] / d)
curve_df.insert(2, "snr_db", curve_df.pop("snr_db") if "snr_db" in curve_df else snr_db)
name = (f"theory_d{d}_nd{nd_at:g}_snr_axis.csv" if x_axis == "snr_db"
        else f"theory_d{d}_snr{snr_db}dB.csv")
items = [("Curves (CSV)", curve_df.to_csv(index=False), name, "text/csv")]
if len(sims):
    items.append(("Simulations (CSV)", sims.to_csv(index=False), "theory_simulations.csv",
                  "text/csv"))
if base is not None:
    items.append(("Simulation spec (JSON)", json.dumps(json.loads(base.to_json()), indent=2),
                  "simulation_spec.json", "application/json"))
common.downloads(items, key="theory_dl")
if sweep is not None:
    teach.reproduce(sweep.base, sweep.axes, sweep.replicates, what="the simulations")
