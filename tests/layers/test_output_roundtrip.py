"""Every output layer saves, loads and checkpoints: save_network → load_network is bit-exact, a train_network
checkpoint loads, and NetTrain's TrainingProgressCheckpointing writes a loadable file (mean squared loss too)."""

import os

import numpy as np
import pytest

import minidl
from minidl import layers as L
from minidl import load_network, save_network, train_network, training_options
from minidl.training.serialization import layer_classes
from minidl.wolfram import MeanSquaredLoss


def _data():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 3))
    T = X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 1.5]]) + np.array([0.1, -0.3])
    labels = np.array(["a", "b"])[(X[:, 0] + X[:, 1] > 0).astype(int)]
    return X, T, labels


def _net(output):
    """A small MLP ending in ``output`` (with a Softmax before a classification loss)."""
    body = [L.FeatureInput(3, normalization="zerocenter"), L.FullyConnected(5), L.ReLU()]
    if isinstance(output, L.ClassificationOutput):
        return body + [L.FullyConnected(2), L.Softmax(), output]
    return body + [L.FullyConnected(2), output]


OUTPUTS = {"classification": L.ClassificationOutput, "regression": L.RegressionOutput,
           "meansquared": MeanSquaredLoss}  # re-exported by minidl.wolfram, defined in minidl.layers


def _train(kind, **kw):
    X, T, labels = _data()
    opts = training_options("sgdm", max_epochs=3, mini_batch_size=10, verbose=False, precision="float64",
                            initial_learn_rate=0.05, seed=1, **kw)
    net, _ = train_network(X, labels if kind == "classification" else T, _net(OUTPUTS[kind]()), opts)
    return net, X


def test_every_output_layer_is_a_saveable_layer_class():
    classes = layer_classes()
    for cls in OUTPUTS.values():
        assert classes[cls.__name__] is cls


@pytest.mark.parametrize("kind", OUTPUTS)
def test_save_and_load_round_trip_bit_exactly(kind, tmp_path):
    net, X = _train(kind)
    loaded = load_network(save_network(net, tmp_path / "net"))
    assert [type(a) for a in loaded.layers] == [type(b) for b in net.layers]
    assert type(loaded.layers[-1]) is OUTPUTS[kind]
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    if kind == "classification":
        np.testing.assert_array_equal(loaded.classify(X), net.classify(X))


@pytest.mark.parametrize("kind", OUTPUTS)
def test_train_network_checkpoint_loads(kind, tmp_path):
    net, X = _train(kind, checkpoint_path=tmp_path)
    names = sorted((n for n in os.listdir(tmp_path) if not n.startswith(".")),  # not the run's info side file
                   key=lambda n: int(n.split("__")[1]))
    assert len(names) == 3  # one per epoch
    last = load_network(tmp_path / names[-1])
    assert type(last.layers[-1]) is OUTPUTS[kind]
    np.testing.assert_array_equal(last.predict(X), net.predict(X))  # the last epoch's weights are the result


def test_net_train_file_checkpoint_of_a_regression_net_loads(tmp_path):
    """NetTrain attaches MeanSquaredLoss to a regression net; the "File" checkpoint holds the net as NetTrain
    returns it."""
    X, T, _ = _data()
    path = str(tmp_path / "ckpt")
    trained = minidl.net_train(_net(L.RegressionOutput())[:-1], (X, T), max_training_rounds=2, batch_size=10,
                               training_progress_checkpointing=("File", path), training_progress_reporting=None,
                               random_seeding=3)
    loaded = load_network(path)
    assert [type(a) for a in loaded.layers] == [type(b) for b in trained.layers]
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))


def test_net_train_file_checkpoint_of_a_net_with_its_own_mean_squared_loss_loads(tmp_path):
    """A loss net (ending in MeanSquaredLoss) is returned, and checkpointed, with its loss layer."""
    X, T, _ = _data()
    path = str(tmp_path / "ckpt")
    trained = minidl.net_train(_net(MeanSquaredLoss()), (X, T), max_training_rounds=2, batch_size=10,
                               training_progress_checkpointing=("File", path), training_progress_reporting=None,
                               random_seeding=3)
    loaded = load_network(path)
    assert type(loaded.layers[-1]) is MeanSquaredLoss
    np.testing.assert_array_equal(loaded.predict(X), trained.predict(X))
