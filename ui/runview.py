"""One run's details (heatmap, members, downloads) and the sweep table, for the pages.

The alignment numbers come from the summary the cache stored with each run when the
measure settings match it (k = 1, k-NN k = 10: instant, no arrays read); otherwise they
are computed from the stored representations with :mod:`noisealign.engine.measures.summaries` and memoised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from noisealign.engine.base.stats import mean_sem, mean_std_sem
from noisealign.engine.pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K
from noisealign.engine.pipeline.spec import ExperimentSpec

from . import page_support as common
from . import plots
from . import tables as data


def _summary_matches(summary: Mapping[str, Any] | None, k: int, knn_k: int) -> bool:
    if not summary:
        return False
    s = data.summary_settings(summary)
    return int(s.get("k", DEFAULT_K)) == k and int(s.get("knn_k", DEFAULT_KNN_K)) == knn_k


@st.cache_resource(show_spinner=False, max_entries=16, ttl=900)
def _load_result(cache_dir: str, spec_json: str) -> Any:
    cache, _ = common.services()
    result = cache.get(ExperimentSpec.from_json(spec_json))
    if result is None:
        raise LookupError("not cached")  # exceptions are not memoised; None would be
    return result


def load_result(spec: ExperimentSpec) -> Any:
    """The cached Result of ``spec`` (memoised per server), or None."""
    cache, _ = common.services()
    try:
        return _load_result(str(cache.directory), spec.to_json())
    except LookupError:
        return None


def _has_reps(result: Any) -> bool:
    return result is not None and len(result.hidden) > 0 and result.hidden[-1].size > 0


@st.cache_data(show_spinner=False, max_entries=512)
def _computed(cache_dir: str, spec_json: str, measure: str, k: int, knn_k: int
              ) -> dict | None:
    from noisealign.engine.measures import summaries
    result = load_result(ExperimentSpec.from_json(spec_json))
    if not _has_reps(result):
        return None
    matrix = summaries.pairwise_matrix(result, measure, k=k, knn_k=knn_k)
    stats = summaries.pair_stats(matrix)
    return {"matrix": np.asarray(matrix, float).tolist(),
            **{s: float(stats[s]) for s in ("mean", "std", "sem", "n_pairs")}}


def measure_of(spec: ExperimentSpec, summary: Mapping[str, Any] | None, measure: str, k: int,
               knn_k: int, result: Any = None) -> tuple[dict | None, np.ndarray | None]:
    """(pair stats, K x K matrix) of ``measure`` for a run; (None, None) if unavailable."""
    if _summary_matches(summary, k, knn_k):
        stats = data.align_stat(summary, measure)
        matrix = data.align_matrix(summary, measure)
        if stats is not None and matrix is not None:
            return stats, matrix
    if result is not None and _has_reps(result):
        from noisealign.engine.measures import summaries
        matrix = np.asarray(summaries.pairwise_matrix(result, measure, k=k, knn_k=knn_k), float)
        stats = summaries.pair_stats(matrix)
        return {s: float(stats[s]) for s in ("mean", "std", "sem", "n_pairs")}, matrix
    cache, _ = common.services()
    got = _computed(str(cache.directory), spec.to_json(), measure, k, knn_k)
    if got is None:
        return None, None
    return {s: got[s] for s in ("mean", "std", "sem", "n_pairs")}, np.asarray(got["matrix"])


@st.cache_data(show_spinner=False, max_entries=256)
def _computed_ids(cache_dir: str, spec_json: str) -> dict | None:
    from noisealign.engine.measures import summaries
    result = load_result(ExperimentSpec.from_json(spec_json))
    if not _has_reps(result):
        return None
    return {"trained": summaries.intrinsic_dimension(result),
            "init": summaries.intrinsic_dimension(result, init=True)}


def intrinsic_dimension_of(spec: ExperimentSpec, summary: Mapping[str, Any] | None
                           ) -> dict | None:
    """``{"trained": block, "init": block}`` (noisealign.engine.measures.summaries.intrinsic_dimension) from
    the stored summary, or computed from the stored representations for a summary made
    before the summaries held it; None when neither is available."""
    ids = (summary or {}).get("intrinsic_dimension")
    if ids:
        return ids
    cache, _ = common.services()
    return _computed_ids(str(cache.directory), spec.to_json())


def show_intrinsic_dimension(spec: ExperimentSpec, summary: Mapping[str, Any] | None,
                             *, key: str, where: Any = st) -> None:
    """The per-layer intrinsic dimension plot of one run (or why it is missing)."""
    ids = intrinsic_dimension_of(spec, summary)
    if ids is None:
        where.info("The intrinsic dimension needs the stored representations, which this "
                   "cached run does not have; rerun it to see it.", icon=":material/info:")
        return
    error = (ids.get("trained") or {}).get("error")
    if error:
        where.info(error, icon=":material/info:")
        return
    where.plotly_chart(plots.id_layers_figure(ids), key=f"{key}_id", width="stretch")
    where.caption(f"TwoNN and GRIDE estimates on the N = {spec.n_probe} probe "
                  "points, per member; bars: standard error over members. Dotted: the "
                  "same networks untrained.")


# ----------------------------------------------------------------------------- over training


def _has_snapshots(result: Any) -> bool:
    return result is not None and bool(getattr(result, "has_snapshot_representations", False))


def _block_matches(block: Mapping[str, Any] | None, k: int, knn_k: int) -> bool:
    return block is not None and bool(block) and int(block.get("k", DEFAULT_K)) == k \
        and int(block.get("knn_k", DEFAULT_KNN_K)) == knn_k


@st.cache_data(show_spinner=False, max_entries=256)
def _computed_over_training(cache_dir: str, spec_json: str, k: int, knn_k: int) -> dict | None:
    from noisealign.engine.measures import summaries
    result = load_result(ExperimentSpec.from_json(spec_json))
    if not _has_snapshots(result) or not _has_reps(result):
        return None
    return summaries.over_training(result, k=k, knn_k=knn_k)


def over_training_of(spec: ExperimentSpec, summary: Mapping[str, Any] | None, k: int,
                     knn_k: int, result: Any = None) -> dict | None:
    """The over-training block (noisealign.engine.measures.summaries.over_training) of a run: from its stored
    summary when the settings match, else computed from the stored snapshots; None when
    the run has no snapshot representations."""
    block = (summary or {}).get("over_training")
    if _block_matches(block, k, knn_k):
        return dict(block)
    if _has_snapshots(result) and _has_reps(result):
        from noisealign.engine.measures import summaries
        return summaries.over_training(result, k=k, knn_k=knn_k)
    cache, _ = common.services()
    return _computed_over_training(str(cache.directory), spec.to_json(), k, knn_k)


@st.cache_data(show_spinner=False, max_entries=512)
def _epoch_matrix(cache_dir: str, spec_json: str, index: int, measure: str, k: int,
                  knn_k: int) -> list | None:
    result = load_result(ExperimentSpec.from_json(spec_json))
    m = _matrix_at(result, index, measure, k, knn_k)
    return None if m is None else m.tolist()


def _matrix_at(result: Any, index: int, measure: str, k: int, knn_k: int) -> np.ndarray | None:
    if not _has_reps(result):
        return None
    runs = result.over_training()
    if not 0 <= index < len(runs):
        return None
    from noisealign.engine.measures import summaries
    return np.asarray(summaries.pairwise_matrix(runs[index], measure, k=k, knn_k=knn_k), float)


def epoch_matrix(spec: ExperimentSpec, index: int, measure: str, k: int, knn_k: int,
                 result: Any = None) -> np.ndarray | None:
    """The K x K matrix of ``measure`` at stored epoch ``index`` (0 = initialisation, the
    last = the end: Result.over_training), or None without representations."""
    if result is not None and _has_reps(result):
        return _matrix_at(result, index, measure, k, knn_k)
    cache, _ = common.services()
    got = _epoch_matrix(str(cache.directory), spec.to_json(), index, measure, k, knn_k)
    return None if got is None else np.asarray(got, float)


def _epoch_label(epochs: Sequence[int], i: int) -> str:
    e = int(epochs[i])
    if i == len(epochs) - 1:
        return f"{e:,} (end)"
    return "init" if i == 0 else f"{e:,}"


def show_over_training(spec: ExperimentSpec, *, summary: Mapping[str, Any] | None,
                       result: Any, measure: str | None, k: int, knn_k: int, key: str) -> None:
    """Alignment over training: every measure against epoch with the test error on the
    same axis, and a slider that scrubs the K x K matrix through the stored epochs.
    ``measure=None`` offers a measure selector (pages without one)."""
    if not spec.snapshots:
        st.caption("Alignment over training: set **Snapshots** above 0 (Training settings) "
                   "to keep the representations at log-spaced epochs and see every measure "
                   "against epoch.")
        return
    st.subheader("Over training")
    if measure is None:
        measure = st.selectbox("Measure", list(data.MEASURE_LABELS),
                               index=list(data.MEASURE_LABELS).index("cka"),
                               key=f"{key}_ot_measure",
                               format_func=lambda m: data.MEASURE_LABELS[m])
    block = over_training_of(spec, summary, k, knn_k, result=result)
    if block is None:
        st.info("Alignment over training needs the stored snapshot representations, which "
                "this cached run does not have; rerun it to see it.", icon=":material/info:")
        return
    df = data.over_training_frame(block)
    epochs = [int(e) for e in df["epoch"]]
    index = st.select_slider("Epoch", options=list(range(len(epochs))),
                             value=len(epochs) - 1, key=f"{key}_epoch",
                             format_func=lambda i: _epoch_label(epochs, i),
                             help="Scrub through the stored epochs: the K x K matrix shows "
                             "the chosen one, the dotted line marks it on the curves.")
    error_label = "test MSE" if spec.task == "regression" else "test error rate"
    short = data.MEASURE_SHORT[measure]
    fig = plots.over_training_figure(df, measure=measure, measure_label=short,
                                     error_label=error_label, epoch=epochs[index])
    left, right = st.columns([3, 2])
    left.plotly_chart(fig, key=f"{key}_over_training", width="stretch")
    left.caption(f"{len(epochs) - 2} log-spaced snapshots between initialisation and the "
                 f"end of training, on the N = {spec.n_probe} probe points (k = "
                 f"{block.get('k', k)}, mutual k-NN k = {block.get('knn_k', knn_k)}). "
                 "Bands: ± one standard error over member pairs (alignment) or members "
                 "(Δ, test error). Click a legend entry to show another measure.")
    matrix = epoch_matrix(spec, index, measure, k, knn_k, result=result)
    if matrix is not None:
        right.plotly_chart(plots.heatmap_figure(
            matrix, title=f"{short} at epoch {_epoch_label(epochs, index)}", zmin=0.0,
            zmax=1.0, reverse=measure == "ii"), key=f"{key}_epoch_heatmap", width="stretch")
    else:
        right.info("The K x K matrix at each epoch needs the stored representations, which "
                   "this cached run does not have.", icon=":material/info:")
    common.downloads([("Over training (CSV)", df.to_csv(index=False),
                       f"over_training_{spec.content_hash()[:12]}.csv", "text/csv")],
                     key=f"{key}_ot_dl")


# ----------------------------------------------------------------------------- sweep table


def sweep_frame(rows: Sequence[Mapping[str, Any]], *, x_axis: str, series: str, measure: str,
                k: int, knn_k: int) -> pd.DataFrame:
    """Tidy table of a sweep's finished points (the plotted data)."""
    out = []
    for r in rows:
        if r["summary"] is None:
            continue
        stats, _ = measure_of(r["spec"], r["summary"], measure, k, knn_k)
        err = data.error_stat(r["summary"])
        v = r["values"]
        out.append({
            "x": v[x_axis], "series": "all" if series == "none" else str(v[series]),
            "measure": measure, "align_mean": stats["mean"] if stats else math.nan,
            "align_std": stats["std"] if stats else math.nan,
            "align_sem": stats["sem"] if stats else math.nan,
            "n_pairs": stats["n_pairs"] if stats else math.nan,
            "error_mean": err["mean"], "error_std": err["std"], "error_sem": err["sem"],
            "n_parameters": r["spec"].n_parameters(), "N": r["spec"].n_probe,
            "k": k if measure.startswith("ii") else (knn_k if measure == "mknn" else None),
            "key": r["key"],
        })
    cols = ["x", "series", "measure", "align_mean", "align_std", "align_sem", "n_pairs",
            "error_mean", "error_std", "error_sem", "n_parameters", "N", "k", "key"]
    df = pd.DataFrame(out, columns=cols)
    if any("replicate" in r["values"] for r in rows):
        df = across_seeds(df, by=["x", "series"], means=["align", "error"])
    return df


