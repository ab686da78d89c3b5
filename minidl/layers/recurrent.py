"""Recurrent layers: LSTM, BiLSTM, GRU, BasicRecurrent and SequenceLast (math in minidl.functional.recurrent;
equations in docs/layers.md#recurrent-layers).

Inputs are sequences (N, C, T) (per-example shape ``(C, None)``: any length).  ``output_mode="sequence"`` returns
(N, H, T), ``"last"`` step T's output (N, H).  The carry protocol (docs: the sequence interface):

- ``carry_state`` (default False): when True, forward starts from ``carried`` (``{"hidden": (N, H), "cell":
  (N, H)}``, device arrays; no gradient flows into them: truncated back-propagation) when it is set and its N matches,
  else from the initial state, and stores its final state in ``carried`` afterwards.  When False, every forward
  starts from the initial state and ``carried`` is left alone.  ``reset_state()`` sets ``carried = None``.
- the initial state is the layer's ``initial_hidden_state`` (and ``initial_cell_state``), (H,) arrays broadcast
  over N, zeros unless set (MATLAB's HiddenState/CellState); they live in ``state`` and are saved with the network.
- ``mask_recurrence``: False (MATLAB: padded steps are processed like real ones), True (Wolfram: a padded step keeps
  the state, so step T's output is each sequence's own last real state).

>>> import numpy as np
>>> lstm = LSTM(3, output_mode="last")
>>> lstm.initialize((2, None), rng=np.random.default_rng(0), dtype="float64")
(3,)
>>> {k: v.shape for k, v in lstm.params.items()}
{'input_weights': (12, 2), 'recurrent_weights': (12, 3), 'bias': (12,)}
>>> lstm.params["bias"][3:6].tolist()           # 'unit-forget-gate': the forget gate's bias is 1
[1.0, 1.0, 1.0]
>>> lstm.forward(np.zeros((4, 2, 7))).shape
(4, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minidl.backend import device_of, get_array_module, to_device, to_host
from minidl.functional import recurrent as RF
from minidl.functional.elementwise import FUNCTIONS as ELEMENTWISE_FUNCTIONS
from minidl.layers.base import Layer, Shape
from minidl.layers.init import initialize_array

__all__ = ["RecurrentLayer", "LSTM", "BiLSTM", "GRU", "BasicRecurrent", "SequenceLast", "orthogonal",
           "WEIGHT_INITIALIZERS", "BIAS_INITIALIZERS"]

#: Initializer names of the input and recurrent weights (MATLAB lstmLayer/gruLayer); also an array or a callable
#: ``(shape, rng) -> array``.
WEIGHT_INITIALIZERS = ("glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones")
#: Initializer names of the bias ("unit-forget-gate": LSTM only).
BIAS_INITIALIZERS = ("unit-forget-gate", "narrow-normal", "zeros", "ones")
OUTPUT_MODES = ("sequence", "last")


def orthogonal(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Q of the QR decomposition Z = QR of a standard-normal Z of ``shape`` (rows ≥ columns: orthonormal columns;
    otherwise of Zᵀ, transposed), sign-corrected (Q·sign(diag R)) so that Q is uniform over orthogonal matrices.

    >>> q = orthogonal((8, 2), np.random.default_rng(0))
    >>> bool(np.allclose(q.T @ q, np.eye(2)))
    True
    """
    rows, cols = shape
    z = rng.standard_normal((rows, cols) if rows >= cols else (cols, rows))
    q, r = np.linalg.qr(z)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
    return q if rows >= cols else q.T


def _check_initializer(arg: str, spec: Any, allowed: tuple[str, ...]) -> None:
    if isinstance(spec, str):
        if spec not in allowed:
            raise ValueError(f"{arg}: got {spec!r}; allowed: {', '.join(map(repr, allowed))}, an array or a "
                             "callable (shape, rng) -> array")
    elif not callable(spec) and not hasattr(spec, "shape"):
        raise TypeError(f"{arg}: got {type(spec).__name__}; allowed: an initializer name, an array or a callable")


