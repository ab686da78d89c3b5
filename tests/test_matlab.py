"""The MATLAB dialect translates names, defaults, layouts and result shapes onto the engine, and nothing else."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

import minidl.matlab as M
from minidl import Network
from minidl import layers as L
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.matlab import options as engine_options

# ------------------------------------------------------------------------------------------------ trainingOptions

#: MATLAB name -> (solver, MATLAB value, value the engine must hold); callables take tmp_path for paths.
OPTION_CASES = {
    "Momentum": ("sgdm", 0.5, 0.5),
    "InitialLearnRate": ("sgdm", 0.03, 0.03),
    "LearnRateSchedule": ("sgdm", "piecewise", "piecewise"),
    "LearnRateDropFactor": ("sgdm", 0.2, 0.2),
    "LearnRateDropPeriod": ("sgdm", 5, 5),
    "L2Regularization": ("sgdm", 5e-4, 5e-4),
    "GradientDecayFactor": ("adam", 0.95, 0.95),
    "SquaredGradientDecayFactor": ("rmsprop", 0.99, 0.99),
    "Epsilon": ("adam", 1e-6, 1e-6),
    "GradientThreshold": ("sgdm", 6, 6),
    "GradientThresholdMethod": ("sgdm", "global-l2norm", "global-l2norm"),
    "MaxEpochs": ("sgdm", 20, 20),
    "MiniBatchSize": ("sgdm", 64, 64),
    "Verbose": ("sgdm", 0, False),
    "VerboseFrequency": ("sgdm", 100, 100),
    "ValidationFrequency": ("sgdm", 20, 20),
    "ValidationPatience": ("sgdm", 5, 5),
    "Shuffle": ("sgdm", "every-epoch", "every-epoch"),
    "CheckpointPath": ("sgdm", lambda p: str(p), lambda p: str(p)),
    "ExecutionEnvironment": ("sgdm", "cpu", "cpu"),
    "WorkerLoad": ("sgdm", [], None),
    "OutputFcn": ("sgdm", print, (print,)),
    "Plots": ("sgdm", "training-progress", "training-progress"),
    "SequenceLength": ("sgdm", "longest", "longest"),
    "SequencePaddingValue": ("sgdm", 0, 0),
    "SequencePaddingDirection": ("sgdm", "left", "left"),
    "DispatchInBackground": ("sgdm", 0, False),
    "BatchNormalizationStatistics": ("sgdm", "moving", "moving"),
    "AdamForm": ("adam", "paper", "paper"),
    "Precision": ("sgdm", "double", "float64"),
    "Seed": ("sgdm", 7, 7),
    "PlotsFile": ("sgdm", lambda p: str(p / "progress.png"), lambda p: str(p / "progress.png")),
    "ProgressBar": ("sgdm", True, True),
    "OutputNetwork": ("sgdm", "best-validation-loss", "best-validation-loss"),
    "ResetInputNormalization": ("sgdm", 0, False),
    "LogFile": ("sgdm", lambda p: str(p / "log.csv"), lambda p: str(p / "log.csv")),
    "SequenceLossMask": ("sgdm", False, False),
    "CudaGraphs": ("sgdm", "auto", "auto"),
}


def test_every_engine_option_has_a_matlab_name():
    assert sorted(M.OPTION_NAMES.values()) == sorted(engine_options.OPTION_NAMES)
    assert set(OPTION_CASES) | {"ValidationData"} == set(M.OPTION_NAMES)


@pytest.mark.parametrize("name", sorted(OPTION_CASES))
def test_option_name_maps_to_engine_option_and_value_arrives(name, tmp_path):
    solver, value, expected = OPTION_CASES[name]
    value = value(tmp_path) if callable(value) and value is not print else value
    expected = expected(tmp_path) if callable(expected) and expected is not print else expected
    opts = M.trainingOptions(solver, name, value)
    assert getattr(opts.engine, M.OPTION_NAMES[name]) == expected
    assert opts.engine.solver == solver


def test_validation_data_cell_is_converted_from_hwcn():
    xv = np.arange(4 * 5 * 2 * 3, dtype=np.float32).reshape(4, 5, 2, 3)  # H W C N
    yv = np.array(["b", "a", "b"])
    opts = M.trainingOptions("sgdm", "ValidationData", (xv, yv))
    x_engine, y_engine = opts.engine.validation_data
    assert x_engine.shape == (3, 2, 4, 5)
    np.testing.assert_array_equal(x_engine, xv.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(y_engine, yv)
    assert opts.ValidationData[0] is xv  # the MATLAB property shows what was given
    features = M.trainingOptions("adam", "ValidationData", [np.ones((6, 3)), np.arange(6)])
    assert features.engine.validation_data[0].shape == (6, 3)


def test_names_are_case_insensitive_and_keywords_work():
    a = M.trainingOptions("SGDM", "maxepochs", 3, "MINIBATCHSIZE", 16, "learnrateschedule", "Piecewise")
    b = M.trainingOptions("sgdm", MaxEpochs=3, MiniBatchSize=16, LearnRateSchedule="piecewise")
    for opts in (a, b):
        assert (opts.engine.max_epochs, opts.engine.mini_batch_size, opts.engine.learn_rate_schedule) == \
               (3, 16, "piecewise")
    assert M.trainingOptions("sgdm", "MaxEpochs", 3, "MaxEpochs", 4).engine.max_epochs == 4  # the last one wins


def test_matlab_value_forms():
    opts = M.trainingOptions("sgdm", "MaxEpochs", 20.0, "LearnRateDropFactor", np.float64(0.2),
                             "ValidationPatience", float("inf"), "CheckpointPath", "", "Verbose", 1,
                             "MiniBatchSize", np.array([[64.0]]), "Precision", "single")
    e = opts.engine
    assert (e.max_epochs, e.learn_rate_drop_factor, e.validation_patience, e.checkpoint_path, e.verbose,
            e.mini_batch_size, e.precision) == (20, 0.2, float("inf"), None, True, 64, "float32")
    assert type(e.max_epochs) is int and type(e.mini_batch_size) is int


def test_defaults_are_the_engines():
    for solver in ("sgdm", "rmsprop", "adam"):
        opts = M.trainingOptions(solver)
        ref = engine_options.training_options(solver)
        assert opts.engine.to_dict() == ref.to_dict()
        assert type(opts).__name__ == {"sgdm": "TrainingOptionsSGDM", "rmsprop": "TrainingOptionsRMSProp",
                                       "adam": "TrainingOptionsADAM"}[solver]


REFERENCE_DISPLAY = """\
  TrainingOptionsSGDM with properties:

                        Momentum: 0.9000
                InitialLearnRate: 0.0100
       LearnRateScheduleSettings: [1x1 struct]
                L2Regularization: 1.0000e-04
         GradientThresholdMethod: 'l2norm'
               GradientThreshold: Inf
                       MaxEpochs: 20
                   MiniBatchSize: 64
                         Verbose: 1
                VerboseFrequency: 50
                  ValidationData: []
             ValidationFrequency: 50
              ValidationPatience: Inf
                         Shuffle: 'once'
                  CheckpointPath: ''
            ExecutionEnvironment: 'auto'
                      WorkerLoad: []
                       OutputFcn: []
                           Plots: 'training-progress'
                  SequenceLength: 'longest'
            SequencePaddingValue: 0
            DispatchInBackground: 0
    BatchNormalizationStatistics: 'population'
                       Precision: 'single'
                            Seed: 0
                       PlotsFile: []
                     ProgressBar: []"""


def test_display_matches_the_reference_example():
    opts = M.trainingOptions("sgdm", "LearnRateSchedule", "piecewise", "LearnRateDropFactor", 0.2,
                             "LearnRateDropPeriod", 5, "MaxEpochs", 20, "MiniBatchSize", 64,
                             "Plots", "training-progress")
    assert repr(opts) == REFERENCE_DISPLAY
    s = opts.LearnRateScheduleSettings
    assert (s.Method, s.DropRateFactor, s.DropPeriod) == ("piecewise", 0.2, 5)
    assert dict(M.trainingOptions("sgdm").LearnRateScheduleSettings) == {"Method": "none"}
    assert (opts.MaxEpochs, opts.Momentum, opts.CheckpointPath, opts.SolverName) == (20, 0.9, "", "sgdm")
    adam = repr(M.trainingOptions("adam")).splitlines()
    assert adam[0] == "  TrainingOptionsADAM with properties:"
    assert [ln.split(":")[0].strip() for ln in adam[2:6]] == ["GradientDecayFactor", "SquaredGradientDecayFactor",
                                                                "Epsilon", "AdamForm"]
    assert "InitialLearnRate: 1.0000e-03" in repr(M.trainingOptions("adam"))


def test_options_are_read_only_and_properties_belong_to_the_solver():
    opts = M.trainingOptions("adam")
    with pytest.raises(AttributeError, match="read-only"):
        opts.MaxEpochs = 3
    with pytest.raises(AttributeError, match="Momentum"):
        _ = opts.Momentum


@pytest.mark.parametrize("args, exc, words", [
    (("sgdm", "MaxEpoch", 3), TypeError, ["'MaxEpoch'", "did you mean 'MaxEpochs'", "'InitialLearnRate'"]),
    (("sgdm", "MaxEpochs"), TypeError, ["pairs", "'MaxEpochs'"]),
    (("sgdm", "MaxEpochs", 3, "Shuffle"), TypeError, ["pairs", "'Shuffle'"]),
    (("sgdm", 3, "MaxEpochs"), TypeError, ["name must be a string", "3"]),
    (("sgd",), ValueError, ["'solverName'", "'sgd'", "'sgdm'"]),
    (("sgdm", "MaxEpochs", 0), ValueError, ["'MaxEpochs'", "got 0"]),
    (("sgdm", "MaxEpochs", 2.5), TypeError, ["'MaxEpochs'", "2.5"]),
    (("sgdm", "InitialLearnRate", -1), ValueError, ["'InitialLearnRate'", "-1"]),
    (("adam", "Momentum", 0.9), ValueError, ["'Momentum'", "'sgdm'"]),
    (("sgdm", "Epsilon", 1e-6), ValueError, ["'Epsilon'"]),
    (("sgdm", "Shuffle", "always"), ValueError, ["'Shuffle'", "'always'", "'every-epoch'"]),
    (("sgdm", "Plots", "tensorboard"), ValueError, ["'Plots'", "'training-progress'"]),
    (("sgdm", "Verbose", "yes"), TypeError, ["'Verbose'", "'yes'"]),
    (("sgdm", "CheckpointPath", "/no/such/folder"), ValueError, ["'CheckpointPath'", "/no/such/folder"]),
    (("sgdm", "ExecutionEnvironment", "tpu"), ValueError, ["'ExecutionEnvironment'", "'tpu'", "'parallel'"]),
    (("sgdm", "SequenceLength", "middle"), ValueError, ["'SequenceLength'", "'middle'"]),
    (("sgdm", "Precision", "half"), ValueError, ["'Precision'", "'double'"]),
    (("sgdm", "OutputFcn", 3), TypeError, ["'OutputFcn'"]),
    (("sgdm", "ValidationData", (np.zeros((4, 4, 1, 2)),)), ValueError, ["'ValidationData'", "2 elements"]),
    (("sgdm", "ValidationData", (np.zeros((4, 4, 2)), [1])), ValueError, []),  # 3-D: one image; passes
    (("sgdm", "ValidationData", (np.zeros((2, 4, 4, 1, 2)), [1, 2])), ValueError, ["'ValidationData{1}'", "rank 5"]),
    (("sgdm", "ValidationData", (np.zeros((4, 4, 1, 3)), [1, 2])), ValueError, ["'ValidationData{2}'",
                                                                               "'ValidationData{1}'"]),
])
def test_option_errors_name_the_argument(args, exc, words):
    if not words:  # a control: the one-image form is accepted
        assert M.trainingOptions(*args).engine.validation_data[0].shape == (1, 2, 4, 4)
        return
    with pytest.raises(exc) as e:
        M.trainingOptions(*args)
    for w in words:
        assert w in str(e.value)
    assert str(e.value).startswith("trainingOptions: ")


# ------------------------------------------------------------------------------------------------ arrays

def test_hwcn_nchw_value_by_value():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2, 5))  # H W C N
    y = M.hwcn_to_nchw(x)
    assert y.shape == (5, 2, 3, 4)
    for h, w, c, n in itertools.product(range(3), range(4), range(2), range(5)):
        assert y[n, c, h, w] == x[h, w, c, n]
    back = M.nchw_to_hwcn(y)
    assert back.shape == x.shape and np.array_equal(back, x)
    assert M.hwcn_to_nchw(x[:, :, :, 0]).shape == (1, 2, 3, 4)  # one H×W×C image
    assert np.array_equal(M.hwcn_to_nchw(x[:, :, :, 1])[0], y[1])


@pytest.mark.parametrize("shape", [(3,), (3, 4, 2, 5, 1)])
def test_hwcn_rank_errors_name_the_argument(shape):
    with pytest.raises(ValueError, match=r"^XTest: got an array of rank"):
        M.hwcn_to_nchw(np.zeros(shape), "XTest")
    with pytest.raises(ValueError, match=r"^X: got an array of rank"):
        M.nchw_to_hwcn(np.zeros(shape))


# ------------------------------------------------------------------------------------------------ layers

@pytest.mark.parametrize("make, cls, attrs", [
    (lambda: M.imageInputLayer([28, 28, 1]), L.ImageInput, {"size": (1, 28, 28), "normalization": "zerocenter"}),
    (lambda: M.imageInputLayer([32, 24]), L.ImageInput, {"size": (1, 32, 24)}),
    (lambda: M.imageInputLayer(np.array([32.0, 24, 3]), "Normalization", "ZSCORE", "Name", "in"), L.ImageInput,
     {"size": (3, 32, 24), "normalization": "zscore", "name": "in"}),
    (lambda: M.featureInputLayer(5), L.FeatureInput, {"size": (5,), "normalization": "none"}),
    (lambda: M.featureInputLayer(5, Normalization="zscore"), L.FeatureInput, {"normalization": "zscore"}),
    (lambda: M.convolution2dLayer(3, 8, "Padding", "same"), Convolution2D,
     {"filter_size": (3, 3), "num_filters": 8, "padding": "same", "stride": (1, 1), "dilation": (1, 1),
      "weights_initializer": "normal", "name": None}),
    (lambda: M.convolution2dLayer([3, 5], 4, "Stride", 2, "DilationFactor", [2, 1], "Padding", [1, 2],
                                  "WeightsInitializer", "he", "BiasInitializer", "ones", "Name", "c1"),
     Convolution2D, {"filter_size": (3, 5), "stride": (2, 2), "dilation": (2, 1), "padding": (1, 1, 2, 2),
                     "weights_initializer": "he", "bias_initializer": "ones", "name": "c1"}),
    (lambda: M.convolution2dLayer(3, 4, "Padding", [1, 2, 3, 4], "WeightsInitializer", "narrow-normal"),
     Convolution2D, {"padding": (1, 2, 3, 4), "weights_initializer": "normal"}),
    (lambda: M.convolution2dLayer(3, 4, "Padding", 2, "WeightsInitializer", "glorot"), Convolution2D,
     {"padding": (2, 2, 2, 2), "weights_initializer": "glorot"}),
    (lambda: M.convolution2dLayer(3, 4, "WeightLearnRateFactor", 0, "BiasLearnRateFactor", 2, "WeightL2Factor", 3,
                                  "BiasL2Factor", 1), Convolution2D,
     {"learn_rate_factors": {"weight": 0.0, "bias": 2.0}, "l2_factors": {"weight": 3.0, "bias": 1.0}}),
    (lambda: M.batchNormalizationLayer(), L.BatchNormalization,
     {"epsilon": 1e-5, "mean_decay": 0.1, "l2_factors": {"scale": 1.0, "offset": 1.0}}),
    (lambda: M.batchNormalizationLayer("Epsilon", 1e-3, "MeanDecay", 0.2, "VarianceDecay", 0.3,
                                       "ScaleLearnRateFactor", 0, "OffsetL2Factor", 0, "Name", "bn"),
     L.BatchNormalization, {"epsilon": 1e-3, "mean_decay": 0.2, "variance_decay": 0.3, "name": "bn",
                            "learn_rate_factors": {"scale": 0.0, "offset": 1.0},
                            "l2_factors": {"scale": 1.0, "offset": 0.0}}),
    (lambda: M.reluLayer("Name", "r"), L.ReLU, {"name": "r"}),
    (lambda: M.maxPooling2dLayer(2, "Stride", 2), MaxPooling2D,
     {"pool_size": (2, 2), "stride": (2, 2), "padding": (0, 0, 0, 0)}),
    (lambda: M.maxPooling2dLayer([3, 2]), MaxPooling2D, {"pool_size": (3, 2), "stride": (1, 1)}),
    (lambda: M.averagePooling2dLayer(2, "Stride", [2, 1], "Padding", "same", "Name", "ap"), AveragePooling2D,
     {"pool_size": (2, 2), "stride": (2, 1), "padding": "same", "name": "ap"}),
    (lambda: M.fullyConnectedLayer(10), L.FullyConnected, {"output_size": 10, "weights_initializer": "normal"}),
    (lambda: M.fullyConnectedLayer(3, "BiasL2Factor", 1, "WeightsInitializer", "zeros"), L.FullyConnected,
     {"output_size": 3, "l2_factors": {"weight": 1.0, "bias": 1.0}, "weights_initializer": "zeros"}),
    (lambda: M.dropoutLayer(), L.Dropout, {"probability": 0.5}),
    (lambda: M.dropoutLayer(0.2, "Name", "d"), L.Dropout, {"probability": 0.2, "name": "d"}),
    (lambda: M.dropoutLayer("Name", "d"), L.Dropout, {"probability": 0.5, "name": "d"}),
    (lambda: M.softmaxLayer(), L.Softmax, {"name": None}),
    (lambda: M.classificationLayer("Name", "out"), L.ClassificationOutput, {"name": "out"}),
    (lambda: M.regressionLayer(), L.RegressionOutput, {"name": None}),
])
def test_layer_constructors_make_minidl_layers(make, cls, attrs):
    layer = make()
    assert type(layer) is cls
    for k, v in attrs.items():
        assert getattr(layer, k) == v, k


@pytest.mark.parametrize("make, words", [
    (lambda: M.convolution2dLayer(3, 8, "Pading", 1), ["convolution2dLayer", "'Pading'", "'Padding'"]),
    (lambda: M.convolution2dLayer(3, 8, "Padding"), ["pairs", "'Padding'"]),
    (lambda: M.convolution2dLayer(3, 8, "Padding", "valid"), ["'Padding'", "'valid'", "'same'"]),
    (lambda: M.convolution2dLayer(3, 8, "Padding", [1, 2, 3]), ["'Padding'", "[1, 2, 3]"]),
    (lambda: M.convolution2dLayer(3.5, 8), ["'filterSize'", "3.5"]),
    (lambda: M.convolution2dLayer([3, 3, 3], 8), ["'filterSize'"]),
    (lambda: M.convolution2dLayer(3, 0), ["'numFilters'", "0"]),
    (lambda: M.convolution2dLayer(3, 8, "Stride", 0), ["'Stride'"]),
    (lambda: M.convolution2dLayer(3, 8, "DilationFactor", [1, 1, 1]), ["'DilationFactor'"]),
    (lambda: M.convolution2dLayer(3, 8, "WeightsInitializer", "orthogonal"), ["'WeightsInitializer'", "'he'"]),
    (lambda: M.convolution2dLayer(3, 8, "Weights", np.zeros((3, 3, 1, 8, 1))), ["'Weights'", "rank 5"]),
    (lambda: M.convolution2dLayer(3, 8, "Weights", "ones"), ["'Weights'"]),
    (lambda: M.convolution2dLayer(3, 8, "WeightLearnRateFactor", -1), ["'WeightLearnRateFactor'", "-1"]),
    (lambda: M.convolution2dLayer(3, 8, "PaddingValue", -np.inf), ["'PaddingValue'"]),
    (lambda: M.convolution2dLayer(3, 8, "Name", 5), ["'Name'"]),
    (lambda: M.imageInputLayer([28, 28, 1, 1]), ["imageInputLayer", "'inputSize'"]),
    (lambda: M.imageInputLayer([28, 28], "Normalization", "rescale"), ["'Normalization'", "'zscore'"]),
    (lambda: M.imageInputLayer([4, 4], "Mean", np.zeros(3)), ["'Mean'"]),
    (lambda: M.featureInputLayer(0), ["'numFeatures'"]),
    (lambda: M.fullyConnectedLayer(0), ["'outputSize'"]),
    (lambda: M.fullyConnectedLayer(10, "Weights", np.zeros((10, 4, 1))), ["'Weights'", "rank 3"]),
    (lambda: M.fullyConnectedLayer(10, "Weights", np.zeros((4, 10))), ["'Weights'", "4x10", "10xI"]),
    (lambda: M.fullyConnectedLayer(3, "Bias", np.zeros((4, 1))), ["'Bias'", "3x1"]),
    (lambda: M.convolution2dLayer([3, 2], 8, "Weights", np.zeros((2, 3, 1, 8))), ["'Weights'", "2x3x1x8", "3x2xCx8"]),
    (lambda: M.convolution2dLayer(3, 8, "Weights", np.zeros((3, 3, 1, 4))), ["'Weights'", "3x3xCx8"]),
    (lambda: M.convolution2dLayer(3, 8, "Bias", np.zeros((1, 1, 4))), ["'Bias'", "1x1x8"]),
    (lambda: M.maxPooling2dLayer(2, "Stride", 2, "HasUnpoolingOutputs", "yes"), ["'HasUnpoolingOutputs'", "'yes'"]),
    (lambda: M.averagePooling2dLayer(0), ["'poolSize'"]),
    (lambda: M.dropoutLayer(1.5), ["'probability'", "1.5"]),
    (lambda: M.batchNormalizationLayer("Epsilon", -1), ["'Epsilon'", "-1"]),
    (lambda: M.batchNormalizationLayer("MeanDecay", 2), ["'MeanDecay'"]),
    (lambda: M.reluLayer("Name", "r", "Alpha", 0.1), ["reluLayer", "'Alpha'"]),
    (lambda: M.classificationLayer("Classes", ["a"]), ["classificationLayer", "'Classes'"]),
])
def test_layer_errors_name_the_argument(make, words):
    with pytest.raises((TypeError, ValueError)) as e:
        make()
    for w in words:
        assert w in str(e.value)


def test_conv_weights_hwcF_land_in_minidl_layout():
    rng = np.random.default_rng(1)
    wm = rng.normal(size=(3, 2, 4, 5))  # h w c F (KH = 3, KW = 2, C = 4, F = 5)
    bm = rng.normal(size=(1, 1, 5))
    conv = M.convolution2dLayer([3, 2], 5, "Weights", wm, "Bias", bm)
    net = Network([M.imageInputLayer([6, 6, 4], "Normalization", "none"), conv]).initialize(dtype="float64")
    w, b = net.params["conv_1.weight"], net.params["conv_1.bias"]
    assert w.shape == (5, 4, 3, 2) and b.shape == (5,)
    for f, c, i, j in itertools.product(range(5), range(4), range(3), range(2)):
        assert w[f, c, i, j] == wm[i, j, c, f]
    np.testing.assert_array_equal(b, bm.ravel())
    # MATLAB's correlation at one output position: Y(i, j, f) = Σ W(p, q, c, f) X(i+p, j+q, c) + b(f)
    x = rng.normal(size=(6, 6, 4, 2))
    y = net.forward(M.hwcn_to_nchw(x))
    ref = np.einsum("pqcf,pqcn->fn", wm, x[1:4, 2:4]) + bm.reshape(5, 1)
    np.testing.assert_allclose(y[:, :, 1, 2].T, ref, rtol=1e-12)
    one_filter = M.convolution2dLayer(3, 1, "Weights", np.ones((3, 3, 2)))  # h×w×c×1 arrives as h×w×c
    assert one_filter._given["weight"].shape == (1, 2, 3, 3)


def test_fc_weights_follow_matlab_hwc_flattening_after_an_image():
    rng = np.random.default_rng(2)
    h, w, c, n, o = 2, 3, 2, 5, 4
    x = rng.normal(size=(h, w, c, n))
    wm, bm = rng.normal(size=(o, h * w * c)), rng.normal(size=(o, 1))
    layers = [M.imageInputLayer([h, w, c], "Normalization", "none"),
              M.fullyConnectedLayer(o, "Weights", wm, "Bias", bm), M.regressionLayer()]
    # MATLAB: Y = W * X(:) + b with X(:) the column-major (h fastest, then w, then c) vector of one image
    ref = np.stack([wm @ x[:, :, :, i].ravel(order="F") for i in range(n)]) + bm.ravel()
    for ls in (copy.deepcopy(layers), layers):  # a deep copy made before building converts by its own input
        net = Network(ls).initialize(dtype="float64")
        np.testing.assert_allclose(net.forward(M.hwcn_to_nchw(x)), ref, rtol=1e-12)
    # after a feature input (or another FC layer) the columns are already in order
    wf = rng.normal(size=(3, 6))
    net = Network([M.featureInputLayer(6), M.fullyConnectedLayer(3, "Weights", wf)]).initialize(dtype="float64")
    np.testing.assert_array_equal(net.params["fc_1.weight"], wf)


def test_function_handle_initializers_get_matlab_sizes():
    seen = []

    def init(sz):
        seen.append(list(sz))
        return np.arange(np.prod(sz), dtype=float).reshape(sz, order="F")  # MATLAB fills column-major

    net = Network([M.imageInputLayer([5, 5, 2], "Normalization", "none"),
                   M.convolution2dLayer([3, 2], 4, "WeightsInitializer", init, "BiasInitializer", init),
                   M.fullyConnectedLayer(3, "WeightsInitializer", init)]).initialize(dtype="float64")
    assert seen == [[3, 2, 2, 4], [1, 1, 4], [3, 4 * 3 * 4]]  # the FC input is the 3×4×4 convolution output
    w = net.params["conv_1.weight"]
    ref = np.arange(48.0).reshape(3, 2, 2, 4, order="F")
    assert w[3, 1, 2, 1] == ref[2, 1, 1, 3]
    np.testing.assert_array_equal(net.params["conv_1.bias"], np.arange(4.0))
    wfc = np.arange(3 * 48.0).reshape(3, 48, order="F")
    np.testing.assert_array_equal(net.params["fc_1.weight"], M.matlab_fc_weights_to_minidl(wfc, (4, 3, 4)))


def test_batchnorm_and_input_statistics_in_matlab_layout():
    scale = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)
    bn = M.batchNormalizationLayer("Scale", scale, "Offset", [0.5, 0.25, 0.0], "TrainedMean", scale * 10,
                                   "TrainedVariance", scale * 4)
    mean = np.random.default_rng(3).normal(size=(4, 5, 3))  # h w c
    inp = M.imageInputLayer([4, 5, 3], "Mean", mean)
    net = Network([inp, bn]).initialize(dtype="float64")
    np.testing.assert_array_equal(net.params["batchnorm_1.scale"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(net.params["batchnorm_1.offset"], [0.5, 0.25, 0.0])
    np.testing.assert_array_equal(net.state["batchnorm_1.mean"], [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(net.state["batchnorm_1.variance"], [4.0, 8.0, 12.0])
    np.testing.assert_array_equal(net.state["imageinput_1.mean"], mean.transpose(2, 0, 1))
    zs = M.imageInputLayer([4, 5, 3], "Normalization", "zscore", "Mean", np.ones((1, 1, 3)),
                           "StandardDeviation", 2 * np.ones((1, 1, 3)))
    assert zs.state["mean"].shape == (3, 1, 1) and np.all(zs.state["std"] == 2)
    fi = M.featureInputLayer(3, "Normalization", "zerocenter", "Mean", np.ones((3, 1)))
    assert fi.state["mean"].shape == (3,)


# ------------------------------------------------------------------------------------------------ trainNetwork

def _tiny_images(n=24, seed=0):
    """H×W×C×N images whose class is the bright quadrant, labels as strings."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    x = rng.uniform(0, 0.2, size=(6, 6, 1, n))
    x[:3, :3, 0, y == 1] += 1.0
    x[3:, 3:, 0, y == 0] += 1.0
    return x, np.where(y == 1, "one", "zero")


