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


# ------------------------------------------------------------------------------------------------ sequences
def _rows(a):
    """(N, K, T) → (N·T, K): one row per time step."""
    n, k, t = a.shape
    return a.transpose(0, 2, 1).reshape(n * t, k)


def _step_weights(y, mask, per: str):
    """The weight wₙₜ of each step's loss in ℓₙ = Σₜ wₙₜ eₙₜ: (N, T) on y's device.

    ``per``: "sum" (wₙₜ = mₙₜ: MATLAB classification, summed over time), "padded" (mₙₜ/S, S the padded length:
    MATLAB regression) or "real" (mₙₜ/Lₙ, Lₙ = Σₜ mₙₜ the sequence's real steps: Wolfram's mean over the sequence;
    Lₙ = 0 gives weights 0).
    """
    xp = get_array_module(y)
    n, _, t = y.shape
    m = xp.ones((n, t), dtype=y.dtype) if mask is None else mask.astype(y.dtype, copy=False)
    if per == "sum":
        return m
    if per == "padded":
        return m / y.dtype.type(t)
    lengths = m.sum(axis=1, keepdims=True)
    return m / xp.maximum(lengths, 1)


def sequence_example_losses(y, t, mask, examples, per: str):
    """ℓₙ = Σₜ wₙₜ eₙₜ with eₙₜ the step loss ``examples`` of one (K,) step (:func:`_step_weights` for w).

    y, t: (N, K, T); mask: (N, T) or None (every step real). Returns (N,).
    """
    e = examples(_rows(y), _rows(t)).reshape(y.shape[0], y.shape[2])         # eₙₜ, (N, T)
    return (_step_weights(y, mask, per) * e).sum(axis=1)


def sequence_loss_gradient(y, t, mask, gradient, per: str):
    """dL/dy for L = Σₙ ℓₙ / N (:func:`sequence_example_losses`): wₙₜ·∂eₙₜ/∂y / N, from ``gradient`` of the mean step
    loss over the N·T rows (which divides by N·T: multiplied back). y, t: (N, K, T) → (N, K, T)."""
    n, k, steps = y.shape
    g = gradient(_rows(y), _rows(t)).reshape(n, steps, k).transpose(0, 2, 1)  # ∂eₙₜ/∂y / (N·T)
    w = _step_weights(y, mask, per) * y.dtype.type(steps)                      # wₙₜ·T: with 1/(N·T) above, wₙₜ/N
    return g * w[:, None, :]


def one_hot_steps(t, k: int, dtype):
    """Per-step class indices (N, T) → one-hot (N, K, T) of ``dtype`` on t's device; (N, K, T) passes through."""
    xp = get_array_module(t)
    if t.ndim == 3:
        return t.astype(dtype, copy=False)
    n, steps = t.shape
    out = xp.zeros((n, k, steps), dtype=dtype)
    out[xp.arange(n)[:, None], t, xp.arange(steps)[None, :]] = 1
    return out


class ClassificationOutput(OutputLayer):
    """Cross-entropy loss = −Σₙ Σₖ Tₙₖ log Yₙₖ / N (MATLAB classificationLayer) on softmax probabilities Y: (N, K).

    Targets: class indices (N,) or one-hot / soft (N, K) on the same device as Y.  Sequence-to-sequence, Y (N, K, T)
    with targets (N, T) class indices or (N, K, T): loss = −Σₙ Σₜ mₙₜ Σₖ Tₙₖₜ log Yₙₖₜ / N, summed over the real time
    steps (mask m (N, T); None: every step), divided by N (the classificationLayer reference page's sequence formula).
    ``sequence_reduction="mean"`` (Wolfram's CrossEntropyLossLayer["Index"] on a varying sequence) divides each
    sequence's sum by its number of real steps Lₙ instead: the mean over the sequence, then over the batch.
    """

    kind = "classoutput"
    REDUCTIONS = ("sum", "mean")

    def __init__(self, name: str | None = None, sequence_reduction: str = "sum"):
        super().__init__(name=name)
        if sequence_reduction not in self.REDUCTIONS:
            raise ValueError(f"sequence_reduction: got {sequence_reduction!r}; allowed: 'sum' (MATLAB), 'mean' "
                             "(Wolfram)")
        self.sequence_reduction = sequence_reduction

    @property
    def _per(self) -> str:
        return "sum" if self.sequence_reduction == "sum" else "real"

    def loss_array(self, y, t, mask=None):
        if y.ndim == 3:
            return self.example_losses(y, t, mask).sum() / y.dtype.type(y.shape[0])
        return F.cross_entropy_loss(y, one_hot(t, y.shape[1], y.dtype))

    def loss_gradient(self, y, t, mask=None):
        if y.ndim == 3:
            return sequence_loss_gradient(y, one_hot_steps(t, y.shape[1], y.dtype), mask, F.cross_entropy_gradient,
                                          self._per)
        return F.cross_entropy_gradient(y, one_hot(t, y.shape[1], y.dtype))

    def example_losses(self, y, t, mask=None):
        """−Σₖ Tₙₖ log Yₙₖ per observation: (N,) (sequences: summed, or averaged, over the real steps)."""
        if y.ndim == 3:
            return sequence_example_losses(y, one_hot_steps(t, y.shape[1], y.dtype), mask,
                                           F.cross_entropy_example_losses, self._per)
        return F.cross_entropy_example_losses(y, one_hot(t, y.shape[1], y.dtype))

    def describe(self) -> str:
        return f"{self.name or self.kind}: cross-entropy"


