"""The network, data and configuration of the data-parallel proofs (threads in test_parallel_training.py, real MPI
in mpi/train.py): batch norm, dropout, L2, global-l2norm clipping, float64, 20 iterations."""

from __future__ import annotations

import numpy as np

from minidl import layers as L
from minidl.layers.conv import Convolution2D
from minidl.network import Network
from minidl.optim import SGDM, Adam, ConstantSchedule
from minidl.training import ArraySource, EngineConfig

RNG = np.random.default_rng(7)
X = RNG.standard_normal((40, 1, 6, 6))
Y = (X[:, 0, :3].sum(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 0, 3:].sum(axis=(1, 2)) > 0)
XV, YV = X[:13] + 0.1, Y[:13]


def network() -> Network:
    # the bias before batch norm is frozen: its true gradient is 0 and Adam would turn the ~1e-17 rounding noise of
    # its gradient into ~1e-11 steps (in one process as in several), so it would measure rounding, not the maths
    return Network([L.ImageInput((1, 6, 6)), Convolution2D(3, 4, bias_learn_rate_factor=0), L.BatchNormalization(),
                    L.ReLU(), L.Dropout(0.3), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()])


def config(optimizer: str = "adam", **kw) -> EngineConfig:
    opt = Adam() if optimizer == "adam" else SGDM(0.9)
    base = dict(optimizer=opt, schedule=ConstantSchedule(0.02), max_epochs=4, batch_size=8, shuffle="every-epoch",
                dtype="float64", seed=3, l2=1e-3, gradient_threshold=0.5, gradient_threshold_method="global-l2norm",
                validation_frequency=5, validation_batch_size=6, record_example_losses=True)
    return EngineConfig(**{**base, **kw})


def data() -> tuple[ArraySource, ArraySource]:
    return ArraySource(X, Y), ArraySource(XV, YV)


SERIES = ("training_loss", "training_accuracy", "validation_loss", "validation_accuracy", "gradient_norm")
