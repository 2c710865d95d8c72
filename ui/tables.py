"""Tables for the dashboard, built from cache entries, sweep points and summaries.

Plain Python (pandas, no streamlit). The summary of a run is the dict stored by the
cache (:func:`noisealign.engine.measures.summaries.summarise`); this module only reads it.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from noisealign.engine.base.stats import mean_sem
from noisealign.engine.base.units import format_bytes
from noisealign.engine.compute.export import json_safe
from noisealign.engine.measures.registry import REGISTRY, SUMMARY_MEASURES
from noisealign.engine.measures.registry import labels as registry_labels
from noisealign.engine.pipeline.spec import ExperimentSpec

# The summary measures' labels with their formula, and short: the registry's.
MEASURE_LABELS = registry_labels(SUMMARY_MEASURES, "description")
MEASURE_SHORT = registry_labels(SUMMARY_MEASURES, "short")
AXIS_LABELS = {"n_train": "training samples n", "snr_db": "SNR (dB)", "width": "hidden width",
               "label_noise": "label-noise rate p", "ensemble_size": "ensemble size K",
               "depth": "depth", "seed": "seed", "init_scale": "initialisation scale",
               "weight_decay": "weight decay", "n_probe": "probe points N"}


human_bytes = format_bytes  # noisealign.engine.base.units: decimal units, as the memory limits


# ----------------------------------------------------------------------------- summaries


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def align_stat(summary: Mapping[str, Any] | None, measure: str) -> dict[str, float] | None:
    """Pair statistics {mean, std, sem, n_pairs} of ``measure`` from a stored summary."""
    if not summary:
        return None
    m = (summary.get("measures") or {}).get(measure)
    if not isinstance(m, Mapping) or "mean" not in m:
        return None
    return {k: _num(m.get(k)) for k in ("mean", "std", "sem", "n_pairs")}


def align_matrix(summary: Mapping[str, Any] | None, measure: str) -> np.ndarray | None:
    """The stored K x K matrix of ``measure`` (NaN where undefined), or None."""
    if not summary:
        return None
    m = (summary.get("measures") or {}).get(measure)
    if not isinstance(m, Mapping) or m.get("matrix") is None:
        return None
    return np.array([[_num(v) for v in row] for row in m["matrix"]], dtype=float)


def error_stat(summary: Mapping[str, Any] | None) -> dict[str, float]:
    """Test error {mean, std, sem} over the members (clean targets)."""
    if not summary:
        return {"mean": math.nan, "std": math.nan, "sem": math.nan}
    t = summary.get("test_error")
    if isinstance(t, Mapping):
        return {k: _num(t.get(k)) for k in ("mean", "std", "sem")}
    return {"mean": _num(summary.get("test_error_mean")), "std": math.nan, "sem": math.nan}


def summary_settings(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The measure settings a summary was computed with: N, k, knn_k, layer."""
    if not summary:
        return {}
    return {k: summary.get(k) for k in ("N", "k", "knn_k", "layer") if k in summary}


