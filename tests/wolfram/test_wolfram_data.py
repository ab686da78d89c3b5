"""NetTrain's data forms: pairs, (inputs, outputs), ports, per-example mappings, named data sets, generator
functions with and without a round length, and the errors for data that is none of these."""

import numpy as np
import pytest

from minidl import datasets
from minidl import layers as L
from minidl.backend import to_host
from minidl.wolfram import DATASETS, NetTrain, Scaled
from minidl.wolfram.data import as_arrays, named_dataset

RNG = np.random.default_rng(5)
X = RNG.standard_normal((12, 2))
Y = X @ np.array([1.5, -0.5]) + 0.25


def linear():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(1, weights=np.array([[0.1, 0.2]]),
                                                                       bias=np.zeros(1))]


def weights(data, **kw):
    net = NetTrain(linear(), data, MaxTrainingRounds=2, BatchSize=4, WorkingPrecision="Real64",
                   TrainingProgressReporting=None, **kw)
    return to_host(net.params["fc_1.weight"])


@pytest.mark.parametrize("form", ["pairs", "ports", "examples", "lists"])
def test_every_array_form_trains_the_same(form):
    data = {"pairs": [(x, y) for x, y in zip(X, Y)], "ports": {"Input": X, "Output": Y},
            "examples": [{"Input": x, "Output": y} for x, y in zip(X, Y)],
            "lists": (X.tolist(), Y.tolist())}[form]
    np.testing.assert_array_equal(weights(data), weights((X, Y)))


def test_scalar_inputs_and_target_port():
    Xs, Ys = as_arrays({"Input": [1.0, 2.0, 3.0], "Target": [2.0, 4.0, 6.0]})
    assert Xs.shape == (3, 1) and Ys.tolist() == [2.0, 4.0, 6.0]


@pytest.mark.parametrize("data, match", [
    ([], "data: got an empty list"),
    ([(1.0, 2.0), (1.0,)], r"data\[1\]: got tuple; allowed: an \(input, output\) pair"),
    ({"Input": X, "Label": Y}, "data: got ports \\['Input', 'Label'\\]"),
    ((X, Y[:5]), "data: got 12 inputs and 5 outputs"),
    (3.5, "data: got float; allowed: a list of \\(input, output\\) pairs"),
    ([{"Input": 1.0, "Output": 2.0}, {"Input": 1.0}], r"data\[1\]: got dict; allowed: a mapping with the ports"),
    ((np.array(["a", "b"]), np.array([1.0, 2.0])), "inputs of dtype <U1"),
])
def test_bad_data_forms_name_the_argument(data, match):
    with pytest.raises((TypeError, ValueError), match=match):
        NetTrain(linear(), data, MaxTrainingRounds=1, TrainingProgressReporting=None)


def test_named_data_sets():
    X_, labels = named_dataset("SyntheticDigits")
    Xd, ld, _ = datasets.digit_train_data()
    assert X_ is Xd and labels is ld                         # the embedded digits, TrainingData
    assert named_dataset("SyntheticDigitAngles", "test")[1] is datasets.digit_test_data()[2]
    with pytest.raises(ValueError, match="data: unknown data set name 'CIFAR-10' .*load_mnist.*known names: "
                                         "SyntheticDigits, SyntheticDigitAngles, MNIST, FashionMNIST"):
        NetTrain(linear(), "CIFAR-10")
    with pytest.raises(ValueError, match="unknown data set name 'Digitz'; known names"):
        NetTrain(linear(), "Digitz")
    assert set(DATASETS) == {"SyntheticDigits", "SyntheticDigitAngles", "MNIST", "FashionMNIST", "SyntheticWaveforms",
                             "SyntheticActivity"}


def test_named_data_set_trains_with_its_test_data_as_validation_set():
    net = [L.ImageInput((1, 28, 28), normalization="none"), L.FullyConnected(10), L.Softmax()]
    res = NetTrain(net, "SyntheticDigits", "All", ValidationSet="Automatic", MaxTrainingRounds=1, BatchSize=500,
                   TrainingProgressReporting=None)
    assert (res["TrainingExamples"], res["ValidationExamples"], res["TotalBatches"]) == (5000, 5000, 10)
    assert res["TrainedNet"].classes.tolist() == list(range(10))


class Generator:
    """f(spec) returning a batch of the requested size (pairs), recording every spec it was called with."""

    def __init__(self, seed=0):
        self.rng, self.specs = np.random.default_rng(seed), []

    def __call__(self, spec):
        self.specs.append(dict(spec))
        x = self.rng.standard_normal((spec["BatchSize"], 2))
        return [(xi, xi @ np.array([1.5, -0.5])) for xi in x]


