"""Runs: every cached result as a table to filter, group, name, tag, open, compare,
export and delete."""

from __future__ import annotations

import json
import time

import streamlit as st

from noisealign.engine.base.validation import for_markdown
from noisealign.engine.pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.store import labels as runlabels
from noisealign.ui import page_support as common
from noisealign.ui import plots, router, runview
from noisealign.ui import tables as data

router.ensure_router()

st.title("Runs")
st.caption("Every result in the cache: computed once, shown instantly everywhere.")
common.help_box(f"""
Each row is one **ensemble experiment** (K networks trained on independently noised copies
of one dataset) stored in the results cache, with its headline numbers: the mean test error
of the members (against clean targets), and the mean over member pairs of the alignment
measures of the last hidden layer on the probe set (linear CKA, Kornblith et al. 2019;
the Information Imbalance score, Glielmo et al. 2022; mutual k-NN, Huh et al. 2024).

- **Filter** with the controls in the sidebar, sort by clicking a column header (or with
  *Sort by*), and export or delete what is shown.
- **Name and tag** a run to find it again: tags are comma-separated (at most
  {runlabels.TAGS_MAX}, each at most {runlabels.TAG_MAX} characters; a name at most
  {runlabels.NAME_MAX}). They are stored in the cache with the run and deleted with it.
- **Group by sweep** puts together the runs whose specs differ only in the fields a sweep
  varies ({", ".join(data.SWEEP_FIELDS)}); *varies* lists those that differ within the
  group. *Group by dataset* puts together the runs on one dataset (and its parameters).
- **Open a run** (select a row, or pick it below) to see it as the alignment page shows a
  single run: the K x K matrix, the members' test errors, and the measures over training
  when the run kept snapshots. Its spec and summary are under *Spec and summary*.
- **Compare two runs**: the spec fields that differ, the headline numbers side by side,
  and both K x K matrices on one colour scale.
""")

cache, manager = common.services()

try:
    entries = common.cache_entries()
    run_labels = cache.labels()
except Exception as e:  # noqa: BLE001 -- a broken cache must not break the page
    common.error(f"The cache could not be read: {type(e).__name__}: {e}")
    entries, run_labels = [], {}
unreadable = cache.unavailable()  # else the page would say 0 runs of a cache not read
if unreadable is not None:
    common.error(f"The results cache in {cache.directory} cannot be read ({unreadable}): "
                 "no runs can be shown. The runs stored there are kept; give this server's "
                 "user access to the folder (or set NOISEALIGN_CACHE_DIR) and reload.")

table = data.runs_table(entries, run_labels)
volume = cache.volume()

c1, c2, c3 = st.columns(3)
c1.metric("Cached runs", len(table))
c2.metric("Cache size", data.human_bytes(volume))
c3.metric("Directory", str(cache.directory.name), help=str(cache.directory))

with st.sidebar:
    st.subheader("Filter")
    query = st.text_input("Contains", "", key="q", bind="query-params",
                          help="Matches any column, e.g. 'digits', 'relu', a name or a tag.")
    chosen_tags = st.multiselect("Tags", data.table_tags(table), default=[], key="tags",
                                 bind="query-params", placeholder="any tags",
                                 help="Runs with at least one of these tags.")
    datasets = sorted(table["dataset"].unique()) if len(table) else []
    chosen = st.multiselect("Datasets", datasets, default=[], key="ds", bind="query-params",
                            placeholder="all datasets")
    noises = sorted(table["noise"].unique()) if len(table) else []
    chosen_noise = st.multiselect("Noise kinds", noises, default=[], key="noise",
                                  bind="query-params", placeholder="all noise kinds")
    group_by = st.selectbox(
        "Group by", data.GROUP_BY, key="group_by", bind="query-params",
        help="sweep: runs whose specs differ only in " + ", ".join(data.SWEEP_FIELDS)
        + " (one sweep, its replicate seeds included); dataset: runs on the same dataset "
        "with the same parameters. Adds the columns group, group_size and varies.")
    table = data.add_groups(table, entries, group_by)
    group = None
    if group_by != "none":
        group_ids = list(dict.fromkeys(table["group"])) if len(table) else []
        group = st.selectbox("Group", ["all", *group_ids], key="group", bind="query-params",
                             help="Show one group only (its id is in the table's group "
                             "column).")
        group = None if group == "all" else group
    sort_cols = list(table.columns.drop("key")) if len(table) else ["created"]
    sort_by = st.selectbox("Sort by", sort_cols,
                           index=sort_cols.index("created") if "created" in sort_cols else 0,
                           key="sort", bind="query-params")
    descending = st.checkbox("Descending", True, key="desc", bind="query-params")

