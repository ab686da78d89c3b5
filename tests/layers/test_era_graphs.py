"""The era's multi-port layers inside graph networks (minidl.network.Network with connections): a residual block, an
inception-style depth concatenation, a max-pool/unpool encoder-decoder through the "indices" and "size" ports;
float64 gradient checks of every parameter through the graph, a PyTorch residual block, save/load of the graphs."""

import numpy as np
import pytest

from minidl import layers as L
from minidl.network import Network
from minidl.testing import assert_allclose, gradient_check
from minidl.training.serialization import network_from_json, network_to_json


def _check(net, x, t, rng):
    def f(**kw):
        return net.loss_array(net.forward(x, training=True), t)

    def backward(dy):
        net.backward(net.forward(x, training=True), t)
        return {k: g * dy for k, g in net.grads.items()}

    return gradient_check(f, net.params, backward, rtol=1e-6, atol=1e-8, rng=rng)  # check_op's grad_atol


def residual_block(seed=0):
    layers = [L.ImageInput((2, 6, 6), normalization="none", name="in"),
              L.Convolution2D(3, 2, padding="same", name="c1", weights_initializer="he"),
              L.LeakyReLU(0.1, name="r1"),
              L.Convolution2D(3, 2, padding="same", name="c2", weights_initializer="he"),
              L.Addition(2, name="add"), L.ELU(name="r2"), L.GlobalAveragePooling2D(name="gap"),
              L.FullyConnected(3, name="fc"), L.Softmax(name="sm"), L.ClassificationOutput(name="out")]
    conns = [("in", "c1"), ("c1", "r1"), ("r1", "c2"), ("c2", "add/in1"), ("in", "add/in2"), ("add", "r2"),
             ("r2", "gap"), ("gap", "fc"), ("fc", "sm"), ("sm", "out")]
    return Network(layers, conns).initialize(rng=np.random.default_rng(seed), dtype="float64")


def inception(seed=0):
    layers = [L.ImageInput((4, 5, 5), normalization="none", name="in"),
              L.Convolution2D(1, 2, name="b1"),
              L.GroupedConvolution2D(3, 1, "channel-wise", padding="same", name="b2"),
              L.TransposedConvolution2D(3, 3, cropping=1, name="b3"),
              L.MaxPooling2D(3, padding="same", name="b4"),
              L.DepthConcatenation(4, name="cat"), L.CrossChannelNormalization(3, alpha=0.5, k=1.0, name="lrn"),
              L.Tanh(name="t"), L.Flatten(order="matlab", name="flat"), L.FullyConnected(2, name="fc"),
              L.RegressionOutput(name="out")]
    conns = [("in", "b1"), ("in", "b2"), ("in", "b3"), ("in", "b4"), ("b1", "cat/in1"), ("b2", "cat/in2"),
             ("b3", "cat/in3"), ("b4", "cat/in4"), ("cat", "lrn"), ("lrn", "t"), ("t", "flat"), ("flat", "fc"),
             ("fc", "out")]
    return Network(layers, conns).initialize(rng=np.random.default_rng(seed), dtype="float64")


def encoder_decoder(seed=0):
    layers = [L.ImageInput((1, 6, 6), normalization="none", name="in"),
              L.Convolution2D(3, 2, padding="same", name="enc"),
              L.MaxPooling2D(2, stride=2, has_unpooling_outputs=True, name="pool"),
              L.Sigmoid(name="s"), L.MaxUnpooling2D(name="unpool"),
              L.TransposedConvolution2D(3, 1, cropping="same", name="dec"), L.RegressionOutput(name="out")]
    conns = [("in", "enc"), ("enc", "pool"), ("pool/out", "s"), ("s", "unpool/in"),
             ("pool/indices", "unpool/indices"), ("pool/size", "unpool/size"), ("unpool", "dec"), ("dec", "out")]
    return Network(layers, conns).initialize(rng=np.random.default_rng(seed), dtype="float64")


def test_residual_block_shapes_and_gradients(rng):
    net = residual_block()
    assert not net.is_chain and net["add"].output_shape == (2, 6, 6)
    x, t = rng.standard_normal((4, 2, 6, 6)), np.eye(3)[[0, 2, 1, 0]]
    worst = _check(net, x, t, rng)
    assert set(worst) == set(net.params) and max(worst.values()) < 1e-6


def test_inception_block_shapes_and_gradients(rng):
    net = inception()
    assert net["cat"].output_shape == (2 + 4 + 3 + 4, 5, 5)
    x, t = rng.standard_normal((3, 4, 5, 5)), rng.standard_normal((3, 2))
    worst = _check(net, x, t, rng)
    assert max(worst.values()) < 1e-6


def test_encoder_decoder_through_the_unpooling_ports(rng):
    net = encoder_decoder()
    assert net["pool"].output_shape == [(2, 3, 3), (2, 3, 3), (6, 6)]
    assert net["unpool"].output_shape == (2, 6, 6) and net["dec"].output_shape == (1, 6, 6)
    x, t = rng.standard_normal((3, 1, 6, 6)), rng.standard_normal((3, 1, 6, 6))
    worst = _check(net, x, t, rng)
    assert max(worst.values()) < 1e-6


def test_size_mismatch_in_a_graph_names_the_layer_and_input():
    layers = [L.ImageInput((3, 8, 8), normalization="none", name="in"), L.Convolution2D(3, 4, name="c"),
              L.Addition(2, name="add_1"), L.RegressionOutput(name="out")]
    with pytest.raises(ValueError, match=r"add_1.*in2.*3x8x8.*4x6x6|add_1.*in1"):
        Network(layers, [("in", "c"), ("c", "add_1/in1"), ("in", "add_1/in2"), ("add_1", "out")]).initialize()


@pytest.mark.parametrize("make", [residual_block, inception, encoder_decoder])
def test_graphs_save_and_load(make, rng):
    net = make()
    back = network_from_json(network_to_json(net)).initialize(rng=np.random.default_rng(0), dtype="float64")
    assert [la.name for la in back.layers] == [la.name for la in net.layers]
    assert back.connections == net.connections
    x = rng.standard_normal((2,) + net.input_layers[0].output_shape)
    assert_allclose(back.forward(x), net.forward(x), rtol=0)


@pytest.mark.oracle
def test_residual_block_matches_torch(rng):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    net = residual_block(seed=3)
    x = rng.standard_normal((4, 2, 6, 6))
    t = np.eye(3)[[0, 2, 1, 0]]
    y = net.forward(x, training=True)
    net.backward(y, t)
    p = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    xt = torch.tensor(x)
    h = TF.leaky_relu(TF.conv2d(xt, p["c1.weight"], p["c1.bias"], padding=1), 0.1)
    h = TF.elu(TF.conv2d(h, p["c2.weight"], p["c2.bias"], padding=1) + xt)
    z = TF.linear(TF.adaptive_avg_pool2d(h, 1).flatten(1), p["fc.weight"], p["fc.bias"])
    loss = -(torch.tensor(t) * TF.log_softmax(z, dim=1)).sum() / 4  # MATLAB's cross-entropy: mean over N
    loss.backward()
    assert_allclose(y, TF.softmax(z, dim=1).detach().numpy(), rtol=1e-10, atol=1e-12)
    assert abs(float(net.loss(y, t)) - loss.item()) < 1e-12
    for k, v in p.items():
        assert_allclose(net.grads[k], v.grad.numpy(), rtol=1e-9, atol=1e-12, name=k)
