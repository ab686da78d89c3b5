"""Plain reference versions of every op: the equations of docs/layers.md as naive loops, to read beside them.

Each fast function in :mod:`minidl.functional` names its reference here, and :func:`minidl.testing.check_op` checks
the one against the other in float64.  Nothing here is vectorized for speed: loops run over examples, channels and
pixels one at a time, with the equation as a comment, so a student can follow every index.  Plain NumPy on the host,
float64 results.

Conventions (the same for every op, so a checker can call them alike):

- a reference forward takes the fast forward's arguments and returns only y (no cache);
- a reference backward takes ``dy`` followed by the forward's own arguments and returns the gradients of the array
  arguments in their order (a single array for a one-input op);
- a reference loss returns the mean loss over the N examples as a float; its gradient takes ``(y, t)``.

Output sizes come from :func:`~minidl.functional.conv.conv_output_size` and
:func:`~minidl.functional.pooling.pool_output_size` (formulas, not the ops under test).
"""

from __future__ import annotations

import math

import numpy as np

from minidl.functional.conv import conv_output_size
from minidl.functional.pooling import pool_output_size

__all__ = ["conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward",
           "avgpool2d_backward", "batchnorm_forward", "batchnorm_backward", "batchnorm_inference", "dense_forward",
           "dense_backward", "relu_forward", "relu_backward", "dropout_forward", "softmax_forward", "softmax_backward",
           "cross_entropy_loss", "cross_entropy_gradient", "half_mse_loss", "half_mse_gradient", "mean_squared_loss",
           "mean_squared_gradient", "elementwise_forward", "elementwise_backward",
           "binary_cross_entropy_loss", "binary_cross_entropy_gradient", "mean_absolute_loss", "mean_absolute_gradient",
           "lstm_forward", "gru_forward", "rnn_forward", "sequence_last_forward",
           "leaky_relu_forward", "leaky_relu_backward", "clipped_relu_forward", "clipped_relu_backward", "elu_forward",
           "elu_backward", "global_avgpool2d_forward", "global_avgpool2d_backward", "global_maxpool2d_forward",
           "global_maxpool2d_backward", "lrn_forward", "lrn_backward", "grouped_conv2d_forward",
           "grouped_conv2d_backward", "conv_transpose2d_forward", "conv_transpose2d_backward", "maxunpool2d_forward",
           "maxunpool2d_backward"]


def _f64(*arrays):
    return tuple(np.asarray(a, dtype=np.float64) for a in arrays)


# ------------------------------------------------------------------------------------------------ convolution
def _conv_taps(x_shape, w_shape, stride, padding, dilation):
    """Every (oh, ow, kh, kw, h, w) where kernel tap (kh, kw) of output (oh, ow) reads the input pixel (h, w) inside
    the image: h = oh·SH − PT + kh·DH, w = ow·SW − PL + kw·DW (taps that fall in the zero padding add nothing)."""
    H, Wd = x_shape[2:]
    KH, KW = w_shape[2:]
    (SH, SW), (PT, _, PL, _), (DH, DW) = stride, padding, dilation
    OH, OW = conv_output_size((H, Wd), (KH, KW), stride, padding, dilation)
    for oh in range(OH):
        for ow in range(OW):
            for kh in range(KH):
                for kw in range(KW):
                    h, w = oh * SH - PT + kh * DH, ow * SW - PL + kw * DW
                    if 0 <= h < H and 0 <= w < Wd:
                        yield oh, ow, kh, kw, h, w


