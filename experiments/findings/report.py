"""The report's markdown: ``docs/findings.md`` (or the ``--quick`` copy), one function per
section, in the order they appear in the report; then the formatting helpers, the run
record (:func:`run_record`: timing of the runs that computed the points) and the
interpretation notes computed from the numbers (:func:`add_notes`)."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engine import theory
from engine.presets import PRESETS
from engine.spec import ExperimentSpec, snr_db_to_ratio
from experiments.findings.claims import ALIGN_LABELS, NEAR_FACTOR, Z, threshold_n
from experiments.findings.collect import Point, RunLog, preset, series_of

# Where the figures are, relative to the report.
FIGURES_REL = "figures"


def write_report(data: dict[str, list[Point]], claims: dict[str, dict], out: Path,
                 quick: bool, run_info: dict[str, Any]) -> Path:
    """Write ``<out>/findings.md`` from the points, the claims (with their notes:
    :func:`add_notes`) and the run record (:func:`run_record`, plus ``"notes"``: the
    report-wide notes). Returns its path."""
    lines = [
        *_section_header(quick),
        *_section_how_to_rerun(),
        *_section_run(run_info),
        *_section_conventions(),
        *_section_summary(claims),
        *_section_claim1(data, claims, quick),
        *_section_claim2(data, claims, quick),
        *_section_claim3(claims),
        *_section_claim4(data, claims, quick),
        *_section_claim5(claims, quick),
        *_section_claim6(claims, quick),
        *_section_notes(run_info),
    ]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "findings.md"
    path.write_text("\n".join(lines))
    return path


# ----------------------------------------------------------------------------- sections


def _section_header(quick: bool) -> list[str]:
    """The title, the disclaimer and (``--quick``) the quick-mode warning."""
    L: list[str] = []
    a = L.append
    a("# Findings: the papers' claims, reproduced with this project's engine\n")
    a("> **This is our model, not the papers' numbers.** The two papers "
      "publish neither their code nor their "
      "hyperparameters. Every number below comes from this project's engine with the "
      "definitions of `docs/science.md` (noise processes, alignment measures, Information "
      "Imbalance, the linear theory) and settings we chose; they test the papers' "
      "*qualitative* claims, and they are not the papers' own results.\n")
    if quick:
        a("> **Quick mode** (`--quick`): small-scale settings for a smoke test; the "
          "verdicts below are not the report's. Run without `--quick` for the real one.\n")
    return L


def _section_how_to_rerun() -> list[str]:
    """The commands that regenerate the report."""
    L: list[str] = []
    a = L.append
    a("## How to rerun\n")
    a("```\n.venv/bin/python -m experiments.findings            # full run, resumes from the cache\n"
      ".venv/bin/python -m experiments.findings --quick    # small scale (a few minutes)\n```\n")
    a("Every figure is a sweep of a preset in `engine/presets.py` (the dashboard offers the "
      "same presets as one-click settings), run through the results cache: a rerun only "
      "computes missing points, and an interrupted run resumes.\n")
    return L


def _section_run(run_info: dict[str, Any]) -> list[str]:
    """When, where and how long the points were computed (:func:`run_record`)."""
    L: list[str] = []
    a = L.append
    a("## Run\n")
    a(run_info["text"] + "\n")
    return L


def _section_conventions() -> list[str]:
    """What the numbers are: measures, error bars, the significance rule."""
    L: list[str] = []
    a = L.append
    a("## Conventions\n")
    a(f"- Alignment between two members: linear CKA and the II score "
      f"`1 - (Delta(a->b) + Delta(b->a))/2` of the last hidden layer on the probe set "
      f"(mutual k-NN is in the tables too). Values are means over all member pairs "
      f"± standard error over pairs (nominal: pairs share members).\n"
      f"- Information content: `Delta(h -> y_clean)` with k = 1 on the probe set, one-hot "
      f"labels, mean ± standard error over members; lower is more informative.\n"
      f"- A difference counts when it exceeds {Z:g} combined standard errors (z > {Z:g}). "
      f"'Near the threshold' means within a factor {NEAR_FACTOR:g} of it.\n"
      f"- Test error: MSE against the clean targets (regression), misclassification rate "
      f"(classification), on the probe set.\n")
    return L


def _section_summary(claims: dict[str, dict]) -> list[str]:
    """One row per claim: its verdict and the short reason."""
    L: list[str] = []
    a = L.append
    a("## Summary\n")
    a(table(["claim", "verdict", "in short"], [
        ["1. Alignment rises monotonically with SNR", _badge(claims["1"]["status"]),
         _short1(claims["1"])],
        ["2. Alignment vs n is non-monotone, minimum near the threshold",
         _badge(claims["2"]["status"]), _short_rows(claims["2"])],
        ["3. Stronger alignment does not imply lower test error", _badge(claims["3"]["status"]),
         f"counterexample pairs in {sum(r['a'] is not None for r in claims['3']['rows'])} of "
         f"{len(claims['3']['rows'])} (sweep, SNR, measure) combinations"],
        ["4. Delta(h -> y) double descent in width; noisy vs clean labels",
         _badge(claims["4"]["status"]), _short4(claims["4"])],
        ["5. Random-label representations are worse than random features",
         _badge(claims["5"]["status"]),
         f"worse at {sum(r['z'] > Z for r in claims['5'].get('rows', []))} of "
         f"{len(claims['5'].get('rows', []))} widths (the narrow ones), equal at the others"],
        ["6. Delta(pen -> out) decreases with the cross-entropy (overparameterised)",
         _badge(claims["6"]["status"]), _short6(claims["6"])],
    ]) + "\n")
    return L


def _section_claim1(data: dict[str, list[Point]], claims: dict[str, dict],
                    quick: bool) -> list[str]:
    """Claim 1: settings, figure, one table per sweep, the theory, the decisions."""
    L: list[str] = []
    a = L.append
    a("## Claim 1: alignment rises monotonically with SNR\n")
    for name in ("linear_snr", "mlp_snr", "digits_label_noise"):
        if name in data:
            a("- " + settings_md(name, quick))
    a("")
    a(f"![alignment vs SNR]({FIGURES_REL}/findings_1_snr.png)\n")
    for name in ("linear_snr", "mlp_snr", "digits_label_noise"):
        if name not in data:
            continue
        xname = "label noise p" if name == "digits_label_noise" else "SNR (dB)"
        rows = []
        for s, pts in series_of(data[name]).items():
            for p in pts:
                rows.append([_g(s) if s is not None else "-", _g(p.x), _ms(p.align["cka"]),
                             _ms(p.align["ii_score"]), _ms(p.align["mknn"]),
                             _ms(p.test_error), _f(p.align_init["cka"])])
        sname = {"linear_snr": "n", "mlp_snr": "init scale"}.get(name, "-")
        a(f"**{PRESETS[name]['title']}**\n")
        a(table([sname, xname, "CKA", "II score", "mutual k-NN", "test error",
                 "CKA untrained"], rows) + "\n")
    if "linear_snr" in data:
        a("Theory (linear network, `engine.theory`, dotted in the figure) at the same points: "
          + "; ".join(
              f"n = {s:g}: CKA " + ", ".join(
                  f"{float(theory.cka(s, p.spec.params['d'], snr_db_to_ratio(p.x))):.3f}"
                  for p in pts)
              for s, pts in series_of(data["linear_snr"]).items()) + ".\n")
    a("Decision per setting and measure:\n")
    a(table(["setting", "measure", "verdict", "numbers"],
            [[r["setting"], r["measure"], r["verdict"], r["why"]] for r in claims["1"]["rows"]])
      + "\n")
    a(f"**Verdict: {_badge(claims['1']['status'])}.** " + claims["1"].get("note", "") + "\n")
    return L


def _section_claim2(data: dict[str, list[Point]], claims: dict[str, dict],
                    quick: bool) -> list[str]:
    """Claim 2: settings, figure, one table per sweep, the decisions."""
    L: list[str] = []
    a = L.append
    a("## Claim 2: alignment vs sample size is non-monotone, minimum near the threshold\n")
    for name in ("linear_n", "mlp_n"):
        if name in data:
            a("- " + settings_md(name, quick))
    a("")
    a(f"![alignment vs n]({FIGURES_REL}/findings_2_n.png)\n")
    a("Dashed black line: the interpolation threshold (n = d for the linear model; "
      "n = P, the number of parameters, for the one-output MLP). Stars and dash-dotted "
      "lines: the measured test-error peak. Dotted: the linear theory.\n")
    for name in ("linear_n", "mlp_n"):
        if name not in data:
            continue
        rows = []
        for s, pts in series_of(data[name]).items():
            for p in pts:
                rows.append([_g(s), _g(p.x), _ms(p.align["cka"]), _ms(p.align["ii_score"]),
                             _ms(p.align["mknn"]), _ms(p.test_error),
                             _f(p.train_loss, 4), f"{p.epochs_max_fraction:.2f}"])
        a(f"**{PRESETS[name]['title']}** (threshold n = {threshold_n(data[name][0]):g})\n")
        a(table(["SNR (dB)", "n", "CKA", "II score", "mutual k-NN", "test error", "train loss",
                 "frac. hit max_epochs"], rows) + "\n")
    a(table(["setting", "measure", "verdict", "numbers"],
            [[r["setting"], r["measure"], r["verdict"], r["why"]] for r in claims["2"]["rows"]])
      + "\n")
    a(f"**Verdict: {_badge(claims['2']['status'])}.** " + claims["2"].get("note", "") + "\n")
    return L


def _section_claim3(claims: dict[str, dict]) -> list[str]:
    """Claim 3: how the counterexamples were searched and the best pair per sweep."""
    L: list[str] = []
    a = L.append
    a("## Claim 3: stronger alignment does not imply lower test error\n")
    a("Searched within each sample-size sweep of claim 2 (same architecture, noise level "
      "and training) for pairs of settings where one has significantly higher alignment "
      f"(z > {Z:g}) **and** a significantly higher test error (z > {Z:g}, at least 10 % "
      "higher). The pair with the largest error ratio is shown.\n")
    a(f"![alignment vs test error]({FIGURES_REL}/findings_3_alignment_vs_error.png)\n")
    rows = []
    for r in claims["3"]["rows"]:
        if r["a"] is None:
            rows.append([r["figure"], _g(r["series"]), r["measure"], "none found", "", "", "0"])
            continue
        A, B = r["a"], r["b"]
        m = "cka" if r["measure"] == ALIGN_LABELS["cka"] else "ii_score"
        rows.append([r["figure"], _g(r["series"]), r["measure"],
                     f"n = {A.x:g}: alignment {_ms(A.align[m])}, test error {_ms(A.test_error)}",
                     f"n = {B.x:g}: alignment {_ms(B.align[m])}, test error {_ms(B.test_error)}",
                     f"{r['z_align']:.1f} / {r['z_err']:.1f}", str(r["count"])])
    a(table(["sweep", "SNR (dB)", "measure", "higher alignment (A)", "lower alignment (B)",
             "z align / z error", "pairs found"], rows) + "\n")
    a(f"**Verdict: {_badge(claims['3']['status'])}.** " + claims["3"].get("note", "") + "\n")
    return L


def _section_claim4(data: dict[str, list[Point]], claims: dict[str, dict],
                    quick: bool) -> list[str]:
    """Claim 4: the width sweep, noisy vs clean labels, the decisions."""
    L: list[str] = []
    a = L.append
    a("## Claim 4: information content follows a double descent in the number of parameters\n")
    a("- " + settings_md("digits_width", quick) + "\n")
    a(f"![width sweep]({FIGURES_REL}/findings_4_width.png)\n")
    c4 = claims["4"]
    if "digits_width" in data:
        rows = []
        for s, pts in series_of(data["digits_width"]).items():
            for p in pts:
                rows.append([_g(s), _g(p.x), str(p.n_parameters), f"{p.interpolation_ratio:.2f}",
                             _f(p.train_error), _ms(p.test_error), _ms(p.test_loss, 2),
                             _ms(p.info["ii_h_to_y"]), _ms(p.info_init["ii_h_to_y"]),
                             _ms(p.info["ii_pen_to_out"])])
        a(table(["label noise", "width", "P", "P/(n·C)", "train error", "test error",
                 "test CE", "Delta(h->y)", "Delta(h->y) untrained", "Delta(pen->out)"], rows)
          + "\n")
        if c4.get("compare"):
            a("Noisy (p = 0.2) vs clean labels, `Delta(h -> y_clean)` (z > 0: noisy labels "
              "more informative). Regime: *under* = narrower than the width at which the "
              "noisy-label networks first fit all their training labels (where the test "
              "error peaks), *over* = from that width on; the last column marks widths "
              "above the docs/science.md threshold P = n·C.\n")
            a(table(["width", "P", "regime", "P > n·C", "clean", "noisy", "z (clean - noisy)"],
                    [[_g(r["width"]), str(r["P"]), r["regime"], "yes" if r["above_nc"] else "",
                      _ms(r["clean"]), _ms(r["noisy"]), f"{r['z_clean_minus_noisy']:+.1f}"]
                     for r in c4["compare"]]) + "\n")
    a(table(["series", "verdict", "numbers"], [[_g(r["series"]), r["verdict"], r["why"]]
                                               for r in c4["rows"]]) + "\n")
    a(f"**Verdict: {_badge(c4['status'])}.** " + c4.get("note", "") + "\n")
    return L


def _section_claim5(claims: dict[str, dict], quick: bool) -> list[str]:
    """Claim 5: random labels against the untrained network, per width."""
    L: list[str] = []
    a = L.append
    a("## Claim 5: representations learned from random labels are worse than random features\n")
    a("- " + settings_md("random_labels", quick) + "\n")
    a(f"![random labels]({FIGURES_REL}/findings_5_random_labels.png)\n")
    c5 = claims["5"]
    if c5["rows"]:
        a(table(["width", "P", "train error", "test error", "Delta(h->y) trained (random labels)",
                 "Delta(h->y) untrained", "z (trained - untrained)"],
                [[_g(r["width"]), str(r["P"]), _f(r["train_error"]), _f(r["test_error"]),
                  _ms(r["trained"]), _ms(r["init"]), f"{r['z']:+.1f}"] for r in c5["rows"]]) + "\n")
        a(c5["why"] + ".\n")
    a(f"**Verdict: {_badge(c5['status'])}.** " + c5.get("note", "") + "\n")
    return L


def _section_claim6(claims: dict[str, dict], quick: bool) -> list[str]:
    """Claim 6: the two readings of the claim and the per-width numbers."""
    L: list[str] = []
    a = L.append
    a("## Claim 6: Delta(penultimate -> pre-softmax) decreases with the cross-entropy loss "
      "in the overparameterised regime\n")
    a("- " + settings_md("pen_to_out", quick) + " (the same runs as claim 4).\n")
    a("*Reading of the claim.* The wording allows two readings, both checked: "
      "**(A)** Delta(pen -> out) falls together with the cross-entropy (a positive rank "
      "correlation across networks), **(B)** the literal \"X decreases with Y\": X falls as "
      "Y rises (a negative one). The abstract does not say which cross-entropy; in the "
      "overparameterised regime every network is trained to the same training loss "
      "(`loss_tol`), so only the **test** cross-entropy varies, and that is used. "
      "\"Overparameterised\": the widths at which every member fits all its training "
      "labels. A reading holds for a label-noise level when |Spearman| >= 0.7 with its "
      "sign; the claim holds if one reading holds at every level.\n")
    a(f"![pen to out]({FIGURES_REL}/findings_6_pen_to_out.png)\n")
    c6 = claims["6"]
    if c6["rows"]:
        a(table(["label noise", "width", "P", "regime", "train CE", "test CE",
                 "Delta(pen->out)", "untrained"],
                [[_g(r["series"]), _g(r["width"]), str(r["P"]),
                  "over" if r["over"] else "under", _f(r["train_ce"], 4), _ms(r["test_ce"], 2),
                  _ms(r["ii_pen_to_out"]), _ms(r["ii_pen_to_out_init"])] for r in c6["rows"]])
          + "\n")
        a(c6["why"] + ".\n")
    a(f"**Verdict: {_badge(c6['status'])}.** " + c6.get("note", "") + "\n")
    return L


def _section_notes(run_info: dict[str, Any]) -> list[str]:
    """The report-wide notes and caveats (:func:`add_notes`), if any."""
    if not run_info.get("notes"):
        return []
    L: list[str] = []
    a = L.append
    a("## Notes and caveats\n")
    for note in run_info["notes"]:
        a(f"- {note}")
    a("")
    return L


# ----------------------------------------------------------------------------- formatting


def _f(v: float, nd: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    return f"{v:.{nd}f}"


def _ms(v: tuple[float, float], nd: int = 3) -> str:
    if not np.isfinite(v[1]):
        return _f(v[0], nd)
    return f"{v[0]:.{nd}f} ± {v[1]:.{nd}f}"


def _g(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


SPEC_SHOWN = ("dataset", "dataset_params", "n_train", "n_probe", "noise", "snr_db",
              "label_noise", "width", "depth", "activation", "bias", "ensemble_size",
              "shared_init", "init_scale", "optimizer", "lr", "max_epochs", "loss_tol",
              "batch_size", "weight_decay", "seed", "device")


def settings_md(name: str, quick: bool) -> str:
    p = preset(name, quick)
    spec = ExperimentSpec(**p["spec"])
    d = spec.to_dict()
    fields = ", ".join(f"`{k}={json.dumps(d[k]) if k == 'dataset_params' else d[k]}`"
                       for k in SPEC_SHOWN
                       if not (k == "snr_db" and spec.noise not in ("target", "input"))
                       and not (k == "label_noise" and spec.noise != "label"))
    axes = "; ".join(f"`{k}` in {list(v)}" for k, v in p["axes"].items())
    series = ("; series `" + "`, `".join(f"{k}` in {list(v)}" for k, v in p["series"].items())
              if p["series"] else "")
    return (f"*Preset `{name}`* (dashboard page: {p['page']}). Base spec: {fields}. "
            f"Axis: {axes}{series}.")


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _badge(status: str) -> str:
    return {"holds": "**HOLDS**", "partly": "**PARTLY**",
            "does not hold": "**DOES NOT HOLD**"}.get(status, f"**{status.upper()}**")


def _short1(c: dict) -> str:
    settings = {}
    for r in c.get("rows", []):
        settings.setdefault(r["setting"], []).append(r["verdict"] == "holds")
    ok = [k for k, v in settings.items() if all(v)]
    bad = [k for k, v in settings.items() if not all(v)]
    return (f"holds in {len(ok)} of {len(settings)} settings"
            + (f"; not in: {'; '.join(bad)}" if bad else ""))


def _short_rows(c: dict) -> str:
    rows = c.get("rows", [])
    return f"{sum(r['verdict'] == 'holds' for r in rows)} of {len(rows)} (setting, measure) cases hold"


def _short4(c: dict) -> str:
    parts = []
    for s, pk in c.get("peaks", {}).items():
        e, i = pk["err"]["peak"], pk["ii"]["peak"]
        what = ("both test error and Delta(h->y) peak" if e and i else
                "neither test error nor Delta(h->y) peaks" if not (e or i) else
                "only the test error peaks" if e else "only Delta(h->y) peaks")
        parts.append(f"label noise {s:g}: {what}")
    for r in c.get("rows", []):
        if r["series"] == "noisy vs clean":
            parts.append(f"noisy labels more informative below the threshold: {r['verdict']}")
    return "; ".join(parts)


def _short6(c: dict) -> str:
    if not c.get("per"):
        return ""
    return "; ".join(f"label noise {s:g}: Spearman {r:+.2f}" for s, r, _, _ in c["per"])


# ----------------------------------------------------------------------------- run record


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import torch
    return (f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, torch {torch.__version__} (CPU)")


def run_record(out: Path, log: RunLog, workers: int | None, quick: bool,
               load_before: tuple[float, ...]) -> dict[str, Any]:
    """Update ``<out>/figures/findings_run.json`` and return the text for the report.

    Invocations that computed points are appended; a fully cached rerun keeps the record
    of the runs that did the work (so the report keeps stating the compute time).
    """
    path = out / "figures" / "findings_run.json"
    rec: dict[str, Any] = {"runs": []}
    if path.exists():
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            rec = {"runs": []}
    total_points = log.computed + log.cached
    if log.computed:
        if log.cached == 0:
            rec["runs"] = []  # a fresh run from an empty cache replaces older records
        rec["runs"].append({
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "wall_seconds": round(log.wall_seconds, 1),
            "computed": log.computed, "loaded_from_cache": log.cached,
            "compute_seconds": round(log.compute_seconds, 1), "workers": workers,
            "machine": machine(), "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "per_figure_seconds": {k: round(v, 1) for k, v in log.per_figure.items()},
            "mode": "quick" if quick else "full"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec, indent=1) + "\n")
    runs = rec.get("runs", [])
    if runs:
        wall = sum(r["wall_seconds"] for r in runs)
        computed = sum(r["computed"] for r in runs)
        first = runs[0]
        text = (f"The {'quick' if quick else 'full'} run (`python -m experiments.findings"
                f"{' --quick' if quick else ''}`) took **{wall / 60:.1f} min wall-clock** "
                f"in {len(runs)} invocation(s) ({computed} distinct experiments computed; "
                f"the budget for the full run is 60 min), "
                f"on {first['machine']}, with {first['workers'] or 'default'} sweep worker(s), "
                f"on {first['date']}. Sum of per-point compute time: "
                f"{sum(r['compute_seconds'] for r in runs) / 60:.1f} min. The two cores were "
                f"**shared with other jobs** during the run (load average before/after: "
                f"{first['load_average_before'][0]:.1f} / {runs[-1]['load_average_after'][0]:.1f} "
                f"on 2 cores), so an idle machine is faster. Per figure (s): "
                + ", ".join(f"{k} {v:.0f}" for k, v in runs[-1]["per_figure_seconds"].items())
                + ".")
    else:
        text = f"All {total_points} points were loaded from the cache (no timing record found)."
    if log.computed == 0 and runs:
        text += (f" This report was regenerated from the cache in {log.wall_seconds:.0f} s.")
    return {"text": text, "record": rec}


# ----------------------------------------------------------------------------- notes


def _note_claim1(claims: dict, data: dict) -> str:
    parts = []
    ok = sorted({r["setting"] for r in claims["1"]["rows"] if r["verdict"] == "holds"})
    bad = sorted({r["setting"] for r in claims["1"]["rows"] if r["verdict"] != "holds"})
    if ok:
        parts.append("It holds, for both measures, in: " + "; ".join(ok) + ".")
    groups = series_of(data.get("mlp_snr", []))
    if 1.0 in groups and any("init_scale = 1.0" in b for b in bad):
        lazy = groups[1.0]
        cka = [p.align["cka"][0] for p in lazy]
        parts.append(
            f"It fails with the standard initialisation (init_scale = 1): the width-"
            f"{lazy[0].spec.width} ReLU network then stays close to its random start (lazy "
            f"regime), its members' CKA stays at {min(cka):.3f}-{max(cka):.3f} at every SNR "
            f"against {lazy[0].align_init['cka']:.3f} before training, while its test error "
            f"still falls from {lazy[0].test_error[0]:.3f} to {lazy[-1].test_error[0]:.3f}. "
            "Alignment then measures the geometry the random features share, not what was "
            "learned; the SNR dependence appears when the hidden layer is learned (small "
            "initialisation, 0.1, the regime of the linear theory).")
    lin = series_of(data.get("linear_snr", []))
    if lin:
        diffs = [abs(p.align["cka"][0] - float(theory.cka(s, p.spec.params["d"],
                                                          snr_db_to_ratio(p.x))))
                 for s, pts in lin.items() for p in pts]
        parts.append(f"The linear network follows the analytic theory (`engine.theory`): mean "
                     f"|simulated - theory| CKA {np.mean(diffs):.3f}, at most {max(diffs):.3f}.")
    return " ".join(parts)


def _note_claim2(claims: dict, data: dict) -> str:
    parts = []
    lin = series_of(data.get("linear_n", []))
    if lin:
        for s, pts in lin.items():
            d = pts[0].spec.params["d"]
            near_thr = [p for p in pts if abs(p.x - d) <= 5]
            if not near_thr:
                continue
            peak = max(p.test_error[0] for p in near_thr)
            th = float(theory.test_error(d, d, snr_db_to_ratio(float(s))))
            frac = np.mean([p.epochs_max_fraction for p in near_thr])
            parts.append(
                f"Linear network, {s:g} dB: near n = d gradient descent had not converged "
                f"within max_epochs = {pts[0].spec.max_epochs} ({frac:.0%} of the members "
                f"there used all epochs, training loss still > 0), so the measured test-error "
                f"peak ({peak:.3f}) is below the theory's typical value at n = d "
                f"({th:.3f}): finite training acts as a regulariser near the threshold.")
    rows2 = claims["2"]["rows"]
    for r in [r for r in rows2 if r["figure"] == "mlp_n" and r["verdict"] != "holds"]:
        other = [o for o in rows2 if o["setting"] == r["setting"] and o is not r]
        txt = (f"ReLU MLP, {r['setting'].split(', ')[-1]}, {r['measure']}: the minimum is at "
               f"n = {r['n_min']:g}, {r['n_min'] / r['threshold']:.1f} times the threshold")
        if other:
            txt += (f" ({other[0]['measure']}: at n = {other[0]['n_min']:g}; the CKA curve is "
                    "flat within its error bars between about P and 2P)")
        parts.append(txt + ".")
    return " ".join(parts)


def _note_claim4(claims: dict, data: dict) -> str:
    c4 = claims["4"]
    if not c4.get("peaks"):
        return ""
    parts = []
    noisy = [k for k in c4["peaks"] if k != 0.0]
    pts0 = data["digits_width"][0]
    if noisy:
        pk = c4["peaks"][noisy[0]]
        err, ii = pk["err"], pk["ii"]
        if err["peak"]:
            p_err = next(p.n_parameters for p in data["digits_width"] if p.x == err["x"])
            txt = (f"With label noise {noisy[0]:g}, the test error has a double descent: its "
                   f"peak ({err['value']:.3f}) is at width {err['x']:g} (P = {p_err}), next to "
                   f"the width where the networks first fit all their noisy labels "
                   f"({pk['w_interp']:g}), i.e. near P = n = {pts0.spec.n_train}, not at the "
                   f"docs/science.md threshold P = n·C = {pts0.spec.n_train * pts0.spec.n_outputs()} "
                   "(with cross-entropy a network fits n labels with far fewer than n·C "
                   "parameters). ")
            if ii["peak"]:
                at = next(p for p in data["digits_width"] if p.x == ii["x"] and p.s == noisy[0])
                cl = next(p for p in data["digits_width"] if p.x == ii["x"] and p.s == 0.0)
                txt += (f"Delta(h -> y_clean) follows it, peaking at width {ii['x']:g} "
                        f"({ii['value']:.3f}; untrained {at.info_init['ii_h_to_y'][0]:.3f}, "
                        f"clean labels {cl.info['ii_h_to_y'][0]:.3f}): near the interpolation "
                        "threshold, training on noisy labels adds little class information "
                        "to the hidden layer.")
            else:
                txt += "Delta(h -> y_clean) has no significant peak."
            parts.append(txt)
    cmp_rows = c4.get("compare", [])
    if cmp_rows:
        gaps = [r["noisy"][0] - r["clean"][0] for r in cmp_rows]
        last = cmp_rows[-1]
        noisy_pts = {p.x: p for p in data["digits_width"] if p.s == noisy[0]} if noisy else {}
        clean_pts = {p.x: p for p in data["digits_width"] if p.s == 0.0}
        rev = [(noisy_pts[w].info["ii_y_to_h"][0] > clean_pts[w].info["ii_y_to_h"][0])
               for w in noisy_pts if w in clean_pts]
        n_less = sum(r["z_clean_minus_noisy"] < -Z for r in cmp_rows)
        parts.append(
            "The second part of the claim is **not** reproduced: the networks trained on noisy "
            "labels are *less* informative about the clean classes than those trained on clean "
            f"labels (Delta higher by {min(gaps):.3f} to {max(gaps):.3f}; significantly at "
            f"{n_less} of {len(cmp_rows)} widths); the gap shrinks with width but is still "
            f"significant at width {last['width']:g} ({gaps[-1]:.3f}, z = "
            f"{last['z_clean_minus_noisy']:+.1f}). The reverse direction Delta(y_clean -> h) "
            f"is also higher (less informative) for noisy labels at {sum(rev)} of {len(rev)} "
            "widths. The quick mode (n = 300) and a set-up probe (n = 1000, two members per "
            "setting) gave the same sign.")
    return " ".join(parts)


def _note_claim5(claims: dict, data: dict) -> str:
    rows = claims["5"].get("rows", [])
    if not rows:
        return ""
    worse = [r for r in rows if r["z"] > Z]
    same = [r for r in rows if abs(r["z"]) <= Z]
    txt = ""
    w_worse = ", ".join(f"{r['width']:g}" for r in worse)
    e_worse = ", ".join(f"{r['train_error']:.2f}" for r in worse)
    w_same = ", ".join(f"{r['width']:g}" for r in same)
    if worse:
        txt += (f"Training on random labels leaves the hidden layer less informative than "
                f"random features at widths {w_worse} (train error there: {e_worse}). ")
    if same:
        txt += (f"At widths {w_same} the networks memorise "
                "all random labels while their hidden layer keeps the random features' "
                "information (|z| <= 2): wide networks fit random labels close to the lazy "
                "regime here, so the abstract's 'much beyond lazy learning' is seen only in "
                "narrow networks.")
    return txt


def _note_claim6(claims: dict, data: dict) -> str:
    c6 = claims["6"]
    if not c6.get("rows"):
        return ""
    parts = []
    for s, rho, k, w in c6["per"]:
        over = [r for r in c6["rows"] if r["series"] == s and r["over"]]
        if not over:
            continue
        parts.append(f"label noise {s:g}: from width {over[0]['width']:g} to "
                     f"{over[-1]['width']:g} the test cross-entropy goes "
                     f"{over[0]['test_ce'][0]:.2f} -> {over[-1]['test_ce'][0]:.2f} and "
                     f"Delta(pen -> out) {over[0]['ii_pen_to_out'][0]:.3f} -> "
                     f"{over[-1]['ii_pen_to_out'][0]:.3f} (Spearman {rho:+.2f})")
    return ("Per label-noise level, " + "; ".join(parts) + ". The two levels support "
            "opposite readings, so the claim holds only in part in our model.") if (
        c6.get("reading_a") and c6.get("reading_b")) else "; ".join(parts) + "."


def _row_space_example(data: dict[str, list[Point]]) -> str:
    """Why the below-threshold linear test error differs from 1 - n/d for this seed: the
    fraction of the teacher's norm in the row space of the training inputs (which is all
    the minimum-norm solution can recover), from the clean data of the run's own spec."""
    from engine.datasets import load_data
    groups = series_of(data["linear_snr"])
    s_min = min(groups)
    p = groups[s_min][-1]  # the highest SNR: test error ~ the teacher's unseen part
    d = p.spec.params["d"]
    if p.spec.n_train >= d:
        return ""
    data0 = load_data(p.spec)
    x = data0.x_train.astype(np.float64)
    beta = data0.teacher.astype(np.float64)
    seen = float(np.sum((np.linalg.pinv(x) @ (x @ beta)) ** 2))  # |P_row beta|^2
    return (f"Example: the linear network at n = {p.spec.n_train} reaches a test error of "
            f"{p.test_error[0]:.3f} at {p.x:g} dB where the theory's average is "
            f"1 - n/d = {1 - p.spec.n_train / d:.2f}, because this seed's teacher has "
            f"{seen:.2f} (on average {p.spec.n_train / d:.2f}) of its squared norm in the row "
            f"space of the {p.spec.n_train} training inputs.")


