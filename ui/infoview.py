"""Tables for the information-content page (label noise), from stored summaries or, for
another k than the summaries', from the stored representations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from noisealign.engine.base.stats import mean_sem
from noisealign.engine.pipeline.spec import ExperimentSpec

from . import page_support as common
from . import runview
from . import tables as data

INFO_KEYS = ("ii_h_to_y", "ii_pen_to_out")


_mean_sem = mean_sem  # noisealign.engine.base.stats: ddof=1, NaN for fewer than 2 values


@st.cache_data(show_spinner=False, max_entries=512)
def _computed(cache_dir: str, spec_json: str, k: int) -> dict | None:
    from noisealign.engine.measures import summaries
    result = runview.load_result(ExperimentSpec.from_json(spec_json))
    if result is None or not result.hidden or result.hidden[-1].size == 0:
        return None
    out = {}
    for init in (False, True):
        ic = summaries.information_content(result, k=k, init=init)
        for name in INFO_KEYS:
            out[f"{name}{'_init' if init else ''}"] = _mean_sem(ic[name])
    return out


def info_values(spec: ExperimentSpec, summary: Mapping[str, Any], k: int
                ) -> dict[str, tuple[float, float]]:
    """{ii_h_to_y, ii_pen_to_out, ii_h_to_y_init, ii_pen_to_out_init: (mean, sem)}."""
    if int(data.summary_settings(summary).get("k", runview.DEFAULT_K)) == k:
        out = {}
        for init in (False, True):
            for name in INFO_KEYS:
                out[f"{name}{'_init' if init else ''}"] = data.info_stat(summary, name,
                                                                         init=init)
        if all(math.isfinite(v[0]) for v in out.values()):
            return out
    cache, _ = common.services()
    got = _computed(str(cache.directory), spec.to_json(), k)
    if got is None:
        return {f"{n}{s}": (math.nan, math.nan) for n in INFO_KEYS for s in ("", "_init")}
    return {key: tuple(v) for key, v in got.items()}


def chance_level(spec: ExperimentSpec) -> float:
    """The test error of guessing a class uniformly: 1 - 1/classes (0.9 for 10)."""
    return 1.0 - 1.0 / spec.n_outputs()


def condition(p: float) -> str:
    if p == 0:
        return "clean labels"
    if p == 1:
        return "random labels (p = 1)"
    return f"noisy labels (p = {p:g})"


def info_frame(rows: Sequence[Mapping[str, Any]], *, k: int,
               random_features: bool) -> pd.DataFrame:
    """One row per (condition, width): Delta(h -> y_clean) and test error vs parameters.
    Random features (the untrained networks) come from the lowest-p runs: the
    initialisation does not depend on the labels."""
    out = []
    init_done: set[int] = set()
    for r in sorted((r for r in rows if r["summary"] is not None),
                    key=lambda r: r["spec"].label_noise):
        spec, summary = r["spec"], r["summary"]
        vals = info_values(spec, summary, k)
        err = data.error_stat(summary)
        P = spec.n_parameters()
        out.append({"condition": condition(spec.label_noise), "p": spec.label_noise,
                    "width": spec.width, "n_parameters": P,
                    "info_mean": vals["ii_h_to_y"][0], "info_sem": vals["ii_h_to_y"][1],
                    "error_mean": err["mean"], "error_sem": err["sem"], "dash": False,
                    "key": r["key"]})
        seed_key = (spec.width, r["values"].get("replicate", 0))
        if random_features and seed_key not in init_done:
            init_done.add(seed_key)
            out.append({"condition": "random features (untrained)", "p": math.nan,
                        "width": spec.width, "n_parameters": P,
                        "info_mean": vals["ii_h_to_y_init"][0],
                        "info_sem": vals["ii_h_to_y_init"][1],
                        "error_mean": math.nan, "error_sem": math.nan, "dash": True,
                        "key": r["key"]})
    cols = ["condition", "p", "width", "n_parameters", "info_mean", "info_sem", "error_mean",
            "error_sem", "dash", "key"]
    df = pd.DataFrame(out, columns=cols)
    if any("replicate" in r["values"] for r in rows):  # mean and error across seeds
        df = runview.across_seeds(df, by=["condition", "width"], means=["info", "error"])
    order = {c: i for i, c in enumerate(
        sorted(df["condition"].unique(),
               key=lambda c: (c.startswith("random features"), c.startswith("random labels"),
                              c)))}
    return df.sort_values(["condition", "n_parameters"], key=lambda s: s.map(order)
                          if s.name == "condition" else s).reset_index(drop=True)


def id_frame(rows: Sequence[Mapping[str, Any]], *, random_features: bool) -> pd.DataFrame:
    """One row per (condition, width, method): intrinsic dimension of the last hidden
    layer (mean and standard error over members), TwoNN and GRIDE. Untrained networks
    (random features) from the lowest-p run of each width, as in :func:`info_frame`."""
    out = []
    init_done: set[int] = set()
    for r in sorted((r for r in rows if r["summary"] is not None),
                    key=lambda r: r["spec"].label_noise):
        spec = r["spec"]
        ids = runview.intrinsic_dimension_of(spec, r["summary"])
        if not ids or "layers" not in (ids.get("trained") or {}):
            continue
        states = [("trained", condition(spec.label_noise), False)]
        if random_features and spec.width not in init_done and "layers" in ids.get("init", {}):
            init_done.add(spec.width)
            states.append(("init", "random features (untrained)", True))
        last = len(ids["trained"]["layers"]) - 2  # the last hidden layer (before "output")
        for state, name, dash in states:
            block = ids[state]
            for method, label in (("twonn", "TwoNN"),
                                  ("gride", f"GRIDE (order {block.get('gride_scale')})")):
                out.append({"condition": name, "p": spec.label_noise, "width": spec.width,
                            "n_parameters": spec.n_parameters(), "method": label,
                            "id_mean": block[method + "_mean"][last],
                            "id_sem": block[method + "_sem"][last], "dash": dash})
    return pd.DataFrame(out, columns=["condition", "p", "width", "n_parameters", "method",
                                      "id_mean", "id_sem", "dash"])


def loss_frame(rows: Sequence[Mapping[str, Any]], *, k: int, loss: str) -> pd.DataFrame:
    """One row per run: Delta(penultimate -> pre-softmax) against its cross-entropy loss;
    ``over``: past its interpolation threshold (ExperimentSpec.interpolation_ratio > 1)."""
    out = []
    for r in rows:
        if r["summary"] is None:
            continue
        spec, summary = r["spec"], r["summary"]
        vals = info_values(spec, summary, k)
        if loss == "train_loss":
            loss_value = data.loss_stat(summary, "train_loss")
        else:  # the summary keeps the training loss only; the test loss is in the result
            result = runview.load_result(spec)
            loss_value = (_mean_sem(result.test_loss)[0] if result is not None
                          else math.nan)
        out.append({"condition": condition(spec.label_noise), "p": spec.label_noise,
                    "width": spec.width, "n_parameters": spec.n_parameters(),
                    "loss": loss_value, "pen_out": vals["ii_pen_to_out"][0],
                    "pen_out_sem": vals["ii_pen_to_out"][1],
                    "over": spec.interpolation_ratio() > 1.0})
    df = pd.DataFrame(out, columns=["condition", "p", "width", "n_parameters", "loss",
                                    "pen_out", "pen_out_sem", "over"])
    return df[np.isfinite(df["loss"].astype(float)) & np.isfinite(df["pen_out"].astype(float))]
