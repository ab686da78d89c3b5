"""Cross-channel (local response) normalization (MATLAB crossChannelNormalizationLayer; docs/layers.md).

    y[n, c, h, w] = x[n, c, h, w] / d[n, c, h, w]^β,   d = K + α·S/n,   S[n, c, h, w] = Σ_{j ∈ W(c)} x[n, j, h, w]²

with n = windowChannelSize and the window W(c) = {c − ⌊n/2⌋, …, c + ⌊(n − 1)/2⌋} ∩ [0, C) (channels outside count
0; for odd n the window is centred, c ± (n − 1)/2; for even n it reaches one channel further down than up, as
PyTorch's local_response_norm).  α is divided by n whatever the number of channels inside the image.

Backward (j ∈ W(c) ⇔ c ∈ W′(j) = {j − ⌊(n − 1)/2⌋, …, j + ⌊n/2⌋}):

    dx[j] = dy[j]·d[j]^(−β) − (2αβ/n)·x[j]·Σ_{c ∈ W′(j)} dy[c]·x[c]·d[c]^(−β−1)

Both window sums are loops over the n channel offsets, each a slice addition vectorized over N, C, H, W.
"""

from __future__ import annotations

from minidl.backend import get_array_module

__all__ = ["lrn_forward", "lrn_backward", "channel_window_sum"]


def channel_window_sum(a, before: int, after: int):
    """s[:, c] = Σ_{j = c − before}^{c + after} a[:, j] over the channels inside [0, C) (axis 1 of a)."""
    xp = get_array_module(a)
    s = xp.zeros_like(a)
    c = a.shape[1]
    for o in range(-before, after + 1):  # s[:, c] += a[:, c + o]
        lo, hi = max(0, -o), min(c, c - o)
        if hi > lo:
            s[:, lo:hi] += a[:, lo + o:hi + o]
    return s


def _check(x, size, alpha, beta, k):
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) < 2 or getattr(x.dtype, "kind", None) != "f":
        raise ValueError(f"x: got {type(x).__name__} of shape {shape}; allowed: a floating array (N, C, ...)")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size: got {size!r}; allowed: a positive integer (the channel window)")


def lrn_forward(x, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0):
    """y = x / (k + α·S/size)^β with S the sum of squares over the channel window of ``size`` channels.

    x: (N, C, H, W) (or (N, C, ...)) → y: shape of x.  Returns (y, cache).
    Reference: :func:`minidl.functional.reference.lrn_forward`.

    >>> import numpy as np
    >>> y, _ = lrn_forward(np.ones((1, 3, 1, 1)), 3, alpha=3.0, beta=1.0, k=1.0)
    >>> y.ravel()                                   # S = 2, 3, 2: y = 1/(1 + S)
    array([0.33333333, 0.25      , 0.33333333])
    """
    _check(x, size, alpha, beta, k)
    xp = get_array_module(x)
    t = x.dtype.type
    s = channel_window_sum(x * x, size // 2, (size - 1) // 2)
    d = t(k) + t(alpha / size) * s                   # d = K + α·S/n
    p = xp.power(d, t(-beta))                       # d^(−β)
    return x * p, (x, d, p, size, alpha, beta)


def lrn_backward(dy, cache):
    """dx = dy·d^(−β) − (2αβ/n)·x·Σ_{c ∈ W′(j)} dy·x·d^(−β−1).  dy: shape of x → dx.

    Reference: :func:`minidl.functional.reference.lrn_backward`.
    """
    x, d, p, size, alpha, beta = cache
    t = dy.dtype.type
    g = dy * x * p / d                               # dy[c]·x[c]·d[c]^(−β−1)
    back = channel_window_sum(g, (size - 1) // 2, size // 2)  # over c with j in W(c): the transposed window
    return dy * p - t(2 * alpha * beta / size) * x * back
