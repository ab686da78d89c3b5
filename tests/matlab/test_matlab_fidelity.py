"""Issue 9, items 1-11: MATLAB's implemented behaviour (docs/semantics-matlab.md), each expected value computed
independently in the test (batch statistics, RMSE and solver steps by hand)."""

from __future__ import annotations

import io
import math
import re
import shutil
import types

import numpy as np
import pytest

import minidl.matlab as M
from minidl import Network
from minidl import layers as L
from minidl.matlab.train import engine_config, header_lines
from minidl.matlab.verbose import VerboseTable, format_value
from minidl.training import Observer
from minidl.training import events as ev
from minidl.training.data import MiniBatchSource
from minidl.training.events import TrainingState
from minidl.training.observers import CheckpointWarning

RNG = np.random.default_rng(9)
X = RNG.standard_normal((12, 2)) * [1.0, 3.0] + [0.5, -1.0]
Y = np.array(["a", "b", "b", "a", "b", "a", "a", "b", "a", "b", "b", "a"])
XV = RNG.standard_normal((7, 2)) * [2.0, 0.5] + [1.0, 2.0]
YV = np.array(["a", "b", "a", "a", "b", "b", "a"])
W = np.array([[0.3, -0.2], [-0.1, 0.4]])
B = np.array([0.05, -0.05])


def bn_net(**fc):
    return [L.FeatureInput(2, normalization="none"), L.BatchNormalization(),
            L.FullyConnected(2, weights=W, bias=B, **fc), L.Softmax(), L.ClassificationOutput()]


def fc_net():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(2, weights=W, bias=B), L.Softmax(),
            L.ClassificationOutput()]


def options(*pairs):
    base = ("MiniBatchSize", 4, "MaxEpochs", 2, "Shuffle", "never", "Precision", "double", "Verbose", 0,
            "InitialLearnRate", 0.1)
    return M.trainingOptions("sgdm", *base, *pairs)


class Weights(Observer):
    """Host copies of the network's arrays after each iteration (its update and validation done)."""

    def __init__(self):
        self.at = {}

    def on_iteration(self, state):
        self.at[state.iteration] = state.weights()


def _cross_entropy(z, labels):
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    t = (labels == "b").astype(int)  # classes in sorted order: a, b
    return -np.log(p[np.arange(len(t)), t]), (p.argmax(1) == t)


def _bn_validation(w, batches, own_statistics: bool):
    """(loss, accuracy %) of the validation set by hand: BN → FC → softmax → cross-entropy, summed over batches."""
    losses, hits = [], []
    for xb, yb in batches:
        if own_statistics:
            mean, var = xb.mean(0), xb.var(0)               # the batch's own μ and biased σ²
        else:
            mean, var = w["state/batchnorm_1.mean"], w["state/batchnorm_1.variance"]
        z = w["params/batchnorm_1.scale"] * (xb - mean) / np.sqrt(var + 1e-5) + w["params/batchnorm_1.offset"]
        ell, ok = _cross_entropy(z @ w["params/fc_1.weight"].T + w["params/fc_1.bias"], yb)
        losses.append(ell)
        hits.append(ok)
    return np.concatenate(losses).mean(), 100.0 * np.concatenate(hits).mean()


# ------------------------------------------------------------------------------------------------ item 1
def test_batch_norm_layer_can_normalize_with_batch_statistics_in_prediction_mode():
    layer = L.BatchNormalization()
    layer.build((2,), np.random.default_rng(0))
    layer.params["scale"], layer.params["offset"] = np.array([2.0, 0.5]), np.array([0.1, -0.2])
    layer.state["mean"], layer.state["variance"] = np.array([9.0, 9.0]), np.array([4.0, 4.0])
    layer.batch_statistics = True
    y = layer.forward(X, training=False)
    expected = [2.0, 0.5] * (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-5) + [0.1, -0.2]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.state["mean"], [9.0, 9.0])  # the running averages are untouched
    np.testing.assert_array_equal(layer.state["variance"], [4.0, 4.0])
    layer.batch_statistics = False
    np.testing.assert_allclose(layer.forward(X, training=False),
                               [2.0, 0.5] * (X - 9.0) / np.sqrt(4.0 + 1e-5) + [0.1, -0.2], rtol=1e-12)