def summary_headline(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without its matrices (for display)."""
    def strip(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: strip(x) for k, x in v.items() if k != "matrix"}
        return v
    return strip(summary)


# ----------------------------------------------------------------------------- runs table


LEVEL = {"target": "snr_db", "input": "snr_db", "label": "label_noise"}


def _level(spec: Mapping[str, Any]) -> Any:
    field = LEVEL.get(spec.get("noise"))
    if field is None:
        return None
    v = spec.get(field)
    return f"{v} dB" if field == "snr_db" else f"p={v}"


def own_model_name(entry: Mapping[str, Any]) -> str:
    """The model name of an own architecture's cache entry (noisealign.engine.own_models.architectures), ""
    for a built-in MLP/CNN run; capped at 80 characters (a stored value is untrusted)."""
    model = entry.get("model")
    name = model.get("name") if isinstance(model, Mapping) else None
    return str(name)[:80] if name else ""


def runs_table(entries: Sequence[Mapping[str, Any]],
               labels: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """One row per cache entry, newest first; ``labels`` (``ResultCache.labels()``) fill
    the ``name`` and ``tags`` ("a, b") columns."""
    labels = labels or {}
    rows = []
    for e in entries:
        s, summ = e.get("spec") or {}, e.get("summary") or {}
        params = s.get("dataset_params") or {}
        lab = labels.get(e["key"]) or {}
        row = {
            "key": e["key"], "name": lab.get("name", ""),
            "tags": ", ".join(lab.get("tags", ())),
            "created": pd.to_datetime(e.get("created", 0), unit="s"),
            # an own architecture's run (noisealign.engine.own_models.architectures): its name, else empty
            "model": own_model_name(e),
            "dataset": s.get("dataset"),
            "params": ", ".join(f"{k}={v}" for k, v in sorted(params.items())),
            "noise": s.get("noise"), "level": _level(s), "n_train": s.get("n_train"),
            "n_probe": s.get("n_probe"), "width": s.get("width"), "depth": s.get("depth"),
            "activation": s.get("activation"), "K": s.get("ensemble_size"),
            "shared_init": s.get("shared_init"), "init_scale": s.get("init_scale"),
            "optimizer": s.get("optimizer"), "lr": s.get("lr"),
            "max_epochs": s.get("max_epochs"), "weight_decay": s.get("weight_decay"),
            "seed": s.get("seed"), "test_error": error_stat(summ)["mean"],
        }
        for m in ("cka", "ii_score", "mknn"):
            st_ = align_stat(summ, m)
            row[m] = st_["mean"] if st_ else math.nan
        row["bytes"] = e.get("bytes")
        rows.append(row)
    cols = ["key", "name", "tags", "created", "model", "dataset", "params", "noise", "level", "n_train", "n_probe",
            "width", "depth", "activation", "K", "shared_init", "init_scale", "optimizer", "lr",
            "max_epochs", "weight_decay", "seed", "test_error", "cka", "ii_score", "mknn",
            "bytes"]
    return pd.DataFrame(rows, columns=cols)


def runs_export(entries: Sequence[Mapping[str, Any]],
                labels: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict]:
    """The runs' JSON export: for each entry its key, name, tags, spec, summary and
    creation time, as strict JSON (NaN -> null)."""
    labels = labels or {}
    return [json_safe({"key": e["key"], "name": (labels.get(e["key"]) or {}).get("name", ""),
                       "tags": list((labels.get(e["key"]) or {}).get("tags", [])),
                       "spec": e["spec"], "summary": e["summary"], "created": e["created"]})
            for e in entries]


def table_tags(table: pd.DataFrame) -> list[str]:
    """Every tag used in a runs table's ``tags`` column, sorted (ignoring case)."""
    found: dict[str, str] = {}
    for text in table.get("tags", pd.Series(dtype=str)):
        for tag in split_tags(text):
            found.setdefault(tag.casefold(), tag)
    return sorted(found.values(), key=str.casefold)


def split_tags(text: Any) -> list[str]:
    """The tags of a ``tags`` cell ("a, b" -> ["a", "b"])."""
    return [t.strip() for t in str(text or "").split(",") if t.strip()]


def filter_runs(table: pd.DataFrame, *, query: str = "", datasets: Iterable[str] = (),
                noises: Iterable[str] = (), tags: Iterable[str] = (),
                group: str | None = None) -> pd.DataFrame:
    """The rows of a runs table that match every filter given: ``query`` in any column
    (name and tags included; case-insensitive), a dataset and a noise kind among those
    listed, at least one of ``tags`` (ignoring case), and group id ``group`` (the
    ``group`` column of :func:`add_groups`)."""
    out = table
    datasets, noises = list(datasets), list(noises)
    wanted = {t.casefold() for t in tags}
    if datasets:
        out = out[out["dataset"].isin(datasets)]
    if noises:
        out = out[out["noise"].isin(noises)]
    if wanted and len(out):
        has = out["tags"].map(lambda text: bool(wanted & {t.casefold() for t in split_tags(text)}))
        out = out[has.astype(bool)]
    if group and "group" in out.columns:
        out = out[out["group"] == group]
    q = query.strip().lower()
    if q and len(out):  # apply(axis=1) of no rows gives a DataFrame, without .str
        # str() of each cell: pandas 3's astype(str) keeps missing values as NaN floats.
        text = out.apply(lambda r: " ".join(map(str, r)).lower(), axis=1)
        out = out[text.str.contains(q, regex=False)]
    return out


def run_label(row: Mapping[str, Any]) -> str:
    """A run as an option of a selectbox: its name (if any), dataset, noise, n, width,
    activation and init scale (a linear and a ReLU run must not read alike: issue 28),
    K, seed, and the first 8 characters of its key, which end every label (so a label
    whose name or format changed still finds its run: :func:`find_label`)."""
    lvl = f" {row['level']}" if row.get("level") else ""
    name = f"“{row['name']}” · " if row.get("name") else ""
    act = f" · {row['activation']}" if row.get("activation") else ""
    init = row.get("init_scale")
    init = (f" · init={float(init):g}"
            if isinstance(init, (int, float)) and not math.isnan(init) else "")
    return (f"{name}{row['dataset']} · {row['noise']}{lvl} · n={row['n_train']} · "
            f"width={row['width']}{act}{init} · K={row['K']} · seed={row['seed']} "
            f"({row['key'][:8]})")


def find_label(labels: Sequence[str], wanted: str | None) -> str | None:
    """``wanted`` if it is among ``labels``, else the label of the same run (same key
    suffix "(0123abcd)": its name changed meanwhile), else None."""
    if wanted in labels:
        return wanted
    if not wanted or not wanted.endswith(")") or "(" not in wanted:
        return None
    suffix = wanted[wanted.rindex("("):]
    return next((lab for lab in labels if lab.endswith(suffix)), None)


# ----------------------------------------------------------------------------- groups

# The fields a sweep varies (the dashboard's and the CLI's sweep axes, and the replicate
# seed): runs whose specs agree in every other field belong to one sweep.
SWEEP_FIELDS = ("n_train", "snr_db", "width", "label_noise", "init_scale", "seed")
GROUP_BY = ("none", "sweep", "dataset")


def group_key(spec: Mapping[str, Any], by: str) -> str:
    """The identity of the group a run (its spec dict) belongs to when grouping ``by``:

    - ``"sweep"``: the whole spec except :data:`SWEEP_FIELDS` and ``device`` (where it
      runs does not change the experiment), so two runs share a group exactly when their
      specs differ only in swept fields;
    - ``"dataset"``: the dataset and its parameters.
    """
    if by == "sweep":
        rest = {k: v for k, v in spec.items() if k not in SWEEP_FIELDS and k != "device"}
    elif by == "dataset":
        rest = {"dataset": spec.get("dataset"), "dataset_params": spec.get("dataset_params") or {}}
    else:
        raise ValueError(f"by={by!r} is invalid: allowed one of {', '.join(GROUP_BY[1:])}")
    return json.dumps(rest, sort_keys=True, default=str)


def run_groups(specs: Sequence[Mapping[str, Any]], by: str) -> list[dict[str, Any]]:
    """For each spec (in order), its group when grouping ``by`` (see :func:`group_key`):
    ``{"group": id, "group_size": runs in the group, "varies": the swept fields whose
    values differ within the group ("" for one run, or when grouping by dataset)}``.

    The id is "sweep " or "dataset " and 6 hex characters of the group's identity: the
    same group keeps its id whatever else is cached, filtered or sorted (so it can travel
    in a link).
    """
    keys = [group_key(s, by) for s in specs]
    members: dict[str, list[Mapping[str, Any]]] = {}
    for k, s in zip(keys, specs):
        members.setdefault(k, []).append(s)
    info: dict[str, dict[str, Any]] = {}
    for k, group in members.items():
        varies = ""
        if by == "sweep" and len(group) > 1:
            varies = ", ".join(f for f in SWEEP_FIELDS
                               if len({json.dumps(s.get(f)) for s in group}) > 1)
        info[k] = {"group": f"{by} {hashlib.sha256(k.encode()).hexdigest()[:6]}",
                   "group_size": len(group), "varies": varies}
    return [dict(info[k]) for k in keys]


def add_groups(table: pd.DataFrame, entries: Sequence[Mapping[str, Any]], by: str
               ) -> pd.DataFrame:
    """``table`` (:func:`runs_table` of ``entries``) with the columns ``group``,
    ``group_size`` and ``varies`` of :func:`run_groups` after ``tags``; unchanged for
    ``by="none"``."""
    if by == "none":
        return table
    spec_of = {e["key"]: e.get("spec") or {} for e in entries}
    groups = run_groups([spec_of.get(k, {}) for k in table["key"]], by)
    out = table.copy()
    at = list(out.columns).index("tags") + 1
    for i, col in enumerate(("group", "group_size", "varies")):
        out.insert(at + i, col, [g[col] for g in groups] if groups else pd.Series(dtype=object))
    return out


# ----------------------------------------------------------------------------- compare


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return "—" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}={x}" for k, x in sorted(v.items())) or "—"
    return str(v)


