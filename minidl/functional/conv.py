"""2-D convolution (cross-correlation, as MATLAB and PyTorch) by im2col and one matrix product (docs/layers.md).

    y[n, f, oh, ow] = b[f] + Σ_c Σ_kh Σ_kw W[f, c, kh, kw] · x[n, c, oh·SH − PT + kh·DH, ow·SW − PL + kw·DW]

with x read as 0 outside the image (zero padding PT, PB, PL, PR).  im2col gathers, for each of the KH·KW kernel
offsets, one strided slice of x (vectorized over N, C, OH, OW) into the columns ``col``; then y[n] = W₂ · col[:, n]
is one batched matrix product over n that writes y in NCHW, and dW₂ = dy₂ · colᵀ one 2-D product.  col2im (for dx)
is the mirror loop: strided slice additions over the same offsets.

Layout of the columns: ``col`` has shape (C, KH, KW, N, OH, OW), viewed as the matrix (C·KH·KW, N·OH·OW) (the
forward adds one row of ones for the bias).  The row order (c, kh, kw) is W's own, so W₂ = W.reshape(F, C·KH·KW)
needs no copy; each offset fills one contiguous block (C, N, OH, OW).  For stride-1 'same' layers the rows are
(kh, kw, c) instead (each offset's block is then one flat shift of whole images, below).  Padding is never
materialized: each offset copies only the output positions whose input lies inside the image and zeroes the (thin)
rest.  With stride 1 and OW = W ('same' convolutions) input and output rows have the same length, so an offset is a
shift of the flattened image: one copy with runs of OH·OW elements instead of OW (2× faster on the documented
network's 7×7 and 14×14 layers).  Layout measurements: docs/performance.md.
"""

from __future__ import annotations

import functools
import numbers

from minidl.backend import get_array_module

__all__ = ["conv2d_forward", "conv2d_backward", "conv_output_size", "same_padding", "im2col", "col2im", "span",
           "check_stride", "check_padding", "check_dilation", "check_images", "int_tuple",
           "scratch", "grouped_conv2d_forward", "grouped_conv2d_backward"]

Pair = tuple[int, int]
Quad = tuple[int, int, int, int]


# ------------------------------------------------------------------------------------------------------------------
# Argument checks and sizes
# ------------------------------------------------------------------------------------------------------------------

