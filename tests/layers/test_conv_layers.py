"""Convolution2D, MaxPooling2D and AveragePooling2D layers: gradient checks, shapes, padding forms, initializer fans,
descriptions, errors, the reuse of scratch buffers, and a network of them."""

import copy

import numpy as np
import pytest

import minidl as dl
from minidl import backend as B
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.testing import assert_allclose, check_layer


@pytest.mark.parametrize("kwargs, shape", [
    ({"filter_size": 3, "num_filters": 3, "padding": "same"}, (2, 2, 7, 5)),
    ({"filter_size": (3, 2), "num_filters": 2, "stride": 2, "padding": (1, 2, 0, 1)}, (2, 2, 7, 6)),
    ({"filter_size": 3, "num_filters": 2, "dilation": 2, "padding": (1, 1)}, (1, 3, 7, 6)),
    ({"filter_size": 3, "num_filters": 2, "stride": 2, "padding": "same"}, (2, 1, 7, 5)),
])
def test_convolution_gradients(backend, rng, kwargs, shape):
    layer = Convolution2D(bias_initializer="glorot", **kwargs)
    check_layer(layer, shape, backend=backend, rng=rng)
    assert set(layer.grads) == {"weight", "bias"}


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("kwargs, shape", [
    ({"pool_size": 2, "stride": 2}, (2, 2, 6, 6)),
    ({"pool_size": 3, "stride": 2}, (2, 2, 7, 5)),
    ({"pool_size": (3, 2), "stride": (2, 1), "padding": (1, 2, 0, 1)}, (1, 2, 6, 5)),
    ({"pool_size": 3, "stride": 2, "padding": "same"}, (2, 1, 7, 5)),
])
def test_pooling_gradients(backend, rng, cls, kwargs, shape):
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) - 40) * 0.01  # distinct values: no max-pool ties
    check_layer(cls(**kwargs), shape, backend=backend, rng=rng, x=x)


@pytest.mark.parametrize("kwargs, out", [
    ({"padding": 0}, (4, 5, 3)),
    ({"padding": 1}, (4, 7, 5)),
    ({"padding": (1, 0)}, (4, 7, 3)),
    ({"padding": (0, 1, 2, 0)}, (4, 6, 5)),
    ({"padding": "same"}, (4, 7, 5)),
    ({"padding": "same", "stride": 2}, (4, 4, 3)),
    ({"padding": "same", "stride": (3, 2), "dilation": 2}, (4, 3, 3)),
    ({"stride": 2}, (4, 3, 2)),
    ({"dilation": (2, 1)}, (4, 3, 3)),
])
def test_convolution_output_shape_and_padding_forms(kwargs, out):
    layer = Convolution2D(3, 4, **kwargs)
    assert layer.initialize((2, 7, 5)) == out
    assert layer.params["weight"].shape == (4, 2, 3, 3) and layer.params["bias"].shape == (4,)


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
def test_pooling_output_shape_and_matlab_default_stride_1(cls):
    assert cls(2).initialize((3, 7, 5)) == (3, 6, 4)
    assert cls(2, stride=2).initialize((3, 7, 5)) == (3, 3, 2)
    assert cls(3, stride=2, padding="same").initialize((3, 7, 5)) == (3, 4, 3)
    assert cls((2, 3), stride=(1, 2), padding=(1, 0)).initialize((3, 7, 5)) == (3, 8, 2)


def test_fans_of_the_initializers(rng):
    """glorot: U(±√(6/(fan_in+fan_out))) with fan_in = C·KH·KW, fan_out = F·KH·KW; he: N(0, 2/fan_in)."""
    layer = Convolution2D((3, 5), 20, weights_initializer="glorot")
    layer.initialize((6, 9, 9), rng=rng, dtype="float64")
    bound = np.sqrt(6 / (6 * 15 + 20 * 15))
    w = layer.params["weight"]
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    layer = Convolution2D((3, 5), 20, weights_initializer="he")
    layer.initialize((6, 9, 9), rng=rng, dtype="float64")
    assert abs(layer.params["weight"].std() / np.sqrt(2 / (6 * 15)) - 1) < 0.05


def test_given_weights_and_bias_are_used(rng):
    W, b = rng.standard_normal((2, 1, 2, 2)), np.array([0.5, -1.0])
    layer = Convolution2D(2, 2, weights=W, bias=b)
    layer.initialize((1, 3, 3), dtype="float64")
    x = rng.standard_normal((1, 1, 3, 3))
    y = layer.forward(x)
    assert_allclose(y[0, 1, 0, 0], np.sum(W[1, 0] * x[0, 0, :2, :2]) + b[1], rtol=1e-14)
    with pytest.raises(ValueError, match=r"weights: got an array of shape \(2, 1, 2, 2\); expected \(2, 3, 2, 2\)"):
        Convolution2D(2, 2, weights=W).initialize((3, 3, 3))


