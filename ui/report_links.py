"""The findings report in the dashboard: its figures' settings as one-click presets, and a
link to the report itself (docs/findings.md) from every page.

A preset (:data:`noisealign.engine.presets.catalog.PRESETS`) is turned into the values of the target page's
controls (their session-state keys, which are also their URL query parameters), so a
loaded preset is an ordinary view: it can be edited, and its URL is a shareable link.
The controls build the same :class:`noisealign.engine.pipeline.spec.ExperimentSpec` points as the report's
sweep, so the report's cached results are found by the page (same cache, same keys).
Fields a page has no control for are listed in a caption instead of silently dropped.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import streamlit as st

from noisealign.engine.pipeline.datasets import DATASETS
from noisealign.engine.pipeline.spec import ExperimentSpec
from noisealign.engine.presets.catalog import PRESETS

from .teach import switch_page  # st.switch_page that keeps presentation mode

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "findings.md"
REPORT_REL = "docs/findings.md"
# The theory page refuses more simulated n/d values than this (its own guard).
THEORY_MAX_ND = 12
ALIGNMENT_MEASURES = ("ii", "ii_score", "cka", "cka_debiased", "mknn")


def _fmt(values: list) -> str:
    return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _params(spec: ExperimentSpec) -> dict[str, Any]:
    """The dataset parameters as the page's number inputs hold them (key = name)."""
    out: dict[str, Any] = {}
    info = DATASETS[spec.dataset]
    for name, value in dict(spec.dataset_params).items():
        p = info.params.get(name)
        out[name] = int(value) if p is not None and p.kind is int else float(value)
    return out


def _alignment_values(spec: ExperimentSpec, axes: dict, series: dict,
                      notes: list[str], p: dict) -> dict[str, Any]:
    """The alignment explorer's controls for a preset (``p``: its catalog entry)."""
    (x, xs), = axes.items()
    v: dict[str, Any] = {
        "dataset": spec.dataset, **_params(spec), "noise": spec.noise,
        "snr": float(spec.snr_db), "p": float(spec.label_noise), "n": int(spec.n_train),
        "probe": int(spec.n_probe), "arch": spec.architecture, "width": int(spec.width),
        "depth": int(spec.depth), "act": spec.activation, "K": int(spec.ensemble_size),
        "init": float(spec.init_scale), "shared": bool(spec.shared_init),
        "opt": spec.optimizer, "lr": float(spec.lr), "epochs": int(spec.max_epochs),
        "wd": float(spec.weight_decay), "tol": float(spec.loss_tol),
        "seed": int(spec.seed), "mode": "Sweep", "x": x, "xs": _fmt(xs),
        "series": "none", "ss": "", "open": "none",
    }
    if not math.isfinite(v["snr"]):  # label noise: the spec holds snr_db = inf
        del v["snr"]
    if series:
        (s, ss), = series.items()
        v["series"], v["ss"] = s, _fmt(ss)
    if p["measure"] in ALIGNMENT_MEASURES:
        v["measure"] = p["measure"]
    else:
        v["measure"] = "cka"
        notes.append(f"the report's figure plots {p['measure']}: it is the bottom panel "
                     "(test error) here, with CKA on top")
    if not spec.bias:
        notes.append("bias=False has no control on this page (networks here have biases)")
    return v


def _information_values(spec: ExperimentSpec, axes: dict, series: dict,
                        notes: list[str]) -> dict[str, Any]:
    """The information page's controls for a preset."""
    rates = sorted({*axes.get("label_noise", []), *series.get("label_noise", [])}) \
        or [float(spec.label_noise)]
    widths = axes.get("width") or series.get("width") or [spec.width]
    clean = [r for r in rates if r != 1.0]
    v = {
        "dataset": spec.dataset, **_params(spec), "n": int(spec.n_train),
        "probe": int(spec.n_probe), "rates": _fmt(clean or [1.0]),
        "random": 1.0 in rates, "features": True, "arch": spec.architecture,
        "widths": _fmt(list(widths)),
        "depth": int(spec.depth), "act": spec.activation, "K": int(spec.ensemble_size),
        "seed": int(spec.seed), "epochs": int(spec.max_epochs), "lr": float(spec.lr),
        "tol": float(spec.loss_tol), "opt": spec.optimizer, "mom": float(spec.momentum),
        "batch": int(spec.batch_size), "sched": spec.lr_schedule,
    }
    fixed = {"noise": "label", "init_scale": 1.0, "bias": True,
             "weight_decay": 0.0, "shared_init": False}
    for field, value in fixed.items():
        if getattr(spec, field) != value:
            notes.append(f"{field}={getattr(spec, field)!r} has no control on this page "
                         f"(it uses {value!r})")
    return v