@pytest.mark.parametrize("statistics", ["population", "moving"])
def test_in_training_validation_normalizes_each_validation_batch_with_its_own_statistics(statistics):
    weights = Weights()
    _, info = M.trainNetwork(X, Y, bn_net(), options("ValidationData", (XV, YV), "ValidationFrequency", 2,
                                                    "BatchNormalizationStatistics", statistics),
                             observers=[weights])
    batches = [(XV[:4], YV[:4]), (XV[4:], YV[4:])]  # in mini-batches of MiniBatchSize, unshuffled
    validated = np.flatnonzero(~np.isnan(info.ValidationLoss)) + 1
    np.testing.assert_array_equal(validated, [1, 2, 4, 6])
    for it in validated:
        loss, acc = _bn_validation(weights.at[it], batches, own_statistics=statistics == "population")
        assert info.ValidationLoss[it - 1] == pytest.approx(loss, rel=1e-12)
        assert info.ValidationAccuracy[it - 1] == pytest.approx(acc, rel=1e-12)
    # the running averages saw the training batches only: μ₁ = 0.9·0 + 0.1·μ(X[0:4]), σ²₁ = 0.9·1 + 0.1·σ²(X[0:4])
    w1 = weights.at[1]
    np.testing.assert_allclose(w1["state/batchnorm_1.mean"], 0.1 * X[:4].mean(0), rtol=1e-12)
    np.testing.assert_allclose(w1["state/batchnorm_1.variance"], 0.9 + 0.1 * X[:4].var(0), rtol=1e-12)


# ------------------------------------------------------------------------------------------------ item 2
def test_the_last_iteration_is_validated_and_shown_in_the_last_row():
    out, records = io.StringIO(), []
    _, info = M.trainNetwork(X, Y, fc_net(), options(
        "ValidationData", (XV, YV), "ValidationFrequency", 4, "Verbose", 1, "VerboseFrequency", 100,
        "OutputFcn", lambda i: records.append(dict(i))), stream=out)
    # 12 observations, MiniBatchSize 4, MaxEpochs 2, ValidationFrequency 4 -> validated at 1, 4, 6
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(info.ValidationLoss)) + 1, [1, 4, 6])
    assert records[6]["Iteration"] == 6 and records[6]["ValidationLoss"] == info.ValidationLoss[-1]
    rows = [line for line in out.getvalue().splitlines() if re.match(r"^\|\s+\d+ \|", line)]
    assert rows[-1].split("|")[2].strip() == "6"
    assert rows[-1].split("|")[7].strip() == f"{info.ValidationLoss[-1]:.4f}"


def test_an_early_stop_validates_its_iteration_before_finalization(tmp_path):
    out, records = io.StringIO(), []

    def stop_at_2(i):
        records.append(dict(i))
        return i["Iteration"] == 2 and i["State"] == "iteration"

    _, info = M.trainNetwork(X, Y, fc_net(), options(
        "ValidationData", (XV, YV), "ValidationFrequency", 4, "Verbose", 1, "OutputFcn", stop_at_2,
        "CheckpointPath", str(tmp_path)), stream=out)
    assert info.StopReason == "Stopped by OutputFcn" and len(info.TrainingLoss) == 2
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(info.ValidationLoss)) + 1, [1, 2])
    # no batch norm, no dropout: the finalized network is the network of iteration 2
    assert info.ValidationLoss[-1] == pytest.approx(info.FinalValidationLoss, rel=1e-12)
    done = records[-1]
    assert done["State"] == "done" and done["Iteration"] == 2
    assert done["ValidationLoss"] == info.ValidationLoss[-1]
    assert done["ValidationAccuracy"] == info.ValidationAccuracy[-1]
    last_row = [line for line in out.getvalue().splitlines() if re.match(r"^\|\s+\d+ \|", line)][-1]
    assert last_row.split("|")[2].strip() == "2" and last_row.split("|")[7].strip() == f"{info.ValidationLoss[-1]:.4f}"
    # item 7: the stop in the middle of epoch 1 also wrote a checkpoint of iteration 2
    assert [p.name.split("__")[1] for p in tmp_path.iterdir() if not p.name.startswith(".")] == ["2"]


