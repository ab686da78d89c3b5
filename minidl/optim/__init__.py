"""Optimizers (one readable file per method), gradient pre-steps and learning-rate schedules.

Equations and the variant notes of every method: docs/optimizers.md.

>>> make_optimizer("ADAM")
Adam(beta1=0.9, beta2=0.999, epsilon=1e-05, form='matlab')
>>> make_optimizer("sgdm", momentum=0.95)
SGDM(momentum=0.95)
"""

from __future__ import annotations

import inspect
from typing import Any

from minidl.optim.adam import Adam
from minidl.optim.base import Optimizer
from minidl.optim.centered_rmsprop import CenteredRMSProp
from minidl.optim.presteps import (
    CLIP_METHODS,
    L2_ORDERS,
    GradientPipeline,
    add_l2,
    clip_gradients,
    clip_weights,
    frozen_names,
    global_norm,
)
from minidl.optim.rmsprop import RMSProp
from minidl.optim.schedules import (
    ConstantSchedule,
    EpochIterationSchedule,
    FunctionSchedule,
    PiecewiseSchedule,
    PolynomialSchedule,
    Schedule,
)
from minidl.optim.sgd import SGD
from minidl.optim.sgdm import SGDM
from minidl.optim.signsgd import SignSGD

__all__ = [
    "Optimizer", "SGDM", "SGD", "RMSProp", "CenteredRMSProp", "Adam", "SignSGD", "make_optimizer", "register_method",
    "METHODS",
    "add_l2", "clip_gradients", "clip_weights", "global_norm", "frozen_names", "GradientPipeline", "CLIP_METHODS",
    "L2_ORDERS", "Schedule", "ConstantSchedule", "PiecewiseSchedule", "PolynomialSchedule", "FunctionSchedule",
    "EpochIterationSchedule",
]

METHODS: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {}
"""Method name -> (class, defaults overriding the class's).  Empty here: each dialect registers its own names
(MATLAB's ``sgdm``, ``rmsprop``, ``adam`` in :mod:`minidl.matlab.options`; Wolfram's ``ADAM``, ``RMSProp``,
``SGD``, ``SignSGD`` with their defaults in :mod:`minidl.wolfram.options`)."""


def register_method(name: str, cls: type[Optimizer], defaults: dict[str, Any] | None = None) -> None:
    """Make ``make_optimizer(name)`` build ``cls`` with ``defaults`` (a dialect's method name)."""
    METHODS[name] = (cls, dict(defaults or {}))


def make_optimizer(name: str, **hyper: Any) -> Optimizer:
    """The optimizer a dialect registered as ``name`` (MATLAB ``sgdm``/``rmsprop``/``adam``, Wolfram ``ADAM``/
    ``RMSProp``/``SGD``/``SignSGD``) with that dialect's defaults, overridden by ``hyper`` (the class's arguments)."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"name: got {name!r}; allowed: {', '.join(map(repr, METHODS))}")
    cls, defaults = METHODS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in hyper:
        if key not in allowed:
            raise TypeError(f"make_optimizer({name!r}): unknown hyperparameter {key!r}; allowed: "
                            f"{', '.join(allowed)}")
    return cls(**{**defaults, **hyper})
