"""Fully connected layer: y = x Wᵀ + b (docs/layers.md)."""

from __future__ import annotations

import math


def dense_forward(x, W, b):
    """x: (N, I) (or (N, C, H, W), flattened to I = C·H·W), W: (O, I), b: (O,).  Returns (y (N, O), cache).

    Reference: :func:`minidl.functional.reference.dense_forward`.
    """
    x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))   # (an empty batch of a data-parallel worker too)
    return x2 @ W.T + b, (x2, x.shape, W)


def dense_backward(dy, cache, need_dx: bool = True):
    """dy: (N, O).  Returns (dx = dy W (shape of x; None unless need_dx), dW = dyᵀ x (O, I), db = Σ_n dy (O,)).

    Reference: :func:`minidl.functional.reference.dense_backward`.
    """
    x2, x_shape, W = cache
    dx = (dy @ W).reshape(x_shape) if need_dx else None
    return dx, dy.T @ x2, dy.sum(axis=0)
