"""Linear theory vs the engine's own training (issue 4).

Trains one-hidden-layer linear ensembles with :func:`engine.run_experiment` on the
``linear-teacher`` data and compares the measured pairwise alignment of their hidden layers
(Information Imbalance both ways, linear CKA) and their test error with
:mod:`engine.theory`. Writes ``docs/figures/linear_theory.png`` (the main comparison),
``docs/figures/linear_theory_departures.png`` (where theory and simulation part: large
initialisation, the threshold at finite d, weight decay) and the tables between the
``<!-- BEGIN ... -->`` / ``<!-- END ... -->`` markers of ``docs/linear_theory.md``
(``--quick`` writes its figures under ``cache/linear_theory/`` and leaves docs/ alone).

    python -m experiments.linear_theory            # full: d = 100 (about 75 CPU minutes)
    python -m experiments.linear_theory --quick    # d = 30, a couple of minutes
    python -m experiments.linear_theory --jobs 4   # parallel worker processes

Every finished run is appended to ``cache/linear_theory/runs.jsonl`` (keyed by its
settings), so an interrupted run resumes where it stopped; ``--fresh`` ignores it (use it after
changing the training recipe: the key holds the settings, not the code).

Training recipe (chosen so that gradient descent ends at the minimum-norm solution the
theory describes): full-batch SGD, no bias, width 32, init scale 1e-5, and, from the
realised data of each run, the step ``lr = 0.7 / (max_m |beta_m| * lambda_max)`` and
``4 / (lr * min_m |beta_m| * lambda_min)`` epochs for the slowest direction plus the time to
leave the saddle at 0 (``lambda`` the non-zero eigenvalues of the loss Hessian
``2 X^T X / n`` of the end-to-end map, ``beta_m`` the members' min-norm solutions; the
two-layer net moves its end-to-end map with an effective step of about ``lr |beta|``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from noisealign.engine import ExperimentSpec, run_experiment, theory
from noisealign.engine.base.stats import mean_sem
from noisealign.engine.pipeline.datasets import load_data
from noisealign.engine.pipeline.noise import make_noisy

ROOT = Path(__file__).resolve().parents[1]

WIDTH = 32
INIT_SCALE = 1e-5
MEMBERS = 8
MAX_EPOCHS_CAP = 60_000
TOLERANCE = {"ii": 0.05, "cka": 0.05, "test_error": 0.15}  # abs, abs, relative
EXCLUDE = 5  # no tolerance check within this distance of n = d

FULL = {"d": 100, "ns": (25, 50, 75, 90, 110, 150, 300), "snrs": (1.0, 10.0), "seeds": 8,
        "n_probe": 2000,
        "threshold_ns": (95, 98, 100, 102, 105), "threshold_seeds": 3,
        "init_ns": (50, 150), "inits": (1e-5, 1e-3, 1e-2, 1e-1, 1.0), "init_seeds": 3,
        "wd_ns": (50, 90, 110, 150), "wds": (0.01, 0.1, 0.5), "wd_seeds": 3}
QUICK = {"d": 30, "ns": (15, 60), "snrs": (1.0, 10.0), "seeds": 6, "n_probe": 1000,
         "threshold_ns": (30,), "threshold_seeds": 2,
         "init_ns": (15,), "inits": (1e-5, 1.0), "init_seeds": 2,
         "wd_ns": (60,), "wds": (0.1,), "wd_seeds": 2}

CACHE = ROOT / "cache" / "linear_theory" / "runs.jsonl"
DOC = ROOT / "docs" / "linear_theory.md"
FIG = ROOT / "docs" / "figures" / "linear_theory.png"
FIG_DEPART = ROOT / "docs" / "figures" / "linear_theory_departures.png"


# ----------------------------------------------------------------------------- one run


def make_spec(d: int, n: int, snr: float, seed: int, *, n_probe: int = 2000,
              init_scale: float = INIT_SCALE, weight_decay: float = 0.0,
              width: int = WIDTH, lr: float = 0.01, max_epochs: int = 1) -> ExperimentSpec:
    """The spec of one validation run (lr and max_epochs come from :func:`training_settings`)."""
    return ExperimentSpec(
        dataset="linear-teacher", dataset_params={"d": d}, n_train=n, n_probe=n_probe,
        noise="target", snr_db=10.0 * math.log10(snr) if math.isfinite(snr) else math.inf,
        width=width, depth=1, activation="linear", bias=False, ensemble_size=MEMBERS,
        init_scale=init_scale, optimizer="sgd", lr=lr, max_epochs=max_epochs, loss_tol=0.0,
        weight_decay=weight_decay, seed=seed, device="cpu")


def ridge_solutions(x: np.ndarray, y: np.ndarray, lam: np.ndarray | float) -> np.ndarray:
    """(K, d) solutions of min (1/n)|x b - y_m|^2 + lam_m |b|^2 (lam = 0: min-norm).

    x: (n, d) float64, y: (K, n), lam: scalar or (K,).
    """
    n = x.shape[0]
    lam = np.broadcast_to(np.asarray(lam, float), (y.shape[0],))
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    keep = s > s.max() * 1e-10
    u, s, vt = u[:, keep], s[keep], vt[keep]
    # b = V diag(s / (s^2 + n lam)) U^T y
    coef = (y @ u) * (s / (s[None, :] ** 2 + n * lam[:, None]))
    return coef @ vt


def training_settings(spec: ExperimentSpec) -> dict[str, Any]:
    """lr and epochs for this spec's realised data (see the module docstring).

    Also returns ``beta_ref`` (K, d): the members' minimum-norm solutions (no weight
    decay) or the ridge solutions with the lam that the theory maps weight decay to,
    which converged training should approach.
    """
    data = load_data(spec)
    noisy = make_noisy(data, spec.noise, spec.snr, spec.label_noise, spec.seed,
                       list(range(spec.ensemble_size)))
    x = data.x_train.astype(np.float64)
    y = noisy.y.astype(np.float64)
    n, d = x.shape
    ev = np.linalg.svd(x, compute_uv=False) ** 2 / n
    ev = ev[ev > ev.max() * 1e-10]
    lam = 0.0
    if spec.weight_decay > 0:
        lam = float(theory.ridge_from_weight_decay(n, d, spec.snr, spec.weight_decay))
        lam = 0.0 if not math.isfinite(lam) else lam
    beta_ref = ridge_solutions(x, y, lam)
    norms = np.maximum(np.linalg.norm(beta_ref, axis=1), 1e-3)
    hess_max, hess_min = 2.0 * (ev.max() + lam), 2.0 * (ev.min() + lam)
    # effective curvature factor |a|^2 + |W|^2_op: about |beta| once trained, and the
    # random init's own size at a large init scale
    width = spec.width
    init_curv = spec.init_scale ** 2 * (1.0 + (1.0 + math.sqrt(width / d)) ** 2)
    lr = 0.7 / ((norms.max() + init_curv) * hess_max)
    grow = 2.0 * np.linalg.norm(x.T @ y.T / n, axis=0).min()
    t_escape = math.log(1.0 / spec.init_scale ** 2) / (lr * max(grow - spec.weight_decay, 1e-3))
    t_converge = 4.0 / (lr * norms.min() * hess_min)
    budget = 1.2 * (t_escape + t_converge)
    return {"lr": float(lr), "max_epochs": int(max(10, min(MAX_EPOCHS_CAP, math.ceil(budget)))),
            "beta_ref": beta_ref, "lam": lam, "converged_budget": bool(budget <= MAX_EPOCHS_CAP),
            "x": x, "y": y}


def pair_means(m: np.ndarray) -> tuple[float, float]:
    """(mean over pairs a < b of m[a, b], of m[b, a]) for a (K, K) matrix."""
    iu = np.triu_indices(m.shape[0], 1)
    return float(np.mean(m[iu])), float(np.mean(m.T[iu]))


def measure(result, beta_ref: np.ndarray | None = None) -> dict[str, float]:
    """Pairwise alignment of the hidden layer and test error of one trained ensemble.

    result: an engine Result of a depth-1 linear net; beta_ref (K, d): reference end-to-end
    maps (e.g. the min-norm solutions) to compare the trained ones with.
    """
    import torch

    from noisealign.engine.measures.core import information_imbalance_matrix, linear_cka
    hidden = result.hidden[0].astype(np.float64)  # (K, N, width)
    out = result.output[..., 0].astype(np.float64)  # (K, N): the 1-D projection beta_m . x
    # float64 distances: with a small init the residual directions are ~1e-5 of the main one
    ii = information_imbalance_matrix(list(hidden), dtype=torch.float64)
    ii_out = information_imbalance_matrix([o[:, None] for o in out], dtype=torch.float64)
    k = hidden.shape[0]
    iu = np.triu_indices(k, 1)
    cka = np.array([linear_cka(hidden[a], hidden[b]) for a, b in zip(*iu)])
    centred = hidden - hidden.mean(1, keepdims=True)
    # singular values from the small (width x width) Gram matrices, descending
    ev = np.linalg.eigvalsh(np.einsum("kni,knj->kij", centred, centred))[:, ::-1]
    sv = np.sqrt(np.maximum(ev, 0.0))
    # the trained end-to-end maps, recovered exactly from the probe outputs (N > d)
    beta_net = np.linalg.lstsq(result.x_probe.astype(np.float64), out.T, rcond=None)[0].T
    ab, ba = pair_means(ii)
    rec = {
        "ii_ab": ab, "ii_ba": ba,
        "ii_output": float(np.mean(pair_means(ii_out))),
        "cka": float(np.mean(cka)),
        "test_error": float(np.mean(result.test_error)),
        "rank_one_residual": float(np.max(sv[:, 1] / sv[:, 0])),
        "train_seconds": float(result.timings["train"]),
        "epochs": int(np.max(result.epochs)),
        "beta_norm": float(np.mean(np.linalg.norm(beta_net, axis=1))),
    }
    if beta_ref is not None:
        rec["gd_vs_ref"] = float(np.max(np.linalg.norm(beta_net - beta_ref, axis=1)
                                        / np.linalg.norm(beta_ref, axis=1)))
        b = beta_ref / np.linalg.norm(beta_ref, axis=1, keepdims=True)
        rec["ref_cos2"] = float(np.mean((b @ b.T)[iu] ** 2))  # a perfectly converged run
    return rec, beta_net


def run_point(d: int, n: int, snr: float, seed: int, *, n_probe: int = 2000,
              init_scale: float = INIT_SCALE, weight_decay: float = 0.0,
              width: int = WIDTH) -> dict[str, Any]:
    """Train one ensemble with the recipe and measure it. Returns a flat JSON-able record."""
    import torch
    torch.set_num_threads(1)  # small problems: threads only add contention
    spec = make_spec(d, n, snr, seed, n_probe=n_probe, init_scale=init_scale,
                     weight_decay=weight_decay, width=width)
    st = training_settings(spec)
    spec = spec.replace(lr=st["lr"], max_epochs=st["max_epochs"])
    t0 = time.perf_counter()
    result = run_experiment(spec)
    rec, beta_net = measure(result, st["beta_ref"])
    rec.update({"d": d, "n": n, "snr": snr, "seed": seed, "n_probe": n_probe,
                "init_scale": init_scale, "weight_decay": weight_decay, "width": width,
                "lr": st["lr"], "lam_theory": st["lam"],
                "converged_budget": st["converged_budget"],
                "seconds": time.perf_counter() - t0})
    if weight_decay > 0:
        # The trained members' own lam = wd / (2 |beta|), and how far each member is from
        # the ridge solution with that lam: 0 if GD reached the global minimum of the
        # weight-decayed loss (the exact mapping of engine/theory.py).
        lam_net = weight_decay / (2.0 * np.linalg.norm(beta_net, axis=1))
        own = ridge_solutions(st["x"], st["y"], lam_net)
        rec["lam_net"] = float(np.mean(lam_net))
        rec["gd_vs_own_ridge"] = float(np.max(np.linalg.norm(beta_net - own, axis=1)
                                              / np.linalg.norm(own, axis=1)))
    return rec


# ----------------------------------------------------------------------------- the plan


def _key(task: dict[str, Any]) -> str:
    return hashlib.sha1(json.dumps(task, sort_keys=True).encode()).hexdigest()[:16]


def plan(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """All runs: main grid, threshold, init scale, weight decay (each a kwargs dict)."""
    d, p = cfg["d"], cfg["n_probe"]
    tasks = []
    for snr in cfg["snrs"]:
        for n in cfg["ns"]:
            for s in range(cfg["seeds"]):
                tasks.append({"group": "main", "d": d, "n": n, "snr": snr, "seed": s,
                              "n_probe": p})
    for n in cfg["threshold_ns"]:
        for s in range(cfg["threshold_seeds"]):
            tasks.append({"group": "threshold", "d": d, "n": n, "snr": 10.0, "seed": s,
                          "n_probe": p})
    for init in cfg["inits"]:
        for n in cfg["init_ns"]:
            for s in range(cfg["init_seeds"]):
                tasks.append({"group": "init", "d": d, "n": n, "snr": 10.0, "seed": s,
                              "n_probe": p, "init_scale": init})
    for wd in cfg["wds"]:
        for n in cfg["wd_ns"]:
            for s in range(cfg["wd_seeds"]):
                tasks.append({"group": "weight_decay", "d": d, "n": n, "snr": 10.0,
                              "seed": s, "n_probe": p, "weight_decay": wd})
    return tasks


def _run_task(task: dict[str, Any]) -> dict[str, Any]:
    kw = {k: v for k, v in task.items() if k != "group"}
    rec = run_point(**kw)
    rec["group"] = task["group"]
    rec["key"] = _key(task)
    return rec


def load_cache(path: Path = CACHE) -> dict[str, dict[str, Any]]:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
                done[rec["key"]] = rec
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut off by an interrupted run
    return done


def execute(tasks: list[dict[str, Any]], *, jobs: int = 1, fresh: bool = False,
            cache: Path | None = CACHE, log=print) -> list[dict[str, Any]]:
    """Run the tasks not already in the cache; returns all records (in task order)."""
    done = {} if fresh or cache is None else load_cache(cache)
    todo = [t for t in tasks if _key(t) not in done]
    log(f"{len(tasks) - len(todo)} runs cached, {len(todo)} to do")
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)

    def keep(rec):
        done[rec["key"]] = rec
        if cache is not None:
            with cache.open("a") as f:
                f.write(json.dumps(rec) + "\n")
        log(f"  {rec['group']:>12} n={rec['n']:4d} snr={rec['snr']:g} seed={rec['seed']} "
            f"init={rec['init_scale']:g} wd={rec['weight_decay']:g}: cka={rec['cka']:.3f} "
            f"ii={rec['ii_ab']:.3f}/{rec['ii_ba']:.3f} err={rec['test_error']:.3f} "
            f"({rec['epochs']} epochs, {rec['train_seconds']:.1f} s)")

    if jobs > 1 and todo:
        with ProcessPoolExecutor(jobs) as ex:
            for rec in ex.map(_run_task, todo):
                keep(rec)
    else:
        for t in todo:
            keep(_run_task(t))
    return [done[_key(t)] for t in tasks]


# ----------------------------------------------------------------------------- summaries


def _mean_se(v: Iterable[float]) -> tuple[float, float]:
    # noisealign.engine.base.stats' convention: NaN, not 0, for one value (one run says nothing of spread)
    return mean_sem(list(v))


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (group, d, n, snr, init, wd): seed means, standard errors, theory."""
    groups: dict[tuple, list] = {}
    for r in records:
        key = (r["group"], r["d"], r["n"], r["snr"], r["init_scale"], r["weight_decay"])
        groups.setdefault(key, []).append(r)
    rows = []
    for (group, d, n, snr, init, wd), rs in groups.items():
        t = theory.theory(n, d, snr, wd)
        row = {"group": group, "d": d, "n": n, "snr": snr, "init_scale": init,
               "weight_decay": wd, "seeds": len(rs),
               "th_ii": float(t.ii), "th_cka": float(t.cka), "th_test_error": float(t.test_error),
               "th_ii_large_d": float(t.ii_large_d), "th_cka_large_d": float(t.cka_large_d),
               "th_ridge": float(t.ridge)}
        for k in ("ii_ab", "ii_ba", "ii_output", "cka", "test_error", "rank_one_residual",
                  "train_seconds", "epochs", "gd_vs_ref", "ref_cos2", "lam_net",
                  "gd_vs_own_ridge", "beta_norm"):
            if k in rs[0]:
                row[k], row[k + "_se"] = _mean_se(r[k] for r in rs)
        row["all_converged_budget"] = all(r["converged_budget"] for r in rs)
        checked = abs(n - d) > EXCLUDE
        row["checked"] = checked
        row["ok_ii"] = (max(abs(row["ii_ab"] - row["th_ii"]), abs(row["ii_ba"] - row["th_ii"]))
                        <= TOLERANCE["ii"])
        row["ok_cka"] = abs(row["cka"] - row["th_cka"]) <= TOLERANCE["cka"]
        row["ok_test_error"] = (abs(row["test_error"] - row["th_test_error"])
                                <= TOLERANCE["test_error"] * row["th_test_error"])
        rows.append(row)
    rows.sort(key=lambda r: (r["group"], r["snr"], r["init_scale"], r["weight_decay"], r["n"]))
    return rows


