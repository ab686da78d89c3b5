"""Centered RMSProp with momentum, Wolfram's ``"RMSProp"`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_nonnegative, check_real
from minidl.optim.base import Optimizer
from minidl.optim.fused import fused


def centered_rmsprop_equations(xp, w, g, lr, n, gbar, delta, beta: float, mu: float, eps: float) -> None:
    """Centered RMSProp's step in place: w, g, the rate lr (a scalar or per element), n, ḡ and Δ, all one shape."""
    n *= beta                                             # n ← β·n
    n += xp.square(g) * (1 - beta)                        # n ← β·n + (1−β)·g²
    gbar *= beta                                          # ḡ ← β·ḡ
    gbar += g * (1 - beta)                                # ḡ ← β·ḡ + (1−β)·g
    delta *= mu                                           # Δ ← μ·Δ
    delta -= g / xp.sqrt(n - xp.square(gbar) + eps) * lr  # Δ ← μ·Δ − lr·g/√(n − ḡ² + ε)
    w += delta                                            # w ← w + Δ


class CenteredRMSProp(Optimizer):
    """Centered RMSProp with momentum: divide by a running standard deviation of g; Wolfram ``"RMSProp"``.

    For weights w with gradient g and rate lr (= learning_rate · learn-rate factor), n, ḡ, Δ starting at 0::

        n ← β·n + (1−β)·g²                 β = beta
        ḡ ← β·ḡ + (1−β)·g
        Δ ← μ·Δ − lr·g/√(n − ḡ² + ε)       μ = momentum, ε = epsilon
        w ← w + Δ

    State names: ``n``, ``gbar`` (ḡ), ``delta`` (Δ).

    Variant:
        - Wolfram ``"RMSProp"``: identical (Beta 0.95, Momentum 0.9, Epsilon 1e-6); ε sits *inside* the root.
        - PyTorch ``torch.optim.RMSprop(alpha=β, eps=ε, momentum=μ, centered=True)`` keeps b ← μ·b + g/(√(n − ḡ²) + ε)
          and steps w ← w − lr·b: ε sits *outside* the root, so the two differ for ε > 0. With ε = 0 and a constant
          rate, Δ = −lr·b at every step and the trajectories are identical.
        - MATLAB ``rmsprop`` is neither centered nor with momentum: :class:`RMSProp`.
        - Adam paper: not concerned (no bias correction here).

    All methods side by side: docs/optimizers.md.

    Args:
        beta: β in [0, 1), decay of the means of g² and g.
        momentum: μ in [0, 1).
        epsilon: ε ≥ 0, added to n − ḡ² under the root (0 allowed for reference checks).
    """

    method = "RMSProp"
    slots = ("n", "gbar", "delta")
    equations = staticmethod(centered_rmsprop_equations)
    kernel = staticmethod(fused(centered_rmsprop_equations))

    def __init__(self, beta: float = 0.95, momentum: float = 0.9, epsilon: float = 1e-6) -> None:
        super().__init__()
        self.beta = check_real("beta", beta, 0.0, 1.0, high_open=True)
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def scalars(self) -> tuple[float, ...]:
        return (self.beta, self.momentum, self.epsilon)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta": self.beta, "momentum": self.momentum, "epsilon": self.epsilon}