shown = data.filter_runs(table, query=query, datasets=chosen, noises=chosen_noise,
                         tags=chosen_tags, group=group)
if len(shown) and sort_by in shown.columns:
    shown = shown.sort_values(sort_by, ascending=not descending, na_position="last")
    if group_by != "none":  # a group's runs stay together, sorted within it
        shown = shown.sort_values("group", kind="stable")

if not len(table):
    st.info("The cache is empty. Run something on the other pages: every finished run "
            "appears here.", icon=":material/inbox:")
    st.stop()

st.caption(f"{len(shown)} of {len(table)} runs shown"
           + (f", in {shown['group'].nunique()} {group_by} group(s)." if group_by != "none"
              else "."))
event = st.dataframe(
    shown.drop(columns=["key"]), width="stretch", hide_index=True,
    on_select="rerun", selection_mode="single-row", key="runs_table",
    column_config={
        "name": st.column_config.TextColumn("name", help="Set under Open a run."),
        "tags": st.column_config.TextColumn("tags", help="Comma-separated."),
        "group": st.column_config.TextColumn("group", help="Filter to it with Group."),
        "group_size": st.column_config.NumberColumn("group size", format="%d"),
        "varies": st.column_config.TextColumn(
            "varies", help="The sweep fields whose values differ within the group."),
        "created": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        "bytes": st.column_config.NumberColumn("bytes", format="%d"),
        "test_error": st.column_config.NumberColumn("test error", format="%.4g"),
        **{m: st.column_config.NumberColumn(data.MEASURE_SHORT[m], format="%.3f")
           for m in ("cka", "ii_score", "mknn")},
    })

shown_keys = set(shown["key"])
export = [e for e in entries if e["key"] in shown_keys]
no_label: dict = {"name": "", "tags": []}
common.downloads([
    ("Table (CSV)", shown.to_csv(index=False), "runs.csv", "text/csv"),
    ("Specs and summaries (JSON)", json.dumps(data.runs_export(export, run_labels), indent=1),
     "runs.json", "application/json"),
], key="table_dl")

if not len(shown):
    st.info("No run matches the filter.", icon=":material/filter_alt_off:")
    st.stop()

keys = list(shown["key"])
# Options are the runs' keys, shown as readable labels; the URL names the run by its key
# (set by the page: a bound selectbox would put the label there), so a rename or a new
# run never makes a link open another one (issue 29).
labels = [data.run_label(r) for r in shown.to_dict("records")]
label_of = dict(zip(keys, labels))
entry_of = {e["key"]: e for e in export}
all_keys = {e["key"] for e in entries}


def _spec(entry: dict) -> ExperimentSpec | None:
    """The run's spec, or None when this engine cannot read it (an older format)."""
    try:
        return ExperimentSpec.from_dict(entry["spec"])
    except (ValueError, TypeError):
        return None


def _settings(entry: dict) -> tuple[int, int]:
    """(k, k-NN k) its summary was measured with: its numbers are then read, not
    recomputed."""
    s = data.summary_settings(entry["summary"])
    return int(s.get("k") or DEFAULT_K), int(s.get("knn_k") or DEFAULT_KNN_K)


def _measure_select(key: str) -> str:
    measures = list(data.MEASURE_LABELS)
    return st.selectbox("Alignment measure", measures, index=measures.index("cka"), key=key,
                        bind="query-params", format_func=lambda m: data.MEASURE_LABELS[m])


def _pick(state_key: str, default: str) -> None:
    """Keep a run selectbox's state on a key that is shown; a link (or a state) naming
    a run that is not -- deleted, filtered out, unknown, a label instead of a key -- is
    said, and the default shown instead."""
    wanted = st.session_state.get(state_key)
    if wanted is None and state_key in st.query_params:  # a link's first run
        wanted = st.query_params[state_key]
        if wanted in label_of:
            st.session_state[state_key] = wanted
    if wanted in label_of:
        return
    if wanted:
        why = ("is not among the runs shown (filtered out)" if wanted in all_keys else
               "is not in the cache (deleted, or not a run key)")
        common.warning(f"The run {wanted} named by the link {why}: showing "
                       f"{label_of[default]} instead.")
    st.session_state[state_key] = default


