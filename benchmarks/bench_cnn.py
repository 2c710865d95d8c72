"""Batched CNN ensemble vs a per-member loop doing the same work (issue 14).

K = 8 CNN members (noisealign.engine.pipeline.model.BatchedCNN: two 3x3 conv blocks with `width` channels,
2x2 max pool, a dense layer of 2 * width, 10 outputs) on digits 8x8 with label noise,
full batch, Adam, over n in {500, 1437} x width (channels) in {8, 32, 64} (1437 is all of
digits' training pool: the issue's n = 2000 does not exist on digits). The arms run one
after another within each repeat, in the same process with the same torch threads
(``--threads``), so a burst of load from other processes hits all arms alike; the table
gives each arm's median over the repeats and the median over repeats of the ratio
loop / arm within a repeat:

* engine: the engine's own ``noisealign.engine.pipeline.train.train`` on one BatchedCNN (its default
  batching, "auto": channels_last on a CPU, grouped on a GPU; it also reads every
  member's loss each epoch and evaluates a 50-point probe set at its log-spaced record
  epochs, here every epoch; its time is per forward/backward pass, of which train()
  makes one more than it has epochs);
* channels_last: the bare training loop (forward, summed loss, backward, fused Adam,
  the losses read back) on BatchedCNN's channels-last forward (batching="channels_last":
  grouped convolutions on channels-last tensors, the shared input's first convolution
  as one matrix product of its 3x3 patches);
* grouped: the same bare loop on grouped convolutions over (n, K * width, H, W) tensors
  (batching="grouped");
* members: the same bare loop, each member's convolutions on their own
  (batching="members"; the dense layers and the optimiser still batched);
* vmap: the same bare loop on ``torch.func.vmap`` of one functional CNN over the K
  stacked parameter sets (the alternative design);
* loop: K plain ``torch.nn.Sequential`` CNNs with the same initial weights, each with
  its own fused Adam, trained one after another on the same data (reading the loss
  each epoch).

All arms pool before the ReLU, as BatchedCNN does (the same values as ReLU then pool, on a
quarter of the elements), so only the batching differs.

Time per epoch is steady after the first, so each arm runs a few epochs (6 at n = 500,
3 at n = 1437) after one warm-up epoch. The load average is printed with the table.

    python -m benchmarks.bench_cnn [--quick] [--device cpu|cuda] [--threads T]
                                   [--repeats R] [--arms a,b,...] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

from noisealign.engine import ExperimentSpec
from noisealign.engine.pipeline.datasets import load_data
from noisealign.engine.pipeline.model import BatchedCNN, init_cnn_weights, member_init_seed
from noisealign.engine.pipeline.noise import make_noisy
from noisealign.engine.pipeline.train import _keep_freed_memory, train

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
            net[i].weight.copy_(w)
            net[i].bias.copy_(b)
        for i, (w, b) in zip((7, 9), ((w3, b3), (w4, b4))):
            net[i].weight.copy_(w.T)
            net[i].bias.copy_(b)
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

        def epoch(net=net, ym=ym, opt=opt):
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
run_channels_last = _run_mode("channels_last")


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


ARMS = {"engine": run_batched, "channels_last": run_channels_last, "grouped": run_grouped,
        "members": run_members, "vmap": run_vmap, "loop": run_loop}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=30, check=False).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small grid, for a smoke test")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(),
                    help="torch threads for every arm (default: torch's own choice)")
    ap.add_argument("--arms", default=",".join(ARMS),
                    help=f"comma-separated subset of {', '.join(ARMS)} (loop is always run)")
    ap.add_argument("--out", help="append the markdown table to this file")
    args = ap.parse_args()
    arm_names = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(arm_names) - set(ARMS))
    if unknown:
        ap.error(f"--arms: {unknown} are not among {list(ARMS)}")
    arm_names = [a for a in ARMS if a in arm_names and a != "loop"] + ["loop"]
    torch.set_num_threads(args.threads)  # the same threads for the batched arms and the loop
    _keep_freed_memory()  # train() sets it on its first call: every arm gets it from the start
    device = torch.device(args.device)
    ns, widths = ([500], [8, 64]) if args.quick else ([500, 1437], [8, 32, 64])
    name = torch.cuda.get_device_name() if device.type == "cuda" else \
        f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads for every arm"
    load0 = os.getloadavg()
    others = [a for a in arm_names if a != "loop"]
    lines = [(f"{datetime.date.today().isoformat()}, commit {_commit()}. Device: {name}; "
             f"torch {torch.__version__}. K={K} CNN members on digits 8x8, full batch, "
             f"Adam; milliseconds per epoch, median of {args.repeats} repeats (arms in "
             "turn within each); ratios: median over repeats of loop / arm in the same "
             "repeat."), "",
             "| n | channels | P per member | " + " | ".join(f"{a} (ms)" for a in arm_names)
             + " | " + " | ".join(f"loop / {a}" for a in others) + " |",
             "|" + "---:|" * (3 + len(arm_names) + len(others))]
    for n in ns:
        for w in widths:
            args_ = setup(n, w, device)
            epochs = 6 if n <= 500 else 3
            times = {arm: [] for arm in arm_names}
            for _ in range(args.repeats):
                for arm in arm_names:
                    times[arm].append(ARMS[arm](*args_, device, epochs))
            p = args_[0].n_parameters()
            med = {a: 1000 * statistics.median(t) for a, t in times.items()}
            ratio = {a: statistics.median(lp / t for lp, t in zip(times["loop"], times[a]))
                     for a in others}
            lines.append(f"| {n} | {w} | {p} | " + " | ".join(f"{med[a]:.1f}" for a in arm_names)
                         + " | " + " | ".join(f"{ratio[a]:.2f}x" for a in others) + " |")
            print(lines[-1], flush=True)
    load1 = os.getloadavg()
    lines += ["", (f"Load average (1, 5, 15 min) at the start {load0[0]:.1f}, {load0[1]:.1f}, "
              f"{load0[2]:.1f}; at the end {load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f}.")]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
