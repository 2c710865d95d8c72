"""Compare: every measure between a user's own representations (or the bundled example),
as heatmaps, the information-imbalance plane, best-matching layers and a table."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from noisealign.engine.base.validation import max_k
from noisealign.engine.own_models.pairs import (
    KNN_METRICS,
    MEASURE_LABELS,
    MEASURES,
    Limits,
    best_matches,
    compare,
    example_arrays,
    ii_plane,
    load_arrays,
    matrix,
    split_name,
    to_csv,
    to_json,
)
from noisealign.engine.pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K
from noisealign.ui import controls, plots, router
from noisealign.ui import page_support as common

router.ensure_router()

# The page computes in the visitor's own script run, so it takes fewer arrays than the
# engine (noisealign.engine.own_models.pairs.LIMITS) and computes exactly on at most EXACT_MAX points (a full
# table of 16 arrays of 5,000 points stays within about a minute on a 2-core CPU); larger
# N (up to the engine's limit) is computed on random subsets, with errors over them.
# An upload's arrays together take at most 512 MiB as float64 on this page (checked on the
# file's headers before any data is read; issue 29: a 261 KB zip declared 2 GB).
PAGE_LIMITS = Limits(max_arrays=16, max_bytes=2**29)
EXACT_MAX = 5000
PAIRWISE = [m for m in MEASURES if m not in ("id", "ii_labels")]
SOURCES = ["example", "upload"]
_UPLOAD_KEY = "_compare_loaded"  # session state: (digest, arrays, labels) of one upload


@st.cache_data(max_entries=1, show_spinner=False)
def _example() -> tuple[dict, np.ndarray | None]:
    inputs = example_arrays()
    return inputs.arrays, inputs.labels


def _load(data: bytes | None) -> tuple[str, dict, np.ndarray | None]:
    """(digest, arrays, labels) of the example or an upload.

    An upload's arrays live in this session's state only, one upload at a time: they go
    when the visitor uploads another file or the session ends. (A process-wide
    ``st.cache_data`` kept up to 8 of them, 1 GB each, after their tabs closed.)"""
    if data is None:
        return ("example", *_example())
    digest = hashlib.sha256(data).hexdigest()
    held = st.session_state.get(_UPLOAD_KEY)
    if held is not None and held[0] == digest:
        return held
    st.session_state.pop(_UPLOAD_KEY, None)  # the previous upload goes before the next loads
    inputs = load_arrays(data, limits=PAGE_LIMITS)
    held = (digest, inputs.arrays, inputs.labels)
    st.session_state[_UPLOAD_KEY] = held
    return held


@st.cache_data(max_entries=16, show_spinner=False)
def _table(digest: str, measures: tuple[str, ...], k: int, knn_k: int, metric: str,
           subsample: int | None, repeats: int, _arrays: dict,
           _labels: np.ndarray | None) -> list[dict]:
    # Keyed by the data's digest; the arrays themselves are not hashed nor kept (only
    # the small table is).
    return compare(_arrays, _labels, measures=list(measures), k=k, knn_k=knn_k,
                   knn_metric=metric, subsample=subsample, repeats=repeats,
                   limits=PAGE_LIMITS)


st.title("Compare representations")
st.caption("Your own activations — several models, several layers, the same N inputs — "
           "compared with every measure of the engine (`noisealign.engine.own_models.pairs`, the same as "
           "`noisealign compare`).")
upload_mb = int(st.get_option("server.maxUploadSize"))
common.help_box(f"""
**Input.** One `.npz` file (`numpy.savez`) holding arrays named `model/layer` (or plain
names), each `N × D` over the **same N inputs** in the same order, and optionally
`labels` (N integer class ids). Files are read with `allow_pickle=False`. On this page:
at most **{upload_mb} MB** per upload, **{PAGE_LIMITS.max_arrays} arrays** holding at
most **{PAGE_LIMITS.max_bytes // 2**20:,} MiB** as float64 together (checked on the file's
headers before its data is read; a `.safetensors` file is read too),
**N from {PAGE_LIMITS.min_points} to {PAGE_LIMITS.max_points:,}**; above
{EXACT_MAX:,} points every measure is computed on random subsets of at most
{EXACT_MAX:,} points and reported as their mean, with the standard deviation and
standard error over the subsets in the table (the command line, `noisealign compare`,
computes exactly up to {PAGE_LIMITS.max_points:,}, `--subsample` on request). The bundled example has two
3-layer "models" and an unrelated `random` array over 600 inputs from 6 classes.

