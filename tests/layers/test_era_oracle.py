"""PyTorch cross-checks (float64, ≤ 1e-10) of the era's layers, forward and every gradient: leaky_relu, hardtanh
(clipped ReLU), elu, tanh, sigmoid, adaptive avg/max pooling (global), local_response_norm (MATLAB's
crossChannelNormalizationLayer formula), conv2d with groups, conv_transpose2d with padding = cropping, and
max_pool2d(return_indices) + max_unpool2d."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.testing import assert_allclose, spaced

pytestmark = pytest.mark.oracle
torch = pytest.importorskip("torch")
TF = pytest.importorskip("torch.nn.functional")

TOL = dict(rtol=1e-10, atol=1e-12)


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=True)


def _compare(layer, x, torch_fn, rng, params=()):
    """Run layer and torch_fn(x, *params) forward and backward on the same x, dy; compare y, dx, parameter grads."""
    y = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = _t(x)
    pt = [_t(layer.params[k]) for k in params]
    yt = torch_fn(xt, *pt)
    yt.backward(torch.tensor(dy))
    assert_allclose(y, yt.detach().numpy(), name="y", **TOL)
    assert_allclose(dx, xt.grad.numpy(), name="dx", **TOL)
    for k, t in zip(params, pt):
        assert_allclose(layer.grads[k], t.grad.numpy(), name=f"d{k}", **TOL)


@pytest.mark.parametrize("make, fn", [
    (lambda: L.LeakyReLU(), lambda x: TF.leaky_relu(x, 0.01)),
    (lambda: L.LeakyReLU(0.25), lambda x: TF.leaky_relu(x, 0.25)),
    (lambda: L.ClippedReLU(0.8), lambda x: TF.hardtanh(x, 0.0, 0.8)),
    (lambda: L.ELU(), lambda x: TF.elu(x, 1.0)),
    (lambda: L.ELU(0.3), lambda x: TF.elu(x, 0.3)),
    (lambda: L.Tanh(), torch.tanh),
    (lambda: L.Sigmoid(), torch.sigmoid),
    (lambda: L.GlobalAveragePooling2D(), lambda x: TF.adaptive_avg_pool2d(x, 1)),
    (lambda: L.GlobalMaxPooling2D(), lambda x: TF.adaptive_max_pool2d(x, 1)),
], ids=["leaky", "leaky_0.25", "clipped", "elu", "elu_0.3", "tanh", "sigmoid", "gap", "gmp"])
def test_elementwise_and_global_layers(rng, make, fn):
    layer = make()
    layer.initialize((3, 4, 5), dtype="float64")
    x = spaced(rng, (2, 3, 4, 5), gap=0.013) * 30  # no ties, no value at a kink (0, 0.8)
    _compare(layer, x, fn, rng)


@pytest.mark.parametrize("size, alpha, beta, k", [(5, 1e-4, 0.75, 2.0), (3, 0.7, 0.6, 1.0), (4, 1.5, 1.2, 0.5),
                                                  (2, 0.9, 0.75, 1.0), (9, 2.0, 0.5, 1.0)])
def test_cross_channel_normalization_is_torch_local_response_norm(rng, size, alpha, beta, k):
    """MATLAB: x/(K + α·ss/n)^β; torch: x/(k + α/n·Σ x²)^β — the same formula (both divide α by the window size
    n, torch by averaging the zero-padded squares); an even n reaches one channel further down than up in both."""
    layer = L.CrossChannelNormalization(size, alpha=alpha, beta=beta, k=k)
    layer.initialize((6, 3, 4), dtype="float64")
    x = rng.standard_normal((2, 6, 3, 4)) * 1.5
    _compare(layer, x, lambda x: TF.local_response_norm(x, size, alpha=alpha, beta=beta, k=k), rng)


@pytest.mark.parametrize("groups, fg, stride, padding, dilation", [
    (2, 3, 1, 1, 1), (3, 2, 2, 0, 1), ("channel-wise", 2, 1, 2, 2), ("channel-wise", 1, (2, 1), (1, 0), 1)])
def test_grouped_convolution_is_torch_conv2d_with_groups(rng, groups, fg, stride, padding, dilation):
    layer = L.GroupedConvolution2D(3, fg, groups, stride=stride, padding=padding, dilation=dilation,
                                   weights_initializer="he")
    layer.initialize((6, 7, 7), rng=rng, dtype="float64")
    layer.params["bias"] = rng.standard_normal(layer.params["bias"].shape)
    g = 6 if groups == "channel-wise" else groups
    pt, pb, pl, pr = layer.pad
    assert (pt, pl) == (pb, pr)
    x = rng.standard_normal((2, 6, 7, 7))
    _compare(layer, x, lambda x, w, b: TF.conv2d(x, w, b, layer.stride, (pt, pl), layer.dilation, g), rng,
             params=("weight", "bias"))


@pytest.mark.parametrize("filt, num, stride, cropping", [
    (3, 4, 1, 0), (4, 3, 2, 1), ((3, 5), 2, (2, 3), (1, 2)), (2, 2, 3, 0), (4, 3, 2, "same"), (3, 2, 2, "same"),
    (3, 2, 1, (1, 0, 0, 2))])
def test_transposed_convolution_is_torch_conv_transpose2d(rng, filt, num, stride, cropping):
    """Symmetric cropping is torch's padding; an asymmetric one ('same' with odd filter − stride, or [t b l r]) is
    the uncropped torch output with the rows and columns cut off."""
    layer = L.TransposedConvolution2D(filt, num, stride=stride, cropping=cropping, weights_initializer="glorot")
    layer.initialize((3, 4, 5), rng=rng, dtype="float64")
    layer.params["bias"] = rng.standard_normal(num)
    pt, pb, pl, pr = layer.crop

    def fn(x, w, b):
        full = TF.conv_transpose2d(x, w, b, layer.stride)
        return full[:, :, pt:full.shape[2] - pb, pl:full.shape[3] - pr]

    x = rng.standard_normal((2, 3, 4, 5))
    _compare(layer, x, fn, rng, params=("weight", "bias"))
    if (pt, pl) == (pb, pr):
        y = layer.forward(x)
        yt = TF.conv_transpose2d(_t(x), _t(layer.params["weight"]), _t(layer.params["bias"]), layer.stride, (pt, pl))
        assert_allclose(y, yt.detach().numpy(), **TOL)


@pytest.mark.parametrize("pool, stride, padding", [(2, 2, 0), (3, 3, 1), ((2, 3), (2, 3), 0)])
def test_max_pool_indices_and_unpooling_are_torch(rng, pool, stride, padding):
    layer = L.MaxPooling2D(pool, stride=stride, padding=padding, has_unpooling_outputs=True)
    shapes = layer.initialize((3, 6, 9), dtype="float64")
    unpool = L.MaxUnpooling2D()
    unpool.initialize(list(shapes), dtype="float64")
    x = spaced(rng, (2, 3, 6, 9))
    y, idx, size = layer.forward(x, training=True)
    xt = _t(x)
    p = layer.pad
    yt, it = TF.max_pool2d(xt, layer.pool_size, layer.stride, (p[0], p[2]), return_indices=True)
    assert_allclose(y, yt.detach().numpy(), **TOL)
    np.testing.assert_array_equal(idx, it.numpy())
    z = unpool.forward([y, idx, size], training=True)
    zt = TF.max_unpool2d(yt, it, layer.pool_size, layer.stride, (p[0], p[2]), output_size=(6, 9))
    assert_allclose(z, zt.detach().numpy(), **TOL)
    dz = rng.standard_normal(z.shape)
    dy = unpool.backward(dz)[0]
    dx = layer.backward([dy, None, None])
    zt.backward(torch.tensor(dz))
    assert_allclose(dx, xt.grad.numpy(), **TOL)
