"""2-D transposed convolution (MATLAB transposedConv2dLayer, Wolfram DeconvolutionLayer, PyTorch conv_transpose2d):
the adjoint of a convolution, built from the same im2col/col2im (docs/layers.md#transposed-convolution).

    y[n, f, oh, ow] = b[f] + Σ_c Σ_{h·SH + kh − PT = oh} Σ_{w·SW + kw − PL = ow} W[c, f, kh, kw] · x[n, c, h, w]

Each input pixel scatters a KH×KW copy of the filter, scaled by its value, into an (uncropped) output of size
SH·(H − 1) + KH; then PT rows are cropped at the top, PB at the bottom (PL, PR for the columns):
OH = SH·(H − 1) + KH − PT − PB.  With W read as the weights (C, F, KH, KW) of a convolution from F to C channels
with stride S and padding (PT, PB, PL, PR), whose output size is exactly (H, W), the transposed convolution is that
convolution's input gradient: y = col2im(W₂ᵀ · x₂) with W₂ = W as (C, F·KH·KW) and x₂ = x as (C, N·H·W).  Backward
is then that convolution's forward: dx₂ = W₂ · im2col(dy), dW₂ = x₂ · im2col(dy)ᵀ, db = Σ dy.
"""

from __future__ import annotations

from minidl.functional.conv import Pair, Quad, check_images, check_padding, check_stride, col2im, im2col

__all__ = ["conv_transpose2d_forward", "conv_transpose2d_backward", "transposed_output_size", "same_cropping"]


def transposed_output_size(in_hw: Pair, kernel_hw: Pair, stride_hw: Pair = (1, 1),
                           cropping: Quad = (0, 0, 0, 0)) -> Pair:
    """(OH, OW) with OH = SH·(H − 1) + KH − PT − PB (MATLAB transposedConv2dLayer); at least 1.

    >>> transposed_output_size((7, 7), (4, 4), (2, 2), (1, 1, 1, 1))
    (14, 14)
    """
    out = []
    for n, k, s, (a, b) in zip(in_hw, kernel_hw, stride_hw, (cropping[:2], cropping[2:])):
        size = s * (n - 1) + k - a - b
        if size < 1:
            raise ValueError(f"cropping: got [{' '.join(map(str, cropping))}] for input size {in_hw[0]}x{in_hw[1]}, "
                             f"filter {kernel_hw[0]}x{kernel_hw[1]} and stride [{stride_hw[0]} {stride_hw[1]}]: no "
                             f"output left; allowed: a total cropping per axis < stride·(in − 1) + filter")
        out.append(size)
    return out[0], out[1]


def same_cropping(in_hw: Pair, kernel_hw: Pair, stride_hw: Pair) -> Quad:
    """MATLAB 'same' cropping: output = stride·input, so the total cropping per axis is filter − stride; the top
    (left) gets ⌊total/2⌋ and the bottom (right) the rest, as 'same' padding splits.  Needs filter ≥ stride.

    >>> same_cropping((7, 7), (4, 3), (2, 2))
    (1, 1, 0, 1)
    """
    out = []
    for k, s in zip(kernel_hw, stride_hw):
        total = k - s
        if total < 0:
            raise ValueError(f"cropping: 'same' needs filter >= stride on each axis; got filter "
                             f"{kernel_hw[0]}x{kernel_hw[1]} and stride [{stride_hw[0]} {stride_hw[1]}]")
        out += [total // 2, total - total // 2]
    return out[0], out[1], out[2], out[3]


def _check(x, W, b, stride, cropping):
    check_images("x", x)
    check_images("W", W)
    if W.shape[0] != x.shape[1]:
        raise ValueError(f"W: got shape {tuple(W.shape)} with {W.shape[0]} input channels, but x of shape "
                         f"{tuple(x.shape)} has C = {x.shape[1]}; allowed: W of shape ({x.shape[1]}, F, KH, KW)")
    if W.dtype != x.dtype or b.dtype != x.dtype:
        raise TypeError(f"W, b: got dtypes {W.dtype}, {b.dtype}; allowed: x's dtype {x.dtype}")
    if tuple(b.shape) != (W.shape[1],):
        raise ValueError(f"b: got shape {tuple(b.shape)}; allowed: shape ({W.shape[1]},) (one bias per filter)")
    return check_stride(stride), check_padding(cropping)


def conv_transpose2d_forward(x, W, b, stride: Pair = (1, 1), cropping: Quad = (0, 0, 0, 0)):
    """y = the transposed convolution of x with W, cropped, plus b.

    x: (N, C, H, W), W: (C, F, KH, KW), b: (F,); stride (SH, SW); cropping (PT, PB, PL, PR).
    Returns (y (N, F, OH, OW), cache) with OH, OW from :func:`transposed_output_size`.
    Reference: :func:`minidl.functional.reference.conv_transpose2d_forward`.

    >>> import numpy as np
    >>> y, _ = conv_transpose2d_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), np.zeros(1), (1, 1))
    >>> y[0, 0]                                      # four overlapping 2×2 stamps
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    stride, cropping = _check(x, W, b, stride, cropping)
    n, c, h, w = x.shape
    _, f, kh, kw = W.shape
    oh, ow = transposed_output_size((h, w), (kh, kw), stride, cropping)
    x2 = x.transpose(1, 0, 2, 3).reshape(c, n * h * w)
    W2 = W.reshape(c, f * kh * kw)
    col = (W2.T @ x2).reshape(f, kh, kw, n, h, w)  # the columns of a convolution F → C whose output is x
    y = col2im(col, (n, f, oh, ow), stride, cropping, (1, 1))
    y += b.reshape(1, f, 1, 1)
    return y, (x2, W2, W.shape, x.shape, stride, cropping)


def conv_transpose2d_backward(dy, cache, need_dx: bool = True):
    """Gradients of conv_transpose2d_forward: dy (N, F, OH, OW) → (dx (N, C, H, W) or None, dW (C, F, KH, KW),
    db (F,)): the convolution of dy with W (stride S, padding = the cropping) gives dx.
    Reference: :func:`minidl.functional.reference.conv_transpose2d_backward`.
    """
    x2, W2, w_shape, x_shape, stride, cropping = cache
    n, c, h, w = x_shape
    _, f, kh, kw = w_shape
    db = dy.sum(axis=(0, 2, 3))
    col = im2col(dy, (kh, kw), stride, cropping, (1, 1), (h, w)).reshape(f * kh * kw, n * h * w)
    dW = (x2 @ col.T).reshape(w_shape)                                  # dW₂ = x₂ · colᵀ
    if not need_dx:
        return None, dW, db
    dx = (W2 @ col).reshape(c, n, h, w).transpose(1, 0, 2, 3).copy()   # dx₂ = W₂ · col
    return dx, dW, db
