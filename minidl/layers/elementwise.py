"""Elementwise layers: Wolfram's ElementwiseLayer (y = f(x) for every element, f from
:data:`minidl.functional.ELEMENTWISE_FUNCTIONS`, math in :mod:`minidl.functional.elementwise`) and MATLAB's
activation layers leakyReluLayer, clippedReluLayer, eluLayer, tanhLayer, sigmoidLayer (math in
:mod:`minidl.functional.activation`).  Any input shape, sequences included."""

from __future__ import annotations

import math
import numbers

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


def _number(arg: str, value, low: float, strict: bool) -> float:
    """A finite real ``value`` > low (strict) or ≥ low, as a float; else a ValueError naming ``arg``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and (
        value > low if strict else value >= low)
    if not ok:
        raise ValueError(f"{arg}: got {value!r}; allowed: a finite number {'>' if strict else '>='} {low:g}")
    return float(value)


class LeakyReLU(Layer):
    """y = x for x > 0, scale·x otherwise (MATLAB leakyReluLayer(scale), default scale 0.01)."""

    kind = "leakyrelu"

    def __init__(self, scale: float = 0.01, name: str | None = None):
        super().__init__(name=name)
        self.scale = _number("scale", scale, -math.inf, True)

    def forward(self, x, training: bool = False):
        y, cache = F.leaky_relu_forward(x, self.scale)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return F.leaky_relu_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: leaky ReLU with scale {self.scale:g}"


class ClippedReLU(Layer):
    """y = min(max(x, 0), ceiling) (MATLAB clippedReluLayer(ceiling), ceiling > 0)."""

    kind = "clippedrelu"

    def __init__(self, ceiling: float, name: str | None = None):
        super().__init__(name=name)
        self.ceiling = _number("ceiling", ceiling, 0.0, True)

    def forward(self, x, training: bool = False):
        y, cache = F.clipped_relu_forward(x, self.ceiling)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return F.clipped_relu_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: clipped ReLU with ceiling {self.ceiling:g}"


class ELU(Layer):
    """y = x for x > 0, α·(eˣ − 1) otherwise (MATLAB eluLayer(alpha), default α = 1; Wolfram "ELU" is α = 1)."""

    kind = "elu"

    def __init__(self, alpha: float = 1.0, name: str | None = None):
        super().__init__(name=name)
        self.alpha = _number("alpha", alpha, 0.0, True)

    def forward(self, x, training: bool = False):
        y, cache = F.elu_forward(x, self.alpha)
        self._cache = cache if training else None
        return y

    def backward(self, dy):
        return F.elu_backward(dy, self._need_cache())

    def describe(self) -> str:
        return f"{self.name or self.kind}: ELU with alpha {self.alpha:g}"


class Tanh(Elementwise):
    """y = tanh(x) (MATLAB tanhLayer; Wolfram ElementwiseLayer[Tanh]); the math of Elementwise("Tanh")."""

    kind = "tanh"

    def __init__(self, name: str | None = None):
        super().__init__("Tanh", name=name)

    def describe(self) -> str:
        return f"{self.name or self.kind}: hyperbolic tangent"


class Sigmoid(Elementwise):
    """y = 1/(1 + e^(−x)) (MATLAB sigmoidLayer; Wolfram LogisticSigmoid); the math of Elementwise("LogisticSigmoid")."""

    kind = "sigmoid"

    def __init__(self, name: str | None = None):
        super().__init__("LogisticSigmoid", name=name)

    def describe(self) -> str:
        return f"{self.name or self.kind}: sigmoid"