def test_the_neutral_engine_does_not_validate_the_last_iteration_unless_asked():
    from minidl.optim import SGDM
    from minidl.optim.schedules import ConstantSchedule
    from minidl.training.data import ArraySource
    from minidl.training.trainer import EngineConfig, Trainer

    def run(last):
        config = EngineConfig(optimizer=SGDM(), schedule=ConstantSchedule(0.1), max_epochs=2, batch_size=4,
                              shuffle="never", validation_frequency=4, dtype="float64",
                              validate_last_iteration=last)
        _, info = Trainer(Network(fc_net()), ArraySource(X, Y), config, ArraySource(XV, YV)).run()
        return (np.flatnonzero(~np.isnan(info.validation_loss)) + 1).tolist()

    assert run(False) == [1, 4] and run(True) == [1, 4, 6]  # Wolfram keeps the default


# ------------------------------------------------------------------------------------------------ item 3
def test_rmse_sums_the_responses_and_divides_by_the_observations_only():
    rng = np.random.default_rng(3)
    x, xv = rng.standard_normal((20, 2)), rng.standard_normal((9, 2))
    w0, b0 = rng.standard_normal((3, 2)), np.array([0.1, 0.0, -0.1])
    t, tv = x @ [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]], xv @ [[1.0, 0.0, 2.0], [0.0, -1.0, 1.0]]
    out, records = io.StringIO(), []
    net, info = M.trainNetwork(x, t, [L.FeatureInput(2, normalization="none"), L.FullyConnected(3, weights=w0,
                                                                                              bias=b0),
                                      L.RegressionOutput()],
                               M.trainingOptions("sgdm", "MiniBatchSize", 5, "MaxEpochs", 1, "Shuffle", "never",
                                                 "Precision", "double", "ValidationData", (xv, tv),
                                                 "OutputFcn", lambda i: records.append(dict(i))), stream=out)
    first = x[:5] @ w0.T + b0  # iteration 1's forward, before its update
    rmse1 = math.sqrt(np.sum((first - t[:5]) ** 2) / 5)  # √(Σₙ Σᵣ (y − t)² / N)
    assert info.TrainingRMSE[0] == pytest.approx(rmse1, rel=1e-12)
    assert records[1]["TrainingRMSE"] == info.TrainingRMSE[0]
    row = [line for line in out.getvalue().splitlines() if re.match(r"^\|\s+1 \|\s+1 \|", line)][0]
    assert row.split("|")[4].strip() == f"{rmse1:.2f}"
    y = net.predict(xv)
    assert info.FinalValidationRMSE == pytest.approx(math.sqrt(np.sum((y - tv) ** 2) / 9), rel=1e-12)
    assert info.FinalValidationRMSE == pytest.approx(math.sqrt(2 * info.FinalValidationLoss), rel=1e-12)


# ------------------------------------------------------------------------------------------------ item 4
def test_default_options_train_on_100_observations():
    x = RNG.standard_normal((100, 2))
    y = np.where(x[:, 0] > 0, "a", "b")
    _, info = M.trainNetwork(x, y, fc_net(), M.trainingOptions("sgdm", "Verbose", 0))
    assert len(info.TrainingLoss) == 30  # MiniBatchSize 128 clamped to 100: one iteration per epoch, 30 epochs
    assert info.engine.iterations_per_epoch == 1


# ------------------------------------------------------------------------------------------------ item 5
def test_loss_and_rmse_switch_to_e_format_out_of_range_and_rows_keep_the_width():
    assert [format_value(v, 4) for v in (0.5, 1e-4, 9.99e-5, 3.2e-9, 999999.0, 1e6, 1e300, 0.0, math.nan)] == \
        ["0.5000", "0.0001", "9.9900e-05", "3.2000e-09", "999999.0000", "1.0000e+06", "1.0000e+300", "0.0000",
         "NaN"]
    assert [format_value(v, 2) for v in (0.5, 0.009, 2.5e7)] == ["0.50", "9.00e-03", "2.50e+07"]
    out = io.StringIO()
    table = VerboseTable(1, stream=out)
    table.on_event(TrainingState(event=ev.START, is_classifier=False, has_validation=True))
    for it, value in enumerate((1e-7, 2.5e7, 0.5, 1e300, -3e-8), start=1):
        table.on_event(TrainingState(event=ev.ITERATION, epoch=1, iteration=it, training_loss=value,
                                     training_rmse=value, validation_loss=value, validation_rmse=value,
                                     base_learn_rate=0.01, is_classifier=False, has_validation=True))
    table.on_event(TrainingState(event=ev.DONE, iteration=5, is_classifier=False, has_validation=True))
    lines = out.getvalue().splitlines()
    assert len({len(line) for line in lines}) == 1 and len(lines) == 4 + 5 + 1
    assert "1.0000e-07" in lines[4] and "1.00e-07" in lines[4] and "2.5000e+07" in lines[5]
    assert "-3.0000e-08" in lines[8]