def _delete(drawn: tuple[str, ...], what: str) -> None:
    """Delete exactly the runs ``drawn`` (the keys the button was drawn for, passed at
    draw time): a run deleted meanwhile elsewhere is reported, nothing else touched."""
    gone = [k for k in drawn if not cache.delete(k)]
    deleted = len(drawn) - len(gone)
    st.session_state["_delete_note"] = (
        f"Deleted {deleted} run(s)." + ("" if not gone else
                                        f" {len(gone)} of the {what} had been deleted "
                                        f"elsewhere meanwhile: {', '.join(gone[:3])}"
                                        + ("..." if len(gone) > 3 else "")))
    st.session_state.pop("run", None)
    st.query_params.pop("run", None)  # the page's own link to a run just deleted
    for box in ("confirm_delete", "confirm_delete_all"):
        st.session_state[box] = False


note = st.session_state.pop("_delete_note", None)
if note:
    (common.warning if "elsewhere" in note else common.info)(note)


view = st.radio("Show", ["Open a run", "Compare two runs"], key="view", horizontal=True,
                bind="query-params", label_visibility="collapsed")

# ----------------------------------------------------------------------------- one run
if view == "Open a run":
    picked_rows = list(event.selection.rows) if event is not None and event.selection else []
    # A new row selection in the table picks the run; otherwise the selectbox (and URL) rule.
    if picked_rows != st.session_state.get("_runs_sel", []):
        st.session_state["_runs_sel"] = picked_rows
        if picked_rows:
            st.session_state["run"] = keys[picked_rows[0]]
    _pick("run", keys[0])
    key = st.selectbox("Run", keys, key="run", format_func=label_of.__getitem__,
                       help="Or select a row in the table.")
    st.query_params["run"] = key  # the link names the run by its key (not its label)
    entry = entry_of[key]
    if st.session_state.get("_delete_drawn") != key:  # a tick is for the run it was given on
        st.session_state["_delete_drawn"] = key
        st.session_state["confirm_delete"] = False
    label = run_labels.get(key, no_label)

    st.subheader(for_markdown(label["name"], limit=runlabels.NAME_MAX + 40)
                 if label["name"] else "Unnamed run")
    # The inputs show the stored name and tags of the run opened (set before they are
    # drawn; after a save the next run reads them back, normalised).
    if st.session_state.get("_label_run") != key:
        st.session_state["_label_run"] = key
        st.session_state["label_name"] = label["name"]
        st.session_state["label_tags"] = runlabels.tags_text(label["tags"])
    n1, n2, n3 = st.columns([3, 3, 1], vertical_alignment="bottom")
    new_name = n1.text_input("Name", key="label_name", max_chars=runlabels.NAME_MAX,
                             placeholder="e.g. baseline for lecture 3")
    new_tags = n2.text_input("Tags", key="label_tags",
                             placeholder="comma-separated, e.g. lecture, label noise",
                             help=f"At most {runlabels.TAGS_MAX} tags of at most "
                             f"{runlabels.TAG_MAX} characters each, no commas inside a tag.")
    if n3.button("Save", key="label_save", icon=":material/sell:"):
        try:
            cache.set_label(key, name=new_name, tags=new_tags)
        except (ValueError, OSError) as e:
            common.error(e)
        else:
            st.session_state["_label_run"] = None  # reread what was stored
            st.toast("Name and tags saved.")
            st.rerun()

    run_spec = _spec(entry)
    if run_spec is None:
        common.info("This run's spec is from another engine version and cannot be opened; "
                    "its stored spec and summary are below.")
    else:
        measure = _measure_select("runs_measure")
        k, knn_k = _settings(entry)
        own_model = data.own_model_name(entry)
        if own_model:  # its key is not the spec's: load it by key, never as a built-in run
            common.info(f"An own architecture, {own_model!r} (noisealign.engine.own_models.architectures): the "
                        "spec's width, depth, activation and init_scale do not apply.")
        runview.show_run(run_spec, summary=entry["summary"],
                         result=cache.get_by_key(key, run_spec) if own_model else None,
                         measure=measure, k=k, knn_k=knn_k, key="runs")

    with st.expander("Spec and summary (JSON)", icon=":material/data_object:",
                     expanded=run_spec is None):
        left, right = st.columns([1, 1])
        with left:
            st.markdown("**Spec**")
            st.json(data.json_safe(entry["spec"]), expanded=True)
        with right:
            st.markdown("**Summary**")
            st.json(data.json_safe(data.summary_headline(entry["summary"])), expanded=True)
        st.caption(f"key `{key}` · stored "
                   f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(entry['created']))}"
                   f" · {data.human_bytes(entry['bytes'])}"
                   + ("" if entry.get("has_representations") else " · without representations"))
        common.downloads([
            ("Spec (JSON)", json.dumps(data.json_safe(entry["spec"]), indent=2),
             f"spec_{key[:12]}.json", "application/json"),
            ("Summary (JSON)", json.dumps(data.json_safe(entry["summary"]), indent=1),
             f"summary_{key[:12]}.json", "application/json"),
        ], key="run_dl")

    with st.expander("Delete", icon=":material/delete:"):
        # Each button carries the key(s) it was drawn for (on_click args): its click acts
        # on those only, even if the page would draw other runs in the click's rerun.
        sure = st.checkbox("Yes, delete this run from the cache", key="confirm_delete")
        st.button("Delete this run", disabled=not sure, key="delete_one", type="primary",
                  on_click=_delete, args=((key,), "run"),
                  help=f"Deletes the run {key[:12]}… only.")
        drawn = tuple(shown["key"])
        if st.session_state.get("_delete_all_drawn") != drawn:
            st.session_state["_delete_all_drawn"] = drawn
            st.session_state["confirm_delete_all"] = False
        sure_all = st.checkbox(f"Yes, delete all {len(shown)} runs shown",
                               key="confirm_delete_all")
        st.button("Delete all shown", disabled=not sure_all, key="delete_all",
                  on_click=_delete, args=(drawn, f"{len(drawn)} runs shown"))
    st.stop()

