"""Output functions (fields at start / iteration / done, stopping) and stops that lose nothing: OutputFcn, Ctrl-C,
KeyboardInterrupt, a non-finite loss; observers are closed in every case."""

import math
import os
import signal

import numpy as np
import pytest

from minidl import layers as L
from minidl import train_network, training_options
from minidl.backend import to_host
from minidl.matlab import records as reasons  # the stop reasons in MATLAB's wording
from minidl.training import Observer
from minidl.training import events as ev

FIELDS = ["Epoch", "Iteration", "TimeSinceStart", "TrainingLoss", "ValidationLoss", "BaseLearnRate",
          "TrainingAccuracy", "TrainingRMSE", "ValidationAccuracy", "ValidationRMSE", "State"]


def opts(**kw):
    base = dict(shuffle="never", mini_batch_size=10, max_epochs=3, precision="float64", verbose=False,
                initial_learn_rate=0.1)
    return training_options("sgdm", **{**base, **kw})


def test_output_function_records_at_start_every_iteration_and_done(problem, recorder):
    rec = recorder()
    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(
        output_fcn=rec, validation_data=(problem.Xv, problem.Yv), validation_frequency=4))
    states = [r["State"] for r in rec.records]
    assert states == ["start"] + ["iteration"] * 18 + ["done"]
    assert all(list(r) == FIELDS for r in rec.records)
    start, done, its = rec.records[0], rec.records[-1], rec.records[1:-1]
    assert (start["Epoch"], start["Iteration"]) == (0, 0)
    assert all(start[k] is None for k in FIELDS if k not in ("Epoch", "Iteration", "State"))  # TimeSinceStart too
    assert [r["Iteration"] for r in its] == list(range(1, 19))
    assert [r["Epoch"] for r in its] == [1] * 6 + [2] * 6 + [3] * 6
    np.testing.assert_array_equal([r["TrainingLoss"] for r in its], info.training_loss)
    np.testing.assert_array_equal([r["TrainingAccuracy"] for r in its], info.training_accuracy)
    np.testing.assert_array_equal([r["BaseLearnRate"] for r in its], info.base_learn_rate)
    validated = [r["Iteration"] for r in its if r["ValidationLoss"] is not None]
    assert validated == [1, 4, 8, 12, 16, 18]  # every 4th, the first and the last (§7)
    assert all((r["ValidationAccuracy"] is None) == (r["ValidationLoss"] is None) for r in its)
    assert all(r["TrainingRMSE"] is None and r["ValidationRMSE"] is None for r in rec.records)
    # done: the last iteration's values, validated before finalization; the Final values are in info only (§10)
    assert done["Iteration"] == 18 and done["ValidationLoss"] == its[-1]["ValidationLoss"] == info.validation_loss[-1]
    assert done["ValidationAccuracy"] == its[-1]["ValidationAccuracy"] == info.validation_accuracy[-1]
    assert done["TrainingLoss"] == info.training_loss[-1]
    times = [r["TimeSinceStart"] for r in rec.records[1:]]
    assert times == sorted(times)


def test_output_function_regression_fields(problem, recorder):
    rec = recorder()
    train_network(problem.Xr, problem.Tr, problem.linear_regression(), opts(output_fcn=rec))
    r = rec.records[3]
    # RMSE = √(Σₙ Σᵣ (y − t)² / N) = √(2·loss) for the half-MSE loss (§9)
    assert r["TrainingAccuracy"] is None and r["TrainingRMSE"] == pytest.approx(math.sqrt(2 * r["TrainingLoss"]))


def _same(a, b):
    for k in a.params:
        np.testing.assert_array_equal(to_host(a.params[k]), to_host(b.params[k]))
    for k in a.state:
        np.testing.assert_array_equal(to_host(a.state[k]), to_host(b.state[k]))


def test_output_function_returning_true_stops_and_returns_the_current_network(problem, recorder):
    stopper, other = recorder(stop_at=4), recorder()
    o = opts(batch_normalization_statistics="moving")
    net, info = train_network(problem.X, problem.Y, problem.mlp(norm="none"), o.replace(output_fcn=[other, stopper]))
    assert info.stop_reason == reasons.OUTPUT_FUNCTION and len(info) == 4 and info.output_network_iteration == 4
    assert other.records[-1]["State"] == "done" and len(other.records) == 6  # every function is still called
    # the same network as training on the first 4 mini-batches only
    ref, _ = train_network(problem.X[:40], problem.Y[:40], problem.mlp(norm="none"), o.replace(max_epochs=1))
    _same(net, ref)


def test_output_function_returning_true_at_start_trains_nothing(problem):
    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(
        output_fcn=lambda i: i["State"] == "start", validation_data=(problem.Xv, problem.Yv)))
    assert len(info) == 0 and info.output_network_iteration == 0 and info.stop_reason == reasons.OUTPUT_FUNCTION
    assert not math.isnan(info.final_validation_loss)


