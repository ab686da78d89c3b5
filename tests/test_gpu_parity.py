"""Device parity in float64: every layer (forward, input and parameter gradients), every optimizer (several steps)
and a short training run give the same numbers on a device as on NumPy, to 1e-12.

The device is the GPU (tests marked ``gpu``: bench/device_check.sh runs them; skipped without CuPy and a GPU) and
the CPU stand-in (always, so this file's harness is itself tested on every run).  1e-12 is relative to each array's
largest magnitude: cuBLAS and OpenBLAS sum in different orders, so the last few bits of float64 differ.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl.backend import to_device, to_host
from minidl.optim import SGD, SGDM, Adam, CenteredRMSProp, RMSProp, SignSGD

DEVICES = ["standin", pytest.param("gpu", marks=pytest.mark.gpu)]
TOL = 1e-12

#: (id, layer factory, per-example input shape); sequences as (C, T)
LAYERS = [
    ("fc", lambda: L.FullyConnected(5), (6,)),
    ("conv", lambda: L.Convolution2D(3, 4, padding="same"), (3, 7, 7)),
    ("conv-stride-dilation", lambda: L.Convolution2D(3, 4, stride=2, dilation=2, padding=1), (2, 9, 9)),
    ("grouped-conv", lambda: L.GroupedConvolution2D(3, 2, 2, padding=1), (4, 6, 6)),
    ("transposed-conv", lambda: L.TransposedConvolution2D(3, 3, stride=2), (2, 5, 5)),
    ("batchnorm-images", lambda: L.BatchNormalization(), (3, 5, 5)),
    ("batchnorm-features", lambda: L.BatchNormalization(), (6,)),
    ("crosschannel", lambda: L.CrossChannelNormalization(3), (5, 4, 4)),
    ("maxpool", lambda: L.MaxPooling2D(2, stride=2), (3, 6, 6)),
    ("maxpool-overlap", lambda: L.MaxPooling2D(3, stride=1, padding=1), (2, 5, 5)),
    ("avgpool", lambda: L.AveragePooling2D(2, stride=2, padding=1), (3, 5, 5)),
    ("global-avgpool", lambda: L.GlobalAveragePooling2D(), (3, 4, 4)),
    ("global-maxpool", lambda: L.GlobalMaxPooling2D(), (3, 4, 4)),
    ("relu", lambda: L.ReLU(), (7,)),
    ("leaky-relu", lambda: L.LeakyReLU(0.1), (7,)),
    ("clipped-relu", lambda: L.ClippedReLU(0.5), (7,)),
    ("elu", lambda: L.ELU(), (7,)),
    ("tanh", lambda: L.Tanh(), (7,)),
    ("sigmoid", lambda: L.Sigmoid(), (7,)),
    ("softmax", lambda: L.Softmax(), (7,)),
    ("flatten", lambda: L.Flatten(), (2, 3, 3)),
    ("lstm", lambda: L.LSTM(4), (3, 6)),
    ("lstm-last", lambda: L.LSTM(4, output_mode="last"), (3, 6)),
    ("bilstm", lambda: L.BiLSTM(3), (3, 5)),
    ("gru", lambda: L.GRU(4), (3, 6)),
    ("rnn", lambda: L.BasicRecurrent(4), (3, 6)),
]


def close(a, b, what: str) -> None:
    a, b = np.asarray(to_host(a)), np.asarray(to_host(b))
    assert a.shape == b.shape, what
    scale = max(float(np.max(np.abs(a))) if a.size else 0.0, 1.0)
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= TOL * scale, f"{what}: max |Δ| {err:.3g} > {TOL:g}·{scale:.3g}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[entry[0] for entry in LAYERS])
def test_layer_forward_and_gradients(device, name, make, shape):
    rng = np.random.default_rng(3)
    host = make()
    host.initialize(shape, rng=np.random.default_rng(0), dtype="float64")
    dev = copy.deepcopy(host).to(device, "float64")
    x = rng.standard_normal((4, *shape))
    y_h = host.forward(x, training=True)
    y_d = dev.forward(to_device(x, device), training=True)
    close(y_h, y_d, f"{name}: forward")
    dy = rng.standard_normal(np.shape(y_h))
    dx_h = host.backward(dy)
    dx_d = dev.backward(to_device(dy, device))
    close(dx_h, dx_d, f"{name}: input gradient")
    assert host.grads.keys() == dev.grads.keys()
    for k in host.grads:
        close(host.grads[k], dev.grads[k], f"{name}: gradient {k}")
    for k in host.state:                                   # batch-norm moving statistics
        close(host.state[k], dev.state[k], f"{name}: state {k}")
    close(host.forward(x, training=False), dev.forward(to_device(x, device), training=False),
          f"{name}: prediction")


OPTIMIZERS = [("sgdm", lambda: SGDM(0.9)), ("sgd", lambda: SGD()), ("adam", lambda: Adam()),
              ("adam-paper", lambda: Adam(form="paper")), ("rmsprop", lambda: RMSProp()),
              ("centered-rmsprop", lambda: CenteredRMSProp()), ("signsgd", lambda: SignSGD())]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, make", OPTIMIZERS, ids=[entry[0] for entry in OPTIMIZERS])
def test_optimizer_steps(device, name, make):
    rng = np.random.default_rng(4)
    shapes = {"a.weight": (3, 4), "a.bias": (3,), "b.weight": (2, 2, 3, 3)}
    w = {k: rng.standard_normal(s) for k, s in shapes.items()}
    host_w = {k: v.copy() for k, v in w.items()}
    dev_w = {k: to_device(v, device) for k, v in w.items()}
    oh, od = make(), make()
    factors = {"a.bias": 2.0}
    for _ in range(6):
        g = {k: rng.standard_normal(s) for k, s in shapes.items()}
        oh.step(host_w, g, 0.01, factors)
        od.step(dev_w, {k: to_device(v, device) for k, v in g.items()}, 0.01, factors)
    for k in shapes:
        close(host_w[k], dev_w[k], f"{name}: {k} after 6 steps")
    sh, sd = oh.state_dict(), od.state_dict()
    for k in sh:
        if k != "t":
            close(sh[k], sd[k], f"{name}: state {k}")


@pytest.mark.parametrize("device", DEVICES)
def test_training_run(device):
    """MATLAB semantics, float64, a small convolutional network with batch norm: 12 iterations, the population
    pass, the final validation: network, losses and accuracies equal to the NumPy run."""
    rng = np.random.default_rng(6)
    X = rng.standard_normal((48, 1, 8, 8))
    Y = (X[:, 0, :4].sum(axis=(1, 2)) > 0).astype(int)

    def layers():
        return [L.ImageInput((1, 8, 8)), L.Convolution2D(3, 4, padding="same"), L.BatchNormalization(), L.ReLU(),
                L.MaxPooling2D(2, stride=2), L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()]

    def train(dev):
        opts = minidl.training_options("sgdm", max_epochs=3, mini_batch_size=12, verbose=False, precision="float64",
                                       validation_data=(X[:12], Y[:12]), validation_frequency=4,
                                       initial_learn_rate=0.05)
        return minidl.train_network(X, Y, layers(), opts, device=dev)

    (net_h, info_h), (net_d, info_d) = train("cpu"), train(device)
    a, b = net_h.state_arrays(), net_d.state_arrays()
    for k in a:
        close(a[k], b[k], k)
    assert len(info_h.training_loss) == len(info_d.training_loss) == 12
    close(info_h.training_loss, info_d.training_loss, "training loss")
    np.testing.assert_array_equal(info_h.training_accuracy, info_d.training_accuracy)
    close(np.nan_to_num(info_h.validation_loss), np.nan_to_num(info_d.validation_loss), "validation loss")
