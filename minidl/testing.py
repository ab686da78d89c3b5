"""Audit tools shipped with minidl: finite-difference gradient checks, a telling ``assert_allclose``, ``check_layer``.

All checks run in float64. A function or layer may live on any device; the finite differences perturb host copies
and move them back, so the same check audits NumPy, CuPy and the stand-in alike.

>>> import numpy as np
>>> from minidl.testing import gradient_check
>>> x = np.array([0.5, -1.5, 2.0])
>>> errors = gradient_check(lambda x: x ** 3, {"x": x}, lambda dy: {"x": 3 * x ** 2 * dy})
>>> errors["x"] < 1e-7
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from minidl.backend import device_of, get_device, to_device, to_host

__all__ = ["assert_allclose", "gradient_check", "check_layer", "numerical_gradient"]


def assert_allclose(actual, desired, rtol: float = 1e-7, atol: float = 0.0, name: str = "array") -> None:
    """Raise AssertionError naming the worst element (index, both values, abs and rel error) unless all are close.

    The test is |actual − desired| ≤ atol + rtol·|desired| element-wise (as numpy.testing.assert_allclose); shapes
    must match exactly; NaNs must coincide.
    """
    a = np.asarray(to_host(actual), dtype=np.float64)
    d = np.asarray(to_host(desired), dtype=np.float64)
    if a.shape != d.shape:
        raise AssertionError(f"{name}: shape {a.shape} != expected {d.shape}")
    nan_a, nan_d = np.isnan(a), np.isnan(d)
    if np.any(nan_a != nan_d):
        i = np.unravel_index(np.argmax(nan_a != nan_d), a.shape)
        raise AssertionError(f"{name}: NaN mismatch at {i}: {a[i]!r} vs expected {d[i]!r}")
    a, d = np.where(nan_a, 0.0, a), np.where(nan_d, 0.0, d)
    err = np.abs(a - d)
    excess = err - (atol + rtol * np.abs(d))
    if a.size and np.max(excess) > 0:
        i = np.unravel_index(np.argmax(excess), a.shape)
        rel = err[i] / abs(d[i]) if d[i] != 0 else np.inf
        bad = int(np.sum(excess > 0))
        raise AssertionError(
            f"{name}: {bad} of {a.size} elements differ; worst at index {tuple(map(int, i))}: got {a[i]!r}, "
            f"expected {d[i]!r}, abs error {err[i]:.3e}, rel error {rel:.3e} (rtol={rtol:g}, atol={atol:g})")


def _scalar(f: Callable[[], Any], dy: np.ndarray) -> float:
    """L = Σ f() · dy in float64 on the host."""
    return float(np.sum(np.asarray(to_host(f()), dtype=np.float64) * dy))


def numerical_gradient(f: Callable[[], Any], x, dy: np.ndarray, eps: float = 1e-6,
                       directions: int | None = None, rng: np.random.Generator | None = None):
    """Central differences of L = Σ f()·dy with respect to the array ``x``, which ``f`` reads (perturbed in place).

    With ``directions=k``: k random unit directions d; returns (D (k, x.size), dL/dd (k,)) instead of the full
    gradient, for large tensors.  x must be float64.
    """
    host = np.array(to_host(x), dtype=np.float64)
    dev = device_of(x)

    def write(values):
        x[...] = to_device(values, dev, dtype=x.dtype)

    try:
        if directions is None:
            grad = np.zeros(host.shape)
            flat = host.reshape(-1)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + eps
                write(host)
                plus = _scalar(f, dy)
                flat[i] = old - eps
                write(host)
                minus = _scalar(f, dy)
                flat[i] = old
                grad.reshape(-1)[i] = (plus - minus) / (2 * eps)
            return grad
        rng = rng if rng is not None else np.random.default_rng(0)
        dirs = rng.standard_normal((directions, host.size))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        slopes = np.empty(directions)
        for k in range(directions):
            write(host + eps * dirs[k].reshape(host.shape))
            plus = _scalar(f, dy)
            write(host - eps * dirs[k].reshape(host.shape))
            minus = _scalar(f, dy)
            slopes[k] = (plus - minus) / (2 * eps)
        return dirs, slopes
    finally:
        write(host)


def gradient_check(f: Callable[..., Any], inputs: Mapping[str, Any], backward: Callable[[Any], Mapping[str, Any]],
                   dy=None, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-9,
                   directions: int | None = None, rng: np.random.Generator | None = None) -> dict[str, float]:
    """Check analytic gradients of y = f(**inputs) against central finite differences in float64.

    ``backward(dy)`` returns ``{name: dL/d input}`` for L = Σ y·dy (any subset of ``inputs``; it is called once,
    after one ``f`` call).  ``dy`` defaults to standard-normal values from ``rng``.  Every element is checked, or,
    with ``directions=k``, k random directions (for large tensors).  Keep inputs away from kinks (ReLU at 0,
    max-pool ties) by more than ``eps``.  Returns the worst relative error per input; raises AssertionError (naming
    the input and the worst element) when a gradient is off.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    for name, x in inputs.items():
        if getattr(x, "dtype", None) != np.float64:
            raise TypeError(f"gradient_check: input {name!r} has dtype {getattr(x, 'dtype', type(x))}; allowed: "
                            "float64 (finite differences are meaningless in float32)")
    y = f(**inputs)
    dy_host = rng.standard_normal(np.shape(to_host(y))) if dy is None else np.asarray(to_host(dy), np.float64)
    analytic = backward(to_device(dy_host, device_of(y), dtype=y.dtype))
    worst = {}
    for name, g in analytic.items():
        g = np.asarray(to_host(g), dtype=np.float64)
        x = inputs[name]
        numeric = numerical_gradient(lambda: f(**inputs), x, dy_host, eps, directions, rng)
        if directions is None:
            assert_allclose(g, numeric, rtol=rtol, atol=atol, name=f"gradient of {name!r}")
            scale = np.maximum(np.abs(numeric), atol / rtol if rtol else 1.0)
            worst[name] = float(np.max(np.abs(g - numeric) / scale)) if g.size else 0.0
        else:
            dirs, slopes = numeric
            assert_allclose(dirs @ g.reshape(-1), slopes, rtol=rtol, atol=atol,
                            name=f"directional derivatives of {name!r}")
            worst[name] = float(np.max(np.abs(dirs @ g.reshape(-1) - slopes) / np.maximum(np.abs(slopes), 1e-300)))
    return worst


