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

__all__ = ["choose_loss", "LOSS_NAMES"]


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
