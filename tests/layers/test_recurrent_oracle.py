"""LSTM, GRU (reset gate "recurrent-bias-after-multiplication") and BiLSTM against torch.nn.LSTM / GRU in float64:
outputs, final states and every gradient within 1e-10 relative, the weight layouts mapped here.

torch's gate order is i, f, g, o for the LSTM (the same as MATLAB's) and r, z, n for the GRU (the same as
MATLAB's reset, update, candidate); torch has two biases b_ih + b_hh: b_hh is zero for the LSTM; for the GRU b_hh
is minidl's recurrent bias (it sits inside r ⊙ (W_hn h + b_hn)), b_ih minidl's bias.
"""

import numpy as np
import pytest

from minidl import layers as L

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.oracle

N, C, T, H = 3, 4, 7, 5
RTOL = 1e-10


def close(got, want, name):
    want = want.detach().numpy() if hasattr(want, "detach") else want
    scale = np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale, err_msg=name)


def _run(layer, module, x, h0, c0, rng):
    """Forward both with the initial state, backward a random dY plus random final-state gradients; compare."""
    layer.initial_hidden_state = h0
    if c0 is not None:
        layer.initial_cell_state = c0
    D = layer.directions
    xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)                 # torch: (N, T, C)
    state0 = torch.tensor(np.broadcast_to(h0.reshape(D, 1, H), (D, N, H)).copy())
    args = (state0,) if c0 is None else (state0, torch.tensor(np.broadcast_to(c0.reshape(D, 1, H), (D, N, H)).copy()))
    yt, final = module(xt, args[0] if c0 is None else args)
    hT = final if c0 is None else final[0]
    y = layer.forward(x, training=True)                                          # (N, D·H, T)
    close(y, yt.permute(0, 2, 1), "outputs")
    layer.carry_state = True
    layer.forward(x)
    close(layer.carried["hidden"], hT.permute(1, 0, 2).reshape(N, D * H), "final hidden state")
    if c0 is not None:
        close(layer.carried["cell"], final[1].permute(1, 0, 2).reshape(N, D * H), "final cell state")
    layer.carry_state = False
    layer.forward(x, training=True)
    dY = rng.standard_normal(y.shape)
    dx = layer.backward(dY)
    (yt * torch.tensor(dY.transpose(0, 2, 1))).sum().backward()
    close(dx, xt.grad.permute(0, 2, 1), "dx")
    return layer.grads


def _torch_dirs(module, D):
    sfx = ["", "_reverse"][:D]
    return [{k: getattr(module, f"{k}_l0{s}") for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            for s in sfx]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_matches_torch(bidirectional, rng):
    D = 2 if bidirectional else 1
    layer = (L.BiLSTM if bidirectional else L.LSTM)(H)
    layer.initialize((C, None), rng=rng, dtype="float64")
    module = torch.nn.LSTM(C, H, batch_first=True, bidirectional=bidirectional).double()
    p = layer.params
    with torch.no_grad():
        for d, w in enumerate(_torch_dirs(module, D)):                       # the same gate order i, f, g, o
            rows = slice(d * 4 * H, (d + 1) * 4 * H)
            w["weight_ih"].copy_(torch.tensor(p["input_weights"][rows]))
            w["weight_hh"].copy_(torch.tensor(p["recurrent_weights"][rows]))
            w["bias_ih"].copy_(torch.tensor(p["bias"][rows] + rng.standard_normal(4 * H)))
            w["bias_hh"].zero_()
            p["bias"][rows] = w["bias_ih"].numpy()
    x = rng.standard_normal((N, C, T))
    grads = _run(layer, module, x, rng.standard_normal(D * H), rng.standard_normal(D * H), rng)
    dirs = _torch_dirs(module, D)
    close(grads["input_weights"], torch.cat([w["weight_ih"].grad for w in dirs]), "dW")
    close(grads["recurrent_weights"], torch.cat([w["weight_hh"].grad for w in dirs]), "dR")
    close(grads["bias"], torch.cat([w["bias_ih"].grad for w in dirs]), "db")


def test_gru_recurrent_bias_mode_matches_torch(rng):
    layer = L.GRU(H, reset_gate_mode="recurrent-bias-after-multiplication", bias_initializer="narrow-normal")
    layer.initialize((C, None), rng=rng, dtype="float64")
    layer.params["recurrent_bias"] = rng.standard_normal(3 * H)
    layer.params["bias"] = rng.standard_normal(3 * H)
    module = torch.nn.GRU(C, H, batch_first=True).double()
    p = layer.params
    (w,) = _torch_dirs(module, 1)
    with torch.no_grad():                                                    # the same gate order r, z, n
        w["weight_ih"].copy_(torch.tensor(p["input_weights"]))
        w["weight_hh"].copy_(torch.tensor(p["recurrent_weights"]))
        w["bias_ih"].copy_(torch.tensor(p["bias"]))
        w["bias_hh"].copy_(torch.tensor(p["recurrent_bias"]))
    grads = _run(layer, module, rng.standard_normal((N, C, T)), rng.standard_normal(H), None, rng)
    close(grads["input_weights"], w["weight_ih"].grad, "dW")
    close(grads["recurrent_weights"], w["weight_hh"].grad, "dR")
    close(grads["bias"], w["bias_ih"].grad, "db")
    close(grads["recurrent_bias"], w["bias_hh"].grad, "db_R")


def test_lstm_last_output_gradient_matches_torch_final_state(rng):
    layer = L.LSTM(H, output_mode="last")
    layer.initialize((C, None), rng=rng, dtype="float64")
    module = torch.nn.LSTM(C, H, batch_first=True).double()
    (w,) = _torch_dirs(module, 1)
    with torch.no_grad():
        w["weight_ih"].copy_(torch.tensor(layer.params["input_weights"]))
        w["weight_hh"].copy_(torch.tensor(layer.params["recurrent_weights"]))
        w["bias_ih"].copy_(torch.tensor(layer.params["bias"]))
        w["bias_hh"].zero_()
    x = rng.standard_normal((N, C, T))
    xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
    _, (hT, _) = module(xt)
    y = layer.forward(x, training=True)
    close(y, hT[0], "last output")
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    (hT[0] * torch.tensor(dy)).sum().backward()
    close(dx, xt.grad.permute(0, 2, 1), "dx")
    close(layer.grads["recurrent_weights"], w["weight_hh"].grad, "dR")
    close(layer.grads["input_weights"], w["weight_ih"].grad, "dW")
    close(layer.grads["bias"], w["bias_ih"].grad, "db")
