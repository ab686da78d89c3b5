"""Float64 gradient checks and behaviour of the dense, activation, dropout, batch-norm, input and output layers."""

import numpy as np
import pytest

from minidl import backend as B
from minidl import layers as L
from minidl.testing import assert_allclose, check_layer


def test_fully_connected_gradients(backend, rng):
    check_layer(L.FullyConnected(4), (3, 5), backend=backend, rng=rng)


def test_fully_connected_flattens_images_in_chw_order(backend, rng):
    layer = L.FullyConnected(3)
    check_layer(layer, (2, 2, 3, 2), backend=backend, rng=rng)
    x = rng.standard_normal((2, 2, 3, 2))
    y = B.to_host(layer.forward(B.to_device(x, backend)))
    expected = x.reshape(2, -1) @ B.to_host(layer.params["weight"]).T + B.to_host(layer.params["bias"])
    assert_allclose(y, expected, rtol=1e-12)


def test_fully_connected_batch_of_one(backend, rng):
    check_layer(L.FullyConnected(2), (1, 3), backend=backend, rng=rng)


def test_relu_gradient_away_from_kink(backend, rng):
    x = rng.standard_normal((4, 6))
    x = np.where(np.abs(x) < 0.05, 0.3, x)  # keep inputs away from the kink at 0
    check_layer(L.ReLU(), x.shape, backend=backend, rng=rng, x=x)


def test_softmax_gradient_and_rows_sum_to_one(backend, rng):
    layer = L.Softmax()
    check_layer(layer, (5, 4), backend=backend, rng=rng)
    y = B.to_host(layer.forward(B.to_device(rng.standard_normal((5, 4)) * 50, backend)))
    assert_allclose(y.sum(axis=1), np.ones(5), rtol=1e-14)


def test_dropout_gradient_with_fixed_mask(backend, rng):
    layer = L.Dropout(0.3)
    layer.rng = np.random.default_rng(5)
    check_layer(layer, (6, 7), backend=backend, rng=rng)


def test_dropout_is_inverted_and_identity_at_prediction(backend):
    layer = L.Dropout(0.25)
    layer.rng = np.random.default_rng(0)
    layer.initialize((1000,), device=backend, dtype="float64")
    x = B.to_device(np.ones((20, 1000)), backend)
    y = B.to_host(layer.forward(x, training=True))
    kept = y != 0
    assert_allclose(y[kept], np.full(kept.sum(), 1 / 0.75), rtol=1e-15)
    assert abs(kept.mean() - 0.75) < 0.01
    u = np.random.default_rng(0).random((20, 1000))  # the documented mask: (u > p) / (1 - p)
    assert_allclose(y, (u > 0.25) / 0.75, rtol=1e-15)
    np.testing.assert_array_equal(B.to_host(layer.forward(x, training=False)), np.ones((20, 1000)))


@pytest.mark.parametrize("shape", [(6, 3, 4, 5), (7, 4), (1, 2, 3, 3)])
def test_batchnorm_gradients(backend, rng, shape):
    layer = L.BatchNormalization()
    layer.initialize(shape[1:], rng=rng, dtype="float64", device=backend)
    layer.params["scale"] = B.to_device(rng.uniform(0.5, 2, shape[1]), backend)
    layer.params["offset"] = B.to_device(rng.standard_normal(shape[1]), backend)
    check_layer(layer, shape, backend=backend, rng=rng, rtol=1e-5, atol=1e-8)


def test_batchnorm_training_uses_biased_batch_statistics(backend, rng):
    x = rng.standard_normal((8, 3, 2, 2)) * 3 + 1
    layer = L.BatchNormalization()
    layer.initialize(x.shape[1:], rng=rng, dtype="float64", device=backend)
    y = B.to_host(layer.forward(B.to_device(x, backend), training=True))
    mu = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    assert_allclose(y, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-12, atol=1e-14)
    # moving statistics after one batch: 0.9 · initial + 0.1 · batch
    assert_allclose(layer.state["mean"], 0.1 * mu.ravel(), rtol=1e-12)
    assert_allclose(layer.state["variance"], 0.9 + 0.1 * var.ravel(), rtol=1e-12)


