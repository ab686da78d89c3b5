"""The flat step: pre-steps, optimizer update and weight clipping as one fused elementwise pass over flat buffers.

A network's parameters (and gradients) of one dtype and device live in one 1-d buffer, each named array a view of
its slice (:class:`FlatLayout` says where).  :class:`FlatStep` then runs, per contiguous run of arrays that move
(frozen arrays are left out, state and all), one kernel that does

    g ← g + c·w                       c = λ·l2factor per element  (L2 before clipping: MATLAB; Wolfram ADAM, RMSProp)
    g ← min(max(g, −T), T)  or  g ← g·scale                        (clipping: absolute-value; l2norm / global-l2norm)
    g ← g + c·w                       (L2 after clipping: Wolfram SGD, SignSGD)
    the optimizer's equations with rate lr·f                    f = learn-rate factor per element
    w ← min(max(w, −c_w), c_w)        (weight clipping)

written once: the same equations as the per-array path (:mod:`minidl.optim.presteps`, each method's
``equations``), so both give the same numbers.  The norms that clipping needs are reductions, taken before the pass
(after an L2-only pass when L2 comes first).  Launch counts: docs/gpu.md#launches.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from minidl._checks import check_nonnegative, check_real
from minidl.backend import device_of, get_array_module, to_device
from minidl.optim.base import Optimizer, _check_factors
from minidl.optim.fused import fused
from minidl.optim.presteps import GradientPipeline, clip_weights


class FlatLayout:
    """Where each named array lives in a flat 1-d buffer: ``index[name] = (start, stop)``, in the order given.

    >>> import numpy as np
    >>> layout = FlatLayout({"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2)})
    >>> layout.index, layout.size
    ({'fc.weight': (0, 6), 'fc.bias': (6, 8)}, 8)
    >>> layout.runs(["fc.bias"])
    [(6, 8)]
    """

    def __init__(self, arrays: Mapping[str, Any]) -> None:
        if not arrays:
            raise ValueError("arrays: got an empty mapping; allowed: named arrays of one dtype and device")
        first = next(iter(arrays.values()))
        self.xp, self.dtype, self.device = get_array_module(first), first.dtype, device_of(first)
        self.names = tuple(arrays)
        self.shapes = {name: tuple(a.shape) for name, a in arrays.items()}
        self.index: dict[str, tuple[int, int]] = {}
        at = 0
        for name, a in arrays.items():
            if a.dtype != self.dtype or device_of(a) != self.device:
                raise ValueError(f"arrays[{name!r}]: dtype {a.dtype} on {device_of(a).name}; allowed: one dtype and "
                                 f"device for a layout ({self.dtype} on {self.device.name})")
            self.index[name] = (at, at + int(a.size))
            at += int(a.size)
        self.size = at

    def zeros(self):
        """A zero buffer (size,) of the layout's dtype on its device."""
        return self.xp.zeros(self.size, dtype=self.dtype)

    def view(self, buffer, name: str):
        """The array ``name`` as a view of ``buffer`` (no copy)."""
        start, stop = self.index[name]
        return buffer[start:stop].reshape(self.shapes[name])

    def views(self, buffer) -> dict[str, Any]:
        """Every array as a view of ``buffer``, in layout order."""
        return {name: self.view(buffer, name) for name in self.names}

    def runs(self, names: Collection[str]) -> list[tuple[int, int]]:
        """The (start, stop) ranges covered by ``names``, neighbours merged (one kernel per range)."""
        out: list[tuple[int, int]] = []
        for name in self.names:
            if name in names:
                start, stop = self.index[name]
                if out and out[-1][1] == start:
                    out[-1] = (out[-1][0], stop)
                else:
                    out.append((start, stop))
        return out

    def per_element(self, values: Mapping[str, float], default: float):
        """A buffer (size,) on the device holding ``values[name]`` (else ``default``) over each array's slice; a
        Python float instead when every array gets the same value (no buffer to read)."""
        per_array = [float(values.get(name, default)) for name in self.names]
        if len(set(per_array)) == 1:
            return per_array[0]
        sizes = [stop - start for start, stop in self.index.values()]
        return to_device(np.repeat(np.asarray(per_array, dtype=np.float64), sizes), self.device, dtype=self.dtype)


def flat_pass_equations(xp, w, g, c, T, wlim, lr, f, l2: str, clip: str, wclip: bool,
                        equations: Callable[..., None], *rest) -> None:
    """The pass, in place on one run: pre-steps, ``equations(xp, w, g, lr·f, *rest)``, weight clipping."""
    if l2 == "before":
        g += c * w                                      # g ← g + λ·l2factor·w
    if clip == "abs":
        g[...] = xp.minimum(xp.maximum(g, -T), T)       # g ← min(max(g, −T), T)
    elif clip == "scale":
        g *= T                                          # g ← g·min(1, T/‖g‖)  (T: the scale, computed before)
    if l2 == "after":
        g += c * w                                      # g ← clip(g) + λ·l2factor·w
    equations(xp, w, g, lr * f, *rest)                  # the optimizer, with lr_i = learning_rate · factor_i
    if wclip:
        w[...] = xp.minimum(xp.maximum(w, -wlim), wlim)  # w ← min(max(w, −c), c)


def _l2_equations(xp, w, g, c) -> None:
    g += c * w                                          # g ← g + λ·l2factor·w


_l2_kernel = fused(_l2_equations)
_KERNELS: dict[tuple, Callable[..., None]] = {}


def _kernel(l2: str, clip: str, wclip: bool, equations: Callable[..., None]) -> Callable[..., None]:
    """The fused pass for one configuration (compiled once per configuration on CuPy)."""
    key = (l2, clip, wclip, equations)
    kernel = _KERNELS.get(key)
    if kernel is None:
        def flat_pass(xp, w, g, c, T, wlim, lr, f, *rest):
            flat_pass_equations(xp, w, g, c, T, wlim, lr, f, l2, clip, wclip, equations, *rest)
        flat_pass.__name__ = f"flat_{equations.__name__}_{l2}_{clip}_{'wclip' if wclip else 'free'}"
        kernel = _KERNELS[key] = fused(flat_pass)
    return kernel


def _norm(xp, buffers: Sequence[Any]):
    """√(Σ ‖b‖₂²) over the buffers, as a 0-d array (one dot per buffer)."""
    total = None
    for b in buffers:
        sq = xp.dot(b, b)
        total = sq if total is None else total + sq
    return xp.sqrt(total)


class FlatStep:
    """Pre-steps (``pipeline``), ``optimizer`` and weight clipping (``weight_clip``) over flat buffers.

    ``step(layout, w, g, learning_rate, lr_factors, skip)``: ``w`` and ``g`` are the flat parameter and gradient
    buffers of ``layout``; ``lr_factors`` name -> factor (0 freezes); ``skip`` the frozen names.  The same numbers
    as ``pipeline(grads, params, skip)``, ``optimizer.step(params, grads, lr, lr_factors)`` and
    ``clip_weights(params, weight_clip, skip)`` on the views (float64: equal to rounding).  An optimizer that is not
    :func:`fusable` (a user's method or step) runs exactly that, on the views.
    """

    def __init__(self, pipeline: GradientPipeline, optimizer: Optimizer,
                 weight_clip: float | Mapping[str, float] = math.inf) -> None:
        self.pipeline, self.optimizer = pipeline, optimizer
        self.weight_clip = dict(weight_clip) if isinstance(weight_clip, Mapping) else check_real(
            "weight_clip", weight_clip, 0.0, math.inf, low_open=True)
        self._buffers: dict[tuple, Any] = {}   # (layout, what, values) -> per-element buffer or float

    def _element(self, layout: FlatLayout, what: str, values: Mapping[str, float], default: float):
        key = (id(layout), what, tuple(float(values.get(n, default)) for n in layout.names))
        got = self._buffers.get(key)
        if got is None or got[0] is not layout:
            got = self._buffers[key] = (layout, layout.per_element(values, default))
        return got[1]

    def __call__(self, layout: FlatLayout, w, g, learning_rate: Any,
                 lr_factors: Mapping[str, float] | None = None, skip: Collection[str] = (),
                 scalars: Sequence[Any] | None = None) -> None:
        """One step.  ``learning_rate``: a number ≥ 0, or a 0-d device array (read by the kernels when they run:
        what a captured CUDA graph needs, minidl.training.cuda_graph).  ``scalars``: None, the optimizer counts the
        step (t ← t + 1) and its :meth:`~minidl.optim.Optimizer.scalars` go to the kernels as numbers; or those
        scalars for this step, the caller having counted it (0-d device arrays in the graph step)."""
        opt, pipe = self.optimizer, self.pipeline
        equations = opt.equations if fusable(opt) else None
        if equations is None:                       # a user's method (or step): the per-array path on the views
            if scalars is not None:
                raise ValueError(f"scalars: given for {type(opt).__name__}, which has no fusable equations; allowed: "
                                 "None (its own step runs)")
            params, grads = layout.views(w), layout.views(g)
            pipe(grads, params, skip=skip)
            opt.step(params, grads, learning_rate, lr_factors)
            if isinstance(self.weight_clip, dict) or math.isfinite(self.weight_clip):
                clip_weights(params, self.weight_clip, skip=skip)
            return
        lr = check_nonnegative("learning_rate", learning_rate) if isinstance(learning_rate, numbers.Real) \
            else learning_rate                      # a 0-d device array: not read here
        factors = _check_factors(lr_factors)
        moving = [n for n in layout.names if n not in skip and factors.get(n, 1.0) != 0.0]
        runs = layout.runs(moving)
        xp = layout.xp
        f = self._element(layout, "lr", factors, 1.0)
        l2_factors = pipe.l2_factors or {}
        c = self._element(layout, "l2", {n: pipe.l2 * l2_factors.get(n, 1.0) for n in layout.names}, 0.0) \
            if pipe.l2 > 0 else 0.0
        l2 = "none" if isinstance(c, float) and c == 0.0 else \
            "before" if pipe.l2_order == "before_clip" else "after"
        slots = opt.flat_slots(layout, moving)
        if scalars is None:
            opt.t += 1                                # t ← t + 1
            scalars = opt.scalars()
        # clipping: a threshold per element, or the scale T/max(‖g‖, T) from norms taken before the pass
        threshold, clip, T = pipe.threshold, "none", 0.0
        if isinstance(threshold, dict) or not math.isinf(threshold):
            if pipe.method == "absolute-value":
                clip = "abs"
                T = self._element(layout, "clip", threshold, math.inf) if isinstance(threshold, dict) else threshold
            else:
                clip = "scale"
                if l2 == "before":                    # the norms are of g + λ·w: L2 first, in its own pass
                    for a, b in runs:
                        _l2_kernel(w[a:b], g[a:b], c if isinstance(c, float) else c[a:b])
                    l2 = "none"
                if pipe.method == "global-l2norm":
                    L = _norm(xp, [g[a:b] for a, b in runs])              # L = √(Σ_i ‖g_i‖₂²), kept arrays
                    T = threshold / xp.maximum(L, threshold)              # min(1, T/L)
                else:                                                     # l2norm: one scale per array
                    norms = xp.sqrt(xp.stack([xp.dot(layout.view(g, n).reshape(-1), layout.view(g, n).reshape(-1))
                                              for n in layout.names]))    # ‖g_i‖₂
                    sizes = [stop - start for start, stop in layout.index.values()]
                    T = xp.repeat(threshold / xp.maximum(norms, threshold), sizes)  # min(1, T/‖g_i‖₂)
        wclip = self.weight_clip
        wc = isinstance(wclip, dict) or not math.isinf(wclip)
        wlim = (self._element(layout, "wclip", wclip, math.inf) if isinstance(wclip, dict) else wclip) if wc else 0.0
        kernel = _kernel(l2, clip, wc, equations)
        for a, b in runs:
            kernel(w[a:b], g[a:b], _part(c, a, b), _part(T, a, b), _part(wlim, a, b), lr, _part(f, a, b),
                   *(s[a:b] for s in slots), *scalars)


def fusable(optimizer: Optimizer) -> bool:
    """Whether the flat step may run ``optimizer``'s equations itself: it has ``equations`` and neither its class
    nor the instance replaces :meth:`Optimizer.step` or :meth:`Optimizer._update` (those then run as written)."""
    cls = type(optimizer)
    return optimizer.equations is not None and cls.step is Optimizer.step and cls._update is Optimizer._update \
        and "step" not in vars(optimizer) and "_update" not in vars(optimizer)


def _part(x, a: int, b: int):
    """A per-element buffer's slice [a, b); a scalar or 0-d array as it is."""
    return x if isinstance(x, float) or getattr(x, "ndim", 1) == 0 else x[a:b]