def conv2d_forward(x, W, b, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """y[n,f,oh,ow] = b[f] + Σ_c Σ_kh Σ_kw W[f,c,kh,kw] · x[n, c, oh·SH − PT + kh·DH, ow·SW − PL + kw·DW] (x = 0
    outside the image), one multiply-add at a time.  x: (N, C, H, W), W: (F, C, KH, KW), b: (F,) → (N, F, OH, OW).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)            # [[0 1 2] [3 4 5] [6 7 8]]
    >>> conv2d_forward(x, np.ones((1, 1, 2, 2)), np.array([0.5]))[0, 0]   # 2×2 window sums, plus 0.5
    array([[ 8.5, 12.5],
           [20.5, 24.5]])
    >>> conv2d_forward(x, np.ones((1, 1, 1, 1)), np.zeros(1), padding=(1, 0, 0, 0))[0, 0, 0]  # a zero row on top
    array([0., 0., 0.])
    """
    x, W, b = _f64(x, W, b)
    N, C = x.shape[:2]
    F = W.shape[0]
    OH, OW = conv_output_size(x.shape[2:], W.shape[2:], stride, padding, dilation)
    y = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            y[n, f] = b[f]
            for oh, ow, kh, kw, h, w in _conv_taps(x.shape, W.shape, stride, padding, dilation):
                for c in range(C):
                    y[n, f, oh, ow] += W[f, c, kh, kw] * x[n, c, h, w]
    return y


def conv2d_backward(dy, x, W, b, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """The forward's multiply-adds run backwards: each y[n,f,oh,ow] += W[f,c,kh,kw]·x[n,c,h,w] sends
    dx[n,c,h,w] += W[f,c,kh,kw]·dy[n,f,oh,ow] and dW[f,c,kh,kw] += x[n,c,h,w]·dy[n,f,oh,ow]; db[f] = Σ dy[n,f].

    dy: (N, F, OH, OW) → (dx (N, C, H, W), dW (F, C, KH, KW), db (F,)).

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> dx, dW, db = conv2d_backward(np.ones((1, 1, 2, 2)), x, np.ones((1, 1, 2, 2)), np.zeros(1))
    >>> dx[0, 0]                                         # how many 2×2 windows hold each pixel
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> dW[0, 0], db                                     # the sums of x over the pixels each tap reads
    (array([[ 8., 12.],
           [20., 24.]]), array([4.]))
    """
    dy, x, W = _f64(dy, x, W)
    N, C = x.shape[:2]
    F = W.shape[0]
    dx, dW, db = np.zeros(x.shape), np.zeros(W.shape), np.zeros(F)
    for n in range(N):
        for f in range(F):
            db[f] += dy[n, f].sum()
            for oh, ow, kh, kw, h, w in _conv_taps(x.shape, W.shape, stride, padding, dilation):
                for c in range(C):
                    dx[n, c, h, w] += W[f, c, kh, kw] * dy[n, f, oh, ow]
                    dW[f, c, kh, kw] += x[n, c, h, w] * dy[n, f, oh, ow]
    return dx, dW, db


# ------------------------------------------------------------------------------------------------ pooling
def _windows(x_shape, pool, stride, padding):
    """Yield (oh, ow, [(h, w) of the window's pixels inside the image, in row-major order]) for every output."""
    H, W = x_shape[2:]
    (KH, KW), (SH, SW), (PT, _, PL, _) = pool, stride, padding
    OH, OW = pool_output_size((H, W), pool, stride, padding)
    for oh in range(OH):
        for ow in range(OW):
            cells = [(oh * SH - PT + i, ow * SW - PL + j) for i in range(KH) for j in range(KW)]
            yield oh, ow, [(h, w) for h, w in cells if 0 <= h < H and 0 <= w < W]


def _first_maximum(x, n, c, cells):
    """The window cell holding the first maximum in row-major order (a later cell wins only if strictly greater;
    the −∞ padding never wins, so only cells inside the image are visited)."""
    best = cells[0]
    for h, w in cells[1:]:
        if x[n, c, h, w] > x[n, c, best[0], best[1]]:
            best = (h, w)
    return best


def maxpool2d_forward(x, pool, stride=(1, 1), padding=(0, 0, 0, 0)):
    """y[n,c,oh,ow] = max over the KH×KW window of x padded with −∞.  x: (N, C, H, W) → (N, C, OH, OW).

    >>> x = -np.arange(1.0, 5.0).reshape(1, 1, 2, 2)     # [[-1 -2] [-3 -4]]: zero padding would win, −∞ does not
    >>> maxpool2d_forward(x, (2, 2), (1, 1), (1, 0, 1, 0))[0, 0]
    array([[-1., -1.],
           [-1., -1.]])
    """
    (x,) = _f64(x)
    N, C = x.shape[:2]
    OH, OW = pool_output_size(x.shape[2:], pool, stride, padding)
    y = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for oh, ow, cells in _windows(x.shape, pool, stride, padding):
                h, w = _first_maximum(x, n, c, cells)
                y[n, c, oh, ow] = x[n, c, h, w]
    return y


def maxpool2d_backward(dy, x, pool, stride=(1, 1), padding=(0, 0, 0, 0)):
    """dx[first maximum of each window] += dy[window]: one element per window gets its gradient, ties go to the
    first in row-major order, overlapping windows add up.  dy: (N, C, OH, OW) → dx: (N, C, H, W).

    >>> x = np.array([[[[1.0, 3.0], [3.0, 2.0]]]])       # a tie: the first 3 (row-major) takes dy
    >>> maxpool2d_backward(np.array([[[[5.0]]]]), x, (2, 2))[0, 0]
    array([[0., 5.],
           [0., 0.]])
    """
    dy, x = _f64(dy, x)
    N, C = x.shape[:2]
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for oh, ow, cells in _windows(x.shape, pool, stride, padding):
                h, w = _first_maximum(x, n, c, cells)
                dx[n, c, h, w] += dy[n, c, oh, ow]
    return dx


def avgpool2d_forward(x, pool, stride=(1, 1), padding=(0, 0, 0, 0)):
    """y[n,c,oh,ow] = Σ window / (KH·KW), the padding counted as zeros (MATLAB divides by the full window size).

    x: (N, C, H, W) → (N, C, OH, OW).

    >>> avgpool2d_forward(np.ones((1, 1, 2, 2)), (2, 2), (1, 1), (1, 0, 1, 0))[0, 0]  # 1, 2 or 4 ones of 4 cells
    array([[0.25, 0.5 ],
           [0.5 , 1.  ]])
    """
    (x,) = _f64(x)
    N, C = x.shape[:2]
    size = pool[0] * pool[1]
    OH, OW = pool_output_size(x.shape[2:], pool, stride, padding)
    y = np.zeros((N, C, OH, OW))
    for n in range(N):
        for c in range(C):
            for oh, ow, cells in _windows(x.shape, pool, stride, padding):
                y[n, c, oh, ow] = sum(x[n, c, h, w] for h, w in cells) / size
    return y


def avgpool2d_backward(dy, x, pool, stride=(1, 1), padding=(0, 0, 0, 0)):
    """dx[n,c,h,w] = Σ over the windows holding (h, w) of dy / (KH·KW).  dy: (N, C, OH, OW) → dx: (N, C, H, W).

    >>> avgpool2d_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 3, 3)), (2, 2))[0, 0]  # windows per pixel / 4
    array([[0.25, 0.5 , 0.25],
           [0.5 , 1.  , 0.5 ],
           [0.25, 0.5 , 0.25]])
    """
    dy, x = _f64(dy, x)
    N, C = x.shape[:2]
    size = pool[0] * pool[1]
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for oh, ow, cells in _windows(x.shape, pool, stride, padding):
                for h, w in cells:
                    dx[n, c, h, w] += dy[n, c, oh, ow] / size
    return dx


# ------------------------------------------------------------------------------------------------ batch norm
def _channel_values(x, c):
    """Every value of channel c (over N and every spatial position) as one flat vector of M values."""
    return x[:, c].reshape(-1)


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training mode, per channel c over its M = N·H·W values: μ = Σx/M, σ² = Σ(x − μ)²/M (biased),
    x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β.  x: (N, C, H, W) or (N, C); gamma, beta: (C,) → y: shape of x.

    >>> x = np.array([[1.0], [3.0]])                      # one channel: μ = 2, σ² = 1
    >>> batchnorm_forward(x, np.array([2.0]), np.array([10.0]), eps=0.0)
    array([[ 8.],
           [12.]])
    """
    x, gamma, beta = _f64(x, gamma, beta)
    y = np.zeros(x.shape)
    for c in range(x.shape[1]):
        v = _channel_values(x, c)
        m = v.size
        mean = sum(v) / m                                  # μ = Σ x / M
        var = sum((xi - mean) ** 2 for xi in v) / m        # σ² = Σ (x − μ)² / M
        xhat = (x[:, c] - mean) / np.sqrt(var + eps)       # x̂ = (x − μ) / √(σ² + ε)
        y[:, c] = gamma[c] * xhat + beta[c]                # y = γ·x̂ + β
    return y


def batchnorm_backward(dy, x, gamma, beta, eps=1e-5):
    """The chain rule through the forward's steps, one per line (CS231n's staged backward), per channel:
    dx̂ = dy·γ,  dσ² = Σ dx̂·(x − μ)·(−½)(σ² + ε)^(−3/2),  dμ = −Σ dx̂/√(σ² + ε) + dσ²·Σ −2(x − μ)/M,
    dx = dx̂/√(σ² + ε) + dσ²·2(x − μ)/M + dμ/M;  dγ = Σ dy·x̂,  dβ = Σ dy.

    dy: shape of x → (dx (shape of x), dgamma (C,), dbeta (C,)).

    >>> x = np.array([[1.0], [3.0]])                      # x̂ = [−1, 1]
    >>> dx, dgamma, dbeta = batchnorm_backward(np.array([[1.0], [1.0]]), x, np.ones(1), np.zeros(1), eps=0.0)
    >>> dx.ravel(), dgamma, dbeta                         # a shift of every y moves nothing but β
    (array([0., 0.]), array([0.]), array([2.]))
    """
    dy, x, gamma = _f64(dy, x, gamma)
    C = x.shape[1]
    dx, dgamma, dbeta = np.zeros(x.shape), np.zeros(C), np.zeros(C)
    for c in range(C):
        v, g = _channel_values(x, c), _channel_values(dy, c)
        m = v.size
        mean = sum(v) / m
        var = sum((xi - mean) ** 2 for xi in v) / m
        inv = 1.0 / np.sqrt(var + eps)
        xhat = (v - mean) * inv
        dxhat = g * gamma[c]                                                  # ∂L/∂x̂
        dvar = sum(dxhat * (v - mean)) * -0.5 * inv ** 3                      # ∂L/∂σ²
        dmean = -sum(dxhat) * inv + dvar * sum(-2.0 * (v - mean)) / m         # ∂L/∂μ
        dx[:, c] = (dxhat * inv + dvar * 2.0 * (v - mean) / m + dmean / m).reshape(dx[:, c].shape)
        dgamma[c] = sum(g * xhat)                                             # ∂L/∂γ
        dbeta[c] = sum(g)                                                     # ∂L/∂β
    return dx, dgamma, dbeta


def batchnorm_inference(x, gamma, beta, mean, var, eps=1e-5):
    """Prediction mode with fixed statistics: y = γ·(x − μ)/√(σ² + ε) + β, channel by channel.

    x: (N, C, H, W) or (N, C); gamma, beta, mean, var: (C,) → y: shape of x.

    >>> batchnorm_inference(np.array([[1.0], [3.0]]), np.ones(1), np.zeros(1), np.array([1.0]), np.array([4.0]), 0.0)
    array([[0.],
           [1.]])
    """
    x, gamma, beta, mean, var = _f64(x, gamma, beta, mean, var)
    y = np.zeros(x.shape)
    for c in range(x.shape[1]):
        y[:, c] = gamma[c] * (x[:, c] - mean[c]) / np.sqrt(var[c] + eps) + beta[c]
    return y


# ------------------------------------------------------------------------------------------------ dense, ReLU
def dense_forward(x, W, b):
    """y[n,o] = b[o] + Σ_i W[o,i]·x[n,i], images flattened in C, H, W order.  x: (N, I) or (N, C, H, W),
    W: (O, I), b: (O,) → y: (N, O).

    >>> dense_forward(np.array([[1.0, 2.0]]), np.array([[1.0, 1.0], [0.0, -1.0]]), np.array([0.5, 0.0]))
    array([[ 3.5, -2. ]])
    """
    x, W, b = _f64(x, W, b)
    x2 = x.reshape(x.shape[0], -1)
    y = np.zeros((x2.shape[0], W.shape[0]))
    for n in range(x2.shape[0]):
        for o in range(W.shape[0]):
            y[n, o] = b[o] + sum(W[o, i] * x2[n, i] for i in range(x2.shape[1]))
    return y


def dense_backward(dy, x, W, b):
    """dx[n,i] = Σ_o dy[n,o]·W[o,i],  dW[o,i] = Σ_n dy[n,o]·x[n,i],  db[o] = Σ_n dy[n,o].

    dy: (N, O) → (dx (shape of x), dW (O, I), db (O,)).

    >>> dx, dW, db = dense_backward(np.array([[1.0, 2.0]]), np.array([[3.0]]), np.array([[1.0], [1.0]]), np.zeros(2))
    >>> dx, dW, db
    (array([[3.]]), array([[3.],
           [6.]]), array([1., 2.]))
    """
    dy, x, W = _f64(dy, x, W)
    x2 = x.reshape(x.shape[0], -1)
    N, O = dy.shape
    dx, dW, db = np.zeros(x2.shape), np.zeros(W.shape), np.zeros(O)
    for n in range(N):
        for o in range(O):
            dx[n] += dy[n, o] * W[o]
            dW[o] += dy[n, o] * x2[n]
            db[o] += dy[n, o]
    return dx.reshape(x.shape), dW, db


def relu_forward(x):
    """y = max(x, 0), element by element.  x: any shape → y: shape of x.

    >>> relu_forward(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    (x,) = _f64(x)
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        y[i] = x[i] if x[i] > 0 else 0.0
    return y


def relu_backward(dy, x):
    """dx = dy where x > 0, else 0 (the subgradient 0 at x = 0).

    >>> relu_backward(np.array([5.0, 5.0, 5.0]), np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 5.])
    """
    dy, x = _f64(dy, x)
    dx = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        dx[i] = dy[i] if x[i] > 0 else 0.0
    return dx


def dropout_forward(x, p, rng):
    """Inverted dropout in training: u ~ U[0, 1) per element (``rng.random(x.shape)``, host draws), y = x/(1 − p)
    where u > p, else 0.  x: any shape → y: shape of x.

    >>> dropout_forward(np.ones(4), 0.5, np.random.default_rng(0))   # u = [0.64 0.27 0.04 0.02]
    array([2., 0., 0., 0.])
    """
    (x,) = _f64(x)
    u = rng.random(x.shape)
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        y[i] = x[i] / (1.0 - p) if u[i] > p else 0.0
    return y


# ------------------------------------------------------------------------------------------------ softmax
def softmax_forward(x):
    """y[n,k] = exp(x[n,k] − maxₖ x[n]) / Σⱼ exp(x[n,j] − maxₖ x[n]), row by row.  x: (N, K) → y: (N, K).

    >>> softmax_forward(np.array([[0.0, np.log(3.0)]]))   # exp: 1 and 3
    array([[0.25, 0.75]])
    """
    (x,) = _f64(x)
    y = np.zeros(x.shape)
    for n in range(x.shape[0]):
        e = [np.exp(v - max(x[n])) for v in x[n]]
        y[n] = [ek / sum(e) for ek in e]
    return y


def softmax_backward(dy, x):
    """dx = Jᵀ·dy per row with the Jacobian J[k,j] = ∂y_k/∂x_j = y_k·(δ_kj − y_j), written out as a matrix.

    dy, x: (N, K) → dx: (N, K).

    >>> softmax_backward(np.array([[1.0, 0.0]]), np.array([[0.0, np.log(3.0)]]))   # y = [¼, ¾]: [y₀(1 − y₀), −y₀y₁]
    array([[ 0.1875, -0.1875]])
    """
    dy, x = _f64(dy, x)
    y = softmax_forward(x)
    N, K = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        J = np.array([[y[n, k] * ((k == j) - y[n, j]) for j in range(K)] for k in range(K)])
        dx[n] = J.T @ dy[n]
    return dx


# ------------------------------------------------------------------------------------------------ losses
def cross_entropy_loss(y, t):
    """L = −Σₙ Σₖ t[n,k]·log y[n,k] / N, y floored at the smallest normal float so log y stays finite.

    y: (N, K) probabilities, t: (N, K) one-hot or soft targets → float.

    >>> cross_entropy_loss(np.array([[0.5, 0.5], [0.25, 0.75]]), np.array([[1.0, 0.0], [0.0, 1.0]]))  # −(ln ½ + ln ¾)/2
    0.4904146265058631
    """
    y, t = _f64(y, t)
    tiny = np.finfo(np.float64).tiny
    total = 0.0
    for n in range(y.shape[0]):
        for k in range(y.shape[1]):
            total -= t[n, k] * np.log(max(y[n, k], tiny))
    return float(total / y.shape[0])


def cross_entropy_gradient(y, t):
    """∂L/∂y[n,k] = −t[n,k] / (N·y[n,k]) (y floored as in the loss).  y, t: (N, K) → (N, K).

    >>> cross_entropy_gradient(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))
    array([[-2., -0.]])
    """
    y, t = _f64(y, t)
    tiny = np.finfo(np.float64).tiny
    g = np.zeros(y.shape)
    for n in range(y.shape[0]):
        for k in range(y.shape[1]):
            g[n, k] = -t[n, k] / (y.shape[0] * max(y[n, k], tiny))
    return g


def _responses(y, t):
    """y − t as (N, R): every non-N axis counts as a response."""
    y, t = _f64(y, t)
    return (y - t.reshape(y.shape)).reshape(y.shape[0], -1)


def half_mse_loss(y, t):
    """MATLAB regressionLayer: L = Σₙ Σᵣ ½(y[n,r] − t[n,r])² / N (divided by observations, not responses).

    y, t: (N, R) (or (N, ...), every non-N axis a response) → float.

    >>> half_mse_loss(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))  # ½(1 + 4 + 4)/2
    2.25
    """
    d = _responses(y, t)
    return float(sum(0.5 * d[n, r] ** 2 for n in range(d.shape[0]) for r in range(d.shape[1])) / d.shape[0])


def half_mse_gradient(y, t):
    """∂L/∂y = (y − t) / N.  y, t: (N, ...) → shape of y.

    >>> half_mse_gradient(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))
    array([[ 0.5,  1. ],
           [ 0. , -1. ]])
    """
    d = _responses(y, t)
    g = np.zeros(d.shape)
    for n in range(d.shape[0]):
        for r in range(d.shape[1]):
            g[n, r] = d[n, r] / d.shape[0]
    return g.reshape(np.shape(y))


def mean_squared_loss(y, t):
    """Wolfram MeanSquaredLossLayer: L = Σₙ Σᵣ (y[n,r] − t[n,r])² / (N·R), the mean over every element; it is
    (2/R) times :func:`half_mse_loss`.  y, t: (N, R) (or (N, ...)) → float.

    >>> mean_squared_loss(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))  # (1 + 4 + 4)/4
    2.25
    """
    d = _responses(y, t)
    N, R = d.shape
    return float(sum(d[n, r] ** 2 for n in range(N) for r in range(R)) / (N * R))


def mean_squared_gradient(y, t):
    """∂L/∂y = 2·(y − t) / (N·R).  y, t: (N, ...) → shape of y.

    >>> mean_squared_gradient(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))
    array([[ 0.5,  1. ],
           [ 0. , -1. ]])
    """
    d = _responses(y, t)
    N, R = d.shape
    g = np.zeros(d.shape)
    for n in range(N):
        for r in range(R):
            g[n, r] = 2.0 * d[n, r] / (N * R)
    return g.reshape(np.shape(y))


# ------------------------------------------------------------------------------------------------ elementwise
def _scalar_function(name):
    """f and f′ of one number, written with the math module (no arrays): the textbook formulas."""
    import math

    def sigmoid(v):
        return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))

    a, lam = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
    table = {
        "Ramp": (lambda v: max(v, 0.0), lambda v: 1.0 if v > 0 else 0.0),
        "LogisticSigmoid": (sigmoid, lambda v: sigmoid(v) * (1.0 - sigmoid(v))),
        "Tanh": (math.tanh, lambda v: 1.0 - math.tanh(v) ** 2),
        "ArcTan": (math.atan, lambda v: 1.0 / (1.0 + v * v)),
        "Sin": (math.sin, math.cos), "Cos": (math.cos, lambda v: -math.sin(v)),
        "Sinh": (math.sinh, math.cosh), "Cosh": (math.cosh, math.sinh),
        "Exp": (math.exp, math.exp), "Log": (math.log, lambda v: 1.0 / v),
        "Sqrt": (math.sqrt, lambda v: 0.5 / math.sqrt(v)),
        "Abs": (abs, lambda v: 1.0 if v > 0 else -1.0 if v < 0 else 0.0),
        "SoftPlus": (lambda v: math.log(1.0 + math.exp(v)) if v < 30 else v + math.log1p(math.exp(-v)), sigmoid),
        "SoftSign": (lambda v: v / (1.0 + abs(v)), lambda v: 1.0 / (1.0 + abs(v)) ** 2),
        "HardTanh": (lambda v: min(max(v, -1.0), 1.0), lambda v: 1.0 if abs(v) < 1 else 0.0),
        "ELU": (lambda v: v if v > 0 else math.exp(v) - 1.0, lambda v: 1.0 if v > 0 else math.exp(v)),
        "SELU": (lambda v: lam * (v if v > 0 else a * (math.exp(v) - 1.0)),
                 lambda v: lam if v > 0 else lam * a * math.exp(v)),
        "Swish": (lambda v: v * sigmoid(v), lambda v: sigmoid(v) + v * sigmoid(v) * (1.0 - sigmoid(v))),
    }
    return table[name]