def _theory_values(spec: ExperimentSpec, axes: dict, series: dict,
                   notes: list[str]) -> dict[str, Any]:
    """The theory page's controls for a preset."""
    d = int(dict(spec.dataset_params).get("d", 50))
    ns = list(axes.get("n_train") or series.get("n_train") or [spec.n_train])
    if len(ns) > THEORY_MAX_ND:  # keep the ends and an even spread in between
        idx = sorted({round(i * (len(ns) - 1) / (THEORY_MAX_ND - 1))
                      for i in range(THEORY_MAX_ND)})
        notes.append(f"simulates {len(idx)} of the report's {len(ns)} values of n "
                     "(the page's limit); cached points at the others are drawn too")
        ns = [ns[i] for i in idx]
    nds = [n / d for n in ns]
    snrs = list(axes.get("snr_db") or series.get("snr_db") or [spec.snr_db])
    snr = round(min(40, max(-10, spec.snr_db)))
    if len(snrs) > 1:
        notes.append(f"the report sweeps SNR = {_fmt(snrs)} dB; this page shows one "
                     f"SNR at a time ({snr} dB): change the SNR slider for the others")
    lo = max(0.05, round(min(nds) * 20) / 20 - 0.05)
    hi = min(5.0, max(lo + 0.05, round(max(nds) * 20) / 20 + 0.05))
    v = {
        "d": d, "snr": snr, "nd": (round(lo, 2), round(hi, 2)), "wd": float(spec.weight_decay),
        "init": float(spec.init_scale), "sim_nd": _fmt(nds), "width": int(spec.width),
        "K": int(spec.ensemble_size), "epochs": int(spec.max_epochs),
        "seed": int(spec.seed), "probe": int(spec.n_probe), "opt": spec.optimizer,
        "lr": float(spec.lr), "tol": float(spec.loss_tol),
    }
    if spec.bias or spec.activation != "linear" or spec.dataset != "linear-teacher":
        notes.append("the theory page simulates a bias-free linear network on "
                     "linear-teacher only")
    return v


def preset_values(name: str) -> tuple[str, dict[str, Any], list[str]]:
    """(page, {control key: value}, notes) that show preset ``name`` on its page.

    The keys are the page's widget keys (= URL query parameters); the notes say which
    preset fields the page cannot represent. ``ValueError`` for an unknown name.
    """
    if name not in PRESETS:
        raise ValueError(f"preset={name!r} is invalid: allowed one of {sorted(PRESETS)}")
    p = PRESETS[name]
    spec = ExperimentSpec(**p["spec"])
    axes = dict(p["axes"])
    series = dict(p["series"] or {})
    page = p["page"]
    notes: list[str] = []
    if page == "alignment":
        v = _alignment_values(spec, axes, series, notes, p)
    elif page == "information":
        v = _information_values(spec, axes, series, notes)
    elif page == "theory":
        v = _theory_values(spec, axes, series, notes)
    else:  # pragma: no cover - engine/presets/catalog.py guards its pages
        raise ValueError(f"page={page!r} is invalid: allowed one of alignment, "
                         "information, theory")
    if page in ("alignment", "information"):
        v["reps"] = int(p.get("replicates", 1))  # the report's data seeds per point
    return page, v, notes


def _load(name: str) -> None:
    page, values, notes = preset_values(name)
    for k, val in values.items():
        st.session_state[k] = val
    # Auto-run off: the report's sweeps take minutes to hours; its cached (or shipped,
    # noisealign.engine.presets.shipped) points show at once and Run computes what is missing.
    if page != "theory":
        st.session_state["auto"] = False
    st.session_state[f"_preset_pick_{page}"] = name  # the menu names what is loaded
    st.session_state["_preset_loaded"] = {"name": name, "page": page, "notes": notes,
                                          "values": values}


# Controls whose change does not change what the view shows.
_NOT_THE_VIEW = frozenset({"open"})


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def edited_controls(loaded: dict[str, Any], state: Any) -> list[str]:
    """The control keys whose value in ``state`` (the session state) differs from the
    preset's ``loaded`` values: [] while the controls still show the preset. Controls
    not on the page this run (absent from ``state``) are not counted."""
    out = []
    for k, v in loaded.items():
        if k in _NOT_THE_VIEW or k not in state:
            continue
        if not _same_value(state[k], v):
            out.append(k)
    return out


def shown_preset(page: str, state: Any = None) -> str | None:
    """The preset whose settings the page's controls show now, or None (none loaded on
    this page, or a control edited since)."""
    state = st.session_state if state is None else state
    loaded = state.get("_preset_loaded")
    if not loaded or loaded.get("page") != page:
        return None
    if edited_controls(loaded.get("values") or {}, state):
        return None
    return loaded["name"]


# Control keys (URL parameters) -> the name ui.labels knows them by.
_KEY_NAMES = {"n": "n_train", "probe": "n_probe", "epochs": "max_epochs", "snr": "snr_db",
              "p": "label_noise", "K": "ensemble_size", "init": "init_scale",
              "opt": "optimizer", "act": "activation", "wd": "weight_decay", "tol": "loss_tol",
              "reps": "replicates", "x": "axis", "mom": "momentum", "batch": "batch_size",
              "sched": "lr_schedule", "arch": "architecture", "shared": "shared_init",
              "knn": "knn_k"}


