"""Output losses (docs/layers.md): cross-entropy and half squared error per observation, and their mean over N."""

from __future__ import annotations

from minidl.backend import get_array_module


def _floor(y):
    """y floored at the dtype's smallest normal number, so log y and 1/y stay finite."""
    xp = get_array_module(y)
    return xp.maximum(y, xp.finfo(y.dtype).tiny)


def cross_entropy_example_losses(y, t):
    """ℓₙ = −Σₖ tₙₖ log yₙₖ.  y: (N, K) probabilities, t: (N, K) one-hot or soft targets.  Returns (N,)."""
    xp = get_array_module(y)
    return -(t * xp.log(_floor(y))).sum(axis=1)


def cross_entropy_loss(y, t):
    """loss = Σₙ ℓₙ / N (a 0-d array: no host round trip)."""
    return cross_entropy_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def cross_entropy_gradient(y, t):
    """dL/dy = −t / (N · y).  y, t: (N, K)."""
    return -t / (_floor(y) * y.dtype.type(y.shape[0]))


def half_mse_example_losses(y, t):
    """ℓₙ = Σᵣ ½ (yₙᵣ − tₙᵣ)².  y, t: (N, R) (or (N, ...): summed over every non-N axis).  Returns (N,)."""
    d = (y - t).reshape(y.shape[0], -1)
    return 0.5 * (d * d).sum(axis=1)


def half_mse_loss(y, t):
    """loss = Σₙ ℓₙ / N (MATLAB: divided by observations, not by responses)."""
    return half_mse_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def half_mse_gradient(y, t):
    """dL/dy = (y − t) / N."""
    return (y - t) / y.dtype.type(y.shape[0])
