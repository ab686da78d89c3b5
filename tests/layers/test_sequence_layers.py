"""Sequence mode (N, C, T) of the dense, activation, dropout, batch-norm and elementwise layers, and the masked
sequence-to-sequence losses of the output layers (float64 gradient checks, loop references)."""

import math

import numpy as np
import pytest

from minidl import backend as B
from minidl import layers as L
from minidl.testing import assert_allclose, gradient_check


def seq_check(layer, shape, backend, rng, x=None, **kw):
    """Gradient-check a layer on sequences (N, C, T): initialized for (C, None), float64, training mode."""
    n, c, t = shape
    layer.initialize((c, None), rng=rng, dtype="float64", device=backend)
    x = rng.standard_normal(shape) if x is None else x
    inputs = {"x": B.to_device(x, backend, dtype="float64")}
    inputs.update({f"param:{k}": v for k, v in layer.params.items()})
    state = layer.rng.bit_generator.state if getattr(layer, "rng", None) is not None else None

    def f(**kw_):
        if state is not None:
            layer.rng.bit_generator.state = state
        return layer.forward(kw_["x"], training=True)

    def backward(dy):
        grads = {"x": layer.backward(dy)}
        grads.update({f"param:{k}": g for k, g in layer.grads.items()})
        return grads

    return gradient_check(f, inputs, backward, rng=rng, **kw)


def test_fully_connected_per_time_step(backend, rng):
    layer = L.FullyConnected(4)
    seq_check(layer, (3, 5, 6), backend, rng)
    assert layer.output_shape == (4, None)
    x = rng.standard_normal((2, 5, 7))
    y = B.to_host(layer.forward(B.to_device(x, backend)))
    W, b = B.to_host(layer.params["weight"]), B.to_host(layer.params["bias"])
    for t in range(7):                                   # the same map at every step
        assert_allclose(y[:, :, t], x[:, :, t] @ W.T + b, rtol=1e-12)


def test_fully_connected_batch_of_one_step_of_one(backend, rng):
    seq_check(L.FullyConnected(2), (1, 3, 1), backend, rng)


def test_relu_dropout_elementwise_keep_the_time_axis(backend, rng):
    x = rng.standard_normal((2, 3, 5))
    x = np.where(np.abs(x) < 0.05, 0.3, x)
    seq_check(L.ReLU(), x.shape, backend, rng, x=x)
    seq_check(L.Elementwise("Tanh"), x.shape, backend, rng)
    drop = L.Dropout(0.4)
    drop.rng = np.random.default_rng(3)
    seq_check(drop, x.shape, backend, rng)
    assert drop.output_shape == (3, None)


def test_softmax_over_channels_at_each_step(backend, rng):
    layer = L.Softmax()
    seq_check(layer, (2, 4, 3), backend, rng)
    x = rng.standard_normal((2, 4, 3))
    y = B.to_host(layer.forward(B.to_device(x, backend)))
    assert_allclose(y.sum(axis=1), np.ones((2, 3)), rtol=1e-14)
    e = np.exp(x[:, :, 1])
    assert_allclose(y[:, :, 1], e / e.sum(axis=1, keepdims=True), rtol=1e-12)


def test_batch_norm_over_observations_and_time(backend, rng):
    layer = L.BatchNormalization()
    seq_check(layer, (3, 2, 4), backend, rng)
    x = rng.standard_normal((3, 2, 4)) * 3 + 1
    y = B.to_host(layer.forward(B.to_device(x, backend), training=True))
    mu = x.mean(axis=(0, 2), keepdims=True)
    var = x.var(axis=(0, 2), keepdims=True)
    assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-10)
    assert layer.output_shape == (2, None)


def test_a_time_axis_elsewhere_is_refused():
    with pytest.raises(ValueError, match=r"\(C, None\)"):
        L.FullyConnected(2).initialize((None, 3))


# ------------------------------------------------------------------------------------------------ losses
def _seq_batch(rng, n=3, k=4, t=5):
    z = rng.standard_normal((n, k, t))
    y = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, size=(n, t))
    mask = np.ones((n, t))
    mask[1, 3:] = 0
    mask[2, 1:] = 0
    return y, labels, mask


def _loss_check(layer, y, t, mask, backend, rng, k_shape):
    layer.initialize(k_shape, dtype="float64", device=backend)
    yd, td, md = (B.to_device(a, backend) for a in (y, t, mask))
    if td.dtype != np.int64:
        td = B.to_device(t, backend, dtype="float64")

    def f(y):
        return layer.loss_array(y, td, mask=md).reshape(1)

    gradient_check(f, {"y": yd}, lambda dy: {"y": layer.loss_gradient(yd, td, mask=md) * dy[0]},
                   dy=np.ones(1), rng=rng)
    loss = float(B.to_host(layer.loss_array(yd, td, mask=md)))
    ex = B.to_host(layer.example_losses(yd, td, mask=md))
    assert math.isclose(ex.mean(), loss, rel_tol=1e-12)
    return loss, ex


