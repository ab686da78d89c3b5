"""ReLU's one-pass kernels (issue 15's speed work): y = max(x, 0) with the mask x > 0, dx = dy·[x > 0]; the
non-finite values behave as docs/layers.md says."""

from __future__ import annotations

import numpy as np

from minidl import backend as B
from minidl import functional as F
from minidl.functional import reference as R


def test_relu_forward_and_backward_equal_the_reference_with_zeros_at_the_kink(backend):
    x = np.array([[-2.0, -0.0, 0.0, 1e-300], [3.5, -1e-300, 7.0, -4.0]])
    dy = np.array([[1.0, 2.0, 3.0, 4.0], [-5.0, 6.0, -7.0, 8.0]])
    for dtype in (np.float64, np.float32):
        y, mask = F.relu_forward(B.to_device(x.astype(dtype), backend))
        dx = F.relu_backward(B.to_device(dy.astype(dtype), backend), mask)
        assert y.dtype == dtype and dx.dtype == dtype
        np.testing.assert_array_equal(B.to_host(y), R.relu_forward(x.astype(dtype)).astype(dtype))
        np.testing.assert_array_equal(B.to_host(dx), R.relu_backward(dy, x.astype(dtype)).astype(dtype))


def test_relu_of_non_finite_inputs(backend):
    x = B.to_device(np.array([np.nan, -np.inf, np.inf, -1.0, 2.0]), backend)
    y, mask = F.relu_forward(x)
    np.testing.assert_array_equal(B.to_host(y), [np.nan, 0.0, np.inf, 0.0, 2.0])   # −∞ → 0 (max(x, 0)), NaN stays
    np.testing.assert_array_equal(B.to_host(mask), [False, False, True, False, True])
    dx = F.relu_backward(B.to_device(np.array([1.0, 1.0, 1.0, np.nan, np.inf]), backend), mask)
    np.testing.assert_array_equal(B.to_host(dx), [0.0, 0.0, 1.0, np.nan, np.inf])  # a NaN in dy is never hidden
