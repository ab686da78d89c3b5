"""Recurrent layers' math: LSTM, GRU and the basic recurrent cell, forward and hand-written BPTT (docs/layers.md).

Layout.  A batch of sequences is x (N, C, T).  The input projection of every time step is ONE matrix product into
time-major ``xw`` (T, N, G·H) (G = 4 gates for the LSTM, 3 for the GRU, 1 for the basic cell), so that the step-t
slice ``xw[t]`` (N, G·H) is contiguous for the per-step recurrent product ``h @ Rᵀ``.  The backward collects the
pre-activation gradients of every step in (T, N, G·H) and gets dW, dR, db and dx from one matrix product each.

Masks.  ``mask`` (N, T) (1 at real steps, 0 at padded ones) with ``mask_recurrence=True`` makes a padded step leave
the state unchanged: h_t = m_t·h̃_t + (1 − m_t)·h_{t−1} (the same for the LSTM's cell), and the output at a padded
step is that carried state; so step T's output is each sequence's own last real state (Wolfram).  With
``mask_recurrence=False`` (MATLAB) or ``mask=None`` every step is processed as a real one and the mask is not read.

Activations are taken by name: state "tanh" | "softsign" (| the Wolfram elementwise names for the basic cell),
gate "sigmoid" | "hard-sigmoid" (MATLAB's max(0, min(1, 0.2·x + 0.5))).  Their derivatives are written from the
outputs, so no pre-activation is kept for them.
"""

from __future__ import annotations

from minidl.backend import get_array_module
from minidl.functional.elementwise import FUNCTIONS as _ELEMENTWISE

__all__ = ["STATE_ACTIVATIONS", "GATE_ACTIVATIONS", "GRU_RESET_MODES", "lstm_forward", "lstm_backward",
           "gru_forward", "gru_backward", "rnn_forward", "rnn_backward", "sequence_last_forward",
           "sequence_last_backward", "last_step_indices"]

STATE_ACTIVATIONS = ("tanh", "softsign")
GATE_ACTIVATIONS = ("sigmoid", "hard-sigmoid")
GRU_RESET_MODES = ("after-multiplication", "before-multiplication", "recurrent-bias-after-multiplication")


# ------------------------------------------------------------------------------------------------ activations
def _act(xp, name: str, a):
    """The activation ``name`` of the pre-activation a (in place where possible)."""
    if name == "sigmoid":
        return 0.5 * (1 + xp.tanh(0.5 * a))  # σ(a) = (1 + tanh(a/2))/2: stable for every a
    if name == "hard-sigmoid":
        return xp.clip(0.2 * a + 0.5, 0, 1)  # max(0, min(1, 0.2·a + 0.5))
    if name == "tanh":
        return xp.tanh(a)
    if name == "softsign":
        return a / (1 + xp.abs(a))  # a/(1 + |a|)
    raise ValueError(f"activation: got {name!r}; allowed: {', '.join(STATE_ACTIVATIONS + GATE_ACTIVATIONS)}")


def _dact(xp, name: str, y):
    """The derivative of activation ``name`` written from its output y."""
    if name == "sigmoid":
        return y * (1 - y)  # σ′ = σ(1 − σ)
    if name == "hard-sigmoid":
        return 0.2 * ((y > 0) & (y < 1)).astype(y.dtype)  # 0.2 inside (0, 1), 0 where clipped
    if name == "tanh":
        return 1 - y * y  # tanh′ = 1 − tanh²
    if name == "softsign":
        s = 1 - xp.abs(y)  # 1/(1 + |a|) = 1 − |y|
        return s * s
    raise ValueError(f"activation: got {name!r}")


def _dact_into(xp, name: str, y, out) -> None:
    """:func:`_dact` written into ``out`` (same shape as y; no temporaries)."""
    if name == "sigmoid":
        xp.subtract(1, y, out=out)
        out *= y                                     # σ(1 − σ)
    elif name == "tanh":
        xp.multiply(y, y, out=out)
        xp.subtract(1, out, out=out)                 # 1 − tanh²
    else:
        out[...] = _dact(xp, name, y)