def test_generator_called_with_batch_size_and_round():
    f = Generator()
    res = NetTrain(linear(), f, "All", BatchSize=5, MaxTrainingRounds=3, TrainingProgressReporting=None)
    assert f.specs == [{"BatchSize": 5, "Round": r} for r in (1, 1, 2, 3)]   # the probe, then one batch a round
    assert (res["BatchesPerRound"], res["TotalBatches"], res["TrainingExamples"]) == (1, 3, 5)


def test_generator_automatic_batch_size_without_timing():
    assert NetTrain(linear(), Generator(), "BatchSize", MaxTrainingRounds=1, TrainingProgressReporting=None) == 64
    f = Generator()
    assert NetTrain(linear(), (f, {"RoundLength": 23}), "BatchSize", MaxTrainingRounds=1,
                    TrainingProgressReporting=None) == 23
    assert f.specs[0] == {"BatchSize": 23, "Round": 1}


def test_generator_round_length_and_generator_validation():
    f, g = Generator(1), Generator(2)
    res = NetTrain(linear(), (f, {"RoundLength": 23}), "All", BatchSize=10, MaxTrainingRounds=2,
                   ValidationSet=(g, {"RoundLength": 20}), TrainingProgressReporting=None)
    assert [s["Round"] for s in f.specs[1:]] == [1, 1, 1, 2, 2, 2]         # ceil(23/10) batches a round
    assert g.specs[1:] == [{"BatchSize": 10, "Round": r} for r in (1, 1, 2, 2)]  # 20 examples at each validation
    assert (res["TrainingExamples"], res["ValidationExamples"]) == (30, 20)
    assert len(res["ValidationLossList"]) == 2


def test_generator_errors():
    with pytest.raises(ValueError, match="need examples with an identity"):
        NetTrain(linear(), Generator(), ["FinalNet", "BatchPermutation"], BatchSize=4, MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="ValidationSet: Scaled"):
        NetTrain(linear(), Generator(), ValidationSet=Scaled(0.2), BatchSize=4, MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="data: RoundLength got 0"):
        NetTrain(linear(), (Generator(), {"RoundLength": 0}), BatchSize=4, MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="data: unknown generator option 'Length'"):
        NetTrain(linear(), (Generator(), {"Length": 3}), BatchSize=4, MaxTrainingRounds=1)

    def short(spec):
        return X[:3], Y[:3]
    with pytest.raises(ValueError, match=r"data inputs \(mini-batch 0\): the source yielded 3 observations"):
        NetTrain(linear(), short, BatchSize=4, MaxTrainingRounds=1, TrainingProgressReporting=None)


def test_generator_classification_classes_from_integer_labels():
    def f(spec):
        x = np.random.default_rng(spec["Round"]).standard_normal((spec["BatchSize"], 2))
        return x, (x[:, 0] > 0).astype(int)
    net = NetTrain([L.FeatureInput(2, normalization="none"), L.FullyConnected(3), L.Softmax()], f, BatchSize=8,
                   MaxTrainingRounds=2, TrainingProgressReporting=None)
    assert net.classes.tolist() == [0, 1, 2]                 # 0..K−1 for the net's K outputs

    def g(spec):
        return np.zeros((spec["BatchSize"], 2)), np.array(["yes", "no"] * (spec["BatchSize"] // 2))
    with pytest.raises(ValueError, match="needs the classes up front: set net.classes"):
        NetTrain([L.FeatureInput(2, normalization="none"), L.FullyConnected(2), L.Softmax()], g, BatchSize=4,
                 MaxTrainingRounds=1)


def test_validation_set_errors():
    with pytest.raises(ValueError, match="ValidationSet: 'Automatic' takes the TestData of a named data set"):
        NetTrain(linear(), (X, Y), ValidationSet="Automatic", MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="Scaled: got 1.5"):
        Scaled(1.5)
    with pytest.raises(ValueError, match="ValidationSet 'Interval': got 0; allowed: 'Batch', 'Round', a number"):
        NetTrain(linear(), (X, Y), ValidationSet=((X, Y), {"Interval": 0}), MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="ValidationSet: unknown sub-option 'Every'"):
        NetTrain(linear(), (X, Y), ValidationSet=((X, Y), {"Interval": 1, "Every": 2}), MaxTrainingRounds=1)


def test_a_mini_batch_source_trains_like_its_arrays():
    from minidl.training import ArraySource

    labels = (X[:, 0] > 0).astype(int)
    net = [L.FeatureInput(2, normalization="none"), L.FullyConnected(2, weights=np.eye(2), bias=np.zeros(2)),
           L.Softmax()]
    kw = {"MaxTrainingRounds": 2, "BatchSize": 4, "WorkingPrecision": "Real64", "TrainingProgressReporting": None}
    a = NetTrain(net, ArraySource(X, labels), "FinalNet", **kw)
    b = NetTrain(net, (X, labels), "FinalNet", **kw)
    np.testing.assert_array_equal(to_host(a.params["fc_1.weight"]), to_host(b.params["fc_1.weight"]))
    assert a.classes.tolist() == [0, 1]
