"""activations (name or 1-based index, MATLAB layouts), classify with scores, predict options."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl import Network
from minidl.backend import gpu_available
from minidl.functional import reference as ref

RNG = np.random.default_rng(5)
X_HWCN = RNG.standard_normal((5, 4, 2, 3))      # h×w×c×N: 3 images of 5×4 with 2 channels


def image_net(device="cpu"):
    net = Network([M.imageInputLayer([5, 4, 2], "Normalization", "none"),
                   M.convolution2dLayer(3, 3, "Name", "conv"), M.reluLayer(), M.fullyConnectedLayer(4, "Name", "fc"),
                   M.softmaxLayer(), M.classificationLayer()])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    net.params["conv.bias"][...] = np.array([0.1, -0.2, 0.3])
    net.to(device)
    net.classes = np.array(["a", "b", "c", "d"])
    return net


def test_activations_by_name_and_index_in_matlab_layouts():
    net = image_net()
    x = X_HWCN.transpose(3, 2, 0, 1)                                   # N×C×H×W by hand
    conv = ref.conv2d_forward(x, net.params["conv.weight"], net.params["conv.bias"])  # (3, 3, 3, 2)
    act = M.activations(net, X_HWCN, "conv")
    assert act.shape == (3, 2, 3, 3)                                   # h×w×c×N
    for n, c, h, w in np.ndindex(*conv.shape):
        assert act[h, w, c, n] == pytest.approx(conv[n, c, h, w], abs=1e-12)
    np.testing.assert_array_equal(M.activations(net, X_HWCN, 2), act)  # MATLAB's index 2 is the conv layer
    rows = M.activations(net, X_HWCN, "conv", "OutputAs", "rows")
    cols = M.activations(net, X_HWCN, "conv", OutputAs="columns")
    H, W, C = 3, 2, 3
    assert rows.shape == (3, 18) and cols.shape == (18, 3)
    for n, c, h, w in np.ndindex(3, C, H, W):
        assert rows[n, h + H * w + H * W * c] == act[h, w, c, n]      # MATLAB's column-major flattening
        assert cols[h + H * w + H * W * c, n] == act[h, w, c, n]
    fc = M.activations(net, X_HWCN, "fc")
    expected = ref.dense_forward(np.maximum(conv, 0), net.params["fc.weight"], net.params["fc.bias"])
    assert fc.shape == (1, 1, 4, 3)                                    # 1×1×O×N, as MATLAB shows it
    np.testing.assert_allclose(fc[0, 0], expected.T, atol=1e-12)
    np.testing.assert_array_equal(M.activations(net, X_HWCN, 5)[0, 0].T, M.predict(net, X_HWCN))


def test_activations_of_a_feature_network_and_bad_layers():
    net = Network([M.featureInputLayer(3), M.fullyConnectedLayer(2, "Name", "fc"), M.regressionLayer()])
    net.initialize(rng=np.random.default_rng(1), dtype="float64")
    x = RNG.standard_normal((4, 3))
    act = M.activations(net, x, "fc")
    np.testing.assert_allclose(act, ref.dense_forward(x, net.params["fc.weight"], net.params["fc.bias"]),
                               atol=1e-12)
    np.testing.assert_array_equal(M.activations(net, x, 2, "OutputAs", "columns"), act.T)
    with pytest.raises(ValueError, match=r"layer: got 'conv'; allowed: a layer name \(featureinput_1, fc, "):
        M.activations(net, x, "conv")
    with pytest.raises(ValueError, match=r"layer: got 0; allowed: a layer name or an index 1 to 3"):
        M.activations(net, x, 0)
    with pytest.raises(ValueError, match=r"'OutputAs'"):
        M.activations(net, x, 2, "OutputAs", "pages")


def test_classify_returns_the_scores_when_asked():
    net = image_net()
    labels, scores = M.classify(net, X_HWCN, "MiniBatchSize", 2, return_scores=True)
    np.testing.assert_array_equal(scores, M.predict(net, X_HWCN))
    np.testing.assert_array_equal(labels, net.classes[np.argmax(scores, axis=1)])
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(M.classify(net, X_HWCN), labels)


def test_predict_execution_environment_runs_on_that_device_without_moving_the_network():
    net = image_net(device="standin")
    on_cpu = M.predict(net, X_HWCN, "ExecutionEnvironment", "cpu", "MiniBatchSize", 1)
    assert net.device.name == "standin"                               # the caller's network stays where it was
    np.testing.assert_allclose(on_cpu, M.predict(net, X_HWCN), rtol=1e-12)
    with pytest.raises(ValueError, match=r"'ExecutionEnvironment'"):
        M.predict(net, X_HWCN, "ExecutionEnvironment", "multi-gpu")
    if not gpu_available():
        with pytest.raises(RuntimeError, match=r"'ExecutionEnvironment': got 'gpu'"):
            M.predict(net, X_HWCN, "ExecutionEnvironment", "gpu")
