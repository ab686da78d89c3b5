"""MATLAB's layer constructors (``imageInputLayer([28 28 1])``, ``convolution2dLayer(3, 8, 'Padding', 'same')``,
...) and MATLAB's weight layouts (convolution h×w×c×F, fully connected O×I over MATLAB's H, W, C flattening).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.layers.conv import Convolution2D
from minidl.layers.pooling import AveragePooling2D, MaxPooling2D
from minidl.matlab.display import (
    _choice,
    _engine_call,
    _host_array,
    _hw,
    _int_vector,
    _padding,
    _parse_pairs,
    _to_python,
)

_FACTOR_NAMES = {"WeightLearnRateFactor": "weight_learn_rate_factor", "BiasLearnRateFactor": "bias_learn_rate_factor",
                 "WeightL2Factor": "weight_l2_factor", "BiasL2Factor": "bias_l2_factor"}
_BN_FACTOR_NAMES = {"ScaleLearnRateFactor": "scale_learn_rate_factor",
                    "OffsetLearnRateFactor": "offset_learn_rate_factor",
                    "ScaleL2Factor": "scale_l2_factor", "OffsetL2Factor": "offset_l2_factor"}
_INITIALIZERS = {"glorot": "glorot", "he": "he", "narrow-normal": "normal", "zeros": "zeros", "ones": "ones"}


def _name(func: str, opts: Mapping[str, Any]) -> str | None:
    """'Name': '' (MATLAB's default) → None, so the network numbers the layer."""
    name = opts.get("Name", "")
    if not isinstance(name, str):
        raise TypeError(f"{func}: 'Name': got {name!r}; allowed: a character vector")
    return name or None


def _factors(func: str, opts: Mapping[str, Any], table: Mapping[str, str]) -> dict[str, float]:
    out = {}
    for k, snake in table.items():
        if k in opts:
            v = _to_python(opts[k])
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"{func}: '{k}': got {opts[k]!r}; allowed: a nonnegative number")
            out[snake] = v
    return out


def _layer_names(table: Mapping[str, str]) -> dict[str, str]:
    return {v: k for k, v in table.items()}


_NORMALIZATIONS = ("zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one", "none")
_STATS = (("Mean", "mean"), ("StandardDeviation", "std"), ("Min", "minimum"), ("Max", "maximum"))
_INPUT_NAMES = ("Normalization", "NormalizationDimension", "Mean", "StandardDeviation", "Min", "Max", "Name")
_INPUT_ENGINE_NAMES = {"normalization": "Normalization", "normalization_dimension": "NormalizationDimension",
                       "mean": "Mean", "std": "StandardDeviation", "minimum": "Min", "maximum": "Max",
                       "name": "Name"}


def _normalization(func: str, opts: Mapping[str, Any], default: str) -> tuple[str, str]:
    """'Normalization' (a function handle is not built) and 'NormalizationDimension' (R2019b)."""
    norm = opts.get("Normalization", default)
    if callable(norm):
        raise NotSupportedYetError(f"{func}: 'Normalization': got a function handle {norm!r}; not supported yet "
                                   f"(allowed: {', '.join(map(repr, _NORMALIZATIONS))})")
    norm = _choice(func, "Normalization", norm, _NORMALIZATIONS)
    dim = _choice(func, "NormalizationDimension", opts.get("NormalizationDimension", "auto"),
                  ("auto", "channel", "element", "all"))
    return norm, dim


def _given(opts: Mapping[str, Any], arg: str) -> bool:
    return arg in opts and not (isinstance(opts[arg], (list, tuple, np.ndarray)) and np.size(opts[arg]) == 0)


def imageInputLayer(inputSize, *args: Any, **kwargs: Any) -> L.ImageInput:
    """MATLAB ``imageInputLayer([h w c], 'Normalization', 'zerocenter', 'NormalizationDimension', 'auto', 'Mean', m,
    'StandardDeviation', s, 'Min', lo, 'Max', hi, 'Name', n)``.

    ``[h w]`` means one channel.  Normalization 'zerocenter' (default), 'zscore', 'rescale-symmetric',
    'rescale-zero-one' (R2019b) or 'none'; NormalizationDimension 'auto', 'channel', 'element', 'all'.  The
    statistics in MATLAB's h×w×c, 1×1×c or scalar layout become (C, H, W), (C, 1, 1) or ().
    → ``ImageInput((c, h, w), normalization, normalization_dimension=...)``.
    """
    func = "imageInputLayer"
    size = _int_vector(func, "inputSize", inputSize, (2, 3), 1)
    h, w, c = size + (1,) * (3 - len(size))
    opts = _parse_pairs(func, args, kwargs, _INPUT_NAMES)
    norm, dim = _normalization(func, opts, "zerocenter")
    stats = {}
    for arg, key in _STATS:
        if _given(opts, arg):
            a = _host_array(func, arg, opts[arg], (0, 1, 2, 3))
            if a.ndim == 1 and a.size != 1:
                raise ValueError(f"{func}: '{arg}': got a vector of shape {a.shape}; allowed: h×w×c, 1×1×c or a "
                                 "scalar")
            stats[key] = a.reshape(a.shape + (1,) * (3 - a.ndim)).transpose(2, 0, 1) if a.ndim >= 2 else a.reshape(())
    return _engine_call(func, _INPUT_ENGINE_NAMES | {"input_size": "inputSize"},
                        lambda: L.ImageInput((c, h, w), normalization=norm, normalization_dimension=dim,
                                             name=_name(func, opts), **stats))


