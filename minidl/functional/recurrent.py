"""Recurrent layers' math: LSTM, GRU and the basic recurrent cell, forward and hand-written BPTT (docs/layers.md).

Layout.  A batch of sequences is x (N, C, T).  The LSTM and GRU loops work feature-major: a state is a block of
columns, h_t (H, N), and the step's pre-activations are (G·H, N) (G = 4 gates for the LSTM, 3 for the GRU), so every
gate block is one contiguous (H, N) slab and each elementwise line of the equations is one NumPy call on contiguous
memory, written into a preallocated buffer (``out=``).  The input projection of every time step is ONE (batched)
matrix product into xw (T, G·H, N).  The states are kept as (H, T + 1, N) and the pre-activation gradients as
(G·H, T, N), so the backward gets dW, dR, db and dx from one matrix product each.  The basic cell (one block) stays
batch-major, see :func:`rnn_forward`.

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


# ------------------------------------------------------------------------------------------------ LSTM
#: MATLAB's gate blocks (i, f, g, o) in the order the loop works in: o, i, f (the gate activation over one contiguous
#: block) then g; the backward's i, f, g blocks (all multiplied by the cell gradient) are contiguous too.
_LSTM_ORDER = (3, 0, 1, 2)
_LSTM_BACK = (1, 2, 3, 0)  # the inverse permutation


def _blocks(a, order, H: int):
    """The rows of a (G·H, ...) regrouped by gate blocks in ``order`` (a copy)."""
    xp = get_array_module(a)
    return xp.concatenate([a[k * H:(k + 1) * H] for k in order])


def _project(x, W, b):
    """The input projection of every step: x (N, C, T), W (G·H, C), b (G·H,) → xw (T, G·H, N) with
    xw[t] = W x_t + b (contiguous per step; one batched product of [W, b] with the columns [x_t; 1]), and those
    columns side by side, xa (C + 1, T·N), for the backward's products."""
    xp = get_array_module(x)
    N, C, T = x.shape
    xa3 = xp.empty((T, C + 1, N), dtype=x.dtype)
    xa3[:, :C] = x.transpose(2, 1, 0)
    xa3[:, C] = 1
    Wa = xp.concatenate([W, b.reshape(-1, 1).astype(W.dtype, copy=False)], axis=1)
    return xp.matmul(Wa, xa3), xa3.transpose(1, 0, 2).reshape(C + 1, T * N)


