"""Alignment explorer: how similar are the representations of networks trained on
independently noised copies of one dataset, as noise, sample size and width change?"""

from __future__ import annotations

import json

import streamlit as st

from noisealign.engine.base.errors import SpecError
from noisealign.engine.pipeline.constraints import PAGE_PROBE, check_k, interval
from noisealign.engine.pipeline.datasets import DATASETS
from noisealign.engine.pipeline.spec import (
    LEVEL_OF_FIELD,
    NOISE_KINDS,
    ExperimentSpec,
    applies,
    noise_for_task,
)
from noisealign.ui import alignment_sidebar as sidebar
from noisealign.ui import (
    controls,
    labels,
    notes,
    plots,
    router,
    run_panel,
    runview,
    settle,
    stale,
    teach,
    widget_sync,
)
from noisealign.ui import page_support as common
from noisealign.ui import shipped_points as shipped
from noisealign.ui import tables as data

router.ensure_router()

PAGE = "alignment"

# Dashboard defaults (the sidebar's are in ui.alignment_sidebar): tiny, so the first
# screen is computed within seconds on a laptop CPU. The default view (alignment vs n, one
# curve per SNR: 18 points, ~20-30 s cold on two busy cores, BENCHMARKS.md) shows both lessons of the page: the dip near the threshold
# and alignment rising with the SNR.
X_DEFAULTS = {"n_train": "20, 35, 50, 70, 100, 200", "snr_db": "-5, 0, 5, 10, 20, 30",
              "width": "4, 8, 16, 32, 64, 128", "label_noise": "0, 0.1, 0.2, 0.4, 0.6",
              "init_scale": "0.01, 0.1, 1"}
S_DEFAULTS = {"snr_db": "0, 10, 20", "n_train": "25, 50, 100", "width": "16, 64, 256",
              "label_noise": "0, 0.2, 0.4", "init_scale": "0.1, 1"}
AXES = ["n_train", "snr_db", "width", "label_noise", "init_scale"]
SERIES_DEFAULT = "snr_db"
INT_AXES = {"n_train", "width"}

st.title("Alignment explorer")
st.caption("K networks trained on independently noised copies of one dataset: how alike "
           "are their hidden representations, and does that track their test error?")
common.help_box("""
**Setting.** Every member of the ensemble trains on the same clean inputs with its **own**
realisation of the noise (targets, inputs or labels). Their last hidden layers are compared
on a shared set of N clean probe points.

**Measures.** *Linear CKA* (Kornblith et al. 2019): 1 = identical up to rotation and scale.
*Information Imbalance* Δ(a→b) (Glielmo et al., PNAS Nexus 2022): how well the k nearest
neighbours in member a predict those in member b; 0 = fully informative, 1 = no information;
it is asymmetric, so the heatmap shows both directions. The *II score*
1 − (Δ(a→b) + Δ(b→a))/2 puts it on a 0..1 "higher is more aligned" scale.
*Mutual k-NN* (Huh et al. 2024): the mean fraction of shared k nearest neighbours.
Values depend on N and k, shown next to every number.

**Reading the plot.** Top: the mean alignment over all member pairs (band: ± one standard
error); bottom: the members' test error against clean targets. The dashed line is the
**interpolation threshold**, where the parameters P equal the fitted values n·outputs (for
linear activations the network is one linear map, so it sits at n = d). Umar & Laio
("Signal-to-noise ratio and sample size govern representational alignment") report that
alignment rises with SNR, dips near the threshold, and that higher alignment does not mean
lower test error. Click a point to open its run.
""")

cache, manager = common.services()
slots = common.ErrorSlots()


def _on_dataset_change() -> None:
    # Switching between regression and classification: pick a noise kind that applies;
    # a probe size above what the dataset holds comes down to all of it.
    name = st.session_state["dataset"]
    task = DATASETS[name].task
    noise = st.session_state.get("noise", "target")
    if noise_for_task(task, noise) != noise:
        st.session_state["noise"] = noise_for_task(task, noise)
    pool = sidebar.probe_pool(name)
    if st.session_state.get("probe", PAGE_PROBE) > pool:
        st.session_state["probe"] = pool
    _fit_series()


def _reset_values(axis_key: str, values_key: str, defaults: dict) -> None:
    # Pinned: a request the browser sent before it drew the new values must not put the
    # old ones back (ui.widget_sync; issue 17's "Series values: '' is invalid").
    widget_sync.set_value(values_key, defaults.get(st.session_state[axis_key], ""))