def _control_label(key: str) -> str:
    from .labels import label
    return label(_KEY_NAMES.get(key, key))


def selector(page: str) -> None:
    """Sidebar block: pick one of the report's figures for this page and load its
    settings into the page's controls (the URL then links to that view).

    It never names a preset the view does not show: "Loaded" appears only while every
    control still holds the preset's value, and the menu follows the loaded preset (a
    pick that is not loaded yet says so)."""
    names = [n for n, p in PRESETS.items() if p["page"] == page]
    if not names:
        return
    st.subheader("Presets from the findings report")
    shown = shown_preset(page)
    loaded = st.session_state.get("_preset_loaded")
    pick = st.selectbox("Figure", names, key=f"_preset_pick_{page}",
                        format_func=lambda n: PRESETS[n]["title"],
                        help=f"The settings of the figures of {REPORT_REL}.")
    st.button("Load preset", key=f"_preset_load_{page}", on_click=_load, args=(pick,),
              icon=":material/download_done:", type="secondary" if pick == shown else "primary",
              help="Sets the controls below to the figure's settings (auto-run off: "
              "its cached or precomputed points show at once; Run computes the others).")
    if shown is not None and pick == shown:
        p = PRESETS[shown]
        text = f"Loaded **{p['title']}**. Claim {p['claim']}"
        if loaded["notes"]:
            text += "  \nNot represented here: " + "; ".join(loaded["notes"]) + "."
        st.caption(text)
    elif shown is not None:
        st.caption(f"Showing **{PRESETS[shown]['title']}**; press **Load preset** to show "
                   "the figure picked above.")
    elif loaded and loaded.get("page") == page:
        edited = [_control_label(k) for k in
                  edited_controls(loaded.get("values") or {}, st.session_state)]
        st.caption(f"Controls edited since loading **{PRESETS[loaded['name']]['title']}** "
                   f"({', '.join(edited[:4])}{', ...' if len(edited) > 4 else ''}): the view "
                   "is no longer that preset. Press **Load preset** to restore it.")
    else:
        st.caption("No preset loaded: the view shows the controls below. Press **Load "
                   "preset** to show the figure picked above.")


# ----------------------------------------------------------------------------- report


def verdicts(path: Path = REPORT) -> list[tuple[str, str, str]]:
    """(claim, verdict, in short) rows of the report's summary table; [] if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        m = re.match(r"\|\s*(\d+\..*?)\s*\|\s*\**([A-Z ]+?)\**\s*\|\s*(.*?)\s*\|\s*$", line)
        if m:
            rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


# The sidebar's expander of verdicts: not named "Findings report", which is the
# navigation's entry for the report page (one entry of that name in the sidebar).
VERDICTS_LABEL = "Paper claims: our verdicts"


def report_sidebar() -> None:
    """Every page's sidebar: the report's verdicts and a link to the full report."""
    with st.sidebar.expander(VERDICTS_LABEL, icon=":material/fact_check:"):
        rows = verdicts()
        if not rows:
            st.caption(f"{REPORT_REL} not found: run `python -m experiments.findings`.")
            return
        st.markdown("\n".join(f"- {c}: **{v}**" for c, v, _ in rows))
        st.caption(f"From `{REPORT_REL}` (with the figures in `docs/figures/`).")
        st.page_link("pages/report.py", label="Read the report", icon=":material/article:")


_IMAGE = re.compile(r"^!\[(.*?)\]\((.*?)\)\s*$")


def render_report(path: Path = REPORT) -> None:
    """The report's markdown with its figures; under each claim, buttons that open its
    figures' presets in the dashboard."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        from .page_support import (
            error,  # here: noisealign.ui.page_support imports the job manager
        )
        error(f"Cannot read {REPORT_REL}: {e}")
        return
    chunk: list[str] = []

    def flush() -> None:
        if chunk:
            st.markdown("\n".join(chunk))
            chunk.clear()

    for line in text.splitlines():
        m = _IMAGE.match(line)
        if m:
            flush()
            img = (path.parent / m.group(2)).resolve()
            if img.is_file():
                st.image(str(img), caption=m.group(1))
            else:
                st.caption(f"(figure {m.group(2)} not found)")
            continue
        h = re.match(r"^## Claim (\d+)", line)
        if h:
            flush()
            st.markdown(line)
            names = [n for n, p in PRESETS.items() if p["claim"].startswith(h.group(1) + ".")]
            cols = st.columns(max(1, len(names)))
            for col, n in zip(cols, names):
                if col.button(f"Open: {PRESETS[n]['title']}", key=f"_report_open_{n}",
                              icon=":material/open_in_new:"):
                    _load(n)
                    switch_page(f"pages/{PRESETS[n]['page']}.py")
            continue
        chunk.append(line)
    flush()
