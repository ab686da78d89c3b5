"""net.Layers with MATLAB's properties and layouts; .mat export and import, bit-exact round trips."""

import os
import sys

import numpy as np
import pytest

import minidl.matlab as M
from minidl import Network, train_network, training_options
from minidl.backend import to_host
from minidl.matlab.interop import export_mat, import_mat, layer_array

pytest.importorskip("scipy.io")

H, W, C = 5, 4, 2


def image_layers():
    return [M.imageInputLayer([H, W, C]), M.convolution2dLayer(3, 3, "Padding", "same", "Name", "conv"),
            M.batchNormalizationLayer("Name", "bn"), M.reluLayer(), M.fullyConnectedLayer(4, "Name", "fc"),
            M.softmaxLayer(), M.classificationLayer()]


def image_net(seed=0, dtype="float32"):
    net = Network(image_layers())
    net.initialize(rng=np.random.default_rng(seed), dtype=dtype)
    rng = np.random.default_rng(seed + 100)
    net.layers[0].state["mean"] = rng.standard_normal((C, H, W))
    net["bn"].state["mean"] = rng.standard_normal(3).astype(dtype)
    net["bn"].state["variance"] = rng.uniform(0.5, 2, 3).astype(dtype)
    net.classes = np.array(["cat", "dog", "emu", "yak"])
    return net


def test_layouts_follow_matlab_index_for_index():
    net = image_net()
    layers = layer_array(net)
    wc, wf = net.params["conv.weight"], net.params["fc.weight"]     # (F, C, KH, KW), (O, C·H·W)
    conv = layers["conv"].Weights
    assert conv.shape == (3, 3, C, 3) and layers[1].Bias.shape == (1, 1, 3)
    for f, c, kh, kw in np.ndindex(*wc.shape):
        assert conv[kh, kw, c, f] == wc[f, c, kh, kw]
    fc = layers["fc"].Weights                                       # O×I, I in MATLAB's h, w, c order
    assert fc.shape == (4, 3 * H * W) and layers["fc"].Bias.shape == (4, 1)
    for o, c, h, w in np.ndindex(4, 3, H, W):
        assert fc[o, h + H * w + H * W * c] == wf[o, c * H * W + h * W + w]
    assert layers["bn"].TrainedVariance.shape == (1, 1, 3)
    np.testing.assert_array_equal(layers["bn"].TrainedMean.reshape(-1), net["bn"].state["mean"])
    mean = layers[0].Mean                                           # h×w×c mean image
    assert mean.shape == (H, W, C) and mean[3, 1, 1] == net.layers[0].state["mean"][1, 3, 1]
    assert layers[0].InputSize == [H, W, C] and layers["fc"].OutputSize == 4 and layers["conv"].NumFilters == 3
    assert list(layers[-1].Classes) == ["cat", "dog", "emu", "yak"]
    assert layers[1].Class == "nnet.cnn.layer.Convolution2DLayer"


def test_setting_matlab_weights_gives_matlabs_fully_connected_output():
    net = Network([M.imageInputLayer([H, W, C], "Normalization", "none"), M.fullyConnectedLayer(3, "Name", "fc"),
                   M.regressionLayer()])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    rng = np.random.default_rng(1)
    wm, bm = rng.standard_normal((3, H * W * C)), rng.standard_normal((3, 1))
    layer = layer_array(net)["fc"]
    layer.Weights, layer.Bias = wm, bm
    x = rng.standard_normal((H, W, C, 2))                           # h×w×c×N
    expected = np.zeros((2, 3))
    for n, o, h, w, c in np.ndindex(2, 3, H, W, C):                 # MATLAB: W(o, :) · x(:) with x(:) column-major
        expected[n, o] += wm[o, h + H * w + H * W * c] * x[h, w, c, n]
    np.testing.assert_allclose(M.predict(net, x), expected + bm.T, rtol=1e-12)
    np.testing.assert_array_equal(layer.Weights, wm)                # reading gives back what was set
    same = Network([M.imageInputLayer([H, W, C], "Normalization", "none"),
                    M.fullyConnectedLayer(3, "Weights", wm, "Bias", bm), M.regressionLayer()])
    same.initialize(rng=np.random.default_rng(0), dtype="float64")  # the constructor's 'Weights' agree
    np.testing.assert_array_equal(same.params["fc_1.weight"], net.params["fc.weight"])


def test_setting_checks_shape_and_keeps_dtype_and_device():
    net = image_net()
    layer = layer_array(net)["conv"]
    with pytest.raises(ValueError, match=r"conv.Weights: got an array of size 3x3x3; allowed: 3x3x2x3"):
        layer.Weights = np.zeros((3, 3, 3))
    with pytest.raises(AttributeError, match=r"'FilterSize' cannot be set"):
        layer.FilterSize = [5, 5]
    layer.Bias = np.array([1.0, 2.0, 3.0]).reshape(1, 1, 3)         # float64 given, the network's float32 kept
    assert net.params["conv.bias"].dtype == np.float32 and list(net.params["conv.bias"]) == [1, 2, 3]
    with pytest.raises(AttributeError, match=r"has no property 'Weight'"):
        getattr(layer, "Weight")  # noqa: B009


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mat_round_trip_is_bit_exact(tmp_path, dtype):
    net = image_net(0, dtype)
    path = export_mat(net, tmp_path / "net.mat")
    other = image_net(7, dtype)
    other.classes = None
    import_mat(path, other)
    a, b = net.state_arrays(), other.state_arrays()
    for k in a:
        assert a[k].dtype == b[k].dtype
        np.testing.assert_array_equal(a[k], b[k])
    assert list(other.classes) == list(net.classes)
    x = np.random.default_rng(3).standard_normal((H, W, C, 4))
    np.testing.assert_array_equal(M.predict(other, x), M.predict(net, x))
    import scipy.io  # what MATLAB's load sees
    raw = scipy.io.loadmat(path, struct_as_record=False)["Layers"]
    conv = raw[0, 1][0, 0]
    assert conv.Class[0] == "nnet.cnn.layer.Convolution2DLayer" and conv.Weights.shape == (3, 3, C, 3)
    assert conv.Weights.dtype == np.dtype(dtype)


