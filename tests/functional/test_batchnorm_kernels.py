"""The batch-norm kernels' own pieces (issue 15's speed work): the per-channel dot without a temporary, the cache
that keeps x − μ instead of x̂, the flat per-channel broadcasts on any layout, and the results in float64 equal to
the textbook formulas (docs/layers.md) to rounding."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import backend as B
from minidl import functional as F
from minidl.functional import batchnorm as BN
from minidl.functional import reference as R


@pytest.mark.parametrize("shape", [(4, 3, 2, 5), (6, 2), (3, 4, 7), (0, 3, 2, 2)])
def test_channel_dot_is_the_per_channel_sum_of_products(backend, shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    expected = np.zeros(shape[1])
    for index in np.ndindex(shape):                   # the loop definition: Σ over every axis but 1
        expected[index[1]] += a[index] * b[index]
    got = BN.channel_dot(B.to_device(a, backend), B.to_device(b, backend))
    np.testing.assert_allclose(B.to_host(got), expected, rtol=1e-13, atol=1e-14)
    single = BN.channel_dot(B.to_device(a.astype(np.float32), backend), B.to_device(b.astype(np.float32), backend))
    assert single.dtype == np.float32 and single.shape == (shape[1],)


@pytest.mark.parametrize("shape", [(5, 3, 4, 2), (7, 4), (3, 2, 6)])
def test_batchnorm_cache_keeps_the_centered_input_and_the_inverse_deviation(backend, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2 + 3
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    y, (xc, inv_std, g, m, shift), (count, mean, var) = F.batchnorm_forward(
        *(B.to_device(a, backend) for a in (x, gamma, beta)))
    axes = (0,) + tuple(range(2, len(shape)))
    mu, sigma2 = x.mean(axis=axes), x.var(axis=axes)
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    assert m == count == x.size // shape[1] and shift is None   # one process: centered on μ itself
    np.testing.assert_allclose(B.to_host(xc), x - mu.reshape(per_channel), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(B.to_host(inv_std), 1 / np.sqrt(sigma2 + 1e-5), rtol=1e-14)
    np.testing.assert_allclose(B.to_host(y), R.batchnorm_forward(x, gamma, beta), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(B.to_host(mean), mu, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(B.to_host(var), sigma2, rtol=1e-14)


def test_batchnorm_on_a_non_contiguous_input_equals_the_contiguous_one():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((3, 5, 4, 6))
    x = base.transpose(1, 0, 2, 3)                    # (5, 3, 4, 6), not C-contiguous
    dy = rng.standard_normal((6, 4, 3, 5)).transpose(3, 2, 1, 0)
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    y, cache, _ = F.batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = F.batchnorm_backward(dy, cache)
    y2, cache2, _ = F.batchnorm_forward(np.ascontiguousarray(x), gamma, beta)
    dx2, dgamma2, dbeta2 = F.batchnorm_backward(np.ascontiguousarray(dy), cache2)
    for a, b in ((y, y2), (dx, dx2), (dgamma, dgamma2), (dbeta, dbeta2)):
        np.testing.assert_array_equal(a, b)
    assert y.shape == x.shape and dx.shape == x.shape
    y3, _ = F.batchnorm_inference(x, gamma, beta, np.ones(3), np.full(3, 2.0))
    np.testing.assert_array_equal(y3, F.batchnorm_inference(np.ascontiguousarray(x), gamma, beta, np.ones(3),
                                                            np.full(3, 2.0))[0])


@pytest.mark.parametrize("shape", [(16, 4, 5, 5), (9, 3), (6, 2, 11)])
def test_batchnorm_float64_equals_the_textbook_formulas_to_rounding(shape):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 3 - 7
    dy = rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    axes = (0,) + tuple(range(2, len(shape)))
    per_channel = (1, -1) + (1,) * (len(shape) - 2)
    m = x.size // shape[1]
    mu = x.mean(axis=axes, keepdims=True)
    xhat = (x - mu) / np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5)
    dbeta, dgamma = dy.sum(axis=axes), (dy * xhat).sum(axis=axes)   # docs/layers.md, written out
    dx = (gamma.reshape(per_channel) / (m * np.sqrt(x.var(axis=axes, keepdims=True) + 1e-5))
          * (m * dy - dbeta.reshape(per_channel) - xhat * dgamma.reshape(per_channel)))
    y, cache, _ = F.batchnorm_forward(x, gamma, beta)
    got = F.batchnorm_backward(dy, cache)
    np.testing.assert_allclose(y, gamma.reshape(per_channel) * xhat + beta.reshape(per_channel), rtol=1e-12,
                               atol=1e-13)
    for a, b in zip(got, (dx, dgamma, dbeta)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13 * np.abs(b).max())
