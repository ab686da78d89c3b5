"""R2019b input normalizations: rescale-symmetric, rescale-zero-one (Min/Max), NormalizationDimension for every
normalization, ResetInputNormalization; statistics recomputed by hand here."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.testing import check_layer
from minidl.training.serialization import layer_from_json, layer_to_json

RNG = np.random.default_rng(11)
X = RNG.uniform(-3, 5, size=(10, 2, 3, 4))                      # N×C×H×W
AXES = {"element": (0,), "channel": (0, 2, 3), "all": (0, 1, 2, 3)}


def fitted(normalization, dimension="auto", x=X, size=(2, 3, 4)):
    layer = L.ImageInput(size, normalization=normalization, normalization_dimension=dimension)
    layer.set_statistics([x[:4], x[4:7], x[7:]])                 # three batches, merged exactly
    layer.initialize(size, dtype="float64")
    return layer


@pytest.mark.parametrize("dimension", ["element", "channel", "all"])
def test_rescalings_over_each_dimension(dimension):
    lo, hi = X.min(axis=AXES[dimension], keepdims=True)[0], X.max(axis=AXES[dimension], keepdims=True)[0]
    zero_one = fitted("rescale-zero-one", dimension)
    np.testing.assert_array_equal(zero_one.state["min"].reshape(lo.shape), lo)
    np.testing.assert_array_equal(zero_one.state["max"].reshape(hi.shape), hi)
    y = zero_one.forward(X)
    np.testing.assert_allclose(y, (X - lo) / (hi - lo), rtol=1e-13, atol=1e-15)
    assert y.min() == pytest.approx(0) and y.max() == pytest.approx(1)
    sym = fitted("rescale-symmetric", dimension).forward(X)
    np.testing.assert_allclose(sym, 2 * (X - lo) / (hi - lo) - 1, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("dimension", ["element", "channel", "all"])
def test_zerocenter_and_zscore_over_each_dimension(dimension):
    mean = X.mean(axis=AXES[dimension], keepdims=True)[0]
    std = X.std(axis=AXES[dimension], keepdims=True)[0]
    np.testing.assert_allclose(fitted("zerocenter", dimension).forward(X), X - mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(fitted("zscore", dimension).forward(X), (X - mean) / std, rtol=1e-12, atol=1e-13)


def test_auto_computes_the_mean_image_for_zerocenter_and_per_channel_statistics_otherwise():
    assert fitted("zerocenter").state["mean"].shape == (2, 3, 4)
    assert fitted("zscore").state["std"].shape == (2, 1, 1)
    assert fitted("rescale-zero-one").state["min"].shape == (2, 1, 1)
    features = L.FeatureInput(3, normalization="rescale-symmetric")
    xf = RNG.standard_normal((8, 3))
    features.set_statistics([xf])
    np.testing.assert_array_equal(features.state["max"], xf.max(axis=0))


def test_a_zero_range_counts_as_one_and_gradients_check():
    x = X.copy()
    x[:, 1] = 2.5                                                  # channel 1 constant: max − min = 0
    y = fitted("rescale-symmetric", "channel", x).forward(x)
    np.testing.assert_array_equal(y[:, 1], -1.0)
    for norm in ("rescale-symmetric", "rescale-zero-one", "zscore"):
        layer = L.ImageInput((2, 3, 4), normalization=norm, normalization_dimension="channel",
                             mean=np.ones((2, 1, 1)), std=np.full((2, 1, 1), 2.0), minimum=np.zeros((2, 1, 1)),
                             maximum=np.array([4.0, 8.0]).reshape(2, 1, 1))
        errors = check_layer(layer, (3, 2, 3, 4))
        assert max(errors.values()) < 1e-6


def test_matlab_constructor_arguments_and_layouts():
    lo, hi = np.array([0.0, 1.0]).reshape(1, 1, 2), np.array([4.0, 9.0]).reshape(1, 1, 2)     # 1×1×c
    layer = M.imageInputLayer([3, 4, 2], "Normalization", "rescale-zero-one", "Min", lo, "Max", hi)
    layer.initialize((2, 3, 4), dtype="float64")
    x = M.hwcn_to_nchw(RNG.uniform(0, 9, size=(3, 4, 2, 5)))
    np.testing.assert_allclose(layer.forward(x), (x - np.array([0, 1.0])[None, :, None, None])
                               / np.array([4.0, 8.0])[None, :, None, None], rtol=1e-13)
    assert not layer.needs_statistics and layer.normalization_dimension == "auto"
    z = M.imageInputLayer([3, 4, 2], "Normalization", "zerocenter", "NormalizationDimension", "channel")
    assert z.normalization_dimension == "channel"
    f = M.featureInputLayer(3, "Normalization", "zscore", "NormalizationDimension", "all", "Mean", 1,
                            "StandardDeviation", 2)
    f.initialize((3,), dtype="float64")
    np.testing.assert_allclose(f.forward(np.ones((1, 3)) * 5), np.full((1, 3), 2.0))
    with pytest.raises(ValueError, match=r"'NormalizationDimension'"):
        M.imageInputLayer([3, 4, 2], "NormalizationDimension", "row")
    with pytest.raises(NotSupportedYetError, match=r"'Normalization': got a function handle"):
        M.imageInputLayer([3, 4, 2], "Normalization", lambda x: x)
    with pytest.raises(ValueError, match=r"min: got statistics of shape \(3, 1, 1\); expected \(2, 1, 1\) or a scalar"):
        M.imageInputLayer([3, 4, 2], "Normalization", "rescale-zero-one", "NormalizationDimension", "channel",
                          "Min", np.zeros((1, 1, 3)), "Max", np.ones((1, 1, 2))).initialize((2, 3, 4))
    spec = layer_to_json(z)                                          # checkpoints keep the dimension
    assert layer_from_json(spec).normalization_dimension == "channel"


def test_reset_input_normalization():
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, size=(4, 4, 1, 12))                     # h×w×c×N
    y = np.array(["a", "b"])[np.arange(12) % 2]

    def mean_after(reset):
        layers = [M.imageInputLayer([4, 4, 1], "Mean", np.zeros((4, 4))), M.fullyConnectedLayer(2),
                  M.softmaxLayer(), M.classificationLayer()]
        opts = M.trainingOptions("sgdm", "MaxEpochs", 1, "MiniBatchSize", 4, "Verbose", 0,
                                 "ResetInputNormalization", reset, "Precision", "double")
        net, _ = M.trainNetwork(x, y, layers, opts)
        return M.layer_array(net)[0].Mean

    np.testing.assert_allclose(mean_after(True), x.mean(axis=3), rtol=1e-13)   # the default
    np.testing.assert_array_equal(mean_after(False), np.zeros((4, 4, 1)))
    assert M.trainingOptions("sgdm").ResetInputNormalization is True
