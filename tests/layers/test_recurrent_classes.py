"""The recurrent layers: float64 gradient checks (both output modes, masks with both mask_recurrence values, batch
of 1, an initial state, a carried state), the carry protocol, initializers, factors and the architecture JSON."""

import json

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_device, to_host
from minidl.testing import assert_allclose, check_layer, gradient_check
from minidl.training.serialization import layer_from_json, layer_to_json

C, T, H = 3, 6, 4
MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1.0]])  # full, right- and left-padded

MAKERS = {
    "lstm": lambda **kw: L.LSTM(H, **kw),
    "lstm-softsign-hard": lambda **kw: L.LSTM(H, state_activation="softsign", gate_activation="hard-sigmoid", **kw),
    "bilstm": lambda **kw: L.BiLSTM(H, **kw),
    "gru-after": lambda **kw: L.GRU(H, **kw),
    "gru-before": lambda **kw: L.GRU(H, reset_gate_mode="before-multiplication", **kw),
    "gru-bias": lambda **kw: L.GRU(H, reset_gate_mode="recurrent-bias-after-multiplication", **kw),
    "rnn": lambda **kw: L.BasicRecurrent(H, **kw),
}


def _layer_check(layer, x, mask=None, device="cpu", rng=None, carried=None):
    """gradient_check of dx and every parameter through forward(x, training=True, mask=mask), each forward starting
    from ``carried`` when given."""
    rng = rng or np.random.default_rng(0)
    inputs = {"x": to_device(x, device, dtype="float64"), **{f"p:{k}": v for k, v in layer.params.items()}}
    m = None if mask is None else to_device(mask, device, dtype="float64")

    def f(**kw):
        if carried is not None:
            layer.carried = dict(carried)
        return layer.forward(kw["x"], training=True, mask=m)

    def backward(dy):
        dx = layer.backward(dy)
        return {"x": dx, **{f"p:{k}": g for k, g in layer.grads.items()}}

    errors = gradient_check(f, inputs, backward, rng=rng, atol=1e-8)
    assert {k[2:] for k in errors if k.startswith("p:")} == set(layer.params)
    return errors


@pytest.mark.parametrize("kind", MAKERS)
@pytest.mark.parametrize("output_mode", ["sequence", "last"])
def test_gradients_without_mask(kind, output_mode, rng):
    errors = check_layer(MAKERS[kind](output_mode=output_mode), (2, C, T), rng=rng, atol=1e-8)
    assert max(errors.values()) < 1e-5


@pytest.mark.parametrize("kind", MAKERS)
@pytest.mark.parametrize("mask_recurrence", [False, True])
@pytest.mark.parametrize("output_mode", ["sequence", "last"])
def test_gradients_with_mask(kind, mask_recurrence, output_mode, rng):
    layer = MAKERS[kind](output_mode=output_mode, mask_recurrence=mask_recurrence)
    layer.initialize((C, None), rng=rng, dtype="float64")
    assert max(_layer_check(layer, rng.standard_normal((3, C, T)), MASK, rng=rng).values()) < 1e-5


@pytest.mark.parametrize("kind", ["lstm", pytest.param("bilstm", marks=pytest.mark.slow), "gru-bias"])  # bilstm: 4 s
def test_gradients_batch_of_one_initial_and_carried_state_on_the_standin(kind, rng):
    layer = MAKERS[kind](mask_recurrence=True)
    layer.initialize((C, None), rng=rng, dtype="float64", device="standin")
    layer.initial_hidden_state = rng.standard_normal(layer.state_size)
    if isinstance(layer, L.LSTM):
        layer.initial_cell_state = rng.standard_normal(layer.state_size)
    assert max(_layer_check(layer, rng.standard_normal((1, C, T)), MASK[2:], "standin", rng).values()) < 1e-5
    layer.carry_state = True
    layer.forward(to_device(rng.standard_normal((1, C, 2)), "standin", dtype="float64"))
    carried = dict(layer.carried)
    assert set(carried) == set(layer.state_names)
    assert max(_layer_check(layer, rng.standard_normal((1, C, T)), None, "standin", rng, carried).values()) < 1e-5


def test_sequence_last_gradients(rng):
    layer = L.SequenceLast()
    layer.initialize((C, None), rng=rng, dtype="float64")
    x = rng.standard_normal((3, C, T))
    _layer_check(layer, x, MASK, rng=rng)
    np.testing.assert_array_equal(layer.forward(x, mask=MASK), x[[0, 1, 2], :, [5, 3, 5]])
    np.testing.assert_array_equal(layer.forward(x), x[:, :, -1])


