"""The era's layers: float64 gradient checks (minidl.testing.check_layer) on every backend, their shape rules and
errors, max pooling's unpooling outputs with MaxUnpooling2D, Flatten's MATLAB order, and save/load round trips."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.backend import to_device, to_host
from minidl.testing import assert_allclose, check_layer, gradient_check, spaced
from minidl.training.serialization import layer_from_json, layer_to_json


def away_from_kinks(rng, shape, kinks=(0.0,)):
    x = rng.standard_normal(shape) * 2
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.05, k + 0.1, x)
    return x


GRAD_CASES = {
    "leaky_relu": (lambda: L.LeakyReLU(0.2), (3, 2, 4, 4), (0.0,)),
    "clipped_relu": (lambda: L.ClippedReLU(1.0), (3, 6), (0.0, 1.0)),
    "elu": (lambda: L.ELU(0.7), (2, 3, 5), (0.0,)),
    "tanh": (lambda: L.Tanh(), (4, 5), ()),
    "sigmoid": (lambda: L.Sigmoid(), (2, 3, 3, 2), ()),
    "global_average": (lambda: L.GlobalAveragePooling2D(), (2, 3, 4, 5), ()),
    "cross_channel": (lambda: L.CrossChannelNormalization(3, alpha=0.5, beta=0.75, k=1.0), (2, 5, 3, 3), ()),
    "cross_channel_matlab_defaults": (lambda: L.CrossChannelNormalization(5), (2, 6, 2, 2), ()),
    "grouped": (lambda: L.GroupedConvolution2D(3, 2, 2, padding="same", weights_initializer="he"),
                (2, 4, 5, 5), ()),
    "channel_wise": (lambda: L.GroupedConvolution2D((2, 3), 2, "channel-wise", stride=2,
                                                    weights_initializer="glorot"), (2, 3, 6, 7), ()),
    "transposed": (lambda: L.TransposedConvolution2D(4, 3, stride=2, cropping=1, weights_initializer="glorot"),
                   (2, 2, 3, 3), ()),
    "transposed_same": (lambda: L.TransposedConvolution2D(3, 2, stride=2, cropping="same",
                                                          weights_initializer="glorot"), (2, 2, 3, 4), ()),
    "flatten_matlab": (lambda: L.Flatten(order="matlab"), (2, 3, 4, 5), ()),
}


@pytest.mark.parametrize("case", GRAD_CASES, ids=list(GRAD_CASES))
def test_gradients(backend, rng, case):
    make, shape, kinks = GRAD_CASES[case]
    layer = make()
    x = away_from_kinks(rng, shape, kinks)
    if case in ("grouped", "channel_wise", "transposed", "transposed_same"):
        layer.initialize(shape[1:], rng=rng)
        layer.params["bias"] = rng.standard_normal(layer.params["bias"].shape)  # a non-zero bias is checked too
    worst = check_layer(layer, shape, backend=backend, rng=rng, x=x, atol=1e-8)  # atol: check_op's grad_atol
    assert max(worst.values()) < 1e-6


def test_global_max_pooling_gradient(backend, rng):
    worst = check_layer(L.GlobalMaxPooling2D(), (2, 3, 4, 4), backend=backend, rng=rng,
                        x=spaced(rng, (2, 3, 4, 4)))
    assert worst["x"] < 1e-6


def test_activations_take_sequences(rng):
    x = rng.standard_normal((2, 3, 6))
    for layer, want in [(L.LeakyReLU(), np.where(x > 0, x, 0.01 * x)), (L.ClippedReLU(0.5), np.clip(x, 0, 0.5)),
                        (L.ELU(), np.where(x > 0, x, np.expm1(x))), (L.Tanh(), np.tanh(x)),
                        (L.Sigmoid(), 1 / (1 + np.exp(-x)))]:
        assert layer.initialize((3, None), dtype="float64") == (3, None)
        assert_allclose(layer.forward(x), want, rtol=1e-14, atol=1e-16, name=type(layer).__name__)


@pytest.mark.parametrize("make, match", [
    (lambda: L.ClippedReLU(0), "ceiling: got 0"), (lambda: L.ELU(-1), "alpha: got -1"),
    (lambda: L.LeakyReLU(float("nan")), "scale: got nan"),
    (lambda: L.CrossChannelNormalization(0), "window_channel_size: got 0"),
    (lambda: L.CrossChannelNormalization(5, beta=0), "beta: got 0"),
    (lambda: L.GroupedConvolution2D(3, 2, "depthwise"), "num_groups: got 'depthwise'"),
    (lambda: L.GroupedConvolution2D(3, 0, 2), "num_filters_per_group: got 0"),
    (lambda: L.TransposedConvolution2D(3, 2, cropping="valid"), "cropping: got 'valid'"),
    (lambda: L.Flatten(order="F"), "order: got 'F'"),
    (lambda: L.MaxPooling2D(2, has_unpooling_outputs=1), "has_unpooling_outputs: got 1"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_shape_rules():
    assert L.GlobalAveragePooling2D().initialize((7, 5, 3)) == (7, 1, 1)
    assert L.GlobalMaxPooling2D().initialize((7, 5, 3)) == (7, 1, 1)
    assert L.GroupedConvolution2D(3, 4, 2, padding=1).initialize((6, 8, 8)) == (8, 8, 8)
    layer = L.GroupedConvolution2D(3, 2, "channel-wise")
    assert layer.initialize((5, 7, 7)) == (10, 5, 5) and layer.params["weight"].shape == (10, 1, 3, 3)
    # MATLAB transposedConv2dLayer: stride·(in − 1) + filter − 2·crop; 'same': stride·in
    assert L.TransposedConvolution2D(4, 6, stride=2, cropping=1).initialize((3, 7, 7)) == (6, 14, 14)
    assert L.TransposedConvolution2D(3, 6, stride=3).initialize((3, 4, 5)) == (6, 12, 15)
    assert L.TransposedConvolution2D((5, 3), 2, stride=(2, 3), cropping="same").initialize((1, 4, 5)) == (2, 8, 15)
    assert L.TransposedConvolution2D(4, 2).initialize((3, 5, 5)) == (2, 8, 8)
    with pytest.raises(ValueError, match="do not split into num_groups=4"):
        L.GroupedConvolution2D(3, 2, 4).initialize((6, 8, 8))
    with pytest.raises(ValueError, match="'same' needs filter >= stride"):
        L.TransposedConvolution2D(2, 2, stride=3, cropping="same").initialize((1, 4, 4))
    with pytest.raises(ValueError, match="allowed: images"):
        L.CrossChannelNormalization(3).initialize((5,))
    with pytest.raises(ValueError, match="allowed: images"):
        L.GlobalAveragePooling2D().initialize((5,))


def test_flatten_orders(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    chw = L.Flatten()
    chw.initialize((3, 4, 5), dtype="float64")
    assert_allclose(chw.forward(x), x.reshape(2, -1), rtol=0)
    matlab = L.Flatten(order="matlab")
    assert matlab.initialize((3, 4, 5), dtype="float64") == (60,)
    y = matlab.forward(x, training=True)
    c, h, w = 2, 3, 1                           # MATLAB's index h + H·w + H·W·c (0-based)
    assert y[1, h + 4 * w + 4 * 5 * c] == x[1, c, h, w]
    assert_allclose(y, np.stack([xi.transpose(1, 2, 0).reshape(-1, order="F") for xi in x]), rtol=0)
    assert_allclose(matlab.backward(y), x, rtol=0)
    with pytest.raises(ValueError, match="levels"):
        L.Flatten(1, order="matlab")


def test_max_pooling_unpooling_outputs(rng):
    pool = L.MaxPooling2D(2, stride=2, has_unpooling_outputs=True, name="pool")
    assert pool.output_names == ("out", "indices", "size")
    assert L.MaxPooling2D(2).forward  # the plain layer keeps its single output
    shapes = pool.initialize((3, 6, 7), dtype="float64")
    assert [tuple(s) for s in shapes] == [(3, 3, 3), (3, 3, 3), (6, 7)]
    unpool = L.MaxUnpooling2D(name="unpool")
    assert unpool.input_names == ("in", "indices", "size")
    assert unpool.initialize(list(shapes), dtype="float64") == (3, 6, 7)
    x = spaced(rng, (2, 3, 6, 7))
    y, idx, size = pool.forward(x, training=True)
    assert idx.dtype == np.int64 and size.shape == (2, 6, 7) and size.strides == (0, 0, 0)
    z = unpool.forward([y, idx, size], training=True)
    kept = (z != 0)                             # each window's maximum back in place, zeros elsewhere
    assert kept.sum() == y.size and np.array_equal(z[kept], x[kept])
    dz = rng.standard_normal(z.shape)
    dy, didx, dsize = unpool.backward(dz)
    assert didx is None and dsize is None
    assert_allclose(pool.backward([dy, None, None]), pool_backward_reference(x, dy), rtol=0)
    pool.forward(x, training=True)
    assert not np.any(pool.backward([None, None, None]))  # "out" fed nothing: dx = 0


def pool_backward_reference(x, dy):
    plain = L.MaxPooling2D(2, stride=2)
    plain.initialize(x.shape[1:], dtype="float64")
    plain.forward(x, training=True)
    return plain.backward(dy)


def test_unpooling_checks_its_inputs():
    unpool = L.MaxUnpooling2D(name="u")
    with pytest.raises(ValueError, match="layer 'u' input 'indices': got 3x2x2, expected 3x3x3 like 'in'"):
        unpool.initialize([(3, 3, 3), (3, 2, 2), (6, 6)])
    with pytest.raises(ValueError, match="layer 'u' input 'size': got 3x3x3"):
        unpool.initialize([(3, 3, 3), (3, 3, 3), (3, 3, 3)])


def test_unpooling_gradient(backend, rng):
    pool = L.MaxPooling2D(3, stride=2, has_unpooling_outputs=True)  # overlapping windows: positions shared
    pool.initialize((2, 7, 7), dtype="float64", device=backend)
    _, idx, size = pool.forward(to_device(spaced(rng, (2, 2, 7, 7)), backend, dtype="float64"))
    unpool = L.MaxUnpooling2D()
    unpool.initialize([(2, 3, 3), (2, 3, 3), (7, 7)], dtype="float64", device=backend)
    x = to_device(rng.standard_normal((2, 2, 3, 3)), backend, dtype="float64")
    worst = gradient_check(lambda x: unpool.forward([x, idx, size], training=True), {"x": x},
                           lambda dy: {"x": unpool.backward(dy)[0]}, rng=rng)
    assert worst["x"] < 1e-6
    assert to_host(unpool.forward([x, idx, size])).shape == (2, 2, 7, 7)


@pytest.mark.parametrize("layer", [
    L.LeakyReLU(0.3, name="a"), L.ClippedReLU(6, name="b"), L.ELU(0.5, name="c"), L.Tanh(name="d"),
    L.Sigmoid(name="e"), L.GlobalAveragePooling2D(name="f"), L.GlobalMaxPooling2D(name="g"),
    L.CrossChannelNormalization(5, alpha=2e-4, beta=0.5, k=1, name="h"),
    L.GroupedConvolution2D(3, 4, "channel-wise", stride=2, padding="same", name="i", weight_l2_factor=0.5),
    L.GroupedConvolution2D((3, 1), 2, 3, dilation=2, name="j"),
    L.TransposedConvolution2D(4, 3, stride=2, cropping="same", name="k", bias_learn_rate_factor=2),
    L.TransposedConvolution2D(3, 3, cropping=(1, 0, 0, 1), name="l"),
    L.MaxPooling2D(3, stride=2, has_unpooling_outputs=True, name="m"), L.MaxUnpooling2D(name="n"),
    L.Flatten(order="matlab", name="o"),
])
def test_save_and_load(layer):
    spec = layer_to_json(layer)
    back = layer_from_json(spec)
    assert type(back) is type(layer) and layer_to_json(back) == spec
    assert back.describe() == layer.describe()
    assert getattr(back, "output_names", None) == getattr(layer, "output_names", None)


def test_float32_in_float32_out(rng):
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    for layer in [L.LeakyReLU(), L.ClippedReLU(1), L.ELU(), L.GlobalAveragePooling2D(), L.GlobalMaxPooling2D(),
                  L.CrossChannelNormalization(3), L.GroupedConvolution2D(3, 2, 2),
                  L.TransposedConvolution2D(2, 3, stride=2), L.Flatten(order="matlab")]:
        layer.initialize((4, 5, 5), rng=rng)
        y = layer.forward(x, training=True)
        dx = layer.backward(np.ones_like(y))
        assert y.dtype == np.float32 and dx.dtype == np.float32, type(layer).__name__
        assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_he_initializer_fans():
    """'he' draws N(0, 2/fan_in): grouped convolution fan_in = C/G·KH·KW (one group), transposed convolution
    fan_in = F·KH·KW (the convolution F → C it transposes) — docs/layers.md's decision."""
    rng = np.random.default_rng(0)
    grouped = L.GroupedConvolution2D(3, 64, 4, weights_initializer="he")
    grouped.initialize((32, 5, 5), rng=rng, dtype="float64")
    assert abs(grouped.params["weight"].std() / np.sqrt(2 / (8 * 9)) - 1) < 0.03
    transposed = L.TransposedConvolution2D(3, 64, weights_initializer="he")
    transposed.initialize((32, 5, 5), rng=rng, dtype="float64")
    assert abs(transposed.params["weight"].std() / np.sqrt(2 / (64 * 9)) - 1) < 0.03
