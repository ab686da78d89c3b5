"""OutputNetwork 'last-iteration' | 'best-validation-loss' (R2021b): the returned network and its iteration."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl import layers as L
from minidl import train_network, training_options
from minidl.training.events import Observer

RNG = np.random.default_rng(3)
X = RNG.standard_normal((40, 4))
Y = np.where(X[:, 0] + 0.5 * X[:, 1] > 0, "p", "q")
XV = RNG.standard_normal((20, 4))
YV = np.where(XV[:, 0] - 2.0 * XV[:, 2] > 0, "p", "q")  # another rule: the validation loss rises and falls


def layers():
    return [L.FeatureInput(4, normalization="none"), L.FullyConnected(5), L.ReLU(), L.FullyConnected(2),
            L.Softmax(), L.ClassificationOutput()]


class Weights(Observer):
    """Host copies of the parameters after every validated iteration."""

    def __init__(self):
        self.at = {}

    def on_validation(self, state):
        self.at[state.iteration] = {k: v for k, v in state.weights().items() if k.startswith("params/")}


def fit(**options):
    seen = Weights()
    opts = training_options("sgdm", verbose=False, max_epochs=6, mini_batch_size=8, initial_learn_rate=0.2,
                            validation_data=(XV, YV), validation_frequency=3, precision="float64", **options)
    net, info = train_network(X, Y, layers(), opts, observers=[seen])
    return net, info, seen


def test_best_validation_loss_returns_the_network_of_the_lowest_validation_loss():
    net, info, seen = fit(output_network="best-validation-loss")
    vl = np.asarray(info.validation_loss)
    best = int(info.iterations[np.nanargmin(vl)])          # the lowest loss; ties would keep the earlier
    assert best != len(info) and best in seen.at           # a case where best and last differ
    assert info.output_network_iteration == best
    for k, v in seen.at[best].items():
        np.testing.assert_array_equal(net.params[k[len("params/"):]], v)
    # the final validation is that of the returned network (no batch norm: its loss is the best one)
    assert info.final_validation_loss == pytest.approx(np.nanmin(vl), rel=1e-12)


def test_last_iteration_is_the_default():
    net, info, seen = fit()
    last, _, _ = fit(output_network="last-iteration")
    assert info.output_network_iteration == len(info)
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, last.params[k])


def test_best_validation_loss_needs_validation_data_and_names_the_option():
    opts = M.trainingOptions("sgdm", "OutputNetwork", "best-validation-loss", "Verbose", 0, "MaxEpochs", 1)
    assert opts.OutputNetwork == "best-validation-loss"
    with pytest.raises(ValueError, match=r"'OutputNetwork': got 'best-validation-loss' without validation data"):
        M.trainNetwork(X, Y, layers(), opts)
    with pytest.raises(ValueError, match=r"output_network: got 'best'; allowed: 'last-iteration', "
                                         r"'best-validation-loss'"):
        training_options("sgdm", output_network="best")