@pytest.mark.parametrize("kind", MAKERS)
def test_two_chunks_with_carried_state_equal_one_forward(kind, rng):
    layer = MAKERS[kind]()
    layer.initialize((C, None), rng=rng, dtype="float64")
    x = rng.standard_normal((2, C, 9))
    whole = layer.forward(x)
    final = {k: v.copy() for k, v in layer._start(x).items()}  # the initial state, to be replaced below
    layer.carry_state = True
    parts = [layer.forward(x[:, :, :4]), layer.forward(x[:, :, 4:])]
    if isinstance(layer, L.BiLSTM):  # the backward direction sees each chunk alone: only the forward half carries
        np.testing.assert_allclose(np.concatenate(parts, axis=2)[:, :H], whole[:, :H], rtol=1e-12, atol=1e-14)
        return
    np.testing.assert_allclose(np.concatenate(parts, axis=2), whole, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(layer.carried["hidden"], whole[:, :, -1], rtol=1e-12, atol=1e-14)
    layer.carry_state = False
    layer.forward(x)
    np.testing.assert_allclose(layer.carried["hidden"], whole[:, :, -1], rtol=1e-12)  # left alone
    layer.reset_state()
    assert layer.carried is None
    assert set(final) == set(layer.state_names)


def test_carried_state_of_another_batch_size_is_not_used(rng):
    layer = L.LSTM(H, output_mode="last")
    layer.initialize((C, None), rng=rng, dtype="float64")
    x = rng.standard_normal((2, C, 5))
    fresh = layer.forward(x)
    layer.carry_state = True
    layer.forward(rng.standard_normal((3, C, 5)))
    np.testing.assert_array_equal(layer.forward(x), fresh)


def test_right_padding_with_mask_recurrence_gives_each_sequences_own_last_state(rng):
    layer = L.LSTM(H, output_mode="last", mask_recurrence=True)
    layer.initialize((C, None), rng=rng, dtype="float64")
    x = rng.standard_normal((1, C, 4))
    padded = np.concatenate([x, np.full((1, C, 3), 7.0)], axis=2)
    own = layer.forward(x)
    np.testing.assert_allclose(layer.forward(padded, mask=np.array([[1, 1, 1, 1, 0, 0, 0.0]])), own, rtol=1e-14)
    matlab = L.LSTM(H, output_mode="last", input_weights=layer.params["input_weights"],
                    recurrent_weights=layer.params["recurrent_weights"], bias=layer.params["bias"])
    matlab.initialize((C, None), dtype="float64")
    assert not np.allclose(matlab.forward(padded, mask=np.array([[1, 1, 1, 1, 0, 0, 0.0]])), own)


def test_bilstm_is_the_two_directions_concatenated(rng):
    bi = L.BiLSTM(H)
    bi.initialize((C, None), rng=rng, dtype="float64")
    p = bi.params
    fwd, bwd = ([L.LSTM(H, input_weights=p["input_weights"][s], recurrent_weights=p["recurrent_weights"][s],
                        bias=p["bias"][s]) for s in (slice(0, 4 * H), slice(4 * H, 8 * H))])
    for layer in (fwd, bwd):
        layer.initialize((C, None), dtype="float64")
    x = rng.standard_normal((2, C, 5))
    y = bi.forward(x)
    assert y.shape == (2, 2 * H, 5) and bi.output_shape == (2 * H, None)
    np.testing.assert_array_equal(y[:, :H], fwd.forward(x))
    np.testing.assert_array_equal(y[:, H:], bwd.forward(x[:, :, ::-1])[:, :, ::-1])
    bi.output_mode = "last"
    np.testing.assert_array_equal(bi.forward(x), np.concatenate([y[:, :H, -1], y[:, H:, 0]], axis=1))


def test_initializers_follow_matlab(rng):
    lstm = L.LSTM(50)
    lstm.initialize((20, None), rng=rng, dtype="float64")
    W, R, b = (lstm.params[k] for k in ("input_weights", "recurrent_weights", "bias"))
    bound = np.sqrt(6 / (20 + 200))                          # glorot: fan_in C, fan_out 4H
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.9 * bound
    np.testing.assert_allclose(R.T @ R, np.eye(50), atol=1e-12)  # orthogonal columns
    np.testing.assert_array_equal(b, np.r_[np.zeros(50), np.ones(50), np.zeros(100)])
    gru = L.GRU(5, input_weights_initializer="he", recurrent_weights_initializer="narrow-normal",
                bias_initializer="ones")
    gru.initialize((400, None), rng=rng, dtype="float64")
    assert abs(gru.params["input_weights"].std() - np.sqrt(2 / 400)) < 0.005
    assert abs(gru.params["recurrent_weights"].std() - 0.01) < 0.005
    np.testing.assert_array_equal(gru.params["bias"], np.ones(15))
    with pytest.raises(ValueError, match="bias_initializer: got 'unit-forget-gate'; allowed: 'narrow-normal'"):
        L.GRU(3, bias_initializer="unit-forget-gate")
    custom = L.BasicRecurrent(2, recurrent_weights_initializer=lambda shape, rng: np.full(shape, 0.5))
    custom.initialize((3, None), rng=rng)
    np.testing.assert_array_equal(custom.params["recurrent_weights"], np.full((2, 2), 0.5, np.float32))


def test_factors_default_to_matlabs_and_are_settable():
    lstm = L.LSTM(3, recurrent_weights_learn_rate_factor=0.5, bias_l2_factor=2)
    assert lstm.learn_rate_factors == {"input_weights": 1.0, "recurrent_weights": 0.5, "bias": 1.0}
    assert lstm.l2_factors == {"input_weights": 1.0, "recurrent_weights": 1.0, "bias": 2.0}
    assert L.LSTM(3).l2_factors["bias"] == 0.0
    assert "recurrent_bias" in L.GRU(3, reset_gate_mode="recurrent-bias-after-multiplication").l2_factors
    with pytest.raises(TypeError, match="unknown argument 'weight_l2_factor'"):
        L.LSTM(3, weight_l2_factor=1)


def test_initial_state_is_settable_broadcast_and_checked(rng):
    lstm = L.LSTM(2, output_mode="last", initial_hidden_state=np.array([0.5, -0.5]))
    lstm.initialize((1, None), rng=rng)
    assert lstm.state["initial_hidden_state"].dtype == np.float32
    lstm.initial_cell_state = np.array([1.0, 2.0])
    assert to_host(lstm.initial_cell_state).tolist() == [1.0, 2.0]
    x = np.zeros((3, 1, 1), np.float32)
    h0 = {k: to_host(v) for k, v in lstm._start(x).items()}
    assert h0["hidden"].shape == (3, 2) and h0["cell"][2].tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"initial_hidden_state: got an array of shape \(3,\); allowed: finite "
                                         r"values of shape \(2,\)"):
        lstm.initial_hidden_state = np.zeros(3)


