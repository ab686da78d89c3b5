"""2-D max and average pooling (docs/layers.md), vectorized over N, C, OH, OW with a loop over the KH·KW offsets.

    max:  y[n, c, oh, ow] = max_{i, j}  x_pad[n, c, oh·SH + i, ow·SW + j]       (MATLAB: padding is −∞)
    avg:  y[n, c, oh, ow] = Σ_{i, j}    x_pad[n, c, oh·SH + i, ow·SW + j] / (KH·KW)  (padding is 0; MATLAB divides
                                                                                   by the full window size)

As in minidl.functional.conv, the padding is never materialized: each offset touches only the output positions
whose input lies inside the image (``span``), which is exactly what −∞ (max) or 0 (sum) padding contributes.

Max-pooling ties: the gradient of each window goes to exactly one element, the FIRST maximum in row-major order
within the window (offsets visited i-major, j-minor; a later element replaces the running maximum only when strictly
greater).  Overlapping windows (stride < pool) accumulate their gradients into shared elements.
"""

from __future__ import annotations

from minidl.backend import get_array_module
from minidl.functional.conv import Pair, Quad, check_images, check_padding, check_stride, int_tuple, span

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward", "avgpool2d_backward", "maxpool2d_indices",
           "global_avgpool2d_forward", "global_avgpool2d_backward", "global_maxpool2d_forward",
           "global_maxpool2d_backward",
           "pool_output_size"]


def check_pool(pool) -> Pair:
    """(KH, KW), each ≥ 1."""
    return int_tuple("pool", pool, 2, 1, "(KH, KW)")


