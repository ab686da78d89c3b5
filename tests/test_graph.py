"""The graph container (docs/graphs.md): construction, checks, order, shapes, forward/backward through a DAG."""

import numpy as np
import pytest

import minidl as dl
from minidl import layers as L
from minidl.layers.base import Layer
from minidl.network import Network, chain_connections
from minidl.testing import gradient_check


class _Split(Layer):
    """Two outputs: the first k features and the rest."""

    kind = "tsplit"
    output_names = ("head", "tail")

    def build(self, shape, rng):
        return [(2,) + tuple(shape[1:]), (shape[0] - 2,) + tuple(shape[1:])]

    def forward(self, x, training=False):
        return x[:, :2], x[:, 2:]

    def backward(self, dys):
        n = dys[0] if dys[0] is not None else dys[1]
        parts = [g if g is not None else np.zeros((n.shape[0], s[0])) for g, s in zip(dys, self.output_shape)]
        return np.concatenate(parts, axis=1)


def _chain_layers():
    return [L.FeatureInput(4, normalization="none"), L.FullyConnected(6), L.BatchNormalization(), L.ReLU(),
            L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()]


def _residual(dtype="float64", seed=0):
    layers = [L.FeatureInput(4, normalization="none", name="in"), L.FullyConnected(4, name="fc1"),
              L.Elementwise("Tanh", name="t"), L.FullyConnected(4, name="fc2"),
              L.Addition(2, name="add"), L.FullyConnected(3, name="head"), L.Softmax(name="sm"),
              L.ClassificationOutput(name="loss")]
    conns = [("in", "fc1"), ("fc1", "t"), ("t", "fc2"), ("fc2", "add/in1"), ("in", "add/in2"), ("add", "head"),
             ("head", "sm"), ("sm", "loss")]
    return Network(layers, conns).initialize(rng=np.random.default_rng(seed), dtype=dtype)


def _check_gradients(net, x, t, rng, rtol=1e-6):
    def f(**kw):
        return net.loss_array(net.forward(x, training=True), t)

    def backward(dy):
        net.backward(net.forward(x, training=True), t)
        return {k: g * dy for k, g in net.grads.items()}

    return gradient_check(f, net.params, backward, rtol=rtol, atol=1e-9, rng=rng)


# ------------------------------------------------------------------------------------------- construction
def test_chain_connections_and_a_chain_given_as_a_graph_is_a_chain():
    layers = _chain_layers()
    pairs = chain_connections(layers)
    assert pairs[0] == ("featureinput_1", "fc_1") and len(pairs) == 6
    net = Network(layers, pairs)
    assert net.is_chain and net.layers == layers and net.order is net.layers
    assert net.connections[0] == ("featureinput_1/out", "fc_1/in")
    assert net.input_layers == [layers[0]] and net.output_layers == [layers[-1]]
    assert Network(_chain_layers()).connections == net.connections


def test_order_is_kahn_with_ties_in_given_order_and_ports_normalized():
    net = _residual()
    assert [la.name for la in net.layers] == ["in", "fc1", "t", "fc2", "add", "head", "sm", "loss"]
    assert not net.is_chain
    assert ("in/out", "add/in2") in net.connections and ("fc2/out", "add/in1") in net.connections
    shuffled = [L.FeatureInput(3, normalization="none", name="x"), L.FullyConnected(3, name="b"),
                L.FullyConnected(3, name="a")]
    net = Network([shuffled[2], shuffled[1], shuffled[0]], [("x", "b"), ("b", "a")])
    assert [la.name for la in net.layers] == ["x", "b", "a"]
    assert net.output_layers == [shuffled[2]] and net.is_chain


