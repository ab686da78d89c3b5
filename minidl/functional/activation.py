"""ReLU and softmax (docs/layers.md)."""

from __future__ import annotations

from minidl.backend import get_array_module


def relu_forward(x):
    """y = max(x, 0).  x: any shape.  Returns (y, cache) with cache the mask x > 0.

    Reference: :func:`minidl.functional.reference.relu_forward`.
    """
    xp = get_array_module(x)
    mask = x > 0
    return xp.multiply(x, mask, dtype=x.dtype), mask


def relu_backward(dy, mask):
    """dx = dy · [x > 0] (the subgradient 0 is taken at x = 0).

    Reference: :func:`minidl.functional.reference.relu_backward`.
    """
    xp = get_array_module(dy)
    return xp.multiply(dy, mask, dtype=dy.dtype)


def softmax_forward(x):
    """y_nk = exp(x_nk − max_k x_nk) / Σ_j exp(x_nj − max_k x_nk).  x: (N, K).  Returns (y, cache = y).

    Reference: :func:`minidl.functional.reference.softmax_forward`.
    """
    xp = get_array_module(x)
    z = x - x.max(axis=1, keepdims=True)  # shift for stability: softmax is invariant to it
    xp.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z, z


def softmax_backward(dy, y):
    """dx_nk = y_nk · (dy_nk − Σ_j dy_nj y_nj).  dy, y: (N, K).

    Reference: :func:`minidl.functional.reference.softmax_backward` (the full Jacobian, written out).
    """
    return y * (dy - (dy * y).sum(axis=1, keepdims=True))