def featureInputLayer(numFeatures, *args: Any, **kwargs: Any) -> L.FeatureInput:
    """MATLAB ``featureInputLayer(numFeatures, 'Normalization', 'none', 'NormalizationDimension', 'auto', 'Mean', m,
    'StandardDeviation', s, 'Min', lo, 'Max', hi, 'Name', n)``.

    MATLAB's default normalization for feature input is 'none'.  Statistics: numFeatures×1 (or 1×numFeatures) or a
    scalar.  → ``FeatureInput(numFeatures, normalization, normalization_dimension=...)``.
    """
    func = "featureInputLayer"
    (n,) = _int_vector(func, "numFeatures", numFeatures, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, _INPUT_NAMES)
    norm, dim = _normalization(func, opts, "none")
    stats = {key: _host_array(func, arg, opts[arg], (0, 1, 2)).reshape(-1) for arg, key in _STATS
             if _given(opts, arg)}
    stats = {k: v.reshape(()) if v.size == 1 else v for k, v in stats.items()}
    return _engine_call(func, _INPUT_ENGINE_NAMES,
                        lambda: L.FeatureInput(n, normalization=norm, normalization_dimension=dim,
                                               name=_name(func, opts), **stats))


def sequenceInputLayer(inputSize, *args: Any, **kwargs: Any) -> L.SequenceInput:
    """MATLAB ``sequenceInputLayer(inputSize, 'Normalization', 'none', 'NormalizationDimension', 'auto', 'Mean', m,
    'StandardDeviation', s, 'Min', lo, 'Max', hi, 'MinLength', 1, 'Name', n)`` for vector sequences (C×T).

    MATLAB's default normalization for sequence input is 'none' (sequenceInputLayer reference page, "Normalization";
    docs/semantics-matlab.md).  Statistics: inputSize×1 (or 1×inputSize) or a scalar; computed ones are per channel
    over every time step and observation.  → ``SequenceInput(inputSize, normalization, min_length=...)``.
    """
    func = "sequenceInputLayer"
    (c,) = _int_vector(func, "inputSize", inputSize, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, _INPUT_NAMES + ("MinLength",))
    norm, dim = _normalization(func, opts, "none")
    (min_length,) = _int_vector(func, "MinLength", opts.get("MinLength", 1), (1,), 1)
    stats = {key: _host_array(func, arg, opts[arg], (0, 1, 2)).reshape(-1) for arg, key in _STATS
             if _given(opts, arg)}
    stats = {k: v.reshape(()) if v.size == 1 else v for k, v in stats.items()}
    return _engine_call(func, _INPUT_ENGINE_NAMES | {"min_length": "MinLength"},
                        lambda: L.SequenceInput(c, normalization=norm, normalization_dimension=dim,
                                                min_length=min_length, name=_name(func, opts), **stats))


def _initializer(func: str, arg: str, value: Any, convert: Callable[[np.ndarray, tuple], np.ndarray],
                 matlab_size: Callable[[tuple], tuple]):
    """'glorot' | 'he' | 'narrow-normal' | 'zeros' | 'ones' | a function handle f(sz) returning a MATLAB-layout array.

    A handle is called with MATLAB's size vector and its result converted to the minidl layout.
    """
    if callable(value):
        return _MatlabInitializer(value, convert, matlab_size)
    return _INITIALIZERS[_choice(func, arg, value, tuple(_INITIALIZERS))]


class _MatlabInitializer:
    """Calls a MATLAB-style initializer f(sz) and converts its array to the minidl layout (shape, rng) → array."""

    def __init__(self, func, convert, matlab_size):
        self.func, self.convert, self.matlab_size = func, convert, matlab_size

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return self.convert(np.asarray(self.func(list(self.matlab_size(shape))), dtype=np.float64), shape)