def _tiny_net():
    return [M.imageInputLayer([6, 6, 1]), M.convolution2dLayer(3, 2, "Padding", "same"),
            M.batchNormalizationLayer(), M.reluLayer(), M.maxPooling2dLayer(2, "Stride", 2),
            M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()]


@pytest.fixture(scope="module")
def trained():
    x, y = _tiny_images()
    xv, yv = _tiny_images(8, seed=1)
    opts = M.trainingOptions("sgdm", "MaxEpochs", 3, "MiniBatchSize", 8, "Verbose", 0, "ValidationData", (xv, yv),
                             "ValidationFrequency", 2, "Precision", "double", "InitialLearnRate", 0.1)
    net, info = M.trainNetwork(x, y, _tiny_net(), opts)
    return x, y, xv, yv, net, info


def test_train_network_returns_matlab_info_fields(trained):
    x, y, xv, yv, net, info = trained
    assert list(info)[:8] == list(M.INFO_FIELDS[True])
    eng = info.engine
    for matlab, snake in (("TrainingLoss", "training_loss"), ("TrainingAccuracy", "training_accuracy"),
                          ("ValidationLoss", "validation_loss"), ("ValidationAccuracy", "validation_accuracy"),
                          ("BaseLearnRate", "base_learn_rate")):
        assert getattr(info, matlab) is getattr(eng, snake)
        assert info[matlab] is getattr(eng, snake)
    assert len(info.TrainingLoss) == 9  # 3 epochs × floor(24 / 8)
    assert info.FinalValidationAccuracy == eng.final_validation_accuracy
    assert info.FinalValidationLoss == eng.final_validation_loss
    assert info.OutputNetworkIteration == eng.output_network_iteration
    assert info.StopReason == eng.stop_reason
    assert "TrainingRMSE" not in info
    assert "TrainingLoss: [1x9 double]" in repr(info)


