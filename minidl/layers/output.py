"""Output layers: classification (cross-entropy), MATLAB regression (half mean squared error) and Wolfram's mean
squared loss, each a mean over the N observations (docs/layers.md, "Losses")."""

from __future__ import annotations

import math

import numpy as np

from minidl import functional as F
from minidl.backend import get_array_module
from minidl.layers.base import OutputLayer


def one_hot(t, k: int, dtype):
    """Class indices t: (N,) integers in [0, K) → one-hot (N, K) of ``dtype`` on t's device; (N, K) passes through."""
    xp = get_array_module(t)
    if t.ndim == 2:
        return t.astype(dtype, copy=False)
    out = xp.zeros((t.shape[0], k), dtype=dtype)
    out[xp.arange(t.shape[0]), t] = 1
    return out


class ClassificationOutput(OutputLayer):
    """Cross-entropy loss = −Σₙ Σₖ Tₙₖ log Yₙₖ / N (MATLAB classificationLayer) on softmax probabilities Y: (N, K).

    Targets: class indices (N,) or one-hot / soft (N, K) on the same device as Y.
    """

    kind = "classoutput"

    def loss_array(self, y, t):
        return F.cross_entropy_loss(y, one_hot(t, y.shape[1], y.dtype))

    def loss_gradient(self, y, t):
        return F.cross_entropy_gradient(y, one_hot(t, y.shape[1], y.dtype))

    def example_losses(self, y, t):
        """−Σₖ Tₙₖ log Yₙₖ per observation: (N,)."""
        return F.cross_entropy_example_losses(y, one_hot(t, y.shape[1], y.dtype))

    def describe(self) -> str:
        return f"{self.name or self.kind}: cross-entropy"