def _conv_weights(w: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """MATLAB convolution weights h×w×c×F (trailing singleton dimensions may be missing) → (F, C, KH, KW)."""
    return w.reshape(w.shape + (1,) * (4 - w.ndim)).transpose(3, 2, 0, 1)


def _vector(b: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """A MATLAB bias 1×1×F, F×1 or 1×F → (F,)."""
    return b.reshape(-1)


class _FullyConnectedWeights:
    """MATLAB fully connected weights O×I → minidl (O, I), reordering I when the layer's input is an image.

    MATLAB flattens an H×W×C activation column-major (index h + H·w + H·W·c); minidl flattens C, H, W row-major
    (index c·H·W + h·W + w).  The input shape is known only when the network is built, so this runs then, reading
    the layer's ``input_shape`` (a deep copy of the layer carries a copy of this object pointing at the copy).
    """

    def __init__(self, layer: L.FullyConnected | None, weights: np.ndarray | _MatlabInitializer):
        self.layer, self.weights = layer, weights

    def __call__(self, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
        w = self.weights(shape, rng) if callable(self.weights) else self.weights
        return matlab_fc_weights_to_minidl(w, self.layer.input_shape if self.layer is not None else None)


def matlab_fc_weights_to_minidl(w: np.ndarray, input_shape: tuple[int, ...] | None) -> np.ndarray:
    """Fully connected weights O×I in MATLAB's flattening → minidl's: for image inputs (C, H, W) the columns go
    from MATLAB's (h, w, c) column-major order to minidl's (c, h, w) row-major order; other inputs unchanged.

    >>> w = np.arange(2 * 12.).reshape(2, 12)           # O = 2, input C, H, W = 2, 3, 2
    >>> wm = matlab_fc_weights_to_minidl(w, (2, 3, 2))
    >>> bool(wm[0, 1 * 6 + 2 * 2 + 1] == w[0, 2 + 3 * 1 + 6 * 1])   # c=1, h=2, w=1
    True
    """
    if input_shape is None or len(input_shape) != 3 or w.ndim != 2 or w.shape[1] != int(np.prod(input_shape)):
        return w
    c, h, wd = input_shape
    return w.reshape(w.shape[0], c, wd, h).transpose(0, 1, 3, 2).reshape(w.shape[0], -1)


def _fc_weights(w: np.ndarray, shape: tuple) -> np.ndarray:
    return w


_WB_NAMES = ("Weights", "Bias", "WeightsInitializer", "BiasInitializer", "Name") + tuple(_FACTOR_NAMES)


def convolution2dLayer(filterSize, numFilters, *args: Any, **kwargs: Any) -> Convolution2D:
    """MATLAB ``convolution2dLayer(filterSize, numFilters, 'Stride', s, 'Padding', p, 'DilationFactor', d, ...)``.

    filterSize / Stride / DilationFactor: a scalar or [h w].  Padding: 'same', a scalar, [ph pw] (top-bottom,
    left-right) or [t b l r].  'Weights' h×w×c×F → (F, C, KH, KW); 'Bias' 1×1×F → (F,).  'WeightsInitializer' /
    'BiasInitializer': 'glorot', 'he', 'narrow-normal' (N(0, 0.01²), minidl's default, as the reference states),
    'zeros', 'ones' or a function f(sz) with MATLAB's size vector [h w c F] (bias [1 1 F]).  Factors:
    'WeightLearnRateFactor', 'BiasLearnRateFactor', 'WeightL2Factor', 'BiasL2Factor'.
    """
    func = "convolution2dLayer"
    fs = _int_vector(func, "filterSize", filterSize, (1, 2), 1)
    (nf,) = _int_vector(func, "numFilters", numFilters, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Padding", "DilationFactor", "PaddingValue") + _WB_NAMES)
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    dilation = _hw(_int_vector(func, "DilationFactor", opts.get("DilationFactor", 1), (1, 2), 1))
    padding = _padding(func, opts.get("Padding", 0))
    if _to_python(opts.get("PaddingValue", 0)) != 0:
        raise ValueError(f"{func}: 'PaddingValue': got {opts['PaddingValue']!r}; allowed: 0 (zero padding)")
    kw = _weight_bias(func, opts, _conv_weights, lambda s: (s[2], s[3], s[1], s[0]), lambda s: (1, 1, s[0]))
    kh, kw_ = fs * 2 if len(fs) == 1 else fs
    if "weights" in kw and (kw["weights"].shape[2:] != (kh, kw_) or kw["weights"].shape[0] != nf):
        f, c, h, w = kw["weights"].shape
        raise ValueError(f"{func}: 'Weights': got an array of size {h}x{w}x{c}x{f}; allowed: "
                         f"{kh}x{kw_}xCx{nf} (filterSize x channels x numFilters)")
    if "bias" in kw and kw["bias"].shape != (nf,):
        raise ValueError(f"{func}: 'Bias': got {kw['bias'].size} values; allowed: 1x1x{nf} (one per filter)")
    return _engine_call(func, {"filter_size": "filterSize", "num_filters": "numFilters", "stride": "Stride",
                               "padding": "Padding", "dilation": "DilationFactor"} | _WB_ENGINE_NAMES,
                        lambda: Convolution2D(_hw(fs), nf, stride=stride, padding=padding, dilation=dilation,
                                              name=_name(func, opts), **kw))


_WB_ENGINE_NAMES = {"weights": "Weights", "bias": "Bias", "weights_initializer": "WeightsInitializer",
                    "bias_initializer": "BiasInitializer", "name": "Name"} | _layer_names(_FACTOR_NAMES)


def _weight_bias(func: str, opts: Mapping[str, Any], convert_w, w_size, b_size) -> dict[str, Any]:
    """The Weights / Bias / initializers / factors of a MATLAB layer as minidl keyword arguments."""
    kw: dict[str, Any] = _factors(func, opts, _FACTOR_NAMES)
    if "WeightsInitializer" in opts:
        kw["weights_initializer"] = _initializer(func, "WeightsInitializer", opts["WeightsInitializer"], convert_w,
                                                 w_size)
    if "BiasInitializer" in opts:
        kw["bias_initializer"] = _initializer(func, "BiasInitializer", opts["BiasInitializer"], _vector, b_size)
    if "Weights" in opts and np.size(opts["Weights"]) > 0:
        kw["weights"] = convert_w(_host_array(func, "Weights", opts["Weights"], (2, 3, 4) if convert_w is
                                              _conv_weights else (2,)), None)
    if "Bias" in opts and np.size(opts["Bias"]) > 0:
        kw["bias"] = _vector(_host_array(func, "Bias", opts["Bias"], (0, 1, 2, 3)))
    return kw


def fullyConnectedLayer(outputSize, *args: Any, **kwargs: Any) -> L.FullyConnected:
    """MATLAB ``fullyConnectedLayer(outputSize, 'Weights', W, 'Bias', b, 'WeightsInitializer', ..., 'Name', n)``.

    'Weights' O×I are in MATLAB's layout: when the layer's input is an image, I runs over the input flattened in
    MATLAB's order (h fastest, then w, then c); they are reordered to minidl's (c, h, w) flattening when the network
    is built (docs/matlab.md).  A 'WeightsInitializer' function f([O I]) is treated the same way.  'Bias' O×1.
    """
    func = "fullyConnectedLayer"
    (o,) = _int_vector(func, "outputSize", outputSize, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, _WB_NAMES)
    kw = _weight_bias(func, opts, _fc_weights, lambda s: s, lambda s: (s[0], 1))
    if "weights" in kw and kw["weights"].shape[0] != o:
        raise ValueError(f"{func}: 'Weights': got an array of size {'x'.join(map(str, kw['weights'].shape))}; "
                         f"allowed: {o}xI (outputSize x input size)")
    if "bias" in kw and kw["bias"].shape != (o,):
        raise ValueError(f"{func}: 'Bias': got {kw['bias'].size} values; allowed: {o}x1 (one per output)")
    reorder = None  # given MATLAB weights (or a MATLAB initializer) are reordered when the input shape is known
    if "weights" in kw:
        reorder = kw["weights"] = _FullyConnectedWeights(None, kw["weights"])
    elif isinstance(kw.get("weights_initializer"), _MatlabInitializer):
        reorder = kw["weights_initializer"] = _FullyConnectedWeights(None, kw["weights_initializer"])
    layer = _engine_call(func, {"output_size": "outputSize"} | _WB_ENGINE_NAMES,
                         lambda: L.FullyConnected(o, name=_name(func, opts), **kw))
    if reorder is not None:
        reorder.layer = layer
    return layer


def batchNormalizationLayer(*args: Any, **kwargs: Any) -> L.BatchNormalization:
    """MATLAB ``batchNormalizationLayer('Epsilon', 1e-5, 'MeanDecay', 0.1, 'VarianceDecay', 0.1, 'Name', n, ...)``.

    'Scale', 'Offset', 'TrainedMean', 'TrainedVariance' in MATLAB's 1×1×C (or C×1) layout → (C,); factors
    'ScaleLearnRateFactor', 'OffsetLearnRateFactor', 'ScaleL2Factor', 'OffsetL2Factor'.
    """
    func = "batchNormalizationLayer"
    opts = _parse_pairs(func, args, kwargs, ("Epsilon", "MeanDecay", "VarianceDecay", "Scale", "Offset",
                                             "TrainedMean", "TrainedVariance", "Name") + tuple(_BN_FACTOR_NAMES))
    kw: dict[str, Any] = _factors(func, opts, _BN_FACTOR_NAMES)
    for arg, key in (("Epsilon", "epsilon"), ("MeanDecay", "mean_decay"), ("VarianceDecay", "variance_decay")):
        if arg in opts:
            kw[key] = _to_python(opts[arg])
    for arg, key in (("Scale", "scale"), ("Offset", "offset")):
        if arg in opts and np.size(opts[arg]) > 0:
            kw[key] = _vector(_host_array(func, arg, opts[arg], (0, 1, 2, 3)))
    layer = _engine_call(func, {"epsilon": "Epsilon", "mean_decay": "MeanDecay", "variance_decay": "VarianceDecay",
                                "scale": "Scale", "offset": "Offset", "name": "Name"} | _layer_names(_BN_FACTOR_NAMES),
                         lambda: L.BatchNormalization(name=_name(func, opts), **kw))
    for arg, key in (("TrainedMean", "mean"), ("TrainedVariance", "variance")):
        if arg in opts and np.size(opts[arg]) > 0:
            layer.state[key] = _vector(_host_array(func, arg, opts[arg], (0, 1, 2, 3)))  # kept by build
    return layer


def reluLayer(*args: Any, **kwargs: Any) -> L.ReLU:
    """MATLAB ``reluLayer('Name', n)`` → ``ReLU()``."""
    opts = _parse_pairs("reluLayer", args, kwargs, ("Name",))
    return L.ReLU(name=_name("reluLayer", opts))


def _pooling(func: str, cls, poolSize, args, kwargs, extra: tuple[str, ...] = ()):
    size = _int_vector(func, "poolSize", poolSize, (1, 2), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Padding", "Name") + extra)
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    padding = _padding(func, opts.get("Padding", 0))
    more = {}
    if "HasUnpoolingOutputs" in opts:
        more["has_unpooling_outputs"] = _logical(func, "HasUnpoolingOutputs", opts["HasUnpoolingOutputs"])
    return _engine_call(func, {"pool_size": "poolSize", "stride": "Stride", "padding": "Padding", "name": "Name",
                               "has_unpooling_outputs": "HasUnpoolingOutputs"},
                        lambda: cls(_hw(size), stride=stride, padding=padding, name=_name(func, opts), **more))


def _logical(func: str, arg: str, value: Any) -> bool:
    """A MATLAB logical: true/false, 1/0."""
    v = _to_python(value)
    if isinstance(v, bool) or (isinstance(v, numbers.Real) and v in (0, 1)):
        return bool(v)
    raise ValueError(f"{func}: '{arg}': got {value!r}; allowed: true or false (1 or 0)")


def maxPooling2dLayer(poolSize, *args: Any, **kwargs: Any) -> MaxPooling2D:
    """MATLAB ``maxPooling2dLayer(poolSize, 'Stride', s, 'Padding', p, 'HasUnpoolingOutputs', tf, 'Name', n)``;
    Stride defaults to 1 (MATLAB).  'HasUnpoolingOutputs' true: the outputs 'out', 'indices' and 'size' for a
    maxUnpooling2dLayer (MaxPooling2D(has_unpooling_outputs=True); the indices are minidl's, see docs/layers.md)."""
    return _pooling("maxPooling2dLayer", MaxPooling2D, poolSize, args, kwargs, ("HasUnpoolingOutputs",))


def averagePooling2dLayer(poolSize, *args: Any, **kwargs: Any) -> AveragePooling2D:
    """MATLAB ``averagePooling2dLayer(poolSize, 'Stride', s, 'Padding', p, 'Name', n)``."""
    return _pooling("averagePooling2dLayer", AveragePooling2D, poolSize, args, kwargs)


def dropoutLayer(*args: Any, **kwargs: Any) -> L.Dropout:
    """MATLAB ``dropoutLayer(probability = 0.5, 'Name', n)`` → ``Dropout(probability)``."""
    func = "dropoutLayer"
    p = 0.5
    if args and not isinstance(args[0], str):
        p, args = _to_python(args[0]), args[1:]
    opts = _parse_pairs(func, args, kwargs, ("Name",))
    return _engine_call(func, {"probability": "probability", "name": "Name"},
                        lambda: L.Dropout(p, name=_name(func, opts)))


def softmaxLayer(*args: Any, **kwargs: Any) -> L.Softmax:
    """MATLAB ``softmaxLayer('Name', n)`` → ``Softmax()``."""
    opts = _parse_pairs("softmaxLayer", args, kwargs, ("Name",))
    return L.Softmax(name=_name("softmaxLayer", opts))


def classificationLayer(*args: Any, **kwargs: Any) -> L.ClassificationOutput:
    """MATLAB ``classificationLayer('Name', n)`` → ``ClassificationOutput()`` (cross-entropy)."""
    opts = _parse_pairs("classificationLayer", args, kwargs, ("Name",))
    return L.ClassificationOutput(name=_name("classificationLayer", opts))


def regressionLayer(*args: Any, **kwargs: Any) -> L.RegressionOutput:
    """MATLAB ``regressionLayer('Name', n)`` → ``RegressionOutput()`` (half mean squared error)."""
    opts = _parse_pairs("regressionLayer", args, kwargs, ("Name",))
    return L.RegressionOutput(name=_name("regressionLayer", opts))


# ------------------------------------------------------------------------------------------------ recurrent layers
_RNN_FACTOR_NAMES = {f"{m}{kind}": f"{s}_{k}" for m, s in (("InputWeights", "input_weights"),
                                                            ("RecurrentWeights", "recurrent_weights"),
                                                            ("Bias", "bias"))
                     for kind, k in (("LearnRateFactor", "learn_rate_factor"), ("L2Factor", "l2_factor"))}
_RNN_INITIALIZERS = {"glorot": "glorot", "he": "he", "orthogonal": "orthogonal", "narrow-normal": "narrow-normal",
                     "zeros": "zeros", "ones": "ones"}
_RNN_NAMES = ("Name", "OutputMode", "StateActivationFunction", "GateActivationFunction", "InputWeightsInitializer",
              "RecurrentWeightsInitializer", "BiasInitializer", "InputWeights", "RecurrentWeights", "Bias",
              "HiddenState", "HasStateInputs", "HasStateOutputs") + tuple(_RNN_FACTOR_NAMES)
_RNN_ENGINE_NAMES = {"hidden_size": "numHiddenUnits", "output_mode": "OutputMode",
                     "state_activation": "StateActivationFunction", "gate_activation": "GateActivationFunction",
                     "input_weights_initializer": "InputWeightsInitializer",
                     "recurrent_weights_initializer": "RecurrentWeightsInitializer",
                     "bias_initializer": "BiasInitializer", "input_weights": "InputWeights",
                     "recurrent_weights": "RecurrentWeights", "bias": "Bias", "initial_hidden_state": "HiddenState",
                     "initial_cell_state": "CellState", "reset_gate_mode": "ResetGateMode",
                     "recurrent_bias": "RecurrentBias", "name": "Name"} | _layer_names(_RNN_FACTOR_NAMES)


def _identity(a: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """MATLAB's recurrent weights (G·H)×C and (G·H)×H are minidl's layout already (the same gate order)."""
    return a


def _recurrent(func: str, num_hidden, args, kwargs, extra: tuple[str, ...], gates: int) -> tuple[int, dict, dict]:
    """The options common to lstmLayer, bilstmLayer and gruLayer → (H, minidl keyword arguments, the options)."""
    (h,) = _int_vector(func, "numHiddenUnits", num_hidden, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, _RNN_NAMES + extra)
    for arg in ("HasStateInputs", "HasStateOutputs"):
        if _to_python(opts.get(arg, False)):
            raise NotSupportedYetError(f"{func}: '{arg}': got {opts[arg]!r}; not supported yet (allowed: false)")
    for arg in _RNN_FACTOR_NAMES:
        if arg in opts and np.size(opts[arg]) > 1:
            raise NotSupportedYetError(f"{func}: '{arg}': got {opts[arg]!r}; a factor per gate is not supported "
                                       "yet (allowed: a nonnegative scalar)")
    kw: dict[str, Any] = _factors(func, opts, _RNN_FACTOR_NAMES)
    kw["output_mode"] = _choice(func, "OutputMode", opts.get("OutputMode", "sequence"), ("sequence", "last"))
    state = opts.get("StateActivationFunction", "tanh")
    if isinstance(state, str) and state.lower() == "relu":
        raise NotSupportedYetError(f"{func}: 'StateActivationFunction': got {state!r}; not supported yet (allowed: "
                                   "'tanh', 'softsign')")
    kw["state_activation"] = _choice(func, "StateActivationFunction", state, ("tanh", "softsign"))
    kw["gate_activation"] = _choice(func, "GateActivationFunction", opts.get("GateActivationFunction", "sigmoid"),
                                    ("sigmoid", "hard-sigmoid"))
    for arg, snake, table in (("InputWeightsInitializer", "input_weights_initializer", _RNN_INITIALIZERS),
                              ("RecurrentWeightsInitializer", "recurrent_weights_initializer", _RNN_INITIALIZERS)):
        if arg in opts:
            kw[snake] = _MatlabInitializer(opts[arg], _identity, lambda s: s) if callable(opts[arg]) else \
                table[_choice(func, arg, opts[arg], tuple(table))]
    if "BiasInitializer" in opts:
        allowed = ("unit-forget-gate", "narrow-normal", "zeros", "ones") if gates == 4 else \
            ("zeros", "narrow-normal", "ones")
        b = opts["BiasInitializer"]
        kw["bias_initializer"] = _MatlabInitializer(b, _vector, lambda s: (s[0], 1)) if callable(b) else \
            _choice(func, "BiasInitializer", b, allowed)
    for arg, snake, ndims in (("InputWeights", "input_weights", (2,)), ("RecurrentWeights", "recurrent_weights", (2,)),
                              ("Bias", "bias", (1, 2)), ("HiddenState", "initial_hidden_state", (1, 2)),
                              ("CellState", "initial_cell_state", (1, 2)), ("RecurrentBias", "recurrent_bias", (1, 2))):
        if arg in opts and _given(opts, arg):
            a = _host_array(func, arg, opts[arg], ndims)
            kw[snake] = a if ndims == (2,) else _vector(a)
    return h, kw, opts


def _check_sizes(func: str, kw: Mapping[str, Any], rows: int, h: int, state: int) -> None:
    """Given arrays against numHiddenUnits (rows = G·H per direction stacked; the input size C is checked when the
    network is built)."""
    for snake, want in (("input_weights", (rows, None)), ("recurrent_weights", (rows, h)), ("bias", (rows,)),
                        ("recurrent_bias", (rows,)), ("initial_hidden_state", (state,)),
                        ("initial_cell_state", (state,))):
        if snake in kw:
            got = kw[snake].shape
            if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
                size = "x".join("C" if w is None else str(w) for w in want) + ("x1" if len(want) == 1 else "")
                raise ValueError(f"{func}: '{_RNN_ENGINE_NAMES[snake]}': got an array of size "
                                 f"{'x'.join(map(str, got))}; allowed: {size}")


def lstmLayer(numHiddenUnits, *args: Any, **kwargs: Any) -> L.LSTM:
    """MATLAB ``lstmLayer(numHiddenUnits, 'OutputMode', 'last', 'StateActivationFunction', 'softsign', ...)``.

    Gates in MATLAB's order (input, forget, cell candidate, output); 'InputWeights' 4H×C, 'RecurrentWeights' 4H×H,
    'Bias' 4H×1, 'HiddenState' / 'CellState' H×1 are minidl's layouts as they are.  Initializers: input weights
    'glorot' (default), 'he', 'orthogonal', 'narrow-normal', 'zeros', 'ones' or f(sz) with sz = [4H C]; recurrent
    weights the same with 'orthogonal' the default; bias 'unit-forget-gate' (default), 'narrow-normal', 'zeros',
    'ones' or f(sz).  Factors 'InputWeightsLearnRateFactor', ..., 'BiasL2Factor' (scalars).  Padded steps are
    processed like real ones (MATLAB; docs/semantics-matlab.md).
    """
    func = "lstmLayer"
    h, kw, opts = _recurrent(func, numHiddenUnits, args, kwargs, ("CellState",), 4)
    _check_sizes(func, kw, 4 * h, h, h)
    return _engine_call(func, _RNN_ENGINE_NAMES, lambda: L.LSTM(h, name=_name(func, opts), **kw))


def bilstmLayer(numHiddenUnits, *args: Any, **kwargs: Any) -> L.BiLSTM:
    """MATLAB ``bilstmLayer(numHiddenUnits, ...)``: the options of :func:`lstmLayer`; arrays hold both directions
    stacked as MATLAB stores them, forward first: 'InputWeights' 8H×C, 'RecurrentWeights' 8H×H, 'Bias' 8H×1,
    'HiddenState' / 'CellState' 2H×1; the output has 2H channels (forward first)."""
    func = "bilstmLayer"
    h, kw, opts = _recurrent(func, numHiddenUnits, args, kwargs, ("CellState",), 4)
    _check_sizes(func, kw, 8 * h, h, 2 * h)
    return _engine_call(func, _RNN_ENGINE_NAMES, lambda: L.BiLSTM(h, name=_name(func, opts), **kw))


def gruLayer(numHiddenUnits, *args: Any, **kwargs: Any) -> L.GRU:
    """MATLAB ``gruLayer(numHiddenUnits, 'ResetGateMode', 'after-multiplication', ...)``.

    Gates in MATLAB's order (reset, update, candidate): 'InputWeights' 3H×C, 'RecurrentWeights' 3H×H, 'Bias' 3H×1,
    'HiddenState' H×1, 'RecurrentBias' 3H×1 (only for 'recurrent-bias-after-multiplication').  'ResetGateMode':
    'after-multiplication' (default), 'before-multiplication', 'recurrent-bias-after-multiplication'.  Bias
    initializer 'zeros' (default), 'narrow-normal', 'ones' or f(sz); the other options as :func:`lstmLayer`.
    """
    func = "gruLayer"
    h, kw, opts = _recurrent(func, numHiddenUnits, args, kwargs, ("ResetGateMode", "RecurrentBias"), 3)
    kw["reset_gate_mode"] = _choice(func, "ResetGateMode", opts.get("ResetGateMode", "after-multiplication"),
                                    ("after-multiplication", "before-multiplication",
                                     "recurrent-bias-after-multiplication"))
    if "recurrent_bias" in kw and kw["reset_gate_mode"] != "recurrent-bias-after-multiplication":
        raise ValueError(f"{func}: 'RecurrentBias': given with 'ResetGateMode' {kw['reset_gate_mode']!r}; allowed: "
                         "only with 'recurrent-bias-after-multiplication'")
    _check_sizes(func, kw, 3 * h, h, h)
    return _engine_call(func, _RNN_ENGINE_NAMES, lambda: L.GRU(h, name=_name(func, opts), **kw))


# ------------------------------------------------------------------------------------------------ the era's layers
def _leading_number(func: str, arg: str, args: tuple, default: Any) -> tuple[Any, tuple]:
    """An optional leading positional number (leakyReluLayer(0.2, 'Name', n)) → (value, the remaining args)."""
    if args and not isinstance(args[0], str):
        return _to_python(args[0]), args[1:]
    return default, args


def leakyReluLayer(*args: Any, **kwargs: Any) -> L.LeakyReLU:
    """MATLAB ``leakyReluLayer(scale = 0.01, 'Name', n)`` → ``LeakyReLU(scale)``: y = x (x > 0), scale·x otherwise."""
    func = "leakyReluLayer"
    scale, args = _leading_number(func, "scale", args, 0.01)
    opts = _parse_pairs(func, args, kwargs, ("Name",))
    return _engine_call(func, {"scale": "scale", "name": "Name"}, lambda: L.LeakyReLU(scale, name=_name(func, opts)))


def clippedReluLayer(ceiling, *args: Any, **kwargs: Any) -> L.ClippedReLU:
    """MATLAB ``clippedReluLayer(ceiling, 'Name', n)`` → ``ClippedReLU(ceiling)``: y = min(max(x, 0), ceiling)."""
    func = "clippedReluLayer"
    opts = _parse_pairs(func, args, kwargs, ("Name",))
    return _engine_call(func, {"ceiling": "ceiling", "name": "Name"},
                        lambda: L.ClippedReLU(_to_python(ceiling), name=_name(func, opts)))


def eluLayer(*args: Any, **kwargs: Any) -> L.ELU:
    """MATLAB ``eluLayer(alpha = 1, 'Name', n)`` → ``ELU(alpha)``: y = x (x > 0), α·(eˣ − 1) otherwise."""
    func = "eluLayer"
    alpha, args = _leading_number(func, "alpha", args, 1.0)
    opts = _parse_pairs(func, args, kwargs, ("Name",))
    return _engine_call(func, {"alpha": "alpha", "name": "Name"}, lambda: L.ELU(alpha, name=_name(func, opts)))


def tanhLayer(*args: Any, **kwargs: Any) -> L.Tanh:
    """MATLAB ``tanhLayer('Name', n)`` → ``Tanh()``."""
    opts = _parse_pairs("tanhLayer", args, kwargs, ("Name",))
    return L.Tanh(name=_name("tanhLayer", opts))


def sigmoidLayer(*args: Any, **kwargs: Any) -> L.Sigmoid:
    """MATLAB ``sigmoidLayer('Name', n)`` → ``Sigmoid()``: y = 1/(1 + e^(−x)).

    Later than the era of the other layers here (MATLAB added sigmoidLayer in R2020b, after trainingOptions'
    reference release); offered because the issue lists it.
    """
    opts = _parse_pairs("sigmoidLayer", args, kwargs, ("Name",))
    return L.Sigmoid(name=_name("sigmoidLayer", opts))


def globalAveragePooling2dLayer(*args: Any, **kwargs: Any) -> L.GlobalAveragePooling2D:
    """MATLAB ``globalAveragePooling2dLayer('Name', n)`` → ``GlobalAveragePooling2D()``: 1×1×C means."""
    opts = _parse_pairs("globalAveragePooling2dLayer", args, kwargs, ("Name",))
    return L.GlobalAveragePooling2D(name=_name("globalAveragePooling2dLayer", opts))


def globalMaxPooling2dLayer(*args: Any, **kwargs: Any) -> L.GlobalMaxPooling2D:
    """MATLAB ``globalMaxPooling2dLayer('Name', n)`` → ``GlobalMaxPooling2D()``: 1×1×C maxima."""
    opts = _parse_pairs("globalMaxPooling2dLayer", args, kwargs, ("Name",))
    return L.GlobalMaxPooling2D(name=_name("globalMaxPooling2dLayer", opts))


def crossChannelNormalizationLayer(windowChannelSize, *args: Any, **kwargs: Any) -> L.CrossChannelNormalization:
    """MATLAB ``crossChannelNormalizationLayer(windowChannelSize, 'Alpha', 1e-4, 'Beta', 0.75, 'K', 2, 'Name', n)``
    → ``CrossChannelNormalization``: x / (K + α·ss/windowChannelSize)^β, ss the sum of squares over the window."""
    func = "crossChannelNormalizationLayer"
    (size,) = _int_vector(func, "windowChannelSize", windowChannelSize, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Alpha", "Beta", "K", "Name"))
    return _engine_call(func, {"window_channel_size": "windowChannelSize", "alpha": "Alpha", "beta": "Beta",
                               "k": "K", "name": "Name"},
                        lambda: L.CrossChannelNormalization(
                            size, alpha=_to_python(opts.get("Alpha", 1e-4)), beta=_to_python(opts.get("Beta", 0.75)),
                            k=_to_python(opts.get("K", 2.0)), name=_name(func, opts)))


def _grouped_weights(w: np.ndarray, shape: tuple | None = None) -> np.ndarray:
    """MATLAB grouped convolution weights h×w×(C/G)×F_g×G (trailing singletons may be missing) → (G·F_g, C/G, KH, KW):
    filter f of group g becomes row g·F_g + f."""
    w = w.reshape(w.shape + (1,) * (5 - w.ndim))
    kh, kw, cg, fg, g = w.shape
    return w.transpose(4, 3, 2, 0, 1).reshape(g * fg, cg, kh, kw)


def _grouped_bias(b: np.ndarray, fg: int) -> np.ndarray:
    """MATLAB grouped bias 1×1×F_g×G → (G·F_g,) in group-major order (bias(1, 1, f, g) at g·F_g + f)."""
    if b.ndim <= 2:
        return b.reshape(-1)
    b = b.reshape(b.shape + (1,) * (4 - b.ndim))
    return b[0, 0].T.reshape(-1)


def groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, *args: Any,
                              **kwargs: Any) -> L.GroupedConvolution2D:
    """MATLAB ``groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups | 'channel-wise', 'Stride', s,
    'DilationFactor', d, 'Padding', p, ...)`` → ``GroupedConvolution2D``.

    'Weights' h×w×(C/G)×F_g×G → (G·F_g, C/G, KH, KW); 'Bias' 1×1×F_g×G → (G·F_g,); initializers (a function gets
    [h w C/G F_g G]) and the four factors as convolution2dLayer.
    """
    func = "groupedConvolution2dLayer"
    fs = _int_vector(func, "filterSize", filterSize, (1, 2), 1)
    (fg,) = _int_vector(func, "numFiltersPerGroup", numFiltersPerGroup, (1,), 1)
    if isinstance(numGroups, str):
        groups: Any = _choice(func, "numGroups", numGroups, ("channel-wise",))
    else:
        (groups,) = _int_vector(func, "numGroups", numGroups, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Padding", "DilationFactor", "PaddingValue") + _WB_NAMES)
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    dilation = _hw(_int_vector(func, "DilationFactor", opts.get("DilationFactor", 1), (1, 2), 1))
    padding = _padding(func, opts.get("Padding", 0))
    if _to_python(opts.get("PaddingValue", 0)) != 0:
        raise ValueError(f"{func}: 'PaddingValue': got {opts['PaddingValue']!r}; allowed: 0 (zero padding)")
    weights, bias = opts.pop("Weights", None), opts.pop("Bias", None)
    kw = _weight_bias(func, opts, _grouped_weights,
                      lambda s: (s[2], s[3], s[1], fg, s[0] // fg), lambda s: (1, 1, fg, s[0] // fg))
    if isinstance(kw.get("bias_initializer"), _MatlabInitializer):  # its 1×1×F_g×G array: group-major order
        kw["bias_initializer"].convert = lambda b, shape=None: _grouped_bias(b, fg)
    kh, kw_ = fs * 2 if len(fs) == 1 else fs
    if weights is not None and np.size(weights) > 0:
        kw["weights"] = _grouped_weights(_host_array(func, "Weights", weights, (2, 3, 4, 5)))
        f, cg, h, w = kw["weights"].shape
        if (h, w) != (kh, kw_) or f % fg or (groups != "channel-wise" and f != fg * groups):
            raise ValueError(f"{func}: 'Weights': got an array of size {h}x{w}x{cg}x{fg}x{f // fg}; allowed: "
                             f"{kh}x{kw_}x(C/G)x{fg}x{'G' if groups == 'channel-wise' else groups} (filterSize x "
                             f"channels per group x numFiltersPerGroup x numGroups)")
    if bias is not None and np.size(bias) > 0:
        kw["bias"] = _grouped_bias(_host_array(func, "Bias", bias, (0, 1, 2, 3, 4)), fg)
    return _engine_call(func, {"filter_size": "filterSize", "num_filters_per_group": "numFiltersPerGroup",
                               "num_groups": "numGroups", "stride": "Stride", "padding": "Padding",
                               "dilation": "DilationFactor"} | _WB_ENGINE_NAMES,
                        lambda: L.GroupedConvolution2D(_hw(fs), fg, groups, stride=stride, padding=padding,
                                                       dilation=dilation, name=_name(func, opts), **kw))


def _cropping(func: str, value: Any) -> str | int | tuple[int, ...]:
    """MATLAB 'Cropping': 'same', c, [a b] (top-bottom, left-right) or [t b l r] → minidl's cropping argument."""
    if isinstance(value, str) and value.lower() == "same":
        return "same"
    try:
        return _hw(_int_vector(func, "Cropping", value, (1, 2, 4), 0))
    except ValueError:
        raise ValueError(f"{func}: 'Cropping': got {value!r}; allowed: 'same', an integer c, [a b] or [t b l r] of "
                         "integers >= 0") from None


def transposedConv2dLayer(filterSize, numFilters, *args: Any, **kwargs: Any) -> L.TransposedConvolution2D:
    """MATLAB ``transposedConv2dLayer(filterSize, numFilters, 'Stride', s, 'Cropping', c, ...)`` →
    ``TransposedConvolution2D``: output stride·(in − 1) + filter − (top + bottom cropping); 'same': stride·in.

    'Weights' h×w×F×C → (C, F, KH, KW); 'Bias' 1×1×F → (F,); initializers (a function gets [h w F C]) and the four
    factors as convolution2dLayer.
    """
    func = "transposedConv2dLayer"
    fs = _int_vector(func, "filterSize", filterSize, (1, 2), 1)
    (nf,) = _int_vector(func, "numFilters", numFilters, (1,), 1)
    opts = _parse_pairs(func, args, kwargs, ("Stride", "Cropping") + _WB_NAMES)
    stride = _hw(_int_vector(func, "Stride", opts.get("Stride", 1), (1, 2), 1))
    cropping = _cropping(func, opts.get("Cropping", 0))
    kw = _weight_bias(func, opts, _conv_weights, lambda s: (s[2], s[3], s[1], s[0]), lambda s: (1, 1, s[0]))
    kh, kw_ = fs * 2 if len(fs) == 1 else fs
    if "weights" in kw and (kw["weights"].shape[2:] != (kh, kw_) or kw["weights"].shape[1] != nf):
        c, f, h, w = kw["weights"].shape
        raise ValueError(f"{func}: 'Weights': got an array of size {h}x{w}x{f}x{c}; allowed: {kh}x{kw_}x{nf}xC "
                         "(filterSize x numFilters x channels)")
    if "bias" in kw and kw["bias"].shape != (nf,):
        raise ValueError(f"{func}: 'Bias': got {kw['bias'].size} values; allowed: 1x1x{nf} (one per filter)")
    return _engine_call(func, {"filter_size": "filterSize", "num_filters": "numFilters", "stride": "Stride",
                               "cropping": "Cropping"} | _WB_ENGINE_NAMES,
                        lambda: L.TransposedConvolution2D(_hw(fs), nf, stride=stride, cropping=cropping,
                                                          name=_name(func, opts), **kw))


def maxUnpooling2dLayer(*args: Any, **kwargs: Any) -> L.MaxUnpooling2D:
    """MATLAB ``maxUnpooling2dLayer('Name', n)`` → ``MaxUnpooling2D()``: inputs 'in', 'indices', 'size' from a
    maxPooling2dLayer with 'HasUnpoolingOutputs' true."""
    opts = _parse_pairs("maxUnpooling2dLayer", args, kwargs, ("Name",))
    return L.MaxUnpooling2D(name=_name("maxUnpooling2dLayer", opts))


def flattenLayer(*args: Any, **kwargs: Any) -> L.Flatten:
    """MATLAB ``flattenLayer('Name', n)`` → ``Flatten(order='matlab')``: an H×W×C image becomes a vector in MATLAB's
    column-major order (element (h, w, c) at h + H·w + H·W·c), so weights after it keep MATLAB's layout."""
    opts = _parse_pairs("flattenLayer", args, kwargs, ("Name",))
    return L.Flatten(order="matlab", name=_name("flattenLayer", opts))
