"""2-D max unpooling (MATLAB maxUnpooling2dLayer, PyTorch max_unpool2d; docs/layers.md#max-unpooling).

    y[n, c, idx[n, c, oh, ow]] += x[n, c, oh, ow]     (y zero elsewhere; idx = h·W + w from max pooling)

The unpooled map has the size (H, W) of the map that was pooled.  Where pooling windows overlap, two outputs may
name the same position: their values add (the adjoint of max pooling's routing, which is also its backward; PyTorch
leaves that case undefined).  Backward: dx[n, c, oh, ow] = dy[n, c, idx[n, c, oh, ow]] (a gather).
"""

from __future__ import annotations

from minidl.backend import get_array_module, scatter_add

__all__ = ["maxunpool2d_forward", "maxunpool2d_backward"]


def _flat(indices, hw: int):
    """Positions in the flattened (N·C·H·W) output: (n·C + c)·H·W + idx."""
    xp = get_array_module(indices)
    n, c = indices.shape[:2]
    planes = xp.arange(n * c, dtype=xp.int64).reshape(n, c, 1, 1) * hw
    return (planes + indices.astype(xp.int64, copy=False)).reshape(-1)


def maxunpool2d_forward(x, indices, out_hw: tuple[int, int]):
    """x: (N, C, OH, OW), indices: integers (N, C, OH, OW) in [0, H·W) → y: (N, C, H, W).  Returns (y, cache).

    Reference: :func:`minidl.functional.reference.maxunpool2d_forward`.

    >>> import numpy as np
    >>> y, _ = maxunpool2d_forward(np.array([[[[5.0]]]]), np.array([[[[3]]]]), (2, 2))
    >>> y[0, 0]
    array([[0., 0.],
           [0., 5.]])
    """
    xp = get_array_module(x)
    if tuple(indices.shape) != tuple(x.shape) or getattr(indices.dtype, "kind", None) not in "iu":
        raise ValueError(f"indices: got {getattr(indices, 'dtype', type(indices).__name__)} of shape "
                         f"{tuple(getattr(indices, 'shape', ()))}; allowed: integers of x's shape {tuple(x.shape)}")
    h, w = int(out_hw[0]), int(out_hw[1])
    n, c = x.shape[:2]
    where = _flat(indices, h * w)
    y = xp.zeros(n * c * h * w, dtype=x.dtype)
    scatter_add(y, where, x.reshape(-1))
    return y.reshape(n, c, h, w), (where, x.shape)


def maxunpool2d_backward(dy, cache):
    """dx[n, c, oh, ow] = dy[n, c, idx[n, c, oh, ow]].  dy: (N, C, H, W) → dx: (N, C, OH, OW).

    Reference: :func:`minidl.functional.reference.maxunpool2d_backward`.
    """
    where, x_shape = cache
    return dy.reshape(-1)[where].reshape(x_shape)
