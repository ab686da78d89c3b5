"""Wolfram's layer spellings, mapped to minidl's layers (docs/wolfram-layers.md).

=============================================  ===============================================================
Wolfram                                        minidl
=============================================  ===============================================================
``LinearLayer[n]``                             ``LinearLayer(n)`` → :class:`~minidl.layers.FullyConnected`
``ElementwiseLayer[Ramp]``, ``[Tanh]``, ...    ``ElementwiseLayer("Ramp")`` → :class:`~minidl.layers.Elementwise`
``SoftmaxLayer[]``                             ``SoftmaxLayer()`` → :class:`~minidl.layers.Softmax`
``DropoutLayer[p]``                            ``DropoutLayer(p)`` → :class:`~minidl.layers.Dropout`
``FlattenLayer[]``, ``FlattenLayer[n]``        ``FlattenLayer()``, ``FlattenLayer(n)`` → :class:`~minidl.layers.Flatten`
``ReshapeLayer[{d1, d2, Automatic}]``          ``ReshapeLayer((d1, d2, "Automatic"))`` → :class:`~minidl.layers.Reshape`
``CrossEntropyLossLayer["Index"]``             ``CrossEntropyLossLayer("Index")`` → ClassificationOutput
``CrossEntropyLossLayer["Probabilities"]``     → :class:`~minidl.layers.ProbabilitiesCrossEntropyLoss`
``CrossEntropyLossLayer["Binary"]``            → :class:`~minidl.layers.BinaryCrossEntropyLoss`
``MeanSquaredLossLayer[]``                     ``MeanSquaredLossLayer()`` → :class:`~minidl.layers.MeanSquaredLoss`
``MeanAbsoluteLossLayer[]``                    ``MeanAbsoluteLossLayer()`` → :class:`~minidl.layers.MeanAbsoluteLoss`
``NetDecoder[{"Class", labels}]``              ``NetDecoder("Class", labels)`` → :class:`~minidl.layers.ClassDecoder`
``NetDecoder["Boolean"]``                      ``NetDecoder("Boolean")`` → :class:`~minidl.layers.BooleanDecoder`
``NetChain[{...}, "Output" -> dec]``           ``NetChain([...], output=dec)`` → a Network with ``decoder``
``NetChain[{...}, "Input" -> {"Varying", C}]`` ``NetChain([...], input=("Varying", C))``: a SequenceInput first
``LongShortTermMemoryLayer[n]``                ``LongShortTermMemoryLayer(n)`` → :class:`~minidl.layers.LSTM`
``GatedRecurrentLayer[n]``                     ``GatedRecurrentLayer(n)`` → :class:`~minidl.layers.GRU`
``BasicRecurrentLayer[n]``                     ``BasicRecurrentLayer(n)`` → :class:`~minidl.layers.BasicRecurrent`
``SequenceLastLayer[]``                        ``SequenceLastLayer()`` → :class:`~minidl.layers.SequenceLast`
``CatenateLayer[]``, ``CatenateLayer[n]``      ``CatenateLayer(n, inputs)`` → :class:`~minidl.layers.Concatenation`
``TotalLayer[]``                               ``TotalLayer(inputs)`` → :class:`~minidl.layers.Addition`
``ThreadingLayer[Plus]``, ``[Times]``, ...     ``ThreadingLayer("Times", inputs)`` → :class:`~minidl.layers.Threading`
``PoolingLayer[{h, w}, s]``                    ``PoolingLayer((h, w), s, Function="Mean")`` → Max/AveragePooling2D
``PoolingLayer`` over the whole image          ``PoolingLayer("All", Function="Max")`` → GlobalMax/AveragePooling2D
``DeconvolutionLayer[n, {h, w}]``              ``DeconvolutionLayer(n, (h, w), s, PaddingSize=p)`` → TransposedConv.
=============================================  ===============================================================

The recurrent layers compute each varying-length sequence exactly (``mask_recurrence=True``: a padded step keeps
the state), as Wolfram does.

>>> import numpy as np
>>> net = NetChain([LinearLayer(1), ElementwiseLayer("LogisticSigmoid")], output=NetDecoder("Boolean"))
>>> _ = net.initialize((2,), rng=np.random.default_rng(0), dtype="float64")
>>> net(np.zeros((3, 2))).tolist()          # σ(0) = 0.5: a tie goes to False
[False, False, False]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.functional import ELEMENTWISE_FUNCTIONS
from minidl.layers.recurrent import orthogonal
from minidl.network import Network

__all__ = ["LinearLayer", "ElementwiseLayer", "SoftmaxLayer", "DropoutLayer", "FlattenLayer", "ReshapeLayer",
           "CrossEntropyLossLayer", "MeanSquaredLossLayer", "MeanAbsoluteLossLayer", "NetDecoder", "NetChain",
           "LongShortTermMemoryLayer", "GatedRecurrentLayer", "BasicRecurrentLayer", "SequenceLastLayer",
           "ELEMENTWISE_ALIASES", "ELEMENTWISE_NOT_YET", "CatenateLayer", "TotalLayer", "ThreadingLayer",
           "PoolingLayer", "DeconvolutionLayer", "THREADING_FUNCTIONS"]

#: Wolfram's other names for the functions built (ElementwiseLayer["ReLU"], ElementwiseLayer["Sigmoid"], ...).
ELEMENTWISE_ALIASES = {"ReLU": "Ramp", "RectifiedLinearUnit": "Ramp", "Sigmoid": "LogisticSigmoid",
                       "ExponentialLinearUnit": "ELU", "ScaledExponentialLinearUnit": "SELU", "SiLU": "Swish"}
#: Names of Wolfram's ElementwiseLayer functions not built yet (NotSupportedYetError names them).
ELEMENTWISE_NOT_YET = ("GELU", "Mish", "HardSigmoid", "Erf", "Gamma", "LogGamma", "ArcSin", "ArcCos", "ArcTanh",
                       "Round", "Floor", "Ceiling", "Sign")


def _function_name(f) -> str:
    """The name of an elementwise function: a string, or a Python function named like one (np.tanh → "Tanh")."""
    if isinstance(f, str):
        return ELEMENTWISE_ALIASES.get(f, f)
    name = getattr(f, "__name__", None)
    by_lower = {k.lower(): k for k in ELEMENTWISE_FUNCTIONS}
    if name is not None and name.lower() in by_lower:
        return by_lower[name.lower()]
    raise NotSupportedYetError(f"f: got {f!r}; pure functions are not supported yet (built: "
                               f"{', '.join(ELEMENTWISE_FUNCTIONS)}, also {', '.join(ELEMENTWISE_ALIASES)})")


def ElementwiseLayer(f: str | Callable, name: str | None = None) -> L.Elementwise:
    """Wolfram ElementwiseLayer[f]: f one of :data:`minidl.functional.ELEMENTWISE_FUNCTIONS` ("Ramp", "Tanh",
    "LogisticSigmoid", ...), an alias ("ReLU", "Sigmoid", ...) or numpy's function of that name (np.tanh)."""
    key = _function_name(f)
    if key in ELEMENTWISE_NOT_YET:
        raise NotSupportedYetError(f"f: got {f!r}; not supported yet (built: {', '.join(ELEMENTWISE_FUNCTIONS)})")
    if key not in ELEMENTWISE_FUNCTIONS:
        raise ValueError(f"f: got {f!r}; allowed: {', '.join(ELEMENTWISE_FUNCTIONS)} (or "
                         f"{', '.join(ELEMENTWISE_ALIASES)})")
    return L.Elementwise(key, name=name)