@pytest.mark.parametrize("result", [1, 1.0, "yes", np.array([[1.0]]), np.array([True, True]), [True]])
def test_an_output_function_returning_a_non_logical_value_does_not_stop(problem, result):
    # §10: only a logical scalar (or 1×1 logical array) that is true stops; anything else counts as false
    _, info = train_network(problem.X, problem.Y, problem.mlp(), opts(output_fcn=lambda i: result))
    assert info.stop_reason == reasons.MAX_EPOCHS and len(info) == 18


@pytest.mark.parametrize("stop", [True, np.True_, np.array([[True]]), np.array(True)])
def test_an_output_function_returning_a_true_logical_scalar_stops(problem, stop):
    _, info = train_network(problem.X, problem.Y, problem.mlp(), opts(
        output_fcn=lambda i: stop if i["Iteration"] == 3 else np.array([[False]])))
    assert info.stop_reason == reasons.OUTPUT_FUNCTION and len(info) == 3


def test_keyboard_interrupt_ends_cleanly_with_the_current_network(problem):
    def interrupt(info):
        if info["Iteration"] == 5 and info["State"] == "iteration":
            raise KeyboardInterrupt

    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(output_fcn=interrupt))
    assert info.stop_reason == reasons.STOPPED_BY_USER and len(info) == 5 and info.output_network_iteration == 5
    ref, _ = train_network(problem.X, problem.Y, problem.mlp(),
                           opts(output_fcn=lambda i: i["Iteration"] == 5))
    _same(net, ref)


def test_ctrl_c_stops_after_the_current_iteration_and_restores_the_handler(problem):
    def press(info):
        if info["Iteration"] == 3 and info["State"] == "iteration":
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    net, info = train_network(problem.X, problem.Y, problem.mlp(), opts(output_fcn=press))
    assert info.stop_reason == reasons.STOPPED_BY_USER and len(info) == 3
    assert signal.getsignal(signal.SIGINT) is before
    assert net.predict(problem.Xv).shape == (25, 3)


def diverging():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3))
    layers = [L.FeatureInput(3, normalization="none"), L.FullyConnected(1), L.RegressionOutput()]
    return x, x @ np.array([1.0, -2.0, 0.5]), layers


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_non_finite_loss_returns_the_last_finite_network(precision):
    x, t, layers = diverging()
    o = opts(max_epochs=100, initial_learn_rate=50.0, momentum=0.9, precision=precision)
    net, info = train_network(x, t, layers, o)
    k = info.non_finite["iteration"]
    assert info.stop_reason == reasons.NON_FINITE and len(info) == k < 400
    assert not np.isfinite(info.training_loss[-1]) and np.all(np.isfinite(info.training_loss[:-1]))
    assert info.output_network_iteration == k - 1
    assert info.non_finite["what"] in ("loss", "gradient", "update")
    assert all(np.all(np.isfinite(v)) for v in net.params.values())
    ref, _ = train_network(x, t, diverging()[2], o.replace(output_fcn=lambda i: i["Iteration"] == k - 1))
    _same(net, ref)


def test_non_finite_gradient_names_the_parameter_and_keeps_the_weights():
    x, t, _ = diverging()
    x = x.copy()
    x[7] = 1e200  # finite data, but the loss and the weight gradient overflow on the first batch
    w0 = np.array([[0.1, 0.2, 0.3]])
    layers = [L.FeatureInput(3, normalization="none"), L.FullyConnected(1, weights=w0), L.RegressionOutput()]
    net, info = train_network(x, t, layers, opts(precision="float64"))
    assert info.non_finite == {"iteration": 1, "parameter": "fc_1.weight", "what": "loss"}
    assert info.output_network_iteration == 0 and len(info) == 1
    np.testing.assert_array_equal(net.params["fc_1.weight"], w0)
    np.testing.assert_array_equal(net.params["fc_1.bias"], [0.0])


class Closing(Observer):
    def __init__(self, fail_at=None):
        self.closed, self.fail_at = 0, fail_at

    def on_event(self, state):
        if state.event == ev.ITERATION and state.iteration == self.fail_at:
            raise RuntimeError("observer failed")

    def close(self):
        self.closed += 1


def test_observers_are_closed_after_success_and_after_a_failure(problem):
    ok = Closing()
    train_network(problem.X, problem.Y, problem.mlp(), opts(), observers=[ok])
    assert ok.closed == 1
    bad, witness = Closing(fail_at=2), Closing()
    with pytest.raises(RuntimeError, match="observer failed"):
        train_network(problem.X, problem.Y, problem.mlp(), opts(), observers=[bad, witness])
    assert bad.closed == witness.closed == 1