def elementwise_forward(x, name):
    """y = f(x) for every element, one number at a time.  x: any shape → y: shape of x.

    >>> elementwise_forward(np.array([-1.0, 2.0]), "Ramp")
    array([0., 2.])
    """
    (x,) = _f64(x)
    f, _ = _scalar_function(name)
    y = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        y[i] = f(float(x[i]))
    return y


def elementwise_backward(dy, x, name):
    """dx = dy · f′(x), one element at a time.  dy, x: same shape.

    >>> elementwise_backward(np.array([3.0]), np.array([0.0]), "LogisticSigmoid")   # σ′(0) = ¼
    array([0.75])
    """
    dy, x = _f64(dy, x)
    _, df = _scalar_function(name)
    dx = np.zeros(x.shape)
    for i in np.ndindex(x.shape):
        dx[i] = dy[i] * df(float(x[i]))
    return dx


# ------------------------------------------------------------------------------------------------ Wolfram's losses
def binary_cross_entropy_loss(y, t):
    """L = −Σₙ Σᵣ [t log y + (1 − t) log(1 − y)] / (N·R) (y, 1 − y floored at the smallest normal float).

    >>> binary_cross_entropy_loss(np.array([[0.5], [0.75]]), np.array([[1.0], [0.0]]))   # −(ln ½ + ln ¼)/2
    1.0397207708399179
    """
    d_y, t = _f64(y, t)
    y2, t2 = d_y.reshape(len(d_y), -1), t.reshape(len(d_y), -1)
    tiny = np.finfo(np.float64).tiny
    N, R = y2.shape
    total = 0.0
    for n in range(N):
        for r in range(R):
            total -= t2[n, r] * np.log(max(y2[n, r], tiny)) + (1 - t2[n, r]) * np.log(max(1 - y2[n, r], tiny))
    return float(total / (N * R))