def _choice(arg: str, value: Any, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{arg}: got {value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


class RecurrentLayer(Layer):
    """Base of the recurrent layers: G gate blocks of H rows, the carry protocol, the initial state, the factors.

    Parameters (MATLAB's layout, gate blocks stacked by rows): ``input_weights`` (G·H, C), ``recurrent_weights``
    (G·H, H), ``bias`` (G·H,).  Learn-rate and L2 factors per array: ``input_weights_learn_rate_factor``,
    ``input_weights_l2_factor``, ``recurrent_weights_*``, ``bias_*`` (MATLAB's defaults: 1, and L2 factor 0 for the
    bias).
    """

    uses_mask = True
    factor_defaults = {"input_weights": (1.0, 1.0), "recurrent_weights": (1.0, 1.0), "bias": (1.0, 0.0)}
    #: gate blocks (G) and directions; the state arrays carried ("hidden", and "cell" for an LSTM)
    gates = 1
    directions = 1
    state_names: tuple[str, ...] = ("hidden",)
    bias_default = "zeros"

    def __init__(self, hidden_size: int, output_mode: str = "sequence",
                 input_weights_initializer: str | Callable | Any = "glorot",
                 recurrent_weights_initializer: str | Callable | Any = "orthogonal",
                 bias_initializer: str | Callable | Any | None = None, input_weights=None, recurrent_weights=None,
                 bias=None, initial_hidden_state=None, mask_recurrence: bool = False, name: str | None = None,
                 **factors: float):
        super().__init__(name=name, **factors)
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, (int, np.integer)) or hidden_size < 1:
            raise ValueError(f"hidden_size: got {hidden_size!r}; allowed: a positive integer")
        self.hidden_size = int(hidden_size)
        self.output_mode = _choice("output_mode", output_mode, OUTPUT_MODES)
        bias_initializer = self.bias_default if bias_initializer is None else bias_initializer
        bias_allowed = BIAS_INITIALIZERS if self.state_names == ("hidden", "cell") else BIAS_INITIALIZERS[1:]
        _check_initializer("input_weights_initializer", input_weights_initializer, WEIGHT_INITIALIZERS)
        _check_initializer("recurrent_weights_initializer", recurrent_weights_initializer, WEIGHT_INITIALIZERS)
        _check_initializer("bias_initializer", bias_initializer, bias_allowed)
        if not isinstance(mask_recurrence, bool):
            raise TypeError(f"mask_recurrence: got {mask_recurrence!r}; allowed: True or False")
        self.input_weights_initializer = input_weights_initializer
        self.recurrent_weights_initializer = recurrent_weights_initializer
        self.bias_initializer = bias_initializer
        self.mask_recurrence = mask_recurrence
        self._given = {"input_weights": input_weights, "recurrent_weights": recurrent_weights, "bias": bias}
        self._given_state = {"hidden": initial_hidden_state}
        #: the carry protocol (docs: the sequence interface)
        self.carry_state = False
        self.carried: dict[str, Any] | None = None

    # -- shapes and parameters --
    @property
    def state_size(self) -> int:
        """Rows of one state array: H, or 2H for two directions."""
        return self.directions * self.hidden_size

    def _output_shape(self, time) -> Shape:
        return (self.state_size,) if self.output_mode == "last" else (self.state_size, time)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 2 or input_shape[0] is None:
            raise ValueError(f"{self.describe()}: needs sequence inputs (N, C, T); got per-example shape "
                             f"{input_shape} (put a SequenceInput before it)")
        C, H, G, D = int(input_shape[0]), self.hidden_size, self.gates, self.directions
        self._make_param("input_weights", (D * G * H, C), self.input_weights_initializer, C, G * H, rng)
        self._make_param("recurrent_weights", (D * G * H, H), self.recurrent_weights_initializer, H, G * H, rng)
        self._make_param("bias", (D * G * H,), self.bias_initializer, C, G * H, rng)
        for key in self.state_names:
            given = self._given_state.get(key)
            if f"initial_{key}_state" in self.state and given is None:
                continue
            self._set_initial(key, np.zeros(self.state_size) if given is None else given)
        return self._output_shape(input_shape[1])

    def _make_param(self, key: str, shape: Shape, spec, fan_in: int, fan_out: int, rng: np.random.Generator) -> None:
        """Create params[key] unless present: the given array first, else the initializer (host float64; for two
        directions each direction's block is drawn in turn, forward first)."""
        existing = self.params.get(key)
        if existing is not None:
            if tuple(existing.shape) != tuple(shape):
                raise ValueError(f"{self.describe()}: its {key} has shape {tuple(existing.shape)} but the input "
                                 f"needs {tuple(shape)}")
            return
        given = self._given.get(key)
        if given is not None:
            self.params[key] = initialize_array(key, given, shape, fan_in, fan_out, rng)
            return
        if not isinstance(spec, str):  # an array or a callable: one call for the whole array (both directions)
            self.params[key] = initialize_array(f"{key}_initializer", spec, shape, fan_in, fan_out, rng)
            return
        block = (shape[0] // self.directions,) + tuple(shape[1:])
        self.params[key] = np.concatenate([self._draw(key, spec, block, fan_in, fan_out, rng)
                                           for _ in range(self.directions)])

    def _draw(self, key: str, spec, shape: Shape, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
        if spec == "orthogonal":
            return orthogonal(shape, rng)
        if spec == "unit-forget-gate":
            b = np.zeros(shape)
            b[self.hidden_size:2 * self.hidden_size] = 1.0  # the forget gate (second block)
            return b
        return initialize_array(f"{key}_initializer", "normal" if spec == "narrow-normal" else spec, shape, fan_in,
                                fan_out, rng)

    # -- the initial state (MATLAB's HiddenState / CellState) --
    def _set_initial(self, key: str, value) -> None:
        value = np.asarray(to_host(value), dtype=np.float64)
        if value.shape != (self.state_size,) or not np.all(np.isfinite(value)):
            raise ValueError(f"initial_{key}_state: got an array of shape {value.shape}; allowed: finite values of "
                             f"shape ({self.state_size},) (broadcast over the N sequences)")
        old = self.state.get(f"initial_{key}_state")
        self.state[f"initial_{key}_state"] = value if old is None else to_device(value, device_of(old),
                                                                                 dtype=old.dtype)

    @property
    def initial_hidden_state(self):
        """(state_size,) the hidden state every sequence starts from (zeros unless set); settable."""
        return self.state.get("initial_hidden_state", self._given_state.get("hidden"))

    @initial_hidden_state.setter
    def initial_hidden_state(self, value) -> None:
        if self.initialized:
            self._set_initial("hidden", value)
        self._given_state["hidden"] = np.array(to_host(value), dtype=np.float64)

    def _start(self, x) -> dict[str, Any]:
        """The state the forward starts from: carried (carry_state, same N), else the initial state over N."""
        N = x.shape[0]
        if self.carry_state and self.carried is not None and all(
                k in self.carried and self.carried[k].shape[0] == N for k in self.state_names):
            return {k: self.carried[k] for k in self.state_names}
        xp = get_array_module(x)
        return {k: xp.zeros((N, self.state_size), dtype=x.dtype) + self.state[f"initial_{k}_state"]
                for k in self.state_names}

    def _finish(self, final: dict[str, Any]) -> None:
        if self.carry_state:
            self.carried = final

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from the initial state."""
        self.carried = None

    def to(self, device, dtype: Any = None) -> RecurrentLayer:
        super().to(device, dtype)
        self.carried = None  # carried arrays belong to the old device and dtype
        return self

    # -- output modes --
    def _output(self, y, h):
        return h if self.output_mode == "last" else y

    def _split_dy(self, dy):
        """(dY (N, H, T) or None, dh_T (N, H) or None) from the gradient of the output."""
        return (None, dy) if self.output_mode == "last" else (dy, None)

    def describe(self) -> str:
        mode = "" if self.output_mode == "sequence" else f", output mode {self.output_mode}"
        return f"{self.name or self.kind}: {type(self).__name__} with {self.hidden_size} hidden units{mode}"


class LSTM(RecurrentLayer):
    """Long short-term memory (MATLAB lstmLayer): gates input, forget, cell candidate, output (W: (4H, C)).

    c_t = f ⊙ c_{t−1} + i ⊙ g, h_t = o ⊙ σ_s(c_t); ``state_activation`` "tanh" | "softsign",
    ``gate_activation`` "sigmoid" | "hard-sigmoid"; bias "unit-forget-gate" by default (forget block 1, others 0).
    """

    kind = "lstm"
    gates = 4
    state_names = ("hidden", "cell")
    bias_default = "unit-forget-gate"

    def __init__(self, hidden_size: int, output_mode: str = "sequence", state_activation: str = "tanh",
                 gate_activation: str = "sigmoid", initial_cell_state=None, **kwargs):
        super().__init__(hidden_size, output_mode, **kwargs)
        self.state_activation = _choice("state_activation", state_activation, RF.STATE_ACTIVATIONS)
        self.gate_activation = _choice("gate_activation", gate_activation, RF.GATE_ACTIVATIONS)
        self._given_state["cell"] = initial_cell_state

    @property
    def initial_cell_state(self):
        """(state_size,) the cell state every sequence starts from (zeros unless set); settable."""
        return self.state.get("initial_cell_state", self._given_state.get("cell"))

    @initial_cell_state.setter
    def initial_cell_state(self, value) -> None:
        if self.initialized:
            self._set_initial("cell", value)
        self._given_state["cell"] = np.array(to_host(value), dtype=np.float64)

    def _direction(self, x, mask, start, d: int):
        """One direction's forward: d = 0 forward in time, 1 backward (on the reversed sequence)."""
        H4, H = 4 * self.hidden_size, self.hidden_size
        p = self.params
        W, R, b = (p["input_weights"][d * H4:(d + 1) * H4], p["recurrent_weights"][d * H4:(d + 1) * H4],
                   p["bias"][d * H4:(d + 1) * H4])
        h0, c0 = start["hidden"][:, d * H:(d + 1) * H], start["cell"][:, d * H:(d + 1) * H]
        if d == 1:
            x = x[:, :, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        return RF.lstm_forward(x, W, R, b, h0, c0, mask=mask, mask_recurrence=self.mask_recurrence,
                               state_activation=self.state_activation, gate_activation=self.gate_activation)

    def forward(self, x, training: bool = False, mask=None):
        """x (N, C, T), mask (N, T) or None → (N, H, T), or (N, H) for output mode "last"."""
        self._check_input(x)
        y, h, c, cache = self._direction(x, mask, self._start(x), 0)
        self._finish({"hidden": h, "cell": c})
        self._cache = cache if training else None
        return self._output(y, h)

    def backward(self, dy):
        dY, dh = self._split_dy(dy)
        dx, dW, dR, db, _, _ = RF.lstm_backward(dY, self._need_cache(), dh, need_dx=self.compute_input_gradient)
        self.grads.update(input_weights=dW, recurrent_weights=dR, bias=db)
        return dx


class BiLSTM(LSTM):
    """Bidirectional LSTM (MATLAB bilstmLayer): a forward LSTM on x and a backward one on x reversed in time, their
    outputs concatenated on the channel axis, (N, 2H, T), forward first.

    Parameters stacked as MATLAB stores them: 8H rows, the forward direction's four gate blocks first, then the
    backward one's.  Output mode "last": [the forward direction at step T; the backward direction at step 1] (each
    direction's final state).  The state arrays (initial and carried) are (2H,) / (N, 2H), forward first.
    """

    kind = "bilstm"
    directions = 2

    def forward(self, x, training: bool = False, mask=None):
        self._check_input(x)
        xp = get_array_module(x)
        start = self._start(x)
        yf, hf, cf, cache_f = self._direction(x, mask, start, 0)
        yb, hb, cb, cache_b = self._direction(x, mask, start, 1)
        h = xp.concatenate([hf, hb], axis=1)
        self._finish({"hidden": h, "cell": xp.concatenate([cf, cb], axis=1)})
        self._cache = (cache_f, cache_b) if training else None
        if self.output_mode == "last":
            return h
        return xp.concatenate([yf, yb[:, :, ::-1]], axis=1)

    def backward(self, dy):
        cache_f, cache_b = self._need_cache()
        H = self.hidden_size
        dY, dh = self._split_dy(dy)
        out = []
        for d, cache in ((0, cache_f), (1, cache_b)):
            dY_d = None if dY is None else dY[:, d * H:(d + 1) * H]
            if d == 1 and dY_d is not None:
                dY_d = dY_d[:, :, ::-1]
            dh_d = None if dh is None else dh[:, d * H:(d + 1) * H]
            out.append(RF.lstm_backward(dY_d, cache, dh_d, need_dx=self.compute_input_gradient))
        (dxf, dWf, dRf, dbf, _, _), (dxb, dWb, dRb, dbb, _, _) = out
        xp = get_array_module(dWf)
        self.grads.update(input_weights=xp.concatenate([dWf, dWb]), recurrent_weights=xp.concatenate([dRf, dRb]),
                          bias=xp.concatenate([dbf, dbb]))
        return None if dxf is None else dxf + dxb[:, :, ::-1]


class GRU(RecurrentLayer):
    """Gated recurrent unit (MATLAB gruLayer): gates reset, update, candidate (W: (3H, C)).

    h_t = (1 − z) ⊙ h̃ + z ⊙ h_{t−1}; ``reset_gate_mode`` "after-multiplication" (MATLAB's default,
    h̃ = σ_s(W_h x + r ⊙ (R_h h) + b_h)), "before-multiplication" (h̃ = σ_s(W_h x + R_h (r ⊙ h) + b_h)) or
    "recurrent-bias-after-multiplication" (h̃ = σ_s(W_h x + b_h + r ⊙ (R_h h + b_Rh)), PyTorch's GRU; the recurrent
    bias ``recurrent_bias`` (3H,) is added to all three recurrent products, with the bias's factors by default).
    """

    kind = "gru"
    gates = 3

    def __init__(self, hidden_size: int, output_mode: str = "sequence",
                 reset_gate_mode: str = "after-multiplication", state_activation: str = "tanh",
                 gate_activation: str = "sigmoid", recurrent_bias=None, **kwargs):
        mode = _choice("reset_gate_mode", reset_gate_mode, RF.GRU_RESET_MODES)
        if mode == "recurrent-bias-after-multiplication":
            self.factor_defaults = {**RecurrentLayer.factor_defaults, "recurrent_bias": (1.0, 0.0)}
        super().__init__(hidden_size, output_mode, **kwargs)
        self.reset_gate_mode = mode
        self.state_activation = _choice("state_activation", state_activation, RF.STATE_ACTIVATIONS)
        self.gate_activation = _choice("gate_activation", gate_activation, RF.GATE_ACTIVATIONS)
        self._given["recurrent_bias"] = recurrent_bias

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        out = super().build(input_shape, rng)
        if self.reset_gate_mode == "recurrent-bias-after-multiplication":
            self._make_param("recurrent_bias", (3 * self.hidden_size,), self.bias_initializer, self.hidden_size,
                             3 * self.hidden_size, rng)
        return out

    def forward(self, x, training: bool = False, mask=None):
        """x (N, C, T), mask (N, T) or None → (N, H, T), or (N, H) for output mode "last"."""
        self._check_input(x)
        p = self.params
        y, h, cache = RF.gru_forward(x, p["input_weights"], p["recurrent_weights"], p["bias"],
                                     p.get("recurrent_bias"), self._start(x)["hidden"], mask=mask,
                                     mask_recurrence=self.mask_recurrence, reset_gate_mode=self.reset_gate_mode,
                                     state_activation=self.state_activation, gate_activation=self.gate_activation)
        self._finish({"hidden": h})
        self._cache = cache if training else None
        return self._output(y, h)

    def backward(self, dy):
        dY, dh = self._split_dy(dy)
        dx, dW, dR, db, drb, _ = RF.gru_backward(dY, self._need_cache(), dh, need_dx=self.compute_input_gradient)
        self.grads.update(input_weights=dW, recurrent_weights=dR, bias=db)
        if drb is not None:
            self.grads["recurrent_bias"] = drb
        return dx


class BasicRecurrent(RecurrentLayer):
    """The basic recurrent layer (Wolfram BasicRecurrentLayer): s_t = f(W x_t + R s_{t−1} + b), f ``activation``
    (a Wolfram elementwise name, "Tanh" by default).  Output mode "sequence" as Wolfram (a "last" option too)."""

    kind = "rnn"

    def __init__(self, hidden_size: int, activation: str = "Tanh", output_mode: str = "sequence", **kwargs):
        super().__init__(hidden_size, output_mode, **kwargs)
        self.activation = _choice("activation", activation, tuple(ELEMENTWISE_FUNCTIONS))

    def forward(self, x, training: bool = False, mask=None):
        self._check_input(x)
        p = self.params
        y, h, cache = RF.rnn_forward(x, p["input_weights"], p["recurrent_weights"], p["bias"],
                                     self._start(x)["hidden"], mask=mask, mask_recurrence=self.mask_recurrence,
                                     activation=self.activation)
        self._finish({"hidden": h})
        self._cache = cache if training else None
        return self._output(y, h)

    def backward(self, dy):
        dY, dh = self._split_dy(dy)
        dx, dW, dR, db, _ = RF.rnn_backward(dY, self._need_cache(), dh, need_dx=self.compute_input_gradient)
        self.grads.update(input_weights=dW, recurrent_weights=dR, bias=db)
        return dx


class SequenceLast(Layer):
    """Wolfram SequenceLastLayer: the last real step of each sequence (from the mask; step T without one),
    (N, C, T) → (N, C)."""

    kind = "seqlast"
    uses_mask = True

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"{self.describe()}: needs sequence inputs (N, C, T); got per-example shape "
                             f"{input_shape}")
        return (input_shape[0],)

    def forward(self, x, training: bool = False, mask=None):
        self._check_input(x)
        y, cache = RF.sequence_last_forward(x, mask)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return RF.sequence_last_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: last element of a sequence"