@pytest.mark.parametrize("layers, conns, match", [
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="a"), L.Addition(2, name="s")],
     [("i", "s/in1"), ("s", "a"), ("a", "s/in2")], r"cycle through layers \['(s', 'a|a', 's)'\]"),
    (lambda: [L.FeatureInput(2, name="i"), L.Addition(2, name="s")], [("i", "s/in1")],
     "layer 's' input 'in2' is not connected"),
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="a")], [("i", "b")], "'b' names no layer"),
    (lambda: [L.FeatureInput(2, name="i"), L.Addition(2, name="s")], [("i", "s/in3")], "layer 's' has no input 'in3'"),
    (lambda: [L.FeatureInput(2, name="i"), L.Addition(2, name="s")], [("i", "s")], "layer 's' has inputs"),
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="a"), L.RegressionOutput(name="o")],
     [("i", "a"), ("a", "o"), ("o", "a")], "layer 'o' has no outputs"),
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="a"), L.Addition(2, name="s")],
     [("i", "a"), ("i", "s/in1"), ("a", "s/in1"), ("a", "s/in2")], "layer 's' input 'in1' is connected twice"),
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="i")], [("i", "i")], r"\['i'\] appear more"),
    (lambda: [L.FeatureInput(2, name="i"), L.FullyConnected(2, name="a"), L.ClassificationOutput(name="c")],
     [("i", "a"), ("a", "c")], "layer 'c' input 'in': ClassificationOutput must follow a Softmax"),
])
def test_graph_errors_name_the_layer_and_port(layers, conns, match):
    with pytest.raises(ValueError, match=match):
        Network(layers(), conns)


def test_size_mismatch_found_while_shapes_are_inferred_names_layer_and_port():
    layers = [L.FeatureInput(4, normalization="none", name="i"), L.FullyConnected(3, name="a"),
              L.Addition(2, name="add")]
    net = Network(layers, [("i", "a"), ("a", "add/in1"), ("i", "add/in2")])
    with pytest.raises(ValueError, match="layer 'add' input 'in2': got 4, expected 3 like 'in1'"):
        net.initialize()


# ------------------------------------------------------------------------------------------- computation
def test_chain_as_graph_is_bit_identical_forward_and_backward():
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
    for dtype in ("float64", "float32"):
        a = Network(_chain_layers()).initialize(rng=np.random.default_rng(5), dtype=dtype)
        layers = _chain_layers()
        b = Network(layers, chain_connections(layers)).initialize(rng=np.random.default_rng(5), dtype=dtype)
        ya, yb = a.forward(x.astype(dtype), training=True), b.forward(x.astype(dtype), training=True)
        np.testing.assert_array_equal(ya, yb)
        a.backward(ya, t)
        b.backward(yb, t)
        for k in a.grads:
            np.testing.assert_array_equal(a.grads[k], b.grads[k])


def test_residual_gradients_float64(rng):
    net = _residual()
    x = rng.standard_normal((6, 4))
    t = rng.integers(0, 3, 6)
    _check_gradients(net, x, t, rng)
    # the residual path: the input gradient is the sum of both branches'
    y = net.forward(x, training=True)
    dx = net.backward(y, t, need_input_gradient=True)
    assert dx.shape == (6, 4)


def test_concatenation_and_fan_out_gradients_float64(rng):
    layers = [L.FeatureInput(3, normalization="none", name="i"), L.FullyConnected(4, name="a"),
              L.FullyConnected(2, name="b"), L.FullyConnected(5, name="c"), L.Concatenation(1, 2, name="cat"),
              L.FullyConnected(2, name="r"), L.RegressionOutput(name="loss")]
    conns = [("i", "a"), ("a", "b"), ("a", "c"), ("b", "cat/in1"), ("c", "cat/in2"), ("cat", "r"), ("r", "loss")]
    net = Network(layers, conns).initialize(rng=np.random.default_rng(2), dtype="float64")
    assert net["cat"].output_shape == (7,)
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    _check_gradients(net, x, t, rng)
    assert net.backward(net.forward(x, training=True), t) is None   # dx skipped where nothing learns before
    assert net.backward(net.forward(x, training=True), t, need_input_gradient=True).shape == (5, 3)