def _f(x: float, se: float | None = None, digits: int = 3) -> str:
    s = f"{x:.{digits}f}"
    return s if se is None else f"{s} ± {se:.{digits}f}"


def table_main(rows: list[dict[str, Any]]) -> str:
    lines = [("| SNR | n | II a→b (sim) | II b→a (sim) | II theory | CKA sim | CKA theory "
             "| CKA d→∞ | test error sim | test error theory | GD vs min-norm (rel.) "
             "| train s/run | ok |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["group"] != "main":
            continue
        ok = ("—" if not r["checked"] else
              "yes" if r["ok_ii"] and r["ok_cka"] and r["ok_test_error"] else
              "NO (" + ", ".join(k for k in ("ii", "cka", "test_error") if not r["ok_" + k]) + ")")
        lines.append(
            f"| {r['snr']:g} | {r['n']} | {_f(r['ii_ab'], r['ii_ab_se'])} | "
            f"{_f(r['ii_ba'], r['ii_ba_se'])} | {_f(r['th_ii'])} | {_f(r['cka'], r['cka_se'])} | "
            f"{_f(r['th_cka'])} | {_f(r['th_cka_large_d'])} | "
            f"{_f(r['test_error'], r['test_error_se'])} | {_f(r['th_test_error'])} | "
            f"{r.get('gd_vs_ref', float('nan')):.1e} | {r['train_seconds']:.1f} | {ok} |")
    return "\n".join(lines)


def table_departures(rows: list[dict[str, Any]]) -> str:
    lines = [("| experiment | SNR | n | init | weight decay | II sim (hidden) "
             "| II sim (output, 1-D) "
             "| II theory | CKA sim | CKA theory | test error sim | test error theory "
             "| 2nd/1st singular value | note |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["group"] == "main":
            continue
        note = ""
        if r["group"] == "threshold":
            note = ("GD budget reached before convergence" if not r["all_converged_budget"]
                    else f"min-norm cos² {r.get('ref_cos2', float('nan')):.3f}")
        elif r["group"] == "weight_decay":
            note = (f"λ theory {r['th_ridge']:.3g}, net {r.get('lam_net', float('nan')):.3g}; "
                    f"net vs its own ridge {r.get('gd_vs_own_ridge', float('nan')):.1e}")
        ii = 0.5 * (r["ii_ab"] + r["ii_ba"])
        lines.append(
            f"| {r['group']} | {r['snr']:g} | {r['n']} | {r['init_scale']:g} | "
            f"{r['weight_decay']:g} | {_f(ii, 0.5 * (r['ii_ab_se'] + r['ii_ba_se']))} | "
            f"{_f(r['ii_output'], r['ii_output_se'])} | {_f(r['th_ii'])} | "
            f"{_f(r['cka'], r['cka_se'])} | {_f(r['th_cka'])} | "
            f"{_f(r['test_error'], r['test_error_se'])} | {_f(r['th_test_error'])} | "
            f"{r['rank_one_residual']:.1e} | {note} |")
    return "\n".join(lines)


def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    if begin not in text or end not in text:
        return text.rstrip() + f"\n\n{begin}\n{body}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}\n{end}{tail}"


# ----------------------------------------------------------------------------- min-norm MC


def pinv_monte_carlo(d: int, ns: Iterable[int], snrs: Iterable[float], *, reps: int = 300,
                     seed: int = 0) -> list[dict[str, Any]]:
    """Exact minimum-norm solutions (numpy pinv, no training) of pairs of members.

    Per (n, SNR): E[cos^2] (what linear CKA of rank-one layers measures), E[Delta(cos)]
    (their large-N II), the ratio of expectations E[a.b] / E|a|^2 (the theory's rho), and
    the mean and median of the test error |beta_m - beta|^2, over ``reps`` draws of
    (X, beta, noise), with theory alongside. This isolates the theory's finite-d
    approximations from anything about training.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for snr in snrs:
        for n in ns:
            cos, err, dot, sq = [], [], [], []
            for _ in range(reps):
                x = rng.standard_normal((n, d))
                beta = rng.standard_normal(d)
                beta /= np.linalg.norm(beta)
                b = (x @ beta + rng.standard_normal((2, n)) / math.sqrt(snr)) @ np.linalg.pinv(x).T
                cos.append(b[0] @ b[1] / np.linalg.norm(b[0]) / np.linalg.norm(b[1]))
                err.append(np.sum((b[0] - beta) ** 2))
                dot.append(b[0] @ b[1])
                sq.append(b[0] @ b[0])
            cos, err = np.asarray(cos), np.asarray(err)
            t = theory.theory(n, d, snr)
            rows.append({"d": d, "n": n, "snr": snr, "reps": reps,
                         "cos2": float(np.mean(cos ** 2)),
                         "cos2_se": mean_sem(cos ** 2)[1],  # ddof=1, as every error bar
                         "delta": float(np.mean(theory.ii_of_rho(np.clip(cos, -1, 1)))),
                         "rho_ratio": float(np.mean(dot) / np.mean(sq)),
                         "err_mean": float(err.mean()), "err_median": float(np.median(err)),
                         "th_cka": float(t.cka), "th_cka_large_d": float(t.cka_large_d),
                         "th_ii": float(t.ii), "th_ii_large_d": float(t.ii_large_d),
                         "th_rho": float(t.rho), "th_test_error": float(t.test_error)})
    return rows


def table_pinv(rows: list[dict[str, Any]]) -> str:
    lines = [("| d | SNR | n | E cos² (MC) | CKA theory | ρ² (d→∞) | E Δ(cos) (MC) "
             "| II theory "
             "| Δ(ρ) (d→∞) | ρ MC | ρ theory | test error mean (MC) | median (MC) "
             "| test error theory |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['d']} | {r['snr']:g} | {r['n']} | {_f(r['cos2'], r['cos2_se'])} | "
            f"{_f(r['th_cka'])} | {_f(r['th_cka_large_d'])} | {_f(r['delta'])} | "
            f"{_f(r['th_ii'])} | {_f(r['th_ii_large_d'])} | {_f(r['rho_ratio'])} | "
            f"{_f(r['th_rho'])} | {r['err_mean']:.4g} | {r['err_median']:.4g} | "
            f"{r['th_test_error']:.4g} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- figures


def figure_main(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = [r for r in rows if r["group"] == "main"]
    thr = [r for r in rows if r["group"] == "threshold"]
    d = main[0]["d"]
    snrs = sorted({r["snr"] for r in main})
    n_max = max(r["n"] for r in main)
    ngrid = np.linspace(1, n_max * 1.05, 600)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    colours = {s: c for s, c in zip(snrs, ["tab:blue", "tab:red", "tab:green", "tab:purple"])}
    for snr in snrs:
        c = theory.curves(d, snr, ngrid)
        col = colours[snr]
        pts = sorted([r for r in main if r["snr"] == snr], key=lambda r: r["n"])
        tp = sorted([r for r in thr if r["snr"] == snr], key=lambda r: r["n"])
        ns = np.array([r["n"] for r in pts])
        axes[0].plot(ngrid, c["ii"], color=col, label=f"theory, SNR {snr:g}")
        axes[0].plot(ngrid, c["ii_large_d"], color=col, ls=":", lw=1,
                     label=f"theory d→∞ (Δ(ρ)), SNR {snr:g}")
        for key, mk in (("ii_ab", "o"), ("ii_ba", "s")):
            axes[0].errorbar(ns, [r[key] for r in pts], [r[key + "_se"] for r in pts],
                             fmt=mk, color=col, ms=4, mfc="none" if key == "ii_ba" else col,
                             label=f"sim {'a→b' if key == 'ii_ab' else 'b→a'}, SNR {snr:g}")
        axes[1].plot(ngrid, c["cka"], color=col, label=f"theory, SNR {snr:g}")
        axes[1].plot(ngrid, c["cka_large_d"], color=col, ls=":", lw=1,
                     label=f"theory d→∞ (ρ²), SNR {snr:g}")
        axes[1].errorbar(ns, [r["cka"] for r in pts], [r["cka_se"] for r in pts], fmt="o",
                         color=col, ms=4, label=f"sim, SNR {snr:g}")
        axes[2].plot(ngrid, c["test_error"], color=col, label=f"theory, SNR {snr:g}")
        axes[2].errorbar(ns, [r["test_error"] for r in pts], [r["test_error_se"] for r in pts],
                         fmt="o", color=col, ms=4, label=f"sim, SNR {snr:g}")
        if tp:
            nt = [r["n"] for r in tp]
            axes[0].errorbar(nt, [0.5 * (r["ii_ab"] + r["ii_ba"]) for r in tp],
                             [r["ii_ab_se"] for r in tp], fmt="x", color=col, ms=6,
                             label=f"sim near threshold (GD budget), SNR {snr:g}")
            axes[1].errorbar(nt, [r["cka"] for r in tp], [r["cka_se"] for r in tp], fmt="x",
                             color=col, ms=6)
            axes[2].errorbar(nt, [r["test_error"] for r in tp], [r["test_error_se"] for r in tp],
                             fmt="x", color=col, ms=6)
    for ax, title in zip(axes, ("Information Imbalance (k=1, hidden layer)",
                                "linear CKA (hidden layer)", "test error (MSE vs clean y)")):
        ax.axvline(d, color="grey", ls="--", lw=1)
        ax.axvspan(d - EXCLUDE, d + EXCLUDE, color="grey", alpha=0.12, lw=0)
        ax.set_xlabel("n (training points)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylim(0, 1.05)
    axes[1].set_ylim(0, 1.0)
    axes[2].set_yscale("log")
    axes[2].set_ylim(0.02, 50)
    axes[0].legend(fontsize=6, loc="lower left")
    axes[2].legend(fontsize=7)
    fig.suptitle(f"Linear network, one hidden layer: theory (our model, docs/science.md 3) vs "
                 f"engine training (d = {d}, K = {MEMBERS}; dashed line: n = d, "
                 f"band: ±{EXCLUDE})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def figure_departures(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    init = [r for r in rows if r["group"] == "init"]
    for n in sorted({r["n"] for r in init}):
        rs = sorted([r for r in init if r["n"] == n], key=lambda r: r["init_scale"])
        x = [r["init_scale"] for r in rs]
        ii = [0.5 * (r["ii_ab"] + r["ii_ba"]) for r in rs]
        l = axes[0].plot(x, ii, "o-", label=f"II hidden, n={n}")[0]
        axes[0].plot(x, [r["ii_output"] for r in rs], "s--", color=l.get_color(), mfc="none",
                     label=f"II output (1-D), n={n}")
        axes[0].axhline(rs[0]["th_ii"], color=l.get_color(), ls=":", lw=1)
        axes[0].plot(x, [r["cka"] for r in rs], "^-.", color=l.get_color(), ms=4,
                     label=f"CKA hidden, n={n}")
        axes[0].axhline(rs[0]["th_cka"], color=l.get_color(), ls=":", lw=1)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("init scale")
    axes[0].set_title("initialisation scale (dotted: theory)", fontsize=10)
    axes[0].legend(fontsize=7)

    thr = [r for r in rows if r["group"] in ("threshold", "main") and r["snr"] == 10.0]
    if thr:
        d = thr[0]["d"]
        lo, hi = d - 3 * EXCLUDE - 1, d + 3 * EXCLUDE + 1
        ng = np.linspace(lo, hi, 400)
        c = theory.curves(d, 10.0, ng)
        axes[1].plot(ng, c["cka"], color="tab:red", label="CKA theory (finite d)")
        axes[1].plot(ng, c["cka_large_d"], color="tab:red", ls=":",
                     label="CKA theory d→∞ (ρ²)")
        axes[1].plot(ng, c["ii"], color="tab:blue", label="II theory (finite d)")
        axes[1].plot(ng, c["ii_large_d"], color="tab:blue", ls=":", label="II theory d→∞")
        rs = sorted([r for r in thr if lo <= r["n"] <= hi], key=lambda r: r["n"])
        axes[1].errorbar([r["n"] for r in rs], [r["cka"] for r in rs], [r["cka_se"] for r in rs],
                         fmt="o", color="tab:red", ms=4, label="CKA sim (GD)")
        axes[1].plot([r["n"] for r in rs if "ref_cos2" in r],
                     [r["ref_cos2"] for r in rs if "ref_cos2" in r], "x", color="k",
                     label="cos² of exact min-norm solutions")
        axes[1].errorbar([r["n"] for r in rs], [0.5 * (r["ii_ab"] + r["ii_ba"]) for r in rs],
                         [r["ii_ab_se"] for r in rs], fmt="s", color="tab:blue", ms=4,
                         label="II sim (GD)")
        axes[1].axvline(d, color="grey", ls="--", lw=1)
        axes[1].set_xlabel("n")
        axes[1].set_ylim(0, 1.05)
        axes[1].set_title(f"near the threshold, finite d = {d} (SNR 10)", fontsize=10)
        axes[1].legend(fontsize=6)

    wd = [r for r in rows if r["group"] == "weight_decay"]
    if wd:
        d = wd[0]["d"]
        ng = np.linspace(1, max(r["n"] for r in wd) * 1.1, 400)
        for w, col in zip(sorted({r["weight_decay"] for r in wd}),
                          ["tab:blue", "tab:orange", "tab:green", "tab:purple"]):
            c = theory.curves(d, 10.0, ng, w)
            axes[2].plot(ng, c["test_error"], color=col, label=f"test error theory, wd={w:g}")
            axes[2].plot(ng, c["cka"], color=col, ls="--", lw=1, label=f"CKA theory, wd={w:g}")
            rs = sorted([r for r in wd if r["weight_decay"] == w], key=lambda r: r["n"])
            axes[2].errorbar([r["n"] for r in rs], [r["test_error"] for r in rs],
                             [r["test_error_se"] for r in rs], fmt="o", color=col, ms=4)
            axes[2].errorbar([r["n"] for r in rs], [r["cka"] for r in rs],
                             [r["cka_se"] for r in rs], fmt="^", color=col, ms=4, mfc="none")
        c0 = theory.curves(d, 10.0, ng)
        axes[2].plot(ng, c0["test_error"], color="grey", ls=":", label="test error, no wd")
        axes[2].axvline(d, color="grey", ls="--", lw=1)
        axes[2].set_yscale("log")
        axes[2].set_ylim(0.03, 3)
        axes[2].set_xlabel("n")
        axes[2].set_title("weight decay → ridge (SNR 10; points: sim)", fontsize=10)
        axes[2].legend(fontsize=6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.linear_theory",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="d = 30, few points (minutes)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--fresh", action="store_true", help="ignore cached runs")
    ap.add_argument("--no-write", action="store_true", help="do not touch docs/")
    ap.add_argument("--pinv-only", action="store_true",
                    help="only the Monte-Carlo of exact min-norm solutions (no training)")
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    if args.pinv_only or not args.quick:
        d = cfg["d"]
        ns = sorted({*cfg["ns"], *cfg["threshold_ns"], 10, d - 2, d + 2})
        prow = pinv_monte_carlo(d, ns, cfg["snrs"], reps=300 if not args.quick else 100)
        ptab = table_pinv(prow)
        print(ptab)
        if not args.no_write and not args.quick:
            text = DOC.read_text() if DOC.exists() else "# Linear theory\n"
            DOC.write_text(replace_block(text, "pinv-table", ptab))
        if args.pinv_only:
            return 0
    tasks = plan(cfg)
    t0 = time.perf_counter()
    records = execute(tasks, jobs=args.jobs, fresh=args.fresh)
    rows = aggregate(records)
    print(table_main(rows))
    print()
    print(table_departures(rows))
    checked = [r for r in rows if r["group"] == "main" and r["checked"]]
    failed = [r for r in checked if not (r["ok_ii"] and r["ok_cka"] and r["ok_test_error"])]
    print(f"\n{len(checked) - len(failed)}/{len(checked)} checked points within tolerance "
          f"{TOLERANCE}; {time.perf_counter() - t0:.0f} s")
    if not args.no_write:
        fig, figd = FIG, FIG_DEPART
        if args.quick:  # a smoke test: keep docs/ for the full run
            fig = CACHE.parent / "linear_theory_quick.png"
            figd = CACHE.parent / "linear_theory_departures_quick.png"
        figure_main(rows, fig)
        figure_departures(rows, figd)
        if not args.quick:
            text = DOC.read_text() if DOC.exists() else "# Linear theory\n"
            secs = sum(r["seconds"] for r in records)
            summary = (f"{len(checked) - len(failed)} of {len(checked)} checked points within "
                       f"tolerance. {len(records)} runs, {secs / 60:.0f} CPU minutes in all "
                       f"(one thread each).")
            text = replace_block(text, "main-table", summary + "\n\n" + table_main(rows))
            text = replace_block(text, "departures-table", table_departures(rows))
            DOC.write_text(text)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
