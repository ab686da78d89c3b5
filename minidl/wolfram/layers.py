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
=============================================  ===============================================================

>>> import numpy as np
>>> net = NetChain([LinearLayer(1), ElementwiseLayer("LogisticSigmoid")], output=NetDecoder("Boolean"))
>>> _ = net.initialize((2,), rng=np.random.default_rng(0), dtype="float64")
>>> net(np.zeros((3, 2))).tolist()          # σ(0) = 0.5: a tie goes to False
[False, False, False]
"""

from __future__ import annotations

from collections.abc import Callable

from minidl import layers as L
from minidl.errors import NotSupportedYetError
from minidl.functional import ELEMENTWISE_FUNCTIONS
from minidl.network import Network

__all__ = ["LinearLayer", "ElementwiseLayer", "SoftmaxLayer", "DropoutLayer", "FlattenLayer", "ReshapeLayer",
           "CrossEntropyLossLayer", "MeanSquaredLossLayer", "MeanAbsoluteLossLayer", "NetDecoder", "NetChain",
           "ELEMENTWISE_ALIASES", "ELEMENTWISE_NOT_YET"]

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


#: CrossEntropyLossLayer forms → the output layer class.
CROSS_ENTROPY_FORMS = {"Index": L.ClassificationOutput, "Probabilities": L.ProbabilitiesCrossEntropyLoss,
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


def NetChain(layers, output=None) -> Network:
    """Wolfram NetChain[{layers...}, "Output" -> decoder]: a Network whose ``net(x)`` decodes with ``output``.

    A Class decoder's labels become the net's ``classes`` (the class index k is ``labels[k]``, as given).
    """
    net = Network(list(layers))
    if output is not None:
        if not isinstance(output, L.ClassDecoder):
            raise TypeError(f"output: got {type(output).__name__}; allowed: NetDecoder('Class', labels) or "
                            "NetDecoder('Boolean')")
        net.decoder = output
        if not isinstance(output, L.BooleanDecoder):
            net.classes = output.classes
    return net
