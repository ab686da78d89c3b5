"""Shared by tests/training/test_launch.py and the processes it starts (importable by name in the pool's workers:
the test puts this folder on PYTHONPATH).  Run as a script under ``mpiexec -n N``: trains the problem below with
``minidl.train_network`` on every rank and saves each rank's result as ``<folder>/rank<r>.npz``."""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

import minidl
from minidl import layers as L


def problem(n: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """X (n, 4) and integer labels of 3 classes around fixed centres (float64)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(100).standard_normal((3, 4)) * 2.0
    y = rng.integers(0, 3, n)
    return centres[y] + 0.5 * rng.standard_normal((n, 4)), y


def layers(first: L.Layer | None = None, bn: bool = True) -> list[L.Layer]:
    """A small classifier with batch norm and dropout (every part the engine shares across workers); ``first``:
    a layer right after the input."""
    return [L.FeatureInput(4), *([first] if first is not None else []), L.FullyConnected(6),
            *([L.BatchNormalization()] if bn else []), L.ReLU(), L.Dropout(0.2), L.FullyConnected(3), L.Softmax(),
            L.ClassificationOutput()]


def options(**kw):
    """float64 sgdm options, silent, a few epochs of 12-row mini-batches."""
    base = dict(max_epochs=2, mini_batch_size=12, verbose=False, precision="float64", l2_regularization=1e-3,
                shuffle="every-epoch")
    return minidl.training_options("sgdm", **{**base, **kw})


WOLFRAM = dict(BatchSize=12, MaxTrainingRounds=2, TrainingProgressReporting=None, WorkingPrecision="Real64")


class RaiseOnWorker(L.ReLU):
    """A ReLU that raises once, at its ``after``-th training forward, in any process but ``caller`` (a failing
    worker; the engine's replay of an empty share after the error then runs)."""

    def __init__(self, caller: int, after: int = 3):
        super().__init__()
        self.caller, self.after, self.calls = caller, after, 0

    def forward(self, x, training: bool = False):
        if training and os.getpid() != self.caller:
            self.calls += 1
            if self.calls == self.after:
                raise RuntimeError(f"boom in worker pid {os.getpid()}")
        return super().forward(x, training)


def digest(net, info) -> str:
    """A hash of every parameter and state array and of the training-loss record (bit-exact comparisons)."""
    h = hashlib.sha256()
    for name, value in sorted(net.state_arrays().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(value).tobytes())
    h.update(np.asarray(info.training_loss, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]


if __name__ == "__main__":     # under mpiexec: every rank trains and returns (net, info)
    X, Y = problem()
    if sys.argv[2:] == ["wolfram"]:   # NetTrain: every rank gets the trained net (and the loss list)
        from minidl.wolfram import NetTrain
        r = NetTrain(minidl.Network(layers()), (X, Y), "ResultsObject", **WOLFRAM)
        net, info = r["TrainedNet"], type("Info", (), {"training_loss": r["BatchLossList"]})()
    else:
        net, info = minidl.train_network(X, Y, layers(), options(verbose=True))
    np.savez(os.path.join(sys.argv[1], f"rank{os.environ['PMI_RANK']}.npz"), training_loss=info.training_loss,
             **{f"net/{k}": v for k, v in net.state_arrays().items()})
