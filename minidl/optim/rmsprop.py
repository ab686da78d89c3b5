"""RMSProp without momentum or centering, MATLAB's ``rmsprop`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_nonnegative, check_real
from minidl.optim.base import Optimizer
from minidl.optim.fused import fused


def rmsprop_equations(xp, w, g, lr, s, beta2: float, eps: float) -> None:
    """RMSProp's step in place: w (θ), g, the rate lr (a scalar or per element) and s, all one shape."""
    s *= beta2                            # s ← β2·s
    s += xp.square(g) * (1 - beta2)       # s ← β2·s + (1−β2)·g²
    w -= g / (xp.sqrt(s) + eps) * lr      # θ ← θ − lr·g/(√s + ε)


class RMSProp(Optimizer):
    """RMSProp: divide the gradient by a running root mean square of past gradients; MATLAB ``rmsprop``.

    For each array θ with gradient g and rate lr (= learning_rate · learn-rate factor), s starting at 0::

        s ← β2·s + (1−β2)·g²          β2 = beta2
        θ ← θ − lr·g/(√s + ε)          ε = epsilon

    Variant:
        - MATLAB ``rmsprop``: identical (SquaredGradientDecayFactor 0.9, Epsilon 1e-8); no momentum.
        - PyTorch ``torch.optim.RMSprop(alpha=β2, eps=ε, momentum=0, centered=False)``: identical; PyTorch also adds
          ε outside the square root.
        - Adam paper: this is Adam with β1 = 0 and no bias correction.
        - Wolfram ``"RMSProp"`` is the centered form with momentum: :class:`CenteredRMSProp`.

    All methods side by side: docs/optimizers.md.

    Args:
        beta2: β2 in [0, 1), decay of the mean of g².
        epsilon: ε ≥ 0, added to √s (MATLAB demands ε > 0; 0 is allowed here for reference checks).
    """

    method = "rmsprop"
    slots = ("s",)
    equations = staticmethod(rmsprop_equations)
    kernel = staticmethod(fused(rmsprop_equations))

    def __init__(self, beta2: float = 0.9, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta2 = check_real("beta2", beta2, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def scalars(self) -> tuple[float, ...]:
        return (self.beta2, self.epsilon)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta2": self.beta2, "epsilon": self.epsilon}
