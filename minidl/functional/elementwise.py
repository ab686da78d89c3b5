"""Elementwise functions f(x) and their derivatives f′(x), by name (Wolfram ElementwiseLayer; docs/wolfram-layers.md).

Each entry of :data:`FUNCTIONS` is ``(f, df)`` with ``f(xp, x) -> y`` and ``df(xp, x, y) -> dy/dx``, written once
against ``xp`` in the input's dtype, stable for large |x| (no overflow: LogisticSigmoid and SoftPlus go through
exp(−|x|)).  The forward keeps (x, y, name) for the backward: dx = dy · f′(x).

>>> import numpy as np
>>> y, cache = elementwise_forward(np.array([-1.0, 0.0, 2.0]), "Ramp")
>>> y
array([0., 0., 2.])
>>> elementwise_backward(np.ones(3), cache)       # Ramp′ = [x > 0] (0 at the kink)
array([0., 0., 1.])
>>> float(elementwise_forward(np.array(0.0), "LogisticSigmoid")[0])
0.5
"""

from __future__ import annotations

from collections.abc import Callable

from minidl.backend import get_array_module

__all__ = ["FUNCTIONS", "SELU_ALPHA", "SELU_LAMBDA", "elementwise_forward", "elementwise_backward"]

#: SELU's constants (Klambauer et al. 2017, as in Wolfram's "SELU" and PyTorch's selu).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946


def _sigmoid(xp, x):
    """σ(x) = 1/(1 + e^(−x)), from e = e^(−|x|): x ≥ 0: 1/(1 + e); x < 0: e/(1 + e)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(xp, x):
    """log(1 + eˣ) = max(x, 0) + log(1 + e^(−|x|))."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _elu(xp, x):
    """x for x > 0, eˣ − 1 otherwise (α = 1)."""
    return xp.where(x > 0, x, xp.expm1(xp.minimum(x, 0)))


Fn = Callable
#: name -> (f(xp, x), f′(xp, x, y)).  Kinks (Ramp and Abs at 0, HardTanh at ±1) take the derivative 0 there.
FUNCTIONS: dict[str, tuple[Fn, Fn]] = {
    "Ramp": (lambda xp, x: xp.maximum(x, 0), lambda xp, x, y: (x > 0).astype(x.dtype)),
    "LogisticSigmoid": (_sigmoid, lambda xp, x, y: y * (1 - y)),                       # σ′ = σ(1 − σ)
    "Tanh": (lambda xp, x: xp.tanh(x), lambda xp, x, y: 1 - y * y),                      # tanh′ = 1 − tanh²
    "ArcTan": (lambda xp, x: xp.arctan(x), lambda xp, x, y: 1 / (1 + x * x)),
    "Sin": (lambda xp, x: xp.sin(x), lambda xp, x, y: xp.cos(x)),
    "Cos": (lambda xp, x: xp.cos(x), lambda xp, x, y: -xp.sin(x)),
    "Sinh": (lambda xp, x: xp.sinh(x), lambda xp, x, y: xp.cosh(x)),
    "Cosh": (lambda xp, x: xp.cosh(x), lambda xp, x, y: xp.sinh(x)),
    "Exp": (lambda xp, x: xp.exp(x), lambda xp, x, y: y),
    "Log": (lambda xp, x: xp.log(x), lambda xp, x, y: 1 / x),
    "Sqrt": (lambda xp, x: xp.sqrt(x), lambda xp, x, y: 0.5 / y),
    "Abs": (lambda xp, x: xp.abs(x), lambda xp, x, y: xp.sign(x)),
    "SoftPlus": (_softplus, lambda xp, x, y: _sigmoid(xp, x)),                        # (log(1 + eˣ))′ = σ(x)
    "SoftSign": (lambda xp, x: x / (1 + xp.abs(x)), lambda xp, x, y: 1 / ((1 + xp.abs(x)) ** 2)),
    "HardTanh": (lambda xp, x: xp.clip(x, -1, 1), lambda xp, x, y: (xp.abs(x) < 1).astype(x.dtype)),
    "ELU": (_elu, lambda xp, x, y: xp.where(x > 0, 1, y + 1).astype(x.dtype)),          # x ≤ 0: (eˣ − 1)′ = eˣ
    "SELU": (lambda xp, x: SELU_LAMBDA * xp.where(x > 0, x, SELU_ALPHA * xp.expm1(xp.minimum(x, 0))),
             lambda xp, x, y: xp.where(x > 0, SELU_LAMBDA, y + SELU_LAMBDA * SELU_ALPHA).astype(x.dtype)),
    "Swish": (lambda xp, x: x * _sigmoid(xp, x),                                         # x·σ(x)
              lambda xp, x, y: (lambda s: s + x * s * (1 - s))(_sigmoid(xp, x))),        # σ + xσ(1 − σ)
}


def _function(name: str) -> tuple[Fn, Fn]:
    if name not in FUNCTIONS:
        raise ValueError(f"f: got {name!r}; allowed: {', '.join(FUNCTIONS)}")
    return FUNCTIONS[name]


def elementwise_forward(x, name: str):
    """y = f(x) element by element.  x: any shape → y: shape and dtype of x.  Returns (y, cache = (x, y, name)).

    Reference: :func:`minidl.functional.reference.elementwise_forward`.
    """
    f, _ = _function(name)
    xp = get_array_module(x)
    y = f(xp, x).astype(x.dtype, copy=False)
    return y, (x, y, name)


def elementwise_backward(dy, cache):
    """dx = dy · f′(x).  dy: shape of y → dx: shape of x.

    Reference: :func:`minidl.functional.reference.elementwise_backward`.
    """
    x, y, name = cache
    xp = get_array_module(dy)
    return (dy * _function(name)[1](xp, x, y)).astype(dy.dtype, copy=False)