def add_notes(claims: dict[str, dict], data: dict[str, list[Point]]) -> list[str]:
    """Interpretation notes computed from the numbers (so a rerun stays truthful): each
    claim's into ``claims[key]["note"]``; returns the report-wide notes."""
    for key, fn in (("1", _note_claim1), ("2", _note_claim2), ("4", _note_claim4),
                    ("5", _note_claim5), ("6", _note_claim6)):
        try:
            claims[key]["note"] = fn(claims, data)
        except (KeyError, IndexError, StopIteration, ValueError):
            claims[key]["note"] = ""
    ex = [r for r in claims["3"]["rows"] if r["a"] is not None and r["measure"] == "linear CKA"]
    claims["3"]["note"] = " ".join(
        f"{'Linear network' if r['figure'] == 'linear_n' else 'ReLU MLP'}, {r['series']:g} dB: "
        f"n = {r['a'].x:g} gives CKA {r['a'].align['cka'][0]:.3f} and test error "
        f"{r['a'].test_error[0]:.3f}; n = {r['b'].x:g} gives CKA {r['b'].align['cka'][0]:.3f} "
        f"but test error {r['b'].test_error[0]:.3f}." for r in ex)
    if ex:
        claims["3"]["note"] += (
            " With few samples the members fit nearly the same small solution (in the linear "
            "model: the minimum-norm fit of a few points, test error about 1 - n/d) and agree, "
            "while they generalise poorly; with more samples they generalise better yet agree "
            "less. Alignment and generalisation are not ordered the same way across sample "
            "sizes.")
    seed_note = ("One seed per grid point: each point is one draw of the training sample (and, "
                 "for the synthetic tasks, of the teacher); the error bars are over ensemble "
                 "members and member pairs, not over data draws.")
    try:
        seed_note += " " + _row_space_example(data)
    except (KeyError, IndexError, ValueError):
        pass
    return [
        seed_note,
        "Information Imbalance values are exact over all N probe points with k = 1 "
        "(N = 500 for the regression tasks, 360 for digits); they depend on N and k.",
        "Choices made while setting up, with small direct probes: a small initialisation "
        "(0.1) for the ReLU regression network (with the standard one the hidden layer "
        "barely learns; kept as a second series in claim 1); digits rather than MNIST-1D "
        "(an MLP on 500 MNIST-1D points stays at about 75 % test error, so nothing "
        "resolves); n = 1000 for the width sweep (in probes at n = 300 and 500 the test "
        "error fell with width without a clear peak: the networks fit n noisy labels from "
        "about 4-8 hidden units, where the 10-class bottleneck dominates the error; at "
        "n = 1000 that point moves to 12-16 units and the peak shows); full-batch Adam to "
        "a training cross-entropy of 1e-3.",
        "The linear network is trained by full-batch gradient descent (SGD without "
        "minibatches) from init_scale 0.01, the setting of the analytic theory; the MLP "
        "and the classifiers by full-batch Adam.",
    ]
