"""Wolfram's recurrent spellings: LongShortTermMemoryLayer, GatedRecurrentLayer, BasicRecurrentLayer,
SequenceLastLayer, NetChain's "Input" -> {"Varying", C}; Wolfram's per-gate arrays; each varying-length sequence
computed exactly (mask_recurrence=True)."""

import numpy as np
import pytest

import minidl.wolfram as W
from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.functional import reference as R

C, H = 3, 4


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def test_lstm_follows_wolframs_equations_with_its_array_names(rng):
    arrays = {f"{g}{p}": rng.standard_normal(s) for g in ("InputGate", "ForgetGate", "MemoryGate", "OutputGate")
              for p, s in (("InputWeights", (H, C)), ("StateWeights", (H, H)), ("Biases", (H,)))}
    layer = W.LongShortTermMemoryLayer(H, **arrays)
    assert isinstance(layer, L.LSTM) and layer.mask_recurrence is True
    layer.initialize((C, None), dtype="float64")
    x = rng.standard_normal((1, C, 3))
    s, c = np.zeros(H), np.zeros(H)
    for t in range(3):                      # Wolfram's documented equations, written out
        def gate(g, f=_sigmoid, t=t, s=s):
            return f(arrays[f"{g}InputWeights"] @ x[0, :, t] + arrays[f"{g}StateWeights"] @ s + arrays[f"{g}Biases"])
        i, f, o, m = gate("InputGate"), gate("ForgetGate"), gate("OutputGate"), gate("MemoryGate", np.tanh)
        c = f * c + i * m
        s = o * np.tanh(c)
    np.testing.assert_allclose(layer.forward(x)[0, :, -1], s, rtol=1e-12)


def test_gru_is_matlabs_after_multiplication_mode(rng):
    arrays = {f"{g}{p}": rng.standard_normal(s) for g in ("ResetGate", "UpdateGate", "MemoryGate")
              for p, s in (("InputWeights", (H, C)), ("StateWeights", (H, H)), ("Biases", (H,)))}
    layer = W.GatedRecurrentLayer(H, **arrays)
    assert layer.reset_gate_mode == "after-multiplication" and layer.mask_recurrence is True
    layer.initialize((C, None), dtype="float64")
    x = rng.standard_normal((1, C, 3))
    s = np.zeros(H)
    for t in range(3):
        def lin(g, state, t=t):
            return arrays[f"{g}InputWeights"] @ x[0, :, t] + arrays[f"{g}Biases"] + state
        r = _sigmoid(lin("ResetGate", arrays["ResetGateStateWeights"] @ s))
        z = _sigmoid(lin("UpdateGate", arrays["UpdateGateStateWeights"] @ s))
        m = np.tanh(lin("MemoryGate", r * (arrays["MemoryGateStateWeights"] @ s)))
        s = (1 - z) * m + z * s
    np.testing.assert_allclose(layer.forward(x)[0, :, -1], s, rtol=1e-12)


def test_partial_arrays_keep_the_other_blocks_drawn(rng):
    layer = W.LongShortTermMemoryLayer(H, ForgetGateBiases=np.full(H, 2.0))
    layer.initialize((C, None), rng=rng, dtype="float64")
    np.testing.assert_array_equal(layer.params["bias"], np.r_[np.zeros(H), np.full(H, 2.0), np.zeros(2 * H)])
    with pytest.raises(ValueError, match=r"block 0: got an array of shape \(2, 3\); expected \(4, 3\)"):
        W.LongShortTermMemoryLayer(H, InputGateInputWeights=np.zeros((2, C))).initialize((C, None))


def test_basic_recurrent_and_its_activation(rng):
    Wx, Ws, b = rng.standard_normal((H, C)), rng.standard_normal((H, H)), rng.standard_normal(H)
    layer = W.BasicRecurrentLayer(H, "ReLU", InputWeights=Wx, StateWeights=Ws, Biases=b)
    assert layer.activation == "Ramp" and layer.mask_recurrence
    layer.initialize((C, None), dtype="float64")
    x = rng.standard_normal((2, C, 4))
    np.testing.assert_allclose(layer.forward(x), R.rnn_forward(x, Wx, Ws, b, activation="Ramp"), rtol=1e-12)


def test_varying_length_chain_computes_each_sequence_exactly(rng):
    net = W.NetChain([W.LongShortTermMemoryLayer(H), W.SequenceLastLayer(), W.LinearLayer(2)], input=("Varying", C))
    assert isinstance(net.layers[0], L.SequenceInput)
    net.initialize(rng=rng, dtype="float64")
    assert net.input_shape == (C, None) and net.output_shape == (2,)
    short, long_ = rng.standard_normal((1, C, 3)), rng.standard_normal((1, C, 6))
    batch = np.concatenate([np.concatenate([short, np.zeros((1, C, 3))], axis=2), long_])
    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1.0]])
    y = batch
    for layer in net.layers[1:]:
        y = layer.forward(y, mask=mask) if layer.uses_mask else layer.forward(y)
    alone = [net.layers[1:][-1].forward(net.layers[2].forward(net.layers[1].forward(s))) for s in (short, long_)]
    np.testing.assert_allclose(y, np.concatenate(alone), rtol=1e-12)


def test_options_not_built_raise():
    with pytest.raises(NotSupportedYetError, match="'Dropout'"):
        W.LongShortTermMemoryLayer(H, Dropout=0.2)
    with pytest.raises(NotSupportedYetError, match="'Dropout'"):
        W.BasicRecurrentLayer(H, Dropout=0.2)
    with pytest.raises(ValueError, match="unknown option 'InputGateWeights'; allowed: InputGateInputWeights"):
        W.LongShortTermMemoryLayer(H, InputGateWeights=np.zeros((H, C)))
    with pytest.raises(NotSupportedYetError, match=r"input: got \(3, 4\)"):
        W.NetChain([W.LinearLayer(2)], input=(3, 4))
    with pytest.raises(ValueError, match=r"input: got \('Varying', 0\)"):
        W.NetChain([W.LinearLayer(2)], input=("Varying", 0))
