"""Batched ensemble vs a per-member loop doing the same work (issue 2).

K = 8 members, full batch, 200 epochs of Adam on `linear-teacher` (d = 100) with target
noise, one hidden ReLU layer, over n in {200, 1000, 4000} x width in {64, 256, 1024}.
The baseline trains each member alone as a plain `torch.nn.Sequential` MLP with its own
Adam, one after another. The script also measures this machine's float32 matmul peak
(best of several 2048^3 products) and reports achieved GFLOP/s as a fraction of it.

FLOPs counted: 3 x the forward matmul FLOPs (forward + two backward products), i.e.
6 * n * sum(fan_in * fan_out) per member per epoch; elementwise work is not counted.

    python -m benchmarks.bench_ensemble [--quick] [--device cpu|cuda] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from noisealign.engine import ExperimentSpec
from noisealign.engine.pipeline.datasets import load_data
from noisealign.engine.pipeline.model import BatchedMLP, init_weights, member_init_seed
from noisealign.engine.pipeline.noise import make_noisy
from noisealign.engine.pipeline.train import train

K, EPOCHS, D = 8, 200, 100


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device, size=2048, reps=10) -> float:
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * size ** 3 / best / 1e9


def setup(n, width, device):
    spec = ExperimentSpec(dataset="linear-teacher", dataset_params={"d": D}, n_train=n,
                          n_probe=100, width=width, ensemble_size=K, noise="target",
                          snr_db=10.0, max_epochs=EPOCHS, loss_tol=0.0, lr=1e-3, device=device.type)
    data = load_data(spec)
    noisy = make_noisy(data, "target", spec.snr, 0.0, spec.seed, list(range(K)))
    dims = [D, width, 1]
    inits = [init_weights(dims, member_init_seed(0, m), 1.0, True) for m in range(K)]
    x = torch.as_tensor(noisy.x, device=device)
    y = torch.as_tensor(noisy.y, device=device)
    xp = torch.as_tensor(data.x_probe, device=device)
    yp = torch.as_tensor(data.y_probe, device=device)
    return spec, inits, x, y, xp, yp


def run_batched(spec, inits, x, y, xp, yp, device) -> float:
    model = BatchedMLP(inits, "relu").to(device)
    sync(device)
    t = time.perf_counter()
    train(model, x, y, xp, yp, task="regression", optimizer="adam", lr=spec.lr,
          weight_decay=0.0, max_epochs=EPOCHS, loss_tol=0.0, batch_size=0, shuffle_seed=0)
    sync(device)
    return time.perf_counter() - t


def run_loop(spec, inits, x, y, xp, yp, device) -> float:
    """The obvious alternative: K separate nn.Sequential models trained one by one."""
    total = 0.0
    for m, layers in enumerate(inits):
        (w1, b1), (w2, b2) = layers
        net = torch.nn.Sequential(torch.nn.Linear(D, w1.shape[1]), torch.nn.ReLU(),
                                  torch.nn.Linear(w1.shape[1], 1)).to(device)
        with torch.no_grad():
            net[0].weight.copy_(w1.T)
            net[0].bias.copy_(b1)
            net[2].weight.copy_(w2.T)
            net[2].bias.copy_(b2)
        # the same optimiser implementation as the engine (fused), so only batching differs
        opt = torch.optim.Adam(net.parameters(), lr=spec.lr, fused=device.type in ("cpu", "cuda"))
        ym = y[m]
        sync(device)
        t = time.perf_counter()
        for _ in range(EPOCHS):
            loss = ((net(x)[:, 0] - ym) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            float(loss.detach())  # the engine also reads every member's loss each epoch
        sync(device)
        total += time.perf_counter() - t
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small grid, for a smoke test")
    ap.add_argument("--tiny", action="store_true",
                    help="one small cell, one repeat: checks the script runs (gpu_check.sh "
                    "--dry-run); its numbers mean nothing")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", help="append the markdown table to this file")
    args = ap.parse_args()
    device = torch.device(args.device)
    ns, widths = ([200, 1000], [64, 256]) if args.quick else ([200, 1000, 4000], [64, 256, 1024])
    if args.tiny:
        ns, widths = [100], [32]
    peak = matmul_peak(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads"
    lines = [(f"Device: {name}; torch {torch.__version__}; float32 matmul peak "
             f"{peak:.1f} GFLOP/s (2048^3, best of 10). K={K}, {EPOCHS} epochs, full batch, "
             f"Adam, d={D}, one hidden ReLU layer."), "",
             "| n | width | batched (s) | loop (s) | loop / batched | batched GFLOP/s | % of peak |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        for w in widths:
            args_ = setup(n, w, device)
            run_batched(*args_, device)  # warm-up (allocator, threads)
            # Alternate the two arms and keep each one's best time, so a burst of load
            # from other processes hits both arms alike instead of deciding the ratio.
            tb = tl = float("inf")
            for _ in range(1 if args.tiny else 3 if n * w >= 4000 * 1024 else 5):
                tb = min(tb, run_batched(*args_, device))
                tl = min(tl, run_loop(*args_, device))
            flops = 6 * n * (D * w + w * 1) * K * EPOCHS
            gf = flops / tb / 1e9
            lines.append(f"| {n} | {w} | {tb:.3f} | {tl:.3f} | {tl / tb:.2f}x | {gf:.1f} | {100 * gf / peak:.0f}% |")
            print(lines[-1], flush=True)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