class RegressionOutput(OutputLayer):
    """Half-MSE loss = Σₙ Σᵣ ½(Yₙᵣ − Tₙᵣ)² / N (MATLAB regressionLayer: divided by observations, not responses).

    Y: (N, R) (or (N, ...), summed over every non-N axis); targets of the same size, or (N,) when R = 1.
    Wolfram's MeanSquaredLoss is (2/R) times this loss; both report RMSE = √(Σₙ Σᵣ (Yₙᵣ − Tₙᵣ)²/(N·R)).

    Sequence-to-sequence, Y and targets (N, R, T) (or targets (N, T) when R = 1) with a mask m (N, T):
    loss = Σₙ (1/(2S)) Σₜ mₙₜ Σᵣ (Yₙᵣₜ − Tₙᵣₜ)² / N, S the padded length T of the batch (the regressionLayer
    reference page's sequence formula).  Only when the network ends in a time axis: a 3-D Y of a network whose
    output is (R, H, W)-like is not sequence data, see :attr:`sequence`.
    """

    kind = "regressionoutput"

    @property
    def sequence(self) -> bool:
        """True when the layer's input is sequences (N, R, T) (its input shape ends in the time axis None)."""
        return self.input_shape is not None and len(self.input_shape) == 2 and self.input_shape[1] is None

    def loss_array(self, y, t, mask=None):
        if self.sequence:
            return self.example_losses(y, t, mask).sum() / y.dtype.type(y.shape[0])
        return F.half_mse_loss(y, t.reshape(y.shape))

    def loss_gradient(self, y, t, mask=None):
        if self.sequence:
            return sequence_loss_gradient(y, t.reshape(y.shape), mask, F.half_mse_gradient, "padded")
        return F.half_mse_gradient(y, t.reshape(y.shape))

    def example_losses(self, y, t, mask=None):
        """Σᵣ ½(Yₙᵣ − Tₙᵣ)² per observation: (N,) (sequences: Σₜ mₙₜ Σᵣ ½(y − t)² / S)."""
        if self.sequence:
            return sequence_example_losses(y, t.reshape(y.shape), mask, F.half_mse_example_losses, "padded")
        return F.half_mse_example_losses(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int, real_fraction: float = 1.0) -> float:
        """loss = Σₙ Σᵣ ½(yₙᵣ − tₙᵣ)² / N  ⇒  MATLAB's RMSE = √(Σₙ Σᵣ (y − t)²/N) = √(2·loss): the squared errors
        summed over the R responses, not averaged (MATLAB's implementation, docs/semantics-matlab.md#9-verbose-table);
        NaN for a subclass with another loss and no RMSE definition of its own.

        Sequence-to-sequence (``real_fraction`` f = Σₙₜ mₙₜ/(N·S), the share of real steps in the padded batch):
        loss = Σ m Σᵣ ½(y − t)²/(N·S) ⇒ the RMSE over the real steps √(Σ m Σᵣ (y − t)²/Σ m) = √(2·loss/f).
        """
        if not self._rmse_defined_by(RegressionOutput):
            return math.nan
        return math.sqrt(max(2.0 * loss / real_fraction, 0.0)) if real_fraction > 0 else math.nan

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean squared error"