def _check(arg: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{arg}: got {value!r}; allowed: {', '.join(map(repr, allowed))}")


def _project(x, W, b):
    """x (N, C, T), W (G·H, C), b (G·H,) → time-major xw (T, N, G·H) = x_tᵀ Wᵀ + b for every t, and the rows
    [x_t, 1] (T·N, C + 1): ONE product of the rows with [W, b]ᵀ (the bias rides as the last column)."""
    xp = get_array_module(x)
    N, C, T = x.shape
    xa = xp.empty((T * N, C + 1), dtype=x.dtype)
    xa[:, :C] = x.transpose(2, 0, 1).reshape(T * N, C)
    xa[:, C] = 1
    Wa = xp.concatenate([W, b.reshape(-1, 1).astype(W.dtype, copy=False)], axis=1)
    return (xa @ Wa.T).reshape(T, N, W.shape[0]), xa


def _time_mask(xp, mask, mask_recurrence: bool, dtype):
    """(T, N, 1) mask columns when the mask steers the recurrence, else None."""
    if mask is None or not mask_recurrence:
        return None
    return xp.ascontiguousarray(mask.T.astype(dtype, copy=False))[:, :, None]


def _input_grads(dA, xa, W, x_shape, need_dx: bool):
    """From the pre-activation gradients dA (T, N, G·H) and the rows xa = [x_t, 1] (T·N, C + 1): [dW, db] = dAᵀ xa
    in one product (dW (G·H, C), db = Σ dA (G·H,)), and dx = dA W (N, C, T) when asked."""
    N, C, T = x_shape
    dA2 = dA.reshape(T * N, -1)
    dWb = dA2.T @ xa
    dx = (dA2 @ W).reshape(T, N, C).transpose(1, 2, 0) if need_dx else None
    xp = get_array_module(dWb)
    return dx, xp.ascontiguousarray(dWb[:, :C]), xp.ascontiguousarray(dWb[:, C])


def _zeros_like_state(xp, N, H, dtype):
    return xp.zeros((N, H), dtype=dtype)


# ------------------------------------------------------------------------------------------------ LSTM
#: MATLAB's gate blocks (i, f, g, o) in the order the loop works in: o, i, f (the gate activation over one contiguous
#: block) then g; the backward's i, f, g blocks (all multiplied by the cell gradient) are contiguous too.
_LSTM_ORDER = (3, 0, 1, 2)
_LSTM_BACK = (1, 2, 3, 0)  # the inverse permutation


def _blocks(a, order, H: int):
    """The rows of a (G·H, ...) regrouped by gate blocks in ``order`` (a copy)."""
    xp = get_array_module(a)
    return xp.concatenate([a[k * H:(k + 1) * H] for k in order])


def _project_fm(x, W, b):
    """Feature-major input projection: x (N, C, T), W (G·H, C), b (G·H,) → xw (G·H, T, N) with xw[:, t] = W x_t + b
    (the step-t slice (G·H, N)), and the columns [x_t; 1] (C + 1, T·N): ONE product of [W, b] with the columns."""
    xp = get_array_module(x)
    N, C, T = x.shape
    xa = xp.empty((C + 1, T * N), dtype=x.dtype)
    xa[:C] = x.transpose(1, 2, 0).reshape(C, T * N)
    xa[C] = 1
    Wa = xp.concatenate([W, b.reshape(-1, 1).astype(W.dtype, copy=False)], axis=1)
    return (Wa @ xa).reshape(W.shape[0], T, N), xa


def _input_grads_fm(dA2, xa, W, x_shape, need_dx: bool):
    """Feature-major :func:`_input_grads`: dA2 (G·H, T·N), xa = [x_t; 1] (C + 1, T·N) → [dW, db] = dA2 xaᵀ in one
    product, and dx = Wᵀ dA2 (N, C, T) when asked."""
    N, C, T = x_shape
    xp = get_array_module(dA2)
    dWb = dA2 @ xa.T
    dx = (W.T @ dA2).reshape(C, T, N).transpose(2, 0, 1) if need_dx else None
    return dx, xp.ascontiguousarray(dWb[:, :C]), xp.ascontiguousarray(dWb[:, C])


def lstm_forward(x, W, R, b, h0=None, c0=None, mask=None, mask_recurrence: bool = False,
                 state_activation: str = "tanh", gate_activation: str = "sigmoid"):
    """The LSTM over a batch of sequences, gates in MATLAB's order input, forget, cell candidate, output.

        i_t = σ_g(W_i x_t + R_i h_{t−1} + b_i)      f_t = σ_g(W_f x_t + R_f h_{t−1} + b_f)
        g_t = σ_s(W_g x_t + R_g h_{t−1} + b_g)      o_t = σ_g(W_o x_t + R_o h_{t−1} + b_o)
        c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t             h_t = o_t ⊙ σ_s(c_t)

    Args:
        x: (N, C, T); W: (4H, C) = [W_i; W_f; W_g; W_o]; R: (4H, H); b: (4H,).
        h0, c0: (N, H) initial hidden and cell state (None: zeros).
        mask: (N, T) or None; mask_recurrence: see the module docstring.
    Returns:
        (y (N, H, T) the hidden states, h_T (N, H), c_T (N, H), cache).

    Internally the loop is feature-major: the states are columns, h_t (H, N), and the step's pre-activations
    a_t = R h_{t−1} + W x_t + b are (4H, N), so every gate block is a contiguous (H, N) slab.  The gate blocks are
    worked in the order o, i, f, g.  With the sigmoid gates and the tanh state the gate rows of W, R, b are halved
    (exact in floating point) so that one tanh over all 4H pre-activations gives tanh(a/2) for the gates
    (σ(a) = (1 + tanh(a/2))/2) and tanh(a) for the candidate.

    Reference: :func:`minidl.functional.reference.lstm_forward`.
    """
    _check("state_activation", state_activation, STATE_ACTIVATIONS)
    _check("gate_activation", gate_activation, GATE_ACTIVATIONS)
    xp = get_array_module(x)
    N, C, T = x.shape
    H = R.shape[1]
    dt = x.dtype
    Wi, Ri, bi = _blocks(W, _LSTM_ORDER, H), _blocks(R, _LSTM_ORDER, H), _blocks(b, _LSTM_ORDER, H)
    fast = gate_activation == "sigmoid" and state_activation == "tanh"
    if fast:                                           # halve the gate rows: a/2 for σ(a) = (1 + tanh(a/2))/2
        scale = xp.ones((4 * H, 1), dtype=dt)
        scale[:3 * H] = 0.5
        Wp, bp, Rp = Wi * scale, bi * scale[:, 0], Ri * scale
    else:
        Wp, bp, Rp = Wi, bi, Ri
    xw, xa = _project_fm(x, Wp, bp)                # xw[:, t] (4H, N)
    m = None if mask is None or not mask_recurrence else xp.ascontiguousarray(mask.T.astype(dt, copy=False))
    gates = xp.empty((T, 4 * H, N), dtype=dt)     # activated o, i, f, g of step t, (4H, N)
    hs = xp.empty((H, T + 1, N), dtype=dt)        # hs[:, t] = h_{t−1}; hs[:, T] = h_T  (the columns of dR's product)
    cs = xp.empty((T + 1, H, N), dtype=dt)        # cs[t] = c_{t−1}
    sc = xp.empty((T, H, N), dtype=dt)            # σ_s(c_t) of the step's own (unmasked) cell
    hs[:, 0] = 0 if h0 is None else h0.T
    cs[0] = 0 if c0 is None else c0.T
    ig = xp.empty((H, N), dtype=dt)
    for t in range(T):
        h, c, gt = hs[:, t], cs[t], gates[t]
        xp.matmul(Rp, h, out=gt)                              # a_t = R h_{t−1} + W x_t + b (gate rows halved
        gt += xw[:, t]                                        # when fast)
        if fast:
            xp.tanh(gt, out=gt)
            gs = gt[:3 * H]
            gs *= 0.5                                         # gates: σ(a) = ½·tanh(a/2) + ½; candidate: tanh(a)
            gs += 0.5
        else:
            gt[:3 * H] = _act(xp, gate_activation, gt[:3 * H])
            gt[3 * H:] = _act(xp, state_activation, gt[3 * H:])
        o, i, f, g = gt[:H], gt[H:2 * H], gt[2 * H:3 * H], gt[3 * H:]
        c_new, h_new = cs[t + 1], hs[:, t + 1]
        xp.multiply(f, c, out=c_new)                          # c_t = f ⊙ c_{t−1} + i ⊙ g
        xp.multiply(i, g, out=ig)
        c_new += ig
        if state_activation == "tanh":
            xp.tanh(c_new, out=sc[t])
        else:
            sc[t] = _act(xp, state_activation, c_new)
        xp.multiply(o, sc[t], out=h_new)                      # h_t = o ⊙ σ_s(c_t)
        if m is not None:                                     # a padded step keeps the state
            hs[:, t + 1] = m[t] * h_new + (1 - m[t]) * h
            cs[t + 1] = m[t] * c_new + (1 - m[t]) * c
    y = hs[:, 1:].transpose(2, 0, 1)
    cache = (x.shape, xa, Wi, Ri, gates, hs, cs, sc, m, state_activation, gate_activation)
    return y, xp.ascontiguousarray(hs[:, T].T), xp.ascontiguousarray(cs[T].T), cache


#: Steps whose local derivatives the LSTM backward computes together: few enough that they stay in the cache
#: until the loop reads them, enough that the per-call overhead is shared (measured best of 1, 5, 10, 25, 100).
_CHUNK = 5


def _lstm_local_derivatives(xp, G4, sc, c_prev, K, odsc, sa: str, ga: str) -> None:
    """The LSTM backward's local derivatives of a chunk of steps, into K (S, 4, H, N) and odsc (S, H, N):
    K_o = σ_s(c_t)·σ_g′(o), K_i = g·σ_g′(i), K_f = c_{t−1}·σ_g′(f), K_g = i·σ_s′(g); odsc = o·σ_s′(c_t).
    G4 (S, 4, H, N) the activated o, i, f, g; sc (S, H, N) = σ_s(c_t); c_prev (S, H, N) = c_{t−1}."""
    _dact_into(xp, ga, G4, K)                                         # σ_g′ (one contiguous pass; g block next)
    _dact_into(xp, sa, G4[:, 3], K[:, 3])                             # σ_s′ of the candidate
    K[:, 0] *= sc                                                     # K_o = σ_s(c_t) σ_g′(o)
    K[:, 1] *= G4[:, 3]                                               # K_i = g σ_g′(i)
    K[:, 2] *= c_prev                                                 # K_f = c_{t−1} σ_g′(f)
    K[:, 3] *= G4[:, 1]                                               # K_g = i σ_s′(g)
    _dact_into(xp, sa, sc, odsc)
    odsc *= G4[:, 0]                                                  # ∂h_t/∂c_t = o σ_s′(c_t)


def lstm_backward(dy, cache, dh_last=None, dc_last=None, need_dx: bool = True):
    """Back-propagation through time of :func:`lstm_forward`.

    Args:
        dy: (N, H, T) gradient of the outputs, or None (only the final state's gradients, e.g. output mode "last").
        dh_last, dc_last: (N, H) gradients of the final h_T and c_T, or None.
    Returns:
        (dx (N, C, T) or None, dW (4H, C), dR (4H, H), db (4H,), dh0 (N, H), dc0 (N, H)).

    Feature-major as the forward (dh, dc (H, N)).  The local derivatives are computed a chunk of steps at a time
    (:func:`_lstm_local_derivatives`) just before the loop reaches them: K_o = σ_s(c_t)·σ_g′, K_i = g·σ_g′,
    K_f = c_{t−1}·σ_g′, K_g = i·σ_s′, and o·σ_s′(c_t); the loop then does dc ← dc + dh ⊙ o ⊙ σ_s′(c_t);
    da_o = dh ⊙ K_o; da_{i,f,g} = dc ⊙ K_{i,f,g}; dc ← dc ⊙ f; dh ← Rᵀ da.

    Reference: :func:`minidl.functional.reference.lstm_forward` (with finite differences).
    """
    x_shape, xa, Wi, Ri, gates, hs, cs, sc, m, sa, ga = cache
    xp = get_array_module(hs)
    T, H, N = sc.shape
    dt = hs.dtype
    G4 = gates.reshape(T, 4, H, N)                                    # o, i, f, g blocks as an axis (a view)
    K = xp.empty((_CHUNK, 4, H, N), dtype=dt)                         # a chunk's local derivatives (reused)
    odsc = xp.empty((_CHUNK, H, N), dtype=dt)
    dyt = None if dy is None else dy.transpose(2, 1, 0)               # dyt[t] (H, N)
    dh = xp.zeros((H, N), dtype=dt) if dh_last is None else dh_last.T.astype(dt, copy=True)
    dc = xp.zeros((H, N), dtype=dt) if dc_last is None else dc_last.T.astype(dt, copy=True)
    dA = xp.empty((4 * H, T, N), dtype=dt)                            # pre-activation gradients (the rows of dR's
    dA4 = dA.reshape(4, H, T, N)                                      # and dW's products), o, i, f, g
    RT = Ri.T
    tmp = xp.empty((H, N), dtype=dt)
    for t1 in range(T, 0, -_CHUNK):                       # chunks of steps, last first
        t0 = max(t1 - _CHUNK, 0)
        _lstm_local_derivatives(xp, G4[t0:t1], sc[t0:t1], cs[t0:t1], K[:t1 - t0], odsc[:t1 - t0], sa, ga)
        for t in range(t1 - 1, t0 - 1, -1):               # dh, dc: this function's own buffers, updated in place
            k = t - t0
            if dyt is not None:
                dh += dyt[t]
            if m is not None:                                # h_t = m·h̃ + (1 − m)·h_{t−1}
                dh_keep, dc_keep = (1 - m[t]) * dh, (1 - m[t]) * dc
                dh *= m[t]
                dc *= m[t]
            xp.multiply(dh, odsc[k], out=tmp)
            dc += tmp                                        # dc_t += dh_t ⊙ o ⊙ σ_s′(c_t)
            da = dA4[:, :, t]                                # (4, H, N)
            xp.multiply(dh, K[k, 0], out=da[0])              # da_o = dh ⊙ σ_s(c) ⊙ σ_g′(o)
            xp.multiply(K[k, 1:], dc, out=da[1:])            # da_{i,f,g} = dc ⊙ K_{i,f,g}
            dc *= G4[t, 2]                                   # ∂c_t/∂c_{t−1} = f
            xp.matmul(RT, dA[:, t], out=dh)                  # ∂a/∂h_{t−1} = Rᵀ
            if m is not None:
                dh += dh_keep
                dc += dc_keep
    dA2 = dA.reshape(4 * H, T * N)
    dR = dA2 @ hs[:, :T].reshape(H, T * N).T                          # dR = Σ_t da_t h_{t−1}ᵀ
    dx, dW, db = _input_grads_fm(dA2, xa, Wi, x_shape, need_dx)
    return (dx, _blocks(dW, _LSTM_BACK, H), _blocks(dR, _LSTM_BACK, H), _blocks(db, _LSTM_BACK, H),
            xp.ascontiguousarray(dh.T), xp.ascontiguousarray(dc.T))


# ------------------------------------------------------------------------------------------------ GRU
def gru_forward(x, W, R, b, rb=None, h0=None, mask=None, mask_recurrence: bool = False,
                reset_gate_mode: str = "after-multiplication", state_activation: str = "tanh",
                gate_activation: str = "sigmoid"):
    """The GRU, gates in MATLAB's order reset, update, candidate.

        r_t = σ_g(W_r x_t + R_r h_{t−1} + b_r [+ b_Rr])      z_t = σ_g(W_z x_t + R_z h_{t−1} + b_z [+ b_Rz])
        after-multiplication:               h̃_t = σ_s(W_h x_t + r_t ⊙ (R_h h_{t−1}) + b_h)
        before-multiplication:              h̃_t = σ_s(W_h x_t + R_h (r_t ⊙ h_{t−1}) + b_h)
        recurrent-bias-after-multiplication: h̃_t = σ_s(W_h x_t + b_h + r_t ⊙ (R_h h_{t−1} + b_Rh))  (PyTorch's GRU)
        h_t = (1 − z_t) ⊙ h̃_t + z_t ⊙ h_{t−1}

    Args:
        x: (N, C, T); W: (3H, C) = [W_r; W_z; W_h]; R: (3H, H); b: (3H,); rb: (3H,) the recurrent bias (only, and
        required, for "recurrent-bias-after-multiplication"); h0: (N, H) or None; mask, mask_recurrence: as LSTM.
    Returns:
        (y (N, H, T), h_T (N, H), cache).

    Reference: :func:`minidl.functional.reference.gru_forward`.
    """
    _check("reset_gate_mode", reset_gate_mode, GRU_RESET_MODES)
    _check("state_activation", state_activation, STATE_ACTIVATIONS)
    _check("gate_activation", gate_activation, GATE_ACTIVATIONS)
    if (rb is not None) != (reset_gate_mode == "recurrent-bias-after-multiplication"):
        raise ValueError(f"rb: got {'an array' if rb is not None else None} with reset_gate_mode "
                         f"{reset_gate_mode!r}; allowed: a (3H,) recurrent bias exactly for "
                         "'recurrent-bias-after-multiplication'")
    xp = get_array_module(x)
    N, C, T = x.shape
    H = R.shape[1]
    dt = x.dtype
    xw, xa = _project(x, W, b)
    m = _time_mask(xp, mask, mask_recurrence, dt)
    before = reset_gate_mode == "before-multiplication"
    h = _zeros_like_state(xp, N, H, dt) if h0 is None else h0
    gates = xp.empty((T, N, 3 * H), dtype=dt)     # r, z, h̃
    hs = xp.empty((T + 1, N, H), dtype=dt)
    hs[0] = h
    rec = xp.empty((T, N, H), dtype=dt)           # after: R_h h (+ b_Rh); before: r ⊙ h
    RT = xp.ascontiguousarray(R.T)
    for t in range(T):
        gt = gates[t]
        if before:
            a = xw[t][:, :2 * H] + h @ RT[:, :2 * H]
            gt[:, :2 * H] = _act(xp, gate_activation, a)
            rec[t] = gt[:, :H] * h                                     # r ⊙ h_{t−1}
            gt[:, 2 * H:] = _act(xp, state_activation, xw[t][:, 2 * H:] + rec[t] @ RT[:, 2 * H:])
        else:
            hr = h @ RT                                                # (N, 3H)
            if rb is not None:
                hr = hr + rb
            gt[:, :2 * H] = _act(xp, gate_activation, xw[t][:, :2 * H] + hr[:, :2 * H])
            rec[t] = hr[:, 2 * H:]
            gt[:, 2 * H:] = _act(xp, state_activation, xw[t][:, 2 * H:] + gt[:, :H] * rec[t])
        z, hh = gt[:, H:2 * H], gt[:, 2 * H:]
        h_new = hh + z * (h - hh)                                      # (1 − z) ⊙ h̃ + z ⊙ h_{t−1}
        if m is not None:
            h_new = m[t] * h_new + (1 - m[t]) * h
        h = h_new
        hs[t + 1] = h
    y = hs[1:].transpose(1, 2, 0)
    return y, h, (x.shape, xa, W, R, rb is not None, before, gates, hs, rec, m, state_activation, gate_activation)


def gru_backward(dy, cache, dh_last=None, need_dx: bool = True):
    """BPTT of :func:`gru_forward`.  dy (N, H, T) or None; dh_last (N, H) or None.

    Returns (dx (N, C, T) or None, dW (3H, C), dR (3H, H), db (3H,), drb (3H,) or None, dh0 (N, H)).

    Reference: :func:`minidl.functional.reference.gru_backward`.
    """
    x_shape, xa, W, R, has_rb, before, gates, hs, rec, m, sa, ga = cache
    xp = get_array_module(hs)
    T, N, H = rec.shape
    dt = hs.dtype
    dyt = None if dy is None else dy.transpose(2, 0, 1)
    dh = xp.zeros((N, H), dtype=dt) if dh_last is None else dh_last.astype(dt, copy=True)
    dA = xp.empty((T, N, 3 * H), dtype=dt)        # pre-activation gradients on the input side
    dB = dA if before else xp.empty((T, N, 3 * H), dtype=dt)  # ... on the recurrent product's side
    for t in range(T - 1, -1, -1):
        if dyt is not None:
            dh = dh + dyt[t]
        if m is not None:
            dh_keep = (1 - m[t]) * dh
            dh = m[t] * dh
        gt = gates[t]
        r, z, hh = gt[:, :H], gt[:, H:2 * H], gt[:, 2 * H:]
        h_prev = hs[t]
        da_h = dh * (1 - z) * _dact(xp, sa, hh)                        # through h̃
        da_z = dh * (h_prev - hh) * _dact(xp, ga, z)                   # through z
        dh_prev = dh * z
        da, db_ = dA[t], dB[t]
        da[:, H:2 * H] = da_z
        da[:, 2 * H:] = da_h
        if before:
            d_rh = da_h @ R[2 * H:]                                    # ∂/∂(r ⊙ h_{t−1})
            da[:, :H] = d_rh * h_prev * _dact(xp, ga, r)
            dh_prev = dh_prev + d_rh * r + da[:, :2 * H] @ R[:2 * H]
        else:
            da[:, :H] = da_h * rec[t] * _dact(xp, ga, r)                # ∂h̃/∂r = R_h h (+ b_Rh)
            db_[:, :2 * H] = da[:, :2 * H]
            db_[:, 2 * H:] = da_h * r
            dh_prev = dh_prev + db_ @ R
        dh = dh_prev if m is None else dh_prev + dh_keep
    TN = T * N
    if before:
        dR = xp.empty_like(R)
        dR[:2 * H] = dA[:, :, :2 * H].reshape(TN, 2 * H).T @ hs[:T].reshape(TN, H)
        dR[2 * H:] = dA[:, :, 2 * H:].reshape(TN, H).T @ rec.reshape(TN, H)      # Σ da_hᵀ (r ⊙ h)
    else:
        dR = dB.reshape(TN, 3 * H).T @ hs[:T].reshape(TN, H)
    drb = dB.reshape(TN, 3 * H).sum(axis=0) if has_rb else None
    dx, dW, db = _input_grads(dA, xa, W, x_shape, need_dx)
    return dx, dW, dR, db, drb, dh


# ------------------------------------------------------------------------------------------------ basic recurrent
def rnn_forward(x, W, R, b, h0=None, mask=None, mask_recurrence: bool = False, activation: str = "Tanh"):
    """The basic recurrent cell (Wolfram BasicRecurrentLayer): s_t = f(W x_t + R s_{t−1} + b).

    x: (N, C, T); W: (H, C); R: (H, H); b: (H,); h0 (N, H) or None; ``activation`` a name of
    :data:`minidl.functional.ELEMENTWISE_FUNCTIONS` ("Tanh", "Ramp", "LogisticSigmoid", ...).
    Returns (y (N, H, T), s_T (N, H), cache).

    Reference: :func:`minidl.functional.reference.rnn_forward`.
    """
    if activation not in _ELEMENTWISE:
        raise ValueError(f"activation: got {activation!r}; allowed: {', '.join(_ELEMENTWISE)}")
    f = _ELEMENTWISE[activation][0]
    xp = get_array_module(x)
    N, C, T = x.shape
    H = R.shape[1]
    dt = x.dtype
    xw, xa = _project(x, W, b)
    m = _time_mask(xp, mask, mask_recurrence, dt)
    h = _zeros_like_state(xp, N, H, dt) if h0 is None else h0
    hs = xp.empty((T + 1, N, H), dtype=dt)
    out = xp.empty((T, N, H), dtype=dt)           # f(a_t) of the step itself
    hs[0] = h
    RT = xp.ascontiguousarray(R.T)
    for t in range(T):
        xw[t] += h @ RT                           # xw now holds the pre-activation a_t
        out[t] = f(xp, xw[t])
        h = out[t] if m is None else m[t] * out[t] + (1 - m[t]) * h
        hs[t + 1] = h
    return hs[1:].transpose(1, 2, 0), h, (x.shape, xa, W, R, xw, out, hs, m, activation)


def rnn_backward(dy, cache, dh_last=None, need_dx: bool = True):
    """BPTT of :func:`rnn_forward`.  Returns (dx (N, C, T) or None, dW (H, C), dR (H, H), db (H,), dh0 (N, H)).

    Reference: :func:`minidl.functional.reference.rnn_backward`.
    """
    x_shape, xa, W, R, a, out, hs, m, activation = cache
    xp = get_array_module(hs)
    df = _ELEMENTWISE[activation][1]
    T, N, H = out.shape
    dt = hs.dtype
    dyt = None if dy is None else dy.transpose(2, 0, 1)
    dh = xp.zeros((N, H), dtype=dt) if dh_last is None else dh_last.astype(dt, copy=True)
    dA = xp.empty((T, N, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        if dyt is not None:
            dh = dh + dyt[t]
        if m is not None:
            dh_keep = (1 - m[t]) * dh
            dh = m[t] * dh
        dA[t] = dh * df(xp, a[t], out[t])
        dh = dA[t] @ R
        if m is not None:
            dh = dh + dh_keep
    dR = dA.reshape(T * N, H).T @ hs[:T].reshape(T * N, H)
    dx, dW, db = _input_grads(dA, xa, W, x_shape, need_dx)
    return dx, dW, dR, db, dh


# ------------------------------------------------------------------------------------------------ last step
def last_step_indices(mask, T: int):
    """The index of each sequence's last real step, from mask (N, T): (N,) int64 on mask's device (T − 1 for a row
    without real steps); None without a mask (every sequence ends at step T − 1)."""
    if mask is None:
        return None
    xp = get_array_module(mask)
    real = mask > 0
    # the last real index: T − 1 − (first real index from the end); a row of padding only gives T − 1
    last = T - 1 - xp.argmax(real[:, ::-1], axis=1)
    return xp.where(real.any(axis=1), last, T - 1).astype("int64")


def sequence_last_forward(x, mask=None):
    """Wolfram SequenceLastLayer: y[n] = x[n, :, ℓ_n], ℓ_n the last real step of sequence n (step T without mask).

    x: (N, C, T); mask (N, T) or None.  Returns (y (N, C), cache).

    Reference: :func:`minidl.functional.reference.sequence_last_forward`.
    """
    xp = get_array_module(x)
    N, C, T = x.shape
    idx = last_step_indices(mask, T)
    if idx is None:
        return x[:, :, T - 1], (x.shape, None)
    return x[xp.arange(N), :, idx], (x.shape, idx)


def sequence_last_backward(dy, cache):
    """dy (N, C) → dx (N, C, T): dy at each sequence's last real step, zero elsewhere."""
    shape, idx = cache
    xp = get_array_module(dy)
    dx = xp.zeros(shape, dtype=dy.dtype)
    if idx is None:
        dx[:, :, -1] = dy
    else:
        dx[xp.arange(shape[0]), :, idx] = dy
    return dx
