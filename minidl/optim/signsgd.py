"""Sign SGD with momentum, Wolfram's ``"SignSGD"`` (equations: docs/optimizers.md)."""

from __future__ import annotations

from typing import Any

from minidl._checks import check_real
from minidl.backend import get_array_module
from minidl.optim.base import Optimizer


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

    def __init__(self, momentum: float = 0.93) -> None:
        super().__init__()
        self.momentum = check_real("momentum", momentum, 0.0, 1.0, high_open=True)

    def _update(self, w, g, lr: float, state: dict[str, Any]) -> None:
        xp = get_array_module(w)
        mu = self.momentum
        v = state["v"]
        v *= mu                       # v ← μ·v
        v -= (1 - mu) * g             # v ← μ·v − (1−μ)·g'
        u = xp.sign(v)                # u ← sign(v)       (u: one scratch array)
        u *= lr                       # u ← lr·sign(v)
        w += u                        # w ← w + lr·sign(v)

    def hyperparameters(self) -> dict[str, Any]:
        return {"method": self.method, "momentum": self.momentum}
