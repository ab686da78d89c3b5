"""Output losses (docs/layers.md): cross-entropy, MATLAB's half squared error and Wolfram's mean squared error, per
observation and as their mean over N.

The two regression losses differ only in how they divide.  With y, t: (N, R) (every non-N axis counted in R):

- MATLAB ``regressionLayer`` (half-MSE):       L = Σₙ Σᵣ ½(yₙᵣ − tₙᵣ)² / N      (over observations only);
- Wolfram ``MeanSquaredLossLayer``:             L = Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / (N·R)  (the mean over every element);

so mean_squared_loss = (2/R) · half_mse_loss, and both report the same RMSE = √(Σₙ Σᵣ (y − t)²/(N·R)):
√(2·L/R) from half-MSE, √L from the mean squared loss (``rmse_from_loss`` of RegressionOutput and MeanSquaredLoss).

>>> import numpy as np
>>> y, t = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
>>> mean_squared_example_losses(y, t)   # [(1 + 4)/2, 4/2]
array([2.5, 2. ])
>>> float(mean_squared_loss(y, t)), float(half_mse_loss(y, t))   # ratio 2/R = 1 here
(2.25, 2.25)
"""

from __future__ import annotations

from minidl.backend import get_array_module


def _floor(y):
    """y floored at the dtype's smallest normal number, so log y and 1/y stay finite."""
    xp = get_array_module(y)
    return xp.maximum(y, xp.finfo(y.dtype).tiny)


def cross_entropy_example_losses(y, t):
    """ℓₙ = −Σₖ tₙₖ log yₙₖ.  y: (N, K) probabilities, t: (N, K) one-hot or soft targets.  Returns (N,).

    Reference (their mean): :func:`minidl.functional.reference.cross_entropy_loss`.
    """
    xp = get_array_module(y)
    return -(t * xp.log(_floor(y))).sum(axis=1)


def cross_entropy_loss(y, t):
    """loss = Σₙ ℓₙ / N (a 0-d array: no host round trip).

    Reference: :func:`minidl.functional.reference.cross_entropy_loss`.
    """
    return cross_entropy_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def cross_entropy_gradient(y, t):
    """dL/dy = −t / (N · y).  y, t: (N, K).

    Reference: :func:`minidl.functional.reference.cross_entropy_gradient`.
    """
    return -t / (_floor(y) * y.dtype.type(y.shape[0]))


def half_mse_example_losses(y, t):
    """ℓₙ = Σᵣ ½ (yₙᵣ − tₙᵣ)².  y, t: (N, R) (or (N, ...): summed over every non-N axis).  Returns (N,).

    Reference (their mean): :func:`minidl.functional.reference.half_mse_loss`.
    """
    d = (y - t).reshape(y.shape[0], -1)
    return 0.5 * (d * d).sum(axis=1)


def half_mse_loss(y, t):
    """loss = Σₙ ℓₙ / N (MATLAB: divided by observations, not by responses).

    Reference: :func:`minidl.functional.reference.half_mse_loss`.
    """
    return half_mse_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def half_mse_gradient(y, t):
    """dL/dy = (y − t) / N.

    Reference: :func:`minidl.functional.reference.half_mse_gradient`.
    """
    return (y - t) / y.dtype.type(y.shape[0])


def mean_squared_example_losses(y, t):
    """ℓₙ = Σᵣ (yₙᵣ − tₙᵣ)² / R, the mean over each example's R elements.  y, t: (N, ...) alike.  Returns (N,).

    Reference (their mean): :func:`minidl.functional.reference.mean_squared_loss`.
    """
    d = (y - t).reshape(y.shape[0], -1)
    return (d * d).mean(axis=1)


def mean_squared_loss(y, t):
    """loss = Σₙ ℓₙ / N = Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / (N·R) = (2/R) · half_mse_loss (Wolfram), a 0-d array (no host round
    trip).  Reference: :func:`minidl.functional.reference.mean_squared_loss`."""
    return mean_squared_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def mean_squared_gradient(y, t):
    """dL/dy = 2·(y − t) / (N·R).  y, t: (N, ...) alike.

    Reference: :func:`minidl.functional.reference.mean_squared_gradient`.
    """
    n = y.shape[0]
    r = y.size // n if n else 1
    return (y - t) * (2.0 / (n * r))


# ------------------------------------------------------------------------------------------------ Wolfram's others
def _elements(y):
    """(N, R) view of y: every non-N axis counted in R."""
    return y.reshape(y.shape[0], -1)


def binary_cross_entropy_example_losses(y, t):
    """ℓₙ = −Σᵣ [tₙᵣ log yₙᵣ + (1 − tₙᵣ) log(1 − yₙᵣ)] / R (Wolfram CrossEntropyLossLayer["Binary"]: the mean over
    each example's R elements).  y: (N, ...) probabilities in (0, 1), t: same shape, targets in [0, 1] (False/True
    as 0/1).  y and 1 − y are floored at the smallest normal number.  Returns (N,).

    Reference (their mean): :func:`minidl.functional.reference.binary_cross_entropy_loss`.
    """
    xp = get_array_module(y)
    y2, t2 = _elements(y), _elements(t)
    return -(t2 * xp.log(_floor(y2)) + (1 - t2) * xp.log(_floor(1 - y2))).mean(axis=1)


def binary_cross_entropy_loss(y, t):
    """loss = Σₙ ℓₙ / N, a 0-d array.  Reference: :func:`minidl.functional.reference.binary_cross_entropy_loss`."""
    return binary_cross_entropy_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def binary_cross_entropy_gradient(y, t):
    """dL/dy = (y − t) / (y·(1 − y)·N·R) (y and 1 − y floored as in the loss).  y, t: (N, ...) alike.

    Reference: :func:`minidl.functional.reference.binary_cross_entropy_gradient`.
    """
    n = y.shape[0]
    r = y.size // n if n else 1
    return (y - t) / (_floor(y) * _floor(1 - y) * (n * r))


def mean_absolute_example_losses(y, t):
    """ℓₙ = Σᵣ |yₙᵣ − tₙᵣ| / R (Wolfram MeanAbsoluteLossLayer: the mean over each example's R elements).
    y, t: (N, ...) alike.  Returns (N,).

    Reference (their mean): :func:`minidl.functional.reference.mean_absolute_loss`.
    """
    xp = get_array_module(y)
    return xp.abs(_elements(y - t)).mean(axis=1)


def mean_absolute_loss(y, t):
    """loss = Σₙ ℓₙ / N = Σₙ Σᵣ |yₙᵣ − tₙᵣ| / (N·R), a 0-d array.

    Reference: :func:`minidl.functional.reference.mean_absolute_loss`.
    """
    return mean_absolute_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def mean_absolute_gradient(y, t):
    """dL/dy = sign(y − t) / (N·R) (0 where y = t).  y, t: (N, ...) alike.

    Reference: :func:`minidl.functional.reference.mean_absolute_gradient`.
    """
    xp = get_array_module(y)
    n = y.shape[0]
    r = y.size // n if n else 1
    return (xp.sign(y - t) / (n * r)).astype(y.dtype, copy=False)
