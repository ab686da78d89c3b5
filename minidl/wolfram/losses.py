"""Wolfram's loss layers and the LossFunction rule (SEMANTICS §3).

Wolfram's ``MeanSquaredLossLayer`` is the mean over *elements* of the squared difference, then the mean over the
batch: loss = Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / (N·R).  MATLAB's ``regressionLayer`` is half the *sum* over responses:
Σₙ Σᵣ ½(yₙᵣ − tₙᵣ)² / N.  The two differ by the factor 2/R, so a Wolfram regression is written here once more, in the
functional style (example losses, mean, gradient), with its own output layer.

>>> import numpy as np
>>> y, t = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
>>> mean_squared_example_losses(y, t)   # [(1 + 4)/2, 4/2]
array([2.5, 2. ])
>>> float(mean_squared_loss(y, t))
2.25
"""

from __future__ import annotations

import copy
import math

from minidl.errors import NotSupportedYetError
from minidl.layers.base import Layer, OutputLayer
from minidl.layers.core import Softmax
from minidl.layers.output import ClassificationOutput

__all__ = ["mean_squared_example_losses", "mean_squared_loss", "mean_squared_gradient", "MeanSquaredLoss",
           "choose_loss", "LOSS_NAMES"]


# ------------------------------------------------------------------------------------------------ the math
def mean_squared_example_losses(y, t):
    """ℓₙ = Σᵣ (yₙᵣ − tₙᵣ)² / R, the mean over each example's R elements.  y, t: (N, ...) alike.  Returns (N,)."""
    d = (y - t).reshape(y.shape[0], -1)
    return (d * d).mean(axis=1)


def mean_squared_loss(y, t):
    """loss = Σₙ ℓₙ / N = Σₙ Σᵣ (yₙᵣ − tₙᵣ)² / (N·R), a 0-d array (no host round trip)."""
    return mean_squared_example_losses(y, t).sum() / y.dtype.type(y.shape[0])  # N in y's dtype (NumPy 1.x)


def mean_squared_gradient(y, t):
    """dL/dy = 2·(y − t) / (N·R)."""
    n = y.shape[0]
    r = y.size // n if n else 1
    return (y - t) * (2.0 / (n * r))


# ------------------------------------------------------------------------------------------------ the layer
class MeanSquaredLoss(OutputLayer):
    """Wolfram MeanSquaredLossLayer: mean over elements, then over the batch.  Targets shaped like y (or (N,))."""

    kind = "meansquaredloss"

    def loss_array(self, y, t):
        return mean_squared_loss(y, t.reshape(y.shape))

    def loss_gradient(self, y, t):
        return mean_squared_gradient(y, t.reshape(y.shape))

    def example_losses(self, y, t):
        """Σᵣ (yₙᵣ − tₙᵣ)² / R per example: (N,)."""
        return mean_squared_example_losses(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        """The loss is already the mean of the squared errors: RMSE = √loss."""
        return math.sqrt(max(loss, 0.0))

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean squared loss (mean over elements)"


# ------------------------------------------------------------------------------------------------ LossFunction
#: LossFunction names (case-insensitive, with or without the "Layer" suffix) -> the layer they attach.
LOSS_NAMES = {"crossentropy": ClassificationOutput, "crossentropyloss": ClassificationOutput,
              "meansquared": MeanSquaredLoss, "meansquaredloss": MeanSquaredLoss}
_NOT_YET = ("meanabsoluteloss", "meanabsolute", "contrastiveloss", "ctcloss")


def choose_loss(layers: list[Layer], spec, arg: str = "LossFunction") -> OutputLayer | None:
    """The output layer to attach to ``layers`` for the LossFunction ``spec``; None when the net has its own.

    Wolfram: Automatic → cross-entropy on the class index after a final Softmax, else mean squared loss.
    A net that already ends in an output layer is a loss net: its loss is used and ``spec`` must be Automatic.
    """
    last = layers[-1]
    automatic = spec is None or (isinstance(spec, str) and spec.lower() == "automatic")
    if isinstance(last, OutputLayer):
        if not automatic:
            raise ValueError(f"{arg}: got {spec!r}, but the network already ends in the loss layer "
                             f"{type(last).__name__}; allowed: 'Automatic' (or remove that layer)")
        return None
    if automatic:
        return ClassificationOutput(name="loss") if isinstance(last, Softmax) else MeanSquaredLoss(name="loss")
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
                                       "'MeanSquaredLoss')")
        if key not in LOSS_NAMES:
            raise ValueError(f"{arg}: got {spec!r}; allowed: 'Automatic', 'CrossEntropyLoss', 'MeanSquaredLoss' "
                             "or an output layer (ClassificationOutput, RegressionOutput, MeanSquaredLoss)")
        cls = LOSS_NAMES[key]
        layer = cls(name="loss")
    else:
        raise TypeError(f"{arg}: got {type(spec).__name__}; allowed: 'Automatic', 'CrossEntropyLoss', "
                        "'MeanSquaredLoss' or an output layer")
    if cls is ClassificationOutput and not isinstance(last, Softmax):
        raise ValueError(f"{arg}: cross-entropy needs class probabilities, but the network ends in "
                         f"{type(last).__name__}; allowed: a network ending in Softmax")
    return layer
