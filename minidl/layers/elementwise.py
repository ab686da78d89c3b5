"""An elementwise function layer (Wolfram ElementwiseLayer): y = f(x) for every element, f from
:data:`minidl.functional.ELEMENTWISE_FUNCTIONS` (math in :mod:`minidl.functional.elementwise`)."""

from __future__ import annotations

from minidl import functional as F
from minidl.layers.base import Layer


class Elementwise(Layer):
    """y = f(x) element by element, any shape; f is a name: "Ramp", "LogisticSigmoid", "Tanh", "SoftPlus", ..."""

    kind = "elementwise"

    def __init__(self, function: str, name: str | None = None):
        super().__init__(name=name)
        if not isinstance(function, str) or function not in F.ELEMENTWISE_FUNCTIONS:
            raise ValueError(f"function: got {function!r}; allowed: {', '.join(F.ELEMENTWISE_FUNCTIONS)}")
        self.function = function

    def forward(self, x, training: bool = False):
        self._check_input(x)
        y, cache = F.elementwise_forward(x, self.function)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return F.elementwise_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: {self.function}"
