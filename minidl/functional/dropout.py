"""Inverted dropout (docs/layers.md). MATLAB: mask = (u > p)/(1 − p) in training, identity at prediction."""

from __future__ import annotations

import numpy as np

from minidl.backend import device_of, to_device


def dropout_forward(x, p: float, rng: np.random.Generator, rows: tuple[int, int, int] | None = None):
    """y = x · mask, mask = [u > p] / (1 − p), u ~ U[0, 1) drawn on the host from ``rng`` (same run on any device).

    x: any shape.  ``rows`` (lo, hi, B): x is rows lo:hi of a mini-batch of B (a data-parallel worker's share): the
    whole batch's u is drawn, (B, *x.shape[1:]), and its rows kept, so the generator and the masks are the ones
    one process draws.  Returns (y, mask).
    Reference: :func:`minidl.functional.reference.dropout_forward` (the same draws from the same generator state).
    """
    if rows is None:
        u = rng.random(x.shape)  # host draws: the same seed gives the same masks on CPU and GPU
    else:
        lo, hi, b = rows
        u = rng.random((b,) + tuple(x.shape[1:]))[lo:hi]
    mask = to_device((u > p) / (1.0 - p), device_of(x), dtype=x.dtype)
    return x * mask, mask


def dropout_backward(dy, mask):
    """dx = dy · mask (the mask of dropout_forward; with it given, this product is its own reference)."""
    return dy * mask