# The series that applies to each noise kind (an SNR has no effect on label noise).
SERIES_FOR_NOISE = {"target": SERIES_DEFAULT, "input": SERIES_DEFAULT,
                    "label": "label_noise", "none": "none"}


def _noise_now() -> str:
    """The noise kind the sidebar will hold this run (it is drawn after the series
    control): the control's value, else the link's, else the dataset's default."""
    if st.session_state.get("noise") in NOISE_KINDS:
        return st.session_state["noise"]
    if st.query_params.get("noise") in NOISE_KINDS:
        return st.query_params["noise"]
    name = st.session_state.get("dataset") or st.query_params.get("dataset")
    task = DATASETS[name].task if name in DATASETS else "regression"
    return noise_for_task(task, "target")


def _series_default(x: str, noise: str) -> str:
    """One curve per SNR (per label-noise rate for label noise); per n when that level
    is the x axis."""
    pick = SERIES_FOR_NOISE.get(noise, "none")
    if pick == x:
        return "n_train" if x != "n_train" else "none"
    return pick


def _fit_series() -> None:
    # A series the x axis or the noise kind makes meaningless moves to the default one.
    x, series = st.session_state.get("x", "n_train"), st.session_state.get("series")
    if series == x or (series in LEVEL_OF_FIELD and not applies(series, _noise_now())):
        st.session_state["series"] = _series_default(x, _noise_now())
        _reset_values("series", "ss", S_DEFAULTS)


def _on_x_change() -> None:
    # New x values; a series on the new x axis moves to the other default axis (the
    # default "alignment vs n per SNR" becomes "alignment vs SNR per n").
    _reset_values("x", "xs", X_DEFAULTS)
    _fit_series()


auto = True
mode = st.radio("View", ["Sweep", "Single run"], horizontal=True, key="mode",
                bind="query-params", label_visibility="collapsed")
if mode == "Sweep":
    row = teach.control_row()  # one row that wraps at 800 px instead of squeezing
    x_axis = controls.select_id(row, "x axis", AXES, key="x", width=250,
                                on_change=_on_x_change,
                                help="; ".join(f"**{a}**: {labels.label(a)}" for a in AXES))
    xs_text = row.text_input("x values", X_DEFAULTS[x_axis], key="xs", bind="query-params",
                             width=160, on_change=widget_sync.keep, args=("xs",))
    series = controls.select_id(row, "Series", ["none"] + AXES, key="series", width=250,
                                index=(["none"] + AXES).index(
                                    _series_default(x_axis, _noise_now())),
                                on_change=_reset_values, args=("series", "ss", S_DEFAULTS),
                                help="A second axis: one curve per value.")
    ss_text = row.text_input("Series values", S_DEFAULTS.get(series, ""), key="ss",
                             bind="query-params", disabled=series == "none", width=160,
                             on_change=widget_sync.keep, args=("ss",))
    auto = row.checkbox("Auto-run", True, key="auto", bind="query-params",
                         help="Compute missing points as soon as the settings change.")
    sweep_slots = common.ErrorSlots()
    sweep_slots.add("xs", "ss", "axis", "sweep")
    sweep_slots.fallback()
else:
    auto = st.checkbox("Auto-run", True, key="auto", bind="query-params",
                       help="Compute the run as soon as the settings change.")
# The fields the sweep sets: their sidebar controls are disabled ("set by the sweep axis").
swept = {x_axis, series} - {"none"} if mode == "Sweep" else set()


side = sidebar.sidebar(PAGE, slots, swept, on_dataset_change=_on_dataset_change,
                       on_noise_change=_fit_series)
noise, replicates = side["noise"], side["replicates"]
measure, k, knn_k = side["measure"], side["k"], side["knn_k"]


def _base() -> ExperimentSpec:
    v = side
    return ExperimentSpec(
        dataset=v["dataset"], dataset_params=v["dataset_params"], n_train=int(v["n_train"]),
        n_probe=int(v["n_probe"]), noise=v["noise"], snr_db=float(v["snr_db"]),
        label_noise=float(v["label_noise"]), label_noise_kind=v["label_noise_kind"],
        architecture=v["architecture"], width=int(v["width"]), depth=int(v["depth"]),
        activation=v["activation"], ensemble_size=int(v["ensemble_size"]),
        shared_init=bool(v["shared_init"]), init_scale=float(v["init_scale"]),
        optimizer=v["optimizer"], lr=float(v["lr"]), max_epochs=int(v["max_epochs"]),
        weight_decay=float(v["weight_decay"]), loss_tol=float(v["loss_tol"]),
        seed=int(v["seed"]), batch_size=int(v["batch_size"]), lr_schedule=v["lr_schedule"],
        grad_clip=float(v["grad_clip"]), snapshots=int(v["snapshots"]))


