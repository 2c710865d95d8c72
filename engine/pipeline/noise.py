"""Noise processes: each ensemble member's own independent corruption of the base sample.

docs/science.md 1.2. All members share the clean inputs of :class:`noisealign.engine.pipeline.datasets.Data`;
member ``m`` draws its noise from a generator seeded by ``(spec.seed, m)`` only, so its
noise is the same whether it trains alone or inside an ensemble of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .constraints import snr_ratio_to_db
from .datasets import Data


def member_noise_rng(seed: int, member: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0x0015E, member])


@dataclass(frozen=True)
class NoisyData:
    """Training data of the members (M = number of members trained together).

    x: (n, d) shared clean inputs, or (M, n, d) with input noise
    y: (M, n) float32 targets or int64 labels, each member's own realisation
    achieved_snr_db: (M,) empirical SNR of each realisation (inf without noise)
    label_flip_rate: (M,) fraction of labels changed (0 without label noise)
    """

    x: np.ndarray
    y: np.ndarray
    achieved_snr_db: np.ndarray
    label_flip_rate: np.ndarray


def target_variance(data: Data) -> float:
    """Var(y*): exact when the dataset knows it, else from all clean targets at hand."""
    if data.target_variance is not None:
        return float(data.target_variance)
    return float(np.var(np.concatenate([data.y_train, data.y_probe]).astype(np.float64)))


def _db(signal: float, noise: float) -> float:
    # as an array: numpy's log10, as always (the achieved SNR is part of a stored result)
    return float("inf") if noise == 0 else snr_ratio_to_db(np.asarray(signal / noise))


def make_noisy(data: Data, noise: str, snr: float, label_noise: float, seed: int,
               members: list[int], label_noise_kind: str = "uniform") -> NoisyData:
    """Each member's noisy copy of ``data``'s training sample.

    ``snr`` is a ratio (``inf`` for no noise); ``label_noise`` the probability p that a
    label is replaced: ``label_noise_kind="uniform"`` by a class drawn uniformly from
    all classes (so a label changes with probability p (1 - 1/C)), ``"pair"`` by the
    next class, c -> (c + 1) mod C (it changes with probability p). The achieved rate
    is ``label_flip_rate``.
    """
    n, d = data.x_train.shape
    m_count = len(members)
    y = np.repeat(data.y_train[None], m_count, axis=0)
    x = data.x_train
    snr_db = np.full(m_count, np.inf)
    flips = np.zeros(m_count)
    if noise == "target" and np.isfinite(snr):
        var = target_variance(data)
        sigma = np.sqrt(var / snr)
        eps = np.stack([member_noise_rng(seed, m).standard_normal(n) for m in members])
        y = (y + sigma * eps).astype(np.float32)
        snr_db = np.array([_db(var, float(np.mean((sigma * e) ** 2))) for e in eps])
    elif noise == "input" and np.isfinite(snr):
        signal = float(np.trace(np.atleast_2d(np.cov(data.x_train, rowvar=False)))) / d
        sigma = np.sqrt(signal / snr)
        xi = np.stack([member_noise_rng(seed, m).standard_normal((n, d)) for m in members])
        x = (data.x_train[None] + sigma * xi).astype(np.float32)
        snr_db = np.array([_db(signal, float(np.mean((sigma * e) ** 2))) for e in xi])
    elif noise == "label" and label_noise > 0:
        c = data.n_classes
        ys = []
        for m in members:
            rng = member_noise_rng(seed, m)
            replace = rng.random(n) < label_noise
            random_class = rng.integers(0, c, size=n)  # drawn for both kinds: same stream
            if label_noise_kind == "pair":
                new_class = (data.y_train + 1) % c
            else:
                new_class = random_class
            ys.append(np.where(replace, new_class, data.y_train))
        y = np.stack(ys).astype(np.int64)
        flips = (y != data.y_train[None]).mean(axis=1)
    return NoisyData(x, y, snr_db, flips)
