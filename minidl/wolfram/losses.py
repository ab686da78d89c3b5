"""Wolfram's LossFunction rule (docs/semantics-wolfram.md): which output layer NetTrain attaches to a net.

The layers themselves live with the other output layers in :mod:`minidl.layers.output` (cross-entropy:
:class:`~minidl.layers.ClassificationOutput`; Wolfram's mean squared loss, the mean over elements:
:class:`~minidl.layers.MeanSquaredLoss`), their math in :mod:`minidl.functional.losses`.

>>> from minidl import layers as L
>>> type(choose_loss([L.FeatureInput(2), L.FullyConnected(1)], "Automatic")).__name__
'MeanSquaredLoss'
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

from minidl.backend import get_array_module
from minidl.errors import NotSupportedYetError
from minidl.layers.base import Layer, OutputLayer
from minidl.layers.core import Softmax
from minidl.layers.output import (
    BinaryCrossEntropyLoss,
    BooleanDecoder,
    ClassificationOutput,
    MeanAbsoluteLoss,
    MeanSquaredLoss,
    ProbabilitiesCrossEntropyLoss,
)
from minidl.network import Network

__all__ = ["choose_loss", "LOSS_NAMES", "PortLoss", "PortLosses", "graph_losses"]


# ------------------------------------------------------------------------------------------------ LossFunction
#: LossFunction names (case-insensitive, with or without the "Layer" suffix) -> the layer they attach.
LOSS_NAMES = {"crossentropy": ClassificationOutput, "crossentropyloss": ClassificationOutput,
              "meansquared": MeanSquaredLoss, "meansquaredloss": MeanSquaredLoss,
              "meanabsolute": MeanAbsoluteLoss, "meanabsoluteloss": MeanAbsoluteLoss,
              "binarycrossentropy": BinaryCrossEntropyLoss, "binarycrossentropyloss": BinaryCrossEntropyLoss,
              "probabilitiescrossentropy": ProbabilitiesCrossEntropyLoss,
              "probabilitiescrossentropyloss": ProbabilitiesCrossEntropyLoss}
_NOT_YET = ("contrastiveloss", "contrastive", "ctcloss", "ctc")


def choose_loss(layers: list[Layer] | Network, spec, arg: str = "LossFunction") -> OutputLayer | None:
    """The output layer to attach to ``layers`` for the LossFunction ``spec``; None when the net has its own.

    Wolfram: Automatic → binary cross-entropy for a net with a Boolean decoder (``NetDecoder("Boolean")``),
    cross-entropy on the class index after a final Softmax, else mean squared loss.  Probability-vector targets
    need ``CrossEntropyLossLayer("Probabilities")`` (the loss is chosen before the data is read).  A net that
    already ends in an output layer is a loss net: its loss is used and ``spec`` must be Automatic.
    """
    decoder = layers.decoder if isinstance(layers, Network) else None
    layers = layers.layers if isinstance(layers, Network) else layers
    last = layers[-1]
    automatic = spec is None or (isinstance(spec, str) and spec.lower() == "automatic")
    if isinstance(last, OutputLayer):
        if not automatic:
            raise ValueError(f"{arg}: got {spec!r}, but the network already ends in the loss layer "
                             f"{type(last).__name__}; allowed: 'Automatic' (or remove that layer)")
        return None
    if automatic:
        if isinstance(decoder, BooleanDecoder):
            return BinaryCrossEntropyLoss(name="loss")
        return ClassificationOutput(name="loss", sequence_reduction="mean") if isinstance(last, Softmax) else \
            MeanSquaredLoss(name="loss")
    if isinstance(spec, type) and issubclass(spec, OutputLayer):
        spec = spec()
    if isinstance(spec, OutputLayer):
        layer = copy.deepcopy(spec)  # the caller's layer object stays untouched
        layer.name = "loss"
        cls = type(layer)
    elif isinstance(spec, str):
        key = spec.lower().removesuffix("layer")
        if key in _NOT_YET:
            raise NotSupportedYetError(f"{arg}: got {spec!r}; not supported yet (built: 'CrossEntropyLoss', "
                                       "'MeanSquaredLoss', 'MeanAbsoluteLoss', 'BinaryCrossEntropyLoss', "
                                       "'ProbabilitiesCrossEntropyLoss')")
        if key not in LOSS_NAMES:
            raise ValueError(f"{arg}: got {spec!r}; allowed: 'Automatic', 'CrossEntropyLoss', 'MeanSquaredLoss', "
                             "'MeanAbsoluteLoss', 'BinaryCrossEntropyLoss', 'ProbabilitiesCrossEntropyLoss' or an "
                             "output layer (CrossEntropyLossLayer(form), MeanSquaredLossLayer(), ...)")
        cls = LOSS_NAMES[key]
        layer = cls(name="loss", sequence_reduction="mean") if cls is ClassificationOutput else cls(name="loss")
    else:
        raise TypeError(f"{arg}: got {type(spec).__name__}; allowed: 'Automatic', 'CrossEntropyLoss', "
                        "'MeanSquaredLoss' or an output layer")
    if cls in (ClassificationOutput, ProbabilitiesCrossEntropyLoss) and not isinstance(last, Softmax):
        raise ValueError(f"{arg}: cross-entropy needs class probabilities, but the network ends in "
                         f"{type(last).__name__}; allowed: a network ending in Softmax")
    return layer


# ------------------------------------------------------------------------------------------------ graphs: ports
class PortLoss(OutputLayer):
    """A graph output port that IS the loss (LossFunction -> "Loss"): its values y (N,) or (N, ...) are each
    example's loss, summed over the non-N axes; loss = Σₙ ℓₙ / N.  The targets are not used."""

    kind = "portloss"

    def loss_array(self, y, t=None, mask=None):
        return self.example_losses(y).sum() / y.dtype.type(y.shape[0])

    def loss_gradient(self, y, t=None, mask=None):
        xp = get_array_module(y)
        return xp.full_like(y, 1 / y.shape[0])

    def example_losses(self, y, t=None, mask=None):
        return y.reshape(y.shape[0], -1).sum(axis=1)

    def describe(self) -> str:
        return f"{self.name or self.kind}: the port's values are the loss (mean over the batch)"


