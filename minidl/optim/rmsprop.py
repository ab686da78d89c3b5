"""RMSProp without momentum or centering, MATLAB's ``rmsprop`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_nonnegative, check_real
from minidl.backend import get_array_module
from minidl.optim.base import Optimizer


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

    def __init__(self, beta2: float = 0.9, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.beta2 = check_real("beta2", beta2, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def _update(self, w, g, lr: float, state: dict[str, Any]) -> None:
        xp = get_array_module(w)
        beta2, eps = self.beta2, self.epsilon
        s = state["s"]
        u = xp.square(g)              # u ← g²            (u: one scratch array)
        u *= 1 - beta2                # u ← (1−β2)·g²
        s *= beta2                    # s ← β2·s
        s += u                        # s ← β2·s + (1−β2)·g²
        xp.sqrt(s, out=u)             # u ← √s
        u += eps                      # u ← √s + ε
        xp.divide(g, u, out=u)        # u ← g/(√s + ε)
        u *= lr                       # u ← lr·g/(√s + ε)
        w -= u                        # θ ← θ − lr·g/(√s + ε)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta2": self.beta2, "epsilon": self.epsilon}