def LinearLayer(n: int, name: str | None = None) -> L.FullyConnected:
    """Wolfram LinearLayer[n]: y = W·x + b with n outputs (any input rank is flattened)."""
    return L.FullyConnected(n, name=name)


def SoftmaxLayer(name: str | None = None) -> L.Softmax:
    """Wolfram SoftmaxLayer[] over a vector input."""
    return L.Softmax(name=name)


def DropoutLayer(p: float = 0.5, name: str | None = None) -> L.Dropout:
    """Wolfram DropoutLayer[p] (default 0.5), inverted dropout in training only."""
    return L.Dropout(p, name=name)


def FlattenLayer(n: int | None = None, name: str | None = None) -> L.Flatten:
    """Wolfram FlattenLayer[] (every level) or FlattenLayer[n] (the first n + 1 levels merged)."""
    return L.Flatten(n, name=name)


def ReshapeLayer(dims, name: str | None = None) -> L.Reshape:
    """Wolfram ReshapeLayer[dims]; one entry may be "Automatic" (or -1)."""
    return L.Reshape(dims, name=name)


def _index_cross_entropy(name: str | None = None) -> L.ClassificationOutput:
    """CrossEntropyLossLayer["Index"]: on a varying sequence, the mean over its real steps (semantics-wolfram §7)."""
    return L.ClassificationOutput(name=name, sequence_reduction="mean")


