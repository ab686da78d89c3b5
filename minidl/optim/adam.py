"""Adam in two named forms: MATLAB's/Wolfram's (bias correction in the rate) and the paper's/PyTorch's."""

from __future__ import annotations

import math
from typing import Any

from minidl._checks import check_choice, check_nonnegative, check_real
from minidl.backend import get_array_module
from minidl.optim.base import Optimizer

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

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8, form: str = "matlab") -> None:
        super().__init__()
        self.beta1 = check_real("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = check_real("beta2", beta2, 0.0, 1.0, high_open=True)
        self.epsilon = check_nonnegative("epsilon", epsilon)
        self.form = check_choice("form", form, FORMS)

    def _update(self, w, g, lr: float, state: dict[str, Any]) -> None:
        xp = get_array_module(w)
        beta1, beta2, eps, t = self.beta1, self.beta2, self.epsilon, self.t
        m, s = state["m"], state["s"]
        m *= beta1                    # m ← β1·m
        m += (1 - beta1) * g          # m ← β1·m + (1−β1)·g
        u = xp.square(g)              # u ← g²            (u: one scratch array)
        u *= 1 - beta2                # u ← (1−β2)·g²
        s *= beta2                    # s ← β2·s
        s += u                        # s ← β2·s + (1−β2)·g²
        if self.form == "matlab":
            xp.sqrt(s, out=u)                                          # u ← √s
            u += eps                                                   # u ← √s + ε
            xp.divide(m, u, out=u)                                     # u ← m/(√s + ε)
            u *= lr * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)     # u ← lr·(√(1−β2ᵗ)/(1−β1ᵗ))·m/(√s + ε)
        else:
            xp.divide(s, 1 - beta2 ** t, out=u)                        # u ← ŝ = s/(1−β2ᵗ)
            xp.sqrt(u, out=u)                                          # u ← √ŝ
            u += eps                                                   # u ← √ŝ + ε
            xp.divide(m, u, out=u)                                     # u ← m/(√ŝ + ε)
            u *= lr / (1 - beta1 ** t)                                 # u ← lr·m̂/(√ŝ + ε),  m̂ = m/(1−β1ᵗ)
        w -= u                        # θ ← θ − u

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon,
                "form": self.form}
