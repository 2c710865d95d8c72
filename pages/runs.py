"""Runs: every cached result as a table to filter, sort, inspect, export and delete."""

from __future__ import annotations

import json
import time

import streamlit as st

from engine.spec import ExperimentSpec
from ui import common, data, router, runview

router.ensure_router()

st.title("Runs")
st.caption("Every result in the cache: computed once, shown instantly everywhere.")
common.help_box("""
Each row is one **ensemble experiment** (K networks trained on independently noised copies
of one dataset) stored in the results cache, with its headline numbers: the mean test error
of the members (against clean targets), and the mean over member pairs of the alignment
measures of the last hidden layer on the probe set (linear CKA, Kornblith et al. 2019;
the Information Imbalance score, Glielmo et al. 2022; mutual k-NN, Huh et al. 2024).
Filter with the controls, sort by clicking a column header (or with *Sort by*), select a
row to see the full spec and summary, and export or delete what is shown.
""")

cache, manager = common.services()

try:
    entries = common.cache_entries()
except Exception as e:  # noqa: BLE001 -- a broken cache must not break the page
    common.error(f"The cache could not be read: {type(e).__name__}: {e}")
    entries = []

table = data.runs_table(entries)
volume = cache.volume()

c1, c2, c3 = st.columns(3)
c1.metric("Cached runs", len(table))
c2.metric("Cache size", data.human_bytes(volume))
c3.metric("Directory", str(cache.directory.name), help=str(cache.directory))

with st.sidebar:
    st.subheader("Filter")
    query = st.text_input("Contains", "", key="q", bind="query-params",
                          help="Matches any column, e.g. 'digits' or 'relu'.")
    datasets = sorted(table["dataset"].unique()) if len(table) else []
    chosen = st.multiselect("Datasets", datasets, default=[], key="ds", bind="query-params",
                            placeholder="all datasets")
    noises = sorted(table["noise"].unique()) if len(table) else []
    chosen_noise = st.multiselect("Noise kinds", noises, default=[], key="noise",
                                  bind="query-params", placeholder="all noise kinds")
    sort_cols = list(table.columns) if len(table) else ["created"]
    sort_by = st.selectbox("Sort by", sort_cols,
                           index=sort_cols.index("created") if "created" in sort_cols else 0,
                           key="sort", bind="query-params")
    descending = st.checkbox("Descending", True, key="desc", bind="query-params")

shown = data.filter_runs(table, query=query, datasets=chosen, noises=chosen_noise)
if len(shown) and sort_by in shown.columns:
    shown = shown.sort_values(sort_by, ascending=not descending, na_position="last")

if not len(table):
    st.info("The cache is empty. Run something on the other pages: every finished run "
            "appears here.", icon=":material/inbox:")
    st.stop()

st.caption(f"{len(shown)} of {len(table)} runs shown.")
event = st.dataframe(
    shown.drop(columns=["key"]), width="stretch", hide_index=True,
    on_select="rerun", selection_mode="single-row", key="runs_table",
    column_config={
        "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "bytes": st.column_config.NumberColumn("bytes", format="%d"),
        "test_error": st.column_config.NumberColumn("test error", format="%.4g"),
        "cka": st.column_config.NumberColumn("CKA", format="%.3f"),
        "ii_score": st.column_config.NumberColumn("II score", format="%.3f"),
        "mknn": st.column_config.NumberColumn("mutual k-NN", format="%.3f"),
    })

shown_keys = set(shown["key"])
export = [e for e in entries if e["key"] in shown_keys]
common.downloads([
    ("Table (CSV)", shown.to_csv(index=False), "runs.csv", "text/csv"),
    ("Specs and summaries (JSON)",
     json.dumps([data.json_safe({"key": e["key"], "spec": e["spec"], "summary": e["summary"],
                                 "created": e["created"]}) for e in export], indent=1),
     "runs.json", "application/json"),
], key="runs_dl")

# ----------------------------------------------------------------------------- details
st.subheader("Details")
if not len(shown):
    st.info("No run matches the filter.", icon=":material/filter_alt_off:")
    st.stop()
keys = list(shown["key"])
# Options are readable labels that end with the key's first 8 characters: the selection
# travels in the URL as is.
labels = [data.run_label(r) for r in shown.to_dict("records")]
key_of = dict(zip(labels, keys))
picked_rows = list(event.selection.rows) if event is not None and event.selection else []
# A new row selection in the table picks the run; otherwise the selectbox (and URL) rule.
if picked_rows != st.session_state.get("_runs_sel", []):
    st.session_state["_runs_sel"] = picked_rows
    if picked_rows:
        st.session_state["run"] = labels[picked_rows[0]]
if st.session_state.get("run") not in labels:  # filtered out, deleted, or a stale link
    st.session_state["run"] = labels[0]
run_label = st.selectbox("Run", labels, key="run", bind="query-params",
                         help="Or select a row in the table.")
if run_label is None or run_label not in key_of:
    st.stop()
key = key_of[run_label]
entry = next(e for e in entries if e["key"] == key)

left, right = st.columns([1, 1])
with left:
    st.markdown("**Spec**")
    st.json(data.json_safe(entry["spec"]), expanded=True)
with right:
    st.markdown("**Summary**")
    st.json(data.json_safe(data.summary_headline(entry["summary"])), expanded=True)
    st.caption(f"key `{key}` · stored {time.strftime('%Y-%m-%d %H:%M', time.localtime(entry['created']))}"
               f" · {data.human_bytes(entry['bytes'])}"
               + ("" if entry.get("has_representations") else " · without representations"))

try:
    run_spec = ExperimentSpec.from_dict(entry["spec"])
except ValueError:
    run_spec = None
if run_spec is not None and run_spec.snapshots:
    runview.show_over_training(run_spec, summary=entry["summary"],
                               result=runview.load_result(run_spec), measure=None,
                               k=runview.DEFAULT_K, knn_k=runview.DEFAULT_KNN_K, key="runs")

spec_json = json.dumps(data.json_safe(entry["spec"]), indent=2)
common.downloads([
    ("Spec (JSON)", spec_json, f"spec_{key[:12]}.json", "application/json"),
    ("Summary (JSON)", json.dumps(data.json_safe(entry["summary"]), indent=1),
     f"summary_{key[:12]}.json", "application/json"),
], key="run_dl")

with st.expander("Delete", icon=":material/delete:"):
    sure = st.checkbox("Yes, delete this run from the cache", key="confirm_delete")
    if st.button("Delete this run", disabled=not sure, key="delete_one", type="primary"):
        cache.delete(key)
        st.session_state.pop("run", None)
        st.toast("Deleted.")
        st.rerun()
    sure_all = st.checkbox(f"Yes, delete all {len(shown)} runs shown", key="confirm_delete_all")
    if st.button("Delete all shown", disabled=not sure_all, key="delete_all"):
        for k in shown["key"]:
            cache.delete(k)
        st.session_state.pop("run", None)
        st.toast(f"Deleted {len(shown)} runs.")
        st.rerun()
