"""MATLAB's records: the OutputFcn info struct, trainNetwork's info and the stop wording (docs/semantics-matlab.md).

The engine's record is neutral; this module gives it MATLAB's names: the OutputFcn record (State ``start`` /
``iteration`` / ``done``), ``info["TrainingLoss"]`` and the reasons training stopped, worded as MATLAB words them.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from minidl._checks import snake_case
from minidl.matlab.display import MatlabStruct
from minidl.training import events as ev
from minidl.training.events import TrainingState

__all__ = ["checkpoint_name", "OUTPUT_FIELDS", "OutputFcnInfo", "output_fcn_info", "wants_stop", "INFO_FIELD_NAMES",
           "STOP_REASONS", "INFO_FIELDS", "TrainingInfoStruct", "MAX_EPOCHS",
           "VALIDATION_PATIENCE", "STOPPED_BY_USER", "OUTPUT_FUNCTION", "NON_FINITE", "TIME_GOAL"]

#: Why training stopped, in MATLAB's wording.
MAX_EPOCHS = "Max epochs completed"
VALIDATION_PATIENCE = "Met validation criterion"
STOPPED_BY_USER = "Stopped by user"          # stop button, Ctrl-C
OUTPUT_FUNCTION = "Stopped by OutputFcn"
NON_FINITE = "Training loss is NaN or Inf"
TIME_GOAL = "Time goal reached"              # not a MATLAB option; the engine's time limit worded alike
FAILED = "Stopped by an error"               # re-raised, carrying the network and info (docs/training.md)
#: The engine's neutral stop kinds -> MATLAB's wording.
STOP_REASONS = {ev.MAX_EPOCHS: MAX_EPOCHS, ev.EARLY_STOP: VALIDATION_PATIENCE, ev.USER_FUNCTION: OUTPUT_FUNCTION,
                ev.STOP_BUTTON: STOPPED_BY_USER, ev.INTERRUPT: STOPPED_BY_USER, ev.NON_FINITE: NON_FINITE,
                ev.TIME_LIMIT: TIME_GOAL, ev.FAILED: FAILED}

#: MATLAB's info field names -> the engine record's attribute names (``info["TrainingLoss"]``).
INFO_FIELD_NAMES = {
    "TrainingLoss": "training_loss", "TrainingAccuracy": "training_accuracy", "TrainingRMSE": "training_rmse",
    "ValidationLoss": "validation_loss", "ValidationAccuracy": "validation_accuracy",
    "ValidationRMSE": "validation_rmse", "BaseLearnRate": "base_learn_rate",
    "FinalValidationLoss": "final_validation_loss", "FinalValidationAccuracy": "final_validation_accuracy",
    "FinalValidationRMSE": "final_validation_rmse", "OutputNetworkIteration": "output_network_iteration",
}

#: OutputFcn record fields (MATLAB names) -> TrainingState attributes.
OUTPUT_FIELDS = {
    "Epoch": "epoch", "Iteration": "iteration", "TimeSinceStart": "time_since_start",
    "TrainingLoss": "training_loss", "ValidationLoss": "validation_loss", "BaseLearnRate": "base_learn_rate",
    "TrainingAccuracy": "training_accuracy", "TrainingRMSE": "training_rmse",
    "ValidationAccuracy": "validation_accuracy", "ValidationRMSE": "validation_rmse", "State": "event",
}


class OutputFcnInfo(dict):
    """The record an output function receives: MATLAB field names as keys (None where not computed).

    Also readable as attributes, by MATLAB name or snake_case: ``info.TrainingLoss`` or ``info.training_loss``.
    """

    def __getattr__(self, name: str):
        if name in self:
            return self[name]
        for key, attr in OUTPUT_FIELDS.items():
            if attr == name or (name == "state" and key == "State"):
                return self[key]
        raise AttributeError(f"output-function info has no field {name!r}; fields: {', '.join(self)}")


def output_fcn_info(state: TrainingState) -> OutputFcnInfo:
    """The record for ``state`` (MATLAB: start / iteration / done).

    start: Epoch 0 (or the resumed epoch) and Iteration 0 only (TimeSinceStart is empty).  iteration: that
    iteration's values (validation values only when it validated).  done: the last iteration's values, validated
    before finalization (the Final values are in trainNetwork's info only; docs/semantics-matlab.md#10).
    """
    rec = OutputFcnInfo((k, getattr(state, a)) for k, a in OUTPUT_FIELDS.items())
    if state.event == ev.START:
        for k in rec:
            if k not in ("Epoch", "Iteration", "State"):
                rec[k] = None
    if state.is_classifier:
        rec.update(TrainingRMSE=None, ValidationRMSE=None)
    else:
        rec.update(TrainingAccuracy=None, ValidationAccuracy=None)
    return rec


def wants_stop(fn: Callable, result: Any) -> bool:
    """Whether an output function's result asks to stop: a true logical scalar (``True``, ``numpy.True_``, a 1×1
    bool array).  Anything else counts as false: False, None, numbers, strings, other arrays (MATLAB's rule).

    >>> import numpy as np
    >>> [wants_stop(print, r) for r in (True, np.array([[True]]), 1, "yes", np.array([True, True]), None)]
    [True, True, False, False, False, False]
    """
    if isinstance(result, (bool, np.bool_)):
        return bool(result)
    if isinstance(result, np.ndarray) and result.dtype == np.bool_ and result.size == 1:
        return bool(result.reshape(()))
    return False


def output_fcn_due(state: TrainingState) -> bool:
    """MATLAB calls output functions at start, after every iteration and at done."""
    return state.event in (ev.START, ev.ITERATION, ev.DONE)


# ------------------------------------------------------------------------------------------------ trainNetwork info
#: MATLAB info fields of trainNetwork, in MATLAB's order, for classification and regression networks.
INFO_FIELDS = {
    True: ("TrainingLoss", "TrainingAccuracy", "ValidationLoss", "ValidationAccuracy", "BaseLearnRate",
           "FinalValidationLoss", "FinalValidationAccuracy", "OutputNetworkIteration"),
    False: ("TrainingLoss", "TrainingRMSE", "ValidationLoss", "ValidationRMSE", "BaseLearnRate",
            "FinalValidationLoss", "FinalValidationRMSE", "OutputNetworkIteration"),
}
#: minidl additions to the info struct (not in MATLAB's), after MATLAB's fields.
INFO_EXTRA_FIELDS = ("GradientNorm", "StopReason", "ElapsedTime")


def _info_field(info: Any, name: str) -> tuple[bool, Any]:
    """(found, value) of a MATLAB-named field of the engine's info: its MATLAB-name access, else snake_case."""
    try:
        return True, info[name]
    except (KeyError, TypeError, IndexError):
        pass
    snake = snake_case(name)
    if isinstance(info, Mapping) and snake in info:
        return True, info[snake]
    if hasattr(info, snake):
        return True, getattr(info, snake)
    return False, None


class TrainingInfoStruct(MatlabStruct):
    """trainNetwork's info: a struct with MATLAB's field names; ``.engine`` is the engine's record (CSV/JSON, plot)."""

    def __init__(self, engine_info: Any, classifier: bool):
        fields = {}
        for name in INFO_FIELDS[classifier] + INFO_EXTRA_FIELDS:
            found, value = _info_field(engine_info, name)
            if found:
                fields[name] = value  # the engine's own arrays, not copies
        super().__init__(fields)
        object.__setattr__(self, "_engine", engine_info)

    @property
    def engine(self) -> Any:
        """The engine's info record (``to_csv``, ``to_json``, ``plot``, snake_case arrays)."""
        return self._engine


# ------------------------------------------------------------------------------------------------ checkpoints
def checkpoint_name(iteration: int, when: datetime.datetime | None = None) -> str:
    """MATLAB's checkpoint name: ``net_checkpoint__<iteration>__<yyyy_mm_dd__HH_MM_SS>``.

    >>> checkpoint_name(195, datetime.datetime(2024, 3, 7, 14, 5, 9))
    'net_checkpoint__195__2024_03_07__14_05_09'
    """
    when = when or datetime.datetime.now()
    return f"net_checkpoint__{iteration}__{when:%Y_%m_%d__%H_%M_%S}"
