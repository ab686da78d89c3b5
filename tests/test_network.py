"""The network container: naming, shapes, forward/backward, prediction, state, devices."""

import numpy as np
import pytest

import minidl as dl
from minidl import backend as B
from minidl import layers as L
from minidl.testing import assert_allclose, gradient_check


def _mlp(norm="none"):
    return dl.Network([L.FeatureInput(4, normalization=norm), L.FullyConnected(6), L.BatchNormalization(),
                       L.ReLU(), L.FullyConnected(3), L.Softmax(), L.ClassificationOutput()])


def test_names_are_stable_and_unique():
    net = dl.Network([L.FeatureInput(2), L.FullyConnected(3), L.ReLU(), L.FullyConnected(2, name="head"),
                      L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()])
    assert [layer.name for layer in net.layers] == [
        "featureinput_1", "fc_1", "relu_1", "head", "fc_3", "softmax_1", "classoutput_1"]
    with pytest.raises(ValueError, match="appear more than once"):
        dl.Network([L.FullyConnected(2, name="a"), L.ReLU(name="a")])


def test_whole_network_gradient_in_float64(backend, rng):
    net = _mlp().initialize(rng=rng, dtype="float64", device=backend)
    x = B.to_device(rng.standard_normal((8, 4)), backend)
    t = B.to_device(rng.integers(0, 3, 8), backend)
    params = net.params

    def f(**kw):
        return net.loss_array(net.forward(x, training=True), t)

    def backward(dy):
        net.backward(net.forward(x, training=True), t)
        return {k: g * dy for k, g in net.grads.items()}

    gradient_check(f, params, backward, rtol=1e-5, atol=1e-9)


def test_same_seed_same_weights_on_every_device(backend):
    a = _mlp().initialize(rng=np.random.default_rng(3), dtype="float64")
    b = _mlp().initialize(rng=np.random.default_rng(3), dtype="float64", device=backend)
    for k, v in a.params.items():
        np.testing.assert_array_equal(B.to_host(b.params[k]), v)


def test_predict_batches_and_classify_returns_trained_labels(backend, rng):
    net = _mlp("zscore")
    x = rng.standard_normal((10, 4))
    net.input_layer.set_statistics([x])
    net.initialize(rng=rng, dtype="float64", device=backend)
    net.classes = np.array(["cat", "dog", "emu"])
    full = net.predict(x, batch_size=100)
    assert isinstance(full, np.ndarray)
    assert_allclose(net.predict(x, batch_size=3), full, rtol=1e-14)
    labels = net.classify(x)
    np.testing.assert_array_equal(labels, net.classes[np.argmax(full, axis=1)])
    with pytest.raises(ValueError, match="x: got shape"):
        net.predict(np.zeros((2, 5)))


def test_state_arrays_round_trip_and_copy_is_independent(rng):
    net = _mlp().initialize(rng=rng, dtype="float64")
    saved = net.state_arrays()
    assert "state/batchnorm_1.mean" in saved and "params/fc_1.weight" in saved
    dup = net.copy()
    dup.params["fc_1.weight"][...] = 0
    assert np.any(net.params["fc_1.weight"] != 0)
    other = _mlp().initialize(rng=np.random.default_rng(99), dtype="float64")
    other.load_state_arrays(saved)
    for k, v in net.params.items():
        np.testing.assert_array_equal(other.params[k], v)
    with pytest.raises(ValueError, match="keys differ"):
        other.load_state_arrays({"params/fc_1.weight": saved["params/fc_1.weight"]})


def test_move_between_devices_keeps_values(rng):
    net = _mlp().initialize(rng=rng, dtype="float64")
    x = rng.standard_normal((5, 4))
    before = net.predict(x)
    net.to("standin")
    assert B.get_array_module(net.params["fc_1.weight"]) is B.standin
    assert_allclose(net.predict(x), before, rtol=1e-15)
    net.to("cpu", dtype="float32")
    assert net.params["fc_1.weight"].dtype == np.float32


def test_factors_follow_matlab_defaults():
    net = _mlp().initialize(dtype="float64")
    l2 = net.l2_factors
    assert l2["fc_1.weight"] == 1 and l2["fc_1.bias"] == 0
    assert l2["batchnorm_1.scale"] == 1 and l2["batchnorm_1.offset"] == 1
    assert set(net.learn_rate_factors.values()) == {1.0}


def test_summary_lists_layers_and_learnables():
    text = _mlp().initialize(dtype="float64").summary()
    assert "fc_1" in text and "weight 6x4" in text
    assert text.strip().endswith("Total learnables: " + str(6 * 4 + 6 + 6 + 6 + 3 * 6 + 3))


@pytest.mark.parametrize("make, exc, match", [
    (lambda: dl.Network([]), TypeError, "layers: got list"),
    (lambda: dl.Network([L.ReLU(), "relu"]), TypeError, r"layers\[1\]: got str"),
    (lambda: dl.Network([L.ClassificationOutput(), L.ReLU()]), ValueError, "must be the last layer"),
    (lambda: dl.Network([L.ReLU(), L.FeatureInput(3)]), ValueError, "must be the first layer"),
    (lambda: _mlp().initialize(dtype="float16"), ValueError, "dtype: got 'float16'"),
    (lambda: dl.Network([L.ReLU()]).initialize(), ValueError, "input_shape: got None"),
    (lambda: dl.Network([L.FeatureInput(3), L.ReLU()]).initialize((4,)), ValueError, "does not match"),
])
def test_bad_network_input_names_the_problem(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_forward_before_initialize_is_a_clear_error():
    with pytest.raises(RuntimeError, match="not initialized"):
        _mlp().forward(np.zeros((1, 4)))


def test_backward_skips_the_first_layers_input_gradient_unless_asked(rng):
    net = dl.Network([L.ImageInput((1, 5, 5), normalization="none"), L.Convolution2D(3, 2), L.ReLU(),
                      L.FullyConnected(2), L.Softmax(), L.ClassificationOutput()])
    net.initialize(rng=rng, dtype="float64")
    x, t = rng.standard_normal((3, 1, 5, 5)), np.array([0, 1, 1])
    assert net.backward(net.forward(x, training=True), t) is None
    grads = {k: v.copy() for k, v in net.grads.items()}
    dx = net.backward(net.forward(x, training=True), t, need_input_gradient=True)
    assert dx.shape == x.shape and net.layers[1].compute_input_gradient is True
    for k, v in net.grads.items():
        np.testing.assert_array_equal(v, grads[k])


def test_copy_shares_the_generator_and_leaves_the_original_intact():
    net = dl.Network([L.FeatureInput(3, normalization="none"), L.Dropout(0.5), L.FullyConnected(2)])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    dup = net.copy()
    assert dup.rng is net.rng and dup.layers[1].rng is net.rng and net.layers[1].rng is net.rng
    lone = dl.Network([L.Dropout(0.5)])
    lone.layers[0].rng = np.random.default_rng(1)
    assert lone.copy().layers[0].rng is lone.layers[0].rng and lone.layers[0].rng is not None
