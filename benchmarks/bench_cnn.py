"""Batched CNN ensemble vs a per-member loop doing the same work (issue 14).

K = 8 CNN members (engine.model.BatchedCNN: two 3x3 conv blocks with `width` channels,
2x2 max pool, a dense layer of 2 * width, 10 outputs) on digits 8x8 with label noise,
full batch, Adam, over n in {500, 1437} x width (channels) in {8, 32, 64} (1437 is all of
digits' training pool: the issue's n = 2000 does not exist on digits). Five arms,
alternated within each grid point and each kept at its best of the repeats, so a burst
of load from other processes hits all arms alike:

* engine: the engine's own ``engine.train.train`` on one BatchedCNN (its default
  batching, "auto": grouped below 12 channels, members from 12 on a CPU; it also reads
  every member's loss each epoch and evaluates a 50-point probe set at its log-spaced
  record epochs, here every epoch; its time is per forward/backward pass, of which
  train() makes one more than it has epochs);
* grouped: the bare training loop (forward, summed loss, backward, fused Adam, the
  losses read back) on BatchedCNN's grouped-convolution forward (batching="grouped");
* members: the same bare loop, each member's convolutions on their own
  (batching="members"; the dense layers and the optimiser still batched);
* vmap: the same bare loop on ``torch.func.vmap`` of one functional CNN over the K
  stacked parameter sets (the alternative design);
* loop: K plain ``torch.nn.Sequential`` CNNs with the same initial weights, each with
  its own fused Adam, trained one after another (reading the loss each epoch).

All arms pool before the ReLU, as BatchedCNN does (the same values as ReLU then pool, on a
quarter of the elements), so only the batching differs.

Time per epoch is steady after the first, so each arm runs a few epochs (6 at n = 500,
3 at n = 1437) after one warm-up epoch. The load average is printed with the table.

    python -m benchmarks.bench_cnn [--quick] [--device cpu|cuda] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from engine import ExperimentSpec
from engine.datasets import load_data
from engine.model import BatchedCNN, init_cnn_weights, member_init_seed
from engine.noise import make_noisy
from engine.train import train

K = 8
SHAPE = (1, 8, 8)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def setup(n, width, device):
    spec = ExperimentSpec(dataset="digits", architecture="cnn", n_train=n, n_probe=50,
                          width=width, ensemble_size=K, noise="label", label_noise=0.2,
                          loss_tol=0.0, lr=1e-3, device=device.type)
    data = load_data(spec)
    noisy = make_noisy(data, "label", spec.snr, spec.label_noise, spec.seed, list(range(K)))
    inits = [init_cnn_weights(SHAPE, width, 10, member_init_seed(0, m), 1.0, True)
             for m in range(K)]
    x = torch.as_tensor(noisy.x, device=device)
    y = torch.as_tensor(noisy.y, dtype=torch.int64, device=device)
    xp = torch.as_tensor(data.x_probe, device=device)
    yp = torch.as_tensor(data.y_probe, dtype=torch.int64, device=device)
    return spec, inits, x, y, xp, yp


def run_batched(spec, inits, x, y, xp, yp, device, epochs) -> float:
    model = BatchedCNN(inits, "relu", SHAPE).to(device)
    train(model, x, y, xp, yp, task="classification", optimizer="adam", lr=spec.lr,
          weight_decay=0.0, max_epochs=1, loss_tol=0.0, batch_size=0, shuffle_seed=0)
    sync(device)
    t = time.perf_counter()
    train(model, x, y, xp, yp, task="classification", optimizer="adam", lr=spec.lr,
          weight_decay=0.0, max_epochs=epochs, loss_tol=0.0, batch_size=0, shuffle_seed=0)
    sync(device)
    # train() makes epochs + 1 forward/backward passes (the last one measures the final
    # loss; in a run of hundreds of epochs it is noise), so per pass:
    return (time.perf_counter() - t) / (epochs + 1)


def _sequential(layers, width, device):
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = layers
    net = torch.nn.Sequential(
        # pool before ReLU, as BatchedCNN does (the same values): only batching differs
        torch.nn.Conv2d(SHAPE[0], width, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.MaxPool2d(2), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(w3.shape[0], w3.shape[1]), torch.nn.ReLU(),
        torch.nn.Linear(w4.shape[0], w4.shape[1])).to(device)
    with torch.no_grad():
        for i, (w, b) in zip((0, 3), ((w1, b1), (w2, b2))):
            net[i].weight.copy_(w); net[i].bias.copy_(b)
        for i, (w, b) in zip((7, 9), ((w3, b3), (w4, b4))):
            net[i].weight.copy_(w.T); net[i].bias.copy_(b)
    return net


def run_loop(spec, inits, x, y, xp, yp, device, epochs) -> float:
    """The obvious alternative: K separate nn.Sequential CNNs trained one by one."""
    total = 0.0
    width = inits[0][0][0].shape[0]
    xi = x.view(-1, *SHAPE)
    for m, layers in enumerate(inits):
        net = _sequential(layers, width, device)
        opt = torch.optim.Adam(net.parameters(), lr=spec.lr, fused=device.type in ("cpu", "cuda"))
        ym = y[m]

        def epoch():
            loss = F.cross_entropy(net(xi), ym)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            float(loss.detach())  # the engine also reads every member's loss each epoch
        epoch()
        sync(device)
        t = time.perf_counter()
        for _ in range(epochs):
            epoch()
        sync(device)
        total += time.perf_counter() - t
    return total / epochs


def _bare_loop(forward, params, y, spec, device, epochs) -> float:
    opt = torch.optim.Adam(params, lr=spec.lr, fused=device.type in ("cpu", "cuda"))

    def epoch():
        out = forward()  # (K, n, 10)
        losses = F.cross_entropy(out.reshape(-1, 10), y.reshape(-1),
                                 reduction="none").view(K, -1).mean(1)
        opt.zero_grad(set_to_none=True)
        losses.sum().backward()
        opt.step()
        losses.detach().cpu().numpy()
    epoch()
    sync(device)
    t = time.perf_counter()
    for _ in range(epochs):
        epoch()
    sync(device)
    return (time.perf_counter() - t) / epochs


def _run_mode(batching):
    def run(spec, inits, x, y, xp, yp, device, epochs) -> float:
        model = BatchedCNN(inits, "relu", SHAPE, batching).to(device)
        return _bare_loop(lambda: model(x)[0], list(model.parameters()), y, spec, device,
                          epochs)
    return run


run_grouped, run_members = _run_mode("grouped"), _run_mode("members")


def run_vmap(spec, inits, x, y, xp, yp, device, epochs) -> float:
    """The bare loop on torch.func.vmap of one functional CNN over stacked parameters."""
    width = inits[0][0][0].shape[0]
    base = _sequential(inits[0], width, "meta")
    nets = [_sequential(layers, width, "cpu") for layers in inits]
    params = {k: torch.stack([dict(net.named_parameters())[k].detach() for net in nets])
              .to(device).requires_grad_() for k, _ in nets[0].named_parameters()}
    xi = x.view(-1, *SHAPE)
    forward = vmap(lambda p: functional_call(base, p, (xi,)))
    return _bare_loop(lambda: forward(params), list(params.values()), y, spec, device, epochs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small grid, for a smoke test")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", help="append the markdown table to this file")
    args = ap.parse_args()
    device = torch.device(args.device)
    ns, widths = ([500], [8, 64]) if args.quick else ([500, 1437], [8, 32, 64])
    name = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads"
    load0 = os.getloadavg()
    lines = [f"Device: {name}; torch {torch.__version__}. K={K} CNN members on digits 8x8, "
             "full batch, Adam; milliseconds per epoch (best of "
             f"{args.repeats}, arms alternated).", "",
             "| n | channels | P per member | engine (ms) | grouped (ms) | members (ms) "
             "| vmap (ms) | loop (ms) | loop / engine | loop / grouped | loop / members "
             "| loop / vmap |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        for w in widths:
            args_ = setup(n, w, device)
            epochs = 6 if n <= 500 else 3
            arms = {"engine": run_batched, "grouped": run_grouped, "members": run_members,
                    "vmap": run_vmap, "loop": run_loop}
            best = {arm: float("inf") for arm in arms}
            for _ in range(args.repeats):
                for arm, fn in arms.items():
                    best[arm] = min(best[arm], fn(*args_, device, epochs))
            p = args_[0].n_parameters()
            e, g, mb, v, lp = (1000 * best[a] for a in arms)
            lines.append(f"| {n} | {w} | {p} | {e:.1f} | {g:.1f} | {mb:.1f} | {v:.1f} | "
                         f"{lp:.1f} | {lp / e:.2f}x | {lp / g:.2f}x | {lp / mb:.2f}x | "
                         f"{lp / v:.2f}x |")
            print(lines[-1], flush=True)
    load1 = os.getloadavg()
    lines += ["", f"Load average (1, 5, 15 min) at the start {load0[0]:.1f}, {load0[1]:.1f}, "
              f"{load0[2]:.1f}; at the end {load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f}."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