def test_batchnorm_population_pass_merges_batches_exactly(backend, rng):
    layer = L.BatchNormalization()
    layer.initialize((3, 2, 2), rng=rng, dtype="float64", device=backend)
    data = rng.standard_normal((23, 3, 2, 2)) * 2 + 5
    layer.start_population_pass()
    for i in range(0, 23, 5):  # batches of 5, 5, 5, 5, 3: unequal sizes
        layer.forward(B.to_device(data[i:i + 5], backend), training=False)
    layer.finish_population_pass()
    assert_allclose(layer.state["mean"], data.mean(axis=(0, 2, 3)), rtol=1e-13)
    assert_allclose(layer.state["variance"], data.var(axis=(0, 2, 3)), rtol=1e-12)
    y = B.to_host(layer.forward(B.to_device(data, backend), training=False))
    mu, var = data.mean(axis=(0, 2, 3), keepdims=True), data.var(axis=(0, 2, 3), keepdims=True)
    assert_allclose(y, (data - mu) / np.sqrt(var + 1e-5), rtol=1e-11, atol=1e-13)


def test_image_input_zerocenter_subtracts_mean_image(backend, rng):
    x = rng.random((10, 2, 3, 3))
    layer = L.ImageInput((2, 3, 3))
    layer.set_statistics([x[:4], x[4:]])
    layer.initialize((2, 3, 3), dtype="float64", device=backend)
    y = B.to_host(layer.forward(B.to_device(x, backend)))
    assert_allclose(y, x - x.mean(axis=0), rtol=1e-12, atol=1e-15)


def test_image_input_zscore_is_per_channel(backend, rng):
    x = rng.random((10, 2, 3, 3)) * np.array([1.0, 5.0])[None, :, None, None]
    layer = L.ImageInput((2, 3, 3), normalization="zscore")
    layer.set_statistics([x[:3], x[3:]])
    layer.initialize((2, 3, 3), dtype="float64", device=backend)
    y = B.to_host(layer.forward(B.to_device(x, backend)))
    mu, sd = x.mean(axis=(0, 2, 3), keepdims=True), x.std(axis=(0, 2, 3), keepdims=True)
    assert_allclose(y, (x - mu) / sd, rtol=1e-12, atol=1e-14)


def test_feature_input_normalizations(backend, rng):
    x = rng.random((9, 4)) * 3
    for norm, expected in (("zerocenter", x - x.mean(0)), ("zscore", (x - x.mean(0)) / x.std(0)), ("none", x)):
        layer = L.FeatureInput(4, normalization=norm)
        layer.set_statistics([x])
        layer.initialize((4,), dtype="float64", device=backend)
        assert_allclose(layer.forward(B.to_device(x, backend)), expected, rtol=1e-12, atol=1e-14, name=norm)


def test_input_without_statistics_is_a_clear_error():
    layer = L.ImageInput((1, 2, 2))
    layer.initialize((1, 2, 2), dtype="float64")
    with pytest.raises(RuntimeError, match="statistics are not set"):
        layer.forward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("targets", ["indices", "onehot"])
def test_classification_loss_and_gradient(backend, rng, targets):
    z = rng.standard_normal((5, 3))
    y = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    idx = np.array([0, 2, 1, 1, 0])
    t = idx if targets == "indices" else np.eye(3)[idx]
    out = L.ClassificationOutput()
    yd, td = B.to_device(y, backend), B.to_device(t, backend)
    assert out.loss(yd, td) == pytest.approx(-np.mean(np.log(y[np.arange(5), idx])), rel=1e-14)
    assert_allclose(out.loss_gradient(yd, td), -np.eye(3)[idx] / (5 * y), rtol=1e-14)
    assert_allclose(out.example_losses(yd, td), -np.log(y[np.arange(5), idx]), rtol=1e-14)


def test_softmax_then_cross_entropy_gives_y_minus_t_over_n(backend, rng):
    z = B.to_device(rng.standard_normal((4, 3)), backend)
    sm, out = L.Softmax(), L.ClassificationOutput()
    sm.initialize((3,), dtype="float64", device=backend)
    y = sm.forward(z, training=True)
    t = B.to_device(np.array([2, 0, 1, 2]), backend)
    dz = sm.backward(out.loss_gradient(y, t))
    assert_allclose(dz, (B.to_host(y) - np.eye(3)[[2, 0, 1, 2]]) / 4, rtol=1e-12, atol=1e-15)