def test_classify_and_predict_take_hwcn(trained):
    x, y, xv, yv, net, info = trained
    scores = M.predict(net, xv, "MiniBatchSize", 3)
    # mini-batches of 3 against the whole batch: the same sums, but BLAS blocks a product of 3 rows differently from
    # one of 8 (under OpenBLAS's Nehalem kernel, and NumPy 1.23's OpenBLAS 0.3.20, they differ by ~1e-19): float64
    # rounding, not bit identity
    np.testing.assert_allclose(scores, net.predict(M.hwcn_to_nchw(xv)), rtol=1e-13, atol=1e-15)
    assert scores.shape == (8, 2)
    labels = M.classify(net, xv)
    np.testing.assert_array_equal(labels, net.classify(M.hwcn_to_nchw(xv)))
    assert set(labels) <= {"one", "zero"}
    assert M.classify(net, xv[:, :, :, 0]).shape == (1,)  # one H×W×C image
    with pytest.raises(TypeError, match="'MiniBatch'"):
        M.predict(net, xv, "MiniBatch", 3)
    with pytest.raises(ValueError, match="^X: got an array of rank 5"):
        M.classify(net, xv[..., None])
    with pytest.raises(TypeError, match="^net:"):
        M.predict(_tiny_net(), xv)


def test_train_network_regression_and_features():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 3))  # N×F features, observations in rows
    t = x @ np.array([[1.0], [-2.0], [0.5]])  # N×1 responses
    opts = M.trainingOptions("adam", "MaxEpochs", 2, "MiniBatchSize", 16, "Verbose", False, "Precision", "double")
    net, info = M.trainNetwork(x, t, [M.featureInputLayer(3), M.fullyConnectedLayer(1), M.regressionLayer()], opts)
    assert list(info)[:8] == list(M.INFO_FIELDS[False])
    assert info.TrainingRMSE is info.engine.training_rmse and len(info.TrainingRMSE) == 4
    assert "TrainingAccuracy" not in info
    assert M.predict(net, x).shape == (32, 1)
    net2, info2 = M.trainNetwork(x, t, [M.featureInputLayer(3), M.fullyConnectedLayer(1), M.regressionLayer()],
                                 opts.engine)  # the engine's own options are accepted too
    np.testing.assert_array_equal(info2.TrainingLoss, info.TrainingLoss)