def pool_output_size(in_hw: Pair, pool: Pair, stride: Pair = (1, 1), padding: Quad = (0, 0, 0, 0)) -> Pair:
    """(OH, OW) with OH = ⌊(H + PT + PB − KH) / SH⌋ + 1; the padding must be smaller than the window.

    >>> pool_output_size((28, 28), (2, 2), (2, 2))
    (14, 14)
    >>> pool_output_size((7, 5), (3, 3), (2, 2), (1, 1, 0, 1))
    (4, 2)
    """
    (h, w), (kh, kw), (sh, sw) = in_hw, pool, stride
    pt, pb, pl, pr = padding
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise ValueError(f"padding: got [{pt} {pb} {pl} {pr}] for a {kh}x{kw} pool; allowed: top/bottom padding "
                         f"< {kh} and left/right padding < {kw} (a window must hold at least one input element)")
    if h + pt + pb < kh or w + pl + pr < kw:
        raise ValueError(f"input size: got {h}x{w} (padded {h + pt + pb}x{w + pl + pr}), smaller than the {kh}x{kw} "
                         f"pool; allowed: a padded input of at least {kh}x{kw}")
    return (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1


def _check(x, pool, stride, padding):
    check_images("x", x)
    pool, stride, padding = check_pool(pool), check_stride(stride), check_padding(padding)
    return pool, stride, padding, pool_output_size(x.shape[2:], pool, stride, padding)


def _offsets(x_shape, pool: Pair, stride: Pair, padding: Quad, out_hw: Pair):
    """For each window offset (i, j) in row-major order: (k, output slices (rows, cols), input slices (rows, cols))
    restricted to the outputs whose input element lies inside the image."""
    h, w = x_shape[2:]
    k = 0
    for i in range(pool[0]):
        h0, h1, hs = span(h, out_hw[0], stride[0], padding[0], i)
        for j in range(pool[1]):
            w0, w1, ws = span(w, out_hw[1], stride[1], padding[2], j)
            if h1 > h0 and w1 > w0:
                yield k, (slice(h0, h1), slice(w0, w1)), (hs, ws)
            k += 1


def maxpool2d_forward(x, pool: Pair, stride: Pair = (1, 1), padding: Quad = (0, 0, 0, 0)):
    """y = the maximum of each KH×KW window (−∞ padding).  x: (N, C, H, W) → y: (N, C, OH, OW).

    Returns (y, cache); the cache holds, per output, the window offset k = i·KW + j of its first maximum.
    Reference: :func:`minidl.functional.reference.maxpool2d_forward`.

    >>> import numpy as np
    >>> y, _ = maxpool2d_forward(np.arange(16.0).reshape(1, 1, 4, 4), (2, 2), (2, 2))
    >>> y[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    pool, stride, padding, (oh, ow) = _check(x, pool, stride, padding)
    tiled = _tiled(x.shape, pool, stride, padding, (oh, ow))
    return (_maxpool_tiled if tiled else _maxpool_offsets)(x, pool, stride, padding, (oh, ow))


def _tiled(x_shape, pool: Pair, stride: Pair, padding: Quad, out_hw: Pair) -> bool:
    """Whether the windows are disjoint and cover x exactly (stride = pool, no padding, H = OH·KH, W = OW·KW)."""
    return stride == pool and not any(padding) and (out_hw[0] * pool[0], out_hw[1] * pool[1]) == tuple(x_shape[2:])


def _maxpool_tiled(x, pool: Pair, stride: Pair, padding: Quad, out_hw: Pair):
    """Disjoint windows covering x (stride = pool, no padding): the same running maximum as
    :func:`_maxpool_offsets`, offset by offset in the same order, but on contiguous copies of the KH·KW offset planes
    of the (N, C, OH, KH, OW, KW) view of x (one strided read per plane, then SIMD passes; docs/layers.md)."""
    xp = get_array_module(x)
    (n, c), (oh, ow), (kh, kw) = x.shape[:2], out_hw, pool
    x6 = x.reshape(n, c, oh, kh, ow, kw)
    y = xp.empty((n, c, oh, ow), dtype=x.dtype)
    xp.copyto(y, x6[:, :, :, 0, :, 0])  # the running maximum starts at the window's first element
    arg = xp.zeros((n, c, oh, ow), dtype=xp.uint8 if kh * kw <= 256 else xp.int32)
    v = xp.empty_like(y)
    better = xp.empty((n, c, oh, ow), dtype=xp.bool_)
    step = xp.empty_like(arg)
    for k in range(1, kh * kw):
        xp.copyto(v, x6[:, :, :, k // kw, :, k % kw])  # offset (i, j) = (k // KW, k % KW), contiguous
        xp.greater(v, y, out=better)  # strict: ties keep the first maximum (NaN compares False, as below)
        xp.multiply(better, arg.dtype.type(k), out=step)
        xp.maximum(arg, step, out=arg)  # arg ← max(arg, k·[v > m])
        xp.maximum(y, v, out=y)  # m ← max(m, v)
    return y, (arg, x.shape, pool, stride, padding)


def _maxpool_offsets(x, pool: Pair, stride: Pair, padding: Quad, out_hw: Pair):
    """The general case (any stride and padding): a loop over the KH·KW offsets on strided views of x."""
    (oh, ow) = out_hw
    xp = get_array_module(x)
    n, c = x.shape[:2]
    arg = xp.zeros((n, c, oh, ow), dtype=xp.uint8 if pool[0] * pool[1] <= 256 else xp.int32)
    if any(padding):
        y = xp.full((n, c, oh, ow), -xp.inf, dtype=x.dtype)  # windows may start in the −∞ padding
    else:
        y = xp.empty((n, c, oh, ow), dtype=x.dtype)  # offset (0, 0) lies inside every window: copied first
    for k, (ro, co), (ri, ci) in _offsets(x.shape, pool, stride, padding, (oh, ow)):
        v, m = x[:, :, ri, ci], y[:, :, ro, co]
        if k == 0 and not any(padding):
            m[...] = v  # the running maximum starts at the window's first element
            continue
        # k grows, so arg ← max(arg, k·[v > m]) records the latest STRICT improvement: ties keep the first maximum
        a = arg[:, :, ro, co]
        xp.maximum(a, (v > m) * a.dtype.type(k), out=a)
        xp.maximum(m, v, out=m)  # m ← max(m, v)
    return y, (arg, x.shape, pool, stride, padding)


def maxpool2d_backward(dy, cache):
    """dx[first maximum of each window] += dy[window]; every other element gets 0.  dy: (N, C, OH, OW).

    Reference: :func:`minidl.functional.reference.maxpool2d_backward`.
    """
    arg, x_shape, pool, stride, padding = cache
    xp = get_array_module(dy)
    oh, ow = dy.shape[2:]
    overlap = stride[0] < pool[0] or stride[1] < pool[1]
    tiled = _tiled(x_shape, pool, stride, padding, (oh, ow))
    dx = (xp.empty if tiled else xp.zeros)(x_shape, dtype=dy.dtype)  # tiled: every element is written below
    # the windows whose maximum is at offset k, as 1 or 0 in dy's dtype: a same-dtype product, 10-13% faster than
    # bool·float
    hit = xp.empty(arg.shape, dtype=dy.dtype)
    for k, (ro, co), (ri, ci) in _offsets(x_shape, pool, stride, padding, (oh, ow)):
        h = hit[:, :, ro, co]
        xp.equal(arg[:, :, ro, co], k, out=h)
        if overlap:
            dx[:, :, ri, ci] += dy[:, :, ro, co] * h
        else:  # disjoint windows: each input element belongs to one window at most
            xp.multiply(dy[:, :, ro, co], h, out=dx[:, :, ri, ci])
    return dx


def avgpool2d_forward(x, pool: Pair, stride: Pair = (1, 1), padding: Quad = (0, 0, 0, 0)):
    """y = Σ window / (KH·KW) with zero padding counted in the window (MATLAB).  x: (N, C, H, W) → (N, C, OH, OW).

    Reference: :func:`minidl.functional.reference.avgpool2d_forward`.

    >>> import numpy as np
    >>> y, _ = avgpool2d_forward(np.ones((1, 1, 2, 2)), (2, 2), (1, 1), (1, 0, 1, 0))
    >>> y[0, 0]
    array([[0.25, 0.5 ],
           [0.5 , 1.  ]])
    """
    pool, stride, padding, (oh, ow) = _check(x, pool, stride, padding)
    xp = get_array_module(x)
    y = xp.zeros(x.shape[:2] + (oh, ow), dtype=x.dtype)
    for _, (ro, co), (ri, ci) in _offsets(x.shape, pool, stride, padding, (oh, ow)):
        y[:, :, ro, co] += x[:, :, ri, ci]
    y /= pool[0] * pool[1]
    return y, (x.shape, pool, stride, padding)


def avgpool2d_backward(dy, cache):
    """dx[n, c, h, w] = Σ over the windows holding (h, w) of dy / (KH·KW).  dy: (N, C, OH, OW).

    Reference: :func:`minidl.functional.reference.avgpool2d_backward`.
    """
    x_shape, pool, stride, padding = cache
    xp = get_array_module(dy)
    g = dy / (pool[0] * pool[1])
    dx = xp.zeros(x_shape, dtype=dy.dtype)
    for _, (ro, co), (ri, ci) in _offsets(x_shape, pool, stride, padding, dy.shape[2:]):
        dx[:, :, ri, ci] += g[:, :, ro, co]
    return dx


def maxpool2d_indices(cache):
    """The flat position h·W + w, in its (n, c) plane of x, of each window's first maximum: int64 (N, C, OH, OW)
    (PyTorch's ``max_pool2d(return_indices=True)`` numbering), from the cache of :func:`maxpool2d_forward`.

    With k = i·KW + j the window offset of the maximum: h = oh·SH − PT + i, w = ow·SW − PL + j.
    """
    arg, x_shape, pool, stride, padding = cache
    xp = get_array_module(arg)
    n, c, oh, ow = arg.shape
    k = arg.astype(xp.int64)
    rows = xp.arange(oh, dtype=xp.int64).reshape(oh, 1) * stride[0] - padding[0] + k // pool[1]
    cols = xp.arange(ow, dtype=xp.int64) * stride[1] - padding[2] + k % pool[1]
    return rows * x_shape[3] + cols


def global_avgpool2d_forward(x):
    """y[n, c, 0, 0] = Σ_{h,w} x[n, c, h, w] / (H·W).  x: (N, C, H, W) → y: (N, C, 1, 1).  Returns (y, x.shape).

    Reference: :func:`minidl.functional.reference.global_avgpool2d_forward`.
    """
    check_images("x", x)
    return x.mean(axis=(2, 3), keepdims=True), x.shape


def global_avgpool2d_backward(dy, x_shape):
    """dx[n, c, h, w] = dy[n, c, 0, 0] / (H·W).  dy: (N, C, 1, 1) → dx: (N, C, H, W).

    Reference: :func:`minidl.functional.reference.global_avgpool2d_backward`.
    """
    xp = get_array_module(dy)
    return xp.broadcast_to(dy / (x_shape[2] * x_shape[3]), x_shape).copy()


def global_maxpool2d_forward(x):
    """y[n, c, 0, 0] = max_{h,w} x[n, c, h, w].  x: (N, C, H, W) → y: (N, C, 1, 1).

    Returns (y, cache); the cache holds the flat position h·W + w of the FIRST maximum in row-major order (the
    tie rule of :func:`maxpool2d_forward`), which alone receives the gradient.
    Reference: :func:`minidl.functional.reference.global_maxpool2d_forward`.
    """
    check_images("x", x)
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    arg = flat.argmax(axis=2)  # the first maximum
    return flat.max(axis=2).reshape(n, c, 1, 1), (arg, x.shape)


def global_maxpool2d_backward(dy, cache):
    """dx[n, c, first argmax] = dy[n, c, 0, 0]; every other element gets 0.  dy: (N, C, 1, 1).

    Reference: :func:`minidl.functional.reference.global_maxpool2d_backward`.
    """
    arg, (n, c, h, w) = cache
    xp = get_array_module(dy)
    dx = xp.zeros((n, c, h, w), dtype=dy.dtype)
    where = xp.arange(n * c, dtype=xp.int64) * (h * w) + arg.reshape(-1)  # one distinct element per (n, c) plane
    dx.reshape(-1)[where] = dy.reshape(-1)
    return dx