def test_descriptions_read_like_matlab():
    conv = Convolution2D(3, 8, padding="same", name="conv_1")
    assert conv.describe() == "conv_1: 8 3x3 convolutions with stride [1 1] and padding 'same'"
    conv = Convolution2D((5, 3), 4, stride=(2, 1), padding=(1, 2), dilation=2)
    assert conv.describe() == "conv: 4 5x3 convolutions with stride [2 1] and padding [1 1 2 2], dilation [2 2]"
    assert MaxPooling2D(2, stride=2, name="pool").describe() == \
        "pool: 2x2 max pooling with stride [2 2] and padding [0 0 0 0]"
    assert AveragePooling2D(3, padding="same").describe() == \
        "avgpool: 3x3 average pooling with stride [1 1] and padding 'same'"


def test_training_forward_keeps_the_cache_prediction_does_not(rng):
    layer = Convolution2D(3, 2)
    layer.initialize((1, 5, 5), dtype="float64")
    x = rng.standard_normal((2, 1, 5, 5))
    layer.forward(x, training=False)
    with pytest.raises(RuntimeError, match="backward called without a training forward"):
        layer.backward(np.ones((2, 2, 3, 3)))
    pool = MaxPooling2D(2)
    pool.initialize((1, 5, 5))
    pool.forward(x)
    with pytest.raises(RuntimeError, match="backward called without a training forward"):
        pool.backward(np.ones((2, 1, 4, 4)))


def test_reused_scratch_buffers_give_the_same_steps_as_a_fresh_layer(rng):
    """The layer keeps its column buffers across training steps; predictions in between use their own."""
    x, other = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 2, 6, 6))
    dy = rng.standard_normal((3, 4, 6, 6))
    W, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    used = Convolution2D(3, 4, padding="same", weights=W, bias=b)
    used.initialize((2, 6, 6), dtype="float64")
    used.forward(other, training=True)
    used.backward(dy)
    used.forward(other, training=False)
    y = used.forward(x, training=True)
    dx = used.backward(dy)
    fresh = Convolution2D(3, 4, padding="same", weights=W, bias=b)
    fresh.initialize((2, 6, 6), dtype="float64")
    np.testing.assert_array_equal(y, fresh.forward(x, training=True))
    np.testing.assert_array_equal(dx, fresh.backward(dy))
    for k in ("weight", "bias"):
        np.testing.assert_array_equal(used.grads[k], fresh.grads[k])


def test_skipping_the_input_gradient_keeps_the_parameter_gradients(rng):
    layer = Convolution2D(3, 2, padding=1)
    layer.initialize((1, 5, 5), rng=rng, dtype="float64")
    x, dy = rng.standard_normal((2, 1, 5, 5)), rng.standard_normal((2, 2, 5, 5))
    layer.forward(x, training=True)
    layer.backward(dy)
    ref = dict(layer.grads)
    layer.compute_input_gradient = False
    layer.forward(x, training=True)
    assert layer.backward(dy) is None
    for k in ref:
        np.testing.assert_array_equal(layer.grads[k], ref[k])


def test_deep_copy_leaves_the_scratch_buffers_behind(rng):
    layer = Convolution2D(3, 2, padding=1)
    layer.initialize((1, 5, 5), rng=rng, dtype="float64")
    layer.forward(rng.standard_normal((2, 1, 5, 5)), training=True)
    assert layer._workspace
    dup = copy.deepcopy(layer)
    assert dup._workspace == {} and dup.params["weight"] is not layer.params["weight"]
    np.testing.assert_array_equal(dup.params["weight"], layer.params["weight"])


