"""Tables for the dashboard, built from cache entries, sweep points and summaries.

Plain Python (pandas, no streamlit). The summary of a run is the dict stored by the
cache (:func:`engine.summaries.summarise`); this module only reads it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from engine.spec import ExperimentSpec
from engine.export import json_safe  # noqa: F401  (strict JSON for downloads; used by pages)

MEASURE_LABELS = {
    "ii": "Information Imbalance Δ(a→b)",
    "ii_score": "II score 1 − (Δ(a→b) + Δ(b→a))/2",
    "cka": "linear CKA",
    "cka_debiased": "debiased linear CKA",
    "mknn": "mutual k-NN",
}
MEASURE_SHORT = {"ii": "Δ(a→b)", "ii_score": "II score", "cka": "CKA",
                 "cka_debiased": "CKA (debiased)", "mknn": "mutual k-NN"}
AXIS_LABELS = {"n_train": "training samples n", "snr_db": "SNR (dB)", "width": "hidden width",
               "label_noise": "label-noise rate p", "ensemble_size": "ensemble size K",
               "depth": "depth", "seed": "seed", "init_scale": "initialisation scale",
               "weight_decay": "weight decay", "n_probe": "probe points N"}


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


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


def runs_table(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per cache entry, newest first."""
    rows = []
    for e in entries:
        s, summ = e.get("spec") or {}, e.get("summary") or {}
        params = s.get("dataset_params") or {}
        row = {
            "key": e["key"], "created": pd.to_datetime(e.get("created", 0), unit="s"),
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
    cols = ["key", "created", "dataset", "params", "noise", "level", "n_train", "n_probe",
            "width", "depth", "activation", "K", "shared_init", "init_scale", "optimizer", "lr",
            "max_epochs", "weight_decay", "seed", "test_error", "cka", "ii_score", "mknn",
            "bytes"]
    return pd.DataFrame(rows, columns=cols)


def filter_runs(table: pd.DataFrame, *, query: str = "", datasets: Iterable[str] = (),
                noises: Iterable[str] = ()) -> pd.DataFrame:
    out = table
    datasets, noises = list(datasets), list(noises)
    if datasets:
        out = out[out["dataset"].isin(datasets)]
    if noises:
        out = out[out["noise"].isin(noises)]
    q = query.strip().lower()
    if q and len(out):  # apply(axis=1) of no rows gives a DataFrame, without .str
        text = out.astype(str).apply(lambda r: " ".join(r).lower(), axis=1)
        out = out[text.str.contains(q, regex=False)]
    return out


def run_label(row: Mapping[str, Any]) -> str:
    lvl = f" {row['level']}" if row.get("level") else ""
    return (f"{row['dataset']} · {row['noise']}{lvl} · n={row['n_train']} · "
            f"width={row['width']} · K={row['K']} · seed={row['seed']} ({row['key'][:8]})")


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
    labels = {"cka": "CKA (simulated)", "ii_score": "II score (simulated)",
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
    a = np.array([_num(v) for v in values], dtype=float)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return math.nan, math.nan
    sem = float(a.std(ddof=1) / math.sqrt(a.size)) if a.size > 1 else math.nan
    return float(a.mean()), sem


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
    """The summary's ``over_training`` block (engine.summaries.over_training) as a table:
    one row per stored epoch, ``epoch`` then ``<series>_mean`` / ``<series>_sem`` for each
    measure, Delta(h <-> y clean) and the test error. Empty without a block."""
    cols = ["epoch"] + [f"{s}_{f}" for s in OVER_TRAINING_SERIES for f in ("mean", "sem")]
    if not block or not block.get("epochs"):
        return pd.DataFrame(columns=cols)
    epochs = [int(e) for e in block["epochs"]]
    out: dict[str, list] = {"epoch": epochs}
    for s in OVER_TRAINING_SERIES:
        part = block.get(s) if isinstance(block.get(s), Mapping) else {}
        for f in ("mean", "sem"):
            vals = list(part.get(f) or [])
            out[f"{s}_{f}"] = [_num(v) for v in vals] + [math.nan] * (len(epochs) - len(vals))
    return pd.DataFrame(out, columns=cols)
