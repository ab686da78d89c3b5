"""Wolfram layer spellings in NetTrain: any-rank inputs and outputs, elementwise layers, the new losses, decoders."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.wolfram import NetTrain
from minidl.wolfram import layers as W

QUIET = dict(TrainingProgressReporting=None, RandomSeeding=7, WorkingPrecision="Real64")


def test_any_rank_inputs_and_outputs_through_flatten_and_reshape(rng):
    X = rng.standard_normal((64, 2, 3))                      # (N, 2, 3) inputs
    Y = np.tanh(X[:, ::-1, :]) * 0.5                          # (N, 2, 3) outputs
    net = [W.FlattenLayer(), W.LinearLayer(16), W.ElementwiseLayer("Tanh"), W.LinearLayer(6),
           W.ReshapeLayer((2, "Automatic"))]
    trained, losses = NetTrain(net, (X, Y), ["TrainedNet", "RoundLossList"], MaxTrainingRounds=60, BatchSize=16,
                               Method="ADAM", LearningRate=0.01, **QUIET)
    assert trained.predict(X).shape == (64, 2, 3)
    assert losses[-1] < 0.1 * losses[0]


def test_the_less_greater_classifier_returns_labels_and_probabilities(rng):
    X = rng.uniform(0, 1, (200, 2))
    labels = np.where(X[:, 0] < X[:, 1], "Less", "Greater")
    net = [W.LinearLayer(2), W.SoftmaxLayer()]
    trained = NetTrain(net, (X, labels), MaxTrainingRounds=60, BatchSize=20, Method="ADAM", LearningRate=0.05,
                       **QUIET)
    out = trained(X)                                           # the Class decoder: labels
    assert out.dtype.kind == "U" and np.mean(out == labels) > 0.95
    p = trained(X, "Probabilities")
    assert p.shape == (200, 2) and np.allclose(p.sum(axis=1), 1)
    np.testing.assert_array_equal(trained(X, ("Probability", "Less")), p[:, list(trained.classes).index("Less")])
    with pytest.raises(ValueError, match="prop: got class 'Equal'"):
        trained(X, ("Probability", "Equal"))


def test_boolean_decoder_attaches_binary_cross_entropy(rng):
    X = rng.uniform(-1, 1, (200, 2))
    T = X[:, 0] < X[:, 1]
    net = W.NetChain([W.LinearLayer(1), W.ElementwiseLayer("LogisticSigmoid")], output=W.NetDecoder("Boolean"))
    trained, training_net = NetTrain(net, (X, T), ["TrainedNet", "TrainingNet"], MaxTrainingRounds=40,
                                     BatchSize=20, Method="ADAM", LearningRate=0.05, **QUIET)
    assert isinstance(training_net.layers[-1], L.BinaryCrossEntropyLoss)
    decided = trained(X)
    assert decided.dtype == bool and np.mean(decided == T) > 0.95
    p = trained(X, ("Probability", True))
    np.testing.assert_array_equal(decided, p > 0.5)


def test_probability_vector_targets_with_cross_entropy_probabilities(rng):
    X = rng.standard_normal((100, 3))
    logits = X @ np.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]])
    P = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)   # soft targets
    net = [W.LinearLayer(2), W.SoftmaxLayer()]
    losses = NetTrain(net, (X, P), "RoundLossList", LossFunction=W.CrossEntropyLossLayer("Probabilities"),
                      MaxTrainingRounds=150, BatchSize=25, Method="ADAM", LearningRate=0.05, **QUIET)
    entropy = float(-(P * np.log(P)).sum(axis=1).mean())    # the least the loss can be
    assert losses[-1] == pytest.approx(entropy, abs=0.01)


def test_mean_absolute_loss_by_name_fits_the_median(rng):
    X = np.ones((101, 1))
    Y = np.concatenate([np.zeros(50), [1.0], np.full(50, 100.0)])    # median 1, mean ≈ 50
    net = [W.LinearLayer(1)]
    trained = NetTrain(net, (X, Y), LossFunction="MeanAbsoluteLoss", MaxTrainingRounds=300, BatchSize=101,
                       Method="ADAM", LearningRate=0.1, **QUIET)
    assert abs(float(trained.predict(X[:1])[0, 0]) - 1.0) < 0.5


def test_wolfram_spellings_errors():
    with pytest.raises(NotSupportedYetError, match="GELU"):
        W.ElementwiseLayer("GELU")
    with pytest.raises(NotSupportedYetError, match="pure functions"):
        W.ElementwiseLayer(lambda x: x ** 2)
    assert W.ElementwiseLayer(np.tanh).function == "Tanh" and W.ElementwiseLayer("ReLU").function == "Ramp"
    with pytest.raises(ValueError, match="form: got 'Index2'"):
        W.CrossEntropyLossLayer("Index2")
    with pytest.raises(ValueError, match="kind: got 'Foo'"):
        W.NetDecoder("Foo")
    with pytest.raises(ValueError, match="cross-entropy needs class probabilities"):
        NetTrain([W.LinearLayer(2)], (np.zeros((4, 2)), np.zeros((4, 2))),
                 LossFunction=W.CrossEntropyLossLayer("Probabilities"), **QUIET)


def test_class_decoder_labels_keep_their_given_order(rng):
    X = rng.uniform(0, 1, (100, 2))
    labels = np.where(X[:, 0] < X[:, 1], "b", "a")
    net = W.NetChain([W.LinearLayer(2), W.SoftmaxLayer()], output=W.NetDecoder("Class", ["b", "a"]))
    # from NetInitialize's Kaiming start, ADAM at 0.001 needs far more than 30 rounds (0.66 after 30): rate 0.01
    trained = NetTrain(net, (X, labels), MaxTrainingRounds=200, BatchSize=20, LearningRate=0.01, **QUIET)
    assert trained.classes.tolist() == ["b", "a"]
    assert np.mean(trained(X) == labels) > 0.9


@pytest.mark.slow
def test_the_pages_validation_set_example_tanh_on_a_noisy_gaussian():
    """The page's ValidationSet example: x -> exp(−x²) + noise (sd 0.15), x = −3, −2.8, …, 3, a net
    {150, Tanh, 150, Tanh, 1}, ValidationSet -> Scaled[0.2]: TrainedNet is the round of lowest validation loss, and
    it follows the noiseless curve."""
    rng = np.random.default_rng(1)
    x = np.round(np.arange(-3, 3.0001, 0.2), 10)
    data = [(xi, float(np.exp(-xi ** 2) + rng.normal(0, 0.15))) for xi in x]
    net = [W.LinearLayer(150), W.ElementwiseLayer("Tanh"), W.LinearLayer(150), W.ElementwiseLayer("Tanh"),
           W.LinearLayer(1)]
    from minidl.wolfram import Scaled

    trained, best, losses, n_val = NetTrain(
        net, data, ["TrainedNet", "BestValidationRound", "ValidationLossList", "ValidationExamples"],
        ValidationSet=Scaled(0.2), MaxTrainingRounds=150, BatchSize=5, Method="ADAM", LearningRate=0.01, **QUIET)
    assert n_val == 6 and len(losses) == 150
    assert losses[best - 1] == losses.min()
    curve = trained.predict(x[:, None])[:, 0]
    assert np.max(np.abs(curve - np.exp(-x ** 2))) < 0.3