def test_sequence_classification_loss_sums_real_steps_over_n(backend, rng):
    y, labels, mask = _seq_batch(rng)
    loss, ex = _loss_check(L.ClassificationOutput(), y, labels, mask, backend, rng, (4, None))
    expected = [-sum(mask[n, t] * math.log(y[n, labels[n, t], t]) for t in range(5)) for n in range(3)]
    assert_allclose(ex, np.array(expected), rtol=1e-12)
    assert math.isclose(loss, sum(expected) / 3, rel_tol=1e-12)
    layer = L.ClassificationOutput()                     # padded steps: any label, any output, no effect
    y2, l2 = y.copy(), labels.copy()
    y2[2, :, 1:] = 0.25
    l2[2, 1:] = 0
    assert math.isclose(float(layer.loss_array(y2, l2, mask=mask)), loss, rel_tol=1e-12)
    assert float(layer.loss_array(y, labels)) > loss     # mask None: every step counts
    one_hot = np.eye(4)[labels].transpose(0, 2, 1)       # (N, K, T) targets give the same value
    assert math.isclose(float(layer.loss_array(y, one_hot, mask=mask)), loss, rel_tol=1e-12)


def test_wolfram_index_cross_entropy_averages_over_each_sequence(backend, rng):
    y, labels, mask = _seq_batch(rng)
    _, ex = _loss_check(L.ClassificationOutput(sequence_reduction="mean"), y, labels, mask, backend, rng, (4, None))
    _, summed = _loss_check(L.ClassificationOutput(), y, labels, mask, backend, rng, (4, None))
    assert_allclose(ex, summed / mask.sum(axis=1), rtol=1e-12)
    with pytest.raises(ValueError, match="sequence_reduction: got 'max'"):
        L.ClassificationOutput(sequence_reduction="max")


def test_sequence_regression_loss_divides_by_the_padded_length(backend, rng):
    y = rng.standard_normal((3, 2, 5))
    t = rng.standard_normal((3, 2, 5))
    _, _, mask = _seq_batch(rng)
    layer = L.RegressionOutput()
    loss, ex = _loss_check(layer, y, t, mask, backend, rng, (2, None))
    sq = ((y - t) ** 2).sum(axis=1)                      # Σᵣ, (N, T)
    expected = (mask * sq).sum(axis=1) / (2 * 5)         # 1/(2S) Σₜ mₙₜ Σᵣ (y − t)², S = 5
    assert_allclose(ex, expected, rtol=1e-12)
    frac = mask.sum() / mask.size
    rmse = math.sqrt((mask * sq).sum() / mask.sum())     # over the real steps, summed over responses (as MATLAB)
    assert math.isclose(layer.rmse_from_loss(loss, 2, real_fraction=frac), rmse, rel_tol=1e-12)
    assert math.isclose(layer.rmse_from_loss(0.5, 2), 1.0)     # images: unchanged, √(2·loss)


@pytest.mark.parametrize("cls", [L.MeanSquaredLoss, L.MeanAbsoluteLoss])
def test_wolfram_losses_average_over_each_sequences_real_steps(cls, backend, rng):
    y = rng.standard_normal((3, 2, 5))
    t = y + rng.choice([-1.0, 1.0], size=y.shape) * rng.uniform(0.1, 1.0, size=y.shape)   # away from |0| kinks
    _, _, mask = _seq_batch(rng)
    loss, ex = _loss_check(cls(), y, t, mask, backend, rng, (2, None))
    d = (y - t) ** 2 if cls is L.MeanSquaredLoss else np.abs(y - t)
    per_step = d.mean(axis=1)                            # the mean over the R elements of a step
    expected = (mask * per_step).sum(axis=1) / mask.sum(axis=1)
    assert_allclose(ex, expected, rtol=1e-12)


def test_wolfram_probabilities_cross_entropy_on_sequences(backend, rng):
    y, labels, mask = _seq_batch(rng)
    t = np.eye(4)[labels].transpose(0, 2, 1)
    _, ex = _loss_check(L.ProbabilitiesCrossEntropyLoss(), y, t, mask, backend, rng, (4, None))
    per_step = -(t * np.log(y)).sum(axis=1)
    assert_allclose(ex, (mask * per_step).sum(axis=1) / mask.sum(axis=1), rtol=1e-12)


def test_image_losses_unchanged_by_the_new_argument(rng):
    y = rng.uniform(0.1, 0.9, (4, 3))
    t = rng.integers(0, 3, 4)
    layer = L.ClassificationOutput()
    assert float(layer.loss_array(y, t)) == float(layer.loss_array(y, t, mask=None))
