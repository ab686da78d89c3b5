"""Wolfram's ``"SGD"``: SGDM's equations with momentum 0.93 and the L2 term added after clipping."""

from __future__ import annotations

from minidl.optim.sgdm import SGDM


class SGD(SGDM):
    """Wolfram ``"SGD"`` (momentum 0.93): the math of :class:`SGDM`, with L2 added after gradient clipping.

    Wolfram writes, for weights w, momentum μ, L2 strength λ::

        v ← μ·v − lr·λ·w − lr·clip(g)
        w ← w + v

    Writing g' = clip(g) + λ·w (the pre-steps, in the order ``l2_order = "after_clip"``) this is::

        v ← μ·v − lr·g'
        w ← w + v

    which is :class:`SGDM` with γ = μ; so the class only changes the default and the pre-step order (and keeps
    μ in [0, 1)).

    Variant:
        - Wolfram ``"SGD"``: identical (Momentum default 0.93); its automatic rate schedule is
          :class:`~minidl.optim.schedules.PolynomialSchedule`.
        - MATLAB ``sgdm``: same step, but MATLAB adds L2 *before* clipping (so clipping also bounds the L2 term).
        - PyTorch ``SGD(momentum=μ, dampening=0)``: same trajectory when the rate is constant (see :class:`SGDM`).
        - Adam paper: not concerned.

    All methods side by side: docs/optimizers.md.

    Args:
        momentum: μ in [0, 1).
    """

    method = "SGD"
    momentum_high_open = True  # μ in [0, 1), as before
    l2_order = "after_clip"

    def __init__(self, momentum: float = 0.93) -> None:
        super().__init__(momentum=momentum)