def int_tuple(arg: str, value, n: int, low: int, what: str) -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` Python ints ≥ ``low``, else a ValueError naming ``arg``."""
    if type(value) is tuple and len(value) == n and all(type(v) is int and v >= low for v in value):
        return value  # already checked (the layers pass their normalized tuples on every call)
    items = tuple(value) if isinstance(value, (tuple, list)) else None
    if items is None or len(items) != n or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low for v in items):
        raise ValueError(f"{arg}: got {value!r}; allowed: {what} ({n} integers >= {low})")
    return tuple(int(v) for v in items)


def check_stride(stride) -> Pair:
    """(SH, SW), each ≥ 1."""
    return int_tuple("stride", stride, 2, 1, "(SH, SW)")


def check_dilation(dilation) -> Pair:
    """(DH, DW), each ≥ 1."""
    return int_tuple("dilation", dilation, 2, 1, "(DH, DW)")


def check_padding(padding) -> Quad:
    """(PT, PB, PL, PR), each ≥ 0."""
    return int_tuple("padding", padding, 4, 0, "(top, bottom, left, right)")


def check_images(arg: str, x) -> None:
    """x must be a 4-D floating array (N, C, H, W)."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) != 4:
        raise ValueError(f"{arg}: got {'shape ' + str(tuple(shape)) if shape is not None else type(x).__name__}; "
                         "allowed: a 4-D array (N, C, H, W)")
    if getattr(x.dtype, "kind", None) != "f":
        raise TypeError(f"{arg}: got dtype {x.dtype}; allowed: a floating dtype (float32, float64)")


def conv_output_size(in_hw: Pair, kernel_hw: Pair, stride_hw: Pair = (1, 1), padding: Quad = (0, 0, 0, 0),
                     dilation_hw: Pair = (1, 1)) -> Pair:
    """(OH, OW) with OH = ⌊(H + PT + PB − ((KH − 1)·DH + 1)) / SH⌋ + 1 (and the same for W).

    Raises ValueError when the padded input is smaller than the (dilated) kernel.

    >>> conv_output_size((28, 28), (3, 3), (1, 1), (1, 1, 1, 1))
    (28, 28)
    >>> conv_output_size((7, 5), (3, 3), (2, 2), (0, 0, 0, 0), (2, 1))
    (2, 2)
    """
    (h, w), (kh, kw) = in_hw, kernel_hw
    (sh, sw), (dh, dw) = stride_hw, dilation_hw
    pt, pb, pl, pr = padding
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1  # extent of the dilated kernel
    if h + pt + pb < eh or w + pl + pr < ew:
        raise ValueError(
            f"input size: got {h}x{w} (padded {h + pt + pb}x{w + pl + pr} with padding [{pt} {pb} {pl} {pr}]), "
            f"smaller than the {kh}x{kw} kernel (extent {eh}x{ew} with dilation [{dh} {dw}]); allowed: a padded "
            f"input of at least {eh}x{ew}")
    return (h + pt + pb - eh) // sh + 1, (w + pl + pr - ew) // sw + 1


def same_padding(in_hw: Pair, kernel_hw: Pair, stride_hw: Pair = (1, 1), dilation_hw: Pair = (1, 1)) -> Quad:
    """MATLAB 'same' padding (PT, PB, PL, PR): output = ⌈input/stride⌉, the odd extra row/column at bottom/right.

    Total padding per axis = max((out − 1)·stride + (k − 1)·d + 1 − in, 0); top/left get ⌊total/2⌋.

    >>> same_padding((28, 28), (3, 3))
    (1, 1, 1, 1)
    >>> same_padding((7, 6), (3, 3), (2, 2))
    (1, 1, 0, 1)
    """
    pads = []
    for n, k, s, d in zip(in_hw, kernel_hw, stride_hw, dilation_hw):
        out = -(-n // s)  # ⌈n / s⌉
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads[0], pads[1], pads[2], pads[3]


def span(n_in: int, n_out: int, stride: int, pad_before: int, offset: int) -> tuple[int, int, slice]:
    """Output indices o ∈ [o0, o1) whose input i = o·stride − pad_before + offset lies in [0, n_in), and the
    strided input slice that holds them (i from o0·stride − pad_before + offset, step stride).

    >>> span(5, 5, 1, 1, 0)   # 3-tap 'same' kernel, offset 0: output 0 reads the padding
    (1, 5, slice(0, 4, 1))
    """
    shift = offset - pad_before
    o0 = max(0, -(shift // stride))  # ⌈−shift / stride⌉
    o1 = min(n_out, (n_in - 1 - shift) // stride + 1)
    if o1 <= o0:
        return 0, 0, slice(0, 0)
    i0 = o0 * stride + shift
    return o0, o1, slice(i0, i0 + (o1 - o0 - 1) * stride + 1, stride)


# ------------------------------------------------------------------------------------------------------------------
# im2col / col2im
# ------------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _plan(x_shape: Quad, kernel_hw: Pair, stride: Pair, padding: Quad, dilation: Pair, out_hw: Pair) -> tuple:
    """For each kernel offset (i, j), in (i, j) order: (i, j, None) when the offset reads padding only, else
    (i, j, (h0, h1, w0, w1, hs, ws, flat)): the output rows [h0, h1) and columns [w0, w1) that read inside the image,
    the input slices they read, and — when stride is 1 and OW = W ('flat' layout: output and input rows have the same
    length) — flat = (s, p0, p1): the flat shift s and flat output range [p0, p1) such that output p reads input
    p + s.  Cached per shape: the plan is plain Python arithmetic, the same on every training step."""
    h, w = x_shape[2:]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_hw, stride, dilation, out_hw
    flat = sh == sw == 1 and ow == w
    plan = []
    for i in range(kh):
        h0, h1, hs = span(h, oh, sh, padding[0], i * dh)
        for j in range(kw):
            w0, w1, ws = span(w, ow, sw, padding[2], j * dw)
            if h1 <= h0 or w1 <= w0:  # this offset reads padding only
                plan.append((i, j, None))
                continue
            f = None
            if flat:
                shift = (i * dh - padding[0]) * w + (j * dw - padding[2])
                f = shift, max(h0 * w, -shift), min(h1 * w, h * w - shift)
            plan.append((i, j, (h0, h1, w0, w1, hs, ws, f)))
    return tuple(plan)


def _offsets(x_shape, kernel_hw: Pair, stride: Pair, padding: Quad, dilation: Pair, out_hw: Pair) -> tuple:
    """:func:`_plan` for any sequence arguments (shapes of NumPy and CuPy arrays alike)."""
    return _plan(tuple(int(v) for v in x_shape), tuple(kernel_hw), tuple(stride), tuple(padding), tuple(dilation),
                 tuple(out_hw))


def _zero_outside(a, h0: int, h1: int, w0: int, w1: int) -> None:
    """a: (..., OH, OW) with everything outside rows [h0, h1) × columns [w0, w1) set to 0 (the padding reads)."""
    oh, ow = a.shape[-2:]
    if h0 > 0:
        a[..., :h0, :] = 0
    if h1 < oh:
        a[..., h1:, :] = 0
    if w0 > 0:
        a[..., h0:h1, :w0] = 0
    if w1 < ow:
        a[..., h0:h1, w1:] = 0


def scratch(workspace: dict | None, key: str, shape: tuple[int, ...], dtype, xp, zero: bool = False):
    """An uninitialized array: ``workspace[key]`` when it has this shape, dtype and device, else a new one (kept in
    ``workspace`` for the next call).  Reusing large buffers saves the allocator's page faults on every step.
    ``zero``: a new array is zero-filled (for buffers whose callers rewrite the same part on every call and rely on
    the rest staying 0); a reused one is returned as it is."""
    make = xp.zeros if zero else xp.empty
    if workspace is None:
        return make(shape, dtype=dtype)
    a = workspace.get(key)
    if a is None or tuple(a.shape) != tuple(shape) or a.dtype != dtype or get_array_module(a) is not xp:
        a = workspace[key] = make(shape, dtype=dtype)
    return a


def _gather_flat(col6, col5, x, padding: Quad, dilation: Pair, workspace: dict | None) -> None:
    """im2col for stride 1 and OW = W into the blocks col6[i, j] (C, N, OH, OW) (col5: the same as (C, N, OH·OW)),
    each contiguous.  The top and bottom padding rows are materialized once (a copy of x with PT and PB zero rows;
    zero from the buffer's creation), so each offset is one flat shift copy of whole images (runs of OH·OW elements)
    and only the columns that read the left/right padding (and those wrapping a row edge) are zeroed afterwards, one
    coalesced (C·N·OH) strided fill.  Every element of every block is written."""
    n, c, h, w = x.shape
    kh, kw, _, _, oh, ow = col6.shape
    pt, pb, pl, _ = padding
    dh, dw = dilation
    hv = pt + h + pb  # = OH + (KH − 1)·DH: every row an offset reads
    if pt == pb == 0:
        xv = x.reshape(n, c, h * w)
    else:
        # keyed by (PT, PB) too: a buffer of the same shape with other padding rows would keep stale rows
        buf = scratch(workspace, f"xv{pt},{pb}", (n, c, hv, w), x.dtype, get_array_module(x), zero=True)
        buf[:, :, pt:pt + h] = x
        xv = buf.reshape(n, c, hv * w)
    xt = xv.transpose(1, 0, 2)  # (C, N, HV·W): the blocks' axis order
    for i in range(kh):
        for j in range(kw):
            s = i * dh * w + j * dw - pl  # output p reads row-padded input p + s
            q0, q1 = max(0, -s), min(oh * w, hv * w - s)
            dst4 = col6[i, j]
            w0, w1, _ = span(w, ow, 1, pl, j * dw)
            if w1 <= w0 or q1 <= q0:  # every column reads padding
                dst4[...] = 0
                continue
            col5[i, j][:, :, q0:q1] = xt[:, :, q0 + s:q1 + s]
            # the clipped ends [0, q0) and [q1, OH·OW) lie in columns < w0 or ≥ w1: the fills below cover them
            if w0 > 0:
                dst4[..., :w0] = 0
            if w1 < ow:
                dst4[..., w1:] = 0


def _gather(block, x4, x3, plan) -> None:
    """The im2col copies: for each offset (i, j), ``block(i, j)`` → (dst4 (A, B, OH, OW), dst3 (A, B, OH·OW)), two
    views of that offset's columns, filled from x4 (A, B, H, W) and x3 (A, B, H·W), views of x in the same axis
    order (A, B) = (C, N) or (N, C).  Every element of every block is written."""
    for i, j, where in plan:
        dst4, dst3 = block(i, j)
        if where is None:
            dst4[...] = 0
            continue
        h0, h1, w0, w1, hs, ws, flat = where
        if flat is None:
            dst4[:, :, h0:h1, w0:w1] = x4[:, :, hs, ws]
        else:
            s, p0, p1 = flat
            dst3[:, :, p0:p1] = x3[:, :, p0 + s:p1 + s]  # whole shifted images: runs of OH·OW elements
        _zero_outside(dst4, h0, h1, w0, w1)  # the padding reads (and, flat, the entries that wrap a row edge)


def _scatter(block, acc, plan, whole: bool, skip=None) -> None:
    """The col2im additions: acc (A, B, H, W) += each offset's block(i, j) (A, B, OH, OW) at the input elements it
    was read from, except the offset ``skip`` (already in acc).  The blocks' padding reads are zeroed in place.

    ``whole`` (stride 1, OH = H, OW = W, and (B, H, W) contiguous in acc and in every block): an offset is then one
    flat shift of the whole (B·H·W) run, one long addition per row of A: NumPy adds two contiguous 1-D runs ~4×
    faster than the same elements as strided 2-D blocks; the entries that wrap a row, image or channel edge are
    exactly the padding reads, zeroed first."""
    a, b_, h, w = acc.shape
    runs = acc.reshape(a, b_ * h * w)
    acc3 = acc.reshape(a, b_, h * w)
    for i, j, where in plan:
        if where is None or (i, j) == skip:
            continue
        h0, h1, w0, w1, hs, ws, flat = where
        src = block(i, j)
        oh, ow = src.shape[2:]
        if flat is None:
            acc[:, :, hs, ws] += src[:, :, h0:h1, w0:w1]  # dx[n, c, h, w] += dcol[c, i, j, n, oh, ow]
        elif whole:
            _zero_outside(src, h0, h1, w0, w1)
            s, total = flat[0], b_ * h * w
            q0, q1 = max(0, -s), min(total, total - s)
            runs[:, q0 + s:q1 + s] += src.reshape(a, total)[:, q0:q1]
        else:
            _zero_outside(src[:, :, h0:h1], 0, h1 - h0, w0, w1)  # the row-wrapping entries read padding: drop them
            s, p0, p1 = flat
            acc3[:, :, p0 + s:p1 + s] += src.reshape(a, b_, oh * ow)[:, :, p0:p1]


def _is_whole(stride: Pair, x_hw: Pair, out_hw: Pair) -> bool:
    """True when each kernel offset is a flat shift of the whole column block (stride 1 and output size = input)."""
    return tuple(stride) == (1, 1) and tuple(x_hw) == tuple(out_hw)


def im2col(x, kernel_hw: Pair, stride: Pair, padding: Quad, dilation: Pair, out_hw: Pair, out=None):
    """x: (N, C, H, W) → col: (C, KH, KW, N, OH, OW) with col[c, i, j, n, oh, ow] = x_padded[n, c, oh·SH + i·DH,
    ow·SW + j·DW] (zero where that falls in the padding).

    Each offset is one copy vectorized over (C, N, OH, OW).  With stride 1 and OW = W the rows of input and output
    have the same length, so the copy runs over whole flattened images (runs of OH·OW elements instead of OW); the
    elements that wrap around a row edge are then zeroed with the rest of the padding border.
    ``out``: an optional (C, KH, KW, N, OH, OW) array of x's dtype to fill (every element is written).
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (oh, ow) = kernel_hw, out_hw
    col = xp.empty((c, kh, kw, n, oh, ow), dtype=x.dtype) if out is None else out
    col5 = col.reshape(c, kh, kw, n, oh * ow)
    _gather(lambda i, j: (col[:, i, j], col5[:, i, j]),  # (C, N, OH, OW), contiguous
            x.transpose(1, 0, 2, 3), x.reshape(n, c, h * w).transpose(1, 0, 2),  # (C, N, …) views of x
            _offsets(x.shape, kernel_hw, stride, padding, dilation, out_hw))
    return col


def col2im(col, x_shape, stride: Pair, padding: Quad, dilation: Pair):
    """The adjoint of im2col: col (C, KH, KW, N, OH, OW) → dx (N, C, H, W), summing every column entry into the
    input element it was read from; entries read from the padding are dropped (and may be zeroed in ``col``)."""
    xp = get_array_module(col)
    n, c, h, w = x_shape
    _, kh, kw, _, oh, ow = col.shape
    plan = _offsets(x_shape, (kh, kw), stride, padding, dilation, (oh, ow))
    if _is_whole(stride, (h, w), (oh, ow)):  # accumulate in (C, N, H, W): one run of N·H·W per channel
        acc = xp.zeros((c, n, h, w), dtype=col.dtype)
        _scatter(lambda i, j: col[:, i, j], acc, plan, True)
        return xp.ascontiguousarray(acc.transpose(1, 0, 2, 3))
    dx = xp.zeros((n, c, h, w), dtype=col.dtype)
    _scatter(lambda i, j: col[:, i, j], dx.transpose(1, 0, 2, 3), plan, False)  # into the (C, N, H, W) view of dx
    return dx


# ------------------------------------------------------------------------------------------------------------------
# Forward and backward
# ------------------------------------------------------------------------------------------------------------------

def _check_conv_args(x, W, b, stride, padding, dilation):
    check_images("x", x)
    check_images("W", W)
    if W.shape[1] != x.shape[1]:
        raise ValueError(f"W: got shape {tuple(W.shape)} with {W.shape[1]} input channels, but x of shape "
                         f"{tuple(x.shape)} has C = {x.shape[1]}; allowed: W of shape (F, {x.shape[1]}, KH, KW)")
    if W.dtype != x.dtype:
        raise TypeError(f"W: got dtype {W.dtype}; allowed: x's dtype {x.dtype}")
    if getattr(b, "shape", None) is None or tuple(b.shape) != (W.shape[0],):
        raise ValueError(f"b: got {'shape ' + str(tuple(b.shape)) if hasattr(b, 'shape') else type(b).__name__}; "
                         f"allowed: shape ({W.shape[0]},) (one bias per filter)")
    if b.dtype != x.dtype:
        raise TypeError(f"b: got dtype {b.dtype}; allowed: x's dtype {x.dtype}")
    return check_stride(stride), check_padding(padding), check_dilation(dilation)


def conv2d_forward(x, W, b, stride: Pair = (1, 1), padding: Quad = (0, 0, 0, 0), dilation: Pair = (1, 1),
                   workspace: dict | None = None):
    """y = W ⋆ x + b (cross-correlation with zero padding, stride and dilation).

    x: (N, C, H, W), W: (F, C, KH, KW), b: (F,); stride (SH, SW), padding (PT, PB, PL, PR), dilation (DH, DW).
    Returns (y (N, F, OH, OW), cache) with OH, OW from :func:`conv_output_size`.

    The columns are col (C·KH·KW + 1, N, OH·OW), the last row all ones.  One batched product over n of
    [W₂ | b] (F, C·KH·KW + 1) and the strided view col[:, n] (C·KH·KW + 1, OH·OW) writes y[n] (F, OH·OW) in NCHW
    directly, bias included (no transpose pass, no bias pass); the backward's [dW₂ | db] is then one product over
    all N·OH·OW columns (docs/performance.md, item 4).
    ``workspace``: an optional dict the caller keeps between calls; the columns are built in a buffer kept there
    (so the cache is valid only until the next call with the same workspace).
    Reference: :func:`minidl.functional.reference.conv2d_forward`.

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> y, _ = conv2d_forward(x, np.ones((1, 1, 2, 2)), np.zeros(1), stride=(2, 2))
    >>> y[0, 0]
    array([[10., 18.],
           [42., 50.]])
    """
    stride, padding, dilation = _check_conv_args(x, W, b, stride, padding, dilation)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    f, _, kh, kw = W.shape
    oh, ow = conv_output_size((h, w), (kh, kw), stride, padding, dilation)
    k, p = c * kh * kw, oh * ow
    col = scratch(workspace, "col", (k + 1, n, p), x.dtype, xp)  # col[row, n, (oh, ow)]; row k: ones
    flat = stride == (1, 1) and ow == w
    if flat:  # rows (kh, kw, c): each offset's block (C, N, OH, OW) is contiguous
        _gather_flat(col[:k].reshape(kh, kw, c, n, oh, ow), col[:k].reshape(kh, kw, c, n, p), x, padding, dilation,
                     workspace)
        W2 = W.transpose(0, 2, 3, 1).reshape(f, k)
    else:  # rows (c, kh, kw): W's own order (and the summation order of the reference loops)
        im2col(x, (kh, kw), stride, padding, dilation, (oh, ow), out=col[:k].reshape(c, kh, kw, n, oh, ow))
        W2 = W.reshape(f, k)
    col[k] = 1
    Wb = xp.concatenate((W2, b.reshape(f, 1)), axis=1)  # [W₂ | b]: (F, C·KH·KW + 1)
    y = xp.empty((n, f, oh, ow), dtype=x.dtype)
    # y[n] = [W₂ | b]·col[:, n]: one product per image (a strided view of col), written in NCHW in place
    xp.matmul(Wb, col.transpose(1, 0, 2), out=y.reshape(n, f, p))
    return y, (col, flat, W, x.shape, stride, padding, dilation)


def conv2d_backward(dy, cache, need_dx: bool = True, workspace: dict | None = None):
    """Gradients of conv2d_forward: dy (N, F, OH, OW) → (dx (N, C, H, W), dW (F, C, KH, KW), db (F,)).

    With col as the matrix (C·KH·KW + 1, N·OH·OW) and dy₂ = dy as (F, N·OH·OW):
    [dW₂ | db] = dy₂ · colᵀ, one product (the ones row of col gives db = Σ_{n,oh,ow} dy in the same product),
    dcol = W₂ᵀ · dy₂, dx = col2im(dcol).  dcol's rows are ordered (kh, kw, c), so each
    kernel offset's block (C, N, OH, OW) is contiguous and, for stride-1 'same' convolutions, is added into dx as
    one flat run; the offset that reads the whole image is the accumulator itself.
    ``need_dx=False`` skips dx (returned as None), e.g. for a first layer whose input is data.
    ``workspace``: an optional dict kept by the caller; dcol is computed in a buffer kept there.
    Reference: :func:`minidl.functional.reference.conv2d_backward`.
    """
    col, flat, W, x_shape, stride, padding, dilation = cache
    xp = get_array_module(dy)
    n, f, oh, ow = dy.shape
    _, c, kh, kw = W.shape
    k, p = c * kh * kw, oh * ow
    dy2 = xp.ascontiguousarray(dy.reshape(n, f, p).transpose(1, 0, 2)).reshape(f, n * p)  # (F, N·OH·OW)
    g = dy2 @ col.reshape(k + 1, n * p).T  # [dW₂ | db] = dy₂ · colᵀ: one product over all N·OH·OW columns
    dW = xp.ascontiguousarray(g[:, :k].reshape(f, kh, kw, c).transpose(0, 3, 1, 2)) if flat \
        else xp.ascontiguousarray(g[:, :k]).reshape(W.shape)  # back to W's order from col's row order
    db = xp.ascontiguousarray(g[:, k])
    if not need_dx:
        return None, dW, db
    Wr = W.transpose(2, 3, 1, 0).reshape(kh * kw * c, f)  # W₂ᵀ with rows (kh, kw, c)
    dcol = scratch(workspace, "dcol", (kh, kw, c, n, oh, ow), dy.dtype, xp)
    xp.matmul(Wr, dy2, out=dcol.reshape(kh * kw * c, n * p))
    h, w = x_shape[2:]
    plan = _offsets(x_shape, (kh, kw), stride, padding, dilation, (oh, ow))
    if _is_whole(stride, (h, w), (oh, ow)):  # every block one flat run of C·N·H·W
        full = next(((i, j) for i, j, where in plan if where is not None and where[6] is not None
                     and where[6][0] == 0 and where[:4] == (0, oh, 0, ow)), None)  # reads exactly x: no shift
        acc = dcol[full].reshape(1, c * n, h, w) if full else xp.zeros((1, c * n, h, w), dtype=dy.dtype)
        _scatter(lambda i, j: dcol[i, j].reshape(1, c * n, oh, ow), acc, plan, True, skip=full)
    else:
        acc = xp.zeros((c, n, h, w), dtype=dy.dtype)
        _scatter(lambda i, j: dcol[i, j], acc, plan, False)
    dx = xp.ascontiguousarray(acc.reshape(c, n, h, w).transpose(1, 0, 2, 3))
    return dx, dW, db


# ------------------------------------------------------------------------------------------------------------------
# Grouped convolution (G groups; channel-wise when G = C)
# ------------------------------------------------------------------------------------------------------------------

def _check_grouped_args(x, W, b, groups):
    check_images("x", x)
    check_images("W", W)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or x.shape[1] % groups \
            or W.shape[0] % groups:
        raise ValueError(f"groups: got {groups!r} for x with C = {x.shape[1]} channels and W with F = {W.shape[0]} "
                         "filters; allowed: a positive integer dividing both")
    if W.shape[1] * groups != x.shape[1]:
        raise ValueError(f"W: got shape {tuple(W.shape)} with {W.shape[1]} channels per group, but x of shape "
                         f"{tuple(x.shape)} has C = {x.shape[1]} = {groups} groups of {x.shape[1] // groups}; "
                         f"allowed: W of shape (F, {x.shape[1] // groups}, KH, KW)")
    if W.dtype != x.dtype or b.dtype != x.dtype:
        raise TypeError(f"W, b: got dtypes {W.dtype}, {b.dtype}; allowed: x's dtype {x.dtype}")
    if tuple(b.shape) != (W.shape[0],):
        raise ValueError(f"b: got shape {tuple(b.shape)}; allowed: shape ({W.shape[0]},) (one bias per filter)")


def grouped_conv2d_forward(x, W, b, groups: int, stride: Pair = (1, 1), padding: Quad = (0, 0, 0, 0),
                           dilation: Pair = (1, 1)):
    """Grouped convolution: the C channels and the F filters split into G groups; filter f of group g = f // (F/G)
    sees only the channels of group g:

        y[n, f, oh, ow] = b[f] + Σ_{c'<C/G} Σ_kh Σ_kw W[f, c', kh, kw] · x[n, g·C/G + c', oh·SH − PT + kh·DH, …]

    x: (N, C, H, W), W: (F, C/G, KH, KW), b: (F,).  Returns (y (N, F, OH, OW), cache).  G = C with C/G = 1 is a
    channel-wise (depth-wise) convolution.  The columns of :func:`im2col` hold the (c, kh, kw) rows of each group
    together, so the G products are one batched matrix product (G, F/G, C/G·KH·KW) @ (G, C/G·KH·KW, N·OH·OW).
    Reference: :func:`minidl.functional.reference.grouped_conv2d_forward`.
    """
    _check_grouped_args(x, W, b, groups)
    stride, padding, dilation = check_stride(stride), check_padding(padding), check_dilation(dilation)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    f, cg, kh, kw = W.shape
    oh, ow = conv_output_size((h, w), (kh, kw), stride, padding, dilation)
    col = im2col(x, (kh, kw), stride, padding, dilation, (oh, ow)).reshape(groups, cg * kh * kw, n * oh * ow)
    W3 = W.reshape(groups, f // groups, cg * kh * kw)
    y3 = xp.matmul(W3, col)  # (G, F/G, N·OH·OW): y₂ of each group
    y = xp.empty((n, f, oh, ow), dtype=x.dtype)
    xp.add(y3.reshape(f, n, oh * ow).transpose(1, 0, 2), b.reshape(f, 1), out=y.reshape(n, f, oh * ow))
    return y, (col, W3, W.shape, x.shape, groups, stride, padding, dilation)


def grouped_conv2d_backward(dy, cache, need_dx: bool = True):
    """Gradients of grouped_conv2d_forward, group by group in one batched product each:
    dW₃ = dy₃ · colᵀ, db = Σ_{n,oh,ow} dy, dcol = W₃ᵀ · dy₃, dx = col2im(dcol).

    dy: (N, F, OH, OW) → (dx (N, C, H, W) or None, dW (F, C/G, KH, KW), db (F,)).
    Reference: :func:`minidl.functional.reference.grouped_conv2d_backward`.
    """
    col, W3, w_shape, x_shape, groups, stride, padding, dilation = cache
    xp = get_array_module(dy)
    n, f, oh, ow = dy.shape
    cg, kh, kw = w_shape[1:]
    dy2 = dy.reshape(n, f, oh * ow).transpose(1, 0, 2).reshape(f, n * oh * ow)
    db = dy2.sum(axis=1)
    dy3 = dy2.reshape(groups, f // groups, n * oh * ow)
    dW = xp.matmul(dy3, col.transpose(0, 2, 1)).reshape(w_shape)  # (G, F/G, C/G·KH·KW)
    if not need_dx:
        return None, dW, db
    dcol = xp.matmul(W3.transpose(0, 2, 1), dy3)  # (G, C/G·KH·KW, N·OH·OW)
    dx = col2im(dcol.reshape(groups * cg, kh, kw, n, oh, ow), x_shape, stride, padding, dilation)
    return dx, dW, db
