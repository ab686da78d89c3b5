"""MATLAB's sequenceInputLayer, predict/classify/activations with the sequence options, predictAndUpdateState,
classifyAndUpdateState and resetState (the updated network returned, the one passed in untouched)."""

import numpy as np
import pytest

import minidl as dl
from minidl import layers as L
from minidl import matlab as M


def _net(output_mode="sequence", classes=3):
    net = dl.Network([M.sequenceInputLayer(2), L.LSTM(4, output_mode=output_mode), L.FullyConnected(classes),
                      L.Softmax(), L.ClassificationOutput()])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    net.classes = np.array(["x", "y", "z"][:classes])
    return net


def _seqs(lengths=(5, 3)):
    rng = np.random.default_rng(1)
    return [rng.standard_normal((2, t)) for t in lengths]


def test_sequence_input_layer_defaults_and_options():
    layer = M.sequenceInputLayer(12)
    assert isinstance(layer, L.SequenceInput) and layer.normalization == "none" and layer.min_length == 1
    layer = M.sequenceInputLayer(2, "Normalization", "zscore", "Mean", [[1.0], [2.0]], "StandardDeviation", [2, 4],
                                 "MinLength", 3, "Name", "seq")
    layer.initialize((2, None), dtype="float64")
    np.testing.assert_allclose(layer.forward(np.full((1, 2, 3), 3.0))[0, :, 0], [1.0, 0.25])
    assert (layer.name, layer.min_length) == ("seq", 3)
    with pytest.raises(ValueError, match="sequenceInputLayer: 'MinLength'"):
        M.sequenceInputLayer(2, "MinLength", 0)
    with pytest.raises(ValueError, match="sequenceInputLayer: 'Normalization'"):
        M.sequenceInputLayer(2, "Normalization", "center")


def test_predict_and_classify_take_the_sequence_options():
    net, xs = _net(), _seqs()
    y = M.predict(net, xs, "SequenceLength", 2.0, "MiniBatchSize", 1)       # MATLAB's 2 is a double
    whole = net.predict(xs)
    for a, b in zip(y, whole):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    one = M.predict(net, xs[0])                                            # one C×T sequence: one K×T array
    np.testing.assert_allclose(one, whole[0], rtol=1e-12)
    labels, scores = M.classify(net, xs, "SequencePaddingDirection", "left", return_scores=True)
    assert [lab.shape for lab in labels] == [(5,), (3,)] and set(np.concatenate(labels)) <= {"x", "y", "z"}
    assert [s.shape for s in scores] == [(3, 5), (3, 3)]
    short = M.predict(net, xs, "SequenceLength", "shortest")
    assert [s.shape for s in short] == [(3, 3), (3, 3)]
    with pytest.raises(ValueError, match="predict: 'SequenceLength'"):
        M.predict(net, xs, "SequenceLength", 0)
    with pytest.raises(ValueError, match="predict: 'SequencePaddingDirection'"):
        M.predict(net, xs, "SequencePaddingDirection", "up")
    with pytest.raises(ValueError, match="'SequencePaddingValue'"):
        M.predict(net, xs, "SequencePaddingValue", float("nan"))


def test_sequence_to_label_activations_and_classify():
    net, xs = _net("last"), _seqs()
    assert M.classify(net, xs).shape == (2,)
    a = M.activations(net, xs, "lstm_1")
    assert a.shape == (2, 4) and M.activations(net, xs, 2, "OutputAs", "columns").shape == (4, 2)
    seq = M.activations(_net(), xs, "fc_1")
    assert [s.shape for s in seq] == [(3, 5), (3, 3)]


def test_predict_and_update_state_forecasts_step_by_step():
    net = _net()
    x = _seqs((6,))[0]
    whole = net.predict([x])[0]
    current, steps = net, []
    for t in range(6):
        current, y = M.predictAndUpdateState(current, x[:, t:t + 1])
        steps.append(y)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), whole, rtol=1e-12)
    assert net.recurrent_state() == {} and current.recurrent_state()["lstm_1.hidden"].shape == (1, 4)
    fresh = M.resetState(current)
    assert fresh.recurrent_state() == {} and current.recurrent_state() != {}
    fresh, labels = M.classifyAndUpdateState(fresh, x[:, :2])
    np.testing.assert_array_equal(labels, net.classes[whole[:, :2].argmax(axis=0)])
    fresh, labels, scores = M.classifyAndUpdateState(fresh, x[:, 2:], return_scores=True)
    np.testing.assert_allclose(scores, whole[:, 2:], rtol=1e-12)


def test_update_state_refuses_a_network_without_sequence_input():
    net = dl.Network([L.FeatureInput(2, normalization="none"), L.FullyConnected(2), L.Softmax(),
                      L.ClassificationOutput()]).initialize(dtype="float64")
    with pytest.raises(ValueError, match="predictAndUpdateState: net has no sequenceInputLayer"):
        M.predictAndUpdateState(net, np.ones((2, 3)))
