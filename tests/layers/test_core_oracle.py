"""PyTorch cross-checks (float64) of the dense, batch-norm, ReLU, softmax and loss layers, forward and backward."""

import pytest

from minidl import layers as L
from minidl.testing import assert_allclose

pytestmark = pytest.mark.oracle
torch = pytest.importorskip("torch")


def _t(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def test_fully_connected_matches_torch_linear(rng):
    x, dy = rng.standard_normal((6, 2, 3, 3)), rng.standard_normal((6, 5))
    layer = L.FullyConnected(5, weights_initializer="glorot")
    layer.initialize((2, 3, 3), rng=rng, dtype="float64")
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    xt, wt, bt = _t(x), _t(layer.params["weight"]), _t(layer.params["bias"])
    yt = torch.nn.functional.linear(xt.reshape(6, -1), wt, bt)
    yt.backward(torch.tensor(dy))
    assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert_allclose(layer.grads["weight"], wt.grad.numpy(), rtol=1e-12)
    assert_allclose(layer.grads["bias"], bt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("shape", [(8, 3, 5, 4), (9, 6)])
def test_batchnorm_matches_torch_training_and_eval(rng, shape):
    x, dy = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    layer = L.BatchNormalization()
    layer.initialize(shape[1:], rng=rng, dtype="float64")
    layer.params["scale"], layer.params["offset"] = rng.uniform(0.5, 2, shape[1]), rng.standard_normal(shape[1])
    y = layer.forward(x, training=True)
    dx = layer.backward(dy)
    g, b = _t(layer.params["scale"]), _t(layer.params["offset"])
    xt = _t(x)
    yt = torch.nn.functional.batch_norm(xt, None, None, g, b, training=True, eps=1e-5)
    yt.backward(torch.tensor(dy))
    assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-13)
    assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert_allclose(layer.grads["scale"], g.grad.numpy(), rtol=1e-10)
    assert_allclose(layer.grads["offset"], b.grad.numpy(), rtol=1e-10)
    mean, var = rng.standard_normal(shape[1]), rng.uniform(0.5, 2, shape[1])
    layer.state["mean"], layer.state["variance"] = mean, var
    ye = torch.nn.functional.batch_norm(torch.tensor(x), torch.tensor(mean), torch.tensor(var), g.detach(),
                                        b.detach(), training=False, eps=1e-5)
    assert_allclose(layer.forward(x, training=False), ye.numpy(), rtol=1e-10, atol=1e-13)


def test_relu_softmax_cross_entropy_match_torch(rng):
    z, idx = rng.standard_normal((7, 4)) * 3, rng.integers(0, 4, 7)
    relu, sm, out = L.ReLU(), L.Softmax(), L.ClassificationOutput()
    for layer in (relu, sm):
        layer.initialize((4,), dtype="float64")
    y = sm.forward(relu.forward(z, training=True), training=True)
    loss = out.loss(y, idx)
    dz = relu.backward(sm.backward(out.loss_gradient(y, idx)))
    zt = _t(z)
    lt = torch.nn.functional.cross_entropy(torch.relu(zt), torch.tensor(idx))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-13)
    assert_allclose(dz, zt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_half_mse_matches_torch(rng):
    y, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    out = L.RegressionOutput()
    yt = _t(y)
    lt = 0.5 * torch.nn.functional.mse_loss(yt, torch.tensor(t), reduction="sum") / 5
    lt.backward()
    assert out.loss(y, t) == pytest.approx(lt.item(), rel=1e-14)
    assert_allclose(out.loss_gradient(y, t), yt.grad.numpy(), rtol=1e-14)