# -- bad input -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, error, words", [
    (lambda: Convolution2D(0, 4), ValueError, ["filter_size:", "0"]),
    (lambda: Convolution2D((3, 3, 3), 4), ValueError, ["filter_size:", "(3, 3, 3)", "(h, w)"]),
    (lambda: Convolution2D(3, 0), ValueError, ["num_filters:", "0", "positive integer"]),
    (lambda: Convolution2D(3, 2.5), ValueError, ["num_filters:", "2.5"]),
    (lambda: Convolution2D(3, 4, stride=0), ValueError, ["stride:", "0"]),
    (lambda: Convolution2D(3, 4, stride=1.5), ValueError, ["stride:", "1.5"]),
    (lambda: Convolution2D(3, 4, dilation=(1, 0)), ValueError, ["dilation:", "(1, 0)"]),
    (lambda: Convolution2D(3, 4, padding="valid"), ValueError, ["padding:", "'valid'", "'same'"]),
    (lambda: Convolution2D(3, 4, padding=-1), ValueError, ["padding:", "-1"]),
    (lambda: Convolution2D(3, 4, padding=(1, 1, 1)), ValueError, ["padding:", "(1, 1, 1)", "(top, bottom, left,"]),
    (lambda: Convolution2D(3, 4, weight_l2_factor=-1), ValueError, ["weight_l2_factor:", "-1"]),
    (lambda: MaxPooling2D(0), ValueError, ["pool_size:", "0"]),
    (lambda: AveragePooling2D(2, stride=(1, 2, 3)), ValueError, ["stride:", "(1, 2, 3)"]),
    (lambda: MaxPooling2D(2, padding="full"), ValueError, ["padding:", "'full'"]),
])
def test_bad_arguments_are_named(make, error, words):
    with pytest.raises(error) as e:
        make()
    for w in words:
        assert w in str(e.value)


@pytest.mark.parametrize("layer, shape, words", [
    (Convolution2D(5, 2), (1, 4, 9), ["input_shape:", "(1, 4, 9)", "too small", "5x5"]),
    (Convolution2D(3, 2, dilation=3), (1, 6, 6), ["input_shape:", "extent 7x7"]),
    (Convolution2D(3, 2), (10,), ["input_shape:", "(10,)", "(C, H, W)"]),
    (MaxPooling2D(3), (1, 2, 9), ["input_shape:", "(1, 2, 9)", "2x9", "3x3"]),
    (AveragePooling2D(2, padding=2), (1, 5, 5), ["input_shape:", "padding", "< 2"]),
    (MaxPooling2D(2), (4, 4), ["input_shape:", "(4, 4)", "(C, H, W)"]),
])
def test_bad_input_shapes_are_named(layer, shape, words):
    with pytest.raises(ValueError) as e:
        layer.initialize(shape)
    for w in words:
        assert w in str(e.value)


def test_forward_checks_the_input_shape():
    layer = Convolution2D(3, 2)
    layer.initialize((2, 5, 5))
    with pytest.raises(ValueError, match=r"input of shape \(1, 3, 5, 5\); expected \(N, 2, 5, 5\)"):
        layer.forward(np.zeros((1, 3, 5, 5), dtype=np.float32))


# -- in a network ----------------------------------------------------------------------------------------------------

def test_network_of_convolutions_and_pooling(backend, rng):
    """The documented example's shape on small images: names, shapes, and a float64 check of dL/dW by directions."""
    layers = dl.layers
    net = dl.Network([
        layers.ImageInput((1, 8, 8), normalization="none"),
        Convolution2D(3, 2, padding="same"), layers.BatchNormalization(), layers.ReLU(),
        MaxPooling2D(2, stride=2),
        Convolution2D(3, 3, padding="same"), layers.ReLU(), AveragePooling2D(2, stride=2),
        layers.FullyConnected(3), layers.Softmax(), layers.ClassificationOutput()])
    net.initialize(rng=rng, dtype="float64", device=backend)
    assert [layer.output_shape for layer in net.layers[1:8]] == [
        (2, 8, 8), (2, 8, 8), (2, 8, 8), (2, 4, 4), (3, 4, 4), (3, 4, 4), (3, 2, 2)]
    assert list(net.params)[:4] == ["conv_1.weight", "conv_1.bias", "batchnorm_1.scale", "batchnorm_1.offset"]
    x = B.to_device(rng.standard_normal((4, 1, 8, 8)), backend)
    t = B.to_device(np.array([0, 1, 2, 1]), backend)
    w = net.params["conv_1.weight"]
    w0 = B.to_host(w).copy()
    net.backward(net.forward(x, training=True), t)
    g = B.to_host(net.grads["conv_1.weight"])
    d = rng.standard_normal(w0.shape)
    eps = 1e-6

    def loss_at(v):
        w[...] = B.to_device(v, backend)
        return net.loss(net.forward(x, training=True), t)

    slope = (loss_at(w0 + eps * d) - loss_at(w0 - eps * d)) / (2 * eps)
    loss_at(w0)
    assert_allclose(np.sum(g * d), slope, rtol=1e-6)
