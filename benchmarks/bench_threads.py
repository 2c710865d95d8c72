"""Training on one torch thread vs all of them, per problem size (issue 30, item 1).

Small ensembles are many small operations: each is an OpenMP parallel region whose
threads spin at its barrier, which on a shared CPU costs more than the work. For each
(K, n, width) the script trains the batched ensemble (full batch, Adam, linear-teacher
d = 100, one hidden layer) for a fixed number of epochs with 1 thread and with all, and
reports the time per epoch and the ratio, next to the work per epoch
(``noisealign.engine.pipeline.train.epoch_work``) that ``noisealign.engine.pipeline.train.train_threads`` compares with its
threshold. Load and matmul kernel are printed with the figures.

    python -m benchmarks.bench_threads [--epochs 60]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from noisealign.engine import ExperimentSpec
from noisealign.engine.pipeline.datasets import load_data
from noisealign.engine.pipeline.model import member_init_seed
from noisealign.engine.pipeline.noise import make_noisy
from noisealign.engine.pipeline.run import build_model
from noisealign.engine.pipeline.train import epoch_work, train, train_threads

GRID = [(4, 20, 64), (4, 200, 64), (4, 200, 256), (8, 500, 256), (8, 1000, 256),
        (16, 1000, 256), (8, 4000, 256), (8, 2000, 1024)]


def one(k: int, n: int, width: int, epochs: int, threads: int) -> float:
    spec = ExperimentSpec(n_train=n, width=width, ensemble_size=k, max_epochs=epochs,
                          loss_tol=0.0)
    data = load_data(spec)
    noisy = make_noisy(data, spec.noise, spec.snr, spec.label_noise, spec.seed,
                       list(range(k)), spec.label_noise_kind)
    model = build_model(spec, data.input_dim, [member_init_seed(0, m) for m in range(k)])
    x = torch.as_tensor(noisy.x)
    y = torch.as_tensor(noisy.y, dtype=torch.float32)
    xp, yp = torch.as_tensor(data.x_probe), torch.as_tensor(data.y_probe, dtype=torch.float32)
    t = time.perf_counter()
    train(model, x, y, xp, yp, task=data.task, optimizer="adam", lr=1e-3, weight_decay=0.0,
          max_epochs=epochs, loss_tol=0.0, batch_size=0, shuffle_seed=0, threads=threads)
    return (time.perf_counter() - t) / epochs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=60)
    args = ap.parse_args()
    most = torch.get_num_threads()
    print(f"load {os.getloadavg()}, torch {torch.__version__}, {most} threads, "
          f"BLAS: {torch.backends.mkldnn.is_available() and 'mkldnn' or ''} "
          f"{torch.__config__.parallel_info().splitlines()[-1]}")
    print("| K | n | width | work/epoch | chosen | 1 thread (ms/epoch) | "
          f"{most} threads (ms/epoch) | {most} threads / 1 |")
    print("|---|---|---|---|---|---|---|---|")
    for k, n, width in GRID:
        spec = ExperimentSpec(n_train=n, width=width, ensemble_size=k)
        work = epoch_work(k, n, spec.n_parameters())
        t1 = min(one(k, n, width, args.epochs, 1) for _ in range(2))
        tm = min(one(k, n, width, args.epochs, most) for _ in range(2))
        print(f"| {k} | {n} | {width} | {work:.2e} | {train_threads(k, n, spec.n_parameters())} "
              f"| {1e3 * t1:.2f} | {1e3 * tm:.2f} | {tm / t1:.2f} |", flush=True)
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
