"""MATLAB spellings of the era's layers: each constructor makes the minidl layer with MATLAB's defaults, converts
MATLAB weight layouts, names MATLAB's arguments in its errors; flattenLayer flattens in MATLAB's order."""

import numpy as np
import pytest

import minidl.matlab as M
from minidl import layers as L
from minidl.matlab.arrays import hwcn_to_nchw


@pytest.mark.parametrize("make, cls, attrs", [
    (lambda: M.leakyReluLayer(), L.LeakyReLU, {"scale": 0.01, "name": None}),
    (lambda: M.leakyReluLayer(0.2, "Name", "lr"), L.LeakyReLU, {"scale": 0.2, "name": "lr"}),
    (lambda: M.leakyReluLayer("Name", "lr"), L.LeakyReLU, {"scale": 0.01, "name": "lr"}),
    (lambda: M.clippedReluLayer(6), L.ClippedReLU, {"ceiling": 6.0}),
    (lambda: M.clippedReluLayer(np.float64(2.5), Name="c"), L.ClippedReLU, {"ceiling": 2.5, "name": "c"}),
    (lambda: M.eluLayer(), L.ELU, {"alpha": 1.0}),
    (lambda: M.eluLayer(0.5, "Name", "e"), L.ELU, {"alpha": 0.5, "name": "e"}),
    (lambda: M.tanhLayer("Name", "t"), L.Tanh, {"name": "t", "function": "Tanh"}),
    (lambda: M.sigmoidLayer(), L.Sigmoid, {"function": "LogisticSigmoid"}),
    (lambda: M.globalAveragePooling2dLayer("Name", "gap"), L.GlobalAveragePooling2D, {"name": "gap"}),
    (lambda: M.globalMaxPooling2dLayer(), L.GlobalMaxPooling2D, {"name": None}),
    (lambda: M.crossChannelNormalizationLayer(5), L.CrossChannelNormalization,
     {"window_channel_size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}),
    (lambda: M.crossChannelNormalizationLayer(3, "Alpha", 0.01, "Beta", 0.5, "K", 1, "Name", "n"),
     L.CrossChannelNormalization, {"window_channel_size": 3, "alpha": 0.01, "beta": 0.5, "k": 1.0, "name": "n"}),
    (lambda: M.groupedConvolution2dLayer(3, 4, 2), L.GroupedConvolution2D,
     {"filter_size": (3, 3), "num_filters_per_group": 4, "num_groups": 2, "padding": (0, 0, 0, 0)}),
    (lambda: M.groupedConvolution2dLayer([3, 5], 2, "channel-wise", "Stride", 2, "Padding", "same",
                                         "DilationFactor", [1, 2], "WeightL2Factor", 0, "Name", "dw"),
     L.GroupedConvolution2D, {"num_groups": "channel-wise", "stride": (2, 2), "padding": "same", "dilation": (1, 2),
                              "l2_factors": {"weight": 0.0, "bias": 0.0}, "name": "dw"}),
    (lambda: M.transposedConv2dLayer(4, 8, "Stride", 2, "Cropping", 1), L.TransposedConvolution2D,
     {"filter_size": (4, 4), "num_filters": 8, "stride": (2, 2), "cropping": (1, 1, 1, 1)}),
    (lambda: M.transposedConv2dLayer([3, 2], 3, "Cropping", "same", "BiasLearnRateFactor", 2),
     L.TransposedConvolution2D, {"cropping": "same", "learn_rate_factors": {"weight": 1.0, "bias": 2.0}}),
    (lambda: M.transposedConv2dLayer(3, 3, "Cropping", [1, 2]), L.TransposedConvolution2D,
     {"cropping": (1, 1, 2, 2)}),
    (lambda: M.maxUnpooling2dLayer("Name", "up"), L.MaxUnpooling2D,
     {"name": "up", "input_names": ("in", "indices", "size")}),
    (lambda: M.flattenLayer(), L.Flatten, {"order": "matlab", "levels": None}),
    (lambda: M.maxPooling2dLayer(2, "Stride", 2, "HasUnpoolingOutputs", True), L.MaxPooling2D,
     {"has_unpooling_outputs": True, "output_names": ("out", "indices", "size")}),
    (lambda: M.maxPooling2dLayer(2, "HasUnpoolingOutputs", 0), L.MaxPooling2D, {"has_unpooling_outputs": False}),
])
def test_constructors_make_minidl_layers(make, cls, attrs):
    layer = make()
    assert type(layer) is cls
    for k, v in attrs.items():
        assert getattr(layer, k) == v, k


@pytest.mark.parametrize("make, words", [
    (lambda: M.clippedReluLayer(-1), ["clippedReluLayer", "'ceiling'", "-1"]),
    (lambda: M.eluLayer(0), ["eluLayer", "'alpha'"]),
    (lambda: M.leakyReluLayer(0.1, "Scale", 2), ["leakyReluLayer", "'Scale'"]),
    (lambda: M.crossChannelNormalizationLayer(0), ["'windowChannelSize'"]),
    (lambda: M.crossChannelNormalizationLayer(5, "Beta", -1), ["crossChannelNormalizationLayer", "'Beta'", "-1"]),
    (lambda: M.groupedConvolution2dLayer(3, 2, "depthwise"), ["'numGroups'", "'depthwise'"]),
    (lambda: M.groupedConvolution2dLayer(3, 2, 0), ["'numGroups'"]),
    (lambda: M.groupedConvolution2dLayer(3, 2, 2, "Weights", np.zeros((3, 3, 1, 2, 3))), ["'Weights'", "3x3x1x2x3"]),
    (lambda: M.transposedConv2dLayer(3, 2, "Cropping", "valid"), ["'Cropping'", "'valid'"]),
    (lambda: M.transposedConv2dLayer(3, 2, "Padding", 1), ["transposedConv2dLayer", "'Padding'"]),
    (lambda: M.transposedConv2dLayer(3, 2, "Weights", np.zeros((3, 3, 4, 1))), ["'Weights'", "3x3x2xC"]),
    (lambda: M.maxPooling2dLayer(2, "HasUnpoolingOutputs", "yes"), ["'HasUnpoolingOutputs'", "'yes'"]),
])
def test_errors_name_the_matlab_argument(make, words):
    with pytest.raises((ValueError, TypeError)) as e:
        make()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_grouped_weights_and_bias_layouts(rng):
    """MATLAB's h×w×(C/G)×F_g×G weights and 1×1×F_g×G bias: group g's filter f is minidl's filter g·F_g + f, and the
    layer's output channel g·F_g + f is MATLAB's (h, w, f + F_g·g) channel."""
    kh, kw, cg, fg, g = 3, 2, 2, 3, 2
    wm = rng.standard_normal((kh, kw, cg, fg, g))
    bm = rng.standard_normal((1, 1, fg, g))
    layer = M.groupedConvolution2dLayer([kh, kw], fg, g, "Weights", wm, "Bias", bm)
    layer.initialize((cg * g, 5, 5), dtype="float64")
    W, b = layer.params["weight"], layer.params["bias"]
    for gi in range(g):
        for f in range(fg):
            np.testing.assert_array_equal(W[gi * fg + f], wm[:, :, :, f, gi].transpose(2, 0, 1))
            assert b[gi * fg + f] == bm[0, 0, f, gi]
    x = rng.standard_normal((1, cg * g, 5, 5))
    y = layer.forward(x)
    # output channel (group 1, filter 2) at (0, 0) by hand: Σ over group 1's channels and the kernel
    by_hand = bm[0, 0, 2, 1] + sum(wm[i, j, c, 2, 1] * x[0, cg + c, i, j] for i in range(kh) for j in range(kw)
                                   for c in range(cg))
    assert abs(y[0, fg + 2, 0, 0] - by_hand) < 1e-12


def test_grouped_initializer_function_gets_matlab_sizes(rng):
    seen = []

    def init(sz):
        seen.append(list(sz))
        return np.arange(np.prod(sz), dtype=float).reshape(sz, order="F")

    layer = M.groupedConvolution2dLayer(3, 2, "channel-wise", "WeightsInitializer", init, "BiasInitializer", init)
    layer.initialize((4, 6, 6), dtype="float64")
    assert seen == [[3, 3, 1, 2, 4], [1, 1, 2, 4]]
    b = layer.params["bias"]
    np.testing.assert_array_equal(b, np.arange(8.0))  # column-major 1×1×2×4: f fastest = group-major order


def test_transposed_weights_layout(rng):
    wm = rng.standard_normal((4, 3, 5, 2))  # h × w × F × C
    layer = M.transposedConv2dLayer([4, 3], 5, "Weights", wm, "Bias", np.zeros((1, 1, 5)), "Stride", 2)
    assert layer.initialize((2, 3, 3)) == (5, 2 * 2 + 4, 2 * 2 + 3)
    np.testing.assert_array_equal(layer.params["weight"], wm.transpose(3, 2, 0, 1).astype(np.float32))


def test_transposed_sizes_as_matlab_states():
    """Output = stride·(in − 1) + filter − 2·crop (numeric cropping); 'same' cropping: stride·in."""
    for filt, stride, crop, inp in [(3, 2, 0, 7), (4, 2, 1, 7), (5, 3, 2, 4), (2, 2, 0, 5)]:
        out = M.transposedConv2dLayer(filt, 1, "Stride", stride, "Cropping", crop).initialize((1, inp, inp))
        assert out[1:] == (stride * (inp - 1) + filt - 2 * crop,) * 2
        same = M.transposedConv2dLayer(filt, 1, "Stride", stride, "Cropping", "same").initialize((1, inp, inp))
        assert same[1:] == (stride * inp,) * 2


def test_flatten_layer_follows_matlab_order_into_fully_connected(rng):
    """flattenLayer then fullyConnectedLayer with MATLAB weights O×(h·w·c) computes what MATLAB computes."""
    h, w, c, o = 3, 4, 2, 5
    xm = rng.standard_normal((h, w, c, 2))           # MATLAB H×W×C×N
    wm = rng.standard_normal((o, h * w * c))
    flat = M.flattenLayer()
    flat.initialize((c, h, w), dtype="float64")
    fc = M.fullyConnectedLayer(o, "Weights", wm, "Bias", np.zeros((o, 1)))
    fc.initialize((h * w * c,), dtype="float64")
    y = fc.forward(flat.forward(hwcn_to_nchw(xm)))
    want = np.stack([wm @ xm[:, :, :, n].reshape(-1, order="F") for n in range(2)])  # MATLAB's x(:)
    np.testing.assert_allclose(y, want, rtol=1e-12)
