"""Own architectures (noisealign.engine.own_models.architectures): vmap over stacked members vs the member
loop, against the built-in batched MLP of the same network, in one run.

    python -m benchmarks.bench_custom_models [--epochs 50] [--repeats 2]

Prints seconds of training (best of ``repeats``) and ratios to the built-in model.
"""

from __future__ import annotations

import argparse
import os

import torch

from noisealign.engine import ExperimentSpec, run_experiment, train_ensemble


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("-K", type=int, default=8)
    ap.add_argument("--width", type=int, default=64)
    a = ap.parse_args()
    spec = ExperimentSpec(dataset="digits", n_train=500, n_probe=300, width=a.width,
                          ensemble_size=a.K, max_epochs=a.epochs, loss_tol=0.0, seed=0)
    d = spec.input_dim()

    def factory() -> torch.nn.Module:
        # digits reach the module as (n, 1, 8, 8) images: flatten first
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(d, a.width), torch.nn.ReLU(),
                                   torch.nn.Linear(a.width, 10))

    runs = {
        "built-in BatchedMLP": lambda: run_experiment(spec),
        "train_ensemble vmap": lambda: train_ensemble(factory, spec, name="b", cache=False,
                                                      batching="vmap"),
        "train_ensemble members": lambda: train_ensemble(factory, spec, name="b",
                                                         cache=False, batching="members"),
    }
    best = {}
    for _ in range(a.repeats):
        for name, fn in runs.items():
            r = fn()
            best[name] = min(best.get(name, float("inf")), r.timings["train"])
    base = best["built-in BatchedMLP"]
    print(f"digits n=500, K={a.K}, width {a.width}, {a.epochs} epochs full batch, Adam; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"load {os.getloadavg()[0]:.1f}")
    for name, s in best.items():
        print(f"  {name:24s} {s:7.2f} s  x{s / base:.2f}")


if __name__ == "__main__":
    main()