class MeanSquaredLoss(OutputLayer):
    """Wolfram MeanSquaredLossLayer: loss = Σₙ Σᵣ (Yₙᵣ − Tₙᵣ)² / (N·R), the mean over elements, then over the batch.

    Y: (N, R) (or (N, ...): R counts every non-N axis); targets of the same size, or (N,) when R = 1.
    RegressionOutput (MATLAB) divides half the squared error by N only: this loss is (2/R) times its loss, and
    both report the same RMSE (√loss here, √(2·loss/R) there).
    """

    kind = "meansquaredloss"
    _fn = "mean_squared"

    def loss_array(self, y, t, mask=None):
        if _is_sequence(self):
            return _wolfram_sequence(self, "example_losses", y, t, mask).sum() / y.dtype.type(y.shape[0])
        return F.mean_squared_loss(y, t.reshape(y.shape))

    def loss_gradient(self, y, t, mask=None):
        if _is_sequence(self):
            return _wolfram_sequence(self, "gradient", y, t, mask)
        return F.mean_squared_gradient(y, t.reshape(y.shape))

    def example_losses(self, y, t, mask=None):
        """Σᵣ (Yₙᵣ − Tₙᵣ)² / R per example: (N,) (sequences: the mean over the sequence's real steps too)."""
        if _is_sequence(self):
            return _wolfram_sequence(self, "example_losses", y, t, mask)
        return F.mean_squared_example_losses(y, t.reshape(y.shape))

    def rmse_from_loss(self, loss: float, n_responses: int, real_fraction: float = 1.0) -> float:
        """The loss is already the mean of the squared errors over all N·R elements: RMSE = √loss (NaN for a
        subclass with another loss and no RMSE definition of its own).  Sequences: √ of the mean over the
        sequences of each one's mean squared error over its real steps (``real_fraction`` is not needed)."""
        if not self._rmse_defined_by(MeanSquaredLoss):
            return math.nan
        return math.sqrt(max(loss, 0.0))

    def describe(self) -> str:
        return f"{self.name or self.kind}: mean squared loss (mean over elements)"


def _is_sequence(layer: OutputLayer) -> bool:
    """The layer's input is sequences (N, K, T): its input shape (K, None)."""
    shape = layer.input_shape
    return shape is not None and len(shape) == 2 and shape[1] is None


def _wolfram_sequence(layer, what: str, y, t, mask):
    """A Wolfram loss on sequences: each step's loss eₙₜ (the loss of one (K,) element vector), averaged over the
    sequence's real steps, then over the batch: ℓₙ = Σₜ mₙₜ eₙₜ / Lₙ (docs/semantics-wolfram.md, sequences)."""
    t = t.reshape(y.shape).astype(y.dtype, copy=False)
    if what == "gradient":
        return sequence_loss_gradient(y, t, mask, getattr(F, f"{layer._fn}_gradient"), "real")
    return sequence_example_losses(y, t, mask, getattr(F, f"{layer._fn}_example_losses"), "real")


class _ElementMeanLoss(OutputLayer):
    """A loss that is the mean over each example's elements, then over the batch; targets reshaped to y's shape.
    Sequences (N, K, T): the mean over each sequence's real steps of the per-step loss (:func:`_wolfram_sequence`)."""

    _fn = ""

    def loss_array(self, y, t, mask=None):
        if _is_sequence(self):
            return _wolfram_sequence(self, "example_losses", y, t, mask).sum() / y.dtype.type(y.shape[0])
        return getattr(F, f"{self._fn}_loss")(y, t.reshape(y.shape))

    def loss_gradient(self, y, t, mask=None):
        if _is_sequence(self):
            return _wolfram_sequence(self, "gradient", y, t, mask)
        return getattr(F, f"{self._fn}_gradient")(y, t.reshape(y.shape))

    def example_losses(self, y, t, mask=None):
        if _is_sequence(self):
            return _wolfram_sequence(self, "example_losses", y, t, mask)
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

    def loss_array(self, y, t, mask=None):
        if _is_sequence(self):
            return super().loss_array(y, t, mask)
        return F.cross_entropy_loss(y, t.reshape(y.shape).astype(y.dtype, copy=False))

    def loss_gradient(self, y, t, mask=None):
        if _is_sequence(self):
            return super().loss_gradient(y, t, mask)
        return F.cross_entropy_gradient(y, t.reshape(y.shape).astype(y.dtype, copy=False))

    def example_losses(self, y, t, mask=None):
        if _is_sequence(self):
            return super().example_losses(y, t, mask)
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
