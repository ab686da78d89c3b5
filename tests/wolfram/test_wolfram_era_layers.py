"""Wolfram spellings of the graph era's layers: CatenateLayer, TotalLayer, ThreadingLayer, PoolingLayer (windowed
and global), DeconvolutionLayer map to the same minidl classes (the same code) as the MATLAB spellings; a chain with
the new single-input layers trains through NetTrain."""

import operator

import numpy as np
import pytest

import minidl.matlab as M
from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.training.serialization import layer_to_json
from minidl.wolfram import NetTrain
from minidl.wolfram import layers as W


def layer_args(layer):
    return {k: v for k, v in layer_to_json(layer)["args"].items() if k != "name"}


QUIET = dict(TrainingProgressReporting=None, RandomSeeding=7, WorkingPrecision="Real64")


@pytest.mark.parametrize("make, cls, attrs", [
    (lambda: W.CatenateLayer(), L.Concatenation, {"dim": 1, "num_inputs": 2, "input_names": ("in1", "in2")}),
    (lambda: W.CatenateLayer(2, inputs=3, name="cat"), L.Concatenation, {"dim": 2, "num_inputs": 3, "name": "cat"}),
    (lambda: W.TotalLayer(), L.Addition, {"num_inputs": 2}),
    (lambda: W.TotalLayer(4), L.Addition, {"num_inputs": 4}),
    (lambda: W.ThreadingLayer("Plus"), L.Threading, {"function": "Plus"}),
    (lambda: W.ThreadingLayer(operator.mul, 3), L.Threading, {"function": "Times", "num_inputs": 3}),
    (lambda: W.ThreadingLayer(np.subtract), L.Threading, {"function": "Subtract"}),
    (lambda: W.ThreadingLayer("Divide"), L.Threading, {"function": "Divide"}),
    (lambda: W.PoolingLayer((2, 2), 2), L.MaxPooling2D, {"pool_size": (2, 2), "stride": (2, 2)}),
    (lambda: W.PoolingLayer(3, Function="Mean"), L.AveragePooling2D, {"pool_size": (3, 3), "stride": (1, 1)}),
    (lambda: W.PoolingLayer(3, 2, Function=max, PaddingSize=1), L.MaxPooling2D, {"padding": (1, 1, 1, 1)}),
    (lambda: W.PoolingLayer("All", Function="Mean"), L.GlobalAveragePooling2D, {}),
    (lambda: W.PoolingLayer("All", Function=np.max), L.GlobalMaxPooling2D, {}),
    (lambda: W.PoolingLayer("All"), L.GlobalMaxPooling2D, {}),
    (lambda: W.DeconvolutionLayer(8, (4, 4), 2, PaddingSize=1), L.TransposedConvolution2D,
     {"num_filters": 8, "filter_size": (4, 4), "stride": (2, 2), "cropping": (1, 1, 1, 1)}),
    (lambda: W.ElementwiseLayer("Tanh"), L.Elementwise, {"function": "Tanh"}),
    (lambda: W.ElementwiseLayer("Sigmoid"), L.Elementwise, {"function": "LogisticSigmoid"}),
    (lambda: W.ElementwiseLayer("ExponentialLinearUnit"), L.Elementwise, {"function": "ELU"}),
])
def test_spellings_make_minidl_layers(make, cls, attrs):
    layer = make()
    assert type(layer) is cls
    for k, v in attrs.items():
        assert getattr(layer, k) == v, k


@pytest.mark.parametrize("make, error, match", [
    (lambda: W.CatenateLayer(0), ValueError, "level: got 0"),
    (lambda: W.CatenateLayer(-1), NotSupportedYetError, "level: got -1"),
    (lambda: W.TotalLayer(1), ValueError, "inputs: got 1"),
    (lambda: W.ThreadingLayer(lambda a, b: a * b + 1), NotSupportedYetError, "not supported yet"),
    (lambda: W.PoolingLayer(2, Function="Min"), NotSupportedYetError, "Function: got 'Min'"),
    (lambda: W.PoolingLayer(2, Function="Mean", PaddingSize=1), NotSupportedYetError, "PaddingSize: got 1"),
    (lambda: W.PoolingLayer(2, Padding=1), ValueError, "unknown option 'Padding'"),
    (lambda: W.PoolingLayer("All", 2), ValueError, "global form"),
    (lambda: W.DeconvolutionLayer(3, 2, Weights=np.zeros((1, 3, 2, 2))), NotSupportedYetError, "'Weights'"),
])
def test_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_the_same_code_in_both_dialects(rng):
    """Wolfram's and MATLAB's spellings of one function build the same class with the same hyper-parameters, so
    they compute the same numbers (one implementation)."""
    pairs = [(W.PoolingLayer("All", Function="Mean"), M.globalAveragePooling2dLayer()),
             (W.PoolingLayer("All", Function="Max"), M.globalMaxPooling2dLayer()),
             (W.DeconvolutionLayer(3, 4, 2, PaddingSize=1), M.transposedConv2dLayer(4, 3, "Stride", 2, "Cropping", 1)),
             (W.ElementwiseLayer("Tanh"), M.tanhLayer()), (W.ElementwiseLayer("LogisticSigmoid"), M.sigmoidLayer())]
    x = rng.standard_normal((2, 2, 5, 5))
    for w, m in pairs:
        w.initialize((2, 5, 5), rng=np.random.default_rng(1), dtype="float64")
        m.initialize((2, 5, 5), rng=np.random.default_rng(1), dtype="float64")
        assert type(m).forward is type(w).forward and type(m).backward is type(w).backward  # one implementation
        assert type(w) is not type(m) or layer_args(w) == layer_args(m)
        np.testing.assert_array_equal(w.forward(x), m.forward(x))


def test_deconvolution_size_as_wolfram():
    """Wolfram DeconvolutionLayer: output s·(in − 1) + k − 2p."""
    assert W.DeconvolutionLayer(4, (3, 3), 2, PaddingSize=1).initialize((2, 5, 5)) == (4, 9, 9)
    assert W.DeconvolutionLayer(4, (2, 2), 2).initialize((2, 5, 5)) == (4, 10, 10)


def test_a_chain_with_the_new_layers_trains(rng):
    """Pooling (windowed and global) and a deconvolution inside a NetChain trained by NetTrain (regression)."""
    X = rng.standard_normal((48, 1, 6, 6))
    Y = X.mean(axis=(2, 3)).reshape(48, 1) * 3.0
    net = [W.DeconvolutionLayer(2, (2, 2), 2), W.ElementwiseLayer("Tanh"), W.PoolingLayer((2, 2), 2),
           W.PoolingLayer("All", Function="Mean"), W.FlattenLayer(), W.LinearLayer(1)]
    trained, losses = NetTrain(net, (X, Y), ["TrainedNet", "RoundLossList"], MaxTrainingRounds=40, BatchSize=16,
                               Method="ADAM", LearningRate=0.02, **QUIET)
    assert trained.predict(X).shape == (48, 1)
    assert losses[-1] < 0.2 * losses[0]