#: CrossEntropyLossLayer forms → the output layer's maker.
CROSS_ENTROPY_FORMS = {"Index": _index_cross_entropy, "Probabilities": L.ProbabilitiesCrossEntropyLoss,
                       "Binary": L.BinaryCrossEntropyLoss}


def CrossEntropyLossLayer(form: str = "Index", name: str | None = None):
    """Wolfram CrossEntropyLossLayer[form]: "Index" (class labels; the default here, as NetTrain attaches for a
    Class decoder), "Probabilities" (probability-vector targets) or "Binary" (a probability of True per element)."""
    if form not in CROSS_ENTROPY_FORMS:
        raise ValueError(f"form: got {form!r}; allowed: {', '.join(map(repr, CROSS_ENTROPY_FORMS))}")
    return CROSS_ENTROPY_FORMS[form](name=name)


def MeanSquaredLossLayer(name: str | None = None) -> L.MeanSquaredLoss:
    """Wolfram MeanSquaredLossLayer[]: the mean of (y − t)² over every element."""
    return L.MeanSquaredLoss(name=name)


def MeanAbsoluteLossLayer(name: str | None = None) -> L.MeanAbsoluteLoss:
    """Wolfram MeanAbsoluteLossLayer[]: the mean of |y − t| over every element."""
    return L.MeanAbsoluteLoss(name=name)


def NetDecoder(kind: str, classes=None):
    """Wolfram NetDecoder[{"Class", labels}] → ``NetDecoder("Class", labels)``; NetDecoder["Boolean"] →
    ``NetDecoder("Boolean")``."""
    if kind == "Class":
        if classes is None or len(classes) < 1:
            raise ValueError(f"classes: got {classes!r}; allowed: the list of class labels (NetDecoder('Class', "
                             "labels))")
        return L.ClassDecoder(classes)
    if kind == "Boolean":
        if classes is not None:
            raise ValueError(f"classes: got {classes!r}; allowed: None (a Boolean decoder has the classes False, True)")
        return L.BooleanDecoder()
    raise ValueError(f"kind: got {kind!r}; allowed: 'Class', 'Boolean'")


def NetChain(layers, output=None, input=None) -> Network:
    """Wolfram NetChain[{layers...}, "Output" -> decoder, "Input" -> {"Varying", C}]: a Network whose ``net(x)``
    decodes with ``output``.

    A Class decoder's labels become the net's ``classes`` (the class index k is ``labels[k]``, as given).
    ``input=("Varying", C)`` (a sequence of C-vectors of any length) puts a :class:`~minidl.layers.SequenceInput`
    of C channels first.
    """
    layers = list(layers)
    if input is not None:
        layers = [_sequence_input(input)] + layers
    net = Network(layers)
    if output is not None:
        if not isinstance(output, L.ClassDecoder):
            raise TypeError(f"output: got {type(output).__name__}; allowed: NetDecoder('Class', labels) or "
                            "NetDecoder('Boolean')")
        net.decoder = output
        if not isinstance(output, L.BooleanDecoder):
            net.classes = output.classes
    return net


