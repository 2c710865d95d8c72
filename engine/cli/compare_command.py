"""``noisealign compare``: every measure between every pair of your own arrays, from files.

The command's flags, its --out check and the command itself; the table comes from
:mod:`noisealign.engine.own_models.pairs`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from ..measures.registry import REGISTRY
from .text import parse_value, print_json, short_value, text_table


def add_compare_command(sub: Any) -> None:
    """``compare``: every measure between the arrays of a .npz file or .npy folder."""
    from ..own_models.pairs import KNN_METRICS, LIMITS, MEASURES, POOLS
    from ..pipeline.constraints import DEFAULT_K, DEFAULT_KNN_K

    p = sub.add_parser(
        "compare", help="compare your own representations (a .npz or a folder of .npy)",
        description="Pairwise Information Imbalance (both directions), II score, linear "
        "and debiased CKA, mutual k-NN, CKNNA, intrinsic dimension and Delta(a -> labels) "
        "between arrays named model/layer, each (N, D) over the same N inputs; an array "
        "named 'labels' holds N class ids. Example: noisealign compare --write-example "
        "ex.npz && noisealign compare ex.npz --out table.csv")
    p.add_argument("file", nargs="?", default=None,
                   help=f"a .npz, a .safetensors file or a folder of .npy files (at most {LIMITS.max_arrays} "
                        f"arrays, N in [{LIMITS.min_points}, {LIMITS.max_points:,}])")
    p.add_argument("--measures", default=None, metavar="M1,M2,...",
                   help="comma-separated subset of: " + ", ".join(MEASURES) + " (default: all)")
    p.add_argument("--k", type=parse_value, default=DEFAULT_K,
                   help=f"neighbours of the Information Imbalance, 1 to N - 2 (default: {DEFAULT_K})")
    p.add_argument("--knn-k", type=parse_value, default=DEFAULT_KNN_K,
                   help=f"neighbours of mutual k-NN and CKNNA, 1 to N - 2 (default: {DEFAULT_KNN_K})")
    p.add_argument("--knn-metric", default="euclidean", choices=KNN_METRICS,
                   help="mutual k-NN neighbours: euclidean (default) or cosine (rows "
                        "L2-normalised, as platonic-rep)")
    p.add_argument("--subsample", type=parse_value, default=None, metavar="N_SUB",
                   help="compute on --repeats random subsets of this many points (4 to N) "
                        "and report mean, std and standard error (for large N)")
    p.add_argument("--repeats", type=parse_value, default=5,
                   help="subsets with --subsample, 2 to 100 (default: 5)")
    p.add_argument("--seed", type=parse_value, default=0,
                   help="seed of the subsets, 0 to 2^31 - 1 (default: 0)")
    p.add_argument("--pool", default="flatten", choices=POOLS,
                   help="N-D activations (N, C, H, W...): flatten every value into "
                        "features (default), or the mean / max over the axes after the "
                        "channel")
    p.add_argument("--out", default=None, help="write the table (.csv or .json)")
    p.add_argument("--json", action="store_true",
                   help="print every row as one JSON document on stdout instead of the "
                        "table")
    p.add_argument("--write-example", default=None, metavar="FILE.npz",
                   help="write the small synthetic example file and exit")
    p.set_defaults(func=cmd_compare)


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() not in (".csv", ".json"):
        raise ValueError(f"--out {str(out)[:200]!r} is invalid: allowed a .csv or .json "
                         "file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK) or path.is_dir():
        raise ValueError(f"--out {str(out)[:200]!r} is invalid: its folder does not exist "
                         "or is not writable, or it is a folder")
    return path


def cmd_compare(args: argparse.Namespace) -> int:
    from ..own_models.pairs import compare, load_arrays, make_example, write_table

    if args.write_example:
        example = Path(args.write_example)
        if example.suffix.lower() != ".npz" or not (example.parent if str(example.parent) else Path(".")).is_dir():
            raise ValueError(f"--write-example {str(example)[:200]!r} is invalid: allowed a .npz "
                             "file name in an existing folder")
        make_example(example)
        if args.json:
            print_json({"wrote": str(example), "arrays": 7, "N": 600, "labels": True})
        else:
            print(f"wrote {example} (example: 7 arrays of N=600, with labels)")
        return 0
    if args.file is None:
        raise ValueError("no input given: allowed FILE.npz or a folder of .npy files "
                         "(or --write-example FILE.npz)")
    out = _check_out(args.out) if args.out else None
    measures = None
    if args.measures is not None:
        measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    inputs = load_arrays(args.file, pool=args.pool)
    t = time.perf_counter()
    rows = compare(inputs.arrays, inputs.labels, measures=measures, k=args.k,
                   knn_k=args.knn_k, knn_metric=args.knn_metric, subsample=args.subsample,
                   repeats=args.repeats, seed=args.seed)
    secs = time.perf_counter() - t
    n = next(iter(inputs.arrays.values())).shape[0]
    print(f"{len(inputs.arrays)} arrays, N={n:,}"
          + (f", {len(set(inputs.labels.tolist()))} classes" if inputs.labels is not None else "")
          + f", k={args.k}, knn_k={args.knn_k} ({args.knn_metric}): {len(rows)} rows in "
          f"{secs:.1f}s", file=sys.stderr)
    if args.json:
        if out is not None:
            write_table(rows, out)
            print(f"wrote {out} ({len(rows)} rows)", file=sys.stderr)
        print_json({"arrays": {k: list(v.shape) for k, v in inputs.arrays.items()},
                     "N": n, "k": args.k, "knn_k": args.knn_k,
                     "knn_metric": args.knn_metric, "rows": rows})
        return 0
    sub = args.subsample is not None
    table = [["measure", "a", "b", "value"] + (["std", "sem"] if sub else []) + ["note"]]
    for r in rows:
        m = REGISTRY[r["measure"]]
        if m.symmetric and m.arity == 2 and r["a"] > r["b"]:
            continue  # symmetric: one row per pair on screen (the file has both)
        table.append([r["measure"], r["a"], r["b"] or "-", short_value(r["value"])]
                     + ([short_value(r["std"]), short_value(r["sem"])] if sub else []) + [r["note"]])
    print(text_table(table))
    if out is not None:
        write_table(rows, out)
        print(f"wrote {out} ({len(rows)} rows)", file=sys.stderr)
    return 0