def test_wrong_arguments_name_the_allowed_values():
    with pytest.raises(ValueError, match="hidden_size: got 0"):
        L.LSTM(0)
    with pytest.raises(ValueError, match="output_mode: got 'all'; allowed: 'sequence', 'last'"):
        L.GRU(2, output_mode="all")
    with pytest.raises(ValueError, match="state_activation: got 'relu'"):
        L.LSTM(2, state_activation="relu")
    with pytest.raises(ValueError, match="reset_gate_mode: got 'x'"):
        L.GRU(2, reset_gate_mode="x")
    with pytest.raises(ValueError, match="needs sequence inputs"):
        L.LSTM(2).initialize((3,))


EXAMPLES = [L.LSTM(3, output_mode="last", state_activation="softsign", input_weights_learn_rate_factor=2, name="a"),
            L.BiLSTM(2, gate_activation="hard-sigmoid", bias_initializer="zeros", mask_recurrence=True),
            L.GRU(4, reset_gate_mode="recurrent-bias-after-multiplication", recurrent_bias_l2_factor=1),
            L.BasicRecurrent(5, activation="Ramp", output_mode="last"), L.SequenceLast(name="last")]


@pytest.mark.parametrize("layer", EXAMPLES, ids=lambda layer: type(layer).__name__)
def test_architecture_json_round_trips(layer, rng):
    spec = json.loads(json.dumps(layer_to_json(layer)))
    back = layer_from_json(spec)
    assert type(back) is type(layer) and layer_to_json(back) == spec and back.describe() == layer.describe()
    for a in ("output_mode", "mask_recurrence", "state_activation", "gate_activation", "reset_gate_mode",
              "activation"):
        assert getattr(back, a, None) == getattr(layer, a, None)
    assert back.learn_rate_factors == layer.learn_rate_factors and back.l2_factors == layer.l2_factors


def test_float32_keeps_dtype(rng):
    for make in MAKERS.values():
        layer = make(output_mode="last")
        layer.initialize((C, None), rng=rng, dtype="float32")
        y = layer.forward(rng.standard_normal((2, C, T)).astype(np.float32), training=True)
        assert y.dtype == np.float32 and layer.backward(np.ones_like(y)).dtype == np.float32
        assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_same_seed_same_weights_in_both_dtypes():
    a, b = L.GRU(3), L.GRU(3)
    a.initialize((2, None), rng=np.random.default_rng(5), dtype="float64")
    b.initialize((2, None), rng=np.random.default_rng(5), dtype="float32")
    for k in a.params:
        assert_allclose(b.params[k], a.params[k], rtol=1e-6, atol=1e-7, name=k)


def test_a_saved_network_loads_with_its_weights_and_initial_states(tmp_path, rng):
    from minidl.network import Network
    from minidl.training.checkpoint import load_network, save_network

    # a fixed length T = 5 (a SequenceInput's (C, None) needs the engine's manifest rule for a time axis)
    net = Network([L.BiLSTM(3, mask_recurrence=True), L.GRU(2, reset_gate_mode=
                   "recurrent-bias-after-multiplication"), L.BasicRecurrent(2, activation="Ramp"), L.SequenceLast(),
                   L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()])
    net.initialize((C, 5), rng=rng, dtype="float64")
    net.layers[0].initial_cell_state = rng.standard_normal(6)
    net.layers[1].initial_hidden_state = rng.standard_normal(2)
    back = load_network(save_network(net, tmp_path / "rnn"))
    assert [type(a) for a in back.layers] == [type(b) for b in net.layers]
    assert back.layers[0].mask_recurrence and back.layers[1].reset_gate_mode == net.layers[1].reset_gate_mode
    for k, v in net.state_arrays().items():
        np.testing.assert_array_equal(back.state_arrays()[k], v, err_msg=k)
    x = rng.standard_normal((2, C, 5))
    np.testing.assert_array_equal(back.forward(x), net.forward(x))
