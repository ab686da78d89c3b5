"""Wolfram's mean squared loss (mean over elements) by hand, against MATLAB's half-MSE, with a float64 gradient
check."""

import numpy as np
import pytest

from minidl import functional as F
from minidl.backend import to_device, to_host
from minidl.testing import gradient_check


def test_mean_squared_loss_by_hand(backend):
    y = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    t = np.array([[0.0, 2.0, 1.0], [0.5, 1.0, 0.0]])
    yd, td = to_device(y, backend), to_device(t, backend)
    np.testing.assert_allclose(to_host(F.mean_squared_example_losses(yd, td)), [(1 + 0 + 1) / 3, (0 + 4 + 9) / 3])
    assert float(to_host(F.mean_squared_loss(yd, td))) == pytest.approx((2 / 3 + 13 / 3) / 2)   # Σ(y−t)²/(N·R)
    # Wolfram's loss is MATLAB's half-SSE loss times 2/R
    assert float(to_host(F.mean_squared_loss(yd, td))) == pytest.approx(
        float(to_host(F.half_mse_loss(yd, td))) * 2 / 3)


def test_mean_squared_gradient_check(backend):
    rng = np.random.default_rng(0)
    y = to_device(rng.standard_normal((4, 3)), backend, dtype="float64")
    t = to_device(rng.standard_normal((4, 3)), backend, dtype="float64")
    errors = gradient_check(lambda y: F.mean_squared_loss(y, t).reshape(1), {"y": y},
                            lambda dy: {"y": F.mean_squared_gradient(y, t) * dy[0]})
    assert errors["y"] < 1e-7
