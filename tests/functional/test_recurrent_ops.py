"""LSTM, GRU, the basic recurrent cell and SequenceLast through check_op: forward vs the naive per-sequence loops
of minidl.functional.reference, hand-written BPTT vs finite differences (float64), NumPy vs the stand-in, float32
kept; with masks (both mask_recurrence values), initial states, batch of 1 and the final-state gradients."""

import numpy as np
import pytest

from minidl import functional as F  # noqa: F401  (the package imports the module)
from minidl.functional import recurrent as RF
from minidl.functional import reference as R
from minidl.testing import check_op, gradient_check

N, C, T, H = 3, 2, 5, 3
MASK = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1]], dtype=np.float64)  # right and left padding


def scaled(scale):
    return lambda rng, shape: scale * rng.standard_normal(shape)


def _mask_maker(mask):
    return lambda rng, shape: mask[: shape[0]]


def lstm_case(n=N, mask=MASK, **kw):
    def fast(x, W, Rw, b, h0, c0, mask):
        y, h, c, cache = RF.lstm_forward(x, W, Rw, b, h0, c0, mask=mask, **kw)
        return y, cache

    def backward(dy, cache):
        dx, dW, dR, db, dh0, dc0 = RF.lstm_backward(dy, cache)
        return dx, dW, dR, db, dh0, dc0, None

    def reference(x, W, Rw, b, h0, c0, mask):
        return R.lstm_forward(x, W, Rw, b, h0, c0, mask=mask, **kw)

    shapes = {"x": (n, C, T), "W": (4 * H, C), "Rw": (4 * H, H), "b": (4 * H,), "h0": (n, H), "c0": (n, H),
              "mask": (n, T)}
    return dict(fast=fast, reference=reference, shapes=shapes, backward=backward,
                wrt=("x", "W", "Rw", "b", "h0", "c0"),
                inputs={"mask": _mask_maker(np.ones((N, T)) if mask is None else mask), "W": scaled(0.7),
                        "Rw": scaled(0.7)})


@pytest.mark.parametrize("state,gate", [("tanh", "sigmoid"), ("softsign", "sigmoid"), ("tanh", "hard-sigmoid")])
@pytest.mark.parametrize("mask_recurrence", [False, True])
def test_lstm(state, gate, mask_recurrence, backend, rng):
    errors = check_op(**lstm_case(state_activation=state, gate_activation=gate, mask_recurrence=mask_recurrence),
                      backend=backend, rng=rng)
    assert errors["forward"] < 1e-12 and max(errors[k] for k in ("x", "W", "Rw", "b", "h0", "c0")) < 1e-5


def test_lstm_batch_of_one(rng):
    errors = check_op(**lstm_case(n=1, mask_recurrence=True), rng=rng)
    assert errors["forward"] < 1e-12


def test_mask_recurrence_false_ignores_the_mask(rng):
    x, W, Rw, b = (rng.standard_normal(s) for s in ((N, C, T), (4 * H, C), (4 * H, H), (4 * H,)))
    y_masked = RF.lstm_forward(x, W, Rw, b, mask=MASK, mask_recurrence=False)[0]
    np.testing.assert_array_equal(y_masked, RF.lstm_forward(x, W, Rw, b)[0])
    y_kept = RF.lstm_forward(x, W, Rw, b, mask=MASK, mask_recurrence=True)[0]
    np.testing.assert_array_equal(y_kept[1, :, 3], y_kept[1, :, 2])   # right padding: the state is kept
    np.testing.assert_array_equal(y_kept[2, :, :2], 0)                # left padding: still the zero state