def test_import_by_name_and_mismatches(tmp_path):
    net = image_net()
    path = export_mat(net, tmp_path / "net.mat")
    other = image_net(3)
    import_mat(path, other, match="name")
    np.testing.assert_array_equal(other.params["fc.weight"], net.params["fc.weight"])
    smaller = Network([M.imageInputLayer([H, W, C]), M.fullyConnectedLayer(4), M.softmaxLayer(),
                       M.classificationLayer()])
    smaller.initialize(rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"do not match the network's"):
        import_mat(path, smaller)
    with pytest.raises(ValueError, match=r"no layer named \['fc_1'\] in the file"):
        import_mat(path, Network(smaller.layers), match="name")


def test_checkpoint_networks_export(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3)), np.array(["a", "b"])[np.arange(12) % 2]
    folder = tmp_path / "ck"
    folder.mkdir()
    layers = [M.featureInputLayer(3, "Normalization", "zscore"), M.fullyConnectedLayer(2), M.softmaxLayer(),
              M.classificationLayer()]
    net, _ = train_network(x, y, layers, training_options("sgdm", max_epochs=2, mini_batch_size=4, verbose=False,
                                                          checkpoint_path=str(folder), precision="float64"))
    checkpoint = sorted(os.listdir(folder))[-1]
    path = export_mat(str(folder / checkpoint), tmp_path / "ck.mat")
    fresh = Network([M.featureInputLayer(3, "Normalization", "zscore"), M.fullyConnectedLayer(2),
                     M.softmaxLayer(), M.classificationLayer()])
    fresh.initialize(rng=np.random.default_rng(9), dtype="float64")
    import_mat(path, fresh)
    assert layer_array(fresh)[0].Mean.shape == (3, 1)                 # feature statistics numFeatures×1
    from minidl.training import load_network
    ref = load_network(str(folder / checkpoint))
    for k, v in ref.state_arrays().items():
        np.testing.assert_array_equal(fresh.state_arrays()[k], v)


def test_without_scipy_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match=r"pip install minidl\[mat\]"):
        export_mat(image_net(), tmp_path / "x.mat")


def test_missing_statistics_are_set_on_the_networks_device():
    net = Network([M.imageInputLayer([H, W, C]), M.fullyConnectedLayer(2, "Name", "fc"), M.regressionLayer()])
    net.initialize(rng=np.random.default_rng(0), dtype="float64", device="standin")
    assert net.layers[0].needs_statistics
    layer_array(net)[0].Mean = np.full((1, 1, C), 0.5)                   # per channel, given in MATLAB's layout
    assert net.layers[0].state["mean"].shape == (C, 1, 1)
    x = np.random.default_rng(1).standard_normal((2, C, H, W))
    w, b = (to_host(net.params[k]) for k in ("fc.weight", "fc.bias"))
    np.testing.assert_allclose(net.predict(x), (x - 0.5).reshape(2, -1) @ w.T + b, rtol=1e-12)  # on the stand-in


def test_import_a_matlab_written_file_with_trailing_singletons_dropped(tmp_path):
    import scipy.io

    rng = np.random.default_rng(4)
    wc, bc = rng.standard_normal((3, 3)), np.array([[0.25]])          # 3×3×1×1 and 1×1×1 as MATLAB saves them
    wf, bf = rng.standard_normal((2, 4)), rng.standard_normal((2, 1))  # O×I over a 2×2×1 activation
    classes = np.empty((2, 1), dtype=object)
    classes[:, 0] = ["no", "yes"]
    cells = np.empty((1, 5), dtype=object)
    for i, s in enumerate([{"Name": "imageinput", "Class": "nnet.cnn.layer.ImageInputLayer"},
                           {"Name": "conv", "Class": "nnet.cnn.layer.Convolution2DLayer", "Weights": wc, "Bias": bc},
                           {"Name": "fc", "Class": "nnet.cnn.layer.FullyConnectedLayer", "Weights": wf, "Bias": bf},
                           {"Name": "softmax", "Class": "nnet.cnn.layer.SoftmaxLayer"},
                           {"Name": "classoutput", "Class": "nnet.cnn.layer.ClassificationOutputLayer",
                            "Classes": classes}]):
        cells[0, i] = s
    scipy.io.savemat(tmp_path / "matlab.mat", {"Layers": cells})
    net = Network([M.imageInputLayer([4, 4, 1], "Normalization", "none"), M.convolution2dLayer(3, 1),
                   M.fullyConnectedLayer(2), M.softmaxLayer(), M.classificationLayer()])
    net.initialize(rng=np.random.default_rng(0), dtype="float64")
    import_mat(tmp_path / "matlab.mat", net)
    np.testing.assert_array_equal(net.params["conv_1.weight"][0, 0], wc)
    assert net.params["conv_1.bias"].tolist() == [0.25]
    for o, h, w in np.ndindex(2, 2, 2):                                  # one channel: I = h + 2·w
        assert net.params["fc_1.weight"][o, h * 2 + w] == wf[o, h + 2 * w]
    assert list(net.classes) == ["no", "yes"]
