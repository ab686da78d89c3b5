"""Weight initializers. MATLAB: default weights ~ N(0, 0.01²), biases 0; also 'glorot', 'he', 'zeros', 'ones'."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minidl.backend import to_host

INITIALIZERS = ("normal", "glorot", "he", "zeros", "ones")


def check_initializer(arg: str, spec) -> None:
    """Validate an initializer given to a layer constructor (a name, an array or a callable)."""
    if isinstance(spec, str):
        if spec not in INITIALIZERS:
            raise ValueError(f"{arg}: got {spec!r}; allowed: {', '.join(map(repr, INITIALIZERS))}, an array or a "
                             "callable (shape, rng) -> array")
    elif not callable(spec) and not hasattr(spec, "shape"):
        raise TypeError(f"{arg}: got {type(spec).__name__}; allowed: an initializer name, an array or a callable")


def initialize_array(arg: str, spec: str | Callable | np.ndarray, shape: tuple[int, ...], fan_in: int,
                     fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """A host float64 array of ``shape`` made by ``spec``.

    - ``normal``: N(0, 0.01²) (MATLAB's documented default);
    - ``glorot``: U(−√(6/(fan_in+fan_out)), +√(6/(fan_in+fan_out))) (Glorot/Xavier uniform, as MATLAB's 'glorot');
    - ``he``: N(0, 2/fan_in) (He/Kaiming normal, as MATLAB's 'he');
    - ``zeros`` / ``ones``; an array of exactly ``shape``; or a callable ``(shape, rng) -> array``.
    """
    if isinstance(spec, str):
        check_initializer(arg, spec)
        if spec == "normal":
            return rng.normal(0.0, 0.01, size=shape)
        if spec == "glorot":
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            return rng.uniform(-bound, bound, size=shape)
        if spec == "he":
            return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)
        return (np.zeros if spec == "zeros" else np.ones)(shape)
    value = spec(shape, rng) if callable(spec) and not hasattr(spec, "shape") else spec
    value = np.asarray(to_host(value), dtype=np.float64)
    if value.shape != tuple(shape):
        raise ValueError(f"{arg}: got an array of shape {value.shape}; expected {tuple(shape)}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{arg}: the given array holds NaN or Inf values; allowed: finite values")
    return value.copy()