def _mean_sem(mean: float, sem: float) -> str:
    if not math.isfinite(mean):
        return "—"
    return f"{mean:.4f}" + (f" ± {sem:.2g}" if math.isfinite(sem) else "")


def compare_frame(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """Two runs (cache entries: ``spec`` dict and ``summary``) side by side, as text:
    the spec fields that differ (``kind`` "spec"), then the headline measures, each mean
    ± its standard error (test error over members; CKA, II score and mutual k-NN over
    member pairs; Delta(h -> y clean) over members), then the settings they were measured
    with: probe points N, k of the Information Imbalance and of mutual k-NN (``kind``
    "measure" and "setting"; rows missing from both runs are left out). ``differs`` says
    whether the two cells differ. Columns: quantity, field, run A, run B, kind, differs.
    """
    from . import labels as ui_labels  # plain Python; the human names of fields
    sa, sb = a.get("spec") or {}, b.get("spec") or {}
    ma, mb = a.get("summary") or {}, b.get("summary") or {}
    rows = []
    for field in list(dict.fromkeys([*sa, *sb])):
        if field == "device":
            continue
        va, vb = _fmt(sa.get(field)), _fmt(sb.get(field))
        if va != vb:
            rows.append((ui_labels.label(field), field, va, vb, "spec"))

    def measures(summ: Mapping[str, Any]) -> dict[str, str]:
        e = error_stat(summ)
        out = {"test_error": _mean_sem(e["mean"], e["sem"])}
        for m in ("cka", "ii_score", "mknn"):
            st_ = align_stat(summ, m)
            out[m] = _mean_sem(st_["mean"], st_["sem"]) if st_ else "—"
        out["ii_h_to_y"] = _mean_sem(*info_stat(summ, "ii_h_to_y"))
        settings = summary_settings(summ)
        for k in ("N", "k", "knn_k"):
            out[k] = _fmt(settings.get(k))
        return out

    names = {"test_error": "Test error (mean over members)",
             **{m: REGISTRY[m].label for m in ("cka", "ii_score", "mknn")},
             "ii_h_to_y": "Δ(h → y clean)", "N": "Probe points N",
             "k": "Neighbours k (Information Imbalance)", "knn_k": "Neighbours k (mutual k-NN)"}
    xa, xb = measures(ma), measures(mb)
    for k, name in names.items():
        if xa[k] == "—" and xb[k] == "—":
            continue
        rows.append((name, k, xa[k], xb[k], "setting" if k in ("N", "k", "knn_k") else "measure"))
    df = pd.DataFrame(rows, columns=["quantity", "field", "run A", "run B", "kind"])
    df["differs"] = df["run A"] != df["run B"]
    return df


def shared_range(*matrices: np.ndarray | None) -> tuple[float, float] | None:
    """(min, max) of the finite values of all ``matrices`` (None ones skipped): one
    colour scale for matrices shown side by side. None when there is no finite value;
    a single value v gives (v - 0.5, v + 0.5)."""
    vals = [np.asarray(m, float).ravel() for m in matrices if m is not None]
    vals = np.concatenate(vals) if vals else np.empty(0)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return None
    lo, hi = float(vals.min()), float(vals.max())
    return (lo - 0.5, hi + 0.5) if lo == hi else (lo, hi)


# ----------------------------------------------------------------------------- matching


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        try:
            fa, fb = float(a), float(b)
        except (TypeError, ValueError):
            return False
        return fa == fb or (math.isnan(fa) and math.isnan(fb))
    return a == b


def matches(spec: Mapping[str, Any], base: ExperimentSpec, vary: Sequence[str]) -> bool:
    """Whether a spec dict equals ``base`` in every field except those in ``vary``."""
    ref = base.to_dict()
    for k, v in ref.items():
        if k in vary or k == "device":
            continue
        if k == "dataset_params":
            if dict(spec.get(k) or {}) != dict(v):
                return False
        elif not _same(spec.get(k), v):
            return False
    return True


def matching_entries(entries: Iterable[Mapping[str, Any]], base: ExperimentSpec,
                     vary: Sequence[str]) -> list[dict]:
    """The cache entries (``ResultCache.entries()``) that differ from ``base`` only in the
    ``vary`` fields: [{key, spec (ExperimentSpec), summary}]."""
    out = []
    for e in entries:
        if not matches(e["spec"], base, vary):
            continue
        try:
            spec = ExperimentSpec.from_dict(e["spec"])
        except ValueError:
            continue
        out.append({"key": e["key"], "spec": spec, "summary": e["summary"]})
    return out


def merge_points(rows: list[dict], points: Iterable[Any], base: ExperimentSpec,
                 vary: Sequence[str]) -> list[dict]:
    """Add sweep points (from a running job) that the cache does not hold (yet)."""
    have = {r["key"] for r in rows}
    out = list(rows)
    for p in points:
        if p.key not in have and matches(p.spec.to_dict(), base, vary):
            out.append({"key": p.key, "spec": p.spec, "summary": p.summary})
            have.add(p.key)
    return out


# ----------------------------------------------------------------------------- theory


def theory_sim_frame(rows: Sequence[Mapping[str, Any]], *, d: int) -> pd.DataFrame:
    """Long table of simulated values against n/d: columns n, nd, measure, mean, sem,
    label (measure in cka, ii_score, test_error)."""
    out = []
    labels = {"cka": f"{MEASURE_SHORT['cka']} (simulated)",
              "ii_score": f"{MEASURE_SHORT['ii_score']} (simulated)",
              "test_error": "test error (simulated)"}
    for r in rows:
        n = r["spec"].n_train
        for m in ("cka", "ii_score"):
            s = align_stat(r["summary"], m)
            if s is not None and math.isfinite(s["mean"]):
                out.append({"n": n, "nd": n / d, "measure": m, "mean": s["mean"],
                            "sem": s["sem"], "label": labels[m], "key": r["key"]})
        e = error_stat(r["summary"])
        if math.isfinite(e["mean"]):
            out.append({"n": n, "nd": n / d, "measure": "test_error", "mean": e["mean"],
                        "sem": e["sem"], "label": labels["test_error"], "key": r["key"]})
    return pd.DataFrame(out, columns=["n", "nd", "measure", "mean", "sem", "label", "key"])


def info_stat(summary: Mapping[str, Any] | None, name: str, *, init: bool = False
              ) -> tuple[float, float]:
    """(mean, sem) over members of an information-content quantity (e.g. ``ii_h_to_y``)
    of the trained (or, with ``init``, untrained) networks."""
    if not summary:
        return math.nan, math.nan
    block = (summary.get("information_content") or {}).get("init" if init else "trained") or {}
    values = block.get(name)
    if not isinstance(values, (list, tuple)):
        return _num(block.get(name + "_mean")), math.nan
    return mean_sem([_num(v) for v in values])


def loss_stat(summary: Mapping[str, Any] | None, name: str) -> float:
    """Mean over members of ``train_loss`` or ``test_loss`` (cross-entropy / MSE)."""
    if not summary:
        return math.nan
    v = summary.get(name)
    if isinstance(v, Mapping):
        return _num(v.get("mean"))
    return _num(summary.get(f"{name}_mean", v))


# ----------------------------------------------------------------------------- over training

OVER_TRAINING_SERIES = ("ii", "ii_score", "cka", "cka_debiased", "mknn", "ii_h_to_y",
                        "ii_y_to_h", "test_error")


def over_training_frame(block: Mapping[str, Any] | None) -> pd.DataFrame:
    """The summary's ``over_training`` block (noisealign.engine.measures.summaries.over_training) as a table:
    one row per stored epoch, ``epoch`` then ``<series>_mean`` / ``<series>_sem`` for each
    measure, Delta(h <-> y clean) and the test error. Empty without a block."""
    cols = ["epoch"] + [f"{s}_{f}" for s in OVER_TRAINING_SERIES for f in ("mean", "sem")]
    if not block or not block.get("epochs"):
        return pd.DataFrame(columns=cols)
    epochs = [int(e) for e in block["epochs"]]
    out: dict[str, list] = {"epoch": epochs}
    for s in OVER_TRAINING_SERIES:
        part = block.get(s)
        if not isinstance(part, Mapping):
            part = {}
        for f in ("mean", "sem"):
            vals = list(part.get(f) or [])
            out[f"{s}_{f}"] = [_num(v) for v in vals] + [math.nan] * (len(epochs) - len(vals))
    return pd.DataFrame(out, columns=cols)
