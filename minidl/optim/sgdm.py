"""Stochastic gradient descent with momentum, MATLAB's ``sgdm`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_real
from minidl.optim.base import Optimizer
from minidl.optim.fused import fused


def sgdm_equations(xp, w, g, lr, v, gamma: float) -> None:
    """SGDM's step in place: w (θ), g, the rate lr (a scalar or per element) and the velocity v, all one shape."""
    v *= gamma            # v ← γ·v
    v -= lr * g           # v ← γ·v − lr·g
    w += v                # θ ← θ + v


class SGDM(Optimizer):
    """SGD with momentum: a velocity v accumulates past steps; MATLAB ``sgdm``.

    For each array θ with gradient g and rate lr (= learning_rate · learn-rate factor), v starting at 0::

        v ← γ·v − lr·g          γ = momentum
        θ ← θ + v

    MATLAB: the reference's θₗ₊₁ = θₗ − α∇E(θₗ) + γ(θₗ − θₗ₋₁), since v is exactly θₗ₊₁ − θₗ.

    Variant:
        - MATLAB ``sgdm``: identical (Momentum default 0.9).
        - PyTorch ``torch.optim.SGD(momentum=γ, dampening=0)`` keeps b ← γ·b + g and steps θ ← θ − lr·b. With a
          constant rate v = −lr·b at every step, so the trajectories are identical; when the rate changes (a
          schedule), PyTorch applies the new rate to the whole accumulated b, while here v keeps the rates with which
          its past steps were taken. No Nesterov, no dampening, no weight decay inside the step (L2 is a pre-step).
        - Adam paper: not concerned (Adam with β1 = γ and no second moment is a damped variant, not this).
        - Wolfram ``"SGD"``: the same equations with momentum 0.93 and the L2 term added after clipping: :class:`SGD`.

    All methods side by side: docs/optimizers.md.

    Args:
        momentum: γ in [0, 1] (MATLAB's range; γ = 1 keeps every past step undamped); 0 gives plain gradient
            descent θ ← θ − lr·g.
    """

    method = "sgdm"
    slots = ("v",)
    momentum_high_open = False  # γ = 1 allowed (MATLAB sgdm); a subclass may exclude it
    equations = staticmethod(sgdm_equations)
    kernel = staticmethod(fused(sgdm_equations))

    def __init__(self, momentum: float = 0.9) -> None:
        super().__init__()
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=self.momentum_high_open)

    def scalars(self) -> tuple[float, ...]:
        return (self.momentum,)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "momentum": self.momentum}
