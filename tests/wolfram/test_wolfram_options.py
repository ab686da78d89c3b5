"""Options: Automatic rules (BatchSize, MaxTrainingRounds, LearningRate per method), and bad input → an error that
names the option as the caller spelled it, the value and what is allowed."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.training import NotSupportedYetError
from minidl.wolfram import NetTrain, net_train
from minidl.wolfram import train as wtrain
from minidl.wolfram.options import automatic_batch_size, automatic_rounds

RNG = np.random.default_rng(2)
X = RNG.standard_normal((8, 2))
Y = X.sum(1)
LABELS = np.array([0, 1] * 4)


def linear():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(1)]


def classifier():
    return [L.FeatureInput(2, normalization="none"), L.FullyConnected(2), L.Softmax()]


def test_automatic_rules():
    assert automatic_batch_size(1e-6, 1000) == 64                 # cheap examples: the cap
    assert automatic_batch_size(0.01, 1000) == 10                 # floor(0.1 s / 10 ms)
    assert automatic_batch_size(1.0, 1000) == 1 and automatic_batch_size(1e-6, 20) == 20
    assert automatic_rounds(0.5) == 40 and automatic_rounds(30.0) == 1 and automatic_rounds(1e-6) == 10000
    assert automatic_rounds(0.3) == 67                           # ceil(20 / 0.3)


def test_automatic_batch_size_and_rounds_from_the_measured_time(monkeypatch):
    """With the engine's time per batch fixed at 1 s: BatchSize floor(0.1/(1/8)) → clipped to 1; a round of 8
    batches takes 8 s → ceil(20/8) = 3 rounds."""
    calls = []

    def one_second(parts, d, batch_size, make_config, classes):
        calls.append(batch_size)
        return 1.0
    monkeypatch.setattr(wtrain, "_seconds_per_batch", one_second)
    res = NetTrain(linear(), (X, Y), "All", TrainingProgressReporting=None)
    assert calls == [8, 1]                                       # probed at min(64, N), then at the chosen size
    assert (res["BatchSize"], res["BatchesPerRound"], res["TotalRounds"]) == (1, 8, 3)
    calls.clear()
    res = NetTrain(linear(), (X, Y), "All", TimeGoal=1e-9, TrainingProgressReporting=None)
    assert calls == [8] and res["ReasonTrainingStopped"] == "TimeGoal"   # TimeGoal: no round probe


def test_seconds_per_batch_uses_a_throwaway_copy():
    parts = wtrain._network(linear(), "Automatic", wtrain.opt.ARG_NAMES)
    d = wtrain._training_data((X, Y), None, None, 1234, wtrain.opt.ARG_NAMES)
    from minidl.optim import ConstantSchedule
    from minidl.training import EngineConfig
    from minidl.wolfram.options import make_method_optimizer

    def make(b):
        return EngineConfig(optimizer=make_method_optimizer("ADAM", {}), schedule=ConstantSchedule(0.001),
                            max_epochs=1, batch_size=b, partial_batch="keep", validation_frequency=None,
                            validate_first_iteration=False)
    assert wtrain._seconds_per_batch(parts, d, 4, make, None) > 0
    assert not parts.train.initialized                           # the probe trained a copy


@pytest.mark.parametrize("method, rate", [("ADAM", 0.001), ("RMSProp", 0.001), ("SGD", 0.01), ("SignSGD", 0.01)])
def test_learning_rate_defaults_per_method(method, rate):
    sub = (method, {"LearningRateSchedule": None})
    assert NetTrain(linear(), (X, Y), "InitialLearningRate", Method=sub, MaxTrainingRounds=1, BatchSize=8,
                    TrainingProgressReporting=None) == rate


@pytest.mark.parametrize("kwargs, error, match", [
    ({"MaxTrainingRound": 3}, TypeError, "NetTrain: unknown option 'MaxTrainingRound' \\(did you mean "
                                         "'MaxTrainingRounds'\\?\\)"),
    ({"max_training_rounds": 3}, TypeError, "NetTrain: unknown option 'max_training_rounds' \\(net_train takes "
                                            "snake_case; NetTrain takes 'MaxTrainingRounds'\\)"),
    ({"Method": "Adagrad"}, ValueError, "Method: got 'Adagrad'; allowed: 'ADAM', 'RMSProp', 'SGD', 'SignSGD'"),
    ({"Method": ("SGD", {"Beta1": 0.9})}, ValueError, "Method 'SGD': unknown sub-option 'Beta1'; allowed: "
                                                      "'Momentum', 'LearningRateSchedule'"),
    ({"Method": ("ADAM", {"Beta": 0.9})}, ValueError, "Method 'ADAM': unknown sub-option 'Beta' \\(did you mean "
                                                      "'Beta2'\\?\\)"),
    ({"Method": ("SGD", {"Momentum": 1.0})}, ValueError, "Method 'SGD' sub-option 'Momentum': got 1.0; allowed: "
                                                         "a number in \\[0, 1\\)"),
    ({"Method": ("ADAM", {"Epsilon": -1})}, ValueError, "Method 'ADAM' sub-option 'Epsilon': got -1"),
    ({"Method": ("SGD", {"GradientClipping": {"fc_9": 1.0}})}, ValueError, "'GradientClipping': got part 'fc_9'"),
    ({"Method": ("SGD", {"LearningRateSchedule": "cosine"})}, ValueError, "'LearningRateSchedule': got 'cosine'"),
    ({"Method": 5}, TypeError, "Method: got 5; allowed: a method name"),
    ({"BatchSize": 0}, ValueError, "BatchSize: got 0; allowed: a positive integer"),
    ({"MaxTrainingRounds": 2.5}, ValueError, "MaxTrainingRounds: got 2.5"),
    ({"LearningRate": -0.1}, ValueError, "LearningRate: got -0.1; allowed: a finite number > 0"),
    ({"TimeGoal": 0}, ValueError, "TimeGoal: got 0"),
    ({"RandomSeeding": -1}, ValueError, "RandomSeeding: got -1; allowed: an integer ≥ 0"),
    ({"TargetDevice": "TPU"}, ValueError, "TargetDevice: got 'TPU'; allowed: 'CPU', 'GPU'"),
    ({"WorkingPrecision": "Real16"}, ValueError, "WorkingPrecision: got 'Real16'"),
    ({"TrainingUpdateSchedule": ["a", "b"]}, ValueError, r"TrainingUpdateSchedule\[0\]: got part 'a'"),
    ({"PerformanceGoal": "TrainingSpeed"}, NotSupportedYetError, "PerformanceGoal: .*not supported yet"),
    ({"LossFunction": "HingeLoss"}, ValueError, "LossFunction: got 'HingeLoss'; allowed: 'Automatic'"),
    ({"LossFunction": "ContrastiveLoss"}, NotSupportedYetError, "LossFunction: got 'ContrastiveLoss'"),
    ({"LossFunction": "CrossEntropyLoss"}, ValueError, "LossFunction: cross-entropy needs class probabilities"),
    ({"TrainingProgressMeasurements": "Accuracy"}, ValueError, "'Accuracy' applies to classification networks"),
    ({"TrainingProgressMeasurements": "ScottPi"}, NotSupportedYetError, "'ScottPi'; not supported yet"),
    ({"TrainingProgressMeasurements": "Fun"}, ValueError, "TrainingProgressMeasurements: got 'Fun'"),
    ({"TrainingStoppingCriterion": {"Criterion": "Loss", "Wait": 3}}, ValueError,
     "TrainingStoppingCriterion: unknown sub-option 'Wait'"),
    ({"TrainingStoppingCriterion": {"AbsoluteChange": 1, "RelativeChange": 0.1}}, ValueError, "got both"),
    ({"TrainingStoppingCriterion": {"Patience": -1}}, ValueError, "'Patience': got -1"),
    ({"TrainingProgressReporting": "Fancy"}, ValueError, "TrainingProgressReporting: got 'Fancy'; allowed: "
                                                         "'Print', 'ProgressIndicator', 'Panel'"),
    ({"TrainingProgressReporting": "/no/such/folder/log.csv"}, ValueError, "the folder of '/no/such/folder"),
    ({"TrainingProgressCheckpointing": ("Folder", "/tmp")}, ValueError, "TrainingProgressCheckpointing: got "
                                                                        "'Folder'"),
    ({"TrainingProgressCheckpointing": ("Directory", "/no/such/folder")}, ValueError, "is not an existing folder"),
    ({"TrainingProgressFunction": 3}, TypeError, "TrainingProgressFunction: got 3"),
    ({"LearningRateMultipliers": {"conv_9": 0}}, ValueError, "LearningRateMultipliers: got part 'conv_9'; allowed: "
                                                             "a layer name \\(featureinput_1, fc_1, loss\\)"),
    ({"LearningRateMultipliers": {"fc_1": -1}}, ValueError, "LearningRateMultipliers\\['fc_1'\\]: got -1"),
])
def test_bad_options_name_themselves(kwargs, error, match):
    with pytest.raises(error, match=match):
        NetTrain(linear(), (X, Y), **{"MaxTrainingRounds": 1, "TrainingProgressReporting": None, **kwargs})


def test_snake_case_api_spells_its_own_names():
    with pytest.raises(TypeError, match="net_train: unknown option 'MaxTrainingRounds' \\(that is NetTrain's "
                                        "spelling; net_train takes 'max_training_rounds'\\)"):
        net_train(linear(), (X, Y), MaxTrainingRounds=1)
    with pytest.raises(ValueError, match="^batch_size: got 0"):
        net_train(linear(), (X, Y), batch_size=0)
    with pytest.raises(ValueError, match="^method: got 'adagrad'"):
        net_train(linear(), (X, Y), method="adagrad")


@pytest.mark.parametrize("prop, match", [
    ("TrainedNets", "prop: unknown property 'TrainedNets' \\(did you mean 'TrainedNet'"),
    (["FinalNet", "Loss"], "prop\\[1\\]: unknown property 'Loss'"),
    ({"Property": "RoundLoss", "Every": 2}, "prop: unknown sub-option 'Every'"),
    ({"Form": "List"}, "prop: a custom property spec needs 'Property'"),
    ({"Property": "RoundLoss", "Form": "Table"}, "prop 'Form': got 'Table'"),
])
def test_bad_properties(prop, match):
    with pytest.raises(ValueError, match=match):
        NetTrain(linear(), (X, Y), prop, MaxTrainingRounds=1)


def test_loss_function_rules():
    """Automatic: cross-entropy after Softmax, else mean squared; a net ending in its own loss keeps it."""
    assert type(NetTrain(classifier(), (X, LABELS), "TrainingNet", MaxTrainingRounds=1, BatchSize=4,
                         TrainingProgressReporting=None).layers[-1]).__name__ == "ClassificationOutput"
    assert type(NetTrain(linear(), (X, Y), "TrainingNet", MaxTrainingRounds=1, BatchSize=4,
                         TrainingProgressReporting=None).layers[-1]).__name__ == "MeanSquaredLoss"
    own = linear() + [L.RegressionOutput()]
    net = NetTrain(own, (X, Y), "TrainedNet", MaxTrainingRounds=1, BatchSize=4, TrainingProgressReporting=None)
    assert type(net.layers[-1]).__name__ == "RegressionOutput"   # a loss net: returned with its loss
    with pytest.raises(ValueError, match="LossFunction: got 'MeanSquaredLoss', but the network already ends in"):
        NetTrain(own, (X, Y), LossFunction="MeanSquaredLoss")
    probs = NetTrain(classifier(), (X, np.eye(2)[LABELS]), "TrainingNet", LossFunction="MeanSquaredLoss",
                     MaxTrainingRounds=1, BatchSize=4, TrainingProgressReporting=None)
    assert type(probs.layers[-1]).__name__ == "MeanSquaredLoss"


def test_loss_function_as_a_layer_is_copied():
    mine = L.RegressionOutput(name="mine")
    net = NetTrain(linear(), (X, Y), "TrainingNet", LossFunction=mine, MaxTrainingRounds=1, BatchSize=4,
                   TrainingProgressReporting=None)
    assert type(net.layers[-1]).__name__ == "RegressionOutput" and net.layers[-1] is not mine
    assert mine.name == "mine" and not mine.initialized
