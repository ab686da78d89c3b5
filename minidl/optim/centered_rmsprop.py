"""Centered RMSProp with momentum, Wolfram's ``"RMSProp"`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_nonnegative, check_real
from minidl.backend import get_array_module
from minidl.optim.base import Optimizer


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

    def __init__(self, beta: float = 0.95, momentum: float = 0.9, epsilon: float = 1e-6) -> None:
        super().__init__()
        self.beta = check_real("beta", beta, 0.0, 1.0, high_open=True)
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)

    def _update(self, w, g, lr: float, state: dict[str, Any]) -> None:
        xp = get_array_module(w)
        beta, mu, eps = self.beta, self.momentum, self.epsilon
        n, gbar, delta = state["n"], state["gbar"], state["delta"]
        u = xp.square(g)              # u ← g²            (u: one scratch array)
        u *= 1 - beta                 # u ← (1−β)·g²
        n *= beta                     # n ← β·n
        n += u                        # n ← β·n + (1−β)·g²
        xp.multiply(g, 1 - beta, out=u)  # u ← (1−β)·g
        gbar *= beta                  # ḡ ← β·ḡ
        gbar += u                     # ḡ ← β·ḡ + (1−β)·g
        xp.square(gbar, out=u)        # u ← ḡ²
        xp.subtract(n, u, out=u)      # u ← n − ḡ²
        u += eps                      # u ← n − ḡ² + ε
        xp.sqrt(u, out=u)             # u ← √(n − ḡ² + ε)
        xp.divide(g, u, out=u)        # u ← g/√(n − ḡ² + ε)
        u *= lr                       # u ← lr·g/√(n − ḡ² + ε)
        delta *= mu                   # Δ ← μ·Δ
        delta -= u                    # Δ ← μ·Δ − lr·g/√(n − ḡ² + ε)
        w += delta                    # w ← w + Δ

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta": self.beta, "momentum": self.momentum, "epsilon": self.epsilon}