def test_regression_loss_is_half_sse_over_observations(backend, rng):
    y, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    out = L.RegressionOutput()
    yd, td = B.to_device(y, backend), B.to_device(t, backend)
    assert out.loss(yd, td) == pytest.approx(0.5 * np.sum((y - t) ** 2) / 4, rel=1e-14)
    assert_allclose(out.loss_gradient(yd, td), (y - t) / 4, rtol=1e-14)
    assert_allclose(out.example_losses(yd, td), 0.5 * np.sum((y - t) ** 2, axis=1), rtol=1e-14)
    y1, t1 = B.to_device(y[:, :1], backend), B.to_device(t[:, 0], backend)  # (N,) targets for one response
    assert out.loss(y1, t1) == pytest.approx(0.5 * np.sum((y[:, 0] - t[:, 0]) ** 2) / 4, rel=1e-14)


def test_every_op_keeps_float32(backend, rng):
    x = B.to_device(rng.standard_normal((4, 3, 4, 4)), backend, dtype="float32")
    for layer in (L.BatchNormalization(), L.ReLU(), L.FullyConnected(5)):
        layer.initialize((3, 4, 4), rng=rng, dtype="float32", device=backend)
        y = layer.forward(x, training=True)
        assert y.dtype == np.float32, layer
        assert layer.backward(y).dtype == np.float32, layer


@pytest.mark.parametrize("make, match", [
    (lambda: L.FullyConnected(0), "output_size: got 0"),
    (lambda: L.FullyConnected(2.5), "output_size: got 2.5"),
    (lambda: L.Dropout(1.0), "probability: got 1.0"),
    (lambda: L.BatchNormalization(epsilon=0), "epsilon: got 0"),
    (lambda: L.ImageInput((28, 28, 1, 1)), "input_size: got"),
    (lambda: L.ImageInput((1, 28, 28), normalization="minmax"), "normalization: got 'minmax'"),
    (lambda: L.FeatureInput(-3), "input_size: got -3"),
    (lambda: L.FullyConnected(3, weights_initializer="xavier"), "weights_initializer: got 'xavier'"),
    (lambda: L.FullyConnected(3, weight_learn_rate_factor=-1), "weight_learn_rate_factor: got -1"),
    (lambda: L.FullyConnected(3, gamma_l2_factor=1), "unknown argument 'gamma_l2_factor'"),
    (lambda: L.ReLU(name="a.b"), "name: got 'a.b'"),
])
def test_bad_layer_arguments_name_the_argument(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_given_weights_are_used_and_checked(rng):
    w = rng.standard_normal((2, 3))
    layer = L.FullyConnected(2, weights=w, bias=np.array([1.0, -1.0]))
    layer.initialize((3,), dtype="float64")
    assert_allclose(layer.params["weight"], w, rtol=0)
    with pytest.raises(ValueError, match=r"weights: got an array of shape \(2, 3\); expected \(2, 4\)"):
        L.FullyConnected(2, weights=w).initialize((4,), dtype="float64")


def test_initializers_follow_their_distributions():
    from minidl.layers.init import initialize_array
    rng = np.random.default_rng(0)
    normal = initialize_array("w", "normal", (200, 200), 200, 200, rng)
    assert abs(normal.std() - 0.01) < 2e-4 and abs(normal.mean()) < 2e-4
    he = initialize_array("w", "he", (200, 200), 50, 200, rng)
    assert abs(he.std() - np.sqrt(2 / 50)) < 0.005
    glorot = initialize_array("w", "glorot", (200, 200), 100, 50, rng)
    bound = np.sqrt(6 / 150)
    assert glorot.max() <= bound and glorot.min() >= -bound and glorot.max() > 0.99 * bound
    np.testing.assert_array_equal(initialize_array("b", "zeros", (3,), 1, 1, rng), np.zeros(3))


def test_mean_squared_loss_layer_keeps_dtype_and_reshapes_targets():
    layer = L.MeanSquaredLoss()
    y = np.array([[1.0], [3.0]], dtype=np.float32)
    t = np.array([0.0, 1.0])
    assert layer.loss_array(y, t.astype(np.float32)).dtype == np.float32
    assert float(layer.loss_array(y, t)) == pytest.approx(2.5)                # ((1 − 0)² + (3 − 1)²)/2
    assert layer.rmse_from_loss(2.5, 1) == pytest.approx(2.5 ** 0.5)
    np.testing.assert_allclose(layer.loss_gradient(y, t), [[1.0], [2.0]])   # 2(y − t)/(N·R)