def binary_cross_entropy_gradient(y, t):
    """∂L/∂y = (y − t) / (y·(1 − y)·N·R), from ∂/∂y of −[t log y + (1 − t) log(1 − y)] = −t/y + (1 − t)/(1 − y).

    >>> binary_cross_entropy_gradient(np.array([[0.5]]), np.array([[1.0]]))
    array([[-2.]])
    """
    y, t = _f64(y, t)
    y2, t2 = y.reshape(len(y), -1), t.reshape(len(y), -1)
    N, R = y2.shape
    g = np.zeros(y2.shape)
    for n in range(N):
        for r in range(R):
            g[n, r] = (-t2[n, r] / y2[n, r] + (1 - t2[n, r]) / (1 - y2[n, r])) / (N * R)
    return g.reshape(y.shape)


def mean_absolute_loss(y, t):
    """Wolfram MeanAbsoluteLossLayer: L = Σₙ Σᵣ |y[n,r] − t[n,r]| / (N·R).

    >>> mean_absolute_loss(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))  # (1 + 2 + 2)/4
    1.25
    """
    d = _responses(y, t)
    N, R = d.shape
    return float(sum(abs(d[n, r]) for n in range(N) for r in range(R)) / (N * R))


def mean_absolute_gradient(y, t):
    """∂L/∂y = sign(y − t) / (N·R).

    >>> mean_absolute_gradient(np.array([[1.0, -2.0]]), np.array([[0.0, 0.0]]))
    array([[ 0.5, -0.5]])
    """
    d = _responses(y, t)
    N, R = d.shape
    g = np.zeros(d.shape)
    for n in range(N):
        for r in range(R):
            g[n, r] = (1.0 if d[n, r] > 0 else -1.0 if d[n, r] < 0 else 0.0) / (N * R)
    return g.reshape(np.shape(y))