@dataclass
class PortLosses:
    """How NetTrain trains a graph: the losses (loss layer name → the layer giving its input, its data port or
    None, its weight) and the layers to attach."""

    attach: list[tuple[OutputLayer, str]] = field(default_factory=list)   # (new loss layer, the layer it takes)
    weights: dict[str, float] = field(default_factory=dict)               # loss layer -> weight
    targets: dict[str, str | None] = field(default_factory=dict)          # loss layer -> data port (None: none)


def _automatic_port_loss(source: Layer, name: str) -> OutputLayer:
    """Automatic on one output port: cross-entropy after a Softmax, else the mean squared loss."""
    return ClassificationOutput(name=name, sequence_reduction="mean") if isinstance(source, Softmax) else \
        MeanSquaredLoss(name=name)


def graph_losses(net: Network, spec, arg: str = "LossFunction") -> PortLosses:
    """The LossFunction rule for a graph with output ports (docs/semantics-wolfram.md#18-graphs-ports-and-update-
    schedules):

    - Automatic: every output port is a loss: a port given by a loss layer is that loss; any other gets the
      automatic loss (cross-entropy after a Softmax, else mean squared) whose Target is the data port of the same
      name as the output port;
    - a port name ("Loss"): that port IS the loss (a loss layer's value, or a layer's values taken as each
      example's loss: :class:`PortLoss`); the other ports are not trained;
    - a list of ports: the sum of their losses;
    - a dict {port: loss} (or a list of (port, loss) pairs): loss a loss layer or name attached to the port
      (Target from the data port of the port's name), or ``Scaled(r)``: the port's Automatic loss times r.
    """
    from minidl.wolfram.data import Scaled
    from minidl.wolfram.graph import _with_ports

    ports = _with_ports(net).ports
    names = {layer.name for layer in net.layers}

    def source(port: str) -> Layer:
        if port not in ports.outputs:
            raise ValueError(f"{arg}: got port {port!r}; the net's output ports are "
                             f"{', '.join(map(repr, ports.outputs)) or 'none'}")
        return net[ports.outputs[port]]

    def fresh(port: str) -> str:
        name = port if port not in names else f"{port}Loss"
        names.add(name)
        return name

    out = PortLosses()

    def automatic(port: str, weight: float, as_loss: bool) -> None:
        layer = source(port)
        given = str(layer.name)                           # a layer of the net: the Network named it
        if isinstance(layer, OutputLayer):
            out.weights[given] = weight
            out.targets[given] = ports.targets.get(given, "Target")
            return
        name = fresh(port)
        loss: OutputLayer = PortLoss(name=name) if as_loss else _automatic_port_loss(layer, name)
        out.attach.append((loss, given))
        out.weights[name], out.targets[name] = weight, (None if as_loss else port)

    if spec is None or (isinstance(spec, str) and spec.lower() == "automatic"):
        for port in ports.outputs:
            automatic(port, 1.0, False)
        return out
    if isinstance(spec, str):
        automatic(spec, 1.0, True)
        return out
    if isinstance(spec, list) and all(isinstance(p, str) for p in spec):
        for port in spec:
            automatic(port, 1.0, True)
        return out
    rules = list(spec.items()) if isinstance(spec, Mapping) else spec
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, tuple) and len(r) == 2 for r in rules):
        raise TypeError(f"{arg}: got {spec!r}; allowed: 'Automatic', an output port name, a list of them, or a "
                        "dict {port: loss layer | loss name | Scaled(r)}")
    for port, loss in rules:
        if loss is None or (isinstance(loss, str) and loss.lower() == "automatic"):
            automatic(port, 1.0, False)                   # the port's Automatic loss (a loss layer's port: itself)
            continue
        if isinstance(loss, Scaled) or (isinstance(loss, numbers.Real) and not isinstance(loss, bool)):
            weight = loss.frac if isinstance(loss, Scaled) else float(loss)
            automatic(port, weight, False)
            continue
        layer = source(port)
        attached = choose_loss([layer], loss, f"{arg}[{port!r}]")   # a loss layer's port: a ValueError naming it
        assert attached is not None                       # None only for "Automatic", handled above
        name = attached.name = fresh(port)
        out.attach.append((attached, str(layer.name)))    # a layer of the net: the Network named it
        out.weights[name], out.targets[name] = 1.0, port
    return out