def check_layer(layer, input_shape: tuple[int, ...], backend: Any = "cpu", rng: np.random.Generator | None = None,
                x=None, eps: float = 1e-6, rtol: float = 1e-6, atol: float = 1e-9,
                directions: int | None = None) -> dict[str, float]:
    """Gradient-check a layer in float64 on ``backend``: dx and every parameter gradient, in training mode.

    ``input_shape`` is the full shape (N, ...) of a test input; ``x`` may give the input (host array), else it is
    standard normal from ``rng``.  The layer is initialized from ``input_shape[1:]`` with ``rng``.  A layer with its
    own generator (dropout) is replayed from the same generator state at every evaluation, so the mask is fixed.
    Returns the worst relative error per checked array ('x', 'weight', ...).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    device = get_device(backend)
    layer.initialize(tuple(input_shape[1:]), rng=rng, dtype="float64", device=device)
    x_host = rng.standard_normal(input_shape) if x is None else np.asarray(to_host(x), dtype=np.float64)
    inputs = {"x": to_device(x_host, device, dtype="float64")}
    inputs.update({f"param:{k}": v for k, v in layer.params.items()})
    layer_rng = getattr(layer, "rng", None)
    rng_state = layer_rng.bit_generator.state if layer_rng is not None else None

    def f(**kw):
        if rng_state is not None:
            layer_rng.bit_generator.state = rng_state
        return layer.forward(kw["x"], training=True)

    def backward(dy):
        dx = layer.backward(dy)
        grads = {"x": dx}
        grads.update({f"param:{k}": g for k, g in layer.grads.items()})
        return grads

    worst = gradient_check(f, inputs, backward, eps=eps, rtol=rtol, atol=atol, directions=directions, rng=rng)
    if set(k[6:] for k in worst if k.startswith("param:")) != set(layer.params):
        raise AssertionError(f"{layer.describe()}: backward filled grads for {sorted(layer.grads)}, "
                             f"expected every parameter {sorted(layer.params)}")
    return {k.replace("param:", ""): v for k, v in worst.items()}
