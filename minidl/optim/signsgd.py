"""Sign SGD with momentum, Wolfram's ``"SignSGD"`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_real
from minidl.optim.base import Optimizer
from minidl.optim.fused import fused


def signsgd_equations(xp, w, g, lr, v, mu: float) -> None:
    """SignSGD's step in place: w, g', the rate lr (a scalar or per element) and the velocity v, all one shape."""
    v *= mu                       # v ← μ·v
    v -= (1 - mu) * g             # v ← μ·v − (1−μ)·g'
    w += xp.sign(v) * lr          # w ← w + lr·sign(v)


class SignSGD(Optimizer):
    """Sign SGD with momentum: step by lr in the direction of the sign of a damped velocity; Wolfram ``"SignSGD"``.

    For weights w with gradient g' and rate lr (= learning_rate · learn-rate factor), v starting at 0::

        v ← μ·v − (1−μ)·g'           μ = momentum
        w ← w + lr·sign(v)           (sign(0) = 0: an element with v = 0 does not move)

    Wolfram writes v ← μ·v − (1−μ)·(λ·w + clip(g)): the pre-steps make g' = clip(g) + λ·w, with the L2 term added
    after clipping (``l2_order = "after_clip"``).

    Variant:
        - Wolfram ``"SignSGD"``: identical (Momentum default 0.93).
        - PyTorch: no built-in sign optimizer; ``signum`` (Bernstein et al.) is this with the damped momentum.
        - MATLAB, Adam paper: not concerned.

    All methods side by side: docs/optimizers.md.

    Args:
        momentum: μ in [0, 1); 0 gives plain sign descent w ← w − lr·sign(g').
    """

    method = "SignSGD"
    slots = ("v",)
    l2_order = "after_clip"
    equations = staticmethod(signsgd_equations)
    kernel = staticmethod(fused(signsgd_equations))

    def __init__(self, momentum: float = 0.93) -> None:
        super().__init__()
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=True)

    def scalars(self) -> tuple[float, ...]:
        return (self.momentum,)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "momentum": self.momentum}