# ------------------------------------------------------------------------------------------------ recurrent
def _ref_act(name, a):
    """The recurrent activations by name, one value at a time (math module)."""
    if name == "sigmoid":
        return 1 / (1 + math.exp(-a))
    if name == "hard-sigmoid":
        return max(0.0, min(1.0, 0.2 * a + 0.5))
    if name == "tanh":
        return math.tanh(a)
    if name == "softsign":
        return a / (1 + abs(a))
    raise ValueError(name)


def _ref_vec(name, a):
    return np.array([_ref_act(name, v) for v in a])


def _ref_steps(mask, n, T, mask_recurrence):
    """(t, real) per step: real is False at a padded step that must keep the state."""
    for t in range(T):
        yield t, mask is None or not mask_recurrence or mask[n, t] > 0


def lstm_forward(x, W, R, b, h0=None, c0=None, mask=None, mask_recurrence=False, state_activation="tanh",
                 gate_activation="sigmoid"):
    """The LSTM one sequence and one step at a time (gates input, forget, cell candidate, output; W (4H, C)):
    i = σ_g(W_i x + R_i h + b_i), f = σ_g(...), g = σ_s(...), o = σ_g(...); c ← f·c + i·g; h ← o·σ_s(c); a padded
    step (mask 0, mask_recurrence) keeps h and c.  x (N, C, T) → y (N, H, T).

    >>> y = lstm_forward(np.ones((1, 1, 2)), np.zeros((4, 1)), np.zeros((4, 1)), np.array([0., 0., 1., 0.]))
    >>> bool(np.isclose(y[0, 0, 0], 0.5 * np.tanh(0.5 * np.tanh(1.0))))   # i = f = o = ½, g = tanh 1, c = ½·tanh 1
    True
    """
    x, W, R, b = _f64(x, W, R, b)
    N, C, T = x.shape
    H = R.shape[1]
    y = np.zeros((N, H, T))
    for n in range(N):
        h = np.zeros(H) if h0 is None else np.array(h0[n], dtype=np.float64)
        c = np.zeros(H) if c0 is None else np.array(c0[n], dtype=np.float64)
        for t, real in _ref_steps(mask, n, T, mask_recurrence):
            if real:
                a = W @ x[n, :, t] + R @ h + b
                i = _ref_vec(gate_activation, a[:H])
                f = _ref_vec(gate_activation, a[H:2 * H])
                g = _ref_vec(state_activation, a[2 * H:3 * H])
                o = _ref_vec(gate_activation, a[3 * H:])
                c = f * c + i * g                       # c_t = f ⊙ c_{t−1} + i ⊙ g
                h = o * _ref_vec(state_activation, c)   # h_t = o ⊙ σ_s(c_t)
            y[n, :, t] = h
    return y