@pytest.mark.parametrize("args, exc, match", [
    ((np.zeros((6, 6, 1, 4, 1)), ["a"] * 4), ValueError, "^X: got an array of rank 5"),
    ((np.zeros(6), ["a"] * 6), ValueError, "^X: got an array of rank 1"),
    ((np.zeros((6, 6, 1, 4)), np.zeros((4, 1, 1))), ValueError, "^Y: got an array of rank 3"),
    ((np.zeros((6, 6, 1, 4)), None), TypeError, "^Y: got None"),
])
def test_train_network_data_errors_name_the_argument(args, exc, match):
    opts = M.trainingOptions("sgdm", "MaxEpochs", 1, "Verbose", False)
    with pytest.raises(exc, match=match):
        M.trainNetwork(*args, _tiny_net(), opts)


def test_train_network_options_and_layers_errors():
    x, y = _tiny_images(8)
    with pytest.raises(TypeError, match="^options: got dict"):
        M.trainNetwork(x, y, _tiny_net(), {"MaxEpochs": 1})
    with pytest.raises(TypeError, match="^layers: got str"):
        M.trainNetwork(x, y, "layers", M.trainingOptions("sgdm"))


# ------------------------------------------------------------------------------------------------ data

def test_digit_train_data_in_matlab_layout():
    from minidl.datasets import digit_train_data

    xtrain, ytrain, angles = M.digitTrain4DArrayData()
    assert xtrain.shape == (28, 28, 1, 5000) and xtrain.dtype == np.float32 and xtrain.flags.writeable
    assert ytrain.shape == (5000,) and sorted(set(ytrain)) == [str(d) for d in range(10)]
    assert angles.shape == (5000, 1) and angles.dtype == np.float64
    x, labels, ang = digit_train_data()
    np.testing.assert_array_equal(M.hwcn_to_nchw(xtrain), x)
    np.testing.assert_array_equal(ytrain, labels.astype(str))
    np.testing.assert_array_equal(angles[:, 0], ang)
    assert xtrain[10, 3, 0, 7] == x[7, 0, 10, 3]