def across_seeds(df: pd.DataFrame, *, by: Sequence[str], means: Sequence[str]) -> pd.DataFrame:
    """Rows of one grid point's replicates (runs with their own data seeds) combined:
    for each name in ``means``, ``<name>_mean`` is the mean over seeds and
    ``<name>_sem`` the standard error across seeds (the error bars drawn), while
    ``<name>_sem_pairs`` keeps the mean within-run error (over member pairs or
    members). ``n_seeds`` counts the finished seeds; other columns come from the first
    run (its ``key`` opens that run)."""
    if df.empty:
        return df.assign(n_seeds=pd.Series(dtype=int),
                         **{f"{m}_sem_pairs": pd.Series(dtype=float) for m in means})
    rows = []
    for _, g in df.groupby(list(by), sort=False, dropna=False):
        row = g.iloc[0].to_dict()
        row["n_seeds"] = len(g)
        for m in means:
            row[f"{m}_sem_pairs"] = float(g[f"{m}_sem"].astype(float).mean())
            # across seeds: noisealign.engine.base.stats' convention (ddof=1, NaN below 2 seeds)
            row[f"{m}_mean"], row[f"{m}_sem"] = mean_sem(g[f"{m}_mean"].astype(float))
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- one run


def _run_metrics(spec: ExperimentSpec, stats: Mapping[str, Any] | None,
                 err: Mapping[str, Any] | None, result: Any, *, measure: str, k: int,
                 knn_k: int) -> None:
    """The row of four metrics above a run: its alignment, test error, P / (n·outputs)
    and training time."""
    short = data.MEASURE_SHORT[measure]
    c = st.columns(4)
    if stats:
        c[0].metric(f"{short}, mean over pairs", f"{stats['mean']:.4f}",
                    help=f"± {stats['sem']:.2g} (standard error over {int(stats['n_pairs'])} "
                    f"pairs; std {stats['std']:.2g}); N = {spec.n_probe} probe points"
                    + (f", k = {k}" if measure.startswith("ii") else "")
                    + (f", k = {knn_k}" if measure == "mknn" else ""))
    else:
        c[0].metric(short, "—", help="Representations of this run are not stored.")
    if err:
        c[1].metric("Test error, mean", f"{err['mean']:.4g}",
                    help=f"± {err['sem']:.2g} (standard error over members), clean targets")
    c[2].metric("P / (n·outputs)", f"{spec.interpolation_ratio():.2f}",
                help=f"P = {spec.effective_parameters():,} parameters per network "
                f"({spec.n_parameters():,} weights; a linear network counts as one linear "
                "map); 1 is the interpolation threshold")
    if result is not None:
        c[3].metric("Training", f"{result.timings.get('train', math.nan):.1f} s",
                    help=f"{int(np.max(result.epochs))} epochs at most, on {result.device}")