def _final_state_check(forward, backward, shapes, rng, **kw):
    """Gradients of the final state alone (output mode "last"): L = Σ h_T·dh (+ Σ c_T·dc)."""
    arrays = {k: rng.standard_normal(s) * (0.7 if k in ("W", "Rw") else 1) for k, s in shapes.items()}
    box = {}

    def f(**a):
        out = forward(**a)
        box["cache"] = out[-1]
        return np.concatenate([o for o in out[1:-1]], axis=1)     # (N, H) or (N, 2H) for h_T, c_T

    def analytic(d):
        grads = backward(None, box["cache"], *np.split(d, len(d[0]) // H, axis=1))
        return dict(zip(("x", "W", "Rw", "b"), grads[:4]))

    errors = gradient_check(f, arrays, analytic, rng=rng, **kw)
    assert max(errors.values()) < 1e-5


def test_lstm_final_state_gradients(rng):
    _final_state_check(lambda **a: RF.lstm_forward(**{("R" if k == "Rw" else k): v for k, v in a.items()},
                                                   mask=MASK, mask_recurrence=True),
                       lambda dy, cache, dh, dc: RF.lstm_backward(dy, cache, dh, dc),
                       {"x": (N, C, T), "W": (4 * H, C), "Rw": (4 * H, H), "b": (4 * H,)}, rng)


def gru_case(mode, n=N, **kw):
    with_rb = mode == "recurrent-bias-after-multiplication"

    def fast(x, W, Rw, b, rb, h0, mask):
        y, h, cache = RF.gru_forward(x, W, Rw, b, rb if with_rb else None, h0, mask=mask, reset_gate_mode=mode,
                                     **kw)
        return y, cache

    def backward(dy, cache):
        dx, dW, dR, db, drb, dh0 = RF.gru_backward(dy, cache)
        return dx, dW, dR, db, drb, dh0, None

    def reference(x, W, Rw, b, rb, h0, mask):
        return R.gru_forward(x, W, Rw, b, rb if with_rb else None, h0, mask=mask, reset_gate_mode=mode, **kw)

    shapes = {"x": (n, C, T), "W": (3 * H, C), "Rw": (3 * H, H), "b": (3 * H,), "rb": (3 * H,), "h0": (n, H),
              "mask": (n, T)}
    wrt = ("x", "W", "Rw", "b") + (("rb",) if with_rb else ()) + ("h0",)
    return dict(fast=fast, reference=reference, shapes=shapes, backward=backward, wrt=wrt,
                inputs={"mask": _mask_maker(MASK), "W": scaled(0.7), "Rw": scaled(0.7)})


@pytest.mark.parametrize("mode", RF.GRU_RESET_MODES)
@pytest.mark.parametrize("mask_recurrence", [False, True])
def test_gru(mode, mask_recurrence, backend, rng):
    errors = check_op(**gru_case(mode, mask_recurrence=mask_recurrence), backend=backend, rng=rng)
    assert errors["forward"] < 1e-12 and errors["x"] < 1e-5


def test_gru_softsign_hard_sigmoid(rng):
    errors = check_op(**gru_case("after-multiplication", state_activation="softsign", gate_activation="hard-sigmoid"),
                      rng=rng)
    assert errors["forward"] < 1e-12


@pytest.mark.parametrize("mode", RF.GRU_RESET_MODES)
def test_gru_final_state_gradients(mode, rng):
    rb = rng.standard_normal(3 * H) if mode == "recurrent-bias-after-multiplication" else None
    _final_state_check(lambda x, W, Rw, b: RF.gru_forward(x, W, Rw, b, rb, mask=MASK, mask_recurrence=True,
                                                          reset_gate_mode=mode),
                       lambda dy, cache, dh: RF.gru_backward(dy, cache, dh),
                       {"x": (N, C, T), "W": (3 * H, C), "Rw": (3 * H, H), "b": (3 * H,)}, rng)


@pytest.mark.parametrize("activation", ["Tanh", "LogisticSigmoid", "SoftSign"])
@pytest.mark.parametrize("mask_recurrence", [False, True])
def test_basic_recurrent(activation, mask_recurrence, backend, rng):
    def fast(x, W, Rw, b, h0, mask):
        y, h, cache = RF.rnn_forward(x, W, Rw, b, h0, mask=mask, mask_recurrence=mask_recurrence,
                                     activation=activation)
        return y, cache

    def backward(dy, cache):
        dx, dW, dR, db, dh0 = RF.rnn_backward(dy, cache)
        return dx, dW, dR, db, dh0, None

    def reference(x, W, Rw, b, h0, mask):
        return R.rnn_forward(x, W, Rw, b, h0, mask=mask, mask_recurrence=mask_recurrence, activation=activation)

    errors = check_op(fast, reference, {"x": (N, C, T), "W": (H, C), "Rw": (H, H), "b": (H,), "h0": (N, H),
                                        "mask": (N, T)}, backward=backward, wrt=("x", "W", "Rw", "b", "h0"),
                      inputs={"mask": _mask_maker(MASK), "Rw": scaled(0.5)}, backend=backend, rng=rng)
    assert errors["forward"] < 1e-12 and errors["Rw"] < 1e-5


@pytest.mark.parametrize("with_mask", [False, True])
def test_sequence_last(with_mask, backend, rng):
    errors = check_op(lambda x, mask: RF.sequence_last_forward(x, mask if with_mask else None),
                      lambda x, mask: R.sequence_last_forward(x, mask if with_mask else None),
                      {"x": (N, C, T), "mask": (N, T)}, backward=lambda dy, cache: (RF.sequence_last_backward(dy,
                                                                                                               cache),
                                                                                   None),
                      wrt=("x",), inputs={"mask": _mask_maker(MASK)}, backend=backend, rng=rng)
    assert errors["forward"] == 0 and errors["x"] < 1e-6


def test_wrong_activation_names_the_allowed_ones():
    x = np.zeros((1, 1, 2))
    with pytest.raises(ValueError, match="state_activation: got 'relu'; allowed: 'tanh', 'softsign'"):
        RF.lstm_forward(x, np.zeros((4, 1)), np.zeros((4, 1)), np.zeros(4), state_activation="relu")
    with pytest.raises(ValueError, match="reset_gate_mode: got 'x'"):
        RF.gru_forward(x, np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3), reset_gate_mode="x")