# ----------------------------------------------------------------------------- compare
if len(labels) < 2:
    st.info("Comparing needs two runs: loosen the filter, or run another one.",
            icon=":material/compare_arrows:")
    st.stop()
_pick("cmp_a", keys[0])
_pick("cmp_b", keys[1])
a_col, b_col = st.columns(2)
key_a = a_col.selectbox("Run A", keys, key="cmp_a", format_func=label_of.__getitem__)
key_b = b_col.selectbox("Run B", keys, key="cmp_b", format_func=label_of.__getitem__)
st.query_params["cmp_a"], st.query_params["cmp_b"] = key_a, key_b  # links name keys
entry_a, entry_b = entry_of[key_a], entry_of[key_b]
if key_a == key_b:
    common.info("Run A and run B are the same run: pick another one for B.")

frame = data.compare_frame(entry_a, entry_b)


def _highlight(row) -> list[str]:
    # The spec fields (all of them differ) and settings that differ, which make the
    # measures not directly comparable.
    on = row["kind"] == "spec" or (row["kind"] == "setting" and row["differs"])
    return ["background-color: rgba(255, 190, 0, 0.25)" if on else ""] * len(row)


n_spec = int((frame["kind"] == "spec").sum())
st.caption(("The runs' specs are identical." if n_spec == 0 else
            f"Highlighted: the {n_spec} spec field(s) that differ.") +
           " Below them: the headline measures (mean ± standard error over members or "
           "member pairs) and the settings they were measured with.")
st.dataframe(frame.style.apply(_highlight, axis=1), hide_index=True, width="stretch",
             key="compare_table", column_order=["quantity", "run A", "run B"],
             column_config={"quantity": st.column_config.TextColumn("", width="medium")})
common.downloads([("Comparison (CSV)", frame.to_csv(index=False), "compare_runs.csv",
                   "text/csv")], key="cmp_dl")

measure = _measure_select("cmp_measure")
short = data.MEASURE_SHORT[measure]
matrices = []
for entry in (entry_a, entry_b):
    spec = _spec(entry)
    k, knn_k = _settings(entry)
    matrix = None
    if spec is not None:
        _, matrix = runview.measure_of(spec, entry["summary"], measure, k, knn_k)
    matrices.append(matrix)
rng = data.shared_range(*matrices)
cols = st.columns(2)
for col, name, entry, matrix in zip(cols, ("A", "B"), (entry_a, entry_b), matrices):
    title = run_labels.get(entry["key"], no_label)["name"]
    col.caption(f"Run {name}: " + for_markdown(title or data.run_label(
        shown[shown["key"] == entry["key"]].iloc[0].to_dict())))
    if matrix is None:
        col.info("The K x K matrix needs the stored representations, which this cached "
                 "run does not have; rerun it to see it.", icon=":material/info:")
        continue
    # Run names stay out of figure titles: Plotly reads some HTML in them.
    col.plotly_chart(plots.heatmap_figure(
        matrix, title=f"Run {name}: {short}", zmin=rng[0] if rng else None,
        zmax=rng[1] if rng else None, reverse=measure == "ii"),
        key=f"cmp_heatmap_{name}", width="stretch")
if rng is not None:
    st.caption(f"One colour scale for both matrices: {rng[0]:.3f} to {rng[1]:.3f} (the "
               "smallest and largest value of the two), so equal colours are equal values."
               + (" Low (bright) = more aligned." if measure == "ii" else ""))
