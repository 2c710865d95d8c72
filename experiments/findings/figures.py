"""The report's figures (matplotlib, Agg backend): one function per figure and
:func:`make_figures`, which writes them all as ``findings_<claim>_<name>.png``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from experiments.findings.claims import (
    ALIGN_LABELS,
    CLAIM2_FIGURES,
    SCALING_FIGURE,
    WIDTH_FIGURE,
    error_peak,
    interpolation_width,
    threshold_n,
)
from experiments.findings.collect import Point, Trajectory, preset, series_of
from noisealign.engine import theory
from noisealign.engine.pipeline.spec import snr_db_to_ratio


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
                         "font.size": 9, "axes.titlesize": 10})
    return plt


def _errbar(ax, xs, vals, label=None, **kw):
    y = np.array([v[0] for v in vals])
    e = np.array([v[1] if np.isfinite(v[1]) else 0.0 for v in vals])
    return ax.errorbar(xs, y, yerr=e, marker="o", ms=3.5, capsize=2, label=label, **kw)


def figure_snr(data: dict[str, list[Point]], path: Path) -> None:
    plt = _plt()
    figs = [f for f in ("linear_snr", "linear_snr_threshold", "mlp_snr", "digits_label_noise")
            if f in data]
    if not figs:
        return
    fig, axes = plt.subplots(2, len(figs), figsize=(4.2 * len(figs), 6.4), squeeze=False)
    for j, name in enumerate(figs):
        ax, axe = axes[0, j], axes[1, j]
        groups = series_of(data[name])
        for k, (s, pts) in enumerate(groups.items()):
            xs = [p.x for p in pts]
            sl = "" if s is None else f" ({'init' if name == 'mlp_snr' else 'n'} = {s:g})"
            for m, ls in (("cka", "-"), ("ii_score", "--")):
                _errbar(ax, xs, [p.align[m] for p in pts], f"{ALIGN_LABELS[m]}{sl}",
                        ls=ls, color=f"C{2 * k + (m == 'ii_score')}")
            _errbar(axe, xs, [p.test_error for p in pts], f"test error{sl}", color=f"C{2 * k}")
            if name in ("linear_snr", "linear_snr_threshold"):
                p0 = pts[0]
                d = p0.spec.params["d"]
                snr_grid = np.linspace(min(xs), max(xs), 200)
                t = theory.theory(p0.spec.n_train, d, snr_db_to_ratio_array(snr_grid))
                ax.plot(snr_grid, t.cka, ":", color=f"C{2 * k}", lw=1,
                        label=f"theory CKA, finite d (n = {s:g})")
                ax.plot(snr_grid, 1 - t.ii, ":", color=f"C{2 * k + 1}", lw=1,
                        label=f"theory II score (n = {s:g})")
                axe.plot(snr_grid, t.test_error, ":", color=f"C{2 * k}", lw=1)
        if name == "digits_label_noise":
            ax.set_xlabel("label-noise rate p (SNR decreases to the right)")
            axe.set_xlabel("label-noise rate p")
            axe.set_ylabel("test error (misclassification)")
        else:
            ax.set_xlabel("SNR (dB)")
            axe.set_xlabel("SNR (dB)")
            axe.set_ylabel("test MSE (clean targets)")
            axe.set_yscale("log")
        ax.set_ylabel("alignment between members")
        ax.set_title(preset(name)["title"], fontsize=8)
        ax.legend(fontsize=6.5)
        axe.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def snr_db_to_ratio_array(db: np.ndarray) -> np.ndarray:
    return np.array([snr_db_to_ratio(float(v)) for v in db])


def figure_n(data: dict[str, list[Point]], path: Path) -> None:
    plt = _plt()
    figs = [f for f, _ in CLAIM2_FIGURES if f in data]
    if not figs:
        return
    fig, axes = plt.subplots(2, len(figs), figsize=(5.2 * len(figs), 6.6), squeeze=False)
    for j, name in enumerate(figs):
        ax, axe = axes[0, j], axes[1, j]
        groups = series_of(data[name])
        thr = threshold_n(data[name][0])
        for k, (s, pts) in enumerate(groups.items()):
            xs = [p.x for p in pts]
            for m, ls in (("cka", "-"), ("ii_score", "--")):
                _errbar(ax, xs, [p.align[m] for p in pts], f"{ALIGN_LABELS[m]} (SNR {s:g} dB)",
                        ls=ls, color=f"C{2 * k + (m == 'ii_score')}")
            te = [p.test_error for p in pts]
            _errbar(axe, xs, te, f"test error (SNR {s:g} dB)", color=f"C{2 * k}")
            ipk = error_peak(xs, te)["i"]
            axe.plot([xs[ipk]], [te[ipk][0]], "*", ms=12, color=f"C{2 * k}",
                     label=f"test-error peak, n = {xs[ipk]:g}")
            ax.axvline(xs[ipk], color=f"C{2 * k}", lw=0.8, ls="-.", alpha=0.7)
            if name == "linear_n":
                p0 = pts[0]
                ng = np.unique(np.concatenate([np.geomspace(min(xs), max(xs), 300), xs]))
                c = theory.curves(p0.spec.params["d"], snr_db_to_ratio(float(s)), ng)
                ax.plot(ng, c["cka"], ":", color=f"C{2 * k}", lw=1, label=f"theory CKA ({s:g} dB)")
                ax.plot(ng, c["ii_score"], ":", color=f"C{2 * k + 1}", lw=1,
                        label=f"theory II score ({s:g} dB)")
                axe.plot(ng, c["test_error"], ":", color=f"C{2 * k}", lw=1,
                         label=f"theory ({s:g} dB)")
        for a in (ax, axe):
            a.axvline(thr, color="k", lw=1.2, ls="--",
                      label=("threshold n = d" if name == "linear_n" else "threshold n = P")
                      + f" = {thr:g}")
            a.set_xscale("log")
            a.set_xlabel("training sample size n")
        ax.set_ylabel("alignment between members")
        axe.set_ylabel("test MSE (clean targets)")
        axe.set_yscale("log")
        ax.set_title(preset(name)["title"], fontsize=8)
        ax.legend(fontsize=6.5)
        axe.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_align_vs_error(data: dict[str, list[Point]], c3: dict[str, Any], path: Path) -> None:
    plt = _plt()
    figs = [f for f in ("linear_n", "alignment_vs_error") if f in data]
    if not figs:
        return
    fig, axes = plt.subplots(1, len(figs), figsize=(5.0 * len(figs), 4.0), squeeze=False)
    for j, name in enumerate(figs):
        ax = axes[0, j]
        for k, (s, pts) in enumerate(series_of(data[name]).items()):
            sc = ax.scatter([p.align["cka"][0] for p in pts], [p.test_error[0] for p in pts],
                            c=np.log10([p.x for p in pts]), cmap="viridis",
                            marker="o^"[k % 2], s=24, label=f"SNR {s:g} dB")
            for p in pts:
                ax.annotate(f"{p.x:g}", (p.align["cka"][0], p.test_error[0]), fontsize=5.5,
                            xytext=(2, 2), textcoords="offset points")
        for r in c3["rows"]:
            if r["figure"] == name and r["a"] is not None and r["measure_id"] == "cka":
                a, b = r["a"], r["b"]
                ax.annotate("", xy=(a.align["cka"][0], a.test_error[0]),
                            xytext=(b.align["cka"][0], b.test_error[0]),
                            arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.2})
        fig.colorbar(sc, ax=ax, label="log10 n")
        ax.set_yscale("log")
        ax.set_xlabel("alignment (linear CKA)")
        ax.set_ylabel("test MSE (clean targets)")
        title = "linear network" if name == "linear_n" else "ReLU MLP (width 16)"
        ax.set_title(f"Alignment vs test error: {title}\n(red: higher alignment, worse error)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_width(data: dict[str, list[Point]], c4: dict[str, Any], path: Path) -> None:
    plt = _plt()
    if WIDTH_FIGURE not in data:
        return
    groups = series_of(data[WIDTH_FIGURE])
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.4))
    p0 = data[WIDTH_FIGURE][0]
    n, nc = p0.spec.n_train, p0.spec.interpolation_threshold("n_parameters")
    for k, (s, pts) in enumerate(groups.items()):
        P = [p.n_parameters for p in pts]
        lab = f"label noise {s:g}"
        _errbar(axes[0], P, [p.test_error for p in pts], lab, color=f"C{k}")
        axes[0].plot(P, [p.train_error for p in pts], ":", color=f"C{k}", lw=1)
        _errbar(axes[1], P, [p.info["ii_h_to_y"] for p in pts], lab + " (trained)", color=f"C{k}")
        if k == 0:  # the untrained networks do not depend on the labels: drawn once
            axes[1].plot(P, [p.info_init["ii_h_to_y"][0] for p in pts], ":", color="grey",
                         lw=1.2, label="untrained (random features)")
        _errbar(axes[2], P, [p.test_loss for p in pts], lab, color=f"C{k}")
        _errbar(axes[3], P, [p.moved for p in pts], lab, color=f"C{k}")
    for a in axes:
        a.axvline(nc, color="k", ls="--", lw=1.2, label=f"P = n x classes = {nc:g}")
        a.axvline(n, color="grey", ls=":", lw=1.2, label=f"P = n = {n}")
        a.set_xscale("log")
        a.set_xlabel(f"parameters P (width {groups[0.0][0].x:g} ... {groups[0.0][-1].x:g})"
                     if 0.0 in groups else "parameters P")
    axes[0].set_ylabel("error rate (dotted: training error on the noisy labels)")
    axes[0].set_title(f"Test error vs parameters ({p0.spec.dataset}, n = {n})")
    axes[1].set_ylabel("Delta(h -> y_clean)  (lower = more informative)")
    axes[1].set_title("Information content of the hidden layer")
    axes[2].set_ylabel("test cross-entropy")
    axes[2].set_yscale("log")
    axes[2].set_title("Test cross-entropy")
    axes[3].set_ylabel("CKA(trained h, untrained h) of each network")
    axes[3].set_title("Did the hidden layer move from its initialisation?")
    axes[3].set_ylim(0, 1.02)
    for a in axes:
        a.legend(fontsize=6)
    fig.suptitle("error bars: standard error across data seeds", fontsize=8, y=0.995)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_random_labels(data: dict[str, list[Point]], path: Path) -> None:
    plt = _plt()
    if "random_labels" not in data:
        return
    pts = sorted(data["random_labels"], key=lambda p: p.x)
    fig, ax = plt.subplots(figsize=(5.6, 4.0))
    P = [p.n_parameters for p in pts]
    _errbar(ax, P, [p.info["ii_h_to_y"] for p in pts], "trained on random labels (p = 1)",
            color="C3")
    _errbar(ax, P, [p.info_init["ii_h_to_y"] for p in pts], "untrained (random features)",
            color="C7", ls="--")
    if WIDTH_FIGURE in data:
        clean = {p.x: p for p in data[WIDTH_FIGURE] if p.s == 0.0}
        cp = [clean[p.x] for p in pts if p.x in clean]
        if cp:
            _errbar(ax, [p.n_parameters for p in cp], [p.info["ii_h_to_y"] for p in cp],
                    "trained on clean labels", color="C0", ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("parameters P")
    ax.set_ylabel("Delta(h -> y_clean)  (lower = more informative)")
    ax.set_title(f"Random labels vs random features ({pts[0].spec.dataset})")
    for p in pts:
        if not p.fitted:
            ax.annotate("not fitted", (p.n_parameters, p.info["ii_h_to_y"][0]), fontsize=5.5,
                        xytext=(2, -8), textcoords="offset points", color="C3")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_random_labels_scaling(data: dict[str, list[Point]], c5: dict[str, Any],
                                 path: Path) -> None:
    """Claim 5b: Delta(h -> y_clean) trained on random labels minus untrained, against n,
    one curve per fixed ratio P / (n x classes) (solid: above the threshold, dashed:
    below); hollow markers: the networks did not fit their random labels."""
    plt = _plt()
    if SCALING_FIGURE not in data:
        return
    fig, ax = plt.subplots(figsize=(5.8, 4.0))
    for k, (ratio, rows) in enumerate(c5.get("scaling", {}).items()):
        xs = [r["n_train"] for r in rows]
        diff = [r["trained"][0] - r["init"][0] for r in rows]
        err = [math.hypot(r["trained"][1], r["init"][1]) for r in rows]
        ls = "-" if ratio > 1 else "--"
        ax.errorbar(xs, diff, yerr=err, ls=ls, marker="o", ms=4, capsize=2, color=f"C{k}",
                    label=f"P/(n C) = {ratio:g}")
        for x, dv, r in zip(xs, diff, rows):
            if not r["fitted"]:
                ax.plot([x], [dv], "o", ms=7, mfc="white", color=f"C{k}")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("training sample size n (width scaled with it)")
    ax.set_ylabel("Delta(h->y) random labels - untrained  (> 0: worse)")
    ax.set_title("Random labels vs random features, P and n scaled together", fontsize=8)
    ax.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_pen_out(data: dict[str, list[Point]], c6: dict[str, Any], path: Path) -> None:
    plt = _plt()
    if "pen_to_out" not in data:
        return
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.0))
    for k, (s, pts) in enumerate(series_of(data["pen_to_out"]).items()):
        w_int = interpolation_width(pts)
        over = [p for p in pts if np.isfinite(w_int) and p.x >= w_int]
        under = [p for p in pts if p not in over]
        P = [p.n_parameters for p in pts]
        _errbar(axes[0], P, [p.info["ii_pen_to_out"] for p in pts], f"label noise {s:g}",
                color=f"C{k}")
        if k == 0:  # the untrained networks do not depend on the labels: drawn once
            axes[0].plot(P, [p.info_init["ii_pen_to_out"][0] for p in pts], ":", color="grey",
                         lw=1.2, label="untrained (random features)")
        axes[1].scatter([p.test_loss[0] for p in over], [p.info["ii_pen_to_out"][0] for p in over],
                        color=f"C{k}", marker="o", label=f"label noise {s:g}, overparameterised")
        axes[1].scatter([p.test_loss[0] for p in under],
                        [p.info["ii_pen_to_out"][0] for p in under], facecolors="none",
                        edgecolors=f"C{k}", marker="o", label=f"label noise {s:g}, under")
        for p in pts:
            axes[1].annotate(f"{p.x:g}", (p.test_loss[0], p.info["ii_pen_to_out"][0]),
                             fontsize=5.5, xytext=(2, 2), textcoords="offset points")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("parameters P")
    axes[0].set_ylabel("Delta(penultimate -> pre-softmax)")
    axes[0].set_title("Delta(pen -> out) vs parameters")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("test cross-entropy")
    axes[1].set_ylabel("Delta(penultimate -> pre-softmax)")
    axes[1].set_title("Delta(pen -> out) vs cross-entropy (labels: width)")
    for a in axes:
        a.legend(fontsize=6.5)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def figure_over_training(over: dict[str, list[Trajectory]], path: Path) -> None:
    """Per over-training setting: CKA and II score against epoch (top) beside the test
    error and Delta(h -> y_clean) (bottom), one curve per axis value."""
    plt = _plt()
    if not over:
        return
    names = [k for k, v in over.items() if v]
    fig, axes = plt.subplots(2, len(names), figsize=(5.6 * len(names), 6.6), squeeze=False)
    for j, name in enumerate(names):
        ax, axe = axes[0, j], axes[1, j]
        axis = "n" if name == "linear" else "width"
        for k, t in enumerate(over[name]):
            b = t.block
            if not b.get("epochs"):
                continue
            ep = np.maximum(np.asarray(b["epochs"], float), 0.5)  # epoch 0 on a log axis
            for m, ls in (("cka", "-"), ("ii_score", "--")):
                ax.errorbar(ep, b[m]["mean"], yerr=np.nan_to_num(b[m]["sem"]), ls=ls,
                            marker="o", ms=3, capsize=2, color=f"C{2 * k + (m == 'ii_score')}",
                            label=f"{ALIGN_LABELS[m]} ({axis} = {t.x:g})")
            axe.plot(ep, b["test_error"]["mean"], "-o", ms=3, color=f"C{2 * k}",
                     label=f"test error ({axis} = {t.x:g})")
            if name != "linear":
                axe.plot(ep, b["ii_h_to_y"]["mean"], ":s", ms=3, color=f"C{2 * k + 1}",
                         label=f"Delta(h -> y_clean) ({axis} = {t.x:g})")
        for a in (ax, axe):
            a.set_xscale("log")
            a.set_xlabel("epoch (0 drawn at 0.5)")
        ax.set_ylabel("alignment between members")
        axe.set_ylabel("test error" + ("" if name == "linear" else " / Delta(h -> y_clean)"))
        if name == "linear":
            axe.set_yscale("log")
        ax.set_title(OVER_TRAINING_TITLES.get(name, name))
        ax.legend(fontsize=6)
        axe.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


OVER_TRAINING_TITLES = {"linear": "Linear network (d = 50, 10 dB) over training",
                        "mnist1d": "MNIST-1D (label noise 0.2) over training"}


# ----------------------------------------------------------------------------- all figures


def make_figures(data: dict[str, list[Point]], claims: dict[str, dict], fig_dir: Path,
                 over: dict[str, list[Trajectory]] | None = None) -> list[Path]:
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "findings_1_snr.png": lambda p: figure_snr(data, p),
        "findings_2_n.png": lambda p: figure_n(data, p),
        "findings_3_alignment_vs_error.png": lambda p: figure_align_vs_error(data, claims["3"], p),
        "findings_4_width.png": lambda p: figure_width(data, claims["4"], p),
        "findings_5_random_labels.png": lambda p: figure_random_labels(data, p),
        "findings_5b_scaling.png": lambda p: figure_random_labels_scaling(data, claims["5"], p),
        "findings_6_pen_to_out.png": lambda p: figure_pen_out(data, claims["6"], p),
        "findings_7_over_training.png": lambda p: figure_over_training(over or {}, p),
    }
    written = []
    for fname, fn in paths.items():
        fn(fig_dir / fname)
        if (fig_dir / fname).exists():
            written.append(fig_dir / fname)
    return written