# ------------------------------------------------------------------------------------------------ items 6 and 7
def test_a_failed_checkpoint_save_warns_naming_the_folder_and_training_goes_on(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()

    def remove_folder(i):
        if i["Iteration"] == 4 and i["State"] == "iteration":
            shutil.rmtree(folder)  # removed while training runs

    with pytest.warns(CheckpointWarning, match=re.escape(f"'CheckpointPath': checkpoint not saved to the folder "
                                                         f"{str(folder)!r} at iteration 6")):
        net, info = M.trainNetwork(X, Y, fc_net(), options("CheckpointPath", str(folder), "OutputFcn",
                                                           remove_folder))
    assert len(info.TrainingLoss) == 6 and info.StopReason == "Max epochs completed"
    assert M.classify(net, XV).shape == (7,)


def test_a_validation_patience_stop_mid_epoch_writes_a_checkpoint_of_that_iteration(tmp_path):
    anti = (XV, np.where(YV == "a", "b", "a"))
    _, info = M.trainNetwork(X, Y, fc_net(), options("ValidationData", anti, "ValidationFrequency", 1,
                                                    "ValidationPatience", 1, "MaxEpochs", 5,
                                                    "CheckpointPath", str(tmp_path), "InitialLearnRate", 0.5))
    stop = len(info.TrainingLoss)
    assert info.StopReason == "Met validation criterion" and stop % 3 != 0  # stopped inside an epoch
    names = sorted(int(p.name.split("__")[1]) for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert names == [i for i in range(3, stop, 3)] + [stop]


# ------------------------------------------------------------------------------------------------ item 8
def test_an_output_function_that_takes_no_argument_is_refused_by_training_options():
    with pytest.raises(TypeError, match=r"trainingOptions: 'OutputFcn': got .*cannot be called with one argument"):
        M.trainingOptions("sgdm", "OutputFcn", lambda: True)
    with pytest.raises(TypeError, match=r"output_fcn\[1\]: got .*cannot be called with one argument"):
        M.training_options("sgdm", output_fcn=[print, lambda a, b: None])
    assert M.training_options("sgdm", output_fcn=lambda info, extra=0: False).output_fcn  # one argument is enough


# ------------------------------------------------------------------------------------------------ item 9
class Stream(MiniBatchSource):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def read(self, indices):
        return self.x[indices], self.y[indices]


def test_errors_raised_while_training_name_matlab_options(tmp_path):
    with pytest.raises(ValueError, match=r"'ValidationData\{1\}': got observations of shape \(3,\)"):
        M.trainNetwork(X, Y, fc_net(), options("ValidationData", (np.zeros((4, 3)), YV[:4])))
    with pytest.raises(ValueError, match=r"'MiniBatchSize': got 20, more than the 12 training observations"):
        M.train_network(Stream(X, Y), fc_net(), options("MiniBatchSize", 20).engine)
    M.trainNetwork(X, Y, fc_net(), options("CheckpointPath", str(tmp_path), "MaxEpochs", 1))
    saved = next(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    with pytest.raises(ValueError, match=r"'MiniBatchSize': the checkpoint was made with batch_size = 4"):
        M.trainNetwork(X, Y, None, options("MiniBatchSize", 3), resume_from=saved)
    with pytest.raises(ValueError, match=r"'Shuffle': the checkpoint was made with shuffle = 'never'"):
        M.trainNetwork(X, Y, None, options("Shuffle", "once"), resume_from=saved)


# ------------------------------------------------------------------------------------------------ item 10
def test_momentum_1_is_allowed_and_steps_as_the_equations_say():
    x = RNG.standard_normal((8, 2))
    t = x @ [[1.0], [-1.0]]
    w0, b0 = np.array([[0.2, 0.1]]), np.array([0.0])
    net, _ = M.trainNetwork(x, t, [L.FeatureInput(2, normalization="none"), L.FullyConnected(1, weights=w0,
                                                                                              bias=b0),
                                   L.RegressionOutput()],
                            M.trainingOptions("sgdm", "Momentum", 1, "MiniBatchSize", 8, "MaxEpochs", 2,
                                              "L2Regularization", 0, "InitialLearnRate", 0.1, "Verbose", 0,
                                              "Precision", "double"))
    w, b, v_w, v_b = w0.copy(), b0.copy(), 0.0, 0.0
    for _ in range(2):  # v ← 1·v − lr·g, θ ← θ + v
        r = x @ w.T + b - t
        v_w, v_b = v_w - 0.1 * (r.T @ x) / 8, v_b - 0.1 * r.sum(0) / 8
        w, b = w + v_w, b + v_b
    np.testing.assert_allclose(net.params["fc_1.weight"], w, rtol=1e-12)
    np.testing.assert_allclose(net.params["fc_1.bias"], b, rtol=1e-12)
    with pytest.raises(ValueError, match=r"'Momentum': got 1.01; allowed: a real number in \[0, 1\]"):
        M.trainingOptions("sgdm", "Momentum", 1.01)


@pytest.mark.parametrize("value, held", [(0.5, 0.5), (1, 1), (4, 4), ([1, 2, 0], (1.0, 2.0, 0.0)), ([], None)])
def test_worker_load_values_are_accepted_as_matlab_accepts_them(value, held):
    assert M.trainingOptions("sgdm", "WorkerLoad", value).engine.worker_load == held


@pytest.mark.parametrize("value", [-1, 1.5, "all", [1, -2]])
def test_a_worker_load_matlab_refuses_is_an_error_naming_it(value):
    with pytest.raises(ValueError, match=r"'WorkerLoad': got .*allowed: a number in \[0, 1\]"):
        M.trainingOptions("sgdm", "WorkerLoad", value)


def test_dispatch_in_background_reads_arrays_and_a_source_in_the_background_with_the_same_result():
    o = options("DispatchInBackground", 1)
    assert o.engine.dispatch_in_background is True
    assert engine_config(o.engine).dispatch_in_background is True
    a, ia = M.trainNetwork(X, Y, fc_net(), o)
    b, ib = M.trainNetwork(X, Y, fc_net(), options())
    np.testing.assert_array_equal(ia.TrainingLoss, ib.TrainingLoss)  # the same run, read on a reader thread
    _, ic = M.train_network(Stream(X, Y), fc_net(), o.engine)        # a mini-batch source too (no longer refused)
    np.testing.assert_array_equal(ic.training_loss, ib.TrainingLoss)


# ------------------------------------------------------------------------------------------------ item 11
def test_the_lines_matlab_prints_before_the_table():
    out = io.StringIO()
    images = RNG.standard_normal((4, 4, 1, 8))
    layers = [M.imageInputLayer([4, 4, 1]), M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()]
    M.trainNetwork(images, Y[:8], layers, M.trainingOptions("sgdm", "MaxEpochs", 1, "MiniBatchSize", 4),
                   stream=out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["Training on single CPU.", "Initializing input data normalization."]
    assert lines[2].startswith("|====")
    out = io.StringIO()
    M.trainNetwork(X, Y, fc_net(), M.trainingOptions("sgdm", "MaxEpochs", 1, "MiniBatchSize", 4), stream=out)
    assert out.getvalue().splitlines()[:2] == ["Training on single CPU.", "|" + "=" * 88 + "|"]
    assert header_lines(types.SimpleNamespace(name="gpu"), Network(fc_net())) == ["Training on single GPU."]


def test_batch_statistics_validation_is_the_same_on_the_cpu_stand_in():
    from minidl.backend import Device

    o = options("ValidationData", (XV, YV), "ValidationFrequency", 2)
    _, host = M.trainNetwork(X, Y, bn_net(), o)
    _, standin = M.trainNetwork(X, Y, bn_net(), o, device=Device("standin"))
    np.testing.assert_allclose(standin.ValidationLoss, host.ValidationLoss, rtol=1e-12)
    np.testing.assert_allclose(standin.TrainingLoss, host.TrainingLoss, rtol=1e-12)
