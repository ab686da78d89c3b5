"""The layer graphs of the data-parallel graph proofs (threads in test_parallel_graph.py, real MPI in
mpi/train_graph.py): a residual block with batch norm and dropout, two inputs with two weighted losses, two
regression losses; float64, 20 iterations."""

from __future__ import annotations

import numpy as np

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, Adam, ConstantSchedule
from minidl.training import ArraySource, EngineConfig, Trainer
from minidl.training.graph import MultiArraySource

RNG = np.random.default_rng(11)
X = RNG.standard_normal((40, 4))
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1)
X1, X2 = RNG.standard_normal((40, 3)), RNG.standard_normal((40, 2)) * 3 + 1
TWO_Y = {"cls": (X1[:, 0] > 0).astype(np.int64), "reg": X1[:, 1:2] - X2[:, :1] / 3}


def residual() -> Network:
    """A residual block with batch norm and dropout (the bias before batch norm frozen, as in parallel_case.py)."""
    layers = [L.FeatureInput(4, normalization="zscore", name="in"),
              L.FullyConnected(4, bias_learn_rate_factor=0, name="fc1"), L.BatchNormalization(name="bn"),
              L.ReLU(name="r"), L.FullyConnected(4, name="fc2"), L.Addition(2, name="add"),
              L.Dropout(0.2, name="drop"), L.FullyConnected(3, name="head"), L.Softmax(name="sm"),
              L.ClassificationOutput(name="loss")]
    conns = [("in", "fc1"), ("fc1", "bn"), ("bn", "r"), ("r", "fc2"), ("fc2", "add/in1"), ("in", "add/in2"),
             ("add", "drop"), ("drop", "head"), ("head", "sm"), ("sm", "loss")]
    return Network(layers, conns)


def two_heads() -> Network:
    """Two inputs (one zscore-normalized), batch norm after the join, a classification and a weighted regression
    loss (the biases before batch norm frozen: their true gradient is 0)."""
    layers = [L.FeatureInput(3, normalization="none", name="x1"), L.FeatureInput(2, normalization="zscore",
                                                                                 name="x2"),
              L.FullyConnected(5, bias_learn_rate_factor=0, name="a"),
              L.FullyConnected(5, bias_learn_rate_factor=0, name="b"),
              L.Addition(2, name="add"), L.BatchNormalization(name="bn"), L.ReLU(name="r"),
              L.FullyConnected(2, name="h1"), L.Softmax(name="sm"), L.ClassificationOutput(name="cls"),
              L.FullyConnected(1, name="h2"), L.RegressionOutput(name="reg")]
    conns = [("x1", "a"), ("x2", "b"), ("a", "add/in1"), ("b", "add/in2"), ("add", "bn"), ("bn", "r"),
             ("r", "h1"), ("h1", "sm"), ("sm", "cls"), ("r", "h2"), ("h2", "reg")]
    net = Network(layers, conns)
    net.loss_weights["reg"] = 0.5
    return net


def two_regressions() -> Network:
    """Regression losses only: the reported RMSE is the first loss's own (its value summed over the workers)."""
    layers = [L.FeatureInput(3, normalization="none", name="x"), L.FullyConnected(2, name="h1"),
              L.RegressionOutput(name="r1"), L.FullyConnected(1, name="h2"), L.RegressionOutput(name="r2")]
    net = Network(layers, [("x", "h1"), ("h1", "r1"), ("x", "h2"), ("h2", "r2")])
    net.loss_weights["r2"] = 3.0
    return net


CASES = {
    "residual": (residual, lambda: (ArraySource(X, Y), ArraySource(X[:13] + 0.1, Y[:13]))),
    "two_heads": (two_heads, lambda: (MultiArraySource((X1, X2), TWO_Y),
                                      MultiArraySource({"x1": X1[:13] + 0.1, "x2": X2[:13]},
                                                       {k: v[:13] for k, v in TWO_Y.items()}))),
    "regressions": (two_regressions, lambda: (MultiArraySource(X1, (X1[:, :2], X1[:, 2:] * 2)),
                                              MultiArraySource(X1[:13] + 0.1, (X1[:13, :2], X1[:13, 2:] * 2)))),
}


def config(optimizer: str = "adam", **kw) -> EngineConfig:
    base = dict(optimizer=Adam() if optimizer == "adam" else SGDM(0.9), schedule=ConstantSchedule(0.02),
                max_epochs=4, batch_size=8, shuffle="every-epoch", dtype="float64", seed=3, l2=1e-3,
                gradient_threshold=0.5, gradient_threshold_method="global-l2norm", validation_frequency=5,
                validation_batch_size=6, record_example_losses=True)
    return EngineConfig(**{**base, **kw})


def run(case: str, optimizer: str, comm=None, loads=None, observers=(), **kw):
    make, data = CASES[case]
    train, val = data()
    cfg = config(optimizer, communicator=comm, worker_loads=loads, **kw)
    return Trainer(make(), train, cfg, validation_data=val, observers=list(observers)).run()


def params(net):
    return {k: to_host(v) for k, v in {**net.params, **net.state}.items()}


LOSSES = ("training_loss", "validation_loss", "gradient_norm")
METRICS = {"residual": ("training_accuracy", "validation_accuracy"),      # hit counts: exactly equal
           "two_heads": ("training_accuracy", "validation_accuracy"),
           "regressions": ("training_rmse", "validation_rmse")}          # the first loss's own value: ≤ 1e-12


def assert_same_run(case: str, one, got, rtol: float = 1e-12) -> None:
    """``got`` (net, info) equals the one-process ``one``: every parameter and state array, the info series and the
    final validation to ≤ ``rtol`` relative; accuracies exactly; 20 iterations."""
    (net1, info1), (net, info) = one, got
    ref, mine = params(net1), params(net)
    assert mine.keys() == ref.keys()
    for k in ref:
        np.testing.assert_allclose(mine[k], ref[k], rtol=rtol, atol=1e-14, err_msg=k)
    assert len(info) == len(info1) == 20
    for name in LOSSES + METRICS[case]:
        if name.endswith("accuracy"):
            np.testing.assert_array_equal(info[name], info1[name], err_msg=name)
        else:
            np.testing.assert_allclose(info[name], info1[name], rtol=rtol, atol=1e-14, err_msg=name)
    assert abs(info.final_validation_loss / info1.final_validation_loss - 1) <= rtol
    if case == "regressions":
        assert abs(info.final_validation_rmse / info1.final_validation_rmse - 1) <= rtol
    else:
        assert info.final_validation_accuracy == info1.final_validation_accuracy