base = common.build(_base, slots)
for name, value in (("k", k), ("knn_k", knn_k)):
    if base is not None:
        try:
            check_k(int(value), base.n_probe, name)
        except SpecError as e:
            slots.show(e)
            base = None

if base is None:
    st.error("The settings above are invalid; the message next to the control says why.",
             icon=":material/error:")
    common.job_panel(PAGE)  # a job started before stays in sight, with its Cancel
    st.stop()

# One definition of P for the threshold (ExperimentSpec.effective_parameters): this header,
# the run view's metric, the plots' dashed line and the findings report agree.
if base.is_linear_map():
    eff = base.effective_parameters() // base.n_outputs()
    size_note = (f"P = {base.n_parameters():,} weights per network, but a linear network "
                 f"is one linear map with {eff} parameters per output: threshold at n = {eff}"
                 f" · P / (n·outputs) = {base.interpolation_ratio():.2f}")
else:
    size_note = (f"P = {base.n_parameters():,} parameters per network · "
                 f"P / (n·outputs) = {base.interpolation_ratio():.2f}")
st.caption(f"{size_note} · "
           f"{'Δ' if measure.startswith('ii') else data.MEASURE_SHORT[measure]} on "
           f"N = {base.n_probe} probe points"
           + (f", k = {k}" if measure.startswith("ii") else "")
           + (f", k = {knn_k}" if measure == "mknn" else "")
           + f" · device {common.device_label()}")


def _values(text: str, axis: str, name: str) -> list:
    lo, hi = common.spec_range(axis)  # the axis field's constraint
    return common.number_list(text, name, integer=interval(axis).kind is int, lo=lo, hi=hi)


# ============================================================================= single run
if mode == "Single run":
    fp = "run:" + base.content_hash()
    job = common.current_job(PAGE)
    result = job.result if (job is not None and job.spec == base and job.result is not None) \
        else None
    summary = cache.get_summary(base)
    if (summary is None and result is None and auto and not common.already_started(fp)
            and settle.ready(PAGE, fp) and common.auto_run_ok(fp, [base])):
        common.start_job(PAGE, fp, lambda m, sid: m.submit_run(base, sid))
    if st.button("Run", type="primary", icon=":material/play_arrow:", key="run_btn",
                 disabled=summary is not None):
        common.start_job(PAGE, fp, lambda m, sid: m.submit_run(base, sid))
    job = common.job_panel(PAGE)
    teach.reproduce(base, what="this run")
    if result is None and job is not None and job.spec == base and job.result is not None:
        result = job.result
    if summary is None and result is None:
        st.info("Not computed yet" + ("." if auto else ": press **Run** (or turn on Auto-run)."),
                icon=":material/info:")
        st.stop()
    runview.show_run(base, summary=summary, result=result, measure=measure, k=int(k),
                     knn_k=int(knn_k), key="single")
    st.stop()

# ============================================================================= sweep


def _sweep():
    from noisealign.engine.compute.sweep import Sweep
    if series != "none" and series == x_axis:
        raise SpecError("series", series, f"an axis other than the x axis ({x_axis!r})")
    axes = {x_axis: _values(xs_text, x_axis, "xs")}
    if series != "none":
        axes[series] = _values(ss_text, series, "ss")
    return Sweep(base, axes, replicates=int(replicates))


sweep = common.build(_sweep, sweep_slots)
if sweep is None:
    common.job_panel(PAGE)  # a job started before stays in sight, with its Cancel
    st.stop()
specs = sweep.specs()
fp = "sweep:" + "|".join(s.content_hash() for s in specs)

unit = "points" if sweep.replicates == 1 else f"runs ({sweep.replicates} seeds per point)"
rows, job = run_panel.sweep_run_panel(
    PAGE, fp, cache, sweep, auto, status=lambda rows: shipped.status_text(rows, unit) + ".")

frame = runview.sweep_frame(rows, x_axis=x_axis, series=series, measure=measure, k=int(k),
                            knn_k=int(knn_k))