def gru_forward(x, W, R, b, rb=None, h0=None, mask=None, mask_recurrence=False,
                reset_gate_mode="after-multiplication", state_activation="tanh", gate_activation="sigmoid"):
    """The GRU one sequence and one step at a time (gates reset, update, candidate; W (3H, C)):
    r = σ_g(W_r x + R_r h + b_r [+ rb_r]), z = σ_g(W_z x + R_z h + b_z [+ rb_z]), h̃ by ``reset_gate_mode``
    (after: σ_s(W_h x + r ⊙ (R_h h) + b_h); before: σ_s(W_h x + R_h (r ⊙ h) + b_h); recurrent-bias-after:
    σ_s(W_h x + b_h + r ⊙ (R_h h + rb_h))); h ← (1 − z) ⊙ h̃ + z ⊙ h.  x (N, C, T) → y (N, H, T)."""
    x, W, R, b = _f64(x, W, R, b)
    rb = np.zeros(W.shape[0]) if rb is None else np.asarray(rb, dtype=np.float64)
    N, C, T = x.shape
    H = R.shape[1]
    y = np.zeros((N, H, T))
    for n in range(N):
        h = np.zeros(H) if h0 is None else np.array(h0[n], dtype=np.float64)
        for t, real in _ref_steps(mask, n, T, mask_recurrence):
            if real:
                xn = x[n, :, t]
                r = _ref_vec(gate_activation, W[:H] @ xn + R[:H] @ h + b[:H] + rb[:H])
                z = _ref_vec(gate_activation, W[H:2 * H] @ xn + R[H:2 * H] @ h + b[H:2 * H] + rb[H:2 * H])
                if reset_gate_mode == "before-multiplication":
                    a = W[2 * H:] @ xn + R[2 * H:] @ (r * h) + b[2 * H:]
                else:
                    a = W[2 * H:] @ xn + b[2 * H:] + r * (R[2 * H:] @ h + rb[2 * H:])
                hh = _ref_vec(state_activation, a)
                h = (1 - z) * hh + z * h
            y[n, :, t] = h
    return y


def rnn_forward(x, W, R, b, h0=None, mask=None, mask_recurrence=False, activation="Tanh"):
    """The basic recurrent cell one sequence and one step at a time: s ← f(W x_t + R s + b).  x (N, C, T) →
    y (N, H, T); f by its Wolfram name (Tanh, Ramp, LogisticSigmoid, ...)."""
    x, W, R, b = _f64(x, W, R, b)
    N, C, T = x.shape
    H = R.shape[1]
    y = np.zeros((N, H, T))
    for n in range(N):
        s = np.zeros(H) if h0 is None else np.array(h0[n], dtype=np.float64)
        for t, real in _ref_steps(mask, n, T, mask_recurrence):
            if real:
                s = elementwise_forward(W @ x[n, :, t] + R @ s + b, activation)
            y[n, :, t] = s
    return y


def sequence_last_forward(x, mask=None):
    """y[n] = x[n, :, ℓ], ℓ the last step with mask[n, ℓ] = 1 (the last step T without a mask or real steps).

    >>> sequence_last_forward(np.arange(6.0).reshape(2, 1, 3), np.array([[1, 1, 0], [1, 1, 1.0]]))
    array([[1.],
           [5.]])
    """
    (x,) = _f64(x)
    N, C, T = x.shape
    y = np.zeros((N, C))
    for n in range(N):
        last = T - 1
        if mask is not None and any(mask[n, t] > 0 for t in range(T)):
            last = max(t for t in range(T) if mask[n, t] > 0)
        y[n] = x[n, :, last]
    return y


