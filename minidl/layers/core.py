"""Fully connected, ReLU, softmax and dropout layers (math in minidl.functional; equations in docs/layers.md)."""

from __future__ import annotations

import numpy as np

from minidl import functional as F
from minidl._checks import check_positive_int
from minidl.layers._params import WeightBiasLayer
from minidl.layers.base import Layer, Shape


class FullyConnected(WeightBiasLayer):
    """y = x Wᵀ + b; W: (output_size, input_size), b: (output_size,); image inputs are flattened (C, H, W order).

    Sequences (N, C, T) (input shape (C, None)): the same map at every time step, y[:, :, t] = x[:, :, t] Wᵀ + b, as
    one matrix product over the N·T steps; output (N, output_size, T).
    """

    kind = "fc"

    def __init__(self, output_size: int, **kwargs):
        super().__init__(**kwargs)
        self.output_size = check_positive_int("output_size", output_size, wrong_type=ValueError)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if None in input_shape and (len(input_shape) != 2 or input_shape[0] is None):
            raise ValueError(f"{self.describe()}: a time axis only as (C, None) sequences; got per-example shape "
                             f"{input_shape}")
        sequence = len(input_shape) == 2 and input_shape[1] is None
        n_in = int(input_shape[0]) if sequence else int(np.prod(input_shape))
        self._make_params((self.output_size, n_in), (self.output_size,), n_in, self.output_size, rng)
        return (self.output_size, None) if sequence else (self.output_size,)

    @property
    def _sequence(self) -> bool:
        return self.input_shape is not None and self.input_shape[-1] is None

    def forward(self, x, training: bool = False):
        self._check_input(x)
        if self._sequence:                                   # (N, C, T) → rows (N·T, C): one product for all steps
            n, c, t = x.shape
            y, cache = F.dense_forward(x.transpose(0, 2, 1).reshape(n * t, c), self.params["weight"],
                                       self.params["bias"])
            self._cache = (cache, n, t) if training else None
            return y.reshape(n, t, self.output_size).transpose(0, 2, 1)
        y, cache = F.dense_forward(x, self.params["weight"], self.params["bias"])
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        if self._sequence:
            cache, n, t = self._need_cache()
            dx, self.grads["weight"], self.grads["bias"] = F.dense_backward(
                dy.transpose(0, 2, 1).reshape(n * t, self.output_size), cache, need_dx=self.compute_input_gradient)
            return None if dx is None else dx.reshape(n, t, -1).transpose(0, 2, 1)
        dx, self.grads["weight"], self.grads["bias"] = F.dense_backward(dy, self._need_cache(),
                                                                        need_dx=self.compute_input_gradient)
        return dx

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.output_size} fully connected"


class ReLU(Layer):
    """y = max(x, 0)."""

    kind = "relu"

    def forward(self, x, training: bool = False):
        y, mask = F.relu_forward(x)
        self._cache = mask if training else None
        return y

    def backward(self, dy):
        return F.relu_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: ReLU"


class Softmax(Layer):
    """y_k = exp(x_k) / Σ_j exp(x_j) over the channel axis 1 of (N, K), or of sequences (N, K, T) at each step."""

    kind = "softmax"

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        if len(input_shape) != 1 and not (len(input_shape) == 2 and input_shape[1] is None):
            raise ValueError(f"{self.describe()}: needs (N, K) inputs or (N, K, T) sequences; got per-example shape "
                             f"{input_shape} (put a FullyConnected layer before it)")
        return input_shape

    def forward(self, x, training: bool = False):
        y, cache = F.softmax_forward(x)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return F.softmax_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: softmax"


class Dropout(Layer):
    """Inverted dropout: in training y = x·[u > p]/(1 − p) with u ~ U[0,1) from the network's generator; else y = x."""

    kind = "dropout"

    def __init__(self, probability: float = 0.5, name: str | None = None):
        super().__init__(name=name)
        if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability < 1:
            raise ValueError(f"probability: got {probability!r}; allowed: a number in [0, 1)")
        self.probability = float(probability)
        self.rng: np.random.Generator | None = None  # set by Network.set_rng
        self.shard: tuple[int, int, int] | None = None  # (lo, hi, B): a data-parallel worker's rows (set_shard)

    def forward(self, x, training: bool = False):
        if not training:
            self._cache = None
            return x
        if self.rng is None:
            raise RuntimeError(f"{self.describe()}: no random generator; call Network.set_rng(rng) "
                               "(the network's initialize does)")
        y, self._cache = F.dropout_forward(x, self.probability, self.rng, self.shard)
        return y

    def backward(self, dy):
        return F.dropout_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.probability:g} dropout"