# ------------------------------------------------------------------------------------------------ display helpers

def test_struct_and_value_display():
    s = M.MatlabStruct(TrainingLoss=np.zeros(117), OutputNetworkIteration=117, StopReason="Max epochs completed")
    assert repr(s).splitlines() == ["  struct with fields:", "",
                                    "              TrainingLoss: [1x117 double]",
                                    "    OutputNetworkIteration: 117",
                                    "                StopReason: 'Max epochs completed'"]
    with pytest.raises(AttributeError, match="no field 'Loss'"):
        _ = s.Loss
    assert [M.format_value(v) for v in (1234.5, -0.5, float("nan"), np.zeros((28, 28, 1, 5)), np.float64(2.0))] == \
        ["1.2345e+03", "-0.5000", "NaN", "[28x28x1x5 double]", "2"]


# ------------------------------------------------------------------------------------------------ engine pass-through

def test_hwcn_conversion_on_every_device(backend):
    from minidl.backend import to_device, to_host

    x = np.arange(3 * 4 * 2 * 5, dtype=np.float64).reshape(3, 4, 2, 5)
    y = M.hwcn_to_nchw(to_device(x, backend))
    np.testing.assert_array_equal(to_host(y), x.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(to_host(M.nchw_to_hwcn(y)), x)


def test_train_network_on_every_device_with_engine_keywords(backend):
    import io

    x, y = _tiny_images(16)
    opts = M.trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 8, "Precision", "double",
                             "VerboseFrequency", 1)
    out = io.StringIO()
    net, info = M.trainNetwork(x, y, _tiny_net(), opts, device=backend, stream=out)
    _, ref = M.trainNetwork(x, y, _tiny_net(), opts, stream=io.StringIO())
    np.testing.assert_allclose(info.TrainingLoss, ref.TrainingLoss, rtol=1e-10)
    assert out.getvalue().count("\n|       2 |") == 2  # the verbose table went to the given stream