threshold = base.interpolation_threshold(x_axis)
if frame.empty:
    if not stale.show(PAGE, key="sweep_chart_stale"):  # the last figure, dimmed (ui.stale)
        st.info("No point computed yet" + (": they appear here as they finish." if job else
                                            ": press **Run**."), icon=":material/info:")
    st.stop()

measure_label = f"{data.MEASURE_SHORT[measure]} (N={base.n_probe}" + (
    f", k={k})" if measure.startswith("ii") else f", k={knn_k})" if measure == "mknn" else ")")
error_label = "test MSE" if base.task == "regression" else "test error rate"
fig = plots.sweep_figure(frame, x=x_axis, x_label=labels.axis_title(x_axis),
                         measure_label=measure_label, error_label=error_label,
                         series_label=None if series == "none" else labels.label(series),
                         threshold=threshold,
                         chance=1 - 1 / base.n_outputs() if base.task == "classification"
                         else None)
event = teach.chart(st, fig, key="sweep_chart", on_select="rerun", selection_mode="points")
stale.remember(PAGE, fig)
shipped.badge(rows)
if measure == "ii" and (scale_note := notes.delta_scale_note(frame["align_mean"])):
    st.caption(scale_note)
if sweep.replicates > 1:
    st.caption(f"Mean over {sweep.replicates} data seeds; error bars: standard error "
               "across seeds (columns align_sem_pairs / error_sem_pairs in the CSV keep the "
               "within-run error over member pairs).")
else:
    st.caption("Error bars: standard error over member pairs of one data draw (pairs share "
               "members and data, so it understates the spread between draws: set "
               "Replicates to 2 or more for errors across seeds).")
if threshold is not None:
    x_name = labels.label(x_axis)
    st.caption(f"Dashed line: interpolation threshold at {x_name[0].lower()}{x_name[1:]} = "
               f"{threshold:.4g} (P = n · outputs"
               + ("; linear activations: one linear map with d + bias parameters per output)"
                  if base.is_linear_map() else ")"))
notes.show(PAGE, x=x_axis, series=series, noise=noise,
           text=notes.sweep_notice(frame, x=x_axis, x_name=labels.SHORT_AXIS.get(x_axis, x_axis),
                                   measure=data.MEASURE_SHORT[measure], threshold=threshold,
                                   series_name=labels.SHORT_AXIS.get(series, series)))

dl = frame.drop(columns=["key"]).assign(key=frame["key"].str[:16])
common.downloads([
    ("Plotted data (CSV)", dl.to_csv(index=False), f"alignment_{x_axis}.csv", "text/csv"),
    ("Spec (JSON)", json.dumps({"base": json.loads(base.to_json()),
                                "axes": {k_: list(v) for k_, v in sweep.axes.items()},
                                "replicates": sweep.replicates},
                               indent=2), "alignment_sweep.json", "application/json"),
], key="sweep_dl")

# ----------------------------------------------------------------------------- open a run
done_rows = [r for r in rows if r["summary"] is not None]


def _label(values: dict) -> str:
    return ", ".join(f"{a}={v:g}" if isinstance(v, float) else f"{a}={v}"
                     for a, v in values.items())


# Options are readable labels ("n_train=50"): the selection travels in the URL as is.
by_label = {_label(r["values"]): r for r in done_rows}
label_of_key = {r["key"]: lbl for lbl, r in by_label.items()}
picked = [p.get("customdata") for p in (event.selection.points if event else [])
          if p.get("customdata")]
if picked and picked[0] != st.session_state.get("_picked"):
    st.session_state["_picked"] = picked[0]
    if picked[0] in label_of_key and st.session_state.get("open") != label_of_key[picked[0]]:
        st.session_state["open"] = label_of_key[picked[0]]
options = ["none"] + list(by_label)

st.subheader("Open a run")
opened = controls.select_id(st, "Run", options, key="open", format_func=labels.point_label,
                            help="Or click a point of the plot (the link keeps the spec "
                            "names, e.g. n_train=50).")
if opened and opened != "none" and opened in by_label:
    r = by_label[opened]
    result = None
    if job is not None and job.kind == "run" and job.result is not None and job.spec == r["spec"]:
        result = job.result
    runview.show_run(r["spec"], summary=r["summary"], result=result, measure=measure,
                     k=int(k), knn_k=int(knn_k), key="opened")