def show_run(spec: ExperimentSpec, *, summary: Mapping[str, Any] | None, result: Any,
             measure: str, k: int, knn_k: int, key: str) -> None:
    """Metrics, the K x K heatmap of ``measure``, per-member errors and downloads."""
    if result is None:
        result = load_result(spec)
    stats, matrix = measure_of(spec, summary, measure, k, knn_k, result=result)
    err = data.error_stat(summary) if summary else None
    if (err is None or not math.isfinite(err["mean"])) and result is not None:
        err = mean_std_sem(result.test_error)  # one ddof (1) for std and sem

    short = data.MEASURE_SHORT[measure]
    _run_metrics(spec, stats, err, result, measure=measure, k=k, knn_k=knn_k)

    left, right = st.columns([1, 1])
    if matrix is not None:
        is_ii = measure == "ii"
        fig = plots.heatmap_figure(matrix, title=f"{data.MEASURE_LABELS[measure]}",
                                   zmin=0.0, zmax=1.0, reverse=is_ii)
        left.plotly_chart(fig, key=f"{key}_heatmap", width="stretch")
        if is_ii:
            left.caption("Row a, column b: Δ(a→b). Low (bright) = a's neighbourhoods predict "
                         "b's. The two triangles are the two directions.")
    else:
        left.info("The K x K matrix needs the stored representations, which this cached "
                  "run does not have; rerun it to see it.", icon=":material/info:")
    members = None
    if result is not None:
        members = pd.DataFrame({"member": np.arange(1, len(result.test_error) + 1),
                                "test_error": result.test_error,
                                "train_loss": result.train_loss,
                                "train_error": result.train_error,
                                "epochs": result.epochs, "diverged": result.diverged,
                                "label_flip_rate": result.label_flip_rate,
                                "achieved_snr_db": result.achieved_snr_db})
        task = spec.task
        right.plotly_chart(plots.members_figure(
            result.test_error, result.train_loss,
            error_label="test MSE" if task == "regression" else "test error rate",
            loss_label="training loss (own noisy data)"), key=f"{key}_members",
            width="stretch")
        if result.diverged.any():
            right.warning(f"{int(result.diverged.sum())} member(s) diverged (loss became NaN "
                          "or infinite): lower the learning rate.", icon=":material/warning:")

    show_over_training(spec, summary=summary, result=result, measure=measure, k=k,
                       knn_k=knn_k, key=key)
    show_intrinsic_dimension(spec, summary, key=key)

    items = [("Spec (JSON)", json.dumps(json.loads(spec.to_json()), indent=2),
              f"spec_{spec.content_hash()[:12]}.json", "application/json")]
    if matrix is not None:
        mdf = pd.DataFrame(matrix, columns=[f"m{i + 1}" for i in range(len(matrix))])
        mdf.insert(0, "from", [f"m{i + 1}" for i in range(len(matrix))])
        items.append((f"{short} matrix (CSV)", mdf.to_csv(index=False),
                      f"{measure}_matrix_{spec.content_hash()[:12]}.csv", "text/csv"))
    if members is not None:
        items.append(("Members (CSV)", members.to_csv(index=False),
                      f"members_{spec.content_hash()[:12]}.csv", "text/csv"))
    common.downloads(items, key=f"{key}_dl")