def _sequence_input(spec) -> L.Layer:
    """"Input" -> {"Varying", C} → SequenceInput(C); other input specifications are not built yet."""
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == "Varying":
        c = spec[1]
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"input: got {spec!r}; allowed: ('Varying', C) with C a positive integer")
        return L.SequenceInput(c)
    raise NotSupportedYetError(f"input: got {spec!r}; not supported yet (allowed: ('Varying', C), a sequence of "
                               "C-vectors)")


# ------------------------------------------------------------------------------------------------ recurrent layers
#: Wolfram's gate names → the block of minidl's LSTM (MATLAB's order input, forget, cell candidate, output).
LSTM_GATES = {"InputGate": 0, "ForgetGate": 1, "MemoryGate": 2, "OutputGate": 3}
#: Wolfram's gate names → the block of minidl's GRU (reset, update, candidate).
GRU_GATES = {"ResetGate": 0, "UpdateGate": 1, "MemoryGate": 2}
#: Wolfram array suffixes → minidl's parameter (each gate's block of rows).
_PARTS = {"InputWeights": "input_weights", "StateWeights": "recurrent_weights", "Biases": "bias"}
_NOT_YET = ("Dropout", "Input", "Output", "State", "CellState")


class _GateArrays:
    """Given Wolfram arrays ("InputGateInputWeights" -> (n, C), ...) assembled into one minidl parameter when the
    layer is built; the blocks not given are drawn by the layer's default initializer."""

    def __init__(self, layer_arg: str, blocks: dict[int, object], gates: int, default):
        self.layer_arg, self.blocks, self.gates, self.default = layer_arg, blocks, gates, default

    def __call__(self, shape, rng):
        H = shape[0] // self.gates
        rows = []
        for k in range(self.gates):
            block_shape = (H,) + tuple(shape[1:])
            given = self.blocks.get(k)
            if given is not None:
                a = np.asarray(given, dtype=np.float64)
                if a.shape != block_shape:
                    raise ValueError(f"{self.layer_arg}: block {k}: got an array of shape {a.shape}; expected "
                                     f"{block_shape}")
                rows.append(a)
            elif self.default == "orthogonal":
                rows.append(orthogonal(block_shape, rng))
            elif self.default == "glorot":
                bound = np.sqrt(6.0 / (shape[1] + shape[0]))
                rows.append(rng.uniform(-bound, bound, size=block_shape))
            else:
                rows.append(np.zeros(block_shape))
        return np.concatenate(rows)


def _wolfram_arrays(func: str, options: dict, gate_names: dict[str, int]) -> dict:
    """Wolfram's per-gate array options → minidl initializer arguments; unknown options raise."""
    out: dict = {}
    blocks: dict[str, dict[int, object]] = {}
    for key, value in options.items():
        if key in _NOT_YET:
            raise NotSupportedYetError(f"{func}: option {key!r} is not supported yet")
        for gate, k in gate_names.items():
            part = key[len(gate):] if key.startswith(gate) else None
            if part in _PARTS:
                blocks.setdefault(_PARTS[part], {})[k] = value
                break
        else:
            allowed = [g + p for g in gate_names for p in _PARTS]
            raise ValueError(f"{func}: unknown option {key!r}; allowed: {', '.join(allowed)}")
    defaults = {"input_weights": "glorot", "recurrent_weights": "orthogonal", "bias": "zeros"}
    for param, given in blocks.items():
        out[f"{param}_initializer"] = _GateArrays(param, given, len(gate_names), defaults[param])
    return out


def LongShortTermMemoryLayer(n: int, name: str | None = None, **options) -> L.LSTM:
    """Wolfram LongShortTermMemoryLayer[n]: a sequence of vectors → a sequence of n-vectors (Wolfram's equations:
    i, f, o = σ(W_·x x_t + W_·s s_{t−1} + b_·), m = Tanh(W_mx x_t + W_ms s_{t−1} + b_m), c = f c + i m,
    s = o Tanh(c): minidl's LSTM with the memory gate m as the cell candidate).

    Arrays by Wolfram's names, e.g. ``InputGateInputWeights=(n, C)``, ``ForgetGateStateWeights=(n, n)``,
    ``OutputGateBiases=(n,)`` (gates InputGate, ForgetGate, MemoryGate, OutputGate).  Biases start at zero;
    padded steps keep the state (each sequence computed exactly).
    """
    kw = {"bias_initializer": "zeros", **_wolfram_arrays("LongShortTermMemoryLayer", options, LSTM_GATES)}
    return L.LSTM(n, mask_recurrence=True, name=name, **kw)


