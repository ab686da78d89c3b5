"""Adam in two named forms: MATLAB's/Wolfram's (bias correction in the rate) and the paper's/PyTorch's."""

from __future__ import annotations

import math
from typing import Any

from minidl._checks import check_choice, check_nonnegative, check_real
from minidl.optim.base import Optimizer
from minidl.optim.fused import fused


def adam_equations(xp, w, g, lr, m, s, beta1: float, beta2: float, eps: float, s_div: float, c2: float,
                   c1: float) -> None:
    """Adam's step in place: w (θ), g, the rate lr (a scalar or per element), m and s, all one shape.

    The two forms differ only in the scalars (:meth:`Adam.scalars`): matlab ``s_div = 1, c2 = √(1−β2ᵗ)``; paper
    ``s_div = 1−β2ᵗ, c2 = 1``; both ``c1 = 1−β1ᵗ``.
    """
    m *= beta1                                                # m ← β1·m
    m += (1 - beta1) * g                                      # m ← β1·m + (1−β1)·g
    s *= beta2                                                # s ← β2·s
    s += xp.square(g) * (1 - beta2)                           # s ← β2·s + (1−β2)·g²
    w -= m / (xp.sqrt(s / s_div) + eps) * (lr * c2 / c1)      # matlab: θ ← θ − lr·(√(1−β2ᵗ)/(1−β1ᵗ))·m/(√s + ε)
    #                                                           paper:  θ ← θ − lr·m̂/(√ŝ + ε)

FORMS = ("matlab", "paper")


class Adam(Optimizer):
    """Adam: momentum on g divided by a running root mean square of g, both bias-corrected; MATLAB ``adam``.

    For each array θ with gradient g and rate lr (= learning_rate · learn-rate factor), m and s starting at 0, and
    t the optimizer's step count (one per :meth:`step`, as MATLAB counts iterations)::

        t ← t + 1
        m ← β1·m + (1−β1)·g                      β1 = beta1
        s ← β2·s + (1−β2)·g²                     β2 = beta2

    ``form="matlab"`` (MATLAB and Wolfram: bias correction folded into the rate; ε not corrected)::

        θ ← θ − lr·(√(1−β2ᵗ)/(1−β1ᵗ))·m/(√s + ε)         ε = epsilon

    ``form="paper"`` (Kingma & Ba, Algorithm 1; PyTorch)::

        m̂ = m/(1−β1ᵗ),  ŝ = s/(1−β2ᵗ)
        θ ← θ − lr·m̂/(√ŝ + ε)

    The two are equal when ε = 0; for ε > 0 the matlab form's ε is in effect ε/√(1−β2ᵗ), larger early on.

    Variant:
        - MATLAB ``adam``: ``form="matlab"`` (GradientDecayFactor 0.9, SquaredGradientDecayFactor 0.999,
          Epsilon 1e-8).
        - Wolfram ``"ADAM"``: ``form="matlab"`` with Epsilon 1e-5 (``make_optimizer("ADAM")`` sets it).
        - Adam paper, PyTorch ``torch.optim.Adam(betas=(β1, β2), eps=ε)``: ``form="paper"``. PyTorch counts t per
          parameter tensor; here t is per optimizer, so an array frozen for some steps sees a larger t when it thaws
          (MATLAB's behaviour).

    All methods side by side: docs/optimizers.md.

    Args:
        beta1: β1 in [0, 1), decay of the mean of g.
        beta2: β2 in [0, 1), decay of the mean of g².
        epsilon: ε ≥ 0 (MATLAB demands ε > 0; 0 is allowed here for reference checks).
        form: ``"matlab"`` or ``"paper"``.
    """

    method = "adam"
    slots = ("m", "s")
    equations = staticmethod(adam_equations)
    kernel = staticmethod(fused(adam_equations))

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, form: str = "matlab") -> None:
        super().__init__()
        self.beta1 = check_real("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = check_real("beta2", beta2, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)
        self.form = check_choice("form", form, FORMS)

    def scalars(self) -> tuple[float, ...]:
        beta1, beta2, t = self.beta1, self.beta2, self.t
        if self.form == "matlab":   # ŝ = s, rate·√(1−β2ᵗ)/(1−β1ᵗ)
            return beta1, beta2, self.epsilon, 1.0, math.sqrt(1 - beta2 ** t), 1 - beta1 ** t
        return beta1, beta2, self.epsilon, 1 - beta2 ** t, 1.0, 1 - beta1 ** t   # ŝ = s/(1−β2ᵗ), m̂ = m/(1−β1ᵗ)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon,
                "form": self.form}
