"""Custom losses train and report their RMSE from their own definition (issue 12 item 4)."""

from __future__ import annotations

import math

import numpy as np

import minidl
from minidl import layers as L


class SumSquaredLoss(L.OutputLayer):
    """A loss on the documented base class: Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / N, with no RMSE definition."""

    def loss_array(self, y, t):
        return ((y - t.reshape(y.shape)) ** 2).sum() / y.shape[0]

    def loss_gradient(self, y, t):
        return 2.0 * (y - t.reshape(y.shape)) / y.shape[0]

    def example_losses(self, y, t):
        return ((y - t.reshape(y.shape)) ** 2).reshape(y.shape[0], -1).sum(axis=1)


class ScaledRegression(L.RegressionOutput):
    """A subclass of the regression layer with another loss: 100 × the half MSE, no RMSE definition of its own."""

    def loss_array(self, y, t):
        return 100.0 * super().loss_array(y, t)

    def loss_gradient(self, y, t):
        return 100.0 * super().loss_gradient(y, t)

    def example_losses(self, y, t):
        return 100.0 * super().example_losses(y, t)


class SumSquaredWithRmse(SumSquaredLoss):
    """The same loss with its RMSE definition: loss = Σ(y − t)²/N ⇒ RMSE = √(loss/R)."""

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        return math.sqrt(loss / n_responses)


def _data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    T = 20.0 * X @ rng.standard_normal((3, 2)) + 5.0
    return X, T


def _train(loss_layer, **kw):
    X, T = _data()
    layers = [L.FeatureInput(3, normalization="none"), L.FullyConnected(2), loss_layer]
    opts = minidl.training_options("sgdm", max_epochs=1, mini_batch_size=40, verbose=False, initial_learn_rate=1e-9,
                                   shuffle="never", **kw)
    net, info = minidl.train_network(X, T, layers, opts)
    return net, info, X, T


def _true_rmse(net, X, T):
    return float(np.sqrt(np.mean((net.predict(X) - T) ** 2)))


def test_base_class_loss_trains_and_reports_nan_rmse():
    """Before: NotImplementedError at iteration 1. A custom loss without an RMSE definition reports NaN."""
    net, info, X, T = _train(SumSquaredLoss())
    assert len(info.training_loss) == 1 and np.isfinite(info.training_loss[0])
    assert np.isnan(info.training_rmse).all()


def test_regression_subclass_with_other_loss_reports_nan_not_the_half_mse_formula():
    """Before: √(2·loss/R) of the parent's loss (wrong for this loss); now NaN (no definition of its own)."""
    net, info, X, T = _train(ScaledRegression())
    assert np.isnan(info.training_rmse).all()


def test_custom_rmse_definition_is_used_and_true():
    net, info, X, T = _train(SumSquaredWithRmse())
    # learn rate 1e-9: the weights before and after the one step agree to ~1e-8 relative
    np.testing.assert_allclose(info.training_rmse[0], _true_rmse(net, X, T), rtol=1e-5)


def test_builtin_regression_rmse_unchanged():
    net, info, X, T = _train(L.RegressionOutput())  # MATLAB's RMSE: the responses summed, √(Σₙ Σᵣ (y − t)²/N)
    np.testing.assert_allclose(info.training_rmse[0], np.sqrt(((net.predict(X) - T) ** 2).sum(axis=1).mean()),
                               rtol=1e-5)


def test_rmse_rule_follows_the_class_that_defines_the_loss():
    class Renamed(L.RegressionOutput):          # same loss, another description: the parent's RMSE applies
        def describe(self):
            return "renamed"

    class Doubled(L.MeanSquaredLoss):           # another loss, no RMSE of its own: NaN
        def loss_array(self, y, t):
            return 2.0 * super().loss_array(y, t)

    assert Renamed().rmse_from_loss(2.0, 4) == 2.0 and L.RegressionOutput().rmse_from_loss(2.0, 4) == 2.0
    assert math.isnan(Doubled().rmse_from_loss(4.0, 1)) and L.MeanSquaredLoss().rmse_from_loss(4.0, 1) == 2.0
    assert math.isnan(SumSquaredLoss().rmse_from_loss(4.0, 1))
    assert SumSquaredWithRmse().rmse_from_loss(8.0, 2) == 2.0