# ------------------------------------------------------------------------------------------------ the era's layers
def leaky_relu_forward(x, scale=0.01):
    """y = x if x > 0 else scale·x, element by element.

    >>> leaky_relu_forward(np.array([-2.0, 3.0]), 0.1)
    array([-0.2,  3. ])
    """
    (x,) = _f64(x)
    return np.array([v if v > 0 else scale * v for v in x.ravel()]).reshape(x.shape)


def leaky_relu_backward(dy, x, scale=0.01):
    """dx = dy if x > 0 else scale·dy."""
    dy, x = _f64(dy, x)
    return np.array([g if v > 0 else scale * g for g, v in zip(dy.ravel(), x.ravel())]).reshape(x.shape)


def clipped_relu_forward(x, ceiling):
    """y = 0 if x < 0, x if 0 ≤ x ≤ ceiling, ceiling above.

    >>> clipped_relu_forward(np.array([-1.0, 0.5, 7.0]), 6.0)
    array([0. , 0.5, 6. ])
    """
    (x,) = _f64(x)
    return np.array([0.0 if v < 0 else ceiling if v > ceiling else v for v in x.ravel()]).reshape(x.shape)


def clipped_relu_backward(dy, x, ceiling):
    """dx = dy where 0 < x < ceiling, else 0."""
    dy, x = _f64(dy, x)
    return np.array([g if 0 < v < ceiling else 0.0 for g, v in zip(dy.ravel(), x.ravel())]).reshape(x.shape)


def elu_forward(x, alpha=1.0):
    """y = x if x > 0 else α·(eˣ − 1).

    >>> elu_forward(np.array([-1.0, 2.0]), 2.0).round(6)
    array([-1.264241,  2.      ])
    """
    (x,) = _f64(x)
    return np.array([v if v > 0 else alpha * (math.exp(v) - 1) for v in x.ravel()]).reshape(x.shape)


def elu_backward(dy, x, alpha=1.0):
    """dx = dy if x > 0 else dy·α·eˣ."""
    dy, x = _f64(dy, x)
    return np.array([g if v > 0 else g * alpha * math.exp(v) for g, v in zip(dy.ravel(), x.ravel())]
                    ).reshape(x.shape)


def global_avgpool2d_forward(x):
    """y[n,c,0,0] = Σ_h Σ_w x[n,c,h,w] / (H·W).  x: (N, C, H, W) → (N, C, 1, 1)."""
    (x,) = _f64(x)
    N, C, H, W = x.shape
    y = np.zeros((N, C, 1, 1))
    for n in range(N):
        for c in range(C):
            y[n, c, 0, 0] = sum(x[n, c, h, w] for h in range(H) for w in range(W)) / (H * W)
    return y


def global_avgpool2d_backward(dy, x):
    """dx[n,c,h,w] = dy[n,c,0,0] / (H·W)."""
    dy, x = _f64(dy, x)
    N, C, H, W = x.shape
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    dx[n, c, h, w] = dy[n, c, 0, 0] / (H * W)
    return dx


def _first_argmax(plane):
    """(h, w) of the first maximum of a 2-D plane in row-major order."""
    best = None
    for h in range(plane.shape[0]):
        for w in range(plane.shape[1]):
            if best is None or plane[h, w] > plane[best]:
                best = (h, w)
    return best


def global_maxpool2d_forward(x):
    """y[n,c,0,0] = max_{h,w} x[n,c,h,w].  x: (N, C, H, W) → (N, C, 1, 1)."""
    (x,) = _f64(x)
    N, C = x.shape[:2]
    y = np.zeros((N, C, 1, 1))
    for n in range(N):
        for c in range(C):
            y[n, c, 0, 0] = x[n, c][_first_argmax(x[n, c])]
    return y


def global_maxpool2d_backward(dy, x):
    """dx = dy at the first maximum (row-major) of each (n, c) plane, 0 elsewhere."""
    dy, x = _f64(dy, x)
    dx = np.zeros(x.shape)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            h, w = _first_argmax(x[n, c])
            dx[n, c, h, w] = dy[n, c, 0, 0]
    return dx