def _input_grads(dA2, xa, W, x_shape, need_dx: bool):
    """From the pre-activation gradients dA2 (G·H, T·N), xa = [x_t; 1] (C + 1, T·N) → [dW, db] = dA2 xaᵀ in one
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
    xw, xa = _project(x, Wp, bp)                # xw[t] (4H, N)
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
        gt += xw[t]                                           # when fast)
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
    dh = xp.zeros((H, N), dtype=dt)                                  # (H, N) C-ordered, this function's own
    if dh_last is not None:
        dh[...] = dh_last.T
    dc = xp.zeros((H, N), dtype=dt)                                  # (H, N) C-ordered, this function's own
    if dc_last is not None:
        dc[...] = dc_last.T
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
    dx, dW, db = _input_grads(dA2, xa, Wi, x_shape, need_dx)
    return (dx, _blocks(dW, _LSTM_BACK, H), _blocks(dR, _LSTM_BACK, H), _blocks(db, _LSTM_BACK, H),
            xp.ascontiguousarray(dh.T), xp.ascontiguousarray(dc.T))


# ------------------------------------------------------------------------------------------------ GRU
def _act_into(xp, name: str, a) -> None:
    """:func:`_act` of a written over a (in place; the same arithmetic)."""
    if name == "sigmoid":
        a *= 0.5
        xp.tanh(a, out=a)
        a *= 0.5
        a += 0.5                                     # σ(a) = ½·tanh(a/2) + ½
    elif name == "tanh":
        xp.tanh(a, out=a)
    elif name == "hard-sigmoid":
        a *= 0.2
        a += 0.5
        xp.clip(a, 0, 1, out=a)                      # max(0, min(1, 0.2·a + 0.5))
    else:
        a[...] = _act(xp, name, a)


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

    Feature-major as :func:`lstm_forward`: h_t (H, N), the step's gates (3H, N) with contiguous r, z, h̃ blocks.

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
    xw, xa = _project(x, W, b)                    # xw[t] (3H, N)
    m = None if mask is None or not mask_recurrence else xp.ascontiguousarray(mask.T.astype(dt, copy=False))
    before = reset_gate_mode == "before-multiplication"
    gates = xp.empty((T, 3 * H, N), dtype=dt)     # r, z, h̃ of step t
    hs = xp.empty((H, T + 1, N), dtype=dt)        # hs[:, t] = h_{t−1}
    hs[:, 0] = 0 if h0 is None else h0.T
    rec = xp.empty((H, T, N), dtype=dt)           # after: R_h h (+ b_Rh); before: r ⊙ h
    rbc = None if rb is None else rb.reshape(-1, 1)
    hr = xp.empty((3 * H, N), dtype=dt)
    for t in range(T):
        h, gt, rt = hs[:, t], gates[t], rec[:, t]
        gr, hh = gt[:2 * H], gt[2 * H:]                                # r and z; the candidate
        if before:
            xp.matmul(R[:2 * H], h, out=gr)
            gr += xw[t, :2 * H]                                        # W x + R h + b for r, z
            _act_into(xp, gate_activation, gr)
            xp.multiply(gt[:H], h, out=rt)                             # r ⊙ h_{t−1}
            xp.matmul(R[2 * H:], rt, out=hh)
            hh += xw[t, 2 * H:]                                        # W_h x + R_h (r ⊙ h) + b_h
        else:
            xp.matmul(R, h, out=hr)                                    # R h_{t−1} (+ b_R): (3H, N)
            if rbc is not None:
                hr += rbc
            xp.add(xw[t, :2 * H], hr[:2 * H], out=gr)
            _act_into(xp, gate_activation, gr)
            rt[...] = hr[2 * H:]
            xp.multiply(gt[:H], rt, out=hh)
            hh += xw[t, 2 * H:]                                        # W_h x + b_h + r ⊙ (R_h h (+ b_Rh))
        _act_into(xp, state_activation, hh)
        z, h_new = gt[H:2 * H], hs[:, t + 1]
        xp.subtract(h, hh, out=h_new)                                  # h_t = h̃ + z ⊙ (h_{t−1} − h̃)
        h_new *= z                                                     #     = (1 − z) ⊙ h̃ + z ⊙ h_{t−1}
        h_new += hh
        if m is not None:
            hs[:, t + 1] = m[t] * h_new + (1 - m[t]) * h
    y = hs[:, 1:].transpose(2, 0, 1)
    cache = (x.shape, xa, W, R, rb is not None, before, gates, hs, rec, m, state_activation, gate_activation)
    return y, xp.ascontiguousarray(hs[:, T].T), cache


def gru_backward(dy, cache, dh_last=None, need_dx: bool = True):
    """BPTT of :func:`gru_forward`.  dy (N, H, T) or None; dh_last (N, H) or None.

    Returns (dx (N, C, T) or None, dW (3H, C), dR (3H, H), db (3H,), drb (3H,) or None, dh0 (N, H)).

    Feature-major as the forward (dh (H, N)); per step, into preallocated buffers:
    da_h = dh ⊙ (1 − z) ⊙ σ_s′(h̃), da_z = dh ⊙ (h_{t−1} − h̃) ⊙ σ_g′(z), dh_{t−1} = dh ⊙ z + (the paths through r
    and the recurrent products).

    Reference: :func:`minidl.functional.reference.gru_backward`.
    """
    x_shape, xa, W, R, has_rb, before, gates, hs, rec, m, sa, ga = cache
    xp = get_array_module(hs)
    H, T, N = rec.shape
    dt = hs.dtype
    dyt = None if dy is None else dy.transpose(2, 1, 0)               # dyt[t] (H, N)
    dh = xp.zeros((H, N), dtype=dt)                                  # (H, N) C-ordered, this function's own
    if dh_last is not None:
        dh[...] = dh_last.T
    dhn = xp.empty((H, N), dtype=dt)                                  # dh_{t−1} being built
    tmp, tmp2 = xp.empty((H, N), dtype=dt), xp.empty((H, N), dtype=dt)
    dA = xp.empty((3 * H, T, N), dtype=dt)        # pre-activation gradients on the input side
    dB = dA if before else xp.empty((3 * H, T, N), dtype=dt)  # ... on the recurrent product's side
    da = xp.empty((3 * H, N), dtype=dt)           # the step's, contiguous; copied into dA[:, t]
    db_ = da if before else xp.empty((3 * H, N), dtype=dt)
    da_r, da_z, da_h = da[:H], da[H:2 * H], da[2 * H:]
    RT, RT_ru, RT_h = R.T, R[:2 * H].T, R[2 * H:].T
    for t in range(T - 1, -1, -1):
        if dyt is not None:
            dh += dyt[t]
        if m is not None:
            dh_keep = (1 - m[t]) * dh
            dh *= m[t]
        gt = gates[t]
        r, z, hh = gt[:H], gt[H:2 * H], gt[2 * H:]
        h_prev = hs[:, t]
        xp.subtract(1, z, out=tmp)
        xp.multiply(dh, tmp, out=da_h)
        _dact_into(xp, sa, hh, tmp)
        da_h *= tmp                                                    # da_h = dh ⊙ (1 − z) ⊙ σ_s′(h̃)
        xp.subtract(h_prev, hh, out=tmp)
        xp.multiply(dh, tmp, out=da_z)
        _dact_into(xp, ga, z, tmp)
        da_z *= tmp                                                    # da_z = dh ⊙ (h_{t−1} − h̃) ⊙ σ_g′(z)
        xp.multiply(dh, z, out=dhn)                                    # ∂h_t/∂h_{t−1} directly: z
        if before:
            xp.matmul(RT_h, da_h, out=tmp2)                            # d(r ⊙ h_{t−1}) = R_hᵀ da_h
            xp.multiply(tmp2, h_prev, out=da_r)
            _dact_into(xp, ga, r, tmp)
            da_r *= tmp                                                # da_r = d(r ⊙ h) ⊙ h_{t−1} ⊙ σ_g′(r)
            xp.multiply(tmp2, r, out=tmp)
            dhn += tmp                                                 # + d(r ⊙ h) ⊙ r
            xp.matmul(RT_ru, da[:2 * H], out=tmp)
            dhn += tmp                                                 # + R_{r,z}ᵀ da_{r,z}
        else:
            xp.multiply(da_h, rec[:, t], out=da_r)
            _dact_into(xp, ga, r, tmp)
            da_r *= tmp                                                # ∂h̃/∂r = R_h h (+ b_Rh)
            db_[:2 * H] = da[:2 * H]
            xp.multiply(da_h, r, out=db_[2 * H:])                      # d(R_h h) = da_h ⊙ r
            xp.matmul(RT, db_, out=tmp)
            dhn += tmp                                                 # + Rᵀ db
            dB[:, t] = db_
        dA[:, t] = da
        if m is not None:
            dhn += dh_keep
        dh, dhn = dhn, dh
    TN = T * N
    Hm = hs[:, :T].reshape(H, TN)                                     # the columns h_{t−1}
    if before:
        dR = xp.empty_like(R)
        dR[:2 * H] = dA[:2 * H].reshape(2 * H, TN) @ Hm.T
        dR[2 * H:] = dA[2 * H:].reshape(H, TN) @ rec.reshape(H, TN).T        # Σ da_h (r ⊙ h)ᵀ
    else:
        dR = dB.reshape(3 * H, TN) @ Hm.T
    drb = dB.reshape(3 * H, TN).sum(axis=1) if has_rb else None
    dx, dW, db = _input_grads(dA.reshape(3 * H, TN), xa, W, x_shape, need_dx)
    return dx, dW, dR, db, drb, xp.ascontiguousarray(dh.T)


# ------------------------------------------------------------------------------------------------ basic recurrent
def _project_rows(x, W, b):
    """Batch-major input projection (the basic cell's one gate block needs no feature-major layout): x (N, C, T),
    W (H, C), b (H,) → xw (T, N, H) = x_tᵀ Wᵀ + b for every t, and the rows [x_t, 1] (T·N, C + 1): ONE product of
    the rows with [W, b]ᵀ."""
    xp = get_array_module(x)
    N, C, T = x.shape
    xa = xp.empty((T * N, C + 1), dtype=x.dtype)
    xa[:, :C] = x.transpose(2, 0, 1).reshape(T * N, C)
    xa[:, C] = 1
    Wa = xp.concatenate([W, b.reshape(-1, 1).astype(W.dtype, copy=False)], axis=1)
    return (xa @ Wa.T).reshape(T, N, W.shape[0]), xa


def rnn_forward(x, W, R, b, h0=None, mask=None, mask_recurrence: bool = False, activation: str = "Tanh"):
    """The basic recurrent cell (Wolfram BasicRecurrentLayer): s_t = f(W x_t + R s_{t−1} + b).

    x: (N, C, T); W: (H, C); R: (H, H); b: (H,); h0 (N, H) or None; ``activation`` a name of
    :data:`minidl.functional.ELEMENTWISE_FUNCTIONS` ("Tanh", "Ramp", "LogisticSigmoid", ...).
    Returns (y (N, H, T), s_T (N, H), cache).

    Batch-major (s_t (N, H), time-major buffers (T, N, H)): with one block every step's slab is contiguous and the
    backward's products over the T·N rows need no copy (feature-major measured slower here).

    Reference: :func:`minidl.functional.reference.rnn_forward`.
    """
    if activation not in _ELEMENTWISE:
        raise ValueError(f"activation: got {activation!r}; allowed: {', '.join(_ELEMENTWISE)}")
    f = _ELEMENTWISE[activation][0]
    xp = get_array_module(x)
    N, C, T = x.shape
    H = R.shape[1]
    dt = x.dtype
    xw, xa = _project_rows(x, W, b)               # xw[t] (N, H); becomes the pre-activations a_t
    m = None if mask is None or not mask_recurrence else xp.ascontiguousarray(mask.T.astype(dt, copy=False))[:, :, None]
    hs = xp.empty((T + 1, N, H), dtype=dt)        # hs[t] = s_{t−1}
    hs[0] = 0 if h0 is None else h0
    out = hs[1:] if m is None else xp.empty((T, N, H), dtype=dt)      # f(a_t) of the step itself
    RT = xp.ascontiguousarray(R.T)
    rh = xp.empty((N, H), dtype=dt)
    for t in range(T):
        xp.matmul(hs[t], RT, out=rh)
        xw[t] += rh                               # a_t = W x_t + b + R s_{t−1}
        out[t] = f(xp, xw[t])
        if m is not None:
            hs[t + 1] = m[t] * out[t] + (1 - m[t]) * hs[t]
    return hs[1:].transpose(1, 2, 0), hs[T], (x.shape, xa, W, R, xw, out, hs, m, activation)


def rnn_backward(dy, cache, dh_last=None, need_dx: bool = True):
    """BPTT of :func:`rnn_forward`.  Returns (dx (N, C, T) or None, dW (H, C), dR (H, H), db (H,), dh0 (N, H)).

    Reference: :func:`minidl.functional.reference.rnn_backward`.
    """
    x_shape, xa, W, R, a, out, hs, m, activation = cache
    xp = get_array_module(hs)
    df = _ELEMENTWISE[activation][1]
    T, N, H = a.shape
    C = x_shape[1]
    dt = hs.dtype
    dyt = None if dy is None else dy.transpose(2, 0, 1)               # dyt[t] (N, H)
    dh = xp.zeros((N, H), dtype=dt)                                   # this function's own
    if dh_last is not None:
        dh[...] = dh_last
    dA = xp.empty((T, N, H), dtype=dt)
    for t in range(T - 1, -1, -1):
        if dyt is not None:
            dh += dyt[t]
        if m is not None:
            dh_keep = (1 - m[t]) * dh
            dh *= m[t]
        xp.multiply(dh, df(xp, a[t], out[t]), out=dA[t])              # da_t = ds_t ⊙ f′(a_t)
        xp.matmul(dA[t], R, out=dh)                                   # ds_{t−1} = Rᵀ da_t (rows: da_t R)
        if m is not None:
            dh += dh_keep
    dA2 = dA.reshape(T * N, H)
    dR = dA2.T @ hs[:T].reshape(T * N, H)                             # Σ_t da_tᵀ s_{t−1}
    dWb = dA2.T @ xa                                                  # [dW, db] in one product
    dx = (dA2 @ W).reshape(T, N, C).transpose(1, 2, 0) if need_dx else None
    return dx, xp.ascontiguousarray(dWb[:, :C]), dR, xp.ascontiguousarray(dWb[:, C]), dh


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