def GatedRecurrentLayer(n: int, name: str | None = None, **options) -> L.GRU:
    """Wolfram GatedRecurrentLayer[n]: r, z = σ(W_·x x_t + W_·s s_{t−1} + b_·), m = Tanh(W_mx x_t + r ⊙ (W_ms s_{t−1})
    + b_m), s_t = (1 − z) ⊙ m + z ⊙ s_{t−1}: minidl's GRU with reset_gate_mode "after-multiplication" (MATLAB's
    default; the same equations).  Arrays ``ResetGateInputWeights``, ..., ``MemoryGateBiases``."""
    kw = _wolfram_arrays("GatedRecurrentLayer", options, GRU_GATES)
    return L.GRU(n, reset_gate_mode="after-multiplication", mask_recurrence=True, name=name, **kw)


def BasicRecurrentLayer(n: int, activation="Tanh", name: str | None = None, **options) -> L.BasicRecurrent:
    """Wolfram BasicRecurrentLayer[n]: s_t = f(W x_t + R s_{t−1} + b), f Tanh by default (any ElementwiseLayer
    function name).  Arrays ``InputWeights=(n, C)``, ``StateWeights=(n, n)``, ``Biases=(n,)``."""
    key = _function_name(activation)
    if key not in ELEMENTWISE_FUNCTIONS:
        raise NotSupportedYetError(f"activation: got {activation!r}; not supported yet (built: "
                                   f"{', '.join(ELEMENTWISE_FUNCTIONS)})")
    given = {}
    for k, v in options.items():
        if k in _NOT_YET:
            raise NotSupportedYetError(f"BasicRecurrentLayer: option {k!r} is not supported yet")
        if k not in _PARTS:
            raise ValueError(f"BasicRecurrentLayer: unknown option {k!r}; allowed: {', '.join(_PARTS)}")
        given[_PARTS[k]] = v
    return L.BasicRecurrent(n, activation=key, mask_recurrence=True, name=name, **given)


def SequenceLastLayer(name: str | None = None) -> L.SequenceLast:
    """Wolfram SequenceLastLayer[]: the last element of each (varying-length) sequence, (N, C, T) → (N, C)."""
    return L.SequenceLast(name=name)


# ------------------------------------------------------------------------------------------------ graph-era layers
def _num_inputs(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"inputs: got {n!r}; allowed: an integer >= 2 (the number of arrays in the input list)")
    return n


def CatenateLayer(level: int = 1, inputs: int = 2, name: str | None = None) -> L.Concatenation:
    """Wolfram CatenateLayer[] / CatenateLayer[n]: the list of input arrays joined at level n (default 1: the first
    axis of each array, the channels of C×H×W) → ``Concatenation(dim=level)`` (minidl's dim counts the axes after N,
    as Wolfram's levels do).  ``inputs``: the length of the input list (a NetGraph sets it from its connections)."""
    if isinstance(level, bool) or not isinstance(level, int) or level == 0:
        raise ValueError(f"level: got {level!r}; allowed: a positive integer")
    if level < 0:
        raise NotSupportedYetError(f"level: got {level!r}; not supported yet (negative levels count from the end in "
                                   "Wolfram; built: a positive level)")
    return L.Concatenation(level, _num_inputs(inputs), name=name)


def TotalLayer(inputs: int = 2, name: str | None = None) -> L.Addition:
    """Wolfram TotalLayer[]: the sum of a list of input arrays of one shape → ``Addition(inputs)``."""
    return L.Addition(_num_inputs(inputs), name=name)