def _lrn_window(c, C, size):
    """The channels j of c's window: c − ⌊size/2⌋ … c + ⌊(size − 1)/2⌋, inside [0, C)."""
    return [j for j in range(c - size // 2, c + (size - 1) // 2 + 1) if 0 <= j < C]


def lrn_forward(x, size, alpha=1e-4, beta=0.75, k=2.0):
    """y[n,c,h,w] = x[n,c,h,w] / (k + α/size · Σ_{j ∈ window(c)} x[n,j,h,w]²)^β, one element at a time.

    >>> lrn_forward(np.ones((1, 3, 1, 1)), 3, alpha=3.0, beta=1.0, k=1.0).ravel()   # sums of squares 2, 3, 2
    array([0.33333333, 0.25      , 0.33333333])
    """
    (x,) = _f64(x)
    N, C = x.shape[:2]
    y = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for pos in np.ndindex(*x.shape[2:]):
                s = sum(x[(n, j) + pos] ** 2 for j in _lrn_window(c, C, size))
                y[(n, c) + pos] = x[(n, c) + pos] / (k + alpha / size * s) ** beta
    return y


def lrn_backward(dy, x, size, alpha=1e-4, beta=0.75, k=2.0):
    """dx[j] = Σ_c dy[c]·∂y[c]/∂x[j] with ∂y[c]/∂x[j] = [c = j]·d_c^(−β) − β·x[c]·d_c^(−β−1)·(α/size)·2·x[j]
    for j in c's window (d_c = k + α/size·S_c), element by element."""
    dy, x = _f64(dy, x)
    N, C = x.shape[:2]
    dx = np.zeros(x.shape)
    for n in range(N):
        for pos in np.ndindex(*x.shape[2:]):
            for c in range(C):
                window = _lrn_window(c, C, size)
                d = k + alpha / size * sum(x[(n, j) + pos] ** 2 for j in window)
                for j in window:
                    partial = -beta * x[(n, c) + pos] * d ** (-beta - 1) * (alpha / size) * 2 * x[(n, j) + pos]
                    if j == c:
                        partial += d ** -beta
                    dx[(n, j) + pos] += dy[(n, c) + pos] * partial
    return dx


def grouped_conv2d_forward(x, W, b, groups, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """Group g's filters f ∈ [g·F/G, (g+1)·F/G) convolve group g's channels c ∈ [g·C/G, (g+1)·C/G): the plain
    :func:`conv2d_forward` once per group.  x: (N, C, H, W), W: (F, C/G, KH, KW), b: (F,) → (N, F, OH, OW)."""
    x, W, b = _f64(x, W, b)
    cg, fg = x.shape[1] // groups, W.shape[0] // groups
    return np.concatenate([conv2d_forward(x[:, g * cg:(g + 1) * cg], W[g * fg:(g + 1) * fg],
                                          b[g * fg:(g + 1) * fg], stride, padding, dilation)
                           for g in range(groups)], axis=1)


def grouped_conv2d_backward(dy, x, W, b, groups, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """:func:`conv2d_backward` once per group → (dx, dW, db)."""
    dy, x, W, b = _f64(dy, x, W, b)
    cg, fg = x.shape[1] // groups, W.shape[0] // groups
    parts = [conv2d_backward(dy[:, g * fg:(g + 1) * fg], x[:, g * cg:(g + 1) * cg], W[g * fg:(g + 1) * fg],
                             b[g * fg:(g + 1) * fg], stride, padding, dilation) for g in range(groups)]
    return (np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def conv_transpose2d_forward(x, W, b, stride=(1, 1), cropping=(0, 0, 0, 0)):
    """Each input pixel x[n,c,h,w] adds W[c,f,kh,kw]·x[n,c,h,w] to the uncropped output at (h·SH + kh, w·SW + kw);
    then PT, PB rows and PL, PR columns are cropped and b[f] added.  x: (N, C, H, W), W: (C, F, KH, KW), b: (F,)
    → (N, F, SH·(H−1) + KH − PT − PB, SW·(W−1) + KW − PL − PR).

    >>> conv_transpose2d_forward(np.ones((1, 1, 1, 2)), np.ones((1, 1, 1, 2)), np.zeros(1), (1, 2))[0, 0]
    array([[1., 1., 1., 1.]])
    """
    x, W, b = _f64(x, W, b)
    N, C, H, Wd = x.shape
    F, KH, KW = W.shape[1:]
    (SH, SW), (PT, PB, PL, PR) = stride, cropping
    full = np.zeros((N, F, SH * (H - 1) + KH, SW * (Wd - 1) + KW))
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(Wd):
                    for f in range(F):
                        for kh in range(KH):
                            for kw in range(KW):
                                full[n, f, h * SH + kh, w * SW + kw] += W[c, f, kh, kw] * x[n, c, h, w]
    y = full[:, :, PT:full.shape[2] - PB, PL:full.shape[3] - PR].copy()
    for f in range(F):
        y[:, f] += b[f]
    return y


def conv_transpose2d_backward(dy, x, W, b, stride=(1, 1), cropping=(0, 0, 0, 0)):
    """dx[n,c,h,w] = Σ W[c,f,kh,kw]·dy[n,f,oh,ow] and dW[c,f,kh,kw] = Σ x[n,c,h,w]·dy[n,f,oh,ow] over the taps whose
    output (oh, ow) = (h·SH + kh − PT, w·SW + kw − PL) survives the cropping; db[f] = Σ dy[n,f,·,·]."""
    dy, x, W = _f64(dy, x, W)
    N, C, H, Wd = x.shape
    F, KH, KW = W.shape[1:]
    (SH, SW), (PT, _, PL, _) = stride, cropping
    OH, OW = dy.shape[2:]
    dx, dW = np.zeros(x.shape), np.zeros(W.shape)
    for n in range(N):
        for c in range(C):
            for h in range(H):
                for w in range(Wd):
                    for f in range(F):
                        for kh in range(KH):
                            for kw in range(KW):
                                oh, ow = h * SH + kh - PT, w * SW + kw - PL
                                if 0 <= oh < OH and 0 <= ow < OW:
                                    dx[n, c, h, w] += W[c, f, kh, kw] * dy[n, f, oh, ow]
                                    dW[c, f, kh, kw] += x[n, c, h, w] * dy[n, f, oh, ow]
    return dx, dW, dy.sum(axis=(0, 2, 3))


def maxunpool2d_forward(x, indices, out_hw):
    """y[n, c, idx // W, idx % W] += x[n, c, oh, ow] with idx = indices[n, c, oh, ow]; zero elsewhere.
    x, indices: (N, C, OH, OW) → y: (N, C, H, W).

    >>> maxunpool2d_forward(np.array([[[[5.0, 6.0]]]]), np.array([[[[3, 0]]]]), (2, 2))[0, 0]
    array([[6., 0.],
           [0., 5.]])
    """
    (x,) = _f64(x)
    H, W = out_hw
    y = np.zeros(x.shape[:2] + (H, W))
    for n, c, oh, ow in np.ndindex(*x.shape):
        idx = int(indices[n, c, oh, ow])
        y[n, c, idx // W, idx % W] += x[n, c, oh, ow]
    return y


def maxunpool2d_backward(dy, x, indices, out_hw):
    """dx[n, c, oh, ow] = dy[n, c, idx // W, idx % W]."""
    dy, x = _f64(dy, x)
    W = out_hw[1]
    dx = np.zeros(x.shape)
    for n, c, oh, ow in np.ndindex(*x.shape):
        idx = int(indices[n, c, oh, ow])
        dx[n, c, oh, ow] = dy[n, c, idx // W, idx % W]
    return dx
