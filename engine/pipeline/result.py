"""The result of one ensemble experiment, and its pickle-free serialisation.

A :class:`Result` holds per-member numbers (K = ``spec.ensemble_size``) and the
representations of every layer on the shared probe set (N = ``spec.n_probe``), for the
trained members and for the same members at initialisation (random features).

Serialisation splits a result into a JSON-able ``meta`` dict and a dict of numpy arrays
(stored as ``.npz`` without pickle), see :meth:`Result.to_parts` and
:meth:`Result.from_parts`.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .spec import ExperimentSpec


@dataclass(frozen=True, eq=False)
class Result:
    """Outcome of :func:`engine.run_experiment`.

    Arrays (K members, T recorded epochs, N probe points, L = depth hidden layers):

    - ``train_loss`` (K,): final training loss on the member's own noisy data
      (MSE for regression, cross-entropy for classification)
    - ``test_error`` (K,): on the probe set against clean targets: MSE (regression) or
      misclassification rate (classification); NaN for a diverged member
    - ``test_loss`` (K,): MSE or cross-entropy on the probe set against clean targets
    - ``train_error`` (K,): MSE / error rate on the member's own noisy training data
    - ``epochs`` (K,): epochs each member trained (it stops alone at ``loss_tol``)
    - ``diverged`` (K,) bool: the member's loss became NaN or inf
    - ``curve_epochs`` (T,), ``curve_train_loss`` (K, T), ``curve_test_error`` (K, T)
    - ``hidden``: L arrays (K, N, width), each hidden layer after its nonlinearity
    - ``output`` (K, N, n_outputs): the output layer (pre-softmax for classification)
    - ``hidden_init``, ``output_init``: the same for the untrained members
    - ``x_probe`` (N, d), ``y_probe`` (N,): the clean probe points
    - ``label_flip_rate`` (K,): fraction of training labels actually changed by label
      noise (0 for other noise kinds); ``achieved_snr_db`` (K,): empirical SNR of the
      member's noise realisation (inf when there is none)
    - ``snapshot_epochs`` (S,), ``snapshot_test_error`` (S, K), ``hidden_snapshots``
      (L arrays (S, K, N, width)), ``output_snapshots`` (S, K, N, n_outputs): the probe
      representations at the S epochs of ``spec.snapshots`` (noisealign.engine.pipeline.epochs) that training
      reached before it finished, strictly between initialisation and the end (those
      two are ``*_init`` and the final arrays, never stored twice). Empty (S = 0)
      without snapshots. :meth:`over_training` lists all of them with init and end.
    """

    spec: ExperimentSpec
    train_loss: np.ndarray
    test_error: np.ndarray
    test_loss: np.ndarray
    train_error: np.ndarray
    epochs: np.ndarray
    diverged: np.ndarray
    curve_epochs: np.ndarray
    curve_train_loss: np.ndarray
    curve_test_error: np.ndarray
    hidden: tuple[np.ndarray, ...]
    output: np.ndarray
    hidden_init: tuple[np.ndarray, ...]
    output_init: np.ndarray
    x_probe: np.ndarray
    y_probe: np.ndarray
    label_flip_rate: np.ndarray
    achieved_snr_db: np.ndarray
    n_parameters: int
    n_classes: int
    device: str
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    snapshot_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    snapshot_test_error: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    hidden_snapshots: tuple[np.ndarray, ...] = ()
    output_snapshots: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))

    # ------------------------------------------------------------------ conveniences
    @property
    def ensemble_size(self) -> int:
        return int(self.train_loss.shape[0])

    @property
    def ok_members(self) -> np.ndarray:
        """Indices of members that did not diverge."""
        return np.flatnonzero(~self.diverged)

    @property
    def stop_reason(self) -> np.ndarray:
        """(K,) why each member stopped training: ``"diverged"`` (its loss became NaN or
        infinite), ``"loss_tol"`` (its full-data training loss fell below
        ``spec.loss_tol`` at ``epochs[m]``) or ``"max_epochs"`` (it used them all)."""
        reasons = np.where(np.asarray(self.epochs) < self.spec.max_epochs, "loss_tol",
                           "max_epochs").astype(object)
        reasons[np.asarray(self.diverged, bool)] = "diverged"
        return reasons.astype(str)

    def layer(self, index: int | str = -1, *, init: bool = False) -> np.ndarray:
        """Representations (K, N, features) of a layer.

        ``index`` counts hidden layers from 0; ``-1`` is the last hidden layer
        (the default of docs/science.md 1.4) and ``"output"`` the output layer.
        """
        hidden = self.hidden_init if init else self.hidden
        if index == "output":
            return self.output_init if init else self.output
        if isinstance(index, str):
            raise ValueError(f"layer {index!r} is invalid: allowed a hidden-layer index or 'output'")
        return hidden[index]

    # ------------------------------------------------------------------ over training
    @property
    def end_epoch(self) -> int:
        """The epoch training finished at (the last recorded epoch)."""
        return int(self.curve_epochs[-1]) if len(self.curve_epochs) else 0

    @property
    def has_snapshot_representations(self) -> bool:
        return len(self.snapshot_epochs) > 0 and self.output_snapshots.ndim == 4

    def over_training(self) -> list[Result]:
        """The run at every stored epoch: initialisation, each snapshot, the end.

        Each is a Result whose ``hidden``/``output`` are the probe representations at
        that epoch and ``test_error`` the members' test error there; ``diverged`` marks
        members diverged by then; the snapshot at index 0 is initialisation and the
        last one is ``self``. Its ``curve_epochs[-1]`` is the epoch (see
        :attr:`end_epoch`); everything else is shared with ``self`` (views, no copies).
        Without stored snapshot representations (``spec.snapshots = 0``, or stored
        without representations) the list is [init, end] when representations exist.
        """
        init = self._at(0, self.hidden_init, self.output_init, self.curve_test_error[:, 0]
                        if self.curve_test_error.ndim == 2 and self.curve_test_error.shape[1]
                        else np.full(self.ensemble_size, np.nan))
        out = [init]
        if self.has_snapshot_representations:
            for j, e in enumerate(self.snapshot_epochs):
                out.append(self._at(int(e), tuple(h[j] for h in self.hidden_snapshots),
                                    self.output_snapshots[j], self.snapshot_test_error[j]))
        out.append(self)
        return out

    def _at(self, epoch: int, hidden: tuple[np.ndarray, ...], output: np.ndarray,
            test_error: np.ndarray) -> Result:
        diverged = np.asarray(self.diverged, bool) & (np.asarray(self.epochs) <= epoch)
        if epoch == 0:
            diverged = np.zeros_like(diverged)  # initial weights are finite by construction
        te = np.where(diverged, np.nan, np.asarray(test_error, np.float64))
        return dataclasses.replace(
            self, hidden=tuple(hidden), output=output, hidden_init=self.hidden_init,
            test_error=te, diverged=diverged, curve_epochs=np.asarray([epoch]),
            snapshot_epochs=np.zeros(0, np.int64), snapshot_test_error=np.zeros((0, 0)),
            hidden_snapshots=(), output_snapshots=np.zeros((0,), np.float32))

    def summary(self) -> dict[str, Any]:
        """Small JSON-able per-run numbers (no representations)."""
        ok = ~self.diverged
        def mean(a):
            return float(np.mean(a[ok])) if ok.any() else float("nan")
        return {
            "test_error_mean": mean(self.test_error),
            "train_loss_mean": mean(self.train_loss),
            "n_diverged": int(self.diverged.sum()),
            "stopped": {r: int((self.stop_reason == r).sum())
                        for r in ("loss_tol", "max_epochs", "diverged")},
            "n_parameters": self.n_parameters,
            "device": self.device,
            "train_seconds": self.timings.get("train", float("nan")),
        }

    # ------------------------------------------------------------------ serialisation
    _ARRAYS = ("train_loss", "test_error", "test_loss", "train_error", "epochs", "diverged",
               "curve_epochs", "curve_train_loss", "curve_test_error", "output",
               "output_init", "x_probe", "y_probe", "label_flip_rate", "achieved_snr_db",
               "snapshot_epochs", "snapshot_test_error", "output_snapshots")

    def to_parts(self, *, representations: bool = True) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(meta, arrays): JSON-able metadata and named numpy arrays.

        With ``representations=False`` the probe-set activations (the bulk of the
        bytes) are left out; :meth:`from_parts` then fills them with empty arrays and
        ``meta["has_representations"]`` is False.
        """
        meta = {
            "spec": self.spec.to_dict(), "spec_json": self.spec.to_json(),
            "n_parameters": self.n_parameters, "n_classes": self.n_classes,
            "device": self.device, "timings": dict(self.timings),
            "versions": dict(self.versions),
            "depth": len(self.hidden), "has_representations": representations,
        }
        arrays = {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}
        if representations:
            for i, (h, h0) in enumerate(zip(self.hidden, self.hidden_init)):
                arrays[f"hidden_{i}"] = h
                arrays[f"hidden_init_{i}"] = h0
            for i, hs in enumerate(self.hidden_snapshots):
                arrays[f"hidden_snapshots_{i}"] = hs
        else:
            for k in ("output", "output_init", "x_probe", "output_snapshots"):
                arrays[k] = np.zeros((0,), np.float32)
        return meta, arrays

    @classmethod
    def from_parts(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Result:
        spec = ExperimentSpec.from_json(meta["spec_json"])
        depth = int(meta["depth"])
        empty = np.zeros((0,), np.float32)
        hidden = tuple(arrays.get(f"hidden_{i}", empty) for i in range(depth))
        hidden_init = tuple(arrays.get(f"hidden_init_{i}", empty) for i in range(depth))
        # Entries written before snapshots existed lack their arrays: none stored.
        optional: dict[str, np.ndarray] = {"snapshot_epochs": np.zeros(0, np.int64),
                    "snapshot_test_error": np.zeros((0, 0)), "output_snapshots": empty}
        kw = {k: arrays[k] if k in arrays or k not in optional else optional[k]
              for k in cls._ARRAYS}
        hidden_snapshots = tuple(arrays[f"hidden_snapshots_{i}"] for i in range(depth)
                                 if f"hidden_snapshots_{i}" in arrays)
        return cls(spec=spec, hidden=hidden, hidden_init=hidden_init,
                   hidden_snapshots=hidden_snapshots,
                   n_parameters=int(meta["n_parameters"]), n_classes=int(meta["n_classes"]),
                   device=str(meta["device"]), timings=dict(meta["timings"]),
                   versions=dict(meta["versions"]), **kw)

    def to_bytes(self, *, representations: bool = True) -> tuple[bytes, bytes]:
        """(JSON bytes, npz bytes). Loading them never unpickles."""
        meta, arrays = self.to_parts(representations=representations)
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return json.dumps(meta).encode(), buf.getvalue()

    @classmethod
    def from_bytes(cls, meta_bytes: bytes, npz_bytes: bytes) -> Result:
        meta = json.loads(meta_bytes.decode())
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return cls.from_parts(meta, arrays)
