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
    FunctionSchedule,
    PiecewiseSchedule,
    PolynomialSchedule,
    Schedule,
)
from minidl.optim.sgd import SGD
from minidl.optim.sgdm import SGDM
from minidl.optim.signsgd import SignSGD

__all__ = [
    "Optimizer", "SGDM", "SGD", "RMSProp", "CenteredRMSProp", "Adam", "SignSGD", "make_optimizer", "METHODS",
    "add_l2", "clip_gradients", "clip_weights", "global_norm", "frozen_names", "GradientPipeline", "CLIP_METHODS",
    "L2_ORDERS", "Schedule", "ConstantSchedule", "PiecewiseSchedule", "PolynomialSchedule", "FunctionSchedule",
]

METHODS: dict[str, tuple[type[Optimizer], dict[str, Any]]] = {
    # MATLAB solver names (trainingOptions)
    "sgdm": (SGDM, {}),
    "rmsprop": (RMSProp, {}),
    "adam": (Adam, {}),
    # Wolfram Method names (NetTrain), with the defaults that differ from the class's
    "ADAM": (Adam, {"epsilon": 1e-5}),
    "RMSProp": (CenteredRMSProp, {}),
    "SGD": (SGD, {}),
    "SignSGD": (SignSGD, {}),
}
"""Method name -> (class, defaults overriding the class's). MATLAB names are lower case, Wolfram's as Wolfram spells."""


def make_optimizer(name: str, **hyper: Any) -> Optimizer:
    """The optimizer named ``name`` (MATLAB ``sgdm``/``rmsprop``/``adam``, Wolfram ``ADAM``/``RMSProp``/``SGD``/
    ``SignSGD``) with its documented defaults, overridden by ``hyper`` (the class's argument names)."""
    if not isinstance(name, str) or name not in METHODS:
        raise ValueError(f"name: got {name!r}; allowed: {', '.join(map(repr, METHODS))}")
    cls, defaults = METHODS[name]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    for key in hyper:
        if key not in allowed:
            raise TypeError(f"make_optimizer({name!r}): unknown hyperparameter {key!r}; allowed: "
                            f"{', '.join(allowed)}")
    return cls(**{**defaults, **hyper})
