"""The full pairwise table of noisealign.engine.own_models.pairs (issue 16): 8 arrays of N = 5,000 x 256 with
10-class labels, every measure, timed per measure (the ``seconds`` column) and in total,
after dadapy and torch are imported. Also the table's II matrix against the matrix path
before this issue (commit fa6afa2's ``_pair_sums``, which sorts every row of every space),
same spaces, same run.

    python benchmarks/bench_compare.py [--n 5000] [--m 8] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OLD_COMMIT = "fa6afa2"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def make_arrays(n: int, m: int, d: int = 256, seed: int = 0) -> tuple[dict, np.ndarray]:
    """Two "models" of m/2 layers: ReLU images of a shared 32-dim latent, noisier with
    depth; labels from the latent's first coordinates."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 32))
    arrays = {}
    for i in range(m):
        model, layer = divmod(i, m // 2)
        h = np.maximum(z @ rng.normal(size=(32, d)) + rng.normal(size=(n, d)) * (layer + 1), 0)
        arrays[f"m{model}/l{layer}"] = h.astype(np.float32)
    labels = np.digitize(z[:, 0], np.quantile(z[:, 0], np.linspace(0.1, 0.9, 9)))
    return arrays, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=8)
    ap.add_argument("--out")
    args = ap.parse_args()
    import torch

    from noisealign.engine.measures import core as measures
    from noisealign.engine.measures.intrinsic_dim import import_dadapy
    from noisealign.engine.own_models.pairs import compare
    import_dadapy()
    arrays, labels = make_arrays(args.n, args.m)
    lines = [(f"torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
             f"{np.__version__}; {args.m} arrays of N = {args.n:,} x 256, 10 classes"), ""]
    before = load()
    t0, c0 = time.perf_counter(), time.process_time()
    rows = compare(arrays, labels)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    per: dict[str, float] = {}
    for r in rows:
        if r["measure"] in ("id", "ii_labels") and "shared" not in r["note"]:
            per[r["measure"]] = per.get(r["measure"], 0.0) + r["seconds"]
        elif "shared" in r["note"]:
            per[r["measure"]] = -1.0  # computed in the II matrix's pass
        else:
            per[r["measure"]] = r["seconds"]
    lines += [(f"Full table (all measures, {len(rows)} rows): **{wall:.1f} s wall, {cpu:.1f} s "
              f"CPU** (load average {before} before, {load()} after)."), "",
              "| measure | seconds |", "|---|---:|"]
    for name, s in per.items():
        label = {"ii": "II matrix, both directions (ii, ii_score; with mutual k-NN and "
                       "Delta(a -> labels) in the same pass)",
                 "cka": "CKA and debiased CKA (one pass)", "mknn": "mutual k-NN matrix",
                 "cknna": "CKNNA (neighbour search + sparse HSIC)",
                 "id": "intrinsic dimension, all arrays", "ii_labels":
                 "Delta(a -> labels), all arrays"}.get(name)
        if label:
            lines.append(f"| {label} | {'(in the II pass)' if s < 0 else f'{s:.2f}'} |")
    # The II matrix, before and now, same spaces.
    with tempfile.TemporaryDirectory() as old_dir:
        src = subprocess.run(["git", "show", f"{OLD_COMMIT}:engine/measures/core.py"], cwd=ROOT,
                             check=True, capture_output=True, text=True).stdout
        Path(old_dir, "old_measures.py").write_text(src)
        sys.path.insert(0, old_dir)
        import old_measures
        xs = list(arrays.values())
        t = time.perf_counter()
        new = measures.information_imbalance_matrix(xs, 1)
        t_new = time.perf_counter() - t
        t = time.perf_counter()
        old = old_measures.information_imbalance_matrix(xs, 1)
        t_old = time.perf_counter() - t
    lines += ["", (f"II matrix alone ({args.m} x {args.m}, k = 1): now {t_new:.2f} s, before "
              f"({OLD_COMMIT}) {t_old:.2f} s: **{t_old / t_new:.1f}x**; max |difference| "
              f"{np.abs(new - old).max():.1e} (load average after: {load()})."), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
