"""``fused``: elementwise equations written once against ``xp``, run as one kernel (docs/gpu.md#launches).

On CuPy the function becomes ``cupy.fuse`` over the same equations (one launch for the whole function); on NumPy
it is the plain function (NumPy runs each operation in turn); on the CPU stand-in it runs on the NumPy storage as
one device call, as CuPy would count it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from minidl import backend


def fused(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn(xp, *args)`` → ``call(*args)``: ``fn`` with the array module of ``args`` as one elementwise kernel.

    ``fn`` uses only elementwise operations of ``xp`` (ufuncs, ``xp.where``), in-place operators on its array
    arguments (``v *= gamma``) and whole-array assignment (``g[...] = expr``); its arguments are arrays of one
    shape (or 0-d arrays) and Python scalars; it returns None (the results are the in-place updates).

    >>> import numpy as np
    >>> @fused
    ... def axpy(xp, y, a, x):
    ...     y += a * x              # y ← y + a·x
    >>> y = np.ones(3); axpy(y, 2.0, np.arange(3.0)); y
    array([1., 3., 5.])
    """
    kernels: dict[Any, Callable[..., Any]] = {}

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        xp = backend.get_array_module(*args)
        if xp is np:
            return fn(np, *args)
        kernel = kernels.get(id(xp))
        if kernel is None:
            def on_device(*a: Any) -> Any:
                return fn(xp, *a)
            on_device.__name__ = fn.__name__
            kernel = kernels[id(xp)] = xp.fuse(kernel_name=fn.__name__)(on_device)
        return kernel(*args)

    return call