**Measures.** *Information Imbalance* Δ(a→b) (Glielmo et al. 2022), exact over all N
points: near 0 when a's neighbourhoods predict b's, about 1 when they carry no
information; asymmetric, so both directions. The *II score* is 1 − (Δ(a→b) + Δ(b→a))/2.
*Linear CKA* (Kornblith et al. 2019) and its debiased form. *Mutual k-NN* (Huh et al.
2024): the mean fraction of shared k nearest neighbours, by Euclidean distance or — the
*cosine* switch — by cosine similarity (rows L2-normalised, the platonic-rep convention).
*CKNNA*: CKA restricted to mutual k-NN pairs (inner-product neighbours). *Intrinsic
dimension*: TwoNN via dadapy. With labels, Δ(a→labels): how well each array's
neighbourhoods predict the classes. See `docs/science.md`.

**Views.** A heatmap per measure (row a, column b); the *information-imbalance plane*
(Δ(a→b) against Δ(b→a): a point below the diagonal means a contains more of b's
information than b of a's); the *best-matching layer* of each layer in every other
model; the full table, downloadable. The settings (not the data) are in the URL.
""")

with st.sidebar:
    st.subheader("Data")
    # Options are the URL's values (no format_func: a link holds what the control shows).
    source = st.radio("Source", SOURCES, key="src", bind="query-params", horizontal=True,
                      help="example: the bundled example (7 arrays, N = 600); upload: "
                           "your own .npz.")
    st.subheader("Measures")
    # Names in the menus, ids in the URL (ui.controls: links keep ?measures=ii).
    chosen = controls.multiselect_id(st, "Measures", list(MEASURES), default=list(MEASURES),
                                     key="measures", format_func=MEASURE_LABELS.get,
                                     help="; ".join(f"**{m}**: {MEASURE_LABELS[m]}" for m in MEASURES)
                                     + f". {MEASURE_LABELS['ii_labels']} needs labels in the file.")
    k = st.number_input("k (Information Imbalance)", 1, PAGE_LIMITS.max_points - 2, DEFAULT_K,
                        key="k", bind="query-params",
                        help="Neighbours in a for Δ(a→b); 1 to N − 2.")
    knn_k = st.number_input("k (mutual k-NN, CKNNA)", 1, PAGE_LIMITS.max_points - 2,
                            DEFAULT_KNN_K,
                            key="knn_k", bind="query-params",
                            help="Neighbours for mutual k-NN and CKNNA; 1 to N − 2.")
    metric = st.radio("Mutual k-NN neighbours", KNN_METRICS, key="knn_metric",
                      bind="query-params", horizontal=True,
                      help="euclidean: this project's convention. cosine: rows scaled to "
                           "unit length first, then nearest by inner product, as in "
                           "platonic-rep (Huh et al. 2024).")

data: bytes | None = None
if source == "upload":
    up = st.file_uploader(f"A .npz file (at most {upload_mb} MB; "
                          f"{PAGE_LIMITS.max_arrays} arrays, N ≤ {PAGE_LIMITS.max_points:,}; "
                          f"above {EXACT_MAX:,} points on subsets)",
                          type=["npz", "safetensors"], key="upload")
    if up is None:
        st.info("Upload a `.npz` of arrays named `model/layer` (each N × D, the same N "
                "inputs), optionally with `labels`; or switch to the bundled example.",
                icon=":material/upload_file:")
        st.stop()
    data = up.getvalue()
else:
    st.session_state.pop(_UPLOAD_KEY, None)

try:
    digest, arrays, labels = _load(data)
    names = list(arrays)
    n = next(iter(arrays.values())).shape[0]
    measures = tuple(m for m in chosen if labels is not None or m != "ii_labels")
    if not measures:
        st.warning("Choose at least one measure.", icon=":material/rule:")
        st.stop()
    subsample, repeats = None, 0
    if n > EXACT_MAX:
        with st.sidebar:
            st.subheader(f"Subsets (N > {EXACT_MAX:,})")
            subsample = int(st.number_input(
                "Points per subset", PAGE_LIMITS.min_points, EXACT_MAX, 2000, key="sub",
                bind="query-params", help=f"N = {n:,} is above the page's exact limit "
                f"({EXACT_MAX:,}): every measure is the mean over random subsets."))
            repeats = int(st.number_input("Subsets", 2, 20, 3, key="reps",
                                          bind="query-params",
                                          help="Random subsets (seed 0); the table shows "
                                               "the std and standard error over them."))
    with st.spinner(f"Comparing {len(names)} arrays of N = {n:,} points..."):
        rows = _table(digest, measures, int(k), int(knn_k), metric, subsample, repeats,
                      arrays, labels)
except ValueError as e:
    common.error(e)
    st.stop()

st.caption(f"{len(names)} arrays, N = {n:,} points"
           + (f", {len(np.unique(labels))} classes" if labels is not None else ", no labels")
           + f"; k = {int(k)} (II), k = {int(knn_k)} ({metric}, mutual k-NN / CKNNA); "
           f"k ≤ N − 2 = {max_k(n if subsample is None else subsample):,}."
           + ("" if subsample is None else
              f" Computed on {repeats} random subsets of {subsample:,} points: values are "
              "their means (std and sem in the table)."))
if labels is None and "ii_labels" in chosen:
    st.caption("Δ(a→labels) is left out: the file has no `labels` array.")
notes = sorted({r["note"] for r in rows if r["note"].startswith(("skipped", "undefined"))})
for note in notes:
    common.warning(note, icon=":material/info:")

# ----------------------------------------------------------------------- heatmaps
pairwise = [m for m in measures if m in PAIRWISE]
if pairwise and len(names) > 1:
    st.subheader("Heatmaps")
    shown = controls.select_id(st, "Measure", pairwise, key="heat",
                               format_func=MEASURE_LABELS.get, help="; ".join(f"**{m}**: {MEASURE_LABELS[m]}" for m in pairwise))
    mnames, mat = matrix(rows, shown)
    st.plotly_chart(plots.names_heatmap(mat, mnames, title=MEASURE_LABELS[shown],
                                        reverse=shown == "ii"),
                    width="stretch", key="heatmap")
    st.caption("Row a, column b; the diagonal is not computed."
               + (" Δ: lower = a predicts b better (colours reversed)." if shown == "ii" else ""))

per_array = [m for m in measures if m in ("id", "ii_labels")]
for m in per_array:
    vals = [r for r in rows if r["measure"] == m]
    models = list(dict.fromkeys(r["model_a"] for r in vals))
    layers = list(dict.fromkeys(r["layer_a"] or "(no layer)" for r in vals))
    grid = np.full((len(models), len(layers)), np.nan)
    for r in vals:
        grid[models.index(r["model_a"]), layers.index(r["layer_a"] or "(no layer)")] = r["value"]
    st.plotly_chart(plots.names_heatmap(grid, models, cols=layers, title=MEASURE_LABELS[m],
                                        row_title="model", col_title="layer",
                                        reverse=m == "ii_labels"),
                    width="stretch", key=f"heat_{m}")

# ------------------------------------------------------------------ the II plane
if "ii" in measures and len(names) > 1:
    st.subheader("Information-imbalance plane")
    st.plotly_chart(plots.ii_plane_figure(ii_plane(rows)), width="stretch", key="plane")
    st.caption("One point per pair (hover for the names). Below the diagonal: Δ(a→b) < "
               "Δ(b→a), a predicts b's neighbourhoods better than b predicts a's.")

# ------------------------------------------------------------ best-matching layer
models = list(dict.fromkeys(split_name(nm)[0] for nm in names))
if len(models) > 1 and pairwise:
    st.subheader("Best-matching layer")
    by = controls.select_id(st, "By", pairwise, key="best_by",
                            format_func=MEASURE_LABELS.get, help="For each layer of model A, the layer of model B with the highest "
                           "similarity (the lowest Δ(a→b) for the Information Imbalance).")
    best = pd.DataFrame(best_matches(rows, by))
    if len(best):
        st.dataframe(best[["model_a", "layer_a", "model_b", "best_layer_b", "value"]],
                     hide_index=True, width="stretch", key="best_table")

# ---------------------------------------------------------------------- the table
st.subheader("Table")
df = pd.DataFrame(rows)
st.dataframe(df, hide_index=True, width="stretch", key="table",
             column_config={"value": st.column_config.NumberColumn("value", format="%.5g")})
common.downloads([
    ("Table (CSV)", to_csv(rows), "compare.csv", "text/csv"),
    ("Table (JSON)", to_json(rows), "compare.json", "application/json"),
], key="compare_dl")