def test_two_inputs_two_weighted_losses_gradients_float64(rng):
    layers = [L.FeatureInput(3, normalization="none", name="x1"), L.FeatureInput(2, normalization="none", name="x2"),
              L.FullyConnected(4, name="a"), L.FullyConnected(4, name="b"), L.Addition(2, name="add"),
              L.FullyConnected(3, name="h1"), L.Softmax(name="sm"), L.ClassificationOutput(name="cls"),
              L.FullyConnected(2, name="h2"), L.RegressionOutput(name="reg")]
    conns = [("x1", "a"), ("x2", "b"), ("a", "add/in1"), ("b", "add/in2"), ("add", "h1"), ("h1", "sm"),
             ("sm", "cls"), ("add", "h2"), ("h2", "reg")]
    net = Network(layers, conns).initialize(rng=np.random.default_rng(3), dtype="float64")
    net.loss_weights["reg"] = 0.25
    assert [la.name for la in net.input_layers] == ["x1", "x2"]
    assert [la.name for la in net.loss_layers] == ["cls", "reg"] and net.is_classifier
    x = {"x1": rng.standard_normal((6, 3)), "x2": rng.standard_normal((6, 2))}
    t = {"cls": rng.integers(0, 3, 6), "reg": rng.standard_normal((6, 2))}
    y = net.forward(x)
    assert set(y) == {"cls", "reg"} and y["cls"].shape == (6, 3)
    np.testing.assert_array_equal(net.forward((x["x1"], x["x2"]))["reg"], y["reg"])
    total = net.loss(y, t)
    assert total == pytest.approx(net["cls"].loss(y["cls"], t["cls"]) + 0.25 * net["reg"].loss(y["reg"], t["reg"]),
                                  rel=1e-14)
    _check_gradients(net, x, t, rng)
    dx = net.backward(net.forward(x, training=True), t, need_input_gradient=True)
    assert set(dx) == {"x1", "x2"} and dx["x2"].shape == (6, 2)
    with pytest.raises(ValueError, match="allowed: the input layers' names"):
        net.forward({"x1": x["x1"]})


def test_multi_output_layer_and_an_unconsumed_output(rng):
    layers = [L.FeatureInput(5, normalization="none", name="i"), L.FullyConnected(5, name="a"),
              _Split(name="sp"), L.FullyConnected(2, name="r"), L.RegressionOutput(name="loss")]
    net = Network(layers, [("i", "a"), ("a", "sp"), ("sp/tail", "r"), ("r", "loss")])
    net.initialize(rng=np.random.default_rng(4), dtype="float64")
    assert net["sp"].output_shape == [(2,), (3,)] and net.output_layers == [layers[-1]]
    _check_gradients(net, rng.standard_normal((4, 5)), rng.standard_normal((4, 2)), rng)


def test_a_layer_no_loss_reaches_gets_zero_gradients(rng):
    layers = [L.FeatureInput(3, normalization="none", name="i"), L.FullyConnected(2, name="side"),
              L.FullyConnected(2, name="r"), L.RegressionOutput(name="loss")]
    net = Network(layers, [("i", "side"), ("i", "r"), ("r", "loss")]).initialize(dtype="float64")
    assert [la.name for la in net.output_layers] == ["side", "loss"]
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    y = net.forward(x, training=True)
    assert set(y) == {"side", "loss"}
    net.backward(y, t)
    assert not np.any(net.grads["side.weight"]) and np.any(net.grads["r.weight"])


def test_network_of_a_graph_keeps_its_connections_and_copy():
    net = _residual()
    again = Network(net)
    assert again.connections == net.connections and not again.is_chain
    dup = net.copy()
    assert dup.connections == net.connections and dup["add"] is not net["add"]
    assert dl.Network is Network


def test_predict_and_activations_of_a_graph(rng):
    net = _residual()
    x = rng.standard_normal((7, 4))
    full = net.predict(x, batch_size=3)
    np.testing.assert_allclose(full, net.forward(x), rtol=1e-14)
    np.testing.assert_allclose(net.activations(x, "add", batch_size=2), net.activations(x, 4), rtol=0)
    inputs = [L.FeatureInput(2, normalization="none", name=n) for n in "ab"]
    two = Network(inputs + [L.Addition(2, name="s")], [("a", "s/in1"), ("b", "s/in2")]).initialize(dtype="float64")
    xa, xb = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    np.testing.assert_allclose(two.predict({"a": xa, "b": xb}, batch_size=2), xa + xb, rtol=1e-15)
    np.testing.assert_allclose(two.predict((xa, xb)), xa + xb, rtol=1e-15)
    with pytest.raises(ValueError, match=r"x\['b'\]: got shape \(4, 2\)"):
        two.predict((xa, xb[:4]))
    assert two.input_shape == {"a": (2,), "b": (2,)}


def test_summary_has_an_inputs_column_for_a_graph_and_plot_draws_every_layer():
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    net = _residual()
    text = net.summary()
    assert text.rows[0][2] == "Inputs"
    row = next(r for r in text.rows if r[1] == "add")
    assert row[2] == "fc2, in" and row[4] == "4"
    assert "Inputs" not in Network(_chain_layers()).summary().rows[0]
    ax = net.plot()
    labels = [t.get_text() for t in ax.texts]
    assert "add\n4" in labels and "in1→" not in labels and "in2" in " ".join(labels)
    plt.close(ax.figure)