class RegressionOutput(OutputLayer):
    """Half-MSE loss = Σₙ Σᵣ ½(Yₙᵣ − Tₙᵣ)² / N (MATLAB regressionLayer: divided by observations, not responses).

    Y: (N, R) (or (N, ...), summed over every non-N axis); targets of the same size, or (N,) when R = 1.
    Wolfram's MeanSquaredLoss is (2/R) times this loss; both report RMSE = √(Σₙ Σᵣ (Yₙᵣ − Tₙᵣ)²/(N·R)).
    """

    kind = "regressionoutput"

    def loss_array(self, y, t):
        return F.half_mse_loss(y, t.reshape(y.shape))

    def loss_gradient(self, y, t):
        return F.half_mse_gradient(y, t.reshape(y.shape))

    def example_losses(self, y, t):
        """Σᵣ ½(Yₙᵣ − Tₙᵣ)² per observation: (N,)."""
        return F.half_mse_example_losses(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        """loss = Σₙ Σᵣ ½(yₙᵣ − tₙᵣ)² / N  ⇒  MATLAB's RMSE = √(Σₙ Σᵣ (y − t)²/N) = √(2·loss): the squared errors
        summed over the R responses, not averaged (MATLAB's implementation, docs/semantics-matlab.md#9-verbose-table);
        NaN for a subclass with another loss and no RMSE definition of its own."""
        if not self._rmse_defined_by(RegressionOutput):
            return math.nan
        return math.sqrt(max(2.0 * loss, 0.0))

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean squared error"


class MeanSquaredLoss(OutputLayer):
    """Wolfram MeanSquaredLossLayer: loss = Σₙ Σᵣ (Yₙᵣ − Tₙᵣ)² / (N·R), the mean over elements, then over the batch.

    Y: (N, R) (or (N, ...): R counts every non-N axis); targets of the same size, or (N,) when R = 1.
    RegressionOutput (MATLAB) divides half the squared error by N only: this loss is (2/R) times its loss, and
    both report the same RMSE (√loss here, √(2·loss/R) there).
    """

    kind = "meansquaredloss"

    def loss_array(self, y, t):
        return F.mean_squared_loss(y, t.reshape(y.shape))

    def loss_gradient(self, y, t):
        return F.mean_squared_gradient(y, t.reshape(y.shape))

    def example_losses(self, y, t):
        """Σᵣ (Yₙᵣ − Tₙᵣ)² / R per example: (N,)."""
        return F.mean_squared_example_losses(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        """The loss is already the mean of the squared errors over all N·R elements: RMSE = √loss (NaN for a
        subclass with another loss and no RMSE definition of its own)."""
        if not self._rmse_defined_by(MeanSquaredLoss):
            return math.nan
        return math.sqrt(max(loss, 0.0))

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean squared loss (mean over elements)"


class _ElementMeanLoss(OutputLayer):
    """A loss that is the mean over each example's elements, then over the batch; targets reshaped to y's shape."""

    _fn = ""

    def loss_array(self, y, t):
        return getattr(F, f"{self._fn}_loss")(y, t.reshape(y.shape))

    def loss_gradient(self, y, t):
        return getattr(F, f"{self._fn}_gradient")(y, t.reshape(y.shape))

    def example_losses(self, y, t):
        return getattr(F, f"{self._fn}_example_losses")(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int) -> float:
        """No RMSE follows from this loss's value: NaN (measured from the outputs instead, see
        docs/wolfram-layers.md)."""
        return math.nan


class MeanAbsoluteLoss(_ElementMeanLoss):
    """Wolfram MeanAbsoluteLossLayer: loss = Σₙ Σᵣ |Yₙᵣ − Tₙᵣ| / (N·R).  Y, T: (N, ...) alike (or T (N,) when R = 1)."""

    kind = "meanabsoluteloss"
    _fn = "mean_absolute"

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean absolute loss (mean over elements)"


class BinaryCrossEntropyLoss(_ElementMeanLoss):
    """Wolfram CrossEntropyLossLayer["Binary"]: loss = −Σₙ Σᵣ [T log Y + (1 − T) log(1 − Y)] / (N·R), on
    probabilities Y in (0, 1) (a LogisticSigmoid output); targets T in [0, 1] (booleans as 0/1)."""

    kind = "binarycrossentropyloss"
    _fn = "binary_cross_entropy"

    def describe(self) -> str:
        return f"{self.name or self.kind}: binary cross-entropy"


class ProbabilitiesCrossEntropyLoss(_ElementMeanLoss):
    """Wolfram CrossEntropyLossLayer["Probabilities"]: loss = −Σₙ Σₖ Tₙₖ log Yₙₖ / N with probability-vector
    targets T: (N, K) (rows of non-negative numbers summing to 1) on softmax probabilities Y: (N, K)."""

    kind = "crossentropyloss"
    _fn = "cross_entropy"

    def loss_array(self, y, t):
        return F.cross_entropy_loss(y, t.reshape(y.shape).astype(y.dtype, copy=False))

    def loss_gradient(self, y, t):
        return F.cross_entropy_gradient(y, t.reshape(y.shape).astype(y.dtype, copy=False))

    def example_losses(self, y, t):
        return F.cross_entropy_example_losses(y, t.reshape(y.shape).astype(y.dtype, copy=False))

    def describe(self) -> str:
        return f"{self.name or self.kind}: cross-entropy on probability-vector targets"


# ------------------------------------------------------------------------------------------------ decoders
class ClassDecoder:
    """Class probabilities (N, K) → labels, as Wolfram's NetDecoder["Class"]: ``net(x)`` gives the labels, and
    ``net(x, "Probabilities")`` the (N, K) probabilities in the order of ``classes``; ``net(x, ("Probability", c))``
    the (N,) column of class c.  Decision: the first class of highest probability (argmax)."""

    kind = "Class"
    PROPERTIES = ("Decision", "Probabilities", "(\"Probability\", class)")

    def __init__(self, classes):
        self.classes = np.asarray(classes)

    def decode(self, y, prop=None):
        """y: (N, K) host probabilities → the property ``prop`` (None: "Decision")."""
        if y.ndim != 2 or y.shape[1] != len(self.classes):
            raise ValueError(f"{self.kind} decoder: got outputs of shape {tuple(y.shape)}; allowed: (N, "
                             f"{len(self.classes)}), one probability per class")
        if prop is None or prop == "Decision":
            return self.classes[np.argmax(y, axis=1)]
        if prop == "Probabilities":
            return y
        if isinstance(prop, tuple) and len(prop) == 2 and prop[0] == "Probability":
            hits = np.flatnonzero(self.classes == prop[1])
            if not len(hits):
                raise ValueError(f"prop: got class {prop[1]!r}; allowed: one of {self.classes.tolist()}")
            return y[:, int(hits[0])]
        raise ValueError(f"prop: got {prop!r}; allowed: None, {', '.join(self.PROPERTIES)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.classes.tolist()!r})"


class BooleanDecoder(ClassDecoder):
    """A probability p of True (N,) or (N, 1) → booleans, as Wolfram's NetDecoder["Boolean"]: True when p > 0.5
    (the classes are (False, True) and the decision is the argmax of (1 − p, p): a tie at 0.5 goes to False).
    ``"Probabilities"`` gives (N, 2) columns (1 − p, p); ``("Probability", True)`` gives p."""

    kind = "Boolean"

    def __init__(self):
        super().__init__([False, True])

    def decode(self, y, prop=None):
        if y.ndim > 2 or (y.ndim == 2 and y.shape[1] != 1):
            raise ValueError(f"Boolean decoder: got outputs of shape {tuple(y.shape)}; allowed: (N,) or (N, 1), the "
                             "probability of True")
        p = y.reshape(len(y))
        return super().decode(np.stack([1 - p, p], axis=1), prop)

    def __repr__(self) -> str:
        return "BooleanDecoder()"
