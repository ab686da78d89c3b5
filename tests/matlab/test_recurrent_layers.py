"""MATLAB's lstmLayer, bilstmLayer and gruLayer: options, MATLAB's array layouts in and out (layer_array, a .mat
round trip), errors under MATLAB's argument names, and NotSupportedYetError for what is not built."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.matlab.interop import export_mat, import_mat, layer_array
from minidl.network import Network

C, H = 3, 4


def test_lstm_layer_options_map_to_the_engine():
    layer = M.lstmLayer(H, "OutputMode", "last", "Name", "lstm", "StateActivationFunction", "softsign",
                        "GateActivationFunction", "hard-sigmoid", "InputWeightsInitializer", "he",
                        "RecurrentWeightsInitializer", "glorot", "BiasInitializer", "narrow-normal",
                        "RecurrentWeightsLearnRateFactor", 2, "BiasL2Factor", 0.5)
    assert isinstance(layer, L.LSTM) and not isinstance(layer, L.BiLSTM) and layer.name == "lstm"
    assert (layer.output_mode, layer.state_activation, layer.gate_activation) == ("last", "softsign", "hard-sigmoid")
    assert (layer.input_weights_initializer, layer.recurrent_weights_initializer, layer.bias_initializer) == \
        ("he", "glorot", "narrow-normal")
    assert layer.learn_rate_factors["recurrent_weights"] == 2 and layer.l2_factors["bias"] == 0.5
    assert layer.mask_recurrence is False                      # MATLAB: padded steps processed as real ones
    default = M.lstmLayer(H)
    assert (default.output_mode, default.input_weights_initializer, default.recurrent_weights_initializer,
            default.bias_initializer) == ("sequence", "glorot", "orthogonal", "unit-forget-gate")
    assert default.l2_factors == {"input_weights": 1.0, "recurrent_weights": 1.0, "bias": 0.0}


def test_given_arrays_are_matlabs_layout(rng):
    W, R, b = rng.standard_normal((4 * H, C)), rng.standard_normal((4 * H, H)), rng.standard_normal((4 * H, 1))
    h0, c0 = rng.standard_normal((H, 1)), rng.standard_normal((H, 1))
    layer = M.lstmLayer(H, InputWeights=W, RecurrentWeights=R, Bias=b, HiddenState=h0, CellState=c0)
    layer.initialize((C, None), dtype="float64")
    np.testing.assert_array_equal(layer.params["input_weights"], W)
    np.testing.assert_array_equal(layer.params["bias"], b[:, 0])
    np.testing.assert_array_equal(layer.state["initial_cell_state"], c0[:, 0])
    with pytest.raises(ValueError, match=r"lstmLayer: 'RecurrentWeights': got an array of size 16x3; allowed: 16x4"):
        M.lstmLayer(H, RecurrentWeights=np.zeros((4 * H, 3)))
    with pytest.raises(ValueError, match=r"bilstmLayer: 'HiddenState': got an array of size 4; allowed: 8x1"):
        M.bilstmLayer(H, HiddenState=np.zeros(4))


def test_initializer_handles_get_matlabs_size_vector():
    sizes = []

    def f(sz):
        sizes.append(list(sz))
        return np.ones(sz)

    layer = M.bilstmLayer(2, InputWeightsInitializer=f, BiasInitializer=f)
    layer.initialize((C, None), dtype="float64")
    assert sizes == [[16, C], [16, 1]] and np.all(layer.params["input_weights"] == 1)


def test_gru_layer_reset_modes_and_recurrent_bias(rng):
    assert M.gruLayer(H).reset_gate_mode == "after-multiplication" and M.gruLayer(H).bias_initializer == "zeros"
    assert M.gruLayer(H, "ResetGateMode", "before-multiplication").reset_gate_mode == "before-multiplication"
    rb = rng.standard_normal((3 * H, 1))
    layer = M.gruLayer(H, ResetGateMode="recurrent-bias-after-multiplication", RecurrentBias=rb)
    layer.initialize((C, None), dtype="float64")
    np.testing.assert_array_equal(layer.params["recurrent_bias"], rb[:, 0])
    with pytest.raises(ValueError, match=r"gruLayer: 'RecurrentBias': given with 'ResetGateMode'"):
        M.gruLayer(H, RecurrentBias=rb)
    with pytest.raises(ValueError, match=r"gruLayer: 'ResetGateMode'"):
        M.gruLayer(H, ResetGateMode="sideways")
    with pytest.raises(ValueError, match=r"gruLayer: 'BiasInitializer'"):
        M.gruLayer(H, BiasInitializer="unit-forget-gate")


def test_not_built_options_raise_not_supported_yet():
    with pytest.raises(NotSupportedYetError, match="'HasStateInputs'"):
        M.lstmLayer(H, HasStateInputs=True)
    with pytest.raises(NotSupportedYetError, match="'StateActivationFunction': got 'relu'"):
        M.gruLayer(H, StateActivationFunction="relu")
    with pytest.raises(NotSupportedYetError, match="a factor per gate"):
        M.lstmLayer(H, InputWeightsLearnRateFactor=[1, 2, 1, 1])
    with pytest.raises(ValueError, match=r"lstmLayer: 'OutputMode'"):
        M.lstmLayer(H, OutputMode="all")
    with pytest.raises(ValueError, match=r"lstmLayer: 'numHiddenUnits'"):
        M.lstmLayer(0)


def _net(seed, *layers):
    net = Network([L.SequenceInput(C), *layers, M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()])
    return net.initialize(rng=np.random.default_rng(seed), dtype="float64")


def _recurrent_layers():
    return [M.bilstmLayer(H, Name="bi"), M.gruLayer(H, Name="gru", ResetGateMode="recurrent-bias-after-multiplication"),
            M.lstmLayer(H, Name="lstm", OutputMode="last")]


def test_layer_array_shows_and_sets_matlab_layouts(rng):
    net = _net(0, *_recurrent_layers())
    view = layer_array(net)
    assert view["bi"].Class == "nnet.cnn.layer.BiLSTMLayer" and view["bi"].InputWeights.shape == (8 * H, C)
    assert view["bi"].HiddenState.shape == (2 * H, 1) and view["gru"].RecurrentBias.shape == (3 * H, 1)
    assert view["lstm"].RecurrentWeights.shape == (4 * H, H) and view["lstm"].Bias.shape == (4 * H, 1)
    c0 = rng.standard_normal((H, 1))
    view["lstm"].CellState = c0
    np.testing.assert_array_equal(net["lstm"].initial_cell_state, c0[:, 0])


def test_mat_round_trip_is_bit_exact(tmp_path, rng):
    pytest.importorskip("scipy.io")                    # the mat extra (CI's oldest environment has no scipy)
    net = _net(0, *_recurrent_layers())
    layer_array(net)["gru"].HiddenState = rng.standard_normal((H, 1))
    other = _net(5, *_recurrent_layers())
    import_mat(export_mat(net, tmp_path / "rnn.mat"), other)
    a, b = net.state_arrays(), other.state_arrays()
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    x = rng.standard_normal((2, C, 5))
    np.testing.assert_array_equal(other.forward(x), net.forward(x))
