"""The protocol every optimizer follows: per-name state, learn-rate factors, in-place updates, state as arrays.

Equations and variant notes of every method: docs/optimizers.md.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from minidl._checks import check_nonnegative
from minidl.backend import device_of, get_array_module


class Optimizer:
    """Base class: updates named arrays in place from their gradients, keeping state per parameter name."""

    method: str = ""
    """The method's name as :meth:`hyperparameters` shows it."""
    slots: tuple[str, ...] = ()
    """Names of the per-array state (``"v"`` for SGDM, ``"m", "s"`` for Adam), created as zeros on first use."""
    l2_order: str = "before_clip"
    """Where the L2 term goes relative to gradient clipping for this method (read by the training engine)."""
    equations: Callable[..., None] | None = None
    """The method's elementwise equations, written once: ``equations(xp, w, g, lr, *slots, *self.scalars())``
    updates w and the slot arrays in place (lr a scalar or an array like w).  The per-array step runs them as
    :attr:`kernel`; the flat step (:mod:`minidl.optim.flat`) runs them inside one fused pass with the pre-steps.
    None (a user's method that implements :meth:`_update` instead): the flat step falls back to :meth:`step`."""
    kernel: Callable[..., None] | None = None
    """``fused(equations)`` (:func:`minidl.optim.fused.fused`): one kernel per array on CuPy."""
    _flat: tuple[Any, dict[str, Any], dict[str, dict[str, Any]]] | None = None
    """The flat state (layout, slot -> buffer, name -> slot -> view) of :meth:`flat_slots`; None: not built."""

    def __init__(self) -> None:
        self.t = 0  # t: steps taken (MATLAB counts iterations; frozen arrays do not stop the count)
        self.state: dict[str, dict[str, Any]] = {}  # state[name][slot]: an array shaped like params[name]

    # -- the step --------------------------------------------------------------------------------------------------
    def step(self, params: Mapping[str, Any], grads: Mapping[str, Any], learning_rate: float,
             lr_factors: Mapping[str, float] | None = None) -> None:
        """One update of every parameter, in place.

        params:        name -> array θ (any shape S); updated in place, so layers holding the arrays see the update.
        grads:         name -> array g of the same shape S (after the pre-steps: L2, clipping).
        learning_rate: base rate; array ``name`` uses ``lr_i = learning_rate · lr_factors.get(name, 1)``.
        lr_factors:    name -> learn-rate factor ≥ 0; factor 0 freezes the array (no update, its state untouched,
                       its gradient may be absent).
        """
        lr = check_nonnegative("learning_rate", learning_rate)
        factors = _check_factors(lr_factors)
        work = []  # (w, g, lr_i, state) of every array that moves; all checked before any array is touched
        for name, w in params.items():
            factor = factors.get(name, 1.0)
            if factor == 0.0:
                continue  # frozen: skipped entirely, its state untouched
            if name not in grads:
                raise ValueError(f"grads: no gradient for parameter {name!r}; grads has {sorted(grads)}")
            g = grads[name]
            if tuple(g.shape) != tuple(w.shape):
                raise ValueError(f"grads[{name!r}]: shape {tuple(g.shape)} differs from params[{name!r}] "
                                 f"shape {tuple(w.shape)}")
            work.append((w, g, lr * factor, self._state_for(name, w)))  # lr_i = learning_rate · learnRateFactor_i
        self.t += 1  # t ← t + 1
        for w, g, lr_i, state in work:
            self._update(w, g, lr_i, state)

    def _update(self, w, g, lr: float, state: dict[str, Any]) -> None:
        """The method's equations for one array: ``w`` (θ) updated in place from ``g`` with rate ``lr``."""
        if self.kernel is None:
            raise NotImplementedError(f"{type(self).__name__}: define equations (and kernel) or _update")
        self.kernel(w, g, lr, *(state[slot] for slot in self.slots), *self.scalars())

    def scalars(self) -> tuple[float, ...]:
        """The host scalars :attr:`equations` takes after the slots, for the step being taken (t already counted)."""
        return ()

    # -- the flat step (minidl.optim.flat) -------------------------------------------------------------------------
    def flat_slots(self, layout: Any, moving: Sequence[str]) -> list[Any]:
        """The state as one flat buffer per slot laid out like the flat parameters (``layout``: a
        :class:`minidl.optim.flat.FlatLayout`), ``state[name][slot]`` being views into it.

        Built once per layout (existing state, e.g. restored by :meth:`load_state_dict`, is copied in; the rest is
        zero); names in ``moving`` get their state entries on first use, as :meth:`step` creates them, so frozen
        arrays keep having none.  Rebuilt when a state array is no longer the view (a loaded state).
        """
        flat = self._flat
        if flat is None or flat[0] is not layout or any(
                self.state.get(name, {}).get(slot) is not view
                for name, views in flat[2].items() for slot, view in views.items()) or \
                any(name not in flat[2] for name in self.state if name in layout.index):
            buffers = {slot: layout.zeros() for slot in self.slots}
            views = {}
            for name, state in self.state.items():
                if name not in layout.index:
                    continue
                own = {slot: layout.view(buffers[slot], name) for slot in self.slots}
                for slot, view in own.items():
                    self._state_for(name, view)   # shape, dtype and device checked as for the per-array step
                    get_array_module(view).copyto(view, state[slot])
                state.update(own)
                views[name] = own
            flat = self._flat = (layout, buffers, views)
        layout, buffers, views = flat
        for name in moving:
            if name not in views:
                own = views[name] = {slot: layout.view(buffers[slot], name) for slot in self.slots}
                self.state[name] = dict(own)
        return [buffers[slot] for slot in self.slots]

    def _state_for(self, name: str, w) -> dict[str, Any]:
        """The state of parameter ``name``: zeros like ``w`` (same device, dtype, shape) on first use."""
        state = self.state.get(name)
        if state is None:
            xp = get_array_module(w)
            state = self.state[name] = {slot: xp.zeros(w.shape, dtype=w.dtype) for slot in self.slots}
            return state
        for slot, a in state.items():  # restored state must match the parameter it updates
            if tuple(a.shape) != tuple(w.shape) or a.dtype != w.dtype or get_array_module(a) is not \
                    get_array_module(w):
                raise ValueError(
                    f"optimizer state {slot}/{name}: shape {tuple(a.shape)}, dtype {a.dtype}, device "
                    f"{device_of(a).name}; params[{name!r}] has shape {tuple(w.shape)}, dtype {w.dtype}, device "
                    f"{device_of(w).name}; move or cast the state (minidl.backend.to_device) before loading it")
        return state

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and deep-copied without the flat buffers (:meth:`flat_slots` rebuilds them from ``state``)."""
        out = dict(self.__dict__)
        out.pop("_flat", None)
        return out

    # -- state -----------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """A flat copy of the state: ``"t"`` (int) and ``"<slot>/<name>"`` arrays (on their device).

        >>> import numpy as np
        >>> from minidl.optim import SGDM
        >>> opt = SGDM(momentum=0.5)
        >>> w = np.array([1.0, 2.0])
        >>> opt.step({"fc.weight": w}, {"fc.weight": np.array([1.0, -1.0])}, learning_rate=0.1)
        >>> opt.state_dict()
        {'t': 1, 'v/fc.weight': array([-0.1,  0.1])}
        """
        out: dict[str, Any] = {"t": self.t}
        for name, state in self.state.items():
            for slot in self.slots:
                out[f"{slot}/{name}"] = state[slot].copy()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore exactly what :meth:`state_dict` returned (arrays copied; the caller puts them on the device)."""
        if "t" not in state_dict:
            raise ValueError(f"state_dict: no 't' entry; keys given: {sorted(state_dict)}")
        t = state_dict["t"]
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
            raise ValueError(f"state_dict['t']: got {t!r}; allowed: an integer ≥ 0")
        state: dict[str, dict[str, Any]] = {}
        for key, value in state_dict.items():
            if key == "t":
                continue
            slot, sep, name = key.partition("/")
            if not sep or not name or slot not in self.slots:
                raise ValueError(f"state_dict: unknown key {key!r}; allowed: 't' and '<slot>/<name>' with slot in "
                                 f"{self.slots} for {type(self).__name__}")
            if not hasattr(value, "shape") or not hasattr(value, "dtype"):
                raise TypeError(f"state_dict[{key!r}]: got {type(value).__name__}; allowed: an array")
            state.setdefault(name, {})[slot] = value.copy()
        for name, slots in state.items():
            missing = [s for s in self.slots if s not in slots]
            if missing:
                raise ValueError(f"state_dict: parameter {name!r} lacks {', '.join(f'{s}/{name}' for s in missing)}")
        self.t = int(t)
        self._flat = None  # the flat state (if any) is rebuilt from these arrays
        self.state = {name: {slot: slots[slot] for slot in self.slots} for name, slots in state.items()}

    # -- display ---------------------------------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """The method's name and settings, for display and logs."""
        return {"method": self.method}

    def __repr__(self) -> str:
        hyper = self.hyperparameters()
        hyper.pop("method")
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in hyper.items())})"


def _check_factors(lr_factors: Mapping[str, float] | None) -> dict[str, float]:
    """Learn-rate factors as floats ≥ 0 (host values; checked before any array is touched)."""
    if lr_factors is None:
        return {}
    return {name: check_nonnegative(f"lr_factors[{name!r}]", f) for name, f in lr_factors.items()}
