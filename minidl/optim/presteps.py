"""Gradient pre-steps between backward and the optimizer (L2, clipping) and weight clipping after it.

Every function works in place on the arrays of the mappings it is given, on their device, without reading a value
back to the host (the clipping scale T/max(‖g‖, T) is computed on the device). Equations: docs/optimizers.md.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

from minidl._checks import check_choice, check_nonnegative, check_real
from minidl.backend import get_array_module

CLIP_METHODS = ("l2norm", "global-l2norm", "absolute-value")
L2_ORDERS = ("before_clip", "after_clip")


def add_l2(grads: Mapping[str, Any], params: Mapping[str, Any], l2: float,
           l2_factors: Mapping[str, float] | None = None, skip: Collection[str] = ()) -> None:
    """``g_i ← g_i + λ·l2factor_i·w_i`` in place for every array not in ``skip``; arrays with λ·factor = 0 untouched.

    grads, params: name -> array of the same shape per name.  l2: λ ≥ 0.  l2_factors: name -> factor ≥ 0
    (default 1; MATLAB: BiasL2Factor 0).  skip: names left alone (frozen arrays).
    """
    lam = check_nonnegative("l2", l2)
    for name, g in _kept(grads, skip):
        factor = 1.0 if l2_factors is None else check_nonnegative(f"l2_factors[{name!r}]", l2_factors.get(name, 1.0))
        coef = lam * factor
        if coef == 0.0:
            continue
        if name not in params:
            raise ValueError(f"params: no array {name!r} for the L2 term of grads[{name!r}]")
        g += coef * params[name]  # g ← g + λ·l2factor·w


def global_norm(grads: Mapping[str, Any], skip: Collection[str] = ()):
    """The global L2 norm L = √(Σ_i ‖g_i‖₂²) over the arrays not in ``skip``, as a 0-d array on their device."""
    kept = [g for _, g in _kept(grads, skip)]
    if not kept:
        raise ValueError("grads: no arrays to take the global norm of (empty, or all skipped)")
    xp = get_array_module(kept[0])
    total = sum((_sum_squares(g) for g in kept[1:]), _sum_squares(kept[0]))  # Σ_i ‖g_i‖₂² (no int 0 start)
    return xp.asarray(xp.sqrt(total))  # L = √(Σ_i ‖g_i‖₂²)


def clip_gradients(grads: Mapping[str, Any], threshold: float | Mapping[str, float], method: str = "l2norm",
                   skip: Collection[str] = ()) -> None:
    """Clip the gradients in place (MATLAB GradientThreshold / GradientThresholdMethod; Wolfram GradientClipping).

    ``l2norm``:         per array, g_i ← g_i·min(1, T/‖g_i‖₂)   (scale only when ‖g_i‖₂ > T)
    ``global-l2norm``:  every array, g_i ← g_i·min(1, T/L) with L the global norm over the arrays not skipped
    ``absolute-value``: every element clipped to [−T, T] (Wolfram's element-wise GradientClipping)

    ``threshold`` T > 0, ``inf`` does nothing. The scale is computed as T/max(‖g‖, T) on the device: exactly 1 when
    the norm is at most T (a zero gradient included), T/‖g‖ otherwise.  With ``absolute-value``, ``threshold`` may
    also be a mapping name -> T_i (per-array thresholds, Wolfram's ``{part -> r}``; arrays not named: no clipping).
    """
    check_choice("method", method, CLIP_METHODS)
    if isinstance(threshold, Mapping):
        if method != "absolute-value":
            raise ValueError(f"threshold: per-array thresholds need method 'absolute-value'; got {method!r}")
        _clip_each(grads, threshold, skip, "threshold")  # g ← min(max(g, −T_i), T_i)
        return
    T = check_real("threshold", threshold, 0.0, math.inf, low_open=True)
    if math.isinf(T):
        return
    kept = list(_kept(grads, skip))
    if method == "absolute-value":
        for _, g in kept:
            xp = get_array_module(g)
            xp.clip(g, -T, T, out=g)  # g ← min(max(g, −T), T)
    elif method == "l2norm":
        for _, g in kept:
            xp = get_array_module(g)
            norm = xp.sqrt(_sum_squares(g))  # ‖g_i‖₂
            xp.multiply(g, T / xp.maximum(norm, T), out=g)  # g_i ← g_i·min(1, T/‖g_i‖₂)
    elif kept:
        L = global_norm(grads, skip)
        xp = get_array_module(L)
        scale = T / xp.maximum(L, T)  # min(1, T/L)
        for _, g in kept:
            xp.multiply(g, scale, out=g)  # g_i ← g_i·min(1, T/L)


def _clip_each(arrays: Mapping[str, Any], limits: Mapping[str, float], skip: Collection[str], arg: str) -> None:
    """Clip each array a_i to [−c_i, c_i] in place, c_i = limits[name] (arrays not named, or inf: untouched)."""
    for name, a in _kept(arrays, skip):
        c = check_real(f"{arg}[{name!r}]", limits.get(name, math.inf), 0.0, math.inf, low_open=True)
        if not math.isinf(c):
            get_array_module(a).clip(a, -c, c, out=a)


def clip_weights(params: Mapping[str, Any], limit: float | Mapping[str, float], skip: Collection[str] = ()) -> None:
    """After the step, clip every weight element to [−c, c] in place (Wolfram WeightClipping); ``inf`` does nothing.
    ``limit`` may be a mapping name -> c_i (per-array limits; arrays not named: no clipping)."""
    if isinstance(limit, Mapping):
        _clip_each(params, limit, skip, "limit")  # w ← min(max(w, −c_i), c_i)
        return
    c = check_real("limit", limit, 0.0, math.inf, low_open=True)
    if math.isinf(c):
        return
    for _, w in _kept(params, skip):
        xp = get_array_module(w)
        xp.clip(w, -c, c, out=w)  # w ← min(max(w, −c), c)


def frozen_names(lr_factors: Mapping[str, float] | None) -> frozenset[str]:
    """The names whose learn-rate factor is 0 (frozen: no L2, no clipping, no update).

    >>> sorted(frozen_names({"fc_1.weight": 0.0, "fc_1.bias": 2.0}))
    ['fc_1.weight']
    """
    return frozenset(name for name, f in (lr_factors or {}).items() if f == 0)


class GradientPipeline:
    """The pre-steps in their stated order: L2 then clipping (MATLAB; Wolfram ADAM, RMSProp) or the reverse.

    ``l2_order="before_clip"``: g ← clip(g + λ·w)   (MATLAB; Wolfram "ADAM", "RMSProp")
    ``l2_order="after_clip"``:  g ← clip(g) + λ·w   (Wolfram "SGD", "SignSGD"; an optimizer's ``l2_order`` says which)

    >>> import numpy as np
    >>> pipe = GradientPipeline(l2=0.5, threshold=1.0, method="absolute-value", l2_order="after_clip")
    >>> g = {"w": np.array([3.0, -0.5])}
    >>> pipe(g, {"w": np.array([2.0, 2.0])})
    >>> g["w"]
    array([2. , 0.5])
    """

    def __init__(self, l2: float = 0.0, l2_factors: Mapping[str, float] | None = None, threshold: float = math.inf,
                 method: str = "l2norm", l2_order: str = "before_clip") -> None:
        self.l2 = check_nonnegative("l2", l2)
        self.l2_factors = None if l2_factors is None else {
            name: check_nonnegative(f"l2_factors[{name!r}]", f) for name, f in l2_factors.items()}
        self.threshold = dict(threshold) if isinstance(threshold, Mapping) else check_real(
            "threshold", threshold, 0.0, math.inf, low_open=True)
        self.method = check_choice("method", method, CLIP_METHODS)
        self.l2_order = check_choice("l2_order", l2_order, L2_ORDERS)

    def __call__(self, grads: Mapping[str, Any], params: Mapping[str, Any], skip: Collection[str] = ()) -> None:
        """Apply the pre-steps to ``grads`` in place; names in ``skip`` (frozen arrays) are left out of everything."""
        if self.l2_order == "before_clip":
            add_l2(grads, params, self.l2, self.l2_factors, skip)
        clip_gradients(grads, self.threshold, self.method, skip)
        if self.l2_order == "after_clip":
            add_l2(grads, params, self.l2, self.l2_factors, skip)

    def __repr__(self) -> str:
        return (f"GradientPipeline(l2={self.l2!r}, l2_factors={self.l2_factors!r}, threshold={self.threshold!r}, "
                f"method={self.method!r}, l2_order={self.l2_order!r})")


def _kept(arrays: Mapping[str, Any], skip: Collection[str]):
    """(name, array) pairs in the mapping's order, without the skipped names."""
    return ((name, a) for name, a in arrays.items() if name not in skip)


def _sum_squares(g):
    """‖g‖₂² = Σ g² as a 0-d array (no host round trip)."""
    xp = get_array_module(g)
    flat = g.reshape(-1)
    return xp.dot(flat, flat)