def test_output_fcn_sees_matlab_fields_and_can_stop():
    x, y = _tiny_images(16)
    seen = []

    def stop_at_three(state):
        seen.append((state.State, state.Iteration, state["TrainingLoss"]))
        return state.Iteration == 3

    opts = M.trainingOptions("sgdm", "MaxEpochs", 5, "MiniBatchSize", 4, "Verbose", False,
                             "OutputFcn", [stop_at_three])
    _, info = M.trainNetwork(x, y, _tiny_net(), opts)
    assert [s[:2] for s in seen] == [("start", 0), ("iteration", 1), ("iteration", 2), ("iteration", 3),
                                     ("done", 3)]
    assert seen[2][2] == info.TrainingLoss[1]
    assert len(info.TrainingLoss) == 3 and info.StopReason == info.engine.stop_reason


def test_resume_from_a_checkpoint_through_the_dialect(tmp_path):
    import os

    x, y = _tiny_images(16)
    opts = M.trainingOptions("sgdm", "MaxEpochs", 2, "MiniBatchSize", 8, "Verbose", False, "Precision", "double",
                             "CheckpointPath", str(tmp_path), "Shuffle", "every-epoch")
    _, full = M.trainNetwork(x, y, _tiny_net(), opts)
    first = sorted(p for p in os.listdir(tmp_path) if p.startswith("net_checkpoint__2__"))[0]
    _, resumed = M.trainNetwork(x, y, None, opts, resume_from=os.path.join(tmp_path, first))
    np.testing.assert_array_equal(resumed.TrainingLoss, full.TrainingLoss)