#: ThreadingLayer functions: Wolfram's symbol names, and the Python functions that spell them.
THREADING_FUNCTIONS = {"Plus": "Plus", "Times": "Times", "Subtract": "Subtract", "Divide": "Divide",
                       "add": "Plus", "mul": "Times", "multiply": "Times", "sub": "Subtract", "subtract": "Subtract",
                       "truediv": "Divide", "divide": "Divide", "true_divide": "Divide"}


def ThreadingLayer(f, inputs: int = 2, name: str | None = None) -> L.Threading:
    """Wolfram ThreadingLayer[f]: f applied element by element across the input arrays (one shape) →
    ``Threading(f)``.  f: "Plus", "Times", "Subtract", "Divide", or operator.add / np.multiply / ... of those;
    other functions (pure functions) are not built yet."""
    key = f if isinstance(f, str) else getattr(f, "__name__", None)
    if key not in THREADING_FUNCTIONS:
        raise NotSupportedYetError(f"f: got {f!r}; not supported yet (built: Plus, Times, Subtract, Divide)")
    return L.Threading(THREADING_FUNCTIONS[key], _num_inputs(inputs), name=name)


def _pool_function(f) -> str:
    key = f if isinstance(f, str) else getattr(f, "__name__", None)
    table = {"Max": "Max", "max": "Max", "amax": "Max", "Mean": "Mean", "mean": "Mean"}
    if key not in table:
        raise NotSupportedYetError(f"Function: got {f!r}; not supported yet (built: Max, Mean)")
    return table[key]


def PoolingLayer(kernel, stride=1, name: str | None = None, **options) -> L.Layer:
    """Wolfram PoolingLayer[{h, w}, stride, "Function" -> Max | Mean, "PaddingSize" -> p] on C×H×W images →
    ``MaxPooling2D`` / ``AveragePooling2D``; ``kernel="All"`` (the window covering the whole image, Wolfram's
    global form) → ``GlobalMaxPooling2D`` / ``GlobalAveragePooling2D`` (output C×1×1).

    Options: ``Function`` (default Max, as Wolfram), ``PaddingSize`` (Max only: padded elements never win; a padded
    Mean's count is not stated on Wolfram's page, so it is not built).
    """
    unknown = sorted(set(options) - {"Function", "PaddingSize"})
    if unknown:
        raise ValueError(f"PoolingLayer: unknown option {unknown[0]!r}; allowed: Function, PaddingSize")
    function = _pool_function(options.get("Function", "Max"))
    padding = options.get("PaddingSize", 0)
    if kernel == "All":
        if padding != 0 or stride != 1:
            raise ValueError(f"PoolingLayer: the global form (kernel 'All') takes no stride or PaddingSize; got "
                             f"stride {stride!r}, PaddingSize {padding!r}")
        return (L.GlobalMaxPooling2D if function == "Max" else L.GlobalAveragePooling2D)(name=name)
    if function == "Mean" and padding != 0:
        raise NotSupportedYetError(f"PaddingSize: got {padding!r} with Function Mean; not supported yet (whether "
                                   "Wolfram's Mean counts the padding is not stated; built: PaddingSize 0)")
    cls = L.MaxPooling2D if function == "Max" else L.AveragePooling2D
    return cls(kernel, stride=stride, padding=padding, name=name)


def DeconvolutionLayer(n: int, kernel, stride=1, name: str | None = None, **options) -> L.TransposedConvolution2D:
    """Wolfram DeconvolutionLayer[n, {h, w}, "Stride" -> s, "PaddingSize" -> p]: n output channels, output size
    s·(in − 1) + k − 2p → ``TransposedConvolution2D(kernel, n, stride, cropping=p)`` (Wolfram's PaddingSize of a
    deconvolution removes rows and columns: minidl's cropping).  Given "Weights"/"Biases" arrays and other options
    are not built yet."""
    for key in options:
        if key != "PaddingSize":
            raise NotSupportedYetError(f"DeconvolutionLayer: option {key!r} is not supported yet (built: "
                                       "PaddingSize)")
    return L.TransposedConvolution2D(kernel, n, stride=stride, cropping=options.get("PaddingSize", 0), name=name)
