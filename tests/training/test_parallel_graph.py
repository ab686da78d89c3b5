"""Data-parallel training of layer graphs (docs/parallel.md): every port's inputs and targets sliced by the same
rows, the weighted losses scaled by rows/B, validation and the population pass split the same way.  Thread
workers (minidl.testing.run_workers); float64, 20 iterations; ≤ 1e-12 relative to one process, the parameters
bit-identical on every worker, the info record equal."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_host
from minidl.network import Network
from minidl.optim import SGDM, Adam, ConstantSchedule
from minidl.testing import run_workers
from minidl.training import ArraySource, EngineConfig, Observer, Trainer
from minidl.training.graph import MultiArraySource
from minidl.training.parallel import join_rows, take_rows

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
EXACT = {"residual": ("training_accuracy", "validation_accuracy"),
         "two_heads": ("training_accuracy", "validation_accuracy"),
         "regressions": ()}
RMSE = {"residual": (), "two_heads": (), "regressions": ("training_rmse", "validation_rmse")}


@pytest.mark.parametrize("case, size, loads, optimizer", [
    ("residual", 2, None, "adam"), ("residual", 3, [2, 1, 1], "sgdm"), ("residual", 3, [1, 0, 2], "adam"),
    ("two_heads", 2, [1, 3], "sgdm"), ("two_heads", 3, None, "adam"), ("two_heads", 3, [3, 1, 0], "sgdm"),
    ("regressions", 2, [2, 1], "adam"), ("regressions", 3, [1, 1, 3], "sgdm")])
def test_graph_workers_equal_one_process(case, size, loads, optimizer):
    net1, info1 = run(case, optimizer)
    assert len(info1) == 20 and np.isfinite(info1["validation_loss"]).sum() == 5
    many = run_workers(size, lambda comm: run(case, optimizer, comm, loads))
    ref, first = params(net1), params(many[0][0])
    assert any(k.endswith("mean") or "bn" in k for k in ref) == (case != "regressions")   # batch norm state
    for net, info in many:
        got = params(net)
        assert got.keys() == ref.keys()
        for k in ref:
            assert got[k].tobytes() == first[k].tobytes(), f"{k} differs between workers"
            np.testing.assert_allclose(got[k], ref[k], rtol=1e-12, atol=1e-14, err_msg=k)
        assert len(info) == 20
        for name in LOSSES + RMSE[case]:
            np.testing.assert_allclose(info[name], info1[name], rtol=1e-12, atol=1e-14, err_msg=name)
        for name in EXACT[case]:                                  # hit counts: the same numbers
            np.testing.assert_array_equal(info[name], info1[name], err_msg=name)
        assert info.final_validation_loss == pytest.approx(info1.final_validation_loss, rel=1e-12)
        if case != "regressions":
            assert info.final_validation_accuracy == info1.final_validation_accuracy
        else:
            assert info.final_validation_rmse == pytest.approx(info1.final_validation_rmse, rel=1e-12)


class Watch(Observer):
    """Each iteration's ℓₙ, outputs and targets by port, and each validation's outputs (rank 0's view)."""

    def __init__(self):
        self.seen, self.validations = [], []

    def on_iteration(self, state):
        self.seen.append((state.example_losses.copy(), {k: v.copy() for k, v in state.batch_outputs.items()},
                          state.batch_targets))

    def on_validation(self, state):
        self.validations.append(tuple(np.copy(a) for a in (state.validation_outputs, state.validation_targets)))


def test_example_losses_and_outputs_of_a_graph_are_gathered_by_port_in_row_order():
    ref = Watch()
    run("two_heads", "adam", observers=[ref], record_outputs=True)
    seen = [Watch() for _ in range(3)]
    run_workers(3, lambda comm: run("two_heads", "adam", comm, [1, 2, 1], observers=[seen[comm.rank]],
                                    record_outputs=True))
    assert not seen[1].seen and not seen[2].seen and len(seen[0].seen) == len(ref.seen) == 20
    for (e1, y1, t1), (e, y, t) in zip(ref.seen, seen[0].seen):
        assert e.shape == (8,) and set(y) == {"cls", "reg"} and y["reg"].shape == (8, 1)
        np.testing.assert_allclose(e, e1, rtol=1e-12)
        for k in y1:
            np.testing.assert_allclose(y[k], y1[k], rtol=1e-12, atol=1e-15, err_msg=k)
            np.testing.assert_array_equal(t[k], t1[k])
    assert len(seen[0].validations) == len(ref.validations) == 5
    for (o1, v1), (o, v) in zip(ref.validations, seen[0].validations):
        assert o.shape == (13, 2)                                 # the first loss's outputs, every row
        np.testing.assert_allclose(o, o1, rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(v, v1)


def test_take_rows_and_join_rows_slice_and_join_every_port():
    batch = {"x1": np.arange(10).reshape(5, 2), "x2": np.arange(5)}
    parts = [take_rows(batch, lo, hi) for lo, hi in ((0, 2), (2, 2), (2, 5))]
    assert parts[1]["x1"].shape == (0, 2) and take_rows(None, 0, 1) is None
    assert take_rows((batch["x2"], batch["x1"]), 1, 3)[1].tolist() == [[2, 3], [4, 5]]
    whole = join_rows(parts)
    assert all(np.array_equal(whole[k], v) for k, v in batch.items())
    assert np.array_equal(join_rows([batch["x2"][:1], batch["x2"][1:]]), batch["x2"])
